/*
 * sync.c - locks, counting semaphores and condition variables named by any
 * 64-bit id, and the application's barriers.
 *
 * Design.  Each lock, semaphore and condition variable has a home rank, a
 * hash of its id over all ranks (serve-only ranks included; lock 5,
 * semaphore 5 and condition 5 are different objects with independent
 * homes).  The home keeps its state in a table entry made on first use and
 * dropped when idle again: a lock's holder, a semaphore's count, each with a
 * FIFO queue of waiting requests; a condition variable's queue of waiters.
 * Messages (id = the requester's request id, arg = the lock id or key):
 *   lock:    r -> home LOCK_REQ.  Free: home records r as the holder and
 *            answers LOCK_GRANT.  Held: the request joins the queue and, once
 *            per holding, the home sends the holder LOCK_RECALL.  A trylock
 *            (aux 1) that finds the lock held is answered LOCK_GRANT with aux
 *            EBUSY, at once when the home knows the holder holds it, else
 *            once the holder says so (see caching).
 *   unlock:  holder -> home UNLOCK, no answer, only when recalled (below).
 *            Home passes the lock to the oldest queued request (LOCK_GRANT to
 *            it) or marks it free.
 *   wait:    r -> home SEM_WAIT.  Count > 0: decrement, answer SEM_GRANT.
 *            Otherwise the request joins the queue.
 *   post:    r -> home SEM_POST, no answer.  Home answers the oldest queued
 *            waiter with SEM_GRANT, or increments the count.
 *   cond:    r -> home COND_WAIT; home queues the waiter and answers
 *            COND_QUEUED at once; only then does the waiter release its lock.
 *            COND_SIGNAL (aux 1: broadcast), no answer: home sends COND_WAKE
 *            to the oldest waiter (all of them).  The woken thread takes its
 *            lock again with dsm_lock().
 *
 * Lock caching.  A lock stays with its last holder: dsm_unlock() of a lock
 * that nobody else asked for sends nothing and keeps the lock cached at this
 * rank (the home still names this rank the holder), so the next dsm_lock()
 * here takes it from this rank's cache table with no message and no other
 * thread.  When another request queues at the home, the home sends
 * LOCK_RECALL (aux 1: a trylock waits: answer LOCK_BUSY if held).  The
 * holder, in the service thread: cached and free -> UNLOCK at once; held ->
 * marks it recalled (and answers LOCK_BUSY to a probe), and the unlock that
 * leaves no local waiter sends UNLOCK.  Threads of this rank that find the
 * cached lock held wait in the cache entry's own FIFO and get it from the
 * unlocker directly; once the entry is recalled new local requests go to
 * the home's queue behind the remote ones, so no rank starves: the waiters
 * of a cached lock are those that came before the recall.  A recall carries
 * the request id of the grant it recalls; one that finds no such holding is
 * stale (the lock was given back already) and is dropped.  A home that gave
 * the lock to a request while others wait recalls it at once, so under
 * contention a lock moves as it did without caching (one UNLOCK per hand-off).
 *
 * Local fast paths.  What a rank can decide alone it does in the calling
 * thread, under the locks below, without the service thread: a cached lock
 * (above); a free lock homed here (taken at the home and cached at once,
 * with a grant id of its own space); a semaphore or condition variable whose home is this rank, where
 * nothing has to be sent (a wait that finds a count, a wait that queues, a
 * post or signal whose oldest waiter is a thread of this rank).  A thread of
 * this rank that waits at the home is queued with a pointer to its request
 * and completed directly by whoever serves it.  Otherwise the request goes
 * through the mailbox to the service thread, as every request once did.
 *
 * A lock is held by a rank.  The cache table says which locks this rank
 * holds, so unlocking a lock it does not hold fails with -EPERM, and an
 * UNLOCK from a rank that is not the holder can only be a protocol
 * violation.  Unlock and post need no answer: TCP keeps a rank's messages to
 * the home in order, so its next request for the same object arrives after
 * them.  Requests from several threads of one rank are independent requests
 * with their own ids and queue places.
 *
 * No lost wake-up: a waiter is in its condition's queue at the home before
 * it releases its lock (it waits for COND_QUEUED, or queues itself under
 * home_mu when the home is here).  A signaller that changed the predicate
 * under the lock took the lock after that release, so its COND_SIGNAL is
 * handled at the home after the waiter was queued.  verify/sync.pml models
 * the lock cache and this race.
 *
 * Memory ordering.  Acquire and release are ordering points, and under the
 * coherence engine's sequential consistency they cost nothing extra: a store
 * is globally performed when it completes (the writer holds the page
 * exclusively, every other copy was invalidated before the write was allowed,
 * and any later reader fetches the page from the writer).  Within a rank the
 * mutexes of the cache table and the mailbox's atomics order the threads.
 * A release consistency mode would have to make dsm_unlock/dsm_sem_post
 * publish this rank's changes, and acquire discard stale copies, at these
 * points, cached lock or not.
 *
 * No deadline on these waits: a lock may rightly be held for hours.  A rank
 * that dies ends the job through the transport (its connection is lost), so
 * no wait outlives it.
 *
 * Barriers.  dsm_barrier() after dsm_init's (which runtime.c runs through
 * rank 0) is a dissemination barrier over the n ranks that are not servers,
 * with no rank in the middle: ceil(log2 n) rounds; in round k rank r sends
 * BARRIER_ROUND(epoch, k) to r + 2^k and waits for the one from r - 2^k (mod
 * n), and only then sends round k + 1.  A rank enters once its release is
 * done (rc_release_then: its release-consistent writes are at their homes,
 * or small enough to ride in the rounds: rc.c's carried intervals), in the
 * service thread, so the calling thread makes one request, not two.  After
 * round k a rank has heard, through chains of rounds, from the 2^(k+1) - 1
 * ranks before it, so after the last every rank entered.  Each round's
 * message carries the write notices its sender knows by then, and the
 * carried intervals with their diffs (rc_notices_out; taken in at arrival
 * by rc_notices_in), so the last round leaves every rank with the union of
 * what every rank knew at its entry, which release consistency needs of a
 * barrier.  On 2 ranks both send at once: one one-way trip, where a central
 * barrier needs two.  Epochs do not mix: a rank that left epoch e may send
 * round k of e + 1 while its receiver still waits in e; rounds are kept per
 * epoch parity until their epoch's turn (a rank cannot be two epochs ahead:
 * leaving e + 1 needs every rank in e + 1).  Round k always comes from the
 * same rank over one in-order link, so a message of the wrong epoch, round
 * or sender, or a second one, is a protocol error.  A rank that dies ends
 * the job through the transport, as in every other wait.  The waiting
 * thread waits in tp_call() like any request (DSM_SPIN_US).
 * verify/barrier.pml models it.
 *
 * dsm_allgather() is the same barrier with data: after round k - 1 a rank
 * knows the contributions of the min(2^k, n) ranks that end with it (mod
 * n), and sends them as BARRIER_DATA (id: the first of them and their
 * number) just before its BARRIER_ROUND of round k; the receiver then knows
 * those of twice as many, so after the last round every rank has all n
 * (Bruck's allgather on the dissemination pattern).  Data may come before
 * its epoch, like rounds; they wait per epoch parity and round until the
 * round is taken, and a round taken without data in an allgather, or with
 * data in a barrier, or data of another length, means the ranks called
 * different collectives: the job stops, naming both.
 *
 * The shared heap's messages come through here too and go to alloc.c.
 *
 * Locking: stripe[i].mu guards that stripe's cache entries (struct lentry:
 * every field, and the waiters queued on it); home_mu guards `objs`, the
 * home's entries, their queues, and local_grants.  Order: a stripe's mu
 * before home_mu (take_at_home()).  `waiting`, `cwaiting` and `next_req` belong to
 * the service thread.  A request's `done` word is written once, by whoever
 * completes it, after it left every queue.  The barrier's state (bar_*)
 * belongs to the service thread.
 */
#include "sync.h"

#include <dsm.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "htab.h"
#include "coherence.h"
#include "log.h"
#include "mailbox.h"
#include "rc.h"
#include "runtime.h"
#include "stats.h"
#include "transport.h"
#include "wire.h"

enum { SK_LOCK = 1, SK_SEM = 2, SK_COND = 3 };

#define RECALL_PROBE 1 /* LOCK_RECALL aux: a trylock waits, answer LOCK_BUSY if held */

/* A request queued at home: from another rank (req), or a thread of this
 * rank waiting in place (local). */
struct waiter {
	struct waiter *next;
	int32_t rank;
	uint8_t try;
	uint64_t req;
	struct mbox_req *local;
};

/* A lock, semaphore or condition variable at its home. */
struct sobj {
	struct hlink link;    /* in objs, by (kind, id) */
	uint64_t id;
	uint8_t kind;
	uint8_t recalled;     /* SK_LOCK: LOCK_RECALL sent for this holding */
	uint8_t probed;       /* ... with RECALL_PROBE */
	uint8_t busy;         /* the holder holds it and gives it back at unlock */
	int32_t holder;       /* SK_LOCK: the holding rank, -1 when free */
	uint64_t grant;       /* SK_LOCK: the request id the holder was granted */
	uint64_t count;       /* SK_SEM */
	struct waiter *qhead, *qtail;
};

static pthread_mutex_t home_mu = PTHREAD_MUTEX_INITIALIZER;
static struct htab objs;
/* Grant ids of locks taken at their home by a thread of the home's own rank
 * (home_mu): their own space, apart from the service thread's request ids. */
#define LOCAL_GRANT (1ULL << 63)
static uint64_t local_grants;

/* A lock this rank holds at its home: taken by a thread, or cached. */
struct lentry {
	struct hlink link;
	uint64_t id;
	uint64_t grant;               /* the request id of the home's grant */
	uint8_t held;                 /* a thread of this rank has it */
	uint8_t recalled;             /* the home wants it back */
	struct mbox_req *qhead, *qtail; /* threads waiting for it, oldest first */
};

#define NSTRIPE 64
static struct stripe {
	pthread_mutex_t mu;
	struct htab t;
} stripes[NSTRIPE];

/* This rank's requests that wait for a grant, linked through `next`;
 * req->b holds the request id once sent.  cwaiting: threads in
 * dsm_cond_wait whose condition is homed elsewhere (their wake-up request;
 * p: the request waiting for COND_QUEUED, NULL once queued). */
static struct mbox_req *waiting, *cwaiting;
static uint64_t next_req;

/* The application barrier: the epoch this rank is in or left last (1:
 * dsm_init's, which runtime.c runs through rank 0), the request waiting in
 * it and the round it waits in; per epoch parity, the rounds whose message
 * came and was not taken yet (those of the next epoch come early). */
static uint64_t bar_epoch;
static struct mbox_req *bar_flushing; /* the barrier's request while its release flushes */
static struct mbox_req *bar_req;
static unsigned bar_round;
static uint64_t bar_got[2];
/* dsm_allgather: the epoch's request (NULL: a plain barrier), every rank's
 * data as this rank learns them (bar_ranks() x len bytes), and per epoch
 * parity and round the data that came and were not taken yet. */
static struct sync_gather *ag;
static uint8_t *ag_all;
struct ag_early {
	uint8_t *data; /* malloc'd; NULL: none came */
	uint32_t len, first, count;
};
static struct ag_early ag_early[2][64];

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static int home_of(int kind, uint64_t id)
{
	uint64_t salt = kind == SK_SEM ? 0x5e4a9b0d3c2f1e87ULL : kind == SK_COND ? 0xc0d1ca7e5a1e0b3dULL : 0;

	return (int)(mix64(id ^ salt) % (uint64_t)rt.size);
}

int sync_lock_home(uint64_t id) { return home_of(SK_LOCK, id); }
int sync_sem_home(uint64_t key) { return home_of(SK_SEM, key); }
int sync_cond_home(uint64_t cond) { return home_of(SK_COND, cond); }

/* ---- the home's table (home_mu) --------------------------------------- */

static uint64_t key_hash(int kind, uint64_t id)
{
	return mix64(id + (uint64_t)kind);
}

static uint64_t obj_hash(const struct hlink *l)
{
	const struct sobj *o = htab_entry(l, struct sobj, link);

	return key_hash(o->kind, o->id);
}

static struct sobj *obj_find(int kind, uint64_t id)
{
	for (struct hlink *l = htab_chain(&objs, key_hash(kind, id)); l; l = l->next) {
		struct sobj *o = htab_entry(l, struct sobj, link);
		if (o->id == id && o->kind == kind)
			return o;
	}
	return NULL;
}

static struct sobj *obj_get(int kind, uint64_t id)
{
	struct sobj *o = obj_find(kind, id);

	if (o)
		return o;
	if (htab_reserve(&objs))
		rt_fatal("out of memory for the lock table");
	o = calloc(1, sizeof(*o));
	if (!o)
		rt_fatal("out of memory for the lock table");
	o->id = id;
	o->kind = (uint8_t)kind;
	o->holder = -1;
	htab_add(&objs, &o->link, key_hash(kind, id));
	return o;
}

static void obj_drop(struct sobj *o)
{
	htab_del(&objs, &o->link, key_hash(o->kind, o->id));
	while (o->qhead) {
		struct waiter *w = o->qhead;
		o->qhead = w->next;
		free(w);
	}
	free(o);
}

static void obj_drop_link(struct hlink *l)
{
	obj_drop(htab_entry(l, struct sobj, link));
}

/* Drop an entry that holds no state: a free lock, a zero semaphore, a
 * condition, with nobody waiting.  Memory stays proportional to what is in
 * use. */
static void obj_drop_if_idle(struct sobj *o)
{
	if (!o->qhead && o->holder < 0 && o->count == 0)
		obj_drop(o);
}

static void enqueue(struct sobj *o, int32_t rank, uint64_t req, int try, struct mbox_req *local)
{
	struct waiter *w = malloc(sizeof(*w));

	if (!w)
		rt_fatal("out of memory for a lock queue");
	*w = (struct waiter){ .rank = rank, .req = req, .try = (uint8_t)try, .local = local };
	if (o->qtail)
		o->qtail->next = w;
	else
		o->qhead = w;
	o->qtail = w;
}

static struct waiter *dequeue(struct sobj *o)
{
	struct waiter *w = o->qhead;

	if (w) {
		o->qhead = w->next;
		if (!o->qhead)
			o->qtail = NULL;
	}
	return w;
}

/* ---- this rank's cache of locks (a stripe's mu) -------------------------- */

static struct stripe *stripe_of(uint64_t id)
{
	return &stripes[mix64(id) >> 58];
}

static uint64_t lentry_hash(const struct hlink *l)
{
	return mix64(htab_entry(l, struct lentry, link)->id);
}

static struct lentry *lentry_find(struct stripe *s, uint64_t id)
{
	for (struct hlink *l = htab_chain(&s->t, mix64(id)); l; l = l->next) {
		struct lentry *e = htab_entry(l, struct lentry, link);
		if (e->id == id)
			return e;
	}
	return NULL;
}

static void lentry_drop(struct stripe *s, struct lentry *e)
{
	htab_del(&s->t, &e->link, mix64(e->id));
	free(e);
}

static void lentry_drop_link(struct hlink *l)
{
	struct lentry *e = htab_entry(l, struct lentry, link);

	lentry_drop(stripe_of(e->id), e);
}

static void lwait_push(struct lentry *e, struct mbox_req *r)
{
	r->next = NULL;
	if (e->qtail)
		e->qtail->next = r;
	else
		e->qhead = r;
	e->qtail = r;
}

static struct mbox_req *lwait_pop(struct lentry *e)
{
	struct mbox_req *r = e->qhead;

	if (r) {
		e->qhead = r->next;
		if (!e->qhead)
			e->qtail = NULL;
	}
	return r;
}

/* ---- set-up ---------------------------------------------------------- */

int sync_init(void)
{
	int rc;

	if ((rc = tp_register(WIRE_SYNC_FIRST, WIRE_SYNC_LAST, sync_handle)) ||
	    (rc = tp_register(WIRE_SYNC2_FIRST, WIRE_SYNC2_LAST, sync_handle)))
		return rc;
	htab_init(&objs, 64, obj_hash);
	for (int i = 0; i < NSTRIPE; i++) {
		pthread_mutex_init(&stripes[i].mu, NULL);
		htab_init(&stripes[i].t, 8, lentry_hash);
	}
	waiting = cwaiting = NULL;
	next_req = 0;
	bar_epoch = 1;
	bar_flushing = NULL;
	bar_req = NULL;
	bar_round = 0;
	bar_got[0] = bar_got[1] = 0;
	return alloc_init();
}

void sync_fini(void)
{
	htab_clear(&objs, obj_drop_link);
	for (int i = 0; i < NSTRIPE; i++) {
		htab_clear(&stripes[i].t, lentry_drop_link);
		pthread_mutex_destroy(&stripes[i].mu);
	}
	waiting = cwaiting = NULL;
	for (int e = 0; e < 2; e++)
		for (int k = 0; k < 64; k++) {
			free(ag_early[e][k].data);
			ag_early[e][k].data = NULL;
		}
	free(ag_all);
	ag_all = NULL;
	ag = NULL;
	alloc_fini();
}

/* ---- the home's side (home_mu) ------------------------------------------ */

static void send_msg(int to, int type, uint64_t arg, uint64_t id, uint32_t aux)
{
	struct wire_hdr h = { .type = (uint8_t)type, .arg = arg, .id = id, .aux = aux };

	tp_send(to, &h, rc_notices_out(to, type, &h.len)); /* releases and grants carry them */
}

/* Queued trylocks fail: the lock is held now. */
static void fail_trylocks(struct sobj *o)
{
	struct waiter **pp = &o->qhead, *w;

	o->qtail = NULL;
	while ((w = *pp)) {
		if (w->try) {
			*pp = w->next;
			send_msg(w->rank, WIRE_LOCK_GRANT, o->id, w->req, EBUSY);
			free(w);
		} else {
			o->qtail = w;
			pp = &w->next;
		}
	}
}

static void grant_lock(struct sobj *o, int32_t to, uint64_t req)
{
	o->holder = to;
	o->grant = req;
	o->recalled = o->probed = o->busy = 0;
	send_msg(to, WIRE_LOCK_GRANT, o->id, req, 0);
}

static void home_lock(int32_t from, uint64_t id, uint64_t req, uint32_t try)
{
	struct sobj *o = obj_get(SK_LOCK, id);

	if (o->holder < 0) {
		grant_lock(o, from, req);
		return;
	}
	if (try && o->busy) {
		send_msg(from, WIRE_LOCK_GRANT, id, req, EBUSY);
		return;
	}
	enqueue(o, from, req, (int)try, NULL);
	if (!o->recalled || (try && !o->probed)) {
		send_msg(o->holder, WIRE_LOCK_RECALL, id, o->grant, try ? RECALL_PROBE : 0);
		o->recalled = 1;
		o->probed |= (uint8_t)!!try;
	}
}

static struct sobj *holders_lock(int32_t from, uint64_t id, const char *what)
{
	struct sobj *o = obj_find(SK_LOCK, id);

	if (!o || o->holder != from)
		rt_fatal("rank %d %s lock %#" PRIx64 ", which %s (protocol error)", from, what, id,
			 !o || o->holder < 0 ? "nobody holds" : "another rank holds");
	return o;
}

static void home_busy(int32_t from, uint64_t id)
{
	struct sobj *o = holders_lock(from, id, "said it holds");

	if (!o->probed)
		rt_fatal("rank %d said it holds lock %#" PRIx64 " unasked (protocol error)", from, id);
	o->busy = 1;
	fail_trylocks(o);
}

static void home_unlock(int32_t from, uint64_t id)
{
	struct sobj *o = holders_lock(from, id, "released");
	struct waiter *w = dequeue(o);

	if (!w) {
		o->holder = -1;
		o->recalled = o->probed = o->busy = 0;
		obj_drop_if_idle(o);
		return;
	}
	grant_lock(o, w->rank, w->req);
	free(w);
	/* The new holder has it now: trylocks behind it fail, and a lock
	 * request behind it wants it back at its release. */
	fail_trylocks(o);
	if (o->qhead) {
		send_msg(o->holder, WIRE_LOCK_RECALL, id, o->grant, 0);
		o->recalled = o->busy = 1;
	}
}

static void serve_waiter(struct waiter *w, int type, uint64_t id)
{
	if (w->local)
		mbox_complete(w->local, 0);
	else
		send_msg(w->rank, type, id, w->req, 0);
	free(w);
}

/* A wait on a semaphore: 1 when it took the count, 0 when queued. */
static int home_sem_wait(struct sobj *o, int32_t from, uint64_t req, struct mbox_req *local)
{
	if (o->count > 0) {
		o->count--;
		obj_drop_if_idle(o);
		return 1;
	}
	enqueue(o, from, req, 0, local);
	return 0;
}

static void home_sem_post(int32_t from, uint64_t key)
{
	struct sobj *o = obj_get(SK_SEM, key);
	struct waiter *w = dequeue(o);

	if (w) {
		serve_waiter(w, WIRE_SEM_GRANT, key);
		obj_drop_if_idle(o);
		return;
	}
	if (o->count == UINT64_MAX)
		rt_fatal("semaphore %#" PRIx64 ": a post from rank %d overflows its count", key, from);
	o->count++;
}

static void home_cond_signal(uint64_t cond, int all)
{
	struct sobj *o = obj_find(SK_COND, cond);
	struct waiter *w;

	if (!o)
		return;
	while ((w = dequeue(o))) {
		serve_waiter(w, WIRE_COND_WAKE, cond);
		if (!all)
			break;
	}
	obj_drop_if_idle(o);
}

/* ---- the requester's side (service thread) -------------------------------- */

static void send_request(struct mbox_req *req, int type, int home, uint32_t aux)
{
	req->b = ++next_req;
	req->next = waiting;
	waiting = req;
	send_msg(home, type, req->a, req->b, aux);
}

/* A message the home does not answer: once it is sent the request is done. */
static void send_notice(struct mbox_req *req, int type, int home, uint32_t aux)
{
	send_msg(home, type, req->a, 0, aux);
	mbox_complete(req, 0);
}

/* A lock or trylock request: from the cache when it can, else the home. */
static void request_lock(struct mbox_req *req)
{
	int try = req->kind == MBOX_TRYLOCK;
	struct stripe *s = stripe_of(req->a);
	struct lentry *e;

	pthread_mutex_lock(&s->mu);
	e = lentry_find(s, req->a);
	if (e && !e->held) {
		e->held = 1;
		pthread_mutex_unlock(&s->mu);
		mbox_complete(req, 0);
		return;
	}
	if (e && (try || !e->recalled)) {
		if (try) {
			pthread_mutex_unlock(&s->mu);
			mbox_complete(req, -EBUSY);
			return;
		}
		lwait_push(e, req); /* the unlocker hands it over */
		pthread_mutex_unlock(&s->mu);
		return;
	}
	pthread_mutex_unlock(&s->mu);
	send_request(req, WIRE_LOCK_REQ, home_of(SK_LOCK, req->a), (uint32_t)try);
}

static void request_cond_wait(struct mbox_req *req)
{
	struct mbox_req *w = req->p;

	w->b = ++next_req;
	w->p = req;
	w->next = cwaiting;
	cwaiting = w;
	send_msg(home_of(SK_COND, req->a), WIRE_COND_WAIT, req->a, w->b, 0);
}

void sync_request(struct mbox_req *req)
{
	int home;

	switch (req->kind) {
	case MBOX_LOCK:
	case MBOX_TRYLOCK:
		request_lock(req);
		break;
	case MBOX_UNLOCK: /* a recalled lock goes back; the cache forgot it */
		send_notice(req, WIRE_UNLOCK, home_of(SK_LOCK, req->a), 0);
		break;
	case MBOX_SEM_WAIT:
		send_request(req, WIRE_SEM_WAIT, home_of(SK_SEM, req->a), 0);
		break;
	case MBOX_SEM_POST:
		home = home_of(SK_SEM, req->a);
		if (home != rt.rank) {
			send_notice(req, WIRE_SEM_POST, home, 0);
			break;
		}
		pthread_mutex_lock(&home_mu);
		home_sem_post(rt.rank, req->a);
		pthread_mutex_unlock(&home_mu);
		mbox_complete(req, 0);
		break;
	case MBOX_COND_WAIT:
		request_cond_wait(req);
		break;
	case MBOX_COND_SIGNAL:
		home = home_of(SK_COND, req->a);
		if (home != rt.rank) {
			send_notice(req, WIRE_COND_SIGNAL, home, (uint32_t)req->b);
			break;
		}
		pthread_mutex_lock(&home_mu);
		home_cond_signal(req->a, (int)req->b);
		pthread_mutex_unlock(&home_mu);
		mbox_complete(req, 0);
		break;
	case MBOX_ALLOC:
		alloc_request(req);
		break;
	default:
		mbox_complete(req, -ENOSYS);
	}
}

static void got_grant(const struct wire_hdr *h)
{
	int lock = h->type == WIRE_LOCK_GRANT;
	const char *what = lock ? "lock" : "semaphore";
	struct mbox_req **pp = &waiting, *req;

	while (*pp && (*pp)->b != h->id)
		pp = &(*pp)->next;
	req = *pp;
	if (!req || req->a != h->arg || (lock ? req->kind == MBOX_SEM_WAIT : req->kind != MBOX_SEM_WAIT))
		rt_fatal("rank %u granted %s %#" PRIx64 " for request %" PRIu64 ", which this rank did not "
			 "make (protocol error)", h->src, what, h->arg, h->id);
	if ((int)h->src != home_of(lock ? SK_LOCK : SK_SEM, h->arg))
		rt_fatal("rank %u granted %s %#" PRIx64 " but is not its home", h->src, what, h->arg);
	if (h->aux != 0 && !(h->aux == EBUSY && req->kind == MBOX_TRYLOCK))
		rt_fatal("rank %u answered a %s request with status %u (protocol error)", h->src, what, h->aux);
	*pp = req->next;
	if (lock && h->aux == 0) {
		struct stripe *s = stripe_of(h->arg);
		struct lentry *e;

		pthread_mutex_lock(&s->mu);
		if (lentry_find(s, h->arg))
			rt_fatal("rank %u granted lock %#" PRIx64 ", which this rank already holds (protocol "
				 "error)", h->src, h->arg);
		if (htab_reserve(&s->t) || !(e = calloc(1, sizeof(*e))))
			rt_fatal("out of memory for the lock cache");
		e->id = h->arg;
		e->grant = h->id;
		e->held = 1;
		htab_add(&s->t, &e->link, mix64(e->id));
		pthread_mutex_unlock(&s->mu);
	}
	mbox_complete(req, -(int)h->aux);
}

/* The home wants a lock back that this rank holds or caches. */
static void got_recall(const struct wire_hdr *h)
{
	struct stripe *s = stripe_of(h->arg);
	struct lentry *e;

	if ((int)h->src != home_of(SK_LOCK, h->arg))
		rt_fatal("rank %u recalled lock %#" PRIx64 " but is not its home", h->src, h->arg);
	pthread_mutex_lock(&s->mu);
	e = lentry_find(s, h->arg);
	if (!e || e->grant != h->id) {
		/* given back already: the home has our UNLOCK by now */
		pthread_mutex_unlock(&s->mu);
		return;
	}
	if (!e->held) {
		lentry_drop(s, e);
		pthread_mutex_unlock(&s->mu);
		rc_send_flushed(h->src, WIRE_UNLOCK, h->arg); /* the release its unlock deferred */
		return;
	}
	e->recalled = 1;
	pthread_mutex_unlock(&s->mu);
	if (h->aux & RECALL_PROBE)
		send_msg(h->src, WIRE_LOCK_BUSY, h->arg, 0, 0);
}

static void got_cond_reply(const struct wire_hdr *h)
{
	struct mbox_req **pp = &cwaiting, *w;

	while (*pp && (*pp)->b != h->id)
		pp = &(*pp)->next;
	w = *pp;
	if (!w || w->a != h->arg || (int)h->src != home_of(SK_COND, h->arg) ||
	    (h->type == WIRE_COND_QUEUED) != (w->p != NULL))
		rt_fatal("rank %u sent %s for condition %#" PRIx64 ", request %" PRIu64 ", which this rank "
			 "does not expect (protocol error)", h->src, wire_type_name(h->type), h->arg, h->id);
	if (h->type == WIRE_COND_QUEUED) {
		mbox_complete(w->p, 0);
		w->p = NULL;
		return;
	}
	*pp = w->next;
	mbox_complete(w, 0);
}

/* ---- application barriers (service thread) ----------------------------------- */

/* The number of ranks in an application barrier (servers take no part) and
 * its rounds: ceil(log2 n). */
static int bar_ranks(void)
{
	return rt.size - dsm_num_servers();
}

static unsigned bar_rounds(void)
{
	unsigned k = 0;

	while ((1ULL << k) < (uint64_t)bar_ranks())
		k++;
	return k;
}

/* The rank that sends this rank its message of round k (r - 2^k), and the
 * one this rank sends its own to (r + 2^k), modulo the barrier's ranks. */
static int bar_from(unsigned k)
{
	uint64_t n = (uint64_t)bar_ranks();

	return (int)(((uint64_t)rt.rank + n - ((1ULL << k) % n)) % n);
}

static int bar_to(unsigned k)
{
	uint64_t n = (uint64_t)bar_ranks();

	return (int)(((uint64_t)rt.rank + (1ULL << k)) % n);
}

/* The contributions this rank knows before round k: those of the
 * min(2^k, n) ranks that end with it. */
static uint32_t ag_known(unsigned k)
{
	uint64_t n = (uint64_t)bar_ranks();

	return (uint32_t)((1ULL << k) < n ? (1ULL << k) : n);
}

static void bar_send(unsigned k)
{
	if (ag) {
		static uint8_t *out; /* service thread only */
		static size_t out_cap;
		uint32_t n = (uint32_t)bar_ranks(), count = ag_known(k);
		uint32_t first = (uint32_t)(((uint64_t)rt.rank + n - count + 1) % n);
		struct wire_hdr h = { .type = WIRE_BARRIER_DATA, .arg = bar_epoch, .aux = k,
				      .id = (uint64_t)first << 32 | count, .len = count * ag->len };
		if (out_cap < h.len) {
			free(out);
			if (!(out = malloc(h.len)))
				rt_fatal("out of memory for dsm_allgather's data (%u bytes)", h.len);
			out_cap = h.len;
		}
		for (uint32_t i = 0; i < count; i++)
			memcpy(out + (size_t)i * ag->len, ag_all + (size_t)((first + i) % n) * ag->len, ag->len);
		tp_send(bar_to(k), &h, out);
	}
	send_msg(bar_to(k), WIRE_BARRIER_ROUND, bar_epoch, 0, k);
}

/* Round k of this epoch was taken: take in its data, which must match
 * what this rank called. */
static void ag_take(unsigned k)
{
	struct ag_early *d = &ag_early[bar_epoch & 1][k];
	uint32_t n = (uint32_t)bar_ranks(), want = ag_known(k);
	int from = bar_from(k);

	if (!ag) {
		if (d->data)
			rt_fatal("rank %d called dsm_allgather (or dsm_allreduce) where this rank called "
				 "dsm_barrier (barrier %" PRIu64 ")", from, bar_epoch);
		return;
	}
	if (!d->data)
		rt_fatal("rank %d called dsm_barrier where this rank called dsm_allgather (or "
			 "dsm_allreduce) (barrier %" PRIu64 ")", from, bar_epoch);
	if (d->len != want * ag->len || d->count != want ||
	    d->first != (uint32_t)(((uint64_t)from + n - want + 1) % n))
		rt_fatal("rank %d passed dsm_allgather %u bytes from each of %u ranks, this rank %u bytes "
			 "(barrier %" PRIu64 "): every rank must pass the same length", from,
			 d->count ? d->len / d->count : 0, d->count, ag->len, bar_epoch);
	for (uint32_t i = 0; i < d->count; i++)
		memcpy(ag_all + (size_t)((d->first + i) % n) * ag->len, d->data + (size_t)i * ag->len, ag->len);
	free(d->data);
	d->data = NULL;
}

static void got_data(const struct wire_hdr *h, const uint8_t *payload)
{
	uint32_t n = (uint32_t)bar_ranks(), count = (uint32_t)h->id, first = (uint32_t)(h->id >> 32);
	unsigned k = h->aux;
	struct ag_early *d;

	if (rt.rank >= (int)n || h->src >= n || k >= bar_rounds() || (int)h->src != bar_from(k) || count == 0 ||
	    count > n || first >= n || h->len % count)
		rt_fatal("rank %u sent BARRIER_DATA of round %u for ranks %u..+%u with %u bytes (protocol "
			 "error)", h->src, k, first, count, h->len);
	d = &ag_early[h->arg & 1][k];
	if (d->data)
		rt_fatal("rank %u sent the data of round %u of barrier %" PRIu64 " twice (protocol error)",
			 h->src, k, h->arg);
	if (!(d->data = malloc(h->len)))
		rt_fatal("out of memory for dsm_allgather's data (%u bytes)", h->len);
	memcpy(d->data, payload, h->len);
	d->len = h->len;
	d->first = first;
	d->count = count;
}

/* This rank leaves a barrier (this file's or dsm_init's): release
 * consistency's logs and regain's phases move on. */
void sync_barrier_left(void)
{
	rc_barrier_left();
	coh_barrier_left();
}

/* Take the rounds whose messages are in, sending each next round's message
 * as the one before arrives; leave once the last round's is in. */
static void bar_advance(void)
{
	unsigned rounds = bar_rounds();
	uint64_t *got = &bar_got[bar_epoch & 1];
	struct mbox_req *req;

	while (bar_round < rounds && (*got >> bar_round & 1)) {
		*got &= ~(1ULL << bar_round);
		ag_take(bar_round);
		if (++bar_round < rounds)
			bar_send(bar_round);
	}
	if (bar_round < rounds)
		return;
	/* Every rank entered this epoch: each rank's entry reached this one
	 * through a chain of rounds, and so did what each knew then. */
	sync_barrier_left();
	if (ag) {
		memcpy(ag->all, ag_all, (size_t)bar_ranks() * ag->len);
		free(ag_all);
		ag_all = NULL;
		ag = NULL;
	}
	req = bar_req;
	bar_req = NULL;
	mbox_complete(req, 0);
}

static void bar_enter(struct mbox_req *req)
{
	bar_flushing = NULL;
	bar_req = req;
	bar_epoch++;
	bar_round = 0;
	rc_barrier_entered();
	ag = req->p;
	if (ag) {
		/* The epoch has begun: every other rank now waits for this one. */
		if (!(ag_all = malloc((size_t)bar_ranks() * ag->len)))
			rt_fatal("out of memory for dsm_allgather (%zu bytes)", (size_t)bar_ranks() * ag->len);
		memcpy(ag_all + (size_t)rt.rank * ag->len, ag->mine, ag->len);
	}
	if (bar_rounds() > 0)
		bar_send(0);
	bar_advance();
}

/* An application barrier: its release first (this rank's release-consistent
 * writes go to their homes, here in the service thread rather than in a
 * request of its own), then the rounds. */
void sync_barrier(struct mbox_req *req)
{
	if (bar_req || bar_flushing) {
		log_err("dsm_barrier called by two threads of this rank at once (one at a time may)");
		mbox_complete(req, -EBUSY);
		return;
	}
	bar_flushing = req;
	if (!rc_release_then(req, bar_enter))
		bar_enter(req);
}

static void got_round(const struct wire_hdr *h)
{
	int src = (int)h->src, n = bar_ranks();
	unsigned k = h->aux, rounds = bar_rounds();
	uint64_t e = h->arg;

	if (rt.rank >= n || src >= n)
		rt_fatal("rank %d sent BARRIER_ROUND to rank %d, but %s a server, in no application barrier",
			 src, rt.rank, rt.rank >= n ? "this rank is" : "the sender is");
	if (k >= rounds)
		rt_fatal("rank %d sent round %u of barrier %" PRIu64 ", but a barrier of %d ranks has %u "
			 "(protocol error)", src, k, e, n, rounds);
	if (src != bar_from(k))
		rt_fatal("rank %d sent round %u of barrier %" PRIu64 " to rank %d, which expects it from rank "
			 "%d (protocol error)", src, k, e, rt.rank, bar_from(k));
	/* A rank leaves epoch e only once every rank entered it: a message is
	 * for the epoch this rank is in (a round not taken yet) or the next. */
	if (!(e == bar_epoch + 1 || (e == bar_epoch && bar_req && k >= bar_round))) {
		if (bar_req)
			rt_fatal("rank %d sent round %u of barrier %" PRIu64 ", but this rank waits in round %u "
				 "of barrier %" PRIu64 " (protocol error)", src, k, e, bar_round, bar_epoch);
		rt_fatal("rank %d sent round %u of barrier %" PRIu64 ", but this rank has left barrier %" PRIu64
			 " and not entered the next (protocol error)", src, k, e, bar_epoch);
	}
	if (bar_got[e & 1] >> k & 1)
		rt_fatal("rank %d sent round %u of barrier %" PRIu64 " twice (protocol error)", src, k, e);
	bar_got[e & 1] |= 1ULL << k;
	if (e == bar_epoch && bar_req)
		bar_advance();
}

static int msg_kind(int type)
{
	switch (type) {
	case WIRE_SEM_WAIT:
	case WIRE_SEM_POST:
		return SK_SEM;
	case WIRE_COND_WAIT:
	case WIRE_COND_SIGNAL:
		return SK_COND;
	case WIRE_LOCK_REQ:
	case WIRE_UNLOCK:
	case WIRE_LOCK_BUSY:
		return SK_LOCK;
	}
	return 0;
}

/* A message to the home of an object: home_mu is held. */
static void home_handle(const struct wire_hdr *h, int32_t src)
{
	struct sobj *o;

	switch (h->type) {
	case WIRE_LOCK_REQ:
		if (h->aux > 1)
			rt_fatal("rank %d sent LOCK_REQ with flags %u", src, h->aux);
		home_lock(src, h->arg, h->id, h->aux);
		break;
	case WIRE_UNLOCK:
		home_unlock(src, h->arg);
		break;
	case WIRE_LOCK_BUSY:
		home_busy(src, h->arg);
		break;
	case WIRE_SEM_WAIT:
		if (home_sem_wait(obj_get(SK_SEM, h->arg), src, h->id, NULL))
			send_msg(src, WIRE_SEM_GRANT, h->arg, h->id, 0);
		break;
	case WIRE_SEM_POST:
		home_sem_post(src, h->arg);
		break;
	case WIRE_COND_WAIT:
		o = obj_get(SK_COND, h->arg);
		enqueue(o, src, h->id, 0, NULL);
		send_msg(src, WIRE_COND_QUEUED, h->arg, h->id, 0);
		break;
	case WIRE_COND_SIGNAL:
		if (h->aux > 1)
			rt_fatal("rank %d sent COND_SIGNAL with flags %u", src, h->aux);
		home_cond_signal(h->arg, (int)h->aux);
		break;
	}
}

void sync_handle(const struct wire_hdr *h, const uint8_t *payload)
{
	int32_t src = (int32_t)h->src;
	int kind = msg_kind(h->type);

	rc_notices_in(h, payload);
	if (kind) {
		if (home_of(kind, h->arg) != rt.rank)
			rt_fatal("rank %d sent %s for %s %#" PRIx64 ", whose home is rank %d, not this one", src,
				 wire_type_name(h->type),
				 kind == SK_SEM ? "semaphore" : kind == SK_COND ? "condition" : "lock", h->arg,
				 home_of(kind, h->arg));
		pthread_mutex_lock(&home_mu);
		home_handle(h, src);
		pthread_mutex_unlock(&home_mu);
		return;
	}
	switch (h->type) {
	case WIRE_LOCK_GRANT:
	case WIRE_SEM_GRANT:
		got_grant(h);
		break;
	case WIRE_LOCK_RECALL:
		got_recall(h);
		break;
	case WIRE_COND_QUEUED:
	case WIRE_COND_WAKE:
		got_cond_reply(h);
		break;
	case WIRE_ALLOC_REQ:
	case WIRE_ALLOC_REPLY:
		alloc_handle(h, payload);
		break;
	case WIRE_BARRIER_ROUND:
		got_round(h);
		break;
	case WIRE_BARRIER_DATA:
		got_data(h, payload);
		break;
	default:
		rt_fatal("rank %d sent an unexpected %s message", src, wire_type_name(h->type));
	}
}

/* ---- public API -------------------------------------------------------- */

/* A lock homed at this rank that nobody holds: take it at the home and
 * cache it in the calling thread, as a LOCK_REQ from this rank and its
 * LOCK_GRANT would.  Only a free lock is taken here, so no message of an
 * earlier holding by this rank is still on its way (while one is, the home
 * names this rank the holder).  s->mu is held and the lock is not cached.
 * 1 when taken. */
static int take_at_home(struct stripe *s, uint64_t id)
{
	struct lentry *e;
	struct sobj *o;

	if (home_of(SK_LOCK, id) != rt.rank)
		return 0;
	pthread_mutex_lock(&home_mu);
	o = obj_find(SK_LOCK, id);
	if (o && o->holder >= 0) {
		pthread_mutex_unlock(&home_mu);
		return 0;
	}
	if (htab_reserve(&s->t) || !(e = calloc(1, sizeof(*e))))
		rt_fatal("out of memory for the lock cache");
	o = obj_get(SK_LOCK, id);
	o->holder = rt.rank;
	o->grant = LOCAL_GRANT | ++local_grants;
	o->recalled = o->probed = o->busy = 0;
	e->id = id;
	e->grant = o->grant;
	e->held = 1;
	pthread_mutex_unlock(&home_mu);
	htab_add(&s->t, &e->link, mix64(id));
	stat_add(ST_LOCKS, 1);
	return 1;
}

static int sync_call(int kind, uint64_t id, uint64_t b, void *p)
{
	struct mbox_req req = { .kind = kind, .a = id, .b = b, .p = p };
	int64_t t0 = obs_clock();
	int rc;

	rc = tp_call(&req);
	stats_waited(kind, id, t0);
	return rc;
}

/* Wait in place for whoever serves `req` (queued by the caller). */
static void wait_here(struct mbox_req *req, int kind, uint64_t id)
{
	int64_t t0 = obs_clock();

	tp_wait(req);
	stats_waited(kind, id, t0);
}

static int lock_impl(uint64_t id)
{
	struct stripe *s = stripe_of(id);
	struct lentry *e;

	if (!rt_live("dsm_lock"))
		return -EINVAL;
	pthread_mutex_lock(&s->mu);
	e = lentry_find(s, id);
	if (e && !e->recalled) {
		struct mbox_req w = { .kind = MBOX_LOCK, .a = id };

		if (!e->held) {
			e->held = 1;
			pthread_mutex_unlock(&s->mu);
			stat_add(ST_LOCKS, 1);
			return 0;
		}
		lwait_push(e, &w);
		pthread_mutex_unlock(&s->mu);
		wait_here(&w, MBOX_LOCK, id);
		return 0;
	}
	if (!e && take_at_home(s, id)) {
		pthread_mutex_unlock(&s->mu);
		return 0;
	}
	pthread_mutex_unlock(&s->mu);
	return sync_call(MBOX_LOCK, id, 0, NULL);
}

static int trylock_impl(uint64_t id)
{
	struct stripe *s = stripe_of(id);
	struct lentry *e;
	int rc = -EBUSY;

	if (!rt_live("dsm_trylock"))
		return -EINVAL;
	pthread_mutex_lock(&s->mu);
	e = lentry_find(s, id);
	if (!e && take_at_home(s, id)) {
		pthread_mutex_unlock(&s->mu);
		return 0;
	}
	if (!e) {
		pthread_mutex_unlock(&s->mu);
		return sync_call(MBOX_TRYLOCK, id, 0, NULL);
	}
	if (!e->held) { /* a cached lock is never recalled while free */
		e->held = 1;
		rc = 0;
	}
	pthread_mutex_unlock(&s->mu);
	stat_add(ST_LOCKS, 1);
	return rc;
}

static int unlock_impl(uint64_t id)
{
	struct stripe *s = stripe_of(id);
	struct mbox_req *next;
	struct lentry *e;

	if (!rt_live("dsm_unlock"))
		return -EINVAL;
	pthread_mutex_lock(&s->mu);
	e = lentry_find(s, id);
	if (!e || !e->held) {
		pthread_mutex_unlock(&s->mu);
		return -EPERM;
	}
	if ((next = lwait_pop(e))) { /* still held: by the next thread here */
		pthread_mutex_unlock(&s->mu);
		mbox_complete(next, 0);
		return 0;
	}
	if (!e->recalled) {
		e->held = 0;
		pthread_mutex_unlock(&s->mu);
		return 0;
	}
	lentry_drop(s, e);
	pthread_mutex_unlock(&s->mu);
	rc_release(); /* the lock leaves this rank: publish first */
	return sync_call(MBOX_UNLOCK, id, 0, NULL);
}

static int sem_wait_impl(uint64_t key)
{
	struct mbox_req w = { .kind = MBOX_SEM_WAIT, .a = key };
	int took;

	if (!rt_live("dsm_sem_wait"))
		return -EINVAL;
	if (home_of(SK_SEM, key) != rt.rank)
		return sync_call(MBOX_SEM_WAIT, key, 0, NULL);
	pthread_mutex_lock(&home_mu);
	took = home_sem_wait(obj_get(SK_SEM, key), rt.rank, 0, &w);
	pthread_mutex_unlock(&home_mu);
	if (took)
		stat_add(ST_SEM_WAITS, 1);
	else
		wait_here(&w, MBOX_SEM_WAIT, key);
	return 0;
}

static int sem_post_impl(uint64_t key)
{
	struct waiter *w = NULL;
	struct sobj *o;

	if (!rt_live("dsm_sem_post"))
		return -EINVAL;
	if (home_of(SK_SEM, key) != rt.rank)
		return sync_call(MBOX_SEM_POST, key, 0, NULL);
	/* Here unless the oldest waiter is on another rank: that needs a
	 * message, which only the service thread sends. */
	pthread_mutex_lock(&home_mu);
	o = obj_get(SK_SEM, key);
	if (o->qhead && !o->qhead->local) {
		pthread_mutex_unlock(&home_mu);
		return sync_call(MBOX_SEM_POST, key, 0, NULL);
	}
	if (o->qhead)
		w = dequeue(o);
	else if (o->count == UINT64_MAX)
		rt_fatal("semaphore %#" PRIx64 ": a post from rank %d overflows its count", key, rt.rank);
	else
		o->count++;
	obj_drop_if_idle(o);
	pthread_mutex_unlock(&home_mu);
	if (w)
		serve_waiter(w, WIRE_SEM_GRANT, key);
	return 0;
}

/* Release consistency: a release publishes this rank's writes before the
 * lock or semaphore can pass on (rc.c); an acquire drops the copies that
 * the notices it brought make stale. */
int dsm_lock(uint64_t id)
{
	int rc = lock_impl(id);

	return rc ? rc : rc_acquire();
}

int dsm_trylock(uint64_t id)
{
	int rc = trylock_impl(id);

	return rc ? rc : rc_acquire();
}

/* A lock that stays cached here needs no release yet: only this rank can
 * take it next.  The release happens when it leaves (unlock_impl(), or
 * got_recall() through rc_send_flushed()). */
int dsm_unlock(uint64_t id)
{
	return unlock_impl(id);
}

int dsm_sem_wait(uint64_t key)
{
	int rc = sem_wait_impl(key);

	return rc ? rc : rc_acquire();
}

int dsm_sem_post(uint64_t key)
{
	int rc = rc_release(); /* nothing to do before dsm_init */

	return rc ? rc : sem_post_impl(key);
}

int dsm_cond_wait(uint64_t cond, uint64_t lock)
{
	struct mbox_req w = { .kind = MBOX_COND_WAIT, .a = cond };
	struct stripe *s = stripe_of(lock);
	struct lentry *e;
	int rc;

	if (!rt_live("dsm_cond_wait"))
		return -EINVAL;
	pthread_mutex_lock(&s->mu);
	e = lentry_find(s, lock);
	rc = e && e->held ? 0 : -EPERM;
	pthread_mutex_unlock(&s->mu);
	if (rc)
		return rc;
	/* Queued at the home before the lock is released: a signal that
	 * follows the release finds this waiter. */
	if (home_of(SK_COND, cond) == rt.rank) {
		pthread_mutex_lock(&home_mu);
		enqueue(obj_get(SK_COND, cond), rt.rank, 0, 0, &w);
		pthread_mutex_unlock(&home_mu);
	} else if ((rc = sync_call(MBOX_COND_WAIT, cond, 0, &w))) {
		return rc;
	}
	rc = dsm_unlock(lock);
	tp_wait(&w);
	if (rc == 0)
		rc = dsm_lock(lock);
	return rc;
}

static int cond_wake(uint64_t cond, int all)
{
	struct waiter *woken = NULL, **tail = &woken, *w;
	int remote = 0;
	struct sobj *o;

	if (!rt_live(all ? "dsm_cond_broadcast" : "dsm_cond_signal"))
		return -EINVAL;
	if (home_of(SK_COND, cond) != rt.rank)
		return sync_call(MBOX_COND_SIGNAL, cond, (uint64_t)all, NULL);
	/* Threads of this rank are woken here; a waiter on another rank needs
	 * a message, which only the service thread sends. */
	pthread_mutex_lock(&home_mu);
	o = obj_find(SK_COND, cond);
	if (o) {
		struct waiter **pp = &o->qhead;
		while ((w = *pp) && !(remote && !all)) {
			if (!w->local) {
				remote = 1;
				pp = &w->next;
				continue;
			}
			*pp = w->next;
			w->next = NULL;
			*tail = w;
			tail = &w->next;
			if (!all)
				break;
		}
		o->qtail = NULL;
		for (w = o->qhead; w; w = w->next)
			o->qtail = w;
		obj_drop_if_idle(o);
	}
	pthread_mutex_unlock(&home_mu);
	while ((w = woken)) {
		woken = w->next;
		serve_waiter(w, WIRE_COND_WAKE, cond);
	}
	if (remote)
		return sync_call(MBOX_COND_SIGNAL, cond, (uint64_t)all, NULL);
	return 0;
}

int dsm_cond_signal(uint64_t cond) { return cond_wake(cond, 0); }
int dsm_cond_broadcast(uint64_t cond) { return cond_wake(cond, 1); }
