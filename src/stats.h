/*
 * stats.h - observability (stats.c): the per-rank counters behind
 * dsm_stats(), the home's record of hot pages, the snapshots the live view
 * shows, and the report at the end of a job.  The event trace is trace.h.
 *
 * The hooks below are what the other modules call; each is a few
 * instructions when nothing but the counters is on.
 *
 * How the data leaves a rank: under dsmexec (DSM_LAUNCHER=dsmexec) a rank
 * writes observation lines to its stderr, each in one write(2) of less than
 * PIPE_BUF bytes so no other output splits it, and dsmexec takes them out of
 * the stream (they never reach the terminal):
 *
 *   "\036DSM1 C r=R name=value ..."   the final counters (dsm_finalize)
 *   "\036DSM1 S r=R name=value ..."   the counters now (DSM_MONITOR snapshots)
 *   "\036DSM1 M r=R base=0xADDR bp=B nb=N first=F START+LEN=W/R ..."
 *                                     page map: of the region's N blocks of
 *                                     B pages, runs of blocks that hold W
 *                                     pages writable and R read-only here
 *                                     (several lines per snapshot; first=1
 *                                     opens one)
 *   "\036DSM1 H r=R p=PAGE n=N c=C k=RANK:READS:WRITES:RMASK:WMASK,..."
 *                                     one of the home's most requested pages:
 *                                     N requests; its consistency C (s
 *                                     sequential, r release); per rank its
 *                                     requests (release: fetches and diffs)
 *                                     and the 64-byte lines it faulted on or
 *                                     its diffs changed (hex)
 *   "\036DSM1 A r=R off=OFF size=SIZE obj=OBJ what=HEX"
 *                                     an allocation this rank made (OBJ > 0:
 *                                     a slab of OBJ-byte objects), what = a
 *                                     name or call site, hex-encoded
 *
 * Under dsmexec each line also carries, after its kind, " t=TOKEN": a random
 * token dsmexec gives the ranks (DSM_OBS_TOKEN, 32 hex digits, which the
 * library takes out of the environment), and R must be the rank whose
 * stderr carried the line; dsmexec takes only such lines, so lines that a
 * program prints (its own data, say) never enter the report: they are
 * printed like any other output.
 *
 * Without dsmexec, DSM_STATS=1 makes each rank print its own table.
 */
#ifndef DSM_STATS_H
#define DSM_STATS_H

#include <stddef.h>
#include <stdint.h>

#define OBS_MAGIC "\036DSM1 "
#define OBS_MAGIC_LEN 6
#define OBS_TOKEN_LEN 32 /* hex digits */

/* The counters, in the order of struct dsm_stats. */
enum stat_id {
	ST_READ_FAULTS,
	ST_WRITE_FAULTS,
	ST_PAGES_IN,
	ST_PAGES_OUT,
	ST_PAGE_BYTES_IN,
	ST_PAGE_BYTES_OUT,
	ST_NET_BYTES_IN,
	ST_NET_BYTES_OUT,
	ST_INV_SENT,
	ST_INV_RECEIVED,
	ST_FAULT_NS,
	ST_LOCKS,
	ST_LOCK_NS,
	ST_BARRIERS,
	ST_BARRIER_NS,
	ST_SEM_WAITS,
	ST_SEM_NS,
	ST_RPC_CALLS,
	ST_RPC_NS,
	ST_RPC_SERVED,
	ST_PREFETCHED,
	ST_TWINS,
	ST_DIFFS_SENT,
	ST_DIFF_BYTES_SENT,
	ST_DIFFS_APPLIED,
	ST_DIFF_BYTES_APPLIED,
	ST_NOTICES_APPLIED,
	ST_COUNT
};

/* The counters' names as in struct dsm_stats (and in the lines above). */
extern const char *const stats_names[ST_COUNT];

/*
 * Locking: each counter has either one writer at a time, the service thread
 * (stat_bump: a relaxed load and store, as cheap as a plain add, and readers
 * in other threads see whole values), or many (stat_add: a relaxed atomic
 * add).  The service-thread counters are those of faults, pages,
 * invalidations; the others are added by the application's threads and the
 * RPC workers.
 */
extern uint64_t stats_ctr[ST_COUNT];

static inline void stat_bump(enum stat_id id, uint64_t v)
{
	__atomic_store_n(&stats_ctr[id], __atomic_load_n(&stats_ctr[id], __ATOMIC_RELAXED) + v,
			 __ATOMIC_RELAXED);
}

static inline void stat_add(enum stat_id id, uint64_t v)
{
	__atomic_fetch_add(&stats_ctr[id], v, __ATOMIC_RELAXED);
}

/* CLOCK_MONOTONIC in nanoseconds: every time the counters and the trace keep. */
int64_t obs_clock(void);

/* ---- set-up (runtime.c) ---- */

/* dsm_init, once the rank is known: read DSM_STATS, DSM_TRACE, DSM_MONITOR,
 * zero the counters.  0 or a negative errno after saying what was wrong. */
int stats_init(void);
/* dsm_init, once the service thread runs: start the snapshot thread. */
void stats_start(void);
/* dsm_finalize, after the service thread and the RPC workers have ended and
 * before the page tables go: stop the snapshot thread, report, write the
 * trace. */
void stats_fini(void);

/* ---- hooks ---- */

/* The fault backends describe each fault before it reaches coh_fault():
 * the thread and where in the page it touched, as a tag.  The SIGSEGV
 * handler puts stats_fault_tag(addr) in its request's `p` (signal-safe);
 * the userfaultfd backend calls stats_uffd_fault() before coh_fault(). */
uint64_t stats_fault_tag(uintptr_t addr);
void stats_uffd_fault(uint32_t tid, uint64_t addr);
/* userfaultfd features worth asking for (thread ids, exact addresses), of
 * those this kernel has. */
uint64_t stats_uffd_features(void);

/* coherence.c, service thread.  stats_fault_begin: a new page request; it
 * returns the request's tag (from the request's waiter, or what the
 * userfaultfd backend said) and sets *t0.  The low byte of a tag, 0 or 1 +
 * the 64-byte line touched, travels in the request's aux. */
struct mbox_req;
uint64_t stats_fault_begin(struct mbox_req *waiter, int write, int64_t *t0);
static inline uint32_t stats_tag_line(uint64_t tag)
{
	return (uint32_t)(tag & 0xff);
}
/* The faulting thread's id, or 0 where the backend could not say. */
static inline uint32_t stats_tag_tid(uint64_t tag)
{
	return (uint32_t)(tag >> 8);
}
/* The page a request asked for was installed (h: the PAGE message). */
struct wire_hdr;
void stats_fault_done(const struct wire_hdr *h, int write, int64_t t0, uint64_t tag, int ahead);
/* This rank sent a page (data NULL: a zero page) to `to`; t0 from
 * trace_clock() when the serving began. */
void stats_page_sent(int to, uint64_t page, uint64_t req, uint32_t len, int write, int64_t t0);
/* This rank dropped its copy of a page for the home `from` (itself, too). */
void stats_inv_received(int from);
/* Home: rank `from` asks for `page`; `line` is the request's aux. */
void stats_home_request(uint64_t page, int from, int write, uint32_t line);
/* Home of a release-consistent page (rc.c): rank `from` (this one too) sent
 * a diff of it touching the 64-byte lines in `lines`.  Counted with the
 * page's requests, as a write. */
void stats_home_diff(uint64_t page, int from, uint64_t lines);

/* sync.c, runtime.c, rpc.c: application threads, around their waits (kind:
 * MBOX_LOCK, MBOX_TRYLOCK, MBOX_SEM_WAIT or MBOX_BARRIER; the others are no
 * waits and count nothing), and RPC workers around a handler. */
void stats_waited(int mbox_kind, uint64_t id, int64_t t0);
void stats_rpc_called(int rank, uint32_t fn, uint64_t call_id, int64_t t0);
/* A read request made ahead of the application's touch (coherence.c);
 * stats_fault_done(..., ahead = 1) ends it: its page counts, the time
 * counts only as a fault's when a thread came to wait for it.  Returns
 * the tag. */
uint64_t stats_prefetch_begin(int64_t *t0);
void stats_rpc_served(int caller, uint32_t fn, uint64_t call_id, int64_t t0);

/* alloc.c: what the heap handed out (objsize > 0: a slab of such objects),
 * and what it took back.  `name` NULL: site is the caller's return address. */
void stats_note_alloc(uint64_t off, uint64_t size, const char *name, uint32_t objsize, const void *site);
void stats_note_free(uint64_t off);

/* The transport: bytes that went to / came from `peer`, headers included.
 * Any thread. */
void stats_add_bytes(int peer, uint64_t sent, uint64_t received);

/* ---- the job's view (dsmexec, and a rank that reports for itself) ---- */

struct stats_job;
struct stats_job *stats_job_new(int nranks);
void stats_job_free(struct stats_job *j);
/* An observation line (without its newline) from `rank`: 1 when it was one
 * (whatever its kind), 0 when it is the program's own output. */
int stats_is_line(const char *p, size_t n);
/* Take in a C, S, H or A line; 0, or -EINVAL for one that does not parse. */
int stats_job_line(struct stats_job *j, int rank, const char *p, size_t n);
/* The counters last heard from `rank` (final or snapshot), or NULL. */
const uint64_t *stats_job_counters(const struct stats_job *j, int rank, int *final);
/* Print the table, the job's total and the hot pages to fd. */
void stats_job_report(const struct stats_job *j, int fd, double elapsed_s);
/* Parse "name=value" counters from a C or S line into v (others untouched). */
int stats_parse_counters(const char *p, size_t n, uint64_t v[ST_COUNT]);

#endif
