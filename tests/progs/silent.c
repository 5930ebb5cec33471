/*
 * Description: the failure detector (tests/link_silent.sh).
 *   silent barrier    the last rank stops (SIGSTOP) after the first barrier;
 *                     the others wait in a second barrier
 *   silent lock       rank 1 takes a lock and stops; the others wait for it
 *   silent compute S  rank 1 computes for S seconds without calling the
 *                     library, then a barrier; every rank prints "done"
 *   silent syscall S  rank 1 sleeps S seconds in one system call, then the
 *                     same
 * The first two must end the job naming the stopped rank; the last two must
 * finish.
 */
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int me, n;
	const char *mode;

	init_or_exit(&argc, &argv);
	me = dsm_rank();
	n = dsm_size();
	CHECK(argc >= 2, "usage: silent barrier|lock|compute S|syscall S");
	mode = argv[1];
	CALL(dsm_barrier());
	if (!strcmp(mode, "barrier")) {
		if (me == n - 1) {
			printf("silent: rank %d stops\n", me);
			fflush(stdout);
			raise(SIGSTOP);
		}
		CALL(dsm_barrier());
		printf("silent: rank %d passed the barrier\n", me);
		CALL(dsm_finalize());
		return 0;
	}
	if (!strcmp(mode, "lock")) {
		if (me == 1) {
			CALL(dsm_lock(7));
			printf("silent: rank %d stops holding the lock\n", me);
			fflush(stdout);
			raise(SIGSTOP);
		}
		sleep(1);
		CALL(dsm_lock(7));
		printf("silent: rank %d got the lock\n", me);
		return 1;
	}
	CHECK(argc == 3, "usage: silent compute|syscall S");
	if (me == 1) {
		double end = now_s() + atof(argv[2]);
		volatile unsigned long x = 0;

		if (!strcmp(mode, "compute"))
			while (now_s() < end)
				for (int i = 0; i < 1000000; i++)
					x += (unsigned long)i;
		else
			sleep((unsigned)atoi(argv[2]));
	}
	CALL(dsm_barrier());
	printf("silent: rank %d done\n", me);
	CALL(dsm_finalize());
	return 0;
}
