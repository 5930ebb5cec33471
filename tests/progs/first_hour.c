/*
 * Description: the mistakes of a first hour with dsm, made on purpose.
 *
 *   forget         every rank touches shared memory, forks a child that
 *                  calls exit(0), prints (buffered) and returns 0 from main
 *                  without dsm_finalize.
 *   forget-fail    the same, but rank 1 returns 3 after a barrier.
 *   early          calls made before dsm_init, after dsm_init and after
 *                  dsm_finalize; prints each call's return.
 *   segv           rank 1 dies of SIGSEGV outside the region while the
 *                  others wait in a barrier.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static int me;

/* Writes address 0 on purpose (outside the region). */
__attribute__((noinline, no_sanitize("undefined")))
static void crash(volatile int *p)
{
	*p = 1;
}

static void touch_shared(void)
{
	int *v = dsm_alloc_named("first_hour", sizeof(int) * 64);

	CHECK(v, "dsm_alloc_named: %s", strerror(errno));
	CALL(dsm_lock(1));
	v[me % 64] += 1;
	CALL(dsm_unlock(1));
	CALL(dsm_barrier());
	CHECK(v[me % 64] == 1, "my slot holds %d", v[me % 64]);
}

static int early(int argc, char **argv)
{
	void *p;

	p = dsm_malloc(64);
	printf("before: dsm_malloc %s\n", p ? "succeeded" : strerror(errno));
	printf("before: dsm_lock %d\n", dsm_lock(7));
	printf("before: dsm_barrier %d\n", dsm_barrier());
	printf("before: dsm_finalize %d\n", dsm_finalize());
	fflush(stdout);
	init_or_exit(&argc, &argv);
	me = dsm_rank();
	p = dsm_malloc(64);
	CHECK(p, "dsm_malloc after dsm_init: %s", strerror(errno));
	CALL(dsm_free(p));
	CALL(dsm_finalize());
	p = dsm_malloc(64);
	printf("after: dsm_malloc %s\n", p ? "succeeded" : strerror(errno));
	printf("after: dsm_sem_post %d\n", dsm_sem_post(3));
	printf("after: dsm_init %d\n", dsm_init(&argc, &argv));
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "forget";

	if (!strcmp(mode, "early"))
		return early(argc, argv);
	init_or_exit(&argc, &argv);
	me = dsm_rank();
	if (!strcmp(mode, "segv")) {
		CALL(dsm_barrier());
		if (me == 1) {
			printf("rank 1: about to fault\n");
			fflush(stdout);
			crash(NULL);
		}
		dsm_barrier();
		printf("rank %d: left the barrier\n", me);
		return 0;
	}
	touch_shared();
	{
		/* A child inherits the exit hook, not the job: its exit must
		 * not try to finalize. */
		pid_t pid;
		int st;

		fflush(NULL);
		pid = fork();
		CHECK(pid >= 0, "fork");
		if (pid == 0)
			exit(0);
		/* It exits by itself (under LeakSanitizer with the status of
		 * the leaks it sees in a copy of a threaded process). */
		CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st), "the child's exit");
	}
	/* No newline flush: stdout is a pipe, so this stays in the buffer
	 * until exit. */
	printf("rank %d of %d: done, without dsm_finalize\n", me, dsm_size());
	if (!strcmp(mode, "forget-fail")) {
		CALL(dsm_barrier()); /* every rank has printed */
		return me == 1 ? 3 : 0;
	}
	return 0;
}
