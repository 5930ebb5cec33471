/*
 * Description: every rank writes a pattern into its stripe of a large array
 * spread over many pages; after a barrier every rank checks every stripe.
 *   stripe [MiB]   (default 8)
 */
#include <dsm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static uint64_t pattern(uint64_t i, int round) { return i * 2654435761u + (uint64_t)round * 7919 + 1; }

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 8;
	int rc, bad = 0;
	uint64_t *a, n, per;
	int me, nr;

	init_or_exit(&argc, &argv);
	me = dsm_rank();
	nr = dsm_size();
	a = dsm_base();
	n = mib * (1 << 20) / sizeof(uint64_t);
	per = (n + (uint64_t)nr - 1) / (uint64_t)nr;
	for (int round = 0; round < 2; round++) {
		/* round 1 shifts the stripes so every page changes owner again */
		int who = (me + round) % nr;
		for (uint64_t i = (uint64_t)who * per; i < n && i < (uint64_t)(who + 1) * per; i++)
			a[i] = pattern(i, round);
		dsm_barrier();
		for (uint64_t i = 0; i < n; i++)
			if (a[i] != pattern(i, round)) {
				if (bad++ < 5)
					fprintf(stderr, "round %d: a[%lu] = %lu, expected %lu\n", round,
						(unsigned long)i, (unsigned long)a[i],
						(unsigned long)pattern(i, round));
			}
		dsm_barrier();
	}
	printf("stripe: rank %d checked %lu words x 2 rounds: %s\n", me, (unsigned long)n,
	       bad ? "WRONG" : "ok");
	rc = dsm_finalize();
	return bad || rc ? 1 : 0;
}
