/*
 * obs_share - pages that move for a known reason, for the hot-page report.
 *
 *   obs_share N
 *
 * In the named allocation "obs.counters" (three pages) every rank increments
 * N times
 *   page 0: its own 8-byte counter, rank r's at byte 2048 * r: different
 *           64-byte lines of one page (false sharing).  So that the ranks'
 *           increments interleave, each posts its progress on page 2 and
 *           stays at most a few increments ahead of the other;
 *   page 1: one counter shared by all, under lock 1 (true sharing).
 * Then each rank checks its own counter and rank 0 the shared one.
 */
#include "testutil.h"

#include <sched.h>
#include <stdint.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 2000;
	volatile uint64_t *mine, *shared, *progress;
	char *a;
	int me;

	init_or_exit(&argc, &argv);
	me = dsm_rank();
	CHECK(dsm_size() <= 2, "at most 2 ranks (one counter per 2 KiB)");
	a = dsm_alloc_named("obs.counters", 3 * dsm_page_size());
	CHECK(a, "dsm_alloc_named failed");
	mine = (volatile uint64_t *)(a + 2048 * me);
	shared = (volatile uint64_t *)(a + dsm_page_size());
	progress = (volatile uint64_t *)(a + 2 * dsm_page_size());
	CALL(dsm_barrier());
	for (long i = 0; i < n; i++) {
		while (dsm_size() == 2 && progress[1 - me] + 4 < (uint64_t)i)
			sched_yield();
		*mine = *mine + 1;
		progress[me] = (uint64_t)i + 1;
	}
	CALL(dsm_barrier());
	for (long i = 0; i < n; i++) {
		CALL(dsm_lock(1));
		*shared = *shared + 1;
		CALL(dsm_unlock(1));
	}
	CALL(dsm_barrier());
	CHECK(*mine == (uint64_t)n, "my counter is %lu, expected %ld", (unsigned long)*mine, n);
	if (me == 0)
		CHECK(*shared == (uint64_t)n * (uint64_t)dsm_size(), "the shared counter is %lu",
		      (unsigned long)*shared);
	printf("share rank %d: ok\n", me);
	return finish(me, 0);
}
