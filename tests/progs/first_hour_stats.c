/*
 * Description: shared data the --stats report must name.
 *
 *   first_hour_stats freed N   rank 0 dsm_mallocs 16 KiB, every rank writes
 *                              its first page N times in turns, then rank 0
 *                              frees it before dsm_finalize.
 *   first_hour_stats var N     every rank writes the DSM_SHARED variable
 *                              hot_total N times in turns.
 *   first_hour_stats spin      every rank writes one shared page until it
 *                              is killed (for Ctrl-C); rank 0 prints
 *                              "spinning" once every rank is in.
 */
#include <stdint.h>
#include <unistd.h>

#include "testutil.h"

DSM_SHARED long hot_total[16]; /* one 64-byte line per rank, ranks 0 and 1 */

static int me;

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "spin";
	long n = argc > 2 ? strtol(argv[2], NULL, 10) : 1000;
	void **slot;
	volatile long *p;
	int nr;

	init_or_exit(&argc, &argv);
	me = dsm_rank();
	nr = dsm_size();
	slot = dsm_alloc_named("first_hour.slot", sizeof(*slot));
	CHECK(slot, "dsm_alloc_named");
	if (!strcmp(mode, "var")) {
		p = hot_total;
	} else {
		if (me == 0)
			CHECK((*slot = dsm_malloc(16384)), "dsm_malloc");
		CALL(dsm_barrier());
		p = *slot;
	}
	CALL(dsm_barrier());
	if (!strcmp(mode, "spin")) {
		if (me == 0) {
			printf("spinning\n");
			fflush(stdout);
		}
		for (;;)
			p[me * 8] += 1;
	}
	for (long i = 0; i < n; i++) {
		CALL(dsm_lock(1));
		p[me * 8] += 1; /* one line each: false sharing, as a ring's indices */
		CALL(dsm_unlock(1));
	}
	CALL(dsm_barrier());
	if (me == 0 && !strcmp(mode, "freed"))
		CALL(dsm_free(*slot));
	if (me == 0)
		printf("%s: %d ranks wrote %ld times each\n", mode, nr, n);
	CALL(dsm_finalize());
	return 0;
}
