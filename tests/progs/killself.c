/*
 * Description: a rank that dies by SIGKILL in the middle of a job.
 *   killself MODE
 *   barrier  rank 1 kills itself while every other rank waits in a barrier.
 *   fault    rank 1 writes 256 pages (it owns them then), all ranks meet in a
 *            barrier, rank 1 kills itself, and the other ranks read those
 *            pages: their faults go to a dead owner.
 *   home     3+ ranks: rank 2 writes 256 pages whose home is rank 1, then
 *            rank 1 kills itself and rank 0 reads them: its requests go to a
 *            dead home.
 * No rank other than the dying one may finish: each prints "survived" and
 * exits 0 if it does, which the test treats as a failure (the job's status
 * must be non-zero anyway).
 */
#include <dsm.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define PAGE 4096
#define NPAGES 256

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "barrier";
	int me, nr;
	char *base;
	uint64_t sum = 0;

	init_or_exit(&argc, &argv);
	me = dsm_rank();
	nr = dsm_size();
	base = dsm_base();
	if (nr < 2 || (!strcmp(mode, "home") && nr < 3)) {
		fprintf(stderr, "killself %s: too few ranks\n", mode);
		return 2;
	}
	if (!strcmp(mode, "barrier")) {
		if (me == 1) {
			printf("killself: rank 1 dies\n");
			fflush(stdout);
			raise(SIGKILL);
		}
		dsm_barrier();
	} else if (!strcmp(mode, "fault") || !strcmp(mode, "home")) {
		int writer = !strcmp(mode, "fault") ? 1 : 2;
		/* page numbers: "fault" any; "home" those whose home is rank 1 */
		uint64_t step = !strcmp(mode, "fault") ? 1 : (uint64_t)nr, first = !strcmp(mode, "fault") ? 0 : 1;
		if (me == writer)
			for (uint64_t i = 0; i < NPAGES; i++)
				base[(first + i * step) * PAGE] = (char)(i + 1);
		dsm_barrier();
		if (me == 1) {
			printf("killself: rank 1 dies\n");
			fflush(stdout);
			raise(SIGKILL);
		}
		if (me == 0 || !strcmp(mode, "fault"))
			for (uint64_t i = 0; i < NPAGES; i++)
				sum += (uint64_t)base[(first + i * step) * PAGE];
		dsm_barrier();
	} else {
		fprintf(stderr, "killself: unknown mode '%s'\n", mode);
		return 2;
	}
	printf("killself: rank %d survived (sum %lu)\n", me, (unsigned long)sum);
	dsm_finalize();
	return 0;
}
