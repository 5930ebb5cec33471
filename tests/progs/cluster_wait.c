/*
 * Description: a job that waits to be ended from outside (a scheduler's
 * kill: scancel, or a signal to mpirun).
 *   cluster_wait [SECONDS]   (default 60)
 * Every rank joins, writes one word into the region, says
 * "cluster_wait: rank R of N ready", then sleeps SECONDS and meets the others
 * in a barrier.  A rank that gets that far says "survived", which the tests
 * count as a failure: the kill should have come first.
 */
#include <dsm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "testutil.h"

int main(int argc, char **argv)
{
	unsigned secs = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 60;
	uint64_t *v;
	int me;

	init_or_exit(&argc, &argv);
	me = dsm_rank();
	v = dsm_base();
	v[me * 512] = (uint64_t)me + 1; /* a page of its own: a fault, a transfer */
	printf("cluster_wait: rank %d of %d ready\n", me, dsm_size());
	fflush(stdout);
	while (secs > 0)
		secs = sleep(secs);
	CALL(dsm_barrier());
	printf("cluster_wait: rank %d survived\n", me);
	return finish(me, 0);
}
