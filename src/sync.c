/*
 * sync.c - locks and counting semaphores named by any 64-bit id.
 *
 * Design.  Each lock and each semaphore has a home rank, a hash of its id
 * over all ranks (serve-only ranks included; lock 5 and semaphore 5 are
 * different objects with independent homes).  The home keeps its state in a
 * table entry made on first use and dropped when idle again: a lock's holder
 * and a semaphore's count, each with a FIFO queue of waiting requests.
 * Messages (id = the requester's request id, arg = the lock id or key):
 *   lock:    r -> home LOCK_REQ.  Free: home records r as the holder and
 *            answers LOCK_GRANT.  Held: the request joins the queue; a trylock
 *            (aux 1) is answered LOCK_GRANT with aux EBUSY instead.
 *   unlock:  r -> home UNLOCK, no answer.  Home passes the lock to the oldest
 *            queued request (LOCK_GRANT to it) or marks it free.
 *   wait:    r -> home SEM_WAIT.  Count > 0: decrement, answer SEM_GRANT.
 *            Otherwise the request joins the queue.
 *   post:    r -> home SEM_POST, no answer.  Home answers the oldest queued
 *            waiter with SEM_GRANT, or increments the count.
 * A lock is held by a rank.  Every rank remembers the locks it holds (from
 * the grant until its unlock), so unlocking a lock it does not hold fails
 * here with -EPERM, and an UNLOCK from a rank that is not the holder can only
 * be a protocol violation.  Unlock and post need no answer: TCP keeps a
 * rank's messages to the home in order, so its next request for the same
 * object arrives after them.  Requests from several threads of one rank are
 * independent requests with their own ids and queue places.
 *
 * Memory ordering.  Acquire and release are ordering points, and under the
 * coherence engine's sequential consistency they cost nothing extra: a store
 * is globally performed when it completes (the writer holds the page
 * exclusively, every other copy was invalidated before the write was allowed,
 * and any later reader fetches the page from the writer), and the mailbox's
 * atomics keep the compiler and CPU from moving accesses across the call.  A
 * release consistency mode would have to make dsm_unlock/dsm_sem_post publish
 * this rank's changes, and acquire discard stale copies, at these points.
 *
 * No deadline on these waits: a lock may rightly be held for hours.  A rank
 * that dies ends the job through the transport (its connection is lost), so
 * no wait outlives it.
 *
 * The shared heap's messages come through here too and go to alloc.c.
 *
 * Locking: none.  All state belongs to the service thread; the public
 * functions only submit mailbox requests.
 */
#include "sync.h"

#include <dsm.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "alloc.h"
#include "htab.h"
#include "log.h"
#include "mailbox.h"
#include "runtime.h"
#include "stats.h"
#include "transport.h"
#include "wire.h"

enum { SK_LOCK = 1, SK_SEM = 2, SK_HELD = 3 }; /* SK_HELD: a lock this rank holds */

/* A request queued at home. */
struct waiter {
	struct waiter *next;
	int32_t rank;
	uint64_t req;
};

/* A lock or semaphore at its home, or a lock this rank holds. */
struct sobj {
	struct hlink link;    /* in objs, by (kind, id) */
	uint64_t id;
	uint8_t kind;
	int32_t holder;       /* SK_LOCK: the holding rank, -1 when free */
	uint64_t count;       /* SK_SEM */
	struct waiter *qhead, *qtail;
};

static struct htab objs;

/* This rank's requests that wait for a grant, linked through `next`;
 * req->b holds the request id once sent. */
static struct mbox_req *waiting;
static uint64_t next_req;

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
	uint64_t salt = kind == SK_SEM ? 0x5e4a9b0d3c2f1e87ULL : 0;

	return (int)(mix64(id ^ salt) % (uint64_t)rt.size);
}

int sync_lock_home(uint64_t id) { return home_of(SK_LOCK, id); }
int sync_sem_home(uint64_t key) { return home_of(SK_SEM, key); }

/* ---- the object table ------------------------------------------------ */

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

/* Drop an entry that holds no state: a free lock or a zero semaphore, with
 * nobody waiting.  Memory stays proportional to what is in use. */
static void obj_drop_if_idle(struct sobj *o)
{
	if (!o->qhead && o->holder < 0 && o->count == 0)
		obj_drop(o);
}

static void enqueue(struct sobj *o, int32_t rank, uint64_t req)
{
	struct waiter *w = malloc(sizeof(*w));

	if (!w)
		rt_fatal("out of memory for a lock queue");
	*w = (struct waiter){ .rank = rank, .req = req };
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

/* ---- set-up ---------------------------------------------------------- */

int sync_init(void)
{
	htab_init(&objs, 64, obj_hash);
	waiting = NULL;
	next_req = 0;
	return alloc_init();
}

void sync_fini(void)
{
	htab_clear(&objs, obj_drop_link);
	waiting = NULL;
	alloc_fini();
}

/* ---- the home's side ------------------------------------------------- */

static void send_grant(int to, int type, uint64_t id, uint64_t req, uint32_t status)
{
	struct wire_hdr h = { .type = (uint8_t)type, .arg = id, .id = req, .aux = status };

	tp_send(to, &h, NULL);
}

static void home_lock(int32_t from, uint64_t id, uint64_t req, uint32_t try)
{
	struct sobj *o = obj_get(SK_LOCK, id);

	if (o->holder < 0) {
		o->holder = from;
		send_grant(from, WIRE_LOCK_GRANT, id, req, 0);
	} else if (try) {
		send_grant(from, WIRE_LOCK_GRANT, id, req, EBUSY);
	} else {
		enqueue(o, from, req);
	}
}

static void home_unlock(int32_t from, uint64_t id)
{
	struct sobj *o = obj_find(SK_LOCK, id);
	struct waiter *w;

	if (!o || o->holder != from)
		rt_fatal("rank %d released lock %#" PRIx64 ", which %s (protocol error)", from, id,
			 !o || o->holder < 0 ? "nobody holds" : "another rank holds");
	w = dequeue(o);
	if (!w) {
		o->holder = -1;
		obj_drop_if_idle(o);
		return;
	}
	o->holder = w->rank;
	send_grant(w->rank, WIRE_LOCK_GRANT, id, w->req, 0);
	free(w);
}

static void home_sem_wait(int32_t from, uint64_t key, uint64_t req)
{
	struct sobj *o = obj_get(SK_SEM, key);

	if (o->count > 0) {
		o->count--;
		send_grant(from, WIRE_SEM_GRANT, key, req, 0);
		obj_drop_if_idle(o);
	} else {
		enqueue(o, from, req);
	}
}

static void home_sem_post(int32_t from, uint64_t key)
{
	struct sobj *o = obj_get(SK_SEM, key);
	struct waiter *w = dequeue(o);

	if (w) {
		send_grant(w->rank, WIRE_SEM_GRANT, key, w->req, 0);
		free(w);
		obj_drop_if_idle(o);
		return;
	}
	if (o->count == UINT64_MAX)
		rt_fatal("semaphore %#" PRIx64 ": a post from rank %d overflows its count", key, from);
	o->count++;
}

/* ---- the requester's side -------------------------------------------- */

static void send_request(struct mbox_req *req, int type, int home, uint32_t aux)
{
	struct wire_hdr h = { .type = (uint8_t)type, .arg = req->a, .aux = aux };

	h.id = ++next_req;
	req->b = h.id;
	req->next = waiting;
	waiting = req;
	tp_send(home, &h, NULL);
}

/* A message the home does not answer: once it is sent the request is done. */
static void send_notice(struct mbox_req *req, int type, int home)
{
	struct wire_hdr h = { .type = (uint8_t)type, .arg = req->a };

	tp_send(home, &h, NULL);
	mbox_complete(req, 0);
}

void sync_request(struct mbox_req *req)
{
	struct sobj *held;

	switch (req->kind) {
	case MBOX_LOCK:
		send_request(req, WIRE_LOCK_REQ, home_of(SK_LOCK, req->a), 0);
		break;
	case MBOX_TRYLOCK:
		if (obj_find(SK_HELD, req->a))
			mbox_complete(req, -EBUSY); /* held by this rank */
		else
			send_request(req, WIRE_LOCK_REQ, home_of(SK_LOCK, req->a), 1);
		break;
	case MBOX_UNLOCK:
		held = obj_find(SK_HELD, req->a);
		if (!held) {
			mbox_complete(req, -EPERM);
			break;
		}
		obj_drop(held);
		send_notice(req, WIRE_UNLOCK, home_of(SK_LOCK, req->a));
		break;
	case MBOX_SEM_WAIT:
		send_request(req, WIRE_SEM_WAIT, home_of(SK_SEM, req->a), 0);
		break;
	case MBOX_SEM_POST:
		send_notice(req, WIRE_SEM_POST, home_of(SK_SEM, req->a));
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
		struct sobj *held = obj_get(SK_HELD, h->arg);
		if (held->count)
			rt_fatal("rank %u granted lock %#" PRIx64 ", which this rank already holds (protocol "
				 "error)", h->src, h->arg);
		held->count = 1;
	}
	mbox_complete(req, -(int)h->aux);
}

void sync_handle(const struct wire_hdr *h, const uint8_t *payload)
{
	int32_t src = (int32_t)h->src;
	int kind = h->type == WIRE_SEM_WAIT || h->type == WIRE_SEM_POST ? SK_SEM : SK_LOCK;

	switch (h->type) {
	case WIRE_LOCK_REQ:
	case WIRE_UNLOCK:
	case WIRE_SEM_WAIT:
	case WIRE_SEM_POST:
		if (home_of(kind, h->arg) != rt.rank)
			rt_fatal("rank %d sent %s for %s %#" PRIx64 ", whose home is rank %d, not this one", src,
				 wire_type_name(h->type), kind == SK_SEM ? "semaphore" : "lock", h->arg,
				 home_of(kind, h->arg));
		break;
	}
	switch (h->type) {
	case WIRE_LOCK_REQ:
		if (h->aux > 1)
			rt_fatal("rank %d sent LOCK_REQ with flags %u", src, h->aux);
		home_lock(src, h->arg, h->id, h->aux);
		break;
	case WIRE_UNLOCK:
		home_unlock(src, h->arg);
		break;
	case WIRE_SEM_WAIT:
		home_sem_wait(src, h->arg, h->id);
		break;
	case WIRE_SEM_POST:
		home_sem_post(src, h->arg);
		break;
	case WIRE_LOCK_GRANT:
	case WIRE_SEM_GRANT:
		got_grant(h);
		break;
	case WIRE_ALLOC_REQ:
	case WIRE_ALLOC_REPLY:
		alloc_handle(h, payload);
		break;
	default:
		rt_fatal("rank %d sent an unexpected %s message", src, wire_type_name(h->type));
	}
}

/* ---- public API -------------------------------------------------------- */

static int sync_call(int kind, uint64_t id)
{
	struct mbox_req req = { .kind = kind, .a = id };
	int64_t t0;
	int rc;

	if (!rt_live(rt_call_name(kind)))
		return -EINVAL;
	t0 = obs_clock();
	rc = mbox_call(&req);
	stats_waited(kind, id, t0);
	return rc;
}

int dsm_lock(uint64_t id) { return sync_call(MBOX_LOCK, id); }
int dsm_trylock(uint64_t id) { return sync_call(MBOX_TRYLOCK, id); }
int dsm_unlock(uint64_t id) { return sync_call(MBOX_UNLOCK, id); }
int dsm_sem_wait(uint64_t key) { return sync_call(MBOX_SEM_WAIT, key); }
int dsm_sem_post(uint64_t key) { return sync_call(MBOX_SEM_POST, key); }
