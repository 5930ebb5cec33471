/*
 * memtest - false sharing at its worst: every rank increments its own 8-byte
 * slot 65,535 times, and all the slots sit on one page, so the page moves
 * back and forth between the ranks all the time.  After a final barrier every
 * rank checks every slot and prints OK; every rank then leaves on its own.
 *
 *   dsmexec -n 4 bin/memtest [increments]
 */
#include <dsm.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	long k = argc > 1 ? strtol(argv[1], NULL, 10) : 65535;
	int rc = dsm_init(&argc, &argv), me, n, bad = 0;
	volatile uint64_t *slot;

	if (rc) {
		fprintf(stderr, "dsm_init: %s\n", strerror(-rc));
		return 1;
	}
	me = dsm_rank();
	n = dsm_size() - dsm_num_servers();
	if (k < 0 || (size_t)n * sizeof(uint64_t) > dsm_page_size()) {
		fprintf(stderr, "memtest: need 0 <= increments and at most %zu ranks\n",
			dsm_page_size() / sizeof(uint64_t));
		return 1;
	}
	/* Named allocations are page-aligned: all the slots share one page. */
	slot = dsm_alloc_named("memtest", (size_t)n * sizeof(uint64_t));
	if (!slot) {
		fprintf(stderr, "dsm_alloc_named: %s\n", strerror(errno));
		return 1;
	}
	dsm_barrier();
	for (long i = 0; i < k; i++)
		slot[me]++;
	dsm_barrier();
	for (int r = 0; r < n; r++)
		if (slot[r] != (uint64_t)k) {
			fprintf(stderr, "memtest: rank %d sees slot %d = %llu, expected %ld\n", me, r,
				(unsigned long long)slot[r], k);
			bad = 1;
		}
	printf("memtest: rank %d: %d slots x %ld increments: %s\n", me, n, k, bad ? "WRONG" : "OK");
	rc = dsm_finalize();
	return rc || bad ? 1 : 0;
}
