/*
 * rc.c - release consistency with multiple writers, for the allocations that
 * ask for it (dsm_malloc_rc, dsm_alloc_named_rc, DSM_CONSISTENCY=release)
 * and the DSM_SHARED_RC global variables.
 *
 * Design.  Home-based lazy release consistency.  The release-consistent
 * pages form one arena of the region (rc_first..rc_end, the same on every
 * rank) and one range of the globals' page numbers (rc_gfirst..rc_gend,
 * globals.c), so a page's consistency follows from its page number and the
 * fault path picks this file's operations for it (coh_ops_for()); the
 * per-page tables have the arena's entries, then the globals' (ix()).  Every
 * page has a home
 * (page_home(), as for sequential consistency) that keeps its master copy in
 * the service thread's own memory (`master`, made on the first diff; none:
 * all zeros).  Each rank's view of the page (the home's too: the home's
 * application writes are noticed like anybody's) is INVALID, READ (clean,
 * read-only) or WRITE (writable, with a twin: a copy made when the first
 * write came, or when the page came for a write).  The home's master is not
 * its application's copy: diffs from other ranks are applied to it while the
 * home's own threads may be writing their copy, and the home's writes reach
 * it as diffs at the home's release (no message), recorded as write notices
 * like any rank's.  (Issue 16 sketched a home that writes the master in
 * place, write-protected after each release; the separate master costs a
 * twin and a page of memory per page written at its home, and needs no
 * second writable mapping on the userfaultfd backend.)
 *
 *   fault on INVALID:  r -> home RC_FETCH; home -> r RC_PAGE (the master
 *                      copy, or zeros).  At the home itself a copy, no
 *                      message.  A fetch in flight when an acquire
 *                      invalidates the page is stale: it is asked again.
 *   write on READ:     twin, open for writing; no message.  The pages after
 *                      it that this rank holds and wrote in the same epoch
 *                      as it (one of its last RC_WROTE_EPOCHS) open with it
 *                      (RC_WRITE_AHEAD at most, one call), so a rank that
 *                      rewrites its part of an array faults once per run.
 *   release:           each WRITE page is write-protected (each run of
 *                      adjacent pages in one call: one TLB shootdown),
 *                      diffed against its twin (the bytes that changed, as
 *                      runs), and becomes
 *                      READ; or, a page this rank rewrites, stays open
 *                      (WRITE), diffed from a snapshot that becomes its
 *                      twin ("Open pages", start_flush).  The diffs go in
 *                      one RC_DIFF message per home
 *                      (more when they exceed a message), the home applies
 *                      them to its master and answers RC_DIFF_ACK; the home's
 *                      own diffs are applied in place.  Once every ack is in,
 *                      the pages become one interval (this rank, its next
 *                      interval number, the page list) in this rank's log,
 *                      and the release returns.  A release with no dirty
 *                      pages sends nothing.
 *   acquire:           every interval of another rank that this rank learned
 *                      and has not applied yet invalidates this rank's copies
 *                      of its pages (a dirty one is flushed first, by a
 *                      release; clean ones went when the notice came).
 *
 * Write notices.  Each rank keeps a log of the intervals it knows (its own
 * and others'), and for each peer the newest interval of each creator that
 * the peer is known to know (`known`: what this rank sent it or got from
 * it).  Every message of a release or an acquire carries the intervals
 * newer than that (rc_notices_out/in): UNLOCK and SEM_POST to the object's
 * home, LOCK_GRANT and SEM_GRANT from it, BARRIER_ENTER to rank 0 and
 * BARRIER_RELEASE from it (dsm_init's barrier), and each BARRIER_ROUND of
 * an application barrier (sync.c: each round's message carries what its
 * sender knows by then, so the last round leaves every rank the union).  So the home of a lock knows what its previous
 * holders knew at their release, and its grant passes that on; knowledge is
 * forwarded whole, so visibility is transitive (A releases L1, B acquires L1
 * and releases L2, C acquires L2: C learns A's interval from L2's home,
 * because B's log held it).  A rank applies what it learns at once, in the
 * service thread, when none of the interval's pages is dirty here (dropping
 * a clean copy early is always allowed), else at its next acquire, after a
 * flush; whatever object brought it: never less than the model asks for,
 * sometimes more (a home learns the intervals released to any of its
 * objects).  A lock cached at its last holder is taken again with what that
 * rank knows: nothing to wait for.  Logs are trimmed at barriers: at the
 * release of barrier k a rank drops the applied intervals it knew at the
 * release of barrier k-1; every rank has them, as it left barrier k-1 before
 * entering k.  Servers, in no barrier after the first, keep theirs.
 *
 * Barriers: carried intervals.  A barrier's release whose diffs are small
 * (RC_CARRY_PAGES pages, carry_budget bytes with their page list: a
 * round's message carries every rank's), while no other release of this
 * rank is in flight, sends nothing to the homes and waits for no
 * acknowledgement: its pages and their diffs become a carried interval,
 * which rides in the barrier's rounds (rc_notices_out, after the notices)
 * and so reaches every rank by the barrier's end; there (carried_done),
 * in the same order everywhere, each home applies the diffs of its pages
 * to their masters, and each rank patches the copies it held since before
 * the barrier, rather than dropping them and fetching them again.  The
 * order is the intervals' Lamport times (every interval's is above that of
 * every interval its creator knew when it made it; then creator and
 * number), so a diff that happens after another is applied after it.  A
 * home holds the FETCHes and DIFFs of ranks that left the barrier before
 * it (in_epoch()) until it has applied them.  The diffs reach the homes
 * only at the barrier's end, so a carried interval travels in no other
 * message before then: another thread of its rank that releases meanwhile
 * (a lock that leaves, an RPC, a post) first sends them to their homes as
 * a release would (settle(); WIRE_F_SETTLE: the home applies them once,
 * and marks the copies it gives out WIRE_F_SETTLED) and names their pages
 * in its own interval; and a rank that learns of a carried interval from a
 * message of a rank already past the barrier (which logged it there) makes
 * its acquire wait for its own end of that barrier.  A copy installed
 * during the barrier or from a settled master, or whose page the creator
 * settled, is dropped, not patched: it may hold the diffs already, and
 * writes made after them.
 * So a barrier with D dirty pages costs only its own messages, and a page
 * that several ranks write between barriers (counters side by side, a
 * reduction's slots) moves no page at all.  Jobs with servers (in no
 * barrier) and migrating homes do not carry.
 *
 * Checkpoints (checkpoint.c) are a barrier, so a release: every master holds
 * what was written before; the home saves the pages that have a master
 * (rc_ckpt_list) and a restart makes them masters again (rc_ckpt_install).
 * Statistics: twins, diffs sent and applied and their bytes, notices applied
 * (stats.h); the home counts each fetch and each diff of a page for the
 * hot-page report; the trace has a span for each (trace.h).
 *
 * The model this gives (dsm.h, dsm_malloc(3)): a write to release-consistent
 * memory is visible to another rank after the writer's next release and that
 * rank's later acquire, transitively; data-race-free programs see sequential
 * consistency.  Diffs are exact to the byte, so ranks that write different
 * bytes of one word (between synchronisations) keep both writes.
 *
 * Threads: the service thread runs everything here except rc_release(),
 * rc_acquire() and the fast checks, which post MBOX_RC_RELEASE /
 * MBOX_RC_ACQUIRE when there is work (a barrier's release runs in the
 * service thread as the barrier's first step: rc_release_then).  Locking:
 * none; `a_dirty` and `a_unapplied` are atomics the service thread writes before it completes
 * the request or grant that an application thread then waits on.
 */
#include "rc.h"

#include <dsm.h>
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

#include "coherence.h"
#include "globals.h"
#include "log.h"
#include "mailbox.h"
#include "pagevec.h"
#include "runtime.h"
#include "stats.h"
#include "trace.h"
#include "transport.h"
#include "wire.h"

enum { R_INVALID = 0, R_READ = 1, R_WRITE = 2 };

/* The most pages of one interval: its notice fits a message. */
#define RC_IVL_PAGES ((WIRE_MAX_PAYLOAD - 64) / 8)

/* The most pages a write fault opens at once (rc_fault). */
#define RC_WRITE_AHEAD 1024
/* The most pages a read fault asks for after its own (fetch_ahead). */
#define RC_FETCH_AHEAD (WIRE_RC_FETCH_PAGES - 1)
#define RC_WROTE_EPOCHS 8

uint64_t rc_first, rc_end, rc_gfirst, rc_gend;
/* Entries of the per-page tables: the arena's pages, then the globals'. */
static uint64_t n_rc;

static inline uint64_t ix(uint64_t page)
{
	return page < rc_end ? page - rc_first : (rc_end - rc_first) + (page - rc_gfirst);
}

static inline uint64_t page_of(uint64_t i)
{
	return i < rc_end - rc_first ? rc_first + i : rc_gfirst + (i - (rc_end - rc_first));
}
static int consistency_release;

/* Per page (index ix(page)), NORESERVE: only touched entries
 * cost memory. */
static uint8_t *rstate;
static uint8_t *lost; /* a copy this rank held was dropped by an acquire */
static uint8_t *linger; /* open pages (start_flush): L_OPEN, L_CLOSE, quiet releases */
static int opening, close_all; /* pages stay open (DSM_RC_KEEP_OPEN); the next flush closes all */
static uint8_t **twin, **master;
static struct fetch **fetching;

struct fetch {
	uint64_t id;
	int write;
	int stale;
	int ahead;     /* asked ahead of a fault (fetch_ahead); none waited yet */
	int64_t t0;    /* for the statistics and the trace */
	uint64_t tag;
	struct mbox_req *waiters;
};

static uint64_t next_id;

/*
 * Homes that move (DSM_RC_HOMES=migrate, in a job without servers;
 * migrate() says how; the default is static homes, page_home()).  rhome:
 * per page, its home + 1 when that is not page_home(); pend: the rank + 1 whose home the page becomes at the
 * end of the next barrier if that rank alone writes it until then.  Every
 * rank changes both at the same point, the end of a barrier.  epoch: the
 * barriers this rank has left; in_bar: this rank is inside an application
 * barrier.  wrote: per page, epoch + 1 of this rank's last interval that
 * named it; saved: a copy of a page this rank wrote in this epoch and had
 * to drop, which it may need as the page's master.  late: diffs of a
 * page that may become homed here, made by ranks inside the barrier that
 * decides it, kept until its end.  postponed: FETCHes and DIFFs from ranks
 * already past the barrier this rank is in, and questions that must wait
 * for its end.
 */
static int migrating;
static int32_t *rhome, *pend;
static uint32_t *wrote;
static uint8_t **saved;
struct late {
	struct late *next;
	size_t n;
	int from;
	uint8_t d[];
};
static struct late **late;
static uint32_t epoch;
static int in_bar;

enum { P_ASK, P_MSG };
struct postponed {
	struct postponed *next;
	int kind;
	uint64_t page;          /* P_ASK */
	struct wire_hdr h;      /* P_MSG, and its payload after it */
	uint8_t payload[];
};
static struct postponed *postponed, **postponed_tail = &postponed;

static inline int rc_home(uint64_t page)
{
	int32_t h = rhome ? rhome[ix(page)] : 0;

	return h ? h - 1 : page_home(page);
}

/* Dirty pages (WRITE), and what a release in progress flushed. */
static struct pvec dirty, flushed;
static struct pvec mastered; /* the pages homed here that have a master */
static struct pvec saved_pages; /* the pages with a saved copy */
static struct pvec late_pages, pend_pages; /* the pages with late diffs, with pend */
static unsigned acks_out;
static struct mbox_req *rel_waiters, *acq_waiters;
static struct mbox_req *rel_then; /* goes on with rel_then_fn after the flush */
static void (*rel_then_fn)(struct mbox_req *);
static atomic_uint_fast64_t a_dirty;    /* WRITE pages + flushed, not yet logged */
static atomic_uint_fast64_t a_unapplied; /* intervals of others not applied */

/* The interval log. */
struct ivl {
	uint32_t creator, idx;
	uint32_t epoch;  /* the barriers its creator had left when it made it */
	uint32_t lam;    /* its Lamport time: more than any interval its creator knew */
	uint32_t n;
	uint8_t applied;
	uint8_t carried; /* its diffs travel in a barrier's rounds (below) */
	uint32_t dlen;
	uint64_t *pages;
	uint8_t *diff;   /* carried: its pages' diffs, until the barrier's end */
};
struct ilog {
	struct ivl **v;
	uint32_t n, cap;
};
static struct ilog *logs;      /* [creator] */
static uint32_t *known;        /* [peer * size + creator] */
static uint32_t *gc_bound;     /* [creator]: dropped at the next barrier */
static uint32_t my_idx;
static uint32_t lamport; /* the latest Lamport time of an interval known here */
static struct ivl **unapplied;
static size_t n_unapplied, cap_unapplied;

/*
 * Carried intervals (see "Barriers" above).  carried_iv: those of the
 * barrier that ends epoch e, in [e & 1] (a faster rank's may come while
 * this rank is in the barrier before); own_carry: this rank's, until it is
 * settled or its barrier ends; settled: per creator, the newest carried
 * interval whose diffs reached this home early (WIRE_F_SETTLE); fresh: per
 * page, installed while this rank was inside a barrier (fresh_pages: the
 * pages marked); n_early: carried intervals that other messages named
 * before this barrier's end, which acquires (bar_acq_waiters) wait for.
 */
#define RC_IVL_CARRIED 0x80000000u /* in a notice's page count */
#define RC_CARRY_PAGES 256
struct ivec {
	struct ivl **v;
	size_t n, cap;
};
static int carrying;
static size_t carry_budget;
static struct ivec carried_iv[2];
static struct ivl *own_carry;
static uint32_t *settled;
static uint8_t *fresh;
static struct pvec fresh_pages;
static size_t n_early;
static struct mbox_req *bar_acq_waiters;

/* Messages that wait for the flush in progress (rc_send_flushed). */
struct deferred_msg {
	struct deferred_msg *next;
	int to, type;
	uint64_t arg;
};
static struct deferred_msg *deferred, **deferred_tail = &deferred;

/* Per-home batches of diffs being built. */
struct batch {
	uint8_t *b;
	size_t n, cap;
};
static struct batch *batches, *lbatches; /* late ones: got_diff() */

/* ---- small helpers ------------------------------------------------------ */

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);

	if (!q)
		rt_fatal("out of memory for release consistency's tables");
	return q;
}

static void ivec_push(struct ivec *v, struct ivl *x)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? 2 * v->cap : 16;
		v->v = xrealloc(v->v, v->cap * sizeof(*v->v));
	}
	v->v[v->n++] = x;
}

static void ivl_free(struct ivl *v)
{
	free(v->pages);
	free(v->diff);
	free(v);
}

/* The end of the run of pages that starts at v[k] (v sorted, n of them):
 * adjacent region pages, or with `spans` any region pages; a global's page
 * alone (one call of the backend each). */
static size_t run_end(const uint64_t *v, size_t k, size_t n, int spans)
{
	size_t e = k + 1;

	if (v[k] >= rt.region_pages)
		return e;
	while (e < n && v[e] < rt.region_pages && (v[e] == v[e - 1] + 1 || spans))
		e++;
	return e;
}

static void *arena_table(size_t elem)
{
	size_t n = (size_t)n_rc * elem;
	void *p;

	if (n == 0)
		return NULL;
	p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void arena_table_free(void *p, size_t elem)
{
	if (p)
		munmap(p, (size_t)n_rc * elem);
}

static void batch_put(struct batch *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = b->cap ? 2 * b->cap : 16384;
		while (b->cap < b->n + n)
			b->cap *= 2;
		b->b = xrealloc(b->b, b->cap);
	}
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void drop_late(uint64_t i)
{
	while (late[i]) {
		struct late *l = late[i];
		late[i] = l->next;
		free(l);
	}
}

/* ---- set-up ------------------------------------------------------------- */

int rc_default(void)
{
	return consistency_release;
}

/* Setting `var`: `yes` (*on = 1), `no` or unset (0); else -EINVAL after a
 * message. */
static int env_choice(const char *var, const char *yes, const char *no, int *on)
{
	const char *v = getenv(var);

	*on = 0;
	if (!v || !*v || !strcasecmp(v, no))
		return 0;
	if (!strcasecmp(v, yes)) {
		*on = 1;
		return 0;
	}
	log_err("%s=%s: expected %s or %s", var, v, yes, no);
	return -EINVAL;
}

int rc_init(void)
{
	size_t n = (size_t)rt.size;
	int rc, closed;

	if ((rc = env_choice("DSM_CONSISTENCY", "release", "sequential", &consistency_release)))
		return rc;
	/* The arena: the region's third quarter, whole pages.  The shared
	 * heap hands out space from the top down, programs that use
	 * dsm_base() directly start at the bottom: neither meets it soon. */
	rc_first = rt.region_pages / 2;
	rc_end = rt.region_pages / 4 * 3;
	if (rt.region_pages < 8)
		rc_end = rc_first;
	globals_rc_range(&rc_gfirst, &rc_gend); /* DSM_SHARED_RC variables */
	n_rc = (rc_end - rc_first) + (rc_gend - rc_gfirst);
	if ((rc = env_choice("DSM_RC_HOMES", "migrate", "static", &migrating)))
		return rc;
	/* Servers take part in no barrier after dsm_init's: they could not
	 * follow the homes. */
	if (dsm_num_servers() > 0 || rt.size == 1)
		migrating = 0;
	/* Carried intervals need every rank in every barrier (no servers),
	 * and static homes; a round carries every rank's, so each may carry
	 * a share of a quarter of a message. */
	carrying = !migrating && dsm_num_servers() == 0 && rt.size > 1;
	if ((rc = env_choice("DSM_RC_KEEP_OPEN", "off", "on", &closed)))
		return rc;
	opening = !closed && !migrating; /* open pages (start_flush) */
	close_all = 0;
	carry_budget = WIRE_MAX_PAYLOAD / 4 / n < 65536 ? WIRE_MAX_PAYLOAD / 4 / n : 65536;
	rstate = arena_table(1);
	lost = arena_table(1);
	linger = arena_table(1);
	rhome = arena_table(sizeof(*rhome));
	pend = arena_table(sizeof(*pend));
	late = arena_table(sizeof(*late));
	wrote = arena_table(sizeof(*wrote));
	saved = arena_table(sizeof(*saved));
	twin = arena_table(sizeof(*twin));
	master = arena_table(sizeof(*master));
	fetching = arena_table(sizeof(*fetching));
	fresh = arena_table(1);
	settled = calloc(n, sizeof(*settled));
	logs = calloc(n, sizeof(*logs));
	known = calloc(n * n, sizeof(*known));
	gc_bound = calloc(n, sizeof(*gc_bound));
	batches = calloc(n, sizeof(*batches));
	lbatches = calloc(n, sizeof(*lbatches));
	if ((n_rc && (!rstate || !lost || !linger || !rhome || !pend || !late || !wrote || !saved || !twin || !master ||
		      !fetching || !fresh)) ||
	    !settled || !logs || !known || !gc_bound || !batches || !lbatches) {
		log_err("cannot allocate the tables of release consistency (%" PRIu64 " pages)", n_rc);
		rc_fini();
		return -ENOMEM;
	}
	if ((rc = tp_register(WIRE_RC_FIRST, WIRE_RC_LAST, rc_handle))) {
		rc_fini();
		return rc;
	}
	next_id = 0;
	my_idx = 0;
	lamport = 0;
	acks_out = 0;
	epoch = 0;
	in_bar = 0;
	rel_waiters = acq_waiters = rel_then = bar_acq_waiters = NULL;
	own_carry = NULL;
	n_early = 0;
	atomic_store(&a_dirty, 0);
	atomic_store(&a_unapplied, 0);
	return 0;
}

void rc_fini(void)
{
	uint64_t np = n_rc;

	for (uint64_t i = 0; i < np && twin && saved && late; i++)
		if (twin[i] || master[i] || fetching[i] || saved[i] || late[i]) {
			free(twin[i]);
			free(master[i]);
			free(fetching[i]);
			free(saved[i]);
			drop_late(i);
		}
	arena_table_free(rstate, 1);
	arena_table_free(fresh, 1);
	fresh = NULL;
	for (int k = 0; k < 2; k++) {
		for (size_t j = 0; j < carried_iv[k].n; j++) /* own_carry too */
			ivl_free(carried_iv[k].v[j]);
		free(carried_iv[k].v);
		carried_iv[k] = (struct ivec){ 0 };
	}
	own_carry = NULL;
	free(settled);
	settled = NULL;
	free(fresh_pages.v);
	fresh_pages = (struct pvec){ 0 };
	arena_table_free(lost, 1);
	lost = NULL;
	arena_table_free(linger, 1);
	linger = NULL;
	arena_table_free(rhome, sizeof(*rhome));
	arena_table_free(pend, sizeof(*pend));
	arena_table_free(late, sizeof(*late));
	late = NULL;
	arena_table_free(wrote, sizeof(*wrote));
	arena_table_free(saved, sizeof(*saved));
	rhome = pend = NULL;
	wrote = NULL;
	saved = NULL;
	for (struct postponed *q = postponed, *nx; q; q = nx) {
		nx = q->next;
		free(q);
	}
	postponed = NULL;
	postponed_tail = &postponed;
	arena_table_free(twin, sizeof(*twin));
	arena_table_free(master, sizeof(*master));
	arena_table_free(fetching, sizeof(*fetching));
	rstate = NULL;
	twin = master = NULL;
	fetching = NULL;
	for (int c = 0; logs && c < rt.size; c++) {
		for (uint32_t i = 0; i < logs[c].n; i++)
			ivl_free(logs[c].v[i]);
		free(logs[c].v);
	}
	for (int c = 0; batches && lbatches && c < rt.size; c++) {
		free(batches[c].b);
		free(lbatches[c].b);
	}
	free(lbatches);
	lbatches = NULL;
	free(logs);
	free(known);
	free(gc_bound);
	free(batches);
	free(unapplied);
	free(dirty.v);
	free(flushed.v);
	free(mastered.v);
	free(saved_pages.v);
	free(late_pages.v);
	free(pend_pages.v);
	while (deferred) {
		struct deferred_msg *d = deferred;
		deferred = d->next;
		free(d);
	}
	deferred_tail = &deferred;
	logs = NULL;
	known = gc_bound = NULL;
	batches = NULL;
	unapplied = NULL;
	n_unapplied = cap_unapplied = 0;
	dirty = flushed = mastered = saved_pages = late_pages = pend_pages = (struct pvec){ 0 };
}

/* ---- the fault path ----------------------------------------------------- */

static void complete_all(struct mbox_req *w)
{
	while (w) {
		struct mbox_req *nx = w->next;
		w->b = 0; /* no hold (coherence.c's holds are for SC pages) */
		mbox_complete(w, 0);
		w = nx;
	}
}

const uint8_t *rc_page_states(void)
{
	return n_rc ? rstate : NULL;
}

static int rc_holds_readable(uint64_t page)
{
	return rstate && __atomic_load_n(&rstate[ix(page)], __ATOMIC_RELAXED) != R_INVALID;
}

static void make_twin(uint64_t page, const void *data)
{
	uint64_t i = ix(page);

	if (!twin[i] && !(twin[i] = malloc(DSM_PAGE_SIZE)))
		rt_fatal("out of memory for a twin of page %" PRIu64, page);
	if (data)
		memcpy(twin[i], data, DSM_PAGE_SIZE);
	else
		memset(twin[i], 0, DSM_PAGE_SIZE);
	pvec_push(&dirty, page);
	atomic_fetch_add(&a_dirty, 1);
	stat_bump(ST_TWINS, 1);
	if (trace_on) {
		int64_t t = trace_clock();
		trace_rec(TR_RC_TWIN, 0, t, t, page, 0, 0);
	}
}

/* The page's data arrived (NULL: zeros): install it for reading, or for
 * writing with a twin. */
static void install(uint64_t page, const void *data, int write)
{
	int rc;

	/* Counted dirty before the install wakes the thread: its release must
	 * find the page. */
	if (write)
		make_twin(page, data);
	__atomic_store_n(&rstate[ix(page)], write ? R_WRITE : R_READ, __ATOMIC_RELAXED);
	if ((rc = rt.be->install(page, data, write)))
		rt_fatal("cannot install page %" PRIu64 ": %s", page, strerror(-rc));
}

/* fresh[] bits, cleared at the end of each barrier: FRESH_COPY, this
 * rank's copy was installed inside the barrier, or from a master that had
 * taken a settled diff: it may hold carried diffs already, and writes made
 * after them, so the barrier's end drops it rather than patch it
 * (carried_done); FRESH_SETTLED, at the home, the master took a settled
 * diff (settle()), and its copies say so (WIRE_F_SETTLED). */
enum { FRESH_COPY = 1, FRESH_SETTLED = 2 };

static void set_fresh(uint64_t page, uint8_t bit)
{
	uint64_t i = ix(page);

	if (!fresh[i])
		pvec_push(&fresh_pages, page);
	fresh[i] |= bit;
}

/* A copy was installed from data that had a settled diff, or not. */
static void mark_fresh(uint64_t page, int settled_data)
{
	if ((in_bar || settled_data) && carrying)
		set_fresh(page, FRESH_COPY);
}

static void postpone(int kind, uint64_t page, const struct wire_hdr *h, const uint8_t *payload)
{
	size_t len = h ? h->len : 0;
	struct postponed *q = calloc(1, sizeof(*q) + len);

	if (!q)
		rt_fatal("out of memory for work held until the barrier's end");
	q->kind = kind;
	q->page = page;
	if (h) {
		q->h = *h;
		if (len)
			memcpy(q->payload, payload, len);
	}
	*postponed_tail = q;
	postponed_tail = &q->next;
}

/* The page arrived (NULL: zeros) for the fetch f of this rank's threads. */
static void fetched(uint64_t page, struct fetch *f, const void *data, const struct wire_hdr *h)
{
	uint64_t i = ix(page);

	fetching[i] = NULL;
	if (rstate[i] != R_INVALID)
		rt_fatal("page %" PRIu64 " came from rank %u, but this rank already holds it (protocol error)",
			 page, h->src);
	install(page, data, f->write);
	mark_fresh(page, (h->flags & WIRE_F_SETTLED) != 0);
	lost[i] = 0;
	stats_fault_done(h, f->write, f->t0, f->tag, f->ahead);
	complete_all(f->waiters);
	free(f);
}

/* This rank is the page's home: the fetch f gets a copy of the master. */
static void from_master(uint64_t page, struct fetch *f)
{
	struct wire_hdr local = { .type = WIRE_RC_PAGE, .src = (uint32_t)rt.rank, .arg = page, .id = f->id,
				  .flags = (fresh[ix(page)] & FRESH_SETTLED) ? WIRE_F_SETTLED : 0 };

	stats_home_request(page, rt.rank, 0, 0);
	fetched(page, f, master[ix(page)], &local);
}

/* Ask the page's home for it: a FETCH, or at the home itself a copy of the
 * master. */
static void ask(uint64_t page, struct fetch *f)
{
	struct wire_hdr h = { .type = WIRE_RC_FETCH, .arg = page, .aux = epoch };
	int home = rc_home(page);

	f->id = ++next_id;
	if (home == rt.rank) {
		from_master(page, f);
		return;
	}
	h.id = f->id;
	tp_send(home, &h, NULL);
}

/*
 * A read fault on `page` (its fetch f) asks, with it, for the pages after it
 * that this rank held and an acquire took away, as far as they run
 * (RC_FETCH_AHEAD at most): a rank that reads what others rewrite each
 * epoch (the other half of a vector, the neighbour's rows) gets them in one
 * round trip per home, not one per page.  One FETCH per home: arg its first
 * page, the others in its payload (u64 each), all answered as RC_PAGEs with
 * the FETCH's id; pages homed here are copied from their masters.
 */
/* A fetch asked ahead of any fault, in FETCH `id`. */
static struct fetch *ahead_fetch(uint64_t page, uint64_t id)
{
	struct fetch *f = calloc(1, sizeof(*f));

	if (!f)
		rt_fatal("out of memory for a page request");
	f->ahead = 1;
	f->id = id;
	f->tag = stats_prefetch_begin(&f->t0);
	fetching[ix(page)] = f;
	return f;
}

/* One FETCH to rank `home` for page `first` (already being fetched) and for
 * the pages of more[0..n) homed there, which leave more (UINT64_MAX);
 * returns its id. */
static uint64_t fetch_group(int home, uint64_t first, uint64_t *more, size_t n)
{
	uint64_t list[RC_FETCH_AHEAD];
	struct wire_hdr m = { .type = WIRE_RC_FETCH, .arg = first, .aux = epoch, .id = ++next_id };
	size_t k = 0;

	for (size_t b = 0; b < n; b++) {
		if (more[b] == UINT64_MAX || rc_home(more[b]) != home)
			continue;
		if (more[b] != first) {
			ahead_fetch(more[b], m.id);
			put_le64((uint8_t *)&list[k++], more[b]);
		}
		more[b] = UINT64_MAX;
	}
	m.len = (uint32_t)(k * 8);
	tp_send(home, &m, k ? list : NULL);
	return m.id;
}

static void fetch_ahead(uint64_t page, struct fetch *f)
{
	uint64_t more[RC_FETCH_AHEAD];
	size_t n = 0, here = 0;
	int home = rc_home(page);

	for (uint64_t q = page + 1; n < RC_FETCH_AHEAD && q < rc_end; q++, n++) {
		uint64_t i = ix(q);
		if (rstate[i] != R_INVALID || fetching[i] || !lost[i])
			break;
		more[n] = q;
		here += rc_home(q) == home;
	}
	for (size_t a = 0; a < n; a++) /* homed here: a copy of the master */
		if (rc_home(more[a]) == rt.rank) {
			from_master(more[a], ahead_fetch(more[a], 0));
			more[a] = UINT64_MAX;
		}
	if (here) /* the faulting page's home first, with its pages */
		f->id = fetch_group(home, page, more, n);
	else
		ask(page, f);
	for (size_t a = 0; a < n; a++) {
		uint64_t q = more[a];
		if (q != UINT64_MAX)
			ahead_fetch(q, fetch_group(rc_home(q), q, more, n));
	}
}

static void rc_fault(uint64_t page, int write, struct mbox_req *waiter)
{
	uint64_t i = ix(page);
	uint8_t st = rstate[i];
	struct fetch *f;

	if (waiter)
		waiter->next = NULL; /* it is one request, not a list */

	if (st == R_WRITE || (st == R_READ && !write)) {
		rt.be->wake(page); /* served while this fault was on its way */
		complete_all(waiter);
		return;
	}
	if (st == R_READ) {
		uint64_t n = 1;
		int rc, cohort = wrote[i] && wrote[i] + RC_WROTE_EPOCHS > epoch;
		/* The pages after it that this rank holds and wrote in the
		 * same epoch as it, one of the last RC_WROTE_EPOCHS, open with
		 * it: a rank that rewrites its part of an array every epoch or
		 * two takes one fault per run of pages, not one per page, and
		 * the arrays beside it that it writes in other epochs stay
		 * closed.  A page opened but not written costs its twin; its
		 * diff is empty. */
		while (cohort && n < RC_WRITE_AHEAD && page + n < rc_end && rstate[i + n] == R_READ &&
		       wrote[i + n] == wrote[i])
			n++;
		for (uint64_t k = 0; k < n; k++)
			make_twin(page + k, rt.be->peek(page + k));
		if ((rc = rt.be->upgrade(page, n)))
			rt_fatal("cannot open pages %" PRIu64 "..%" PRIu64 " for writing: %s", page, page + n - 1,
				 strerror(-rc));
		for (uint64_t k = 0; k < n; k++)
			__atomic_store_n(&rstate[i + k], R_WRITE, __ATOMIC_RELAXED);
		stat_bump(ST_WRITE_FAULTS, 1);
		complete_all(waiter);
		return;
	}
	if (rc_home(page) == rt.rank) {
		stat_bump(write ? ST_WRITE_FAULTS : ST_READ_FAULTS, 1);
		stats_home_request(page, rt.rank, 0, 0); /* a copy of the master: a fetch */
		install(page, master[i], write);
		mark_fresh(page, fresh[i] & FRESH_SETTLED);
		complete_all(waiter);
		return;
	}
	f = fetching[i];
	if (!f) { /* threads that fault on the page meanwhile share it */
		if (!(f = calloc(1, sizeof(*f))))
			rt_fatal("out of memory for a page request");
		f->write = write;
		f->tag = stats_fault_begin(waiter, write, &f->t0);
		fetching[i] = f;
		if (write || (in_bar && migrating))
			ask(page, f);
		else
			fetch_ahead(page, f);
	}
	f->ahead = 0; /* a thread waits for it (in the kernel, with userfaultfd, when no waiter) */
	if (waiter) {
		waiter->next = f->waiters;
		f->waiters = waiter;
	}
}

static void got_page(const struct wire_hdr *h, const uint8_t *payload)
{
	uint64_t page = h->arg, i = ix(page);
	struct fetch *f = fetching[i];

	if (!f || f->id != h->id) {
		log_debug("stale RC_PAGE %" PRIu64 " from rank %u", page, h->src);
		return;
	}
	if (!(h->flags & (WIRE_F_ZERO | WIRE_F_MOVED)) && h->len != DSM_PAGE_SIZE)
		rt_fatal("rank %u sent page %" PRIu64 " with %u bytes of data", h->src, page, h->len);
	/* An acquire came meanwhile (this copy may be old), or the rank asked
	 * was the page's home no more (the asker had not seen the barrier that
	 * moved it): ask again. */
	if (f->stale || (h->flags & WIRE_F_MOVED)) {
		f->stale = 0;
		if (f->ahead) { /* asked ahead, and no thread faulted on it: let it go */
			fetching[i] = NULL;
			free(f);
			return;
		}
		if ((h->flags & WIRE_F_MOVED) && in_bar) {
			/* The home moved at the end of the barrier this rank is
			 * in: every rank is in it, so its end comes without
			 * anything more from this rank. */
			f->id = ++next_id;
			postpone(P_ASK, page, NULL, NULL);
			return;
		}
		ask(page, f);
		return;
	}
	fetched(page, f, (h->flags & WIRE_F_ZERO) ? NULL : payload, h);
}

/* The home: a copy of the master (or zeros) for rank `to`. */
static void serve_fetch(int to, uint64_t page, uint64_t id)
{
	struct wire_hdr h = { .type = WIRE_RC_PAGE, .arg = page, .id = id };
	const uint8_t *m = master[ix(page)];
	int64_t t0 = trace_clock();

	if (m)
		h.len = DSM_PAGE_SIZE;
	else
		h.flags = WIRE_F_ZERO;
	if (fresh[ix(page)] & FRESH_SETTLED)
		h.flags |= WIRE_F_SETTLED;
	stats_home_request(page, to, 0, 0);
	tp_send(to, &h, m);
	stats_page_sent(to, page, id, h.len, 0, t0);
}

/* A FETCH of page arg and of the pages its payload lists (fetch_ahead),
 * each answered alone; MOVED for one whose home moved at the end of the
 * barrier this rank has left and the asker had not (in_epoch()). */
static void got_fetch(const struct wire_hdr *h, const uint8_t *payload)
{
	int src = (int)h->src;

	if (h->len % 8 || h->len / 8 > RC_FETCH_AHEAD)
		rt_fatal("rank %d sent a FETCH with a malformed list of pages (%u bytes)", src, h->len);
	for (uint32_t k = 0; k <= h->len / 8; k++) {
		uint64_t q = k ? get_le64(payload + 8 * (k - 1)) : h->arg;

		if (!rc_page(q))
			rt_fatal("rank %d asked for page %" PRIu64 ", which is not release-consistent", src, q);
		if (rc_home(q) == rt.rank) {
			serve_fetch(src, q, h->id);
		} else if (migrating && h->aux + 1 == epoch) {
			struct wire_hdr moved = { .type = WIRE_RC_PAGE, .flags = WIRE_F_MOVED, .arg = q,
						  .id = h->id };
			tp_send(src, &moved, NULL);
		} else {
			rt_fatal("rank %d asked for page %" PRIu64 ", whose home is rank %d", src, q, rc_home(q));
		}
	}
}

/* ---- diffs -------------------------------------------------------------- */

/*
 * Append to `b` the diff of `cur` against `tw`: u64 page, u16 runs, then
 * per run u16 offset, u16 length and the bytes.  Exact to the byte (a bitmap
 * of the bytes that changed, made a word at a time, then its runs), so
 * another rank's writes to other bytes of the same word survive.
 * Returns the number of bytes that changed.  The page is read-only here
 * (write-protected before), which ThreadSanitizer cannot know.
 */
__attribute__((no_sanitize("thread"), noinline))
static size_t diff_page(struct batch *b, uint64_t page, const uint8_t *tw, const volatile uint8_t *vcur)
{
	static uint8_t out[DSM_PAGE_SIZE * 3]; /* service thread only */
	static uint64_t bits[DSM_PAGE_SIZE / 64]; /* bit k: byte k changed */
	const uint8_t *cur = (const uint8_t *)vcur; /* write-protected: it holds still */
	const uint64_t lo7 = 0x7f7f7f7f7f7f7f7fULL;
	size_t n = 10, changed = 0, nw = DSM_PAGE_SIZE / 64;
	uint16_t runs = 0;
	uint64_t any = 0;

	/* Which bytes changed, a word at a time: a byte of x = cur ^ twin is
	 * nonzero iff its high bit is set in ((x & 0x7f..) + 0x7f..) | x; the
	 * multiplication gathers those 8 bits into the top byte. */
	for (size_t j = 0; j < DSM_PAGE_SIZE / 8; j++) {
		uint64_t x, y, hi;
		memcpy(&x, cur + 8 * j, 8);
		memcpy(&y, tw + 8 * j, 8);
		if (j % 8 == 0)
			bits[j / 8] = 0;
		if (!(x ^= y))
			continue;
		hi = (((x & lo7) + lo7) | x) & ~lo7;
		bits[j / 8] |= ((hi >> 7) * 0x0102040810204080ULL >> 56) << (8 * (j % 8));
		any = 1;
	}
	if (!any)
		return 0;
	for (size_t k = 0; k < DSM_PAGE_SIZE;) {
		size_t w = k / 64, start, end;
		uint64_t v = bits[w] & (~0ULL << (k % 64));

		while (!v && ++w < nw)
			v = bits[w];
		if (w == nw)
			break;
		start = w * 64 + (size_t)__builtin_ctzll(v);
		v = ~bits[w] & (~0ULL << (start % 64));
		while (!v && ++w < nw)
			v = ~bits[w];
		end = w == nw ? DSM_PAGE_SIZE : w * 64 + (size_t)__builtin_ctzll(v);
		put_le16(out + n, (uint16_t)start);
		put_le16(out + n + 2, (uint16_t)(end - start));
		memcpy(out + n + 4, cur + start, end - start);
		n += 4 + (end - start);
		changed += end - start;
		runs++;
		k = end;
	}
	put_le64(out, page);
	put_le16(out + 8, runs);
	batch_put(b, out, n);
	return changed;
}

/* The size of the diff entry at p (len bytes left), or 0 when it is
 * malformed. */
static size_t diff_len(const uint8_t *p, size_t len)
{
	size_t n = 10;
	uint16_t runs;

	if (len < 10)
		return 0;
	runs = get_le16(p + 8);
	for (uint16_t r = 0; r < runs; r++) {
		uint16_t off, l;
		if (n + 4 > len)
			return 0;
		off = get_le16(p + n);
		l = get_le16(p + n + 2);
		if (n + 4 + l > len || (size_t)off + l > DSM_PAGE_SIZE || l == 0)
			return 0;
		n += 4 + (size_t)l;
	}
	return n;
}

/* Write a diff entry (diff_len checked it) into the page's bytes at dst;
 * returns the 64-byte lines it wrote, as a bit mask. */
static uint64_t patch(uint8_t *dst, const uint8_t *p)
{
	uint16_t runs = get_le16(p + 8);
	uint64_t lines = 0;
	size_t at = 10;

	for (uint16_t r = 0; r < runs; r++) {
		uint16_t off = get_le16(p + at), l = get_le16(p + at + 2);
		memcpy(dst + off, p + at + 4, l);
		at += 4 + (size_t)l;
		for (unsigned k = off / 64; k <= (off + l - 1u) / 64u; k++)
			lines |= 1ULL << k;
	}
	return lines;
}

/* Apply a diff entry of n bytes (diff_len) of a page homed here to its
 * master. */
static void apply_diff(const uint8_t *p, size_t n, int from)
{
	uint64_t page = get_le64(p), lines;
	uint8_t *m = master[ix(page)];
	int64_t t0 = trace_clock();

	if (!m) {
		if (!(m = master[ix(page)] = calloc(1, DSM_PAGE_SIZE)))
			rt_fatal("out of memory for the master copy of page %" PRIu64, page);
		pvec_push(&mastered, page);
	}
	lines = patch(m, p);
	stat_bump(ST_DIFFS_APPLIED, 1);
	stat_bump(ST_DIFF_BYTES_APPLIED, n);
	stats_home_diff(page, from, lines);
	if (trace_on)
		trace_rec(TR_RC_APPLY, 0, t0, trace_clock(), page, (uint64_t)from, 0);
}

/* A diff entry of a page whose home may become this rank at the end of the
 * barrier its sender is in (pend): kept until then. */
static void keep_late(uint64_t page, const uint8_t *p, size_t n, int from)
{
	struct late *l = malloc(sizeof(*l) + n), **t = &late[ix(page)];

	if (!l)
		rt_fatal("out of memory for a diff of page %" PRIu64, page);
	l->next = NULL;
	l->n = n;
	l->from = from;
	memcpy(l->d, p, n);
	if (!*t)
		pvec_push(&late_pages, page);
	while (*t)
		t = &(*t)->next;
	*t = l;
}

/* Send rank `to` the diffs of batch b: for the pages it is home of, or
 * (WIRE_F_LATE) for those that may become its own at the end of this
 * barrier, or (WIRE_F_SETTLE) those of carried interval `arg`. */
static void send_batch(int to, struct batch *b, uint16_t flags, uint64_t arg)
{
	struct wire_hdr h = { .type = WIRE_RC_DIFF, .flags = flags, .len = (uint32_t)b->n, .aux = epoch,
			      .arg = arg };

	if (!b->n)
		return;
	h.id = ++next_id;
	tp_send(to, &h, b->b);
	acks_out++;
	b->n = 0;
}

/*
 * Diffs (in_epoch() let them in): each applied to its page's master here,
 * or, late ones (WIRE_F_LATE) for a page whose home may become this rank at
 * the end of the barrier its sender is in, kept until then.  A diff whose
 * page is homed here no more (its home moved at the end of the barrier this
 * rank has left and its sender was in), or a late one for a page that did
 * not move here, is dropped: its sender sent it to the page's home too.
 */
static void got_diff(const struct wire_hdr *h, const uint8_t *payload)
{
	struct wire_hdr ack = { .type = WIRE_RC_DIFF_ACK, .id = h->id };
	int from = (int)h->src, is_late = h->flags & WIRE_F_LATE;
	size_t off = 0;

	while (off < h->len) {
		size_t n = diff_len(payload + off, h->len - off);
		uint64_t page;

		if (!n)
			rt_fatal("rank %d sent a malformed diff", from);
		page = get_le64(payload + off);
		if (!rc_page(page))
			rt_fatal("rank %d sent a diff of page %" PRIu64 ", which is not release-consistent", from,
				 page);
		if (rc_home(page) == rt.rank && (h->flags & WIRE_F_SETTLE)) {
			/* A carried interval's, sent early: applied once (a
			 * home past the barrier applied it at its end). */
			if (h->aux == epoch) {
				apply_diff(payload + off, n, from);
				set_fresh(page, FRESH_SETTLED);
			}
		} else if (rc_home(page) == rt.rank && (!is_late || h->aux + 1 == epoch)) {
			apply_diff(payload + off, n, from);
		}
		else if (is_late && migrating && h->aux == epoch && pend[ix(page)] == rt.rank + 1)
			keep_late(page, payload + off, n, from);
		else if (!(migrating && (is_late || h->aux + 1 == epoch)))
			rt_fatal("rank %d sent a diff of page %" PRIu64 ", whose home is rank %d", from, page,
				 rc_home(page));
		off += n;
	}
	if ((h->flags & WIRE_F_SETTLE) && h->aux == epoch && settled[from] < h->arg)
		settled[from] = (uint32_t)h->arg;
	tp_send(from, &ack, NULL);
}

/* Batch each diff entry of d[0..len) for its page's home (none for the
 * pages homed here), sending full batches with flags and arg. */
static void batch_to_homes(const uint8_t *d, size_t len, uint16_t flags, uint64_t arg)
{
	for (size_t off = 0, n; off < len; off += n) {
		int home = rc_home(get_le64(d + off));

		n = diff_len(d + off, len - off);
		if (home == rt.rank)
			continue;
		if (batches[home].n + n > WIRE_MAX_PAYLOAD)
			send_batch(home, &batches[home], flags, arg);
		batch_put(&batches[home], d + off, n);
	}
}

/*
 * Another thread of this rank releases while this rank is inside the
 * barrier whose release carried its diffs (own_carry): they go to their
 * homes now, as any release's, marked WIRE_F_SETTLE so that a home applies
 * them once (now if it has not left the barrier, and not again at its
 * end), and the interval's pages join the one this release makes, so that
 * what this release's notices reach learns them with homes that have them.
 */
static void settle(void)
{
	struct ivl *v = own_carry;

	own_carry = NULL;
	batch_to_homes(v->diff, v->dlen, WIRE_F_SETTLE, v->idx);
	for (int r = 0; r < rt.size; r++)
		send_batch(r, &batches[r], WIRE_F_SETTLE, v->idx);
	for (uint32_t p = 0; p < v->n; p++) /* counted dirty (a_dirty) until now */
		pvec_push(&flushed, v->pages[p]);
	log_debug("rc: carried interval %u settled early: %u pages", v->idx, v->n);
}

/* The barrier's release made the diffs in c, of the pages in `flushed`:
 * they become this rank's carried interval of the barrier it enters.  The
 * pages stay counted dirty (a_dirty) until settle() or the barrier's end. */
static void carry_out(const struct batch *c)
{
	struct ivl *v = calloc(1, sizeof(*v));

	if (!v || !(v->pages = malloc(flushed.n * sizeof(uint64_t))) || !(v->diff = malloc(c->n)))
		rt_fatal("out of memory for an interval");
	qsort(flushed.v, flushed.n, sizeof(uint64_t), page_cmp);
	v->creator = (uint32_t)rt.rank;
	v->idx = ++my_idx;
	v->epoch = epoch;
	v->lam = ++lamport;
	v->n = (uint32_t)flushed.n;
	v->carried = 1;
	v->dlen = (uint32_t)c->n;
	memcpy(v->pages, flushed.v, flushed.n * sizeof(uint64_t));
	memcpy(v->diff, c->b, c->n);
	ivec_push(&carried_iv[epoch & 1], v);
	own_carry = v;
	flushed.n = 0;
	log_debug("rc: interval %u carried: %u pages, %u bytes of diffs", v->idx, v->n, v->dlen);
}

/* *dst (allocated when NULL) becomes a copy of this rank's view of `page`,
 * which it holds, each word read once.  Another thread of this rank may be
 * writing it (bytes that the page's next diff carries). */
__attribute__((no_sanitize("thread"), noinline))
static void keep_copy(uint8_t **dst, uint64_t page)
{
	const volatile uint64_t *src = rt.be->peek(page);
	uint64_t *d;

	if (!*dst && !(*dst = malloc(DSM_PAGE_SIZE)))
		rt_fatal("out of memory for a copy of page %" PRIu64, page);
	d = (uint64_t *)*dst;
	for (size_t k = 0; k < DSM_PAGE_SIZE / 8; k++)
		d[k] = src[k];
}

/* Does this rank's view of `page` (which it holds open for writing: other
 * threads of this rank may be writing it) hold the bytes of its twin?  A
 * write that this reading misses differs from the twin at the next. */
__attribute__((no_sanitize("thread"), noinline))
static int same_as_twin(uint64_t page, const uint8_t *tw)
{
	const uint64_t *cur = (const uint64_t *)rt.be->peek(page), *t = (const uint64_t *)tw;

	for (size_t k = 0; k < DSM_PAGE_SIZE / 8; k += 8) {
		uint64_t x = 0;
		for (size_t j = k; j < k + 8; j++)
			x |= cur[j] ^ t[j];
		if (x)
			return 0;
	}
	return 1;
}

/*
 * Open pages.  A page this rank rewrites release after release (an array
 * it updates every phase, its slot of a reduction) would cost, at each
 * release, a write-protection and, at its next write, a fault and an
 * unprotection: each a TLB shootdown, which dominates such a release.  So
 * a dirty page that was written in a recent epoch before (wrote[]) stays
 * open for writing across the release: its diff is made from a snapshot
 * of it, each word read once, against its twin, and the snapshot becomes
 * the twin; a write made meanwhile by another thread of this rank is in
 * the snapshot, and so in this diff, or not, and then it differs from the
 * twin and goes with the next.  An open page found unchanged at
 * RC_QUIET_RELEASES releases in a row closes (write-protected, diffed once
 * more as it holds still); an acquire that must drop it closes it first
 * (L_CLOSE), a fence closes all.  Not with migrating homes, whose barrier
 * moves pages that must hold still; DSM_RC_KEEP_OPEN=off turns it off.
 */
#define RC_QUIET_RELEASES 8
enum { L_OPEN = 0x80, L_CLOSE = 0x40, L_QUIET = 0x3f };

enum { K_CLOSE, K_CHANGED, K_QUIET }; /* keep_open()'s answers */

static int keep_open(uint64_t page, uint64_t i)
{
	uint8_t l = linger[i];

	if (!opening || close_all || (l & L_CLOSE))
		return K_CLOSE;
	if (!(l & L_OPEN) && !(wrote[i] && wrote[i] + RC_WROTE_EPOCHS > epoch))
		return K_CLOSE; /* written for the first time in a while */
	if (!same_as_twin(page, twin[i]))
		return K_CHANGED;
	/* Unchanged: a page that has not been open yet (opened by its
	 * neighbour's fault, rc_fault) closes at once, an open one after
	 * RC_QUIET_RELEASES. */
	return (l & L_OPEN) && (l & L_QUIET) + 1 < RC_QUIET_RELEASES ? K_QUIET : K_CLOSE;
}

/* Flush every dirty page: diff, send, downgrade (or keep open, above).
 * The pages count as dirty (a_dirty) until finish_flush() logs them.  A
 * barrier's release whose diffs are small, with nothing else in flight,
 * carries them in the barrier's rounds instead (carry_out). */
static void start_flush(void)
{
	static struct batch local, carry; /* service thread only */
	static uint8_t *keep;             /* per dirty page: it stays open */
	static size_t keep_cap;
	static uint8_t *snap;             /* the next open page's snapshot */
	size_t n = dirty.n, kept = 0;
	int carry_it = carrying && rel_then && !rel_waiters && !deferred && !acks_out && !flushed.n && !own_carry &&
		       n <= RC_CARRY_PAGES;

	if (own_carry)
		settle();
	if (n > keep_cap) {
		keep_cap = 2 * n;
		keep = xrealloc(keep, keep_cap);
	}
	qsort(dirty.v, n, sizeof(*dirty.v), page_cmp);
	for (size_t k = 0; k < n; k++)
		keep[k] = (uint8_t)keep_open(dirty.v[k], ix(dirty.v[k]));
	close_all = 0;
	/* Stop the writers of the pages that close before the diffs: one
	 * write-protection per run of pages (each is a TLB shootdown on every
	 * CPU the process runs on), or, where the backend allows, one for the
	 * span of a run of closing pages in the dirty list (every writable
	 * page is dirty: the others in the span are read-only or absent
	 * already). */
	for (size_t k = 0, e, g; k < n; k = e) {
		uint64_t span;
		int rc;
		if (keep[k]) {
			e = k + 1;
			continue;
		}
		for (g = k; g < n && !keep[g]; g++)
			;
		e = run_end(dirty.v, k, g, rt.be->wp_spans);
		span = dirty.v[e - 1] - dirty.v[k] + 1;
		if ((rc = rt.be->downgrade(dirty.v[k], span)))
			rt_fatal("cannot write-protect pages %" PRIu64 "..%" PRIu64 ": %s", dirty.v[k],
				 dirty.v[e - 1], strerror(-rc));
		for (size_t j = k; j < e; j++)
			__atomic_store_n(&rstate[ix(dirty.v[j])], R_READ, __ATOMIC_RELAXED);
	}
	carry.n = 0;
	for (size_t k = 0; k < n; k++) {
		uint64_t page = dirty.v[k], i = ix(page);
		int home = rc_home(page);
		struct batch *b;
		size_t changed, bytes;
		int64_t t0 = trace_clock();
		const uint8_t *cur;

		if (keep[k] == K_QUIET) { /* still dirty; a write since goes with the next */
			linger[i]++;
			dirty.v[kept++] = page;
			continue;
		}
		if (carry_it) {
			b = &carry;
		} else if (home == rt.rank) {
			b = &local;
			local.n = 0;
		} else {
			b = &batches[home];
			if (b->n > WIRE_MAX_PAYLOAD - 3 * DSM_PAGE_SIZE)
				send_batch(home, b, 0, 0);
		}
		if (keep[k]) {
			keep_copy(&snap, page);
			cur = snap;
		} else {
			cur = rt.be->peek(page);
		}
		bytes = b->n;
		changed = diff_page(b, page, twin[i], cur);
		bytes = b->n - bytes;
		if (changed && home == rt.rank)
			apply_diff(b->b + b->n - bytes, bytes, rt.rank);
		if (changed && migrating && in_bar && pend[i] && pend[i] != rt.rank + 1) {
			/* Inside the barrier whose end may make rank pend - 1
			 * the page's home: that rank gets the diff too. */
			int to = pend[i] - 1;
			if (lbatches[to].n > WIRE_MAX_PAYLOAD - 3 * DSM_PAGE_SIZE)
				send_batch(to, &lbatches[to], WIRE_F_LATE, 0);
			batch_put(&lbatches[to], b->b + b->n - bytes, bytes);
		}
		if (changed) {
			stat_bump(ST_DIFFS_SENT, 1);
			stat_bump(ST_DIFF_BYTES_SENT, bytes);
			if (trace_on)
				trace_rec(TR_RC_DIFF, 0, t0, trace_clock(), page, (uint64_t)home, 0);
		}
		wrote[i] = epoch + (uint32_t)in_bar + 1; /* its interval's epoch + 1 (finish_flush) */
		if (keep[k]) { /* the snapshot is the new twin; the page stays dirty */
			uint8_t *t = twin[i];
			twin[i] = snap;
			snap = t;
			linger[i] = L_OPEN;
			dirty.v[kept++] = page;
			if (changed)
				atomic_fetch_add(&a_dirty, 1); /* and flushed, until logged */
		} else {
			free(twin[i]);
			twin[i] = NULL;
			linger[i] = 0;
			if (!changed)
				atomic_fetch_sub(&a_dirty, 1); /* written with what it held: nothing to tell */
		}
		if (changed)
			pvec_push(&flushed, page);
	}
	dirty.n = kept;
	if (carry_it && flushed.n && carry.n + flushed.n * 8 <= carry_budget) {
		carry_out(&carry);
	} else if (carry_it) { /* too much for the rounds: to the homes, as any release's */
		batch_to_homes(carry.b, carry.n, 0, 0);
	}
	for (int r = 0; r < rt.size; r++) {
		send_batch(r, &batches[r], 0, 0);
		send_batch(r, &lbatches[r], WIRE_F_LATE, 0);
	}
}

static void log_add(struct ivl *v)
{
	struct ilog *l = &logs[v->creator];
	uint32_t pos = l->n;

	while (pos > 0 && l->v[pos - 1]->idx > v->idx)
		pos--;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	memmove(l->v + pos + 1, l->v + pos, (l->n - pos) * sizeof(*l->v));
	l->v[pos] = v;
	l->n++;
}

static int do_acquire(struct mbox_req *req);
static int do_fence(struct mbox_req *req);

static void send_with_notices(int to, int type, uint64_t arg)
{
	struct wire_hdr h = { .type = (uint8_t)type, .arg = arg };

	tp_send(to, &h, rc_notices_out(to, type, &h.len));
}

/* Every ack is in: the flushed pages become this rank's next interval. */
static void finish_flush(void)
{
	struct mbox_req *w, *acq;

	if (flushed.n) {
		size_t k = 0;

		qsort(flushed.v, flushed.n, sizeof(uint64_t), page_cmp);
		for (size_t j = 0; j < flushed.n; j++)
			if (!k || flushed.v[k - 1] != flushed.v[j])
				flushed.v[k++] = flushed.v[j];
		/* One interval, or several when its notice would not fit a
		 * message. */
		for (size_t at = 0; at < k; at += RC_IVL_PAGES) {
			size_t n = k - at < RC_IVL_PAGES ? k - at : RC_IVL_PAGES;
			struct ivl *v = calloc(1, sizeof(*v));

			if (!v)
				rt_fatal("out of memory for an interval");
			v->creator = (uint32_t)rt.rank;
			v->idx = ++my_idx;
			v->epoch = epoch + (uint32_t)in_bar; /* made inside a barrier: the next epoch's */
			v->lam = ++lamport;
			v->n = (uint32_t)n;
			v->applied = 1;
			v->pages = xrealloc(NULL, n * sizeof(uint64_t));
			memcpy(v->pages, flushed.v + at, n * sizeof(uint64_t));
			log_add(v);
			log_debug("rc: interval %u: %u pages, first %" PRIu64, v->idx, v->n, v->pages[0]);
		}
		atomic_fetch_sub(&a_dirty, flushed.n);
		flushed.n = 0;
	}
	while (deferred) {
		struct deferred_msg *d = deferred;
		deferred = d->next;
		send_with_notices(d->to, d->type, d->arg);
		free(d);
	}
	deferred_tail = &deferred;
	w = rel_waiters;
	rel_waiters = NULL;
	complete_all(w);
	if (rel_then) {
		struct mbox_req *r = rel_then;
		rel_then = NULL;
		rel_then_fn(r);
	}
	acq = acq_waiters;
	acq_waiters = NULL;
	while (acq) {
		struct mbox_req *nx = acq->next;
		if (acq->kind == MBOX_RC_FENCE)
			do_fence(acq);
		else
			do_acquire(acq);
		acq = nx;
	}
}

/* Flush the dirty pages, and finish (the waiters, the deferred messages)
 * once the homes acknowledged. */
static void flush(void)
{
	start_flush();
	if (acks_out == 0)
		finish_flush();
}

void rc_send_notices(int to)
{
	struct wire_hdr h = { .type = WIRE_RC_NOTICES };
	const void *p = rc_notices_out(to, WIRE_RC_NOTICES, &h.len);

	if (p)
		tp_send(to, &h, p);
}

void rc_send_flushed(int to, int type, uint64_t arg)
{
	struct deferred_msg *d;

	if (!dirty.n && !acks_out && !own_carry) {
		send_with_notices(to, type, arg);
		return;
	}
	if (!(d = malloc(sizeof(*d))))
		rt_fatal("out of memory for a deferred message");
	*d = (struct deferred_msg){ .to = to, .type = type, .arg = arg };
	*deferred_tail = d;
	deferred_tail = &d->next;
	flush();
}

static void got_ack(const struct wire_hdr *h)
{
	if (!acks_out)
		rt_fatal("rank %u acknowledged a diff this rank did not send (protocol error)", h->src);
	if (--acks_out == 0)
		finish_flush();
}

/* ---- acquire ------------------------------------------------------------ */

/* Drop this rank's copies of pages [page, page + n), which it holds. */
static void drop_run(uint64_t page, uint64_t n)
{
	int rc;

	if (!n)
		return;
	if ((rc = rt.be->drop(page, n)))
		rt_fatal("cannot drop pages %" PRIu64 "..%" PRIu64 ": %s", page, page + n - 1, strerror(-rc));
	for (uint64_t k = 0; k < n; k++) {
		__atomic_store_n(&rstate[ix(page + k)], R_INVALID, __ATOMIC_RELAXED);
		lost[ix(page + k)] = 1;
	}
	stat_bump(ST_INV_RECEIVED, n);
}

/* Another rank wrote these pages: this rank's copies go, each run of
 * adjacent pages with one call (one TLB shootdown). */
static void invalidate(const uint64_t *pages, size_t n)
{
	uint64_t run = 0, len = 0;

	for (size_t k = 0; k < n; k++) {
		uint64_t page = pages[k], i = ix(page);

		if (fetching[i])
			fetching[i]->stale = 1;
		if (rstate[i] != R_READ)
			continue;
		if (migrating && wrote[i] >= epoch + 1) { /* it may become the home's master */
			if (!saved[i])
				pvec_push(&saved_pages, page);
			keep_copy(&saved[i], page);
		}
		if (len && page == run + len && page < rt.region_pages) {
			len++;
			continue;
		}
		drop_run(run, len);
		run = page;
		len = 1;
	}
	drop_run(run, len);
}

/* Another rank's interval is applied here: its pages' copies are gone. */
static void notice_applied(struct ivl *v)
{
	v->applied = 1;
	stat_bump(ST_NOTICES_APPLIED, 1);
	if (trace_on) {
		int64_t t = trace_clock();
		trace_rec(TR_RC_NOTICE, 0, t, t, v->creator, v->n, 0);
	}
}

/* An acquire must first flush this rank's dirty pages: it waits for the
 * flush (acq_waiters) and runs again when the homes have acknowledged. */
static int wait_for_flush(struct mbox_req *req)
{
	req->next = acq_waiters;
	acq_waiters = req;
	flush();
	return 0;
}

/* Every interval learned is applied now (its pages invalidated, or, with
 * `drop`, the caller dropped everything): the acquire is complete. */
static int acquire_done(struct mbox_req *req, int drop)
{
	size_t k = n_unapplied;

	for (size_t j = 0; j < k; j++) {
		if (drop)
			invalidate(unapplied[j]->pages, unapplied[j]->n);
		notice_applied(unapplied[j]);
	}
	n_unapplied = 0;
	atomic_fetch_sub(&a_unapplied, k);
	req->next = NULL;
	complete_all(req);
	return 1;
}

/* Apply what this rank learned, once no page it would drop is dirty;
 * 1 when done (req completed), 0 when it waits for a flush. */
static int do_acquire(struct mbox_req *req)
{
	int dirty_ones = 0;

	if (n_early) { /* carried intervals named before its barrier's end */
		req->next = bar_acq_waiters;
		bar_acq_waiters = req;
		return 0;
	}
	for (size_t j = 0; j < n_unapplied; j++)
		for (uint32_t p = 0; p < unapplied[j]->n; p++) {
			uint64_t i = ix(unapplied[j]->pages[p]);
			if (rstate[i] == R_WRITE) {
				linger[i] |= L_CLOSE; /* an open page closes, to go */
				dirty_ones = 1;
			}
		}
	if (dirty_ones)
		return wait_for_flush(req);
	log_debug("rc: acquire applies %zu intervals", n_unapplied);
	return acquire_done(req, 1);
}

/*
 * dsm_acquire(): no synchronisation brought notices, so this rank cannot
 * know which of its copies are stale: it drops every clean one (after
 * flushing its dirty ones), and what it reads next comes from the homes,
 * which have every write released before.
 */
static int do_fence(struct mbox_req *req)
{
	static struct pvec all; /* service thread only */
	uint64_t np = n_rc;

	if (dirty.n) {
		close_all = 1; /* open pages too */
		return wait_for_flush(req);
	}
	all.n = 0;
	for (uint64_t i = 0; i < np; i++)
		if (rstate[i] == R_READ || fetching[i])
			pvec_push(&all, page_of(i));
	invalidate(all.v, all.n);
	return acquire_done(req, 0);
}

void rc_request(struct mbox_req *req)
{
	switch (req->kind) {
	case MBOX_RC_RELEASE:
		log_debug("rc: release, %zu dirty, %u acks out", dirty.n, acks_out);
		req->next = rel_waiters;
		rel_waiters = req;
		flush();
		break;
	case MBOX_RC_ACQUIRE:
		do_acquire(req);
		break;
	case MBOX_RC_FENCE:
		do_fence(req);
		break;
	default:
		mbox_complete(req, -ENOSYS);
	}
}

int rc_release_then(struct mbox_req *req, void (*then)(struct mbox_req *))
{
	if (!dirty.n && !acks_out)
		return 0;
	if (rel_then)
		rt_fatal("two releases wait to go on at once (internal error)");
	rel_then = req;
	rel_then_fn = then;
	flush();
	return 1;
}

int rc_release(void)
{
	struct mbox_req req = { .kind = MBOX_RC_RELEASE };

	if (atomic_load(&a_dirty) == 0)
		return 0;
	return tp_call(&req);
}

int rc_acquire(void)
{
	struct mbox_req req = { .kind = MBOX_RC_ACQUIRE };

	if (atomic_load(&a_unapplied) == 0)
		return 0;
	return tp_call(&req);
}

int dsm_release(void)
{
	if (!rt_live("dsm_release"))
		return -EINVAL;
	return rc_release();
}

int dsm_acquire(void)
{
	struct mbox_req req = { .kind = MBOX_RC_FENCE };

	if (!rt_live("dsm_acquire"))
		return -EINVAL;
	if (n_rc == 0)
		return 0;
	return tp_call(&req);
}

/* ---- write notices ------------------------------------------------------ */

static int carries_notices(int type)
{
	switch (type) {
	case WIRE_LOCK_GRANT:
	case WIRE_UNLOCK:
	case WIRE_SEM_GRANT:
	case WIRE_SEM_POST:
	case WIRE_BARRIER_ENTER:
	case WIRE_BARRIER_RELEASE:
	case WIRE_BARRIER_ROUND:
	case WIRE_RC_NOTICES:
		return 1;
	}
	return 0;
}

/* Append interval v's notice to b: u32 creator, u32 number, u32 epoch (the
 * barriers its creator had left), u32 Lamport time, u32 pages
 * (RC_IVL_CARRIED: a carried interval), with_diffs: u32 bytes of diffs;
 * then the pages (u64 each), with_diffs: then the diffs. */
static void put_notice(struct batch *b, const struct ivl *v, int with_diffs)
{
	uint8_t hdr[24];

	put_le32(hdr, v->creator);
	put_le32(hdr + 4, v->idx);
	put_le32(hdr + 8, v->epoch);
	put_le32(hdr + 12, v->lam);
	put_le32(hdr + 16, v->n | (v->carried ? RC_IVL_CARRIED : 0));
	put_le32(hdr + 20, v->dlen);
	batch_put(b, hdr, with_diffs ? 24 : 20);
	for (uint32_t p = 0; p < v->n; p++) {
		uint8_t pb[8];
		put_le64(pb, v->pages[p]);
		batch_put(b, pb, 8);
	}
	if (with_diffs)
		batch_put(b, v->diff, v->dlen);
}

/* Send the notices built in b (count of them) as RC_NOTICES; b is empty
 * again; returns 0. */
static uint32_t notices_ahead(int to, struct batch *b, uint32_t count)
{
	struct wire_hdr nh = { .type = WIRE_RC_NOTICES, .len = (uint32_t)b->n };

	put_le32(b->b, count);
	tp_send(to, &nh, b->b);
	b->n = 4;
	return 0;
}

/*
 * Notices: u32 count, then each interval's (put_notice).  A BARRIER_ROUND
 * adds the carried intervals of its barrier that its sender knows, with
 * their diffs: u32 count, then each (put_notice with diffs).
 */
const void *rc_notices_out(int to, int type, uint32_t *len)
{
	static struct batch out; /* service thread only */
	struct ivec *cv = &carried_iv[epoch & 1];
	size_t csize = 0;
	uint32_t count = 0;
	uint8_t hdr[4] = { 0 };

	*len = 0;
	if (to == rt.rank || !carries_notices(type) || !logs)
		return NULL;
	if (type == WIRE_BARRIER_ROUND)
		for (size_t k = 0; k < cv->n; k++)
			csize += 24 + (size_t)cv->v[k]->n * 8 + cv->v[k]->dlen;
	out.n = 0;
	batch_put(&out, hdr, 4);
	for (int c = 0; c < rt.size; c++) {
		struct ilog *l = &logs[c];
		uint32_t *kn = &known[(size_t)to * (size_t)rt.size + (size_t)c];
		uint32_t j = l->n;

		while (j > 0 && l->v[j - 1]->idx > *kn)
			j--;
		for (; j < l->n; j++) {
			struct ivl *v = l->v[j];
			size_t need = 20 + (size_t)v->n * 8, rest = csize ? csize + 4 : 0;
			/* More than one message holds: what is built goes ahead
			 * as RC_NOTICES, which the link delivers first; an
			 * interval that does not fit beside the carried ones
			 * goes alone. */
			if (out.n + need + rest > WIRE_MAX_PAYLOAD && count)
				count = notices_ahead(to, &out, count);
			put_notice(&out, v, 0);
			count++;
			*kn = v->idx;
			if (4 + need + rest > WIRE_MAX_PAYLOAD)
				count = notices_ahead(to, &out, count);
		}
	}
	put_le32(out.b, count);
	if (csize) {
		put_le32(hdr, (uint32_t)cv->n);
		batch_put(&out, hdr, 4);
		for (size_t k = 0; k < cv->n; k++)
			put_notice(&out, cv->v[k], 1);
	} else if (!count) {
		return NULL;
	}
	*len = (uint32_t)out.n;
	return out.b;
}

/*
 * An interval none of whose pages is dirty here is applied as soon as it is
 * learned, in the service thread, so the acquire that follows has nothing to
 * do (no round trip to the service thread).  Dropping a clean copy early is
 * always allowed: the next read fetches the home's copy, which holds every
 * write this rank must see by now and perhaps newer ones, never older.  A
 * dirty page must be flushed first, which only the acquire waits for.
 */
static int apply_now(struct ivl *v)
{
	for (uint32_t p = 0; p < v->n; p++)
		if (rstate[ix(v->pages[p])] == R_WRITE)
			return 0;
	invalidate(v->pages, v->n);
	notice_applied(v);
	return 1;
}

/* An interval learned, to apply at the next acquire. */
static void unapplied_push(struct ivl *v)
{
	if (n_unapplied == cap_unapplied) {
		cap_unapplied = cap_unapplied ? 2 * cap_unapplied : 64;
		unapplied = xrealloc(unapplied, cap_unapplied * sizeof(*unapplied));
	}
	unapplied[n_unapplied++] = v;
	atomic_fetch_add(&a_unapplied, 1);
}

static struct ivl *log_find(uint32_t c, uint32_t idx)
{
	struct ilog *l = &logs[c];

	for (uint32_t j = l->n; j > 0; j--) {
		if (l->v[j - 1]->idx == idx)
			return l->v[j - 1];
		if (l->v[j - 1]->idx < idx)
			break;
	}
	return NULL;
}

/* A notice's header as put_notice() wrote it. */
struct nhdr {
	uint32_t c, idx, ep, lam, n, dlen;
	int carried;
};

/* Read a notice's header at p (with_diffs: a carried one's, with its
 * length of diffs); the Lamport clock moves past its time.  Returns the
 * bytes after it, or NULL when fewer than it needs remain or its creator
 * or number cannot be. */
static const uint8_t *get_notice(const uint8_t *p, const uint8_t *end, int with_diffs, struct nhdr *nh)
{
	size_t hl = with_diffs ? 24 : 20;

	if ((size_t)(end - p) < hl)
		return NULL;
	nh->c = get_le32(p);
	nh->idx = get_le32(p + 4);
	nh->ep = get_le32(p + 8);
	nh->lam = get_le32(p + 12);
	nh->n = get_le32(p + 16);
	nh->dlen = with_diffs ? get_le32(p + 20) : 0;
	nh->carried = (nh->n & RC_IVL_CARRIED) != 0;
	nh->n &= ~RC_IVL_CARRIED;
	if (nh->c >= (uint32_t)rt.size || nh->idx == 0)
		return NULL;
	if (nh->lam > lamport)
		lamport = nh->lam;
	return p + hl;
}

/* The u32 count at p; the bytes after it, or NULL when it is not there. */
static const uint8_t *get_count(const uint8_t *p, const uint8_t *end, uint32_t *count)
{
	if (end - p < 4)
		return NULL;
	*count = get_le32(p);
	return p + 4;
}

/* Is (c, idx) among the carried intervals of the barrier ending epoch ep? */
static int carried_has(uint32_t ep, uint32_t c, uint32_t idx)
{
	struct ivec *cv = &carried_iv[ep & 1];

	for (size_t k = 0; k < cv->n; k++)
		if (cv->v[k]->creator == c && cv->v[k]->idx == idx)
			return 1;
	return 0;
}

/* A BARRIER_ROUND's carried intervals (rc_notices_out), from p to end:
 * kept, once each, until their barrier's end (carried_done).  NULL when
 * malformed. */
static const uint8_t *carried_in(int from, const uint8_t *p, const uint8_t *end)
{
	uint32_t count;

	if (!(p = get_count(p, end, &count)))
		return NULL;
	for (uint32_t k = 0; k < count; k++) {
		struct nhdr nh;
		uint32_t c, idx, ep, lam, n, dlen;
		struct ivl *v;

		if (!(p = get_notice(p, end, 1, &nh)) || !nh.carried)
			return NULL;
		c = nh.c, idx = nh.idx, ep = nh.ep, lam = nh.lam, n = nh.n, dlen = nh.dlen;
		if (n == 0 || (size_t)(end - p) / 8 < n || (size_t)(end - p) - (size_t)n * 8 < dlen)
			return NULL;
		if (!carrying)
			rt_fatal("rank %d carried diffs in a barrier's rounds, which this rank does not (are "
				 "DSM_RC_HOMES and the servers the same for every rank?)", from);
		if (ep != epoch && ep != epoch + 1)
			rt_fatal("rank %d sent a carried interval of barrier epoch %u, but this rank is in epoch %u "
				 "(protocol error)", from, ep, epoch);
		/* The pages, ascending, and each diff of one of them. */
		for (uint32_t j = 0; j < n; j++) {
			uint64_t q = get_le64(p + 8 * (size_t)j);
			if (!rc_page(q) || (j && q <= get_le64(p + 8 * (size_t)(j - 1))))
				return NULL;
		}
		for (size_t off = 0, m; off < dlen; off += m) {
			const uint8_t *d = p + (size_t)n * 8 + off;
			size_t lo = 0, hi = n; /* the ascending pages: a binary search */
			if (!(m = diff_len(d, dlen - off)))
				return NULL;
			while (lo < hi) {
				size_t mid = (lo + hi) / 2;
				if (get_le64(p + 8 * mid) < get_le64(d))
					lo = mid + 1;
				else
					hi = mid;
			}
			if (lo == n || get_le64(p + 8 * lo) != get_le64(d))
				return NULL;
		}
		v = c == (uint32_t)rt.rank || idx <= gc_bound[c] ? NULL : log_find(c, idx);
		if (c == (uint32_t)rt.rank || idx <= gc_bound[c] || (v && !(v->carried && !v->applied)) ||
		    carried_has(ep, c, idx)) {
			p += (size_t)n * 8 + dlen;
			continue;
		}
		if (v) /* logged early, without its diffs (rc_notices_in) */
			free(v->pages);
		else if (!(v = calloc(1, sizeof(*v))))
			rt_fatal("out of memory for a carried interval");
		if (!(v->pages = malloc((size_t)n * 8)) || !(v->diff = malloc(dlen ? dlen : 1)))
			rt_fatal("out of memory for a carried interval");
		v->creator = c;
		v->idx = idx;
		v->epoch = ep;
		v->lam = lam;
		v->n = n;
		v->carried = 1;
		v->dlen = dlen;
		for (uint32_t j = 0; j < n; j++, p += 8)
			v->pages[j] = get_le64(p);
		memcpy(v->diff, p, dlen);
		p += dlen;
		ivec_push(&carried_iv[ep & 1], v);
	}
	return p;
}

void rc_notices_in(const struct wire_hdr *h, const uint8_t *payload)
{
	const uint8_t *p = payload, *end = payload + h->len;
	uint32_t count;
	int from = (int)h->src;

	if (!carries_notices(h->type) || h->len == 0 || from == rt.rank)
		return;
	if (!(p = get_count(p, end, &count)))
		goto bad;
	for (uint32_t k = 0; k < count; k++) {
		struct nhdr nh;
		struct ivl *v;
		uint32_t *kn, c, idx, ep, n;

		if (!(p = get_notice(p, end, 0, &nh)))
			goto bad;
		c = nh.c, idx = nh.idx, ep = nh.ep, n = nh.n;
		if ((size_t)(end - p) / 8 < n)
			goto bad;
		kn = &known[(size_t)from * (size_t)rt.size + c];
		if (idx > *kn)
			*kn = idx;
		if (c == (uint32_t)rt.rank || idx <= gc_bound[c] || log_find(c, idx)) {
			p += (size_t)n * 8;
			continue;
		}
		if (nh.carried && (!in_bar || ep != epoch || !carrying))
			rt_fatal("rank %d sent the notice of carried interval %u of rank %u from barrier epoch %u, "
				 "but this rank is in epoch %u%s (protocol error)", from, idx, c, ep, epoch,
				 in_bar ? ", inside a barrier" : "");
		if (!(v = calloc(1, sizeof(*v))) || !(v->pages = malloc((size_t)(n ? n : 1) * 8)))
			rt_fatal("out of memory for write notices");
		v->creator = c;
		v->idx = idx;
		v->epoch = ep;
		v->lam = nh.lam;
		v->n = n;
		for (uint32_t j = 0; j < n; j++, p += 8) {
			v->pages[j] = get_le64(p);
			if (!rc_page(v->pages[j]))
				rt_fatal("rank %d sent a write notice for page %" PRIu64 ", which is not "
					 "release-consistent", from, v->pages[j]);
		}
		log_add(v);
		log_debug("rc: learned interval %u of rank %u from rank %d (%s): %u pages", idx, c, from,
			  wire_type_name(h->type), n);
		if (nh.carried) {
			/* Its sender logged it at the end of the barrier this
			 * rank is still in (every rank entered it): logged here
			 * too, to pass on, and the rounds bring its diffs by the
			 * end of that barrier, which the acquire this message
			 * leads to waits for (carried_done applies it). */
			v->carried = 1;
			log_debug("rc: carried interval %u of rank %u named by rank %d before this barrier's end",
				  idx, c, from);
			n_early++;
			atomic_fetch_add(&a_unapplied, 1);
			continue;
		}
		if (!apply_now(v))
			unapplied_push(v);
	}
	if (h->type == WIRE_BARRIER_ROUND && p < end && !(p = carried_in(from, p, end)))
		goto bad;
	if (p != end)
		goto bad;
	return;
bad:
	rt_fatal("rank %d sent %s with malformed write notices (%u bytes)", from, wire_type_name(h->type), h->len);
}

/* ---- homes that move --------------------------------------------------- */

void rc_barrier_entered(void)
{
	in_bar = migrating || carrying;
}

struct wpage {
	uint64_t page;
	uint32_t creator;
};

static int wpage_cmp(const void *a, const void *b)
{
	const struct wpage *x = a, *y = b;

	if (x->page != y->page)
		return x->page < y->page ? -1 : 1;
	return x->creator < y->creator ? -1 : x->creator > y->creator;
}

/* `page`'s home becomes rank `to`. */
static void move_home(uint64_t page, int to)
{
	uint64_t i = ix(page);
	int from = rc_home(page);

	rhome[i] = to == page_home(page) ? 0 : to + 1;
	if (from == rt.rank) {
		free(master[i]);
		master[i] = NULL;
	}
	if (to == rt.rank && !master[i]) {
		/* This rank alone wrote the page since the barrier before:
		 * its copy, released before this one, is the master's. */
		if (rstate[i] != R_INVALID) {
			keep_copy(&master[i], page);
		} else if (saved[i]) {
			master[i] = saved[i];
			saved[i] = NULL;
		} else {
			rt_fatal("page %" PRIu64 " moves its home here, but this rank has no copy of it "
				 "(internal error)", page);
		}
		pvec_push(&mastered, page);
	}
	if (trace_on) {
		int64_t t = trace_clock();
		trace_rec(TR_RC_HOME, 0, t, t, page, (uint64_t)to, 0);
	}
}

/* The rank that alone wrote page w[a].page in the epoch (-1: several), and
 * in *end the end of the page's entries in w. */
static int sole_writer(const struct wpage *w, size_t n, size_t a, size_t *end)
{
	int sole = (int)w[a].creator;
	size_t b;

	for (b = a + 1; b < n && w[b].page == w[a].page; b++)
		if (w[b].creator != w[a].creator)
			sole = -1;
	*end = b;
	return sole;
}

static int wpage_find(const struct wpage *w, size_t n, uint64_t page, size_t *at)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (w[mid].page < page)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return lo < n && w[lo].page == page;
}

/*
 * Homes move to their writers (JIAJIA's home migration), at the end of
 * barriers, computed alike on every rank from what every rank knows there:
 * the intervals of the epoch that ends (each rank's were made before it
 * entered, and the barrier's rounds carried the union of what every rank
 * knew at its entry; what a rank makes inside a barrier belongs to the next
 * epoch).  An arena page that exactly one rank, not its home, wrote in the
 * epoch gets that rank as pend; at the end of the next barrier, if that rank
 * alone wrote it again in between, the page's home becomes that rank.  From
 * then on the writer's releases apply its diffs in place, with no message,
 * and the other ranks fetch the page from it.
 *
 * The master does not travel: nobody else wrote the page in the epoch, and
 * every older write was applied at the acquire that ended the previous
 * barrier, so the old home's master (which holds the writer's diffs, every
 * one acknowledged before the writer entered the barrier) and the writer's
 * own copy are equal.  The new home copies its page, or the copy it kept
 * when it had to drop the page (saved).  What other ranks release inside
 * the deciding barrier (other threads: RPC handlers, locks) goes, as diffs,
 * to the old home and, late, to pend (start_flush), which applies it after
 * the copy; the old home drops it if the page has left it by then.  The
 * delay of one barrier is what lets every rank know pend inside it.  Ranks
 * leave a barrier one by one: a FETCH or DIFF from a rank already past it
 * waits here for the end (in_epoch()); a FETCH that reaches a home the page
 * has left is answered MOVED and asked again.  dsm_init's barrier (epoch
 * 0) moves at once the homes a restart claims (rc_ckpt_install).
 */
static void migrate(void)
{
	struct wpage *w = NULL;
	size_t n = 0, cap = 0, moved = 0, kept = 0;

	for (int c = 0; c < rt.size; c++)
		for (uint32_t j = 0; j < logs[c].n; j++) {
			struct ivl *v = logs[c].v[j];
			if (v->epoch != epoch)
				continue;
			for (uint32_t p = 0; p < v->n; p++) {
				if (v->pages[p] >= rc_end) /* DSM_SHARED_RC variables stay at rank 0 */
					continue;
				if (n == cap) {
					cap = cap ? 2 * cap : 256;
					w = xrealloc(w, cap * sizeof(*w));
				}
				w[n++] = (struct wpage){ v->pages[p], (uint32_t)c };
			}
		}
	if (n)
		qsort(w, n, sizeof(*w), wpage_cmp);
	log_debug("rc: barrier epoch %u ends: %zu pages written, %zu pending", epoch, n, pend_pages.n);
	/* A pending page that nobody wrote stays pending; one that its pend
	 * alone wrote moves; one that another rank wrote stays put. */
	for (size_t k = 0; k < pend_pages.n; k++) {
		uint64_t page = pend_pages.v[k], i = ix(page);
		size_t at, end;
		int to = pend[i] - 1;

		if (!wpage_find(w, n, page, &at)) {
			pend_pages.v[kept++] = page;
			continue;
		}
		if (sole_writer(w, n, at, &end) == to) {
			move_home(page, to);
			moved++;
			for (struct late *l = late[i]; l && to == rt.rank; l = l->next)
				apply_diff(l->d, l->n, l->from);
		}
		pend[i] = 0;
	}
	pend_pages.n = kept;
	for (size_t k = 0; k < late_pages.n; k++)
		drop_late(ix(late_pages.v[k]));
	late_pages.n = 0;
	/* The pages one rank wrote, not their home, are pending now. */
	for (size_t a = 0, b; a < n; a = b) {
		int sole = sole_writer(w, n, a, &b);
		uint64_t page = w[a].page;

		if (sole < 0 || sole == rc_home(page) || pend[ix(page)])
			continue;
		if (epoch == 0) { /* a restart's claim */
			move_home(page, sole);
			moved++;
		} else {
			pend[ix(page)] = sole + 1;
			pvec_push(&pend_pages, page);
		}
	}
	free(w);
	if (moved) {
		size_t k = 0;
		for (size_t j = 0; j < mastered.n; j++)
			if (master[ix(mastered.v[j])])
				mastered.v[k++] = mastered.v[j];
		mastered.n = k;
		log_debug("rc: %zu pages changed home at the end of barrier epoch %u", moved, epoch);
	}
	for (size_t j = 0; j < saved_pages.n; j++) { /* what a copy kept is stale now */
		uint64_t i = ix(saved_pages.v[j]);
		free(saved[i]);
		saved[i] = NULL;
	}
	saved_pages.n = 0;
}

/* ---- carried intervals at a barrier's end ------------------------------- */

/* A diff entry of a carried interval (the k-th in Lamport order). */
struct centry {
	uint64_t page;
	size_t k, n;
	const uint8_t *d;
};

static int ivl_order(const void *a, const void *b)
{
	const struct ivl *x = *(struct ivl *const *)a, *y = *(struct ivl *const *)b;

	if (x->lam != y->lam)
		return x->lam < y->lam ? -1 : 1;
	if (x->creator != y->creator)
		return x->creator < y->creator ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int centry_cmp(const void *a, const void *b)
{
	const struct centry *x = a, *y = b;

	if (x->page != y->page)
		return x->page < y->page ? -1 : 1;
	return x->k < y->k ? -1 : x->k > y->k;
}

/* Does this rank know an interval of creator c newer than idx that names
 * `page`?  (The creator settled idx early: settle().) */
static int newer_names(uint32_t c, uint32_t idx, uint64_t page)
{
	struct ilog *l = &logs[c];

	for (uint32_t j = l->n; j > 0 && l->v[j - 1]->idx > idx; j--)
		for (uint32_t p = 0; p < l->v[j - 1]->n; p++)
			if (l->v[j - 1]->pages[p] == page)
				return 1;
	return 0;
}

/*
 * A page this rank holds open for writing (start_flush) takes the others'
 * diffs in place, and its twin with it, so that its next diff has only
 * this rank's writes.  This rank's own are in it already, and perhaps
 * newer writes of its threads over them; the others' bytes are not ones
 * this rank writes meanwhile in a data-race-free program.  The page is
 * writable, so the service thread writes it where the application does
 * (or through the backend's second view).
 */
static void patch_open(uint64_t page, const struct ivec *cv, const struct centry *e, size_t n)
{
	uint8_t *dst = rt.be->poke ? rt.be->poke(page) : (uint8_t *)page_addr(page);
	uint8_t *tw = twin[ix(page)];

	linger[ix(page)] = L_OPEN; /* others keep writing it: not quiet */
	for (size_t j = 0; j < n; j++)
		if (cv->v[e[j].k]->creator != (uint32_t)rt.rank) {
			patch(dst, e[j].d);
			patch(tw, e[j].d);
		}
}

/*
 * Copies this rank holds for reading take diffs without a message
 * (carried_done): patched in place where the backend lets the service
 * thread write a read-only page (SIGSEGV: its second view).  Elsewhere
 * (userfaultfd) a copy that cannot be written in place opens, when pages
 * may stay open: its twin is the copy patched, the page is unprotected (a
 * run of pages with one call: one TLB flush) and then patched in place,
 * and from then on it is an open page (start_flush) that the next
 * barriers patch in place with no call at all (patch_open): a copy of data
 * others rewrite every few releases stays open while they do.  Else it is
 * copied, patched, dropped (one call a run) and installed again.  The
 * pages are added in increasing order.
 */
static struct {
	uint64_t *page;
	uint8_t *data;                /* the patched copies (not open) */
	const struct centry **e;      /* the diffs of each page (open) */
	size_t *ne;
	size_t n, cap;
} upd;

static void update_add(uint64_t page, const struct centry *e, size_t n)
{
	uint8_t *dst = rt.be->poke ? rt.be->poke(page) : NULL;

	if (!dst) {
		if (upd.n == upd.cap) {
			upd.cap = upd.cap ? 2 * upd.cap : 16;
			upd.page = xrealloc(upd.page, upd.cap * sizeof(*upd.page));
			if (!opening)
				upd.data = xrealloc(upd.data, upd.cap * DSM_PAGE_SIZE);
			upd.e = xrealloc(upd.e, upd.cap * sizeof(*upd.e));
			upd.ne = xrealloc(upd.ne, upd.cap * sizeof(*upd.ne));
		}
		upd.e[upd.n] = e;
		upd.ne[upd.n] = n;
		upd.page[upd.n++] = page;
		if (opening) /* it opens: update_done() */
			return;
		dst = upd.data + (upd.n - 1) * DSM_PAGE_SIZE;
		memcpy(dst, rt.be->peek(page), DSM_PAGE_SIZE); /* read-only: it holds still */
	}
	for (size_t j = 0; j < n; j++)
		patch(dst, e[j].d);
}

static void update_done(const struct ivec *cv)
{
	for (size_t k = 0, e; k < upd.n; k = e) {
		int rc;
		e = run_end(upd.page, k, upd.n, 0);
		if (opening) {
			/* Its twin the copy as it holds still, counted dirty
			 * before it is writable; then the others' diffs. */
			for (size_t j = k; j < e; j++)
				make_twin(upd.page[j], rt.be->peek(upd.page[j]));
			if ((rc = rt.be->upgrade(upd.page[k], upd.page[e - 1] - upd.page[k] + 1)))
				rt_fatal("cannot open pages %" PRIu64 "..%" PRIu64 ": %s", upd.page[k],
					 upd.page[e - 1], strerror(-rc));
			for (size_t j = k; j < e; j++) {
				__atomic_store_n(&rstate[ix(upd.page[j])], R_WRITE, __ATOMIC_RELAXED);
				patch_open(upd.page[j], cv, upd.e[j], upd.ne[j]);
			}
			continue;
		}
		if ((rc = rt.be->drop(upd.page[k], upd.page[e - 1] - upd.page[k] + 1)))
			rt_fatal("cannot drop pages %" PRIu64 "..%" PRIu64 ": %s", upd.page[k], upd.page[e - 1],
				 strerror(-rc));
		for (size_t j = k; j < e; j++)
			install(upd.page[j], upd.data + j * DSM_PAGE_SIZE, 0);
	}
	upd.n = 0;
}

/*
 * The end of a barrier: every rank has every carried interval of it.  Each
 * page they name, in creator order: at its home, the diffs go into the
 * master (not this rank's own, applied at its release, nor those settled
 * early); a copy this rank held since before the barrier takes them all
 * (its own too, so that every copy ends alike); a copy installed during
 * the barrier (it may hold some of them, or newer writes), or of a page
 * its creator settled since, goes; a page written here meanwhile waits
 * for the acquire, which flushes it first.  Then the intervals join the
 * logs, as every rank knows them.
 */
static void carried_done(void)
{
	static struct centry *e; /* service thread only */
	static size_t cap;
	struct ivec *cv = &carried_iv[epoch & 1];
	size_t ne = 0;

	if (own_carry) { /* not settled: its pages were counted dirty until now */
		atomic_fetch_sub(&a_dirty, own_carry->n);
		own_carry = NULL;
	}
	qsort(cv->v, cv->n, sizeof(*cv->v), ivl_order);
	for (size_t k = 0; k < cv->n; k++) {
		struct ivl *v = cv->v[k];
		v->applied = 1;
		for (size_t off = 0, m; off < v->dlen; off += m) {
			m = diff_len(v->diff + off, v->dlen - off);
			if (ne == cap) {
				cap = cap ? 2 * cap : 256;
				e = xrealloc(e, cap * sizeof(*e));
			}
			e[ne++] = (struct centry){ get_le64(v->diff + off), k, m, v->diff + off };
		}
	}
	qsort(e, ne, sizeof(*e), centry_cmp);
	for (size_t a = 0, b; a < ne; a = b) {
		uint64_t page = e[a].page, i = ix(page);
		int others = 0, newer = 0;

		for (b = a; b < ne && e[b].page == page; b++) {
			struct ivl *v = cv->v[e[b].k];
			newer |= newer_names(v->creator, v->idx, page);
			if (v->creator == (uint32_t)rt.rank)
				continue;
			others = 1;
			if (rc_home(page) == rt.rank && settled[v->creator] < v->idx)
				apply_diff(e[b].d, e[b].n, (int)v->creator);
		}
		if (!others)
			continue;
		if (fetching[i])
			fetching[i]->stale = 1;
		if (rstate[i] == R_WRITE && (linger[i] & L_OPEN) && !(fresh[i] & FRESH_COPY) && !newer) {
			patch_open(page, cv, e + a, b - a);
		} else if (rstate[i] == R_WRITE) {
			for (size_t j = a; j < b; j++) {
				struct ivl *v = cv->v[e[j].k];
				if (v->creator != (uint32_t)rt.rank && v->applied) {
					v->applied = 0;
					unapplied_push(v);
				}
			}
		} else if (rstate[i] == R_READ && ((fresh[i] & FRESH_COPY) || newer)) {
			invalidate(&page, 1);
		} else if (rstate[i] == R_READ) {
			update_add(page, e + a, b - a);
		}
	}
	update_done(cv);
	for (size_t k = 0; k < cv->n; k++) {
		struct ivl *v = cv->v[k];
		free(v->diff);
		v->diff = NULL;
		v->dlen = 0;
		if (v->applied && v->creator != (uint32_t)rt.rank)
			notice_applied(v);
		if (log_find(v->creator, v->idx) != v) /* else logged early (rc_notices_in) */
			log_add(v);
	}
	if (cv->n)
		log_debug("rc: barrier epoch %u ends: %zu carried intervals, %zu diffs", epoch, cv->n, ne);
	cv->n = 0;
	for (size_t k = 0; k < fresh_pages.n; k++)
		fresh[ix(fresh_pages.v[k])] = 0;
	fresh_pages.n = 0;
}

/* What waited for the barrier's end, in the order it came. */
static void run_postponed(void)
{
	struct postponed *q = postponed;

	postponed = NULL;
	postponed_tail = &postponed;
	while (q) {
		struct postponed *nx = q->next;
		struct fetch *f;

		switch (q->kind) {
		case P_MSG:
			rc_handle(&q->h, q->payload);
			break;
		case P_ASK:
			if ((f = fetching[ix(q->page)]))
				ask(q->page, f);
			break;
		}
		free(q);
		q = nx;
	}
}

void rc_barrier_left(void)
{
	struct mbox_req *w;

	if (!logs)
		return;
	if (carrying)
		carried_done();
	if (migrating)
		migrate();
	for (int c = 0; logs && c < rt.size; c++) {
		struct ilog *l = &logs[c];
		uint32_t k = 0, j;

		for (j = 0; j < l->n; j++) {
			struct ivl *v = l->v[j];
			if (v->idx <= gc_bound[c] && v->applied) {
				ivl_free(v);
			} else {
				l->v[k++] = v;
			}
		}
		l->n = k;
		gc_bound[c] = k ? l->v[k - 1]->idx : gc_bound[c];
		if (c == rt.rank && my_idx > gc_bound[c])
			gc_bound[c] = my_idx;
	}
	epoch++;
	in_bar = 0;
	run_postponed();
	if (n_early) { /* acquires that waited for the carried intervals */
		atomic_fetch_sub(&a_unapplied, n_early);
		n_early = 0;
	}
	w = bar_acq_waiters;
	bar_acq_waiters = NULL;
	while (w) {
		struct mbox_req *nx = w->next;
		do_acquire(w);
		w = nx;
	}
}

/* ---- checkpoints -------------------------------------------------------- */

/*
 * The home's master copies hold every write released before the
 * checkpoint's first barrier (each rank's release there waited for its
 * homes' acknowledgements), so a page homed here that has no master is all
 * zeros, and one that has is read back through the region, like the
 * sequentially consistent pages (after the barrier's acquire this rank's
 * copy, or the one a fault installs from the master, is the master's).
 */
int rc_ckpt_list(uint64_t **pages, size_t *n)
{
	uint64_t *v = malloc((mastered.n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	memcpy(v, mastered.v, mastered.n * sizeof(*v));
	*pages = v;
	*n = mastered.n;
	return 0;
}

int rc_ckpt_install(uint64_t page, const void *data)
{
	uint64_t i = ix(page);

	/* An arena page whose home had moved here: a claim, which the end of
	 * dsm_init's barrier turns into the same move on every rank. */
	if (!rc_page(page) || (page_home(page) != rt.rank && page >= rc_end))
		return -EINVAL;
	if (page_home(page) != rt.rank && !migrating) {
		log_err("page %" PRIu64 "'s home had moved to rank %d when the checkpoint was taken, but this "
			"job's homes stay put (DSM_RC_HOMES=static, or servers)", page, rt.rank);
		return -EINVAL;
	}
	if (master[i])
		return -EEXIST;
	if (!(master[i] = malloc(DSM_PAGE_SIZE)))
		return -ENOMEM;
	memcpy(master[i], data, DSM_PAGE_SIZE);
	pvec_push(&mastered, page);
	if (page_home(page) != rt.rank)
		pvec_push(&flushed, page);
	return 0;
}

/* The claims (rc_ckpt_install) become this rank's intervals of epoch 0,
 * which dsm_init's barrier makes known to every rank. */
void rc_ckpt_restored(void)
{
	if (flushed.n) {
		atomic_fetch_add(&a_dirty, flushed.n);
		finish_flush();
	}
}

/* ---- messages ----------------------------------------------------------- */

/*
 * A FETCH or a DIFF names the barriers its sender had left (aux), which say
 * where it thought the page's home was: one more than this rank has left
 * means the sender is past the barrier this rank is still in, whose end may
 * make this rank the home; the message waits for it.  One less: the sender
 * had not left the barrier this rank has left: a FETCH of a thread that
 * asked before its rank entered it (got_fetch() answers MOVED for a page
 * the barrier moved), or a DIFF of another thread's release inside it
 * (got_diff() applies it, or drops it where the page moved: its pend had a
 * copy).  1: handle the message now.
 */
static int in_epoch(const struct wire_hdr *h, const uint8_t *payload)
{
	if (!(migrating || carrying) || h->aux == epoch)
		return 1;
	if (h->aux == epoch + 1 && in_bar) {
		postpone(P_MSG, 0, h, payload);
		return 0;
	}
	if (h->aux + 1 == epoch)
		return 1;
	rt_fatal("rank %u sent %s of barrier epoch %u, but this rank is in epoch %u%s (protocol error)", h->src,
		 wire_type_name(h->type), h->aux, epoch, in_bar ? ", inside a barrier" : "");
	return 0;
}

void rc_handle(const struct wire_hdr *h, const uint8_t *payload)
{
	int src = (int)h->src;

	if ((h->type == WIRE_RC_FETCH || h->type == WIRE_RC_DIFF) && !in_epoch(h, payload))
		return;
	switch (h->type) {
	case WIRE_RC_FETCH:
	case WIRE_RC_PAGE:
		if (!rc_page(h->arg))
			rt_fatal("rank %d sent %s for page %" PRIu64 ", which is not release-consistent", src,
				 wire_type_name(h->type), h->arg);
		if (h->type == WIRE_RC_PAGE) {
			got_page(h, payload);
			break;
		}
		got_fetch(h, payload);
		break;
	case WIRE_RC_DIFF:
		got_diff(h, payload);
		break;
	case WIRE_RC_DIFF_ACK:
		got_ack(h);
		break;
	case WIRE_RC_NOTICES:
		rc_notices_in(h, payload);
		break;
	default:
		rt_fatal("rank %d sent an unexpected %s message", src, wire_type_name(h->type));
	}
}

const struct coh_ops coh_sc_ops = {
	.name = "sequential",
	.fault = coh_fault,
	.holds_readable = coh_holds_readable,
};

const struct coh_ops coh_rc_ops = {
	.name = "release",
	.fault = rc_fault,
	.holds_readable = rc_holds_readable,
};
