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
 *   barrier-rc ROUNDS each rank writes its word of a release-consistent page,
 *                     then a barrier: every rank must read every word written
 *   gather ROUNDS     dsm_allgather of a length that changes every round
 *                     (1 byte to 16 KiB), every byte checked; dsm_allreduce
 *                     of each type with each operation, checked against the
 *                     values every rank computes alone; a plain barrier now
 *                     and then; buffers in private memory and in the shared
 *                     region; and a release-consistent word per rank that
 *                     every rank must read after each collective (a barrier)
 *   gather-args       what dsm_allgather and dsm_allreduce refuse (-EINVAL)
 *   gather-mismatch   rank 1 calls dsm_barrier where the others call
 *                     dsm_allgather: the job must end, naming the mismatch
 *   gather-length     rank 1 passes a different length: likewise
 *   sem ITEMS         producers and consumers through a ring buffer, with
 *                     semaphores keyed 0, 1 and UINT64_MAX; every item is
 *                     received exactly once
 *   threads ROUNDS    2 threads per rank, each takes lock 77 ROUNDS times (every
 *                     fifth time with dsm_trylock until it succeeds) and
 *                     increments a shared counter with a read, a yield and a
 *                     write; a flag catches two holders at once; the total
 *                     must be exact.  On 1 rank every lock stays cached: the
 *                     two threads contend in the cache alone.
 *   cond ITEMS        a bounded queue (4 slots) under lock 88 with condition
 *                     variables "not full" and "not empty": on each rank one
 *                     thread produces ITEMS items and one consumes ITEMS;
 *                     every item must be received exactly once
 *   broadcast         2 threads per rank wait on one condition until a flag
 *                     is set; rank 0 sets it once every thread waits and calls
 *                     dsm_cond_broadcast once: every thread must wake; also
 *                     dsm_cond_wait without the lock is -EPERM
 *   die-lock | die-barrier | die-sem
 *                     rank 1 dies (exit 7) while the others wait on a lock it
 *                     holds, in a barrier, or on a semaphore: the job must end
 */
#include <dsm.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
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

/* ---- allgather and allreduce ------------------------------------------------ */

static uint8_t gbyte(int r, long i, size_t b)
{
	return (uint8_t)(r * 31 + i * 7 + b * 13 + (b >> 8));
}

static int test_gather(long rounds)
{
	size_t max = 16384;
	uint8_t *mine = malloc(max), *all = malloc(max * (size_t)n);
	uint8_t *smine = named("gather-mine", max * (size_t)n), *sall = named("gather-all", max * (size_t)n * (size_t)n);
	volatile int64_t *word = dsm_alloc_named_rc("gather-rc", (size_t)n * sizeof(int64_t));

	CHECK(mine && all && smine && sall && word, "cannot allocate the buffers: %s", strerror(errno));
	dsm_barrier();
	for (long i = 1; i <= rounds; i++) {
		size_t len = i % 5 == 0 ? max : 1 + (size_t)(i * 97 % 4000);
		int shared = i % 3 == 0;
		uint8_t *m = shared ? smine + (size_t)me * max : mine, *a = shared ? sall + (size_t)me * max * (size_t)n : all;

		word[me] = i;
		for (size_t b = 0; b < len; b++)
			m[b] = gbyte(me, i, b);
		CALL(dsm_allgather(m, len, a));
		for (int r = 0; r < n; r++) {
			CHECK(word[r] == i, "round %ld: after dsm_allgather rank %d's release-consistent word reads %lld",
			      i, r, (long long)word[r]);
			for (size_t b = 0; b < len; b++)
				CHECK(a[(size_t)r * len + b] == gbyte(r, i, b),
				      "round %ld: dsm_allgather of %zu bytes: byte %zu of rank %d is %u, not %u", i, len,
				      b, r, a[(size_t)r * len + b], gbyte(r, i, b));
		}
		CALL(dsm_barrier()); /* nobody writes word[] again before all read it */

		int32_t v32[3] = { me - (int)i, me * 3, -me };
		int64_t v64[2] = { (int64_t)me * 1000000007LL - i, -(int64_t)me };
		uint64_t vu[2] = { (uint64_t)me << 40, UINT64_MAX - (uint64_t)me };
		double vd[2] = { 0.1 * me + (double)i, -1.5 * me };
		int op = (int)(i % 3);
		CALL(dsm_allreduce(v32, 3, DSM_INT32, op));
		CALL(dsm_allreduce(v64, 2, DSM_INT64, op));
		CALL(dsm_allreduce(vu, 2, DSM_UINT64, op));
		CALL(dsm_allreduce(vd, 2, DSM_DOUBLE, op));
		int32_t w32[3];
		int64_t w64[2];
		uint64_t wu[2];
		double wd[2];
		for (int r = 0; r < n; r++) {
			int32_t x32[3] = { r - (int)i, r * 3, -r };
			int64_t x64[2] = { (int64_t)r * 1000000007LL - i, -(int64_t)r };
			uint64_t xu[2] = { (uint64_t)r << 40, UINT64_MAX - (uint64_t)r };
			double xd[2] = { 0.1 * r + (double)i, -1.5 * r };
#define ACC(w, x, k)                                                                                   \
	for (int j = 0; j < (k); j++)                                                                  \
		w[j] = r == 0 ? x[j] : op == DSM_SUM ? w[j] + x[j] : op == DSM_MIN ? (x[j] < w[j] ? x[j] : w[j]) \
									 : (x[j] > w[j] ? x[j] : w[j])
			ACC(w32, x32, 3);
			ACC(w64, x64, 2);
			ACC(wu, xu, 2);
			ACC(wd, xd, 2);
		}
		CHECK(!memcmp(v32, w32, sizeof(w32)) && !memcmp(v64, w64, sizeof(w64)) && !memcmp(vu, wu, sizeof(wu)) &&
		      !memcmp(vd, wd, sizeof(wd)), "round %ld: dsm_allreduce with op %d: %d %lld %llu %.17g differ from %d %lld %llu %.17g",
		      i, op, v32[0], (long long)v64[0], (unsigned long long)vu[0], vd[0], w32[0], (long long)w64[0],
		      (unsigned long long)wu[0], wd[0]);
		if (i % 7 == 0)
			CALL(dsm_barrier());
	}
	free(mine);
	free(all);
	dsm_barrier();
	if (me == 0)
		printf("gather: %ld rounds on %d ranks: OK\n", rounds, n);
	return 0;
}

static int test_gather_args(void)
{
	char a[8] = { 0 }, all[64];
	double d = 1;

	CHECK(dsm_allgather(NULL, 8, all) == -EINVAL && dsm_allgather(a, 8, NULL) == -EINVAL &&
	      dsm_allgather(a, 0, all) == -EINVAL && dsm_allgather(all, 8, all + 4) == -EINVAL &&
	      dsm_allgather(a, DSM_GATHER_MAX, all) == -EINVAL,
	      "dsm_allgather accepted a bad argument");
	CHECK(dsm_allreduce(&d, 1, (enum dsm_type)9, DSM_SUM) == -EINVAL &&
	      dsm_allreduce(&d, 1, DSM_DOUBLE, (enum dsm_op)9) == -EINVAL && dsm_allreduce(NULL, 1, DSM_DOUBLE, DSM_SUM) == -EINVAL &&
	      dsm_allreduce(&d, 0, DSM_DOUBLE, DSM_SUM) == -EINVAL &&
	      dsm_allreduce(&d, DSM_GATHER_MAX, DSM_DOUBLE, DSM_SUM) == -EINVAL,
	      "dsm_allreduce accepted a bad argument");
	CALL(dsm_allreduce(&d, 1, DSM_DOUBLE, DSM_SUM));
	CHECK(d == n, "dsm_allreduce after refused calls: %g, not %d", d, n);
	if (me == 0)
		printf("gather-args: OK\n");
	return 0;
}

static int test_gather_mismatch(int length)
{
	char a[64] = { 0 }, all[64 * 64];

	if (me == 1 && !length)
		dsm_barrier();
	else
		dsm_allgather(a, me == 1 ? 16 : 8, all);
	fprintf(stderr, "rank %d: FAIL: the mismatched collective returned\n", me);
	return 1;
}

/* ---- barrier ------------------------------------------------------------ */

/* Each rank writes its own word of one shared page before barrier i; after
 * it every rank must read i (or i + 1: the writer may have gone on).  With
 * `rc`, the page is release-consistent: the write notices of every rank
 * reach every rank through the barrier alone (with 3 or more ranks, most of
 * them through another rank's round), a stale copy would still show i - 1,
 * and a second barrier keeps i + 1 from being written before all read i. */
static int test_barrier(long rounds, int rc)
{
	size_t len = (size_t)n * sizeof(int64_t);
	volatile int64_t *phase = rc ? dsm_alloc_named_rc("phase-rc", len) : named("phase", len);

	CHECK(phase, "cannot allocate the phase words: %s", strerror(errno));
	dsm_barrier();
	for (long i = 1; i <= rounds; i++) {
		phase[me] = i;
		CALL(dsm_barrier());
		for (int r = 0; r < n; r++) {
			int64_t p = phase[r];
			CHECK(p == i || (!rc && p == i + 1), "%safter barrier %ld rank %d's word reads %lld here",
			      rc ? "release consistency: " : "", i, r, (long long)p);
		}
		if (rc)
			CALL(dsm_barrier());
	}
	if (!rc)
		dsm_barrier();
	if (me == 0 && rc)
		printf("barrier-rc: %ld barriers on %d ranks, every write seen: OK\n", rounds, n);
	else if (me == 0)
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

/* ---- threads of several ranks on one lock -------------------------------- */

#define NTHREADS 2
#define L_COUNT 77

struct counted {
	volatile int64_t count;
	volatile int32_t inside;
};

static struct counted *cnt;
static long t_rounds;

static void *lock_thread(void *arg)
{
	long t = (long)arg;

	for (long i = 0; i < t_rounds; i++) {
		int64_t x;
		if (i % 5 == 4) {
			int rc;
			while ((rc = dsm_trylock(L_COUNT)) == -EBUSY)
				sched_yield();
			CALL(rc);
		} else {
			CALL(dsm_lock(L_COUNT));
		}
		CHECK(cnt->inside == 0, "thread %ld took lock %d while %d held it", t, L_COUNT, cnt->inside - 1);
		cnt->inside = 1 + me * NTHREADS + (int32_t)t;
		x = cnt->count;
		if (i % 3 == 0)
			sched_yield();
		cnt->count = x + 1;
		cnt->inside = 0;
		CALL(dsm_unlock(L_COUNT));
	}
	return NULL;
}

static int test_threads(long rounds)
{
	pthread_t th[NTHREADS];
	int64_t expect = (int64_t)n * NTHREADS * rounds;

	cnt = named("threads", sizeof(*cnt));
	t_rounds = rounds;
	dsm_barrier();
	for (long t = 0; t < NTHREADS; t++)
		CHECK(pthread_create(&th[t], NULL, lock_thread, (void *)t) == 0, "pthread_create");
	for (int t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);
	dsm_barrier();
	if (me == 0) {
		CHECK(cnt->count == expect, "the counter is %lld, expected %lld", (long long)cnt->count,
		      (long long)expect);
		printf("threads: %d ranks x %d threads x %ld rounds = %lld increments: OK\n", n, NTHREADS, rounds,
		       (long long)expect);
	}
	return 0;
}

/* ---- condition variables ------------------------------------------------ */

#define QSLOTS 4
#define L_QUEUE 88
#define C_NOT_FULL 1
#define C_NOT_EMPTY 2

struct bqueue {
	uint64_t head, tail;
	int64_t slot[QSLOTS];
	uint32_t seen[];
};

static struct bqueue *bq;
static long q_items;

static void *producer(void *arg)
{
	(void)arg;
	for (long i = 0; i < q_items; i++) {
		CALL(dsm_lock(L_QUEUE));
		while (bq->tail - bq->head == QSLOTS)
			CALL(dsm_cond_wait(C_NOT_FULL, L_QUEUE));
		bq->slot[bq->tail++ % QSLOTS] = (int64_t)me * q_items + i;
		CALL(dsm_cond_signal(C_NOT_EMPTY));
		CALL(dsm_unlock(L_QUEUE));
	}
	return NULL;
}

static void *consumer(void *arg)
{
	long total = (long)n * q_items;

	(void)arg;
	for (long i = 0; i < q_items; i++) {
		int64_t v;
		CALL(dsm_lock(L_QUEUE));
		while (bq->tail == bq->head)
			CALL(dsm_cond_wait(C_NOT_EMPTY, L_QUEUE));
		v = bq->slot[bq->head++ % QSLOTS];
		CHECK(v >= 0 && v < total, "received item %lld", (long long)v);
		bq->seen[v]++;
		/* signal after the change, while holding the lock, as pthreads
		 * programs do; the other way round (after the unlock) also works */
		if (i % 2)
			CALL(dsm_cond_signal(C_NOT_FULL));
		CALL(dsm_unlock(L_QUEUE));
		if (!(i % 2))
			CALL(dsm_cond_signal(C_NOT_FULL));
	}
	return NULL;
}

static int test_cond(long items)
{
	long total = (long)n * items;
	pthread_t p, c;

	bq = named("bqueue", sizeof(*bq) + (size_t)total * sizeof(uint32_t));
	q_items = items;
	dsm_barrier();
	CHECK(pthread_create(&p, NULL, producer, NULL) == 0, "pthread_create");
	CHECK(pthread_create(&c, NULL, consumer, NULL) == 0, "pthread_create");
	pthread_join(p, NULL);
	pthread_join(c, NULL);
	dsm_barrier();
	if (me == 0) {
		for (long v = 0; v < total; v++)
			CHECK(bq->seen[v] == 1, "item %ld was received %u times", v, bq->seen[v]);
		CHECK(bq->head == (uint64_t)total && bq->tail == (uint64_t)total, "head %llu tail %llu",
		      (unsigned long long)bq->head, (unsigned long long)bq->tail);
		printf("cond: %d ranks x (1 producer + 1 consumer), %ld items through %d slots, each received "
		       "once: OK\n", n, total, QSLOTS);
	}
	return 0;
}

#define L_GO 99
#define C_GO 7

struct gate {
	volatile int32_t arrived, go, woke;
};

static struct gate *gate;

static void *go_waiter(void *arg)
{
	(void)arg;
	CALL(dsm_lock(L_GO));
	gate->arrived++;
	while (!gate->go)
		CALL(dsm_cond_wait(C_GO, L_GO));
	gate->woke++;
	CALL(dsm_unlock(L_GO));
	return NULL;
}

static int test_broadcast(void)
{
	int total = n * NTHREADS, rc;
	pthread_t th[NTHREADS];

	gate = named("gate", sizeof(*gate));
	rc = dsm_cond_wait(C_GO, L_GO);
	CHECK(rc == -EPERM, "dsm_cond_wait without the lock returned %d", rc);
	dsm_barrier();
	for (int t = 0; t < NTHREADS; t++)
		CHECK(pthread_create(&th[t], NULL, go_waiter, NULL) == 0, "pthread_create");
	if (me == 0) {
		/* Every waiter counted itself and went into dsm_cond_wait under
		 * the lock: once all have, one broadcast must wake them all. */
		for (;;) {
			CALL(dsm_lock(L_GO));
			if (gate->arrived == total)
				break;
			CALL(dsm_unlock(L_GO));
			usleep(2000);
		}
		gate->go = 1;
		CALL(dsm_cond_broadcast(C_GO));
		CALL(dsm_unlock(L_GO));
	}
	for (int t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);
	dsm_barrier();
	if (me == 0) {
		CHECK(gate->woke == total, "%d of %d waiters woke", gate->woke, total);
		printf("broadcast: one broadcast woke all %d waiters of %d ranks: OK\n", total, n);
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
		rc = test_barrier(count, 0);
	else if (!strcmp(what, "barrier-rc"))
		rc = test_barrier(count, 1);
	else if (!strcmp(what, "gather"))
		rc = test_gather(count);
	else if (!strcmp(what, "gather-args"))
		rc = test_gather_args();
	else if (!strcmp(what, "gather-mismatch"))
		rc = test_gather_mismatch(0);
	else if (!strcmp(what, "gather-length"))
		rc = test_gather_mismatch(1);
	else if (!strcmp(what, "sem"))
		rc = test_sem(count);
	else if (!strcmp(what, "threads"))
		rc = test_threads(count);
	else if (!strcmp(what, "cond"))
		rc = test_cond(count);
	else if (!strcmp(what, "broadcast"))
		rc = test_broadcast();
	else if (!strncmp(what, "die-", 4))
		rc = test_die(what);
	else
		CHECK(0, "unknown test '%s'", what);
	return finish(me, rc);
}
