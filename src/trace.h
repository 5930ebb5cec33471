/*
 * trace.h - the event trace (trace.c): DSM_TRACE=FILE records every fault,
 * page served, lock, semaphore and barrier wait and RPC of the job, and the
 * twins, diffs and write notices of release consistency, as spans,
 * with flow arrows from each page request to the rank that served it and
 * back, into one Chrome Trace Event JSON file (Perfetto, chrome://tracing).
 */
#ifndef DSM_TRACE_H
#define DSM_TRACE_H

#include <stdint.h>

enum trace_kind {
	TR_FAULT_READ = 1, /* a = page, b = rank the page came from */
	TR_FAULT_WRITE,    /* same */
	TR_SERVE_READ,     /* a = page, b = requester */
	TR_SERVE_WRITE,    /* same */
	TR_LOCK,           /* a = lock id */
	TR_TRYLOCK,        /* a = lock id */
	TR_SEM,            /* a = key */
	TR_BARRIER,
	TR_RPC_CALL,       /* a = target rank, b = function id */
	TR_RPC_SERVE,      /* a = caller, b = function id */
	/* release consistency (rc.c), all in the service thread: */
	TR_RC_TWIN,        /* a = page: a twin kept before the page is written */
	TR_RC_DIFF,        /* a = page, b = home: its diff made at a release */
	TR_RC_APPLY,       /* a = page, b = rank: a diff applied to the master */
	TR_RC_NOTICE,      /* a = creator, b = pages: an interval's notice applied
			      (its pages' copies dropped) */
	TR_RC_HOME,        /* a = page, b = its new home: the home moved at the
			      end of a barrier */
	TR_KINDS
};

/* Flow ids: the requester's rank and its request id, so every rank names a
 * transfer the same way; RPC flows have bit 62 set. */
#define TRACE_FLOW_PAGE(rank, req) ((uint64_t)(rank) << 40 | ((req) & ((1ULL << 40) - 1)))
#define TRACE_FLOW_RPC(rank, call) (TRACE_FLOW_PAGE(rank, call) | 1ULL << 62)

/* Written once by trace_init(), before any thread records. */
extern int trace_on;

/* obs_clock() while tracing, else 0 without reading the clock. */
int64_t trace_clock(void);

/* The calling thread's id (cached; async-signal-safe). */
int trace_tid(void);

/* Record one span [t0, t1] (obs_clock() ns) on thread `tid` (0: the caller)
 * with a flow through it (flow 0: none).  Any thread; no lock, no system call
 * unless the thread's buffer is full. */
void trace_rec(enum trace_kind kind, int tid, int64_t t0, int64_t t1, uint64_t a, uint64_t b,
	       uint64_t flow);

/* DSM_TRACE (and DSM_TRACE_EPOCH, set by dsmexec: the job's time zero in
 * CLOCK_REALTIME ns).  0, or -EINVAL/-errno after saying what was wrong. */
int trace_init(int rank, int size);
/* Write what every thread recorded into FILE.rankN and stop recording;
 * without dsmexec, rank 0 then joins the parts into FILE. */
void trace_fini(void);

/* Join FILE.rank0 .. FILE.rank(n-1) into FILE (valid JSON) and remove them
 * (a rank that died contributes the whole lines of its FILE.rankN.part).
 * Returns the number of complete parts, or a negative errno after logging
 * why; writes nothing when no rank left anything. */
int trace_merge(const char *path, int nranks);

#endif
