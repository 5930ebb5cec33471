/*
 * Description: litmus tests of release consistency (dsm_malloc_rc memory):
 *   mp-lock     message passing through a lock: rank 0 writes data, then a
 *               flag under the lock; rank 1 sees the flag under the lock and
 *               must then see the data (2 ranks; rounds)
 *   mp-sem      the same through semaphores (a ping-pong of posts)
 *   chain       transitivity over 3 ranks: A writes x and releases L1; B
 *               acquires L1, releases L2 (never touching x); C acquires L2
 *               and must see x, though it holds a stale copy of x's page
 *   writers     every rank writes its own bytes, interleaved byte by byte
 *               over one page, at once; after a barrier every byte holds
 *               what its writer wrote (both writes survive, even in a word)
 *   counters    false sharing under locks: counters adjacent on one page,
 *               one lock each; every rank does `count` increments, in blocks
 *               of 100 on one counter, moving from counter to counter; the
 *               totals must be exact.  An SC counter array beside it (one
 *               job, both consistencies; one increment per block) must be
 *               exact too.
 *   rpc         release and acquire through RPC: rank 0 writes data and calls
 *               rank 1, whose handler checks it and writes an answer beside
 *               it; rank 0 checks the answer after the reply (2 ranks)
 *   fence       dsm_release/dsm_acquire around a flag in SC memory: rank 0
 *               writes data, dsm_release(), sets the flag; rank 1 sees the
 *               flag, dsm_acquire(), must see the data (2 ranks)
 *   escape      a release by another thread of a rank inside a barrier: rank
 *               0's main thread writes two pages and enters dsm_barrier; its
 *               second thread then posts a semaphore; rank 1 waits on it
 *               and must see both writes (the barrier's release had only
 *               carried them in its rounds: they reach their homes before
 *               the post), then writes a page and enters the barrier, after
 *               which rank 0 must see that write (2 ranks; rounds)
 *   early       a carried write seen through a lock before the barrier ends
 *               at the reader: rank 0 writes a page, leaves a barrier and
 *               sets a flag under a lock; a second thread of the last rank,
 *               waiting on the flag under the lock (perhaps while its main
 *               thread is still in the barrier), must then see the write
 *               (3 or more ranks; rounds)
 *   open        pages kept open across releases: every rank's main thread
 *               writes its word of one page and enters a barrier while its
 *               second thread writes each word of another page once (so
 *               the release diffs a page that is being written); after the
 *               barrier every rank sees every main thread's word, and after
 *               one more (the second thread done) every word of the second
 *               threads' pages (a write made during a release is not lost);
 *               at most 3 ranks; rounds
 *   quiet       releases with nothing written send nothing: rank 0 writes a
 *               word, releases it and takes a lock, then 1000 times releases
 *               (dsm_release) and unlocks the lock it keeps, with nothing
 *               written in between: no byte may leave the rank and no diff
 *               be made (2 ranks)
 *   default     DSM_CONSISTENCY=release: dsm_alloc_named gives memory of the
 *               release-consistent arena (dsm_alloc_named_rc of the same name
 *               gives the same block); mp-lock runs on it
 *   rc_litmus TEST [rounds|count]
 */
#include <dsm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include "testutil.h"

#define PAGE 4096

static int me, nr;

/* Spin on a lock-protected word until it reaches `want`. */
static void await_under(uint64_t lock, volatile uint64_t *w, uint64_t want)
{
	for (;;) {
		uint64_t v;
		CALL(dsm_lock(lock));
		v = *w;
		CALL(dsm_unlock(lock));
		if (v >= want)
			return;
	}
}

static void set_under(uint64_t lock, volatile uint64_t *w, uint64_t v)
{
	CALL(dsm_lock(lock));
	*w = v;
	CALL(dsm_unlock(lock));
}

static int mp_lock(volatile uint64_t *a, uint64_t rounds)
{
	/* a[0..511]: data (its own page), a[512]: flag, a[513]: ack */
	for (uint64_t r = 1; r <= rounds; r++) {
		if (me == 0) {
			for (int k = 0; k < 512; k += 37)
				a[k] = r * 1000 + (uint64_t)k;
			set_under(1, &a[512], r);
			await_under(1, &a[513], r);
		} else if (me == 1) {
			await_under(1, &a[512], r);
			for (int k = 0; k < 512; k += 37)
				CHECK(a[k] == r * 1000 + (uint64_t)k, "mp-lock round %lu: data[%d] is %lu, not %lu",
				      (unsigned long)r, k, (unsigned long)a[k], (unsigned long)(r * 1000 + k));
			set_under(1, &a[513], r);
		}
	}
	return 0;
}

static int mp_sem(volatile uint64_t *a, uint64_t rounds)
{
	for (uint64_t r = 1; r <= rounds; r++) {
		if (me == 0) {
			a[0] = r;
			a[700] = r * 3;
			CALL(dsm_sem_post(10));
			CALL(dsm_sem_wait(11));
			CHECK(a[1] == r * 7, "mp-sem round %lu: rank 1's reply is %lu", (unsigned long)r,
			      (unsigned long)a[1]);
		} else if (me == 1) {
			CALL(dsm_sem_wait(10));
			CHECK(a[0] == r && a[700] == r * 3, "mp-sem round %lu: data %lu %lu", (unsigned long)r,
			      (unsigned long)a[0], (unsigned long)a[700]);
			a[1] = r * 7;
			CALL(dsm_sem_post(11));
		}
	}
	return 0;
}

static int chain(volatile uint64_t *a, uint64_t rounds)
{
	/* x: a[0] (page 0); flag1: a[512] (page 1, lock 21); flag2: a[1024]
	 * (page 2, lock 22); done: semaphore 23 */
	for (uint64_t r = 1; r <= rounds; r++) {
		if (me == 0) {
			a[0] = r;
			set_under(21, &a[512], r);
			CALL(dsm_sem_wait(23));
		} else if (me == 1) {
			await_under(21, &a[512], r);
			set_under(22, &a[1024], r);
		} else if (me == 2) {
			await_under(22, &a[1024], r);
			CHECK(a[0] == r, "chain round %lu: rank 2 reads x = %lu after L1 -> L2", (unsigned long)r,
			      (unsigned long)a[0]);
			CALL(dsm_sem_post(23));
		}
	}
	return 0;
}

static int writers(volatile uint8_t *b, uint64_t rounds)
{
	for (uint64_t r = 1; r <= rounds; r++) {
		uint8_t mine = (uint8_t)(r * 16 + (uint64_t)me + 1);
		for (int k = me; k < PAGE; k += nr)
			b[k] = mine;
		CALL(dsm_barrier());
		for (int k = 0; k < PAGE; k++)
			CHECK(b[k] == (uint8_t)(r * 16 + (uint64_t)(k % nr) + 1),
			      "writers round %lu: byte %d is %u, rank %d wrote %u", (unsigned long)r, k, b[k], k % nr,
			      (unsigned)(uint8_t)(r * 16 + (uint64_t)(k % nr) + 1));
		CALL(dsm_barrier());
	}
	return 0;
}

static int counters(volatile uint64_t *c, uint64_t count)
{
	volatile uint64_t *sc = dsm_alloc_named("rc_litmus.sc", PAGE);
	uint64_t want[64] = { 0 };

	CHECK(nr <= 32, "counters: at most 32 ranks");

	CHECK(sc, "dsm_alloc_named: %s", strerror(errno));
	CHECK((char *)sc < (char *)dsm_base() + dsm_region_size() / 2 ||
	      (char *)sc >= (char *)dsm_base() + dsm_region_size() / 4 * 3,
	      "the sequentially consistent allocation lies in the release-consistent arena");
	CALL(dsm_barrier());
	for (uint64_t i = 0; i < count; i++) {
		int k = (int)((i / 100 + (uint64_t)me) % (uint64_t)nr);
		CALL(dsm_lock(100 + (uint64_t)k));
		c[k]++;
		if (i % 100 == 0)
			sc[k]++; /* once a block: SC false sharing is slow */
		CALL(dsm_unlock(100 + (uint64_t)k));
	}
	CALL(dsm_barrier());
	for (int r = 0; r < nr; r++)
		for (uint64_t i = 0; i < count; i++) {
			want[(i / 100 + (uint64_t)r) % (uint64_t)nr]++;
			if (i % 100 == 0)
				want[32 + (i / 100 + (uint64_t)r) % (uint64_t)nr]++;
		}
	for (int k = 0; k < nr; k++) {
		CHECK(c[k] == want[k], "counter %d is %lu, not %lu", k, (unsigned long)c[k], (unsigned long)want[k]);
		CHECK(sc[k] == want[32 + k], "SC counter %d is %lu, not %lu", k, (unsigned long)sc[k],
		      (unsigned long)want[32 + k]);
	}
	return 0;
}

static volatile uint64_t *rpc_data;

static int rpc_handler(const void *arg, size_t len, void *reply, size_t *reply_len)
{
	uint64_t r;

	(void)reply;
	*reply_len = 0;
	if (len != sizeof(r))
		return -EINVAL;
	memcpy(&r, arg, sizeof(r));
	for (int k = 0; k < 512; k += 31)
		if (rpc_data[k] != r * 100 + (uint64_t)k)
			return -EIO; /* the call's data is not visible */
	rpc_data[600] = r * 5; /* the answer, on the next page */
	rpc_data[3] = r; /* and one beside the caller's data, on its page */
	return 0;
}

static int rpc(volatile uint64_t *a, uint64_t rounds)
{
	rpc_data = a;
	CALL(dsm_rpc_register(7, rpc_handler));
	CALL(dsm_barrier());
	if (me != 0)
		return 0;
	for (uint64_t r = 1; r <= rounds; r++) {
		size_t rl = 0;
		for (int k = 0; k < 512; k += 31)
			a[k] = r * 100 + (uint64_t)k;
		CALL(dsm_rpc_call(1, 7, &r, sizeof(r), NULL, &rl));
		CHECK(a[600] == r * 5 && a[3] == r, "rpc round %lu: the handler's answer %lu %lu is not visible",
		      (unsigned long)r, (unsigned long)a[600], (unsigned long)a[3]);
	}
	return 0;
}

static int fence(volatile uint64_t *a, uint64_t rounds)
{
	volatile uint64_t *flag = dsm_alloc_named("rc_litmus.flags", PAGE); /* SC */

	CHECK(flag, "dsm_alloc_named: %s", strerror(errno));
	CALL(dsm_barrier());
	for (uint64_t r = 1; r <= rounds; r++) {
		if (me == 0) {
			for (int k = 0; k < 512; k += 29)
				a[k] = r * 11 + (uint64_t)k;
			CALL(dsm_release());
			__atomic_store_n(&flag[0], r, __ATOMIC_SEQ_CST);
			while (__atomic_load_n(&flag[1], __ATOMIC_SEQ_CST) < r)
				;
		} else if (me == 1) {
			while (__atomic_load_n(&flag[0], __ATOMIC_SEQ_CST) < r)
				;
			CALL(dsm_acquire());
			for (int k = 0; k < 512; k += 29)
				CHECK(a[k] == r * 11 + (uint64_t)k, "fence round %lu: data[%d] is %lu", (unsigned long)r,
				      k, (unsigned long)a[k]);
			__atomic_store_n(&flag[1], r, __ATOMIC_SEQ_CST);
		}
	}
	return 0;
}

static int quiet(volatile uint64_t *a, uint64_t rounds)
{
	struct dsm_stats s0, s1;

	if (me != 0)
		return 0;
	a[0] = 1;
	CALL(dsm_release());
	CALL(dsm_lock(77));
	CALL(dsm_unlock(77));
	usleep(20000); /* acknowledgements owed go out (2 ms at most) */
	CALL(dsm_stats(&s0));
	for (uint64_t r = 0; r < rounds; r++) {
		CALL(dsm_release());
		CALL(dsm_lock(77)); /* kept here: nobody else asks for it */
		CALL(dsm_unlock(77));
	}
	CALL(dsm_stats(&s1));
	CHECK(s1.net_bytes_out == s0.net_bytes_out, "%lu releases with nothing written sent %lu bytes",
	      (unsigned long)rounds, (unsigned long)(s1.net_bytes_out - s0.net_bytes_out));
	CHECK(s1.diffs_sent == s0.diffs_sent, "%lu releases with nothing written made %lu diffs", (unsigned long)rounds,
	      (unsigned long)(s1.diffs_sent - s0.diffs_sent));
	return 0;
}

static pthread_mutex_t esc_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t esc_cv = PTHREAD_COND_INITIALIZER;
static uint64_t esc_go, esc_rounds;

/* A rank's two threads step through the rounds: one sets a counter to the
 * round it reached, the other waits for it. */
static void step_set(uint64_t *c, uint64_t r)
{
	pthread_mutex_lock(&esc_mu);
	*c = r;
	pthread_cond_broadcast(&esc_cv);
	pthread_mutex_unlock(&esc_mu);
}

static void step_wait(const uint64_t *c, uint64_t r)
{
	pthread_mutex_lock(&esc_mu);
	while (*c < r)
		pthread_cond_wait(&esc_cv, &esc_mu);
	pthread_mutex_unlock(&esc_mu);
}

/* Rank 0's second thread: once the main thread is (about to be) in round
 * r's barrier, post. */
static void *esc_poster(void *arg)
{
	(void)arg;
	for (uint64_t r = 1; r <= esc_rounds; r++) {
		step_wait(&esc_go, r);
		usleep(1000);
		if (dsm_sem_post(7) != 0) {
			fprintf(stderr, "rc_litmus: dsm_sem_post failed\n");
			exit(1);
		}
	}
	return NULL;
}

static int escape(volatile uint64_t *a, uint64_t rounds)
{
	pthread_t t;

	CHECK(nr == 2, "escape: 2 ranks");
	esc_rounds = rounds;
	if (me == 0)
		CHECK(pthread_create(&t, NULL, esc_poster, NULL) == 0, "pthread_create failed");
	for (uint64_t r = 1; r <= rounds; r++) {
		if (me == 0) {
			a[0] = r;
			a[512 + 1] = 3 * r;
			step_set(&esc_go, r);
		} else {
			CALL(dsm_sem_wait(7));
			CHECK(a[0] == r && a[513] == 3 * r, "escape round %lu: rank 1 sees %lu and %lu after the post",
			      (unsigned long)r, (unsigned long)a[0], (unsigned long)a[513]);
			a[1024 + 2] = 5 * r;
		}
		CALL(dsm_barrier());
		CHECK(a[1026] == 5 * r && a[0] == r, "escape round %lu: after the barrier rank %d sees %lu and %lu",
		      (unsigned long)r, me, (unsigned long)a[1026], (unsigned long)a[0]);
		CALL(dsm_barrier());
	}
	if (me == 0)
		CHECK(pthread_join(t, NULL) == 0, "pthread_join failed");
	return 0;
}

static volatile uint64_t *early_a;
static uint64_t early_seen;

/* The last rank's second thread: in round r, wait for rank 0's flag under
 * the lock, then read what rank 0 wrote before the barrier. */
static void *early_reader(void *arg)
{
	(void)arg;
	for (uint64_t r = 1; r <= esc_rounds; r++) {
		await_under(9, &early_a[1024], r);
		if (early_a[0] != r) {
			fprintf(stderr, "rc_litmus: early round %lu: the reader sees %lu after the flag\n",
				(unsigned long)r, (unsigned long)early_a[0]);
			exit(1);
		}
		step_set(&early_seen, r);
	}
	return NULL;
}

static int early(volatile uint64_t *a, uint64_t rounds)
{
	pthread_t t;

	CHECK(nr >= 3, "early: 3 ranks or more");
	early_a = a;
	esc_rounds = rounds;
	if (me == nr - 1)
		CHECK(pthread_create(&t, NULL, early_reader, NULL) == 0, "pthread_create failed");
	for (uint64_t r = 1; r <= rounds; r++) {
		if (me == 0)
			a[0] = r;
		CALL(dsm_barrier());
		if (me == 0)
			set_under(9, &a[1024], r);
		if (me == nr - 1) {
			step_wait(&early_seen, r);
		}
		CALL(dsm_barrier());
	}
	if (me == nr - 1)
		CHECK(pthread_join(t, NULL) == 0, "pthread_join failed");
	return 0;
}

static volatile uint64_t *open_a;
static uint64_t open_go, open_done;

/* Each rank's second thread: in round r, write r into each word of page
 * 1 + me, one after another, while the main thread is in the round's
 * first barrier: each word is written once, so one lost from a diff stays
 * lost. */
static void *open_writer(void *arg)
{
	volatile uint64_t *w = open_a + (1 + me) * (PAGE / 8);

	(void)arg;
	for (uint64_t r = 1; r <= esc_rounds; r++) {
		step_wait(&open_go, r);
		for (uint64_t j = 0; j < PAGE / 8; j++) {
			w[j] = r;
			if (j % 4 == 0)
				sched_yield();
		}
		step_set(&open_done, r);
	}
	return NULL;
}

static int open_pages(volatile uint64_t *a, uint64_t rounds)
{
	pthread_t t;

	CHECK(nr <= 3, "open: 3 ranks at most");
	open_a = a;
	esc_rounds = rounds;
	CHECK(pthread_create(&t, NULL, open_writer, NULL) == 0, "pthread_create failed");
	for (uint64_t r = 1; r <= rounds; r++) {
		a[16 * me] = r;
		step_set(&open_go, r);
		CALL(dsm_barrier());
		for (int o = 0; o < nr; o++)
			CHECK(a[16 * o] == r, "open round %lu: rank %d sees %lu in rank %d's word after the barrier",
			      (unsigned long)r, me, (unsigned long)a[16 * o], o);
		step_wait(&open_done, r);
		CALL(dsm_barrier());
		for (int o = 0; o < nr; o++)
			for (uint64_t j = 0; j < PAGE / 8; j++) {
				uint64_t v = a[(1 + o) * (PAGE / 8) + j];
				CHECK(v == r, "open round %lu: rank %d sees %lu in word %lu of rank %d's page, not %lu",
				      (unsigned long)r, me, (unsigned long)v, (unsigned long)j, o, (unsigned long)r);
			}
		CALL(dsm_barrier()); /* every check done before the next round's writes */
	}
	CHECK(pthread_join(t, NULL) == 0, "pthread_join failed");
	return 0;
}

int main(int argc, char **argv)
{
	const char *test = argc > 1 ? argv[1] : "";
	uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 200;
	char *base;
	void *a;
	int rc = 0;

	init_or_exit(&argc, &argv);
	me = dsm_rank();
	nr = dsm_size();
	base = dsm_base();
	if (!strcmp(test, "default")) {
		a = dsm_alloc_named("rc_litmus.default", 4 * PAGE);
		CHECK(a, "dsm_alloc_named: %s", strerror(errno));
		CHECK((char *)a >= base + dsm_region_size() / 2 && (char *)a < base + dsm_region_size() / 4 * 3,
		      "DSM_CONSISTENCY=release, but dsm_alloc_named gave %p, outside the arena", a);
		CHECK(dsm_alloc_named_rc("rc_litmus.default", 4 * PAGE) == a,
		      "dsm_alloc_named_rc of the same name gives another block");
		test = "mp-lock";
	} else {
		a = dsm_alloc_named_rc("rc_litmus", 4 * PAGE);
		CHECK(a, "dsm_alloc_named_rc: %s", strerror(errno));
		CHECK((char *)a >= base + dsm_region_size() / 2 && (char *)a < base + dsm_region_size() / 4 * 3,
		      "dsm_alloc_named_rc gave %p, outside the release-consistent arena", a);
	}
	CALL(dsm_barrier());
	if (!strcmp(test, "mp-lock"))
		rc = mp_lock(a, n);
	else if (!strcmp(test, "mp-sem"))
		rc = mp_sem(a, n);
	else if (!strcmp(test, "chain"))
		rc = chain(a, n);
	else if (!strcmp(test, "writers"))
		rc = writers(a, n);
	else if (!strcmp(test, "fence"))
		rc = fence(a, n);
	else if (!strcmp(test, "rpc"))
		rc = rpc(a, n);
	else if (!strcmp(test, "early"))
		rc = early(a, n);
	else if (!strcmp(test, "escape"))
		rc = escape(a, n);
	else if (!strcmp(test, "open"))
		rc = open_pages(a, n);
	else if (!strcmp(test, "quiet"))
		rc = quiet(a, n);
	else if (!strcmp(test, "counters"))
		rc = counters(a, n);
	else
		CHECK(0, "unknown test '%s'", test);
	CALL(dsm_barrier());
	printf("rc_litmus: %s rank %d of %d: ok\n", test, me, nr);
	return finish(me, rc);
}
