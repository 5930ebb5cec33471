/*
 * rpc.c - remote procedure calls: a function registered under an id runs on
 * a worker thread of the rank it is called on.
 *
 * Design.  A call is one message each way:
 *   caller -> target  RPC_CALL   id = call id, arg = function id,
 *                                aux = the caller's reply capacity,
 *                                payload = the argument
 *   target -> caller  RPC_REPLY  id = call id, aux = the handler's result,
 *                                payload = the reply
 * The caller's service thread keeps its calls in flight in a list; call ids
 * are unique per rank, so any number of threads may call at once and every
 * reply finds its call.  A reply that matches no call, comes from another
 * rank than the call went to, or is longer than the call allowed ends the
 * job, naming the sender.
 *
 * The target's service thread never runs a handler: a handler may touch the
 * shared region, and only the service thread can bring its pages in.  It
 * queues the call for a pool of worker threads and starts another worker
 * whenever more calls are queued than workers are idle, so a handler that
 * blocks (on a page, a lock, a nested call, even a call back to its caller)
 * never holds up another call.  The pool only grows (to the peak number of
 * calls in progress, at most MAX_WORKERS; beyond that calls queue).  The
 * worker looks the function up (-ENOENT when nothing is registered), runs it
 * and hands the answer back to the service thread as a MBOX_RPC_REPLY
 * request, which sends it.  A call to this rank takes the same path through
 * the transport's local queue.
 *
 * Nor does the service thread ever read or write the region: an argument that
 * lies in it is copied by the calling thread first, and a reply buffer in it
 * is filled by the calling thread from a private copy.
 *
 * No deadline: a handler may rightly run for a long time.  A target that
 * dies ends the job through the transport.
 *
 * Locking: `reg_lock` guards the registry (registering threads, workers).
 * `pool_lock` guards the job queue, the worker counts and `stop` (service
 * thread, workers, rpc_fini).  The calls in flight belong to the service
 * thread.  Lock order: neither is held while taking the other.
 */
#include "rpc.h"

#include <dsm.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "mailbox.h"
#include "rc.h"
#include "runtime.h"
#include "stats.h"
#include "transport.h"
#include "wire.h"

#define REG_BUCKETS 256
#define MAX_WORKERS 1024

_Static_assert(DSM_RPC_MAX == WIRE_MAX_PAYLOAD, "an RPC payload is one message's payload");

/* ---- the registry ------------------------------------------------------ */

struct reg {
	struct reg *next;
	uint32_t id;
	dsm_rpc_fn fn;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reg *registry[REG_BUCKETS];

int dsm_rpc_register(uint32_t id, dsm_rpc_fn fn)
{
	struct reg **pp, *r;

	pthread_mutex_lock(&reg_lock);
	for (pp = &registry[id % REG_BUCKETS]; *pp && (*pp)->id != id; pp = &(*pp)->next)
		;
	if (*pp && fn) {
		(*pp)->fn = fn;
	} else if (*pp) {
		r = *pp;
		*pp = r->next;
		free(r);
	} else if (fn) {
		r = malloc(sizeof(*r));
		if (!r) {
			pthread_mutex_unlock(&reg_lock);
			return -ENOMEM;
		}
		*r = (struct reg){ .next = NULL, .id = id, .fn = fn };
		*pp = r;
	}
	pthread_mutex_unlock(&reg_lock);
	return 0;
}

static dsm_rpc_fn lookup(uint32_t id)
{
	dsm_rpc_fn fn = NULL;

	pthread_mutex_lock(&reg_lock);
	for (struct reg *r = registry[id % REG_BUCKETS]; r; r = r->next)
		if (r->id == id) {
			fn = r->fn;
			break;
		}
	pthread_mutex_unlock(&reg_lock);
	return fn;
}

/* ---- the target's side: workers ---------------------------------------- */

struct rpc_job {
	struct rpc_job *next;
	int32_t caller;
	uint32_t fn_id, cap;
	uint64_t call_id;
	int32_t result;
	size_t reply_len;
	uint8_t *reply;
	size_t arg_len;
	uint8_t arg[];
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;
static struct rpc_job *jq_head, **jq_tail = &jq_head;
static int n_queued, n_idle, n_workers, stop;
static pthread_t workers[MAX_WORKERS];

static void run_job(struct rpc_job *job)
{
	dsm_rpc_fn fn = lookup(job->fn_id);
	struct mbox_req req = { .kind = MBOX_RPC_REPLY, .p = job };
	size_t len = job->cap;

	job->reply_len = 0;
	if (!fn) {
		job->result = -ENOENT;
	} else {
		if (job->cap && !(job->reply = malloc(job->cap))) {
			job->result = -ENOMEM;
		} else {
			int64_t t0 = obs_clock();

			rc_acquire(); /* the call's arrival: an acquire */
			job->result = fn(job->arg, job->arg_len, job->reply, &len);
			stats_rpc_served(job->caller, job->fn_id, job->call_id, t0);
			if (len > job->cap) {
				log_err("RPC %u from rank %d: the handler's reply (%zu bytes) exceeds the caller's "
					"buffer (%u bytes)", job->fn_id, job->caller, len, job->cap);
				job->result = -EMSGSIZE;
			} else {
				job->reply_len = len;
			}
		}
	}
	rc_release(); /* the reply: a release */
	tp_call(&req);
	free(job->reply);
	free(job);
}

static void *worker_main(void *unused)
{
	static const int sync_sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS };
	sigset_t set;

	(void)unused;
	/* Created by the service thread, which blocks every signal; a handler's
	 * own faults (the SIGSEGV backend's page faults among them) must get
	 * through. */
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(sync_sigs) / sizeof(sync_sigs[0]); i++)
		sigaddset(&set, sync_sigs[i]);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	tp_normal_priority(); /* handlers are application code */
	pthread_mutex_lock(&pool_lock);
	for (;;) {
		struct rpc_job *job;

		while (!jq_head && !stop) {
			n_idle++;
			pthread_cond_wait(&pool_cond, &pool_lock);
			n_idle--;
		}
		if (stop)
			break; /* rpc_fini: whatever is still queued is dropped */
		job = jq_head;
		jq_head = job->next;
		if (!jq_head)
			jq_tail = &jq_head;
		n_queued--;
		pthread_mutex_unlock(&pool_lock);
		run_job(job);
		pthread_mutex_lock(&pool_lock);
	}
	pthread_mutex_unlock(&pool_lock);
	return NULL;
}

/* Service thread: hand a call to the pool. */
static void submit(struct rpc_job *job)
{
	int spawn;

	pthread_mutex_lock(&pool_lock);
	job->next = NULL;
	*jq_tail = job;
	jq_tail = &job->next;
	n_queued++;
	spawn = n_queued > n_idle && n_workers < MAX_WORKERS;
	if (!spawn)
		pthread_cond_signal(&pool_cond);
	pthread_mutex_unlock(&pool_lock);
	if (spawn) {
		/* Only the service thread starts workers, so n_workers needs no
		 * lock here; the workers never read it. */
		int rc = pthread_create(&workers[n_workers], NULL, worker_main, NULL);
		if (rc == 0)
			n_workers++;
		else if (n_workers == 0)
			rt_fatal("cannot start a thread to run RPC handlers: %s", strerror(rc));
		else
			log_warn("cannot start another RPC worker (%s); the call waits for a free one",
				 strerror(rc));
		if (rc) {
			pthread_mutex_lock(&pool_lock);
			pthread_cond_signal(&pool_cond);
			pthread_mutex_unlock(&pool_lock);
		}
	}
}

/* ---- the caller's side -------------------------------------------------- */

struct rpc_call {
	struct rpc_call *next;    /* calls in flight */
	struct mbox_req *req;
	int rank;
	uint32_t fn_id;
	const void *arg;
	size_t arg_len;
	void *reply;              /* private memory, `cap` bytes */
	size_t cap, reply_len;
	uint64_t id;
};

static struct rpc_call *in_flight;
static uint64_t next_call;

void rpc_request(struct mbox_req *req)
{
	struct rpc_call *c = req->p;
	struct rpc_job *job = req->p;
	struct wire_hdr h = { 0 };

	switch (req->kind) {
	case MBOX_RPC_CALL:
		c->id = ++next_call;
		c->req = req;
		c->next = in_flight;
		in_flight = c;
		h.type = WIRE_RPC_CALL;
		h.id = c->id;
		h.arg = c->fn_id;
		h.aux = (uint32_t)c->cap;
		h.len = (uint32_t)c->arg_len;
		rc_send_notices(c->rank);
		tp_send(c->rank, &h, c->arg);
		break;
	case MBOX_RPC_REPLY:
		h.type = WIRE_RPC_REPLY;
		h.id = job->call_id;
		h.aux = (uint32_t)job->result;
		h.len = (uint32_t)job->reply_len;
		rc_send_notices(job->caller);
		tp_send(job->caller, &h, job->reply);
		mbox_complete(req, 0);
		break;
	default:
		mbox_complete(req, -ENOSYS);
	}
}

static void got_call(const struct wire_hdr *h, const uint8_t *payload)
{
	struct rpc_job *job;

	if (h->aux > DSM_RPC_MAX || h->arg > UINT32_MAX)
		rt_fatal("rank %u sent an RPC call with function id %" PRIu64 " and reply capacity %u "
			 "(protocol error)", h->src, h->arg, h->aux);
	job = malloc(sizeof(*job) + h->len);
	if (!job)
		rt_fatal("out of memory for an RPC call of %u bytes from rank %u", h->len, h->src);
	*job = (struct rpc_job){ .caller = (int32_t)h->src, .fn_id = (uint32_t)h->arg, .cap = h->aux,
				 .call_id = h->id, .arg_len = h->len };
	memcpy(job->arg, payload, h->len);
	submit(job);
}

static void got_reply(const struct wire_hdr *h, const uint8_t *payload)
{
	struct rpc_call **pp = &in_flight, *c;

	while (*pp && (*pp)->id != h->id)
		pp = &(*pp)->next;
	c = *pp;
	if (!c || c->rank != (int)h->src)
		rt_fatal("rank %u answered RPC call %" PRIu64 ", which this rank did not make to it "
			 "(protocol error)", h->src, h->id);
	if (h->len > c->cap)
		rt_fatal("rank %u answered RPC %u with %u bytes, more than the %zu the caller allowed "
			 "(protocol error)", h->src, c->fn_id, h->len, c->cap);
	*pp = c->next;
	if (h->len)
		memcpy(c->reply, payload, h->len);
	c->reply_len = h->len;
	mbox_complete(c->req, (int32_t)h->aux);
}

void rpc_handle(const struct wire_hdr *h, const uint8_t *payload)
{
	switch (h->type) {
	case WIRE_RPC_CALL:
		got_call(h, payload);
		break;
	case WIRE_RPC_REPLY:
		got_reply(h, payload);
		break;
	default:
		rt_fatal("rank %u sent an unexpected %s message", h->src, wire_type_name(h->type));
	}
}

/* ---- set-up ---------------------------------------------------------- */

int rpc_init(void)
{
	int rc = tp_register(WIRE_RPC_FIRST, WIRE_RPC_LAST, rpc_handle);

	if (rc)
		return rc;
	in_flight = NULL;
	next_call = 0;
	pthread_mutex_lock(&pool_lock);
	stop = 0;
	pthread_mutex_unlock(&pool_lock);
	return 0;
}

/* After the service thread has ended.  Every call made before the callers
 * finalized has been answered, so the workers are idle.  A handler still
 * running (a call from some thread that went on while its rank finalized)
 * can never deliver its reply: leave it behind rather than hang here. */
void rpc_fini(void)
{
	struct timespec deadline;
	int stuck = 0;

	pthread_mutex_lock(&pool_lock);
	stop = 1;
	pthread_cond_broadcast(&pool_cond);
	pthread_mutex_unlock(&pool_lock);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 2;
	for (int i = 0; i < n_workers; i++)
		if (pthread_timedjoin_np(workers[i], NULL, &deadline)) {
			pthread_detach(workers[i]);
			stuck++;
		}
	if (stuck)
		log_warn("%d RPC handler(s) still running at dsm_finalize; their replies are lost", stuck);
	n_workers = 0;
	while (jq_head) {
		struct rpc_job *job = jq_head;
		jq_head = job->next;
		free(job);
	}
	jq_tail = &jq_head;
	n_queued = 0;
	in_flight = NULL;
}

/* ---- public API -------------------------------------------------------- */

static int in_region(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p, base = (uintptr_t)dsm_base();

	return len && a < base + dsm_region_size() && a + len > base;
}

int dsm_rpc_call(int rank, uint32_t id, const void *arg, size_t arg_len, void *reply, size_t *reply_len)
{
	struct rpc_call c = { .rank = rank, .fn_id = id, .arg = arg, .arg_len = arg_len };
	struct mbox_req req = { .kind = MBOX_RPC_CALL, .p = &c };
	void *argcopy = NULL;
	int rc;

	if (!rt_live("dsm_rpc_call"))
		return -EINVAL;
	if (rank < 0 || rank >= dsm_size() || (arg_len && !arg))
		return -EINVAL;
	if (arg_len > DSM_RPC_MAX)
		return -EMSGSIZE;
	c.cap = reply_len ? *reply_len : 0;
	if (c.cap && !reply)
		return -EINVAL;
	if (c.cap > DSM_RPC_MAX)
		c.cap = DSM_RPC_MAX;
	c.reply = reply;
	/* The service thread must not touch the region: stage through private
	 * memory what lies in it. */
	if (in_region(arg, arg_len)) {
		argcopy = malloc(arg_len);
		if (!argcopy)
			return -ENOMEM;
		memcpy(argcopy, arg, arg_len);
		c.arg = argcopy;
	}
	if (in_region(reply, c.cap) && !(c.reply = malloc(c.cap))) {
		free(argcopy);
		return -ENOMEM;
	}
	int64_t t0 = obs_clock();

	if ((rc = rc_release())) { /* the call's send: a release */
		free(argcopy);
		if (c.reply != reply)
			free(c.reply);
		return rc;
	}
	rc = tp_call(&req);
	rc_acquire(); /* the reply: an acquire */
	stats_rpc_called(rank, id, c.id, t0);
	if (c.reply != reply) {
		if (c.reply_len)
			memcpy(reply, c.reply, c.reply_len);
		free(c.reply);
	}
	free(argcopy);
	if (reply_len)
		*reply_len = c.reply_len;
	return rc;
}
