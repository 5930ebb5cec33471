/*
 * Description: one rank of the synchronization tests; the first argument
 * chooses the test, and every rank checks what it can see and exits non-zero
 * when something is wrong.
 *
 *   fair ROUNDS       every rank takes one lock ROUNDS times and holds it for
 *                     half a millisecond.  Just before it asks, a rank notes
 *                     how many acquisitions there have been; once it has the
 *                     lock it records how many others got it meanwhile.  A
 *                     FIFO lock allows N - 1 (everyone queued ahead); rank 0
 *                     checks that nobody waited for more than 2 (N - 1), which
 *                     leaves room for a request still on its way while the
 *                     holder releases, on a busy machine.
 *   trylock           dsm_trylock on free and held locks, and against dsm_lock
 *   unlock            dsm_unlock of locks this rank does not hold: -EPERM
 *   barrier ROUNDS    no rank leaves barrier i before every rank has entered it
 *   sem ITEMS         producers and consumers through a ring buffer, with
 *                     semaphores keyed 0, 1 and UINT64_MAX; every item is
 *                     received exactly once
 *   die-lock | die-barrier | die-sem
 *                     rank 1 dies (exit 7) while the others wait on a lock it
 *                     holds, in a barrier, or on a semaphore: the job must end
 */
#include <dsm.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static int me, n;

static void *named(const char *name, size_t size)
{
	void *p = dsm_alloc_named(name, size);

	CHECK(p, "dsm_alloc_named(%s): %s", name, strerror(errno));
	return p;
}

/* ---- fairness ---------------------------------------------------------- */

static int test_fair(long rounds)
{
	size_t total = (size_t)n * (size_t)rounds;
	struct {
		volatile uint64_t next;
		struct { int32_t who, waited; } e[];
	} *log = named("fair", sizeof(uint64_t) + total * 2 * sizeof(int32_t));

	dsm_barrier();
	for (long i = 0; i < rounds; i++) {
		uint64_t before = log->next;

		CALL(dsm_lock(77));
		log->e[log->next].who = me;
		log->e[log->next].waited = (int32_t)(log->next - before);
		log->next++;
		usleep(500);
		CALL(dsm_unlock(77));
	}
	dsm_barrier();
	if (me == 0) {
		long *got = calloc((size_t)n, sizeof(long)), bound = 2L * (n - 1), max = 0, worst = 0;

		CHECK(got, "out of memory");
		CHECK(log->next == total, "%llu acquisitions, expected %zu", (unsigned long long)log->next, total);
		for (size_t i = 0; i < total; i++) {
			int r = log->e[i].who;
			CHECK(r >= 0 && r < n, "acquisition %zu by rank %d", i, r);
			got[r]++;
			if (log->e[i].waited > max) {
				max = log->e[i].waited;
				worst = r;
			}
		}
		for (int r = 0; r < n; r++)
			CHECK(got[r] == rounds, "rank %d got the lock %ld times, expected %ld", r, got[r], rounds);
		printf("fair: %d ranks x %ld acquisitions; the longest wait was %ld acquisitions by others, "
		       "by rank %ld (bound %ld)\n", n, rounds, max, worst, bound);
		CHECK(max <= bound, "rank %ld waited while the others took the lock %ld times", worst, max);
		free(got);
	}
	return 0;
}

/* ---- trylock ------------------------------------------------------------ */

/* A release reaches the home without an answer, so a trylock by another
 * rank right after it may still find the lock held (documented): retry. */
static int trylock_soon(uint64_t id)
{
	int rc = -EBUSY;

	for (int i = 0; i < 200 && rc == -EBUSY; i++) {
		rc = dsm_trylock(id);
		if (rc == -EBUSY)
			usleep(5000);
	}
	return rc;
}

static int test_trylock(void)
{
	volatile int64_t *flag = named("trylock", sizeof(int64_t));
	int rc;

	CHECK(n >= 3, "needs 3 ranks");
	/* A lock nobody ever took is free. */
	CALL(dsm_trylock(1000 + (uint64_t)me));
	rc = dsm_trylock(1000 + (uint64_t)me);
	CHECK(rc == -EBUSY, "a second trylock of a lock this rank holds returned %d", rc);
	CALL(dsm_unlock(1000 + (uint64_t)me));

	/* Held by rank 0: busy for everyone, rank 0 included. */
	if (me == 0)
		CALL(dsm_lock(5));
	dsm_barrier();
	rc = dsm_trylock(5);
	CHECK(rc == -EBUSY, "trylock of a lock rank 0 holds returned %d", rc);
	dsm_barrier();
	if (me == 0)
		CALL(dsm_unlock(5));
	dsm_barrier();

	/* Rank 1 takes it with trylock; rank 2's dsm_lock must wait for its
	 * release. */
	if (me == 1) {
		CALL(trylock_soon(5));
		*flag = 1;
	}
	dsm_barrier();
	if (me == 2) {
		CALL(dsm_lock(5));
		CHECK(*flag == 2, "dsm_lock returned while rank 1 held the lock (flag %lld)", (long long)*flag);
		CALL(dsm_unlock(5));
	}
	if (me == 1) {
		usleep(200000);
		*flag = 2;
		CALL(dsm_unlock(5));
	}
	dsm_barrier();
	/* Free again. */
	if (me == 0) {
		CALL(trylock_soon(5));
		CALL(dsm_unlock(5));
	}
	dsm_barrier();
	if (me == 0)
		printf("trylock: OK\n");
	return 0;
}

/* ---- unlock errors ------------------------------------------------------ */

static int test_unlock(void)
{
	int rc;

	rc = dsm_unlock(12345);
	CHECK(rc == -EPERM, "unlock of a lock nobody holds returned %d", rc);
	if (me == 0)
		CALL(dsm_lock(6));
	dsm_barrier();
	if (me != 0) {
		rc = dsm_unlock(6);
		CHECK(rc == -EPERM, "unlock of a lock rank 0 holds returned %d", rc);
	}
	dsm_barrier();
	if (me == 0) {
		CALL(dsm_unlock(6));
		rc = dsm_unlock(6);
		CHECK(rc == -EPERM, "a second unlock returned %d", rc);
	}
	dsm_barrier();
	/* The lock still works after the refused unlocks. */
	CALL(dsm_lock(6));
	CALL(dsm_unlock(6));
	dsm_barrier();
	if (me == 0)
		printf("unlock: OK\n");
	return 0;
}

/* ---- barrier ------------------------------------------------------------ */

static int test_barrier(long rounds)
{
	volatile int64_t *phase = named("phase", (size_t)n * sizeof(int64_t));

	dsm_barrier();
	for (long i = 1; i <= rounds; i++) {
		phase[me] = i;
		CALL(dsm_barrier());
		for (int r = 0; r < n; r++) {
			int64_t p = phase[r];
			CHECK(p == i || p == i + 1, "after barrier %ld rank %d is in phase %lld", i, r, (long long)p);
		}
	}
	dsm_barrier();
	if (me == 0)
		printf("barrier: %ld barriers, nobody early: OK\n", rounds);
	return 0;
}

/* ---- semaphores --------------------------------------------------------- */

#define RING 8
#define K_EMPTY 0ULL           /* free slots */
#define K_MUTEX 1ULL           /* a binary semaphore guarding the indexes */
#define K_FULL UINT64_MAX      /* filled slots */

struct ring {
	uint64_t head, tail;
	int64_t slot[RING];
	uint32_t seen[];       /* per item: times received */
};

static int test_sem(long items)
{
	int producers = n / 2, consumers = n - producers;
	long total = (long)producers * items, mine;
	struct ring *q;

	CHECK(n >= 2 && total % consumers == 0, "needs 2 or more ranks and items divisible by consumers");
	q = named("ring", sizeof(*q) + (size_t)total * sizeof(uint32_t));
	if (me == 0) {
		for (int i = 0; i < RING; i++)
			CALL(dsm_sem_post(K_EMPTY));
		CALL(dsm_sem_post(K_MUTEX));
	}
	dsm_barrier();
	if (me < producers) {
		for (long i = 0; i < items; i++) {
			CALL(dsm_sem_wait(K_EMPTY));
			CALL(dsm_sem_wait(K_MUTEX));
			q->slot[q->tail++ % RING] = (int64_t)me * items + i;
			CALL(dsm_sem_post(K_MUTEX));
			CALL(dsm_sem_post(K_FULL));
		}
	} else {
		mine = total / consumers;
		for (long i = 0; i < mine; i++) {
			int64_t v;
			CALL(dsm_sem_wait(K_FULL));
			CALL(dsm_sem_wait(K_MUTEX));
			v = q->slot[q->head++ % RING];
			CHECK(v >= 0 && v < total, "received item %lld", (long long)v);
			q->seen[v]++;
			CALL(dsm_sem_post(K_MUTEX));
			CALL(dsm_sem_post(K_EMPTY));
		}
	}
	dsm_barrier();
	if (me == 0) {
		for (long v = 0; v < total; v++)
			CHECK(q->seen[v] == 1, "item %ld was received %u times", v, q->seen[v]);
		CHECK(q->head == (uint64_t)total && q->tail == (uint64_t)total, "head %llu tail %llu",
		      (unsigned long long)q->head, (unsigned long long)q->tail);
		printf("sem: %d producers, %d consumers, %ld items, each received once: OK\n", producers,
		       consumers, total);
	}
	return 0;
}

/* ---- a rank dies while the others wait ---------------------------------- */

static int test_die(const char *what)
{
	if (!strcmp(what, "die-lock") && me == 1)
		CALL(dsm_lock(9));
	dsm_barrier();
	if (me == 1) {
		usleep(300000); /* let the others start waiting */
		printf("rank 1 dies now\n");
		fflush(stdout);
		_exit(7);
	}
	if (!strcmp(what, "die-lock"))
		dsm_lock(9);
	else if (!strcmp(what, "die-barrier"))
		dsm_barrier();
	else
		dsm_sem_wait(42);
	fprintf(stderr, "rank %d: FAIL: the wait returned although rank 1 died\n", me);
	return 1;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	long count = argc > 2 ? strtol(argv[2], NULL, 10) : 100;
	int rc;

	/* Before dsm_init every call refuses. */
	CHECK(dsm_lock(1) == -EINVAL && dsm_unlock(1) == -EINVAL && dsm_sem_post(1) == -EINVAL,
	      "sync calls before dsm_init did not fail with -EINVAL");
	rc = dsm_init(&argc, &argv);
	CHECK(rc == 0, "dsm_init: %s", strerror(-rc));
	me = dsm_rank();
	n = dsm_size() - dsm_num_servers();
	if (!strcmp(what, "fair"))
		rc = test_fair(count);
	else if (!strcmp(what, "trylock"))
		rc = test_trylock();
	else if (!strcmp(what, "unlock"))
		rc = test_unlock();
	else if (!strcmp(what, "barrier"))
		rc = test_barrier(count);
	else if (!strcmp(what, "sem"))
		rc = test_sem(count);
	else if (!strncmp(what, "die-", 4))
		rc = test_die(what);
	else
		CHECK(0, "unknown test '%s'", what);
	return finish(me, rc);
}
