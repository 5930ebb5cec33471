/*
 * obs_trace - a little of everything the trace records, on 2 ranks: read
 * and write faults on pages the other rank owns, a lock, a semaphore, a
 * barrier, and RPCs from rank 0 to rank 1 whose handler touches shared
 * memory (so a worker thread faults too); and in release-consistent memory a
 * page rank 0 reads, rank 1 then writes (a twin, a diff made and applied at
 * the home) and rank 0 reads again after a barrier (a write notice applied).
 *
 *   obs_trace
 */
#include "testutil.h"

#include <stdint.h>

#define PAGES 16

static int handler(const void *arg, size_t len, void *reply, size_t *reply_len)
{
	volatile char *base = dsm_base();

	(void)arg;
	(void)len;
	(void)reply;
	base[(PAGES + 1) * dsm_page_size()] += 1; /* a fault on the worker */
	*reply_len = 0;
	return 0;
}

int main(int argc, char **argv)
{
	volatile char *base;
	size_t ps;
	int me = 0;

	CALL(dsm_rpc_register(5, handler));
	init_or_exit(&argc, &argv);
	me = dsm_rank();
	CHECK(dsm_size() == 2, "run with 2 ranks");
	base = dsm_base();
	ps = dsm_page_size();
	if (me == 1)
		for (int i = 0; i < PAGES; i++)
			base[i * ps] = 1;
	CALL(dsm_barrier());
	if (me == 0) {
		int sum = 0;
		for (int i = 0; i < PAGES; i++)
			sum += base[i * ps];        /* read faults */
		CHECK(sum == PAGES, "sum %d", sum);
		for (int i = 0; i < PAGES; i++)
			base[i * ps] = 2;           /* write faults (upgrades) */
		for (int i = 0; i < 3; i++)
			CALL(dsm_rpc_call(1, 5, NULL, 0, NULL, NULL));
	}
	CALL(dsm_lock(3));
	CALL(dsm_unlock(3));
	CALL(dsm_sem_post(40 + (uint64_t)(1 - me)));
	CALL(dsm_sem_wait(40 + (uint64_t)me));
	CALL(dsm_barrier());

	{
		volatile uint64_t *rcp = dsm_alloc_named_rc("obs_trace.rc", 4096);
		CHECK(rcp, "dsm_alloc_named_rc failed");
		CHECK(rcp[1] == 0, "the release-consistent word is %llu before any write",
		      (unsigned long long)rcp[1]); /* both ranks hold a copy */
		CALL(dsm_barrier());
		if (me == 1)
			rcp[1] = 42;
		CALL(dsm_barrier());
		CHECK(rcp[1] == 42, "rank %d reads %llu after the barrier", me, (unsigned long long)rcp[1]);
		CALL(dsm_barrier());
	}
	printf("trace rank %d: ok\n", me);
	return finish(me, 0);
}
