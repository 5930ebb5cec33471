/*
 * mailbox.h - how application threads hand work to the service thread.
 *
 * A thread fills a `struct mbox_req` (usually on its own stack), calls
 * mbox_call(), and sleeps on a futex until the service thread completes it.
 * Submission is a lock-free push plus an eventfd write, so it is
 * async-signal-safe: the SIGSEGV backend calls it from its signal handler.
 * The service thread takes every pending request at once (mbox_drain) and
 * answers each with mbox_complete(), possibly much later.
 */
#ifndef DSM_MAILBOX_H
#define DSM_MAILBOX_H

#include <stdatomic.h>
#include <stdint.h>

enum mbox_kind {
	MBOX_FAULT,     /* a = page, b = 1 for a write; answered in b (coh_fault_returned) */
	MBOX_BARRIER,
	MBOX_FINALIZE,
	MBOX_LINK_UP,   /* transport: a = peer, b = authenticated socket */
	MBOX_LINK_DEAD, /* transport: a = peer, b = errno of the last attempt */
	MBOX_ADVISE = 8, /* dsm_advise (coherence.c), WILL_OVERWRITE: a = first page, b = pages */
	MBOX_ADVISE_READ = 9, /* dsm_advise, WILL_READ: a = first page, b = pages */
	MBOX_SYNC_FIRST = 16, /* sync.c's requests: 16..31 */
	MBOX_SYNC_LAST = 31,
	MBOX_RPC_FIRST = 32,  /* rpc.c's requests: 32..47 */
	MBOX_RPC_LAST = 47,
	MBOX_LOCK = 16,       /* a = lock id */
	MBOX_TRYLOCK = 17,    /* a = lock id */
	MBOX_UNLOCK = 18,     /* a = lock id */
	MBOX_SEM_WAIT = 19,   /* a = key */
	MBOX_SEM_POST = 20,   /* a = key */
	MBOX_ALLOC = 21,      /* alloc.c: a = op, b = size or offset, p = name;
	                       * answered in a (offset) and b */
	MBOX_COND_WAIT = 22,  /* a = cond, p = the request that COND_WAKE completes;
	                       * answered once the home has queued the waiter */
	MBOX_COND_SIGNAL = 23, /* a = cond, b = 1 for a broadcast */
	MBOX_RPC_CALL = 32,   /* p = struct rpc_call */
	MBOX_RPC_REPLY = 33,  /* p = struct rpc_job: a worker's answer */
	MBOX_CKPT_FIRST = 48, /* checkpoint.c's requests: 48..55 (runtime.c routes them) */
	MBOX_CKPT_LAST = 55,
	MBOX_CKPT_PAGES = 48, /* -> p = malloc'd sorted pages this home must save, a = count */
	MBOX_CKPT_HEAP = 49,  /* rank 0 -> p = malloc'd heap image, a = its length */
	MBOX_RC_FIRST = 56,   /* rc.c's requests: 56..63 (runtime.c routes them) */
	MBOX_RC_LAST = 63,
	MBOX_RC_RELEASE = 56, /* flush this rank's dirty release-consistent pages */
	MBOX_RC_ACQUIRE = 57, /* apply the write notices this rank learned */
	MBOX_RC_FENCE = 58,   /* dsm_acquire: drop every clean copy */
};

struct mbox_req {
	struct mbox_req *next;  /* mailbox stack, then the owner's wait list */
	int kind;
	uint64_t a, b;
	void *p;                /* request-specific pointer (buffers, ...) */
	int result;             /* set by the service thread */
	int32_t tid;            /* set by mbox_begin (mbox_call): the calling thread */
	atomic_uint done;       /* futex word: 0 waiting, 1 completed */
};

/* Returns the eventfd to poll, or -errno.  A caller of mbox_call() yields
 * for up to spin_ns before it sleeps (0: sleeps at once). */
int mbox_init(int64_t spin_ns);
void mbox_fini(void);

/* Submit and wait for completion; returns req->result.  Signal-safe. */
int mbox_call(struct mbox_req *req);

/* mbox_call() in its three steps, for a caller that may serve its request
 * itself between them (transport.h's tp_call): mark it pending and count
 * its caller as waiting; push it for the service thread; wait for its
 * completion and stop counting.  All three signal-safe. */
void mbox_begin(struct mbox_req *req);
void mbox_submit(struct mbox_req *req);
int mbox_end(struct mbox_req *req);

/* Whether requests wait to be drained (a hint: one may come at once). */
int mbox_pending(void);

/* Wait for the completion of a request that the caller did not submit but
 * parked where another thread will complete it (a queue of waiters); the
 * same polling, then sleeping, as mbox_call().  req->done must be 0 when it
 * was parked.  Returns req->result. */
int mbox_wait(struct mbox_req *req);

/* Give the CPU to another thread for a moment, while polling; returns 1
 * when another thread did run (the CPU is contended: stop polling). */
int mbox_yield(void);

/* How many mbox_call()s are waiting for their answer now. */
int mbox_waiting(void);

/* Service thread: take every submitted request, oldest first. */
struct mbox_req *mbox_drain(void);
/* Service thread: finish a request and wake its thread. */
void mbox_complete(struct mbox_req *req, int result);

#endif
