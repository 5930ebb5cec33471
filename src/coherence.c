/*
 * coherence.c - sequentially consistent page coherence.
 *
 * Design.  Every page has a home rank (page_home(); with DSM_HOME=first-touch
 * the rank that touched it first, see "first-touch homes") that keeps its directory
 * entry: the owner, which holds a valid copy and serves it, and the sharers,
 * other ranks that hold read-only copies.  An untouched page has no entry: it
 * is owned by its home, has no sharers and is all zeros ("virgin": the home
 * may not even have it mapped).  Each rank keeps its own view of every page
 * in `pstate` (invalid / read / write), which always matches what the fault
 * backend lets the application do.
 *
 * Requests (one in flight per page per rank; later faults on the same page
 * wait for it):
 *   read:  r -> home READ_REQ.  Owner is home: home sends PAGE(read) itself.
 *          Otherwise home adds r to the sharers and sends FWD_READ to the
 *          owner, which write-protects its copy, sends PAGE(read) to r and
 *          stays owner; r installs it and sends DONE to home.
 *   write: r -> home WRITE_REQ.  Home sends INV to every other holder and
 *          waits for every INV_ACK.  Then: if r already holds a current copy,
 *          home sends PAGE(write, no data); else the owner (home itself, or
 *          via FWD_WRITE) stops its writers, sends PAGE(write, data) to r and
 *          drops its copy; r installs and, when the page did not come from
 *          home, sends DONE.  r becomes the owner, with no sharers.
 * Home works on one request per page at a time and queues the rest, so
 * racing requests are ordered and none is lost.  It keeps a request open until
 * the requester's DONE whenever the page travels on a channel other than
 * home -> requester; every later INV from home therefore reaches the
 * requester after its page (TCP keeps each channel in order).  Replies carry
 * the request id; one that matches no open request is stale and dropped.
 * A request's aux says which 64-byte line of the page the fault touched (1 +
 * line; 0 unknown), for the home's hot-page statistics only.
 *
 * Read-ahead and write-ahead (fetch_ahead()): a sequential or strided
 * reader's (writer's) fault also requests the pages that follow, as
 * ordinary read (write) requests whose pages are installed when they come,
 * with no thread waiting; the protocol is the same.  Regain (regain()): a
 * reader's fault on a page a writer took from it also asks again for the
 * nearby pages it lost the same way, in this phase or the last.
 *
 * Bulk movement (bundles): what one fault (with its fetch-ahead), one
 * advice, one received bundle, or one run of the rank's messages to itself
 * makes this rank send to one peer goes as one COH_BUNDLE
 * message, in order: a run's requests to its home, the pages the home
 * serves, the FWDs it sends one owner, that owner's pages, the DONEs.  A
 * bundle only delays messages on their own channel, in order, until its
 * handler ends, so every rule above holds as if they had gone one by one.
 *
 * Advice (dsm_advise, "advice" below): the pages the program will overwrite
 * whole are asked for at once, as write requests that carry WIRE_F_OVERWRITE
 * (as does a later write fault's, past ADVISE_AHEAD); the home then
 * invalidates every copy, the owner's included, and grants the page itself
 * as writable zeros, as it grants an upgrade: no page data travels.
 *
 * Forward progress (holds): a page installed for a thread that faulted on
 * it stays until that thread has used it; see "holds" below.
 *
 * Serving a writable page: write-protect it first, then copy it out, then
 * drop it (or keep it read-only), so no write can slip in between.  What a
 * bundle drops or write-protects goes in runs of pages, one TLB flush each
 * (see "batched drops and downgrades").
 *
 * Locking: none.  Only the service thread runs this file (the SIGSEGV backend
 * only reads pstate, as a hint).
 */
#include "coherence.h"

#include <dsm.h>
#include <errno.h>
#include <fcntl.h>
#include <lz4.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mailbox.h"
#include "pagevec.h"
#include "rc.h"
#include "runtime.h"
#include "stats.h"
#include "trace.h"
#include "transport.h"
#include "wire.h"

enum { P_INVALID = 0, P_READ = 1, P_WRITE = 2 };
/* PH_HOLD: the request at the head of the queue waits for this rank's
 * hold on the page to end (holds below). */
enum { PH_IDLE, PH_INV, PH_DONE, PH_HOLD };

/* A set of ranks with no cap on its size: a few inline, then the heap. */
struct rankset {
	uint32_t n, cap;
	int32_t inl[4];
	int32_t *v;
};

/* A request this rank has in flight for one page. */
struct pending {
	struct pending *hnext;     /* hash chain */
	struct pending *prev, *next; /* active list, for deadlines */
	uint64_t page, id;
	int write;
	int64_t deadline;
	struct mbox_req *waiters;
	int64_t t0;                /* when it was made */
	uint64_t tag;              /* who faulted where (stats.h) */
	int ahead;                 /* fetched ahead, no thread has touched it yet:
	                            * AHEAD_STREAM, AHEAD_AGAIN, AHEAD_ADVICE;
	                            * 0: a thread's */
};

/* Why a page was asked for ahead of a thread: a read or write stream
 * (fetch_ahead), regain/rewrite (a page this rank held before), or
 * dsm_advise (a page the program said it will overwrite). */
enum { AHEAD_STREAM = 1, AHEAD_AGAIN = 2, AHEAD_ADVICE = 3 };

/* A request queued at home behind the one being served. */
struct qreq {
	struct qreq *next;
	int32_t rank;
	int write;
	int overwrite;      /* WIRE_F_OVERWRITE: grant without data */
	uint64_t id;
};

struct dirent {
	struct dirent *hnext;
	struct dirent *prev, *next; /* busy list, for deadlines */
	uint64_t page;
	int32_t owner;
	uint8_t virgin;     /* all zeros; owner is home, maybe not even mapped */
	uint8_t phase;      /* PH_IDLE: no request in service */
	uint8_t cur_write, cur_need_data;
	uint8_t cur_zero;   /* grant as zeros: the writer overwrites the page */
	int32_t cur_rank;
	uint64_t cur_id;
	uint32_t acks_left;
	int64_t deadline;
	struct rankset sharers;
	struct qreq *qhead, *qtail;
};

/* A chained hash map from page number to an entry; grows by doubling. */
struct pmap {
	void **b;
	size_t nb, n;
};

static uint8_t *pstate;
/* regain(): per page the flags below and the phase its copy went in */
static uint8_t *lost, *lost_when, *wrote_when;
enum {
	LOST_COPY = 1,     /* a read copy taken by an invalidation */
	WROTE_HERE = 2,    /* this rank wrote the page (in phase wrote_when) */
	REGAINED = 4,      /* the copy came by regain() and no thread faulted on it */
	STRIKE = 8,        /* one regained copy lost again unasked (3 bits) */
	STRIKES = 7 * STRIKE,
	READ_AFTER = 64,   /* struck out, then faulted on: strikes no longer count */
};
#define STRIKE_LIMIT 4
static uint8_t phase; /* barriers left, modulo 256 */
#define PAGE_TABLES 5 /* pstate, lost, lost_when, hint, wrote_when: one mapping */
#define WROTE_PHASES 8 /* a write this many phases old no longer counts */
/* dsm_advise(DSM_ADV_WILL_OVERWRITE): 1 for a page whose next write request
 * asks for ownership without data (see "advice" below). */
static uint8_t *hint;
/* DSM_HOME=first-touch: each page's home as this rank knows it, plus one
 * (0: not known yet); see "first-touch homes" below. */
static uint32_t *fhome;
static int compress;  /* DSM_COMPRESSION=1: LZ4 for page payloads */
static struct pmap pending_map, dir_map;
static struct pending active_head = { .prev = &active_head, .next = &active_head };
static struct dirent busy_head = { .prev = &busy_head, .next = &busy_head };
static uint64_t next_id;
static unsigned n_active, n_busy;
static unsigned n_faulted; /* requests in flight that a thread faulted on (not ahead) */

static struct pvec drops; /* see "batched drops and downgrades" */
static struct pvec opens;      /* see opens_apply() */
static struct pending *opened; /* their requests, done once they are open */

/* Bundles (see "sending, and bundles"). */
#define BUNDLE_MSGS 32
#define BUNDLE_BYTES (BUNDLE_MSGS * (WIRE_HDR_SIZE + DSM_PAGE_SIZE))

struct bundle {
	uint8_t *buf;       /* BUNDLE_BYTES once used */
	size_t len;
	uint32_t n;
};

static struct bundle *bundles; /* one per rank */
static int32_t *bundle_dirty;  /* ranks with n > 0 */
static int n_dirty, bundling;


/* ---- small containers ------------------------------------------------ */

static int32_t *rs_items(struct rankset *s)
{
	return s->v ? s->v : s->inl;
}

static int rs_has(struct rankset *s, int32_t r)
{
	int32_t *it = rs_items(s);

	for (uint32_t i = 0; i < s->n; i++)
		if (it[i] == r)
			return 1;
	return 0;
}

static void rs_add(struct rankset *s, int32_t r)
{
	if (rs_has(s, r))
		return;
	if (!s->v && s->n == 4) {
		s->cap = 16;
		s->v = malloc(s->cap * sizeof(int32_t));
		if (!s->v)
			rt_fatal("out of memory for a sharer set");
		memcpy(s->v, s->inl, sizeof(s->inl));
	} else if (s->v && s->n == s->cap) {
		int32_t *nv = realloc(s->v, 2 * s->cap * sizeof(int32_t));
		if (!nv)
			rt_fatal("out of memory for a sharer set");
		s->v = nv;
		s->cap *= 2;
	}
	rs_items(s)[s->n++] = r;
}

static void rs_clear(struct rankset *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static uint64_t hash_page(uint64_t p)
{
	p ^= p >> 33;
	p *= 0xff51afd7ed558ccdULL;
	p ^= p >> 33;
	return p;
}

/* find / insert / remove for a map of entries with `hnext` and `page`. */
#define DEFINE_PMAP(name, type)                                                         \
	static __attribute__((unused)) type *name##_find(uint64_t page)                                       \
	{                                                                               \
		if (!name##_map.nb)                                                     \
			return NULL;                                                    \
		for (type *e = name##_map.b[hash_page(page) & (name##_map.nb - 1)]; e;  \
		     e = e->hnext)                                                      \
			if (e->page == page)                                            \
				return e;                                               \
		return NULL;                                                            \
	}                                                                               \
	static __attribute__((unused)) void name##_insert(type *e)                                            \
	{                                                                               \
		struct pmap *m = &name##_map;                                           \
		if (m->n >= m->nb) {                                                    \
			size_t nb = m->nb ? m->nb * 2 : 64;                             \
			void **b = calloc(nb, sizeof(void *));                          \
			if (!b)                                                         \
				rt_fatal("out of memory for the page tables");          \
			for (size_t i = 0; i < m->nb; i++) {                            \
				type *x = m->b[i];                                      \
				while (x) {                                             \
					type *nx = x->hnext;                            \
					size_t k = hash_page(x->page) & (nb - 1);       \
					x->hnext = b[k];                                \
					b[k] = x;                                       \
					x = nx;                                         \
				}                                                       \
			}                                                               \
			free(m->b);                                                     \
			m->b = (void **)b;                                              \
			m->nb = nb;                                                     \
		}                                                                       \
		size_t k = hash_page(e->page) & (m->nb - 1);                            \
		e->hnext = m->b[k];                                                     \
		m->b[k] = e;                                                            \
		m->n++;                                                                 \
	}                                                                               \
	static __attribute__((unused)) void name##_remove(type *e)                                            \
	{                                                                               \
		struct pmap *m = &name##_map;                                           \
		type **pp = (type **)&m->b[hash_page(e->page) & (m->nb - 1)];           \
		while (*pp != e)                                                        \
			pp = &(*pp)->hnext;                                             \
		*pp = e->hnext;                                                         \
		m->n--;                                                                 \
	}

DEFINE_PMAP(pending, struct pending)
DEFINE_PMAP(dir, struct dirent)

static void pmap_free_all(struct pmap *m, size_t next_off)
{
	for (size_t i = 0; i < m->nb; i++) {
		void *e = m->b[i];
		while (e) {
			void *nx = *(void **)((char *)e + next_off);
			free(e);
			e = nx;
		}
	}
	free(m->b);
	memset(m, 0, sizeof(*m));
}

/* ---- set-up ---------------------------------------------------------- */

int coh_init(void)
{
	int rc = tp_register(WIRE_READ_REQ, WIRE_DONE, coh_handle);

	if (rc || (rc = tp_register(WIRE_COH2_FIRST, WIRE_COH2_LAST, coh_handle)))
		return rc;
	/* pstate, `lost`, `lost_when`, `hint`, `wrote_when`: one byte per page each
	 * (PAGE_TABLES), touched where used */
	pstate = mmap(NULL, PAGE_TABLES * rt.npages, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (pstate == MAP_FAILED) {
		pstate = NULL;
		log_err("cannot allocate the page state table (%lu pages): %s", (unsigned long)rt.npages,
			strerror(errno));
		return -ENOMEM;
	}
	lost = pstate + rt.npages;
	lost_when = lost + rt.npages;
	hint = lost_when + rt.npages;
	wrote_when = hint + rt.npages;
	phase = 0;
	if (rt.first_touch) {
		fhome = mmap(NULL, rt.npages * sizeof(*fhome), PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (fhome == MAP_FAILED) {
			fhome = NULL;
			munmap(pstate, PAGE_TABLES * rt.npages);
			pstate = lost = lost_when = hint = wrote_when = NULL;
			log_err("cannot allocate the table of first-touch homes (%lu pages): %s",
				(unsigned long)rt.npages, strerror(errno));
			return -ENOMEM;
		}
	}
	next_id = 0;
	compress = getenv("DSM_COMPRESSION") && !strcmp(getenv("DSM_COMPRESSION"), "1");
	bundles = calloc((size_t)rt.size, sizeof(*bundles));
	bundle_dirty = calloc((size_t)rt.size, sizeof(*bundle_dirty));
	if (!bundles || !bundle_dirty) {
		free(bundles);
		free(bundle_dirty);
		bundles = NULL;
		bundle_dirty = NULL;
		munmap(pstate, PAGE_TABLES * rt.npages);
		if (fhome)
			munmap(fhome, rt.npages * sizeof(*fhome));
		pstate = lost = lost_when = hint = wrote_when = NULL;
		fhome = NULL;
		return -ENOMEM;
	}
	n_dirty = bundling = 0;
	return 0;
}

static void holds_fini(void);

void coh_fini(void)
{
	for (size_t i = 0; i < dir_map.nb; i++)
		for (struct dirent *e = dir_map.b[i]; e; e = e->hnext) {
			rs_clear(&e->sharers);
			while (e->qhead) {
				struct qreq *q = e->qhead;
				e->qhead = q->next;
				free(q);
			}
		}
	holds_fini();
	for (int i = 0; bundles && i < rt.size; i++)
		free(bundles[i].buf);
	free(bundles);
	free(bundle_dirty);
	bundles = NULL;
	bundle_dirty = NULL;
	pmap_free_all(&pending_map, offsetof(struct pending, hnext));
	pmap_free_all(&dir_map, offsetof(struct dirent, hnext));
	active_head.prev = active_head.next = &active_head;
	busy_head.prev = busy_head.next = &busy_head;
	n_active = n_busy = n_faulted = 0;
	free(drops.v);
	drops = (struct pvec){ 0 };
	free(opens.v);
	opens = (struct pvec){ 0 };
	while (opened) {
		struct pending *p = opened;
		opened = p->next;
		free(p);
	}
	if (pstate)
		munmap(pstate, PAGE_TABLES * rt.npages);
	if (fhome)
		munmap(fhome, rt.npages * sizeof(*fhome));
	pstate = lost = lost_when = hint = wrote_when = NULL;
	fhome = NULL;
}

int coh_holds_readable(uint64_t page)
{
	return page < rt.npages && pstate && __atomic_load_n(&pstate[page], __ATOMIC_RELAXED) != P_INVALID;
}

const uint8_t *coh_page_states(void)
{
	return pstate;
}

/* ---- first-touch homes ------------------------------------------------ */

/*
 * DSM_HOME=first-touch: a page's home is the rank that touched it first, so
 * the directory entry of data a rank initialised, and the page while nobody
 * else wants it, live where it is used.  Every rank must agree on a home
 * that nobody knows in advance; page_home(), the cyclic placement, becomes
 * the page's directory, which decides once and forever:
 *   - A rank that does not know a page's home sends its request to the
 *     page's directory.  The directory's first request for a page makes
 *     the requester its home; it forwards every request it gets (this first
 *     one included, unless it made itself home) to the home, with
 *     WIRE_F_ROUTED and the requester in aux.  A home learns that it is one
 *     from its own routed request (its directory sends nothing else about
 *     the page before it, and a channel keeps its order), and starts the
 *     page's directory entry as any home does: virgin, owned by itself.
 *   - Every PAGE carries its home (aux = home + 1), so a requester knows the
 *     home from its first grant on: its DONEs, its later requests and the
 *     INVs and FWDs it checks go to and from the home directly.  Nothing
 *     from a home can reach a rank before that rank's first grant (a home
 *     sends INV and FWD only to ranks that hold or will hold the page).
 * A home never changes, so what a rank learned never goes stale, and the
 * protocol at the home is the one above, unchanged.  The cost: a rank's
 * first request for a page homed elsewhere, and not at its directory,
 * takes one more hop.  Release-consistent pages and DSM_SHARED globals keep
 * their static homes; fault-around (a first touch at home) does not apply.
 */
static int home_of(uint64_t page)
{
	if (!fhome || page >= rt.region_pages)
		return page_home(page);
	return (int)fhome[page] - 1; /* -1: not known here yet */
}

/* Where a request for `page` goes: its home, or its directory to find it. */
static int req_target(uint64_t page)
{
	int home = home_of(page);

	return home >= 0 ? home : page_home(page);
}

static void learn_home(uint64_t page, int home, int from)
{
	if (!fhome || page >= rt.region_pages)
		return;
	if (home < 0 || home >= rt.size)
		rt_fatal("rank %d names rank %d as the home of page %lu, which does not exist", from, home,
			 (unsigned long)page);
	if (fhome[page] && (int)fhome[page] - 1 != home)
		rt_fatal("rank %d names rank %d as the home of page %lu, whose home is rank %d (protocol error)",
			 from, home, (unsigned long)page, (int)fhome[page] - 1);
	fhome[page] = (uint32_t)home + 1;
}

/* ---- sending, and bundles ---------------------------------------------- */

/*
 * Batched drops and downgrades.  Taking a page from the application (a
 * drop) or write-protecting it (a downgrade) makes the kernel flush every
 * CPU's TLB, which on a virtual machine costs more than the page's trip
 * over the network; one call for a run of pages makes one flush, not one
 * per page.  So while a bundle is handled (or a fault, or advice, sends
 * one):
 *   - a copy it drops leaves pstate at once but the application only when
 *     the handler ends (drops_apply()), in runs.  Until then a thread of
 *     this rank may still read the old copy, which is still as good as it
 *     was: whatever this rank answers (the INV_ACK, the page it hands on)
 *     is held in the bundle, and every bundle is flushed only after the
 *     drops are applied, so no other rank can act on the drop before it
 *     is done.  A page with a drop pending is dropped before anything is
 *     installed in its place (drops_apply() first).
 *   - the writable pages that the bundle's forwards and requests will serve
 *     (to_downgrade()) are write-protected, in runs, before the first of
 *     its messages is handled; serving them then finds them read-only.  A
 *     page held for a thread is left alone (holds), and one whose request
 *     waits at home was only protected early: a read-only owner is a state
 *     the protocol has anyway (after it served a read).
 */

/* A gap page that a run may span: `op` leaves it as it is. */
typedef int (*gap_fn)(uint64_t page);

/* Absent: dropping it does nothing. */
static int gap_absent(uint64_t q)
{
	return pstate[q] == P_INVALID;
}

/* Writable already: opening it for writing does nothing. */
static int gap_writable(uint64_t q)
{
	return pstate[q] == P_WRITE && !rc_page(q);
}

/* Pages (a, b) may all be spanned, and there are at most BRIDGE_MAX. */
#define BRIDGE_MAX 16

static int gap_between(uint64_t a, uint64_t b, gap_fn gap)
{
	if (b - a > BRIDGE_MAX + 1)
		return 0;
	for (uint64_t q = a + 1; q < b; q++)
		if (!gap(q))
			return 0;
	return 1;
}

/* `op` on the sorted pages v[0..n), one call per run of consecutive pages;
 * with `gap`, a run also spans short gaps of pages that `op` leaves as they
 * are (dropping an absent page does nothing: with cyclic homes, the pages a
 * bundle drops are often every other one, the rest gone already). */
static void by_runs(uint64_t *v, size_t n, int (*op)(uint64_t, uint64_t), const char *what, gap_fn gap)
{
	qsort(v, n, sizeof(*v), page_cmp);
	for (size_t k = 0, e; k < n; k = e) {
		for (e = k + 1; e < n && (v[e] <= v[e - 1] + 1 || (gap && gap_between(v[e - 1], v[e], gap))); e++)
			;
		if (op(v[k], v[e - 1] - v[k] + 1))
			rt_fatal("cannot %s pages %lu-%lu", what, (unsigned long)v[k], (unsigned long)v[e - 1]);
	}
}

static void drops_apply(void)
{
	if (drops.n)
		by_runs(drops.v, drops.n, rt.be->drop, "drop", gap_absent);
	drops.n = 0;
}

static void drop_later(uint64_t page)
{
	if (!bundling || page >= rt.region_pages) {
		if (rt.be->drop(page, 1))
			rt_fatal("cannot drop page %lu", (unsigned long)page);
		return;
	}
	pvec_push(&drops, page);
}

/*
 * A read copy that its home grants for writing without data (NODATA) is
 * opened when the batch ends, with the others of the batch, in runs
 * (opens_apply()), and its waiting threads go on then: a phase that takes
 * ownership of many pages it has read (an exchange, the advice) made one
 * UFFDIO_WRITEPROTECT or mprotect() call, and one TLB flush, per page.
 * pstate says P_WRITE at once, so whatever this batch does to the page
 * after the grant (a forward that downgrades or takes it, an INV) is done
 * as if it were open; a page it took back is not opened, and its waiting
 * thread is woken to fault again (a thread that userfaultfd holds would
 * otherwise sleep on: no open wakes it).  A run spans pages that are
 * writable already.  The hold that keeps the page for its faulting thread
 * (holds) is made with the grant and does not end before the page is open
 * (`opening`), however long the thread sleeps meanwhile: its clocks start
 * then (only HOLD_NS ends it sooner, and a page taken back is woken as
 * above).  (A batch
 * that took longer than HOLD_WAKE_NS, under ThreadSanitizer, let a hold
 * end before its page was open, then took the page back and left the
 * thread asleep: the litmus job hung.)
 */
static void complete_waiters(struct mbox_req *w);
static void hold_opened(uint64_t page);

static void request_done(struct pending *p)
{
	if (!p->ahead)
		n_faulted--;
	complete_waiters(p->waiters);
	free(p);
}

static void opens_apply(void)
{
	struct pending *p = opened;
	size_t k = 0;

	for (size_t i = 0; i < opens.n; i++) {
		uint64_t q = opens.v[i];
		if (pstate[q] == P_WRITE) /* not taken back since */
			opens.v[k++] = q;
		else
			rt.be->wake(q); /* its thread faults again, on what is there now */
	}
	if (k)
		by_runs(opens.v, k, rt.be->upgrade, "open for writing", gap_writable);
	opens.n = 0;
	opened = NULL;
	while (p) {
		struct pending *nx = p->next;
		hold_opened(p->page); /* its thread's time counts from now */
		request_done(p);
		p = nx;
	}
}

/*
 * Bundles: while a fault (with its fetch-ahead) or a received bundle is
 * handled, what this rank sends to each other rank is gathered, in order,
 * and goes out as one COH_BUNDLE when the handler ends (or when a bundle is
 * full: BUNDLE_MSGS messages, or as many bytes as that many pages).  The
 * requests of a run of pages with one home travel as one message, the
 * home's answers (the pages it serves itself, and those it forwards to one
 * owner) as one, and so do the owner's pages and the DONEs that follow.
 * Each channel keeps its order, and a message is only held until its
 * handler ends: to the protocol this is a network delay, so none of its
 * invariants (home ordering, DONE, INV after the page, holds) changes.
 * Messages to this rank itself are never bundled.
 */
static void bundle_flush(int to)
{
	struct bundle *b = &bundles[to];
	struct wire_hdr h;

	drops_apply(); /* before anyone hears of them */
	if (b->n == 1) {
		if (wire_decode_hdr(b->buf, b->len, &h))
			rt_fatal("a bundled message to rank %d does not decode (bug)", to);
		tp_send(to, &h, b->buf + WIRE_HDR_SIZE);
	} else if (b->n > 1) {
		h = (struct wire_hdr){ .type = WIRE_COH_BUNDLE, .len = (uint32_t)b->len, .arg = b->n };
		tp_send(to, &h, b->buf);
	}
	b->n = 0;
	b->len = 0;
}

static void bundle_begin(void)
{
	bundling++;
}

static void bundle_end(void)
{
	if (--bundling)
		return;
	opens_apply();
	drops_apply();
	for (int i = 0; i < n_dirty; i++)
		bundle_flush(bundle_dirty[i]);
	n_dirty = 0;
}

void coh_batch_begin(void)
{
	bundle_begin();
}

void coh_batch_end(void)
{
	bundle_end();
}

/* Every coherence message leaves through here. */
static void coh_send(int to, struct wire_hdr *h, const void *payload)
{
	size_t need = WIRE_HDR_SIZE + h->len;
	struct bundle *b;

	if (!bundling || to == rt.rank || !bundles) {
		tp_send(to, h, payload);
		return;
	}
	b = &bundles[to];
	if (b->n && (b->n >= BUNDLE_MSGS || b->len + need > BUNDLE_BYTES))
		bundle_flush(to);
	if (!b->buf && !(b->buf = malloc(BUNDLE_BYTES)))
		rt_fatal("out of memory for a bundle of messages to rank %d", to);
	if (b->n == 0 && b->len == 0) {
		int listed = 0;
		for (int i = 0; i < n_dirty && !listed; i++)
			listed = bundle_dirty[i] == to;
		if (!listed)
			bundle_dirty[n_dirty++] = to;
	}
	h->src = (uint32_t)rt.rank;
	h->seq = 0;
	wire_encode_hdr(b->buf + b->len, h);
	if (h->len)
		memcpy(b->buf + b->len + WIRE_HDR_SIZE, payload, h->len);
	b->len += need;
	b->n++;
}

static void send_ctl_f(int to, int type, uint16_t flags, uint64_t page, uint64_t id, uint32_t aux)
{
	struct wire_hdr h = { .type = (uint8_t)type, .flags = flags, .arg = page, .id = id, .aux = aux };

	if (type == WIRE_INV)
		stat_bump(ST_INV_SENT, 1);
	coh_send(to, &h, NULL);
}

static void send_ctl(int to, int type, uint64_t page, uint64_t id, uint32_t aux)
{
	send_ctl_f(to, type, 0, page, id, aux);
}

/*
 * Copy a page this rank holds out of the region, and say whether it is all
 * zeros.  No thread writes the page meanwhile: it is read-only here (the
 * caller write-protected it first), which ThreadSanitizer cannot know, so
 * the copy is made where it does not look, with plain word loads that no
 * compiler turns into a memcpy call.  Everything after works on the copy.
 */
__attribute__((no_sanitize("thread"), noinline))
static int copy_out(uint64_t *dst, const void *page)
{
	const volatile uint64_t *src = page;
	uint64_t any = 0;

	for (size_t i = 0; i < DSM_PAGE_SIZE / 8; i++) {
		dst[i] = src[i];
		any |= dst[i];
	}
	return any == 0;
}

static void got_page(const struct wire_hdr *h, const uint8_t *payload);

/* A page for this rank is installed at once, never queued: the home goes on
 * to its next request for the page right after, and that one must find the
 * page where this grant put it. */
static void deliver_page(int to, struct wire_hdr *h, const uint8_t *data)
{
	if (fhome)
		h->aux = (uint32_t)home_of(h->arg) + 1; /* the sender knows it: see first-touch */
	if (to == rt.rank) {
		h->src = (uint32_t)rt.rank;
		got_page(h, data);
	} else {
		coh_send(to, h, data);
	}
}

/* Send this rank's copy of `page` (NULL: a page never written) as PAGE. */
static void send_page(int to, uint64_t page, uint64_t id, const void *data, int write)
{
	static uint64_t copy[DSM_PAGE_SIZE / 8]; /* service thread only */
	struct wire_hdr h = { .type = WIRE_PAGE, .arg = page, .id = id };
	int64_t t0 = trace_clock();

	const uint8_t *out = (const uint8_t *)copy;

	h.flags = write ? WIRE_F_WRITE : 0;
	if (!data || copy_out(copy, data)) {
		h.flags |= WIRE_F_ZERO; /* zero pages travel as a header alone */
	} else {
		h.len = DSM_PAGE_SIZE;
		if (compress && to != rt.rank) {
			/* Only what shrinks travels compressed. */
			static char packed[DSM_PAGE_SIZE]; /* service thread only */
			int n = LZ4_compress_default((const char *)copy, packed, DSM_PAGE_SIZE,
						     DSM_PAGE_SIZE - 64);
			if (n > 0) {
				log_debug("page %lu to rank %d: LZ4 %d bytes", (unsigned long)page, to, n);
				h.flags |= WIRE_F_LZ4;
				h.len = (uint32_t)n;
				out = (const uint8_t *)packed;
			}
		}
	}
	deliver_page(to, &h, out);
	stats_page_sent(to, page, id, h.len, write, t0);
}

/* ---- the owner's side ------------------------------------------------ */

/* This rank owns `page`: give `to` a read copy, keep ours read-only. */
static void serve_read(uint64_t page, int to, uint64_t id, int virgin)
{
	uint8_t st = pstate[page];

	if (st == P_WRITE) {
		rt.be->downgrade(page, 1); /* stop writers before copying */
		pstate[page] = P_READ;
	}
	if (st == P_INVALID && !virgin)
		rt_fatal("asked to serve page %lu which this rank does not hold (protocol error)",
			 (unsigned long)page);
	send_page(to, page, id, st == P_INVALID ? NULL : rt.be->peek(page), 0);
}

/* This rank owns `page`: hand it, writable, to `to` and drop ours. */
static void serve_write(uint64_t page, int to, uint64_t id, int virgin)
{
	uint8_t st = pstate[page];

	if (st == P_INVALID && !virgin)
		rt_fatal("asked to hand over page %lu which this rank does not hold (protocol error)",
			 (unsigned long)page);
	if (st == P_WRITE)
		rt.be->downgrade(page, 1);
	send_page(to, page, id, st == P_INVALID ? NULL : rt.be->peek(page), 1);
	if (st != P_INVALID) {
		drop_later(page);
		pstate[page] = P_INVALID;
	}
}

/* `overwrite`: the page goes to a writer that overwrites it (an INV with
 * WIRE_F_OVERWRITE), so even the owner's writable copy goes, unread. */
static void drop_copy(uint64_t page, int from, int overwrite)
{
	uint8_t st = pstate[page];

	stats_inv_received(from);
	if (st == P_WRITE && !overwrite)
		rt_fatal("invalidation of page %lu from rank %d while this rank holds it writable "
			 "(protocol error)", (unsigned long)page, from);
	if (st != P_INVALID) {
		drop_later(page);
		pstate[page] = P_INVALID;
		/* only read here, now written there: likely read here again */
		uint8_t f = lost[page];
		if (!(f & WROTE_HERE) || (uint8_t)(phase - wrote_when[page]) > WROTE_PHASES) {
			if ((f & REGAINED) && (f & STRIKES) != STRIKES && !(f & READ_AFTER))
				f = (uint8_t)(f + STRIKE); /* no thread asked for it */
			lost[page] = (uint8_t)((f & (STRIKES | READ_AFTER)) | LOST_COPY);
			lost_when[page] = phase;
		}
	}
}

/* ---- holds: forward progress ----------------------------------------- */

/*
 * A page installed for a thread that faulted on it is held until that
 * thread has made its access; until then a request that would take the
 * page away waits: an INV, a FWD_WRITE, a FWD_READ that would write-protect
 * a page held for writing, and at the home the start of another rank's
 * request that would do the same to the home's own copy (the directory
 * entry waits in PH_HOLD; later requests queue behind it as usual).
 * Without holds two ranks that want one page take it from each other, again
 * and again, before either faulting instruction has run: a forward-progress
 * defect, not a cost of sequential consistency (Mirage's time window solved
 * it with a fixed delta; here the window ends when the thread has moved).
 *
 * When has it made its access?  The kernel does not say, so the engine
 * watches the thread, by its id, through its CPU clock and its scheduler
 * state:
 *   - userfaultfd: the thread slept in the kernel until the install, which
 *     made it runnable.  Once it sleeps again it went past the faulting
 *     instruction (the first thing it does) and blocked somewhere else; a
 *     thread still found asleep HOLD_WAKE_NS after the install without
 *     having run since was waiting for something else (another page), not
 *     for this one (sooner, its wake-up may not have reached its CPU yet;
 *     2 ms here cost CG 100 ms per run, a wake-up takes microseconds).
 *   - SIGSEGV: the handler says when it returns (coh_fault_returned());
 *     once it has and the thread is no longer runnable, the same holds.
 *   - Either: a thread that calls into the library (a barrier, a lock, any
 *     mailbox request but a fault) or faults on another page has gone past
 *     its faulting instruction: its holds end at once (coh_thread_moved()),
 *     not at the next poll.  A barrier's slot written just before the
 *     barrier, or a vector element read before the next page's fault, was
 *     otherwise held until the poll saw the thread asleep, or for
 *     HOLD_CPU_NS: CG's deferred requests waited 2 x 250 ms of a 3.5 s run,
 *     70 ms with this.  (An access that spans two pages may lose the first
 *     while the second comes, and fault again: the poll that saw the
 *     thread asleep on the second page did the same a little later.)
 * A thread that keeps running made its access within HOLD_CPU_NS of CPU
 * time after the install or after its handler returned (50 us of CPU time
 * were seen here without the access: a virtual CPU's time is not all the
 * thread's); a thread that has not run at all keeps its page (it will run: the
 * scheduler is fair), up to HOLD_NS in all, so a hold never stops the job.
 * Messages wait in arrival order and are handled as if they had just come:
 * a hold delays requests, it never reorders two requests for one page.
 * Read-ahead pages, which no thread waits for, are not held.
 */
#define HOLD_MAX 16
#define HOLD_CPU_NS 200000
#define HOLD_NS 100000000
#define HOLD_POLL_NS 50000
#define HOLD_WAKE_NS 200000

struct hold {
	uint64_t page;
	int write;          /* the thread wanted to write */
	pid_t tid;          /* 0: unknown (only HOLD_NS ends the hold) */
	clockid_t clk;      /* its CPU clock */
	int64_t cpu0;       /* that clock when it could first make its access, or -1 */
	int64_t until;      /* 0: slot free */
	uint32_t seq;       /* SIGSEGV: what the handler writes to hold_back[] */
	int in_handler;     /* SIGSEGV: the threads wait in the handler */
	int opening;        /* granted, not open yet (opens_apply): not over */
};

/* A message or a home's request waiting for a hold to end. */
struct deferred {
	struct deferred *next;
	struct wire_hdr h;  /* INV, FWD_READ, FWD_WRITE; READ_REQ/WRITE_REQ: a home's */
};

static struct hold holds[HOLD_MAX];
static void holds_run(void);
static void dir_start(struct dirent *e, int32_t r, uint64_t id, int write, int overwrite);
static void dir_next(struct dirent *e);
/* The SIGSEGV handler, back from its wait, writes its hold's seq here. */
static _Atomic uint32_t hold_back[HOLD_MAX];
static uint32_t hold_seq;
static struct deferred *dq_head, *dq_tail;
static unsigned n_deferred;

static int64_t thread_cpu_ns(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts) < 0)
		return -1; /* the thread is gone */
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Is thread `tid` of this process asleep in an interruptible wait (a
 * futex, a read, a poll, a fault's wait for its page), not running, not
 * waiting for a CPU, not blocked on a lock inside a page fault? */
static int thread_sleeps(pid_t tid)
{
	char path[64], buf[256], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')'); /* "tid (comm) S ..." */
	return p && p[1] == ' ' && p[2] == 'S';
}

/* Hold `page`; returns the token coh_fault_returned() takes, 0 for none. */
static uint64_t hold_add(uint64_t page, int write, uint32_t tid, int in_handler, int opening)
{
	int64_t now = now_ns();
	struct hold *h = NULL;

	for (int i = 0; i < HOLD_MAX; i++) {
		struct hold *x = &holds[i];
		if (x->until && x->page == page) {
			h = x;
			break;
		}
		if (!h && (!x->until || now >= x->until))
			h = x;
	}
	if (!h)
		return 0; /* more threads than slots woke at once: no hold */
	*h = (struct hold){ .page = page, .write = write, .tid = (pid_t)tid, .cpu0 = -1,
			    .until = now + HOLD_NS, .seq = ++hold_seq, .in_handler = in_handler,
			    .opening = opening };
	if (tid) {
		/* The CPU clock of one thread: clock_getcpuclockid()'s encoding
		 * for a thread id (CPUCLOCK_SCHED | CPUCLOCK_PERTHREAD). */
		h->clk = (clockid_t)((~(clockid_t)tid << 3) | 6);
		if (!in_handler)
			h->cpu0 = thread_cpu_ns(h->clk);
	}
	return in_handler ? (uint64_t)h->seq << 8 | (uint64_t)(h - holds + 1) : 0;
}

void coh_fault_returned(uint64_t token)
{
	if (token & 0xff)
		atomic_store_explicit(&hold_back[(token & 0xff) - 1], (uint32_t)(token >> 8), memory_order_release);
}

/* Has the thread of hold `h` made its access, or has time run out? */
static int hold_over(struct hold *h, int64_t now)
{
	int64_t cpu;

	if (now >= h->until)
		return 1;
	if (!h->tid || h->opening)
		return 0;
	if (h->cpu0 < 0) { /* in the SIGSEGV handler until it says it is back */
		if (atomic_load_explicit(&hold_back[h - holds], memory_order_acquire) != h->seq)
			return 0;
		h->cpu0 = thread_cpu_ns(h->clk);
		return h->cpu0 < 0 || thread_sleeps(h->tid);
	}
	cpu = thread_cpu_ns(h->clk);
	if (cpu < 0 || cpu - h->cpu0 >= HOLD_CPU_NS)
		return 1; /* gone, or ran long enough to have made its access */
	if (!thread_sleeps(h->tid))
		return 0;
	/* Asleep and never ran since the install (userfaultfd's thread mode;
	 * a handler's thread said it was back): perhaps not woken yet (a
	 * wake-up queued to another CPU leaves it 'S' until that CPU takes it,
	 * and a service thread at a raised priority gets here first), so only
	 * after HOLD_WAKE_NS is it taken to wait for something else. */
	return h->in_handler || cpu > h->cpu0 || now - (h->until - HOLD_NS) >= HOLD_WAKE_NS;
}

/* The slot of this rank's hold on `page` (ended or not), or NULL. */
static struct hold *hold_slot(uint64_t page)
{
	for (int i = 0; i < HOLD_MAX; i++)
		if (holds[i].until && holds[i].page == page)
			return &holds[i];
	return NULL;
}

/* opens_apply() opened `page`: its hold, made `opening` with the grant,
 * counts from now. */
static void hold_opened(uint64_t page)
{
	struct hold *h = hold_slot(page);

	if (!h)
		return;
	h->opening = 0;
	h->until = now_ns() + HOLD_NS;
	if (h->tid && !h->in_handler)
		h->cpu0 = thread_cpu_ns(h->clk);
}

/* This rank's hold on `page` that has not ended yet, or NULL. */
static struct hold *hold_find(uint64_t page)
{
	struct hold *h = hold_slot(page);

	if (!h || !hold_over(h, now_ns()))
		return h;
	h->until = 0;
	return NULL;
}

void coh_thread_moved(int32_t tid, uint64_t page)
{
	int ended = 0;

	for (int i = 0; i < HOLD_MAX; i++)
		if (holds[i].until && holds[i].tid == tid && holds[i].page != page) {
			holds[i].until = 0;
			ended = 1;
		}
	if (ended && n_deferred)
		holds_run();
}

/* Would a request of another rank for `page` take the held page away? */
static int hold_blocks(uint64_t page, int write, int owner_here)
{
	uint8_t st = pstate[page];
	struct hold *h;

	if (st == P_INVALID || !(h = hold_find(page)))
		return 0;
	return write || (owner_here && st == P_WRITE && h->write);
}

static void defer(const struct wire_hdr *h)
{
	struct deferred *d = malloc(sizeof(*d));

	if (!d)
		rt_fatal("out of memory for a deferred request");
	d->next = NULL;
	d->h = *h;
	if (dq_tail)
		dq_tail->next = d;
	else
		dq_head = d;
	dq_tail = d;
	n_deferred++;
}

static void holds_fini(void)
{
	while (dq_head) {
		struct deferred *d = dq_head;
		dq_head = d->next;
		free(d);
	}
	dq_tail = NULL;
	n_deferred = 0;
	memset(holds, 0, sizeof(holds));
}

/* Handle, in order, what waited for holds that have ended. */
static void holds_run(void)
{
	struct deferred **pp = &dq_head, *d;

	dq_tail = NULL;
	while ((d = *pp)) {
		if (hold_find(d->h.arg)) {
			dq_tail = d;
			pp = &d->next;
			continue;
		}
		*pp = d->next;
		n_deferred--;
		if (d->h.type == WIRE_READ_REQ || d->h.type == WIRE_WRITE_REQ) {
			struct dirent *e = dir_find(d->h.arg);
			e->phase = PH_IDLE;
			dir_start(e, (int32_t)d->h.src, d->h.id, d->h.type == WIRE_WRITE_REQ,
				  (d->h.flags & WIRE_F_OVERWRITE) != 0);
			dir_next(e);
		} else {
			coh_handle(&d->h, NULL);
		}
		free(d);
	}
}

/* ---- the home's side ------------------------------------------------- */

static struct dirent *dir_get(uint64_t page)
{
	struct dirent *e = dir_find(page);

	if (e)
		return e;
	e = calloc(1, sizeof(*e));
	if (!e)
		rt_fatal("out of memory for the directory");
	e->page = page;
	e->owner = rt.rank;
	e->virgin = 1;
	dir_insert(e);
	return e;
}

/*
 * A rank that faults on a page it is home to and that nobody ever touched
 * is most likely filling fresh memory: its own data at the start of a job
 * with block homes, every page of a job of one rank.  The untouched pages
 * that follow, up to FA_PAGES of them and as far as this rank is home to
 * them, become its own too, writable zeros, in one call to the backend:
 * one fault instead of one per page, as the kernel's own fault-around does.
 * They are ordinary pages owned by their home from then on (a rank that
 * wants one asks the home, as for any page, and a page still all zeros
 * travels as a header alone), so the protocol does not change.
 */
#define FA_PAGES 256 /* a multiple of COH_ZERO_RUN is best */

static void fault_around(uint64_t page)
{
	uint64_t q = page + 1, n = 0;

	if (fhome)
		return; /* the pages that follow have no home yet */
	while (n < FA_PAGES && q + n < rt.region_pages && page_home(q + n) == rt.rank &&
	       pstate[q + n] == P_INVALID && !dir_find(q + n) && !pending_find(q + n))
		n++;
	if (!n)
		return;
	drops_apply();
	if (rt.be->install_zeros(q, n))
		rt_fatal("cannot install %lu zero pages at page %lu", (unsigned long)n, (unsigned long)q);
	for (uint64_t i = 0; i < n; i++) {
		struct dirent *e = dir_get(q + i);
		e->virgin = 0; /* this rank may write it now */
		pstate[q + i] = P_WRITE;
	}
}

static void busy_link(struct dirent *e)
{
	e->deadline = now_ns() + rt.timeout_ns;
	e->next = &busy_head;
	e->prev = busy_head.prev;
	busy_head.prev->next = e;
	busy_head.prev = e;
	n_busy++;
}

static void busy_unlink(struct dirent *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->prev = e->next = NULL;
	n_busy--;
}

/* Start queued requests until one stays in service. */
static void dir_next(struct dirent *e)
{
	while (e->phase == PH_IDLE && e->qhead) {
		struct qreq *q = e->qhead;
		e->qhead = q->next;
		if (!e->qhead)
			e->qtail = NULL;
		dir_start(e, q->rank, q->id, q->write, q->overwrite);
		free(q);
	}
}

/* The request in service is complete: take the next queued one. */
static void dir_finish(struct dirent *e)
{
	e->phase = PH_IDLE;
	busy_unlink(e);
	dir_next(e);
}

/* Every other holder has dropped its copy: give r the page writable. */
static void dir_write_granted(struct dirent *e)
{
	int32_t r = e->cur_rank;

	if (e->cur_need_data && e->owner != rt.rank) {
		send_ctl(e->owner, WIRE_FWD_WRITE, e->page, e->cur_id, (uint32_t)r);
		e->phase = PH_DONE; /* until r's DONE */
		return;
	}
	if (e->cur_need_data) {
		serve_write(e->page, r, e->cur_id, e->virgin);
	} else if (e->cur_zero) {
		/* Every other copy is gone, unread: r overwrites the page. */
		struct wire_hdr h = { .type = WIRE_PAGE, .flags = WIRE_F_WRITE | WIRE_F_ZERO | WIRE_F_OVERWRITE,
				      .arg = e->page, .id = e->cur_id };
		int64_t t0 = trace_clock();
		deliver_page(r, &h, NULL);
		stats_page_sent(r, e->page, e->cur_id, 0, 1, t0);
	} else {
		struct wire_hdr h = { .type = WIRE_PAGE, .flags = WIRE_F_WRITE | WIRE_F_NODATA,
				      .arg = e->page, .id = e->cur_id };
		deliver_page(r, &h, NULL);
	}
	e->owner = r;
	e->virgin = 0;
	rs_clear(&e->sharers);
	dir_finish(e);
}

static void dir_start(struct dirent *e, int32_t r, uint64_t id, int write, int overwrite)
{
	if (r != rt.rank && hold_blocks(e->page, write, e->owner == rt.rank)) {
		struct wire_hdr h = { .type = write ? WIRE_WRITE_REQ : WIRE_READ_REQ, .src = (uint32_t)r,
				      .flags = write && overwrite ? WIRE_F_OVERWRITE : 0, .arg = e->page, .id = id };
		e->phase = PH_HOLD;
		defer(&h);
		return;
	}
	e->phase = PH_DONE;
	e->cur_rank = r;
	e->cur_id = id;
	e->cur_write = (uint8_t)write;
	busy_link(e);
	if (!write) {
		if (e->owner == rt.rank) {
			serve_read(e->page, r, id, e->virgin);
			if (r != rt.rank)
				rs_add(&e->sharers, r);
			else
				e->virgin = 0; /* home installs its own copy now */
			dir_finish(e);
			return;
		}
		rs_add(&e->sharers, r);
		send_ctl(e->owner, WIRE_FWD_READ, e->page, id, (uint32_t)r);
		return; /* until r's DONE */
	}

	int has_copy = (r == e->owner && !e->virgin) || rs_has(&e->sharers, r);
	int32_t *it = rs_items(&e->sharers);

	/* A writer with a copy keeps it (an upgrade); one that will overwrite
	 * the page gets zeros, and the owner's copy goes like a sharer's. */
	e->cur_zero = (uint8_t)(!has_copy && overwrite);
	e->cur_need_data = (uint8_t)(!has_copy && !overwrite);
	e->acks_left = 0;
	e->phase = PH_INV;
	for (uint32_t i = 0; i < e->sharers.n; i++) {
		if (it[i] == r)
			continue;
		if (it[i] == rt.rank) {
			drop_copy(e->page, rt.rank, 0);
			continue;
		}
		send_ctl(it[i], WIRE_INV, e->page, id, 0);
		e->acks_left++;
	}
	/* With r's copy current, or none needed, the owner must drop too;
	 * otherwise the owner hands the data over and drops it then. */
	if (!e->cur_need_data && e->owner != r) {
		if (e->owner == rt.rank) {
			drop_copy(e->page, rt.rank, e->cur_zero);
		} else {
			send_ctl_f(e->owner, WIRE_INV, e->cur_zero ? WIRE_F_OVERWRITE : 0, e->page, id, 0);
			e->acks_left++;
		}
	}
	if (e->acks_left == 0)
		dir_write_granted(e);
}

static void home_request(int32_t r, uint64_t page, uint64_t id, int write, int overwrite)
{
	struct dirent *e = dir_get(page);

	if (e->phase != PH_IDLE) {
		struct qreq *q = malloc(sizeof(*q));
		if (!q)
			rt_fatal("out of memory for the request queue");
		*q = (struct qreq){ .rank = r, .write = write, .overwrite = overwrite, .id = id };
		if (e->qtail)
			e->qtail->next = q;
		else
			e->qhead = q;
		e->qtail = q;
		return;
	}
	dir_start(e, r, id, write, overwrite);
}

static void home_ack(int32_t from, uint64_t page, uint64_t id)
{
	struct dirent *e = dir_find(page);

	if (!e || e->phase != PH_INV || e->cur_id != id || e->acks_left == 0) {
		log_debug("stale INV_ACK for page %lu from rank %d", (unsigned long)page, from);
		return;
	}
	if (--e->acks_left == 0)
		dir_write_granted(e);
}

static void home_done(int32_t from, uint64_t page, uint64_t id)
{
	struct dirent *e = dir_find(page);

	if (!e || e->phase != PH_DONE || e->cur_id != id || e->cur_rank != from) {
		log_debug("stale DONE for page %lu from rank %d", (unsigned long)page, from);
		return;
	}
	if (e->cur_write) {
		e->owner = from;
		e->virgin = 0;
		rs_clear(&e->sharers);
	}
	dir_finish(e);
}

/* ---- the requester's side -------------------------------------------- */

static void complete_waiters(struct mbox_req *w)
{
	while (w) {
		struct mbox_req *nx = w->next;
		mbox_complete(w, 0);
		w = nx;
	}
}

static struct pending *request(uint64_t page, int write, struct mbox_req *waiter, int ahead)
{
	struct pending *p = calloc(1, sizeof(*p));
	uint16_t flags = 0;

	if (!p)
		rt_fatal("out of memory for a page request");
	p->page = page;
	p->id = ++next_id;
	p->write = write;
	p->ahead = ahead;
	if (!ahead)
		n_faulted++;
	p->deadline = now_ns() + rt.timeout_ns;
	p->tag = ahead ? stats_prefetch_begin(&p->t0) : stats_fault_begin(waiter, write, &p->t0);
	pending_insert(p);
	p->next = &active_head;
	p->prev = active_head.prev;
	active_head.prev->next = p;
	active_head.prev = p;
	n_active++;
	if (write && hint[page]) {
		hint[page] = 0; /* the hint is for one write fault */
		flags = WIRE_F_OVERWRITE;
	}
	send_ctl_f(req_target(page), write ? WIRE_WRITE_REQ : WIRE_READ_REQ, flags, page, p->id,
		   stats_tag_line(p->tag));
	return p;
}

/*
 * Read-ahead and write-ahead.  A fault on the page after the previous
 * fault of the same kind (read, or write), or one page-stride further than
 * the previous two were apart (a reader of every other page, of one column
 * of a matrix's rows), or on a page of the run that was fetched ahead
 * (still in flight) or the first one past it, means a strided stream: the
 * pages that follow on its stride are requested too, RA_MIN the first
 * time, twice as many each time the stream comes back having used them
 * all, up to rt.readahead (DSM_READAHEAD, 256 by default; 0 turns both
 * off).  The requests are ordinary read or write requests (the protocol
 * does not change); their pages are installed as they come, ahead of the
 * thread, which then faults once per window instead of once per page: a
 * writer that fills or copies an array another rank held (a transpose, an
 * all-to-all exchange) gets its pages in a stream instead of a round trip
 * each.  Any other fault of the kind ends its run.  A stride of one page
 * counts from the second fault, a longer one from the third (its stride
 * must repeat), and RA_MIN is 2, so that a stream of short runs (a row of a
 * grid, four pages) fetches no page it does not need, and a writer takes
 * at most a few pages past the end of its run from whoever writes there.
 * One stream of each kind is followed per rank.  Strides up to
 * RA_STRIDE_MAX pages (4 MiB) count: a transpose that reads one row of each
 * plane steps a plane's size at a time (FT class A: 256 pages; with 64 as
 * the bound, its reads went page by page, 50,000 faults, and took 4.9 s
 * against 2.3 s).
 */
#define RA_MIN 2
#define RA_STRIDE_MAX 1024

struct stream {
	uint64_t last;  /* the previous fault's page */
	uint64_t next;  /* the run's next page not yet requested */
	uint64_t stride;
	uint32_t win;   /* 0: not in a run */
};

static struct stream streams[2] = { { .last = UINT64_MAX }, { .last = UINT64_MAX } };

static void fetch_ahead(uint64_t page, int write)
{
	struct stream *ra = &streams[write];
	uint64_t d = page - ra->last, stride = ra->stride, q;
	int in_run = ra->win && d > 0 && d <= page && stride && d % stride == 0 && page <= ra->next;
	int seq = d == 1 || (stride > 1 && d == stride) || in_run;

	if (write && in_run)
		for (q = ra->last + stride; q < page; q += stride)
			if (pstate[q] == P_WRITE) { /* the writer went past it */
				lost[q] |= WROTE_HERE;
				wrote_when[q] = phase;
			}
	ra->last = page;
	if (!seq || page >= rt.region_pages || !rt.readahead) {
		ra->win = 0;
		ra->stride = d > 0 && d <= RA_STRIDE_MAX ? d : 0;
		return;
	}
	if (!in_run && !(ra->win && d == stride)) {
		/* a new run, or a new stride */
		stride = d;
		ra->win = 0;
		ra->next = page + stride;
	}
	ra->stride = stride;
	/* A stream that caught up with pages still in flight keeps its window
	 * (more would only run further past its end); one that used them all
	 * before it faulted gets twice as many. */
	if (!ra->win)
		ra->win = RA_MIN;
	else if (page >= ra->next)
		ra->win *= 2;
	if (ra->win > rt.readahead)
		ra->win = rt.readahead;
	/* The run's pages before ra->next were requested already. */
	q = page + stride > ra->next ? page + stride : ra->next;
	for (; q <= page + stride * ra->win && q < rt.region_pages; q += stride)
		if (pstate[q] < (write ? P_WRITE : P_READ) && !pending_find(q))
			request(q, write, NULL, AHEAD_STREAM);
	ra->next = q;
}

/*
 * Regain.  A read fault on a page whose read copy a writer took away also
 * asks again for the other such pages near it that went in the same phase
 * or the one before (a phase: from one barrier's exit to the next), as
 * read-ahead requests.  A consumer that reads again what producers rewrote
 * in the last phase (a vector after each iteration's update, a halo, a
 * block of a transpose), in whatever order, then gets those pages in one
 * bundle per home instead of a round trip each.
 *
 * What it must not do is fetch, with every rewrite, pages that nobody reads
 * any more.  So: older losses are left alone; only copies taken by an
 * invalidation count, and only of pages this rank has not written in the
 * last WROTE_PHASES phases (WROTE_HERE, wrote_when: a falsely shared page
 * would only bounce more; an older write is most likely an earlier use of
 * freed and reused memory); and a regained copy that
 * goes again before any thread faulted on it is a strike against the page
 * (a thread that reads a copy already there leaves no trace), which is not
 * regained after STRIKE_LIMIT strikes until a thread faults on it again.
 * Such a fault shows the strikes were wrong (the copies were read, in
 * time): the page is marked READ_AFTER and strikes no longer count against
 * it until this rank writes it.  A reader that uses every page, arriving in
 * time, thus pays one round of page-by-page faults after STRIKE_LIMIT
 * rounds and then none (CG's vector: 1.4 faults of 60-90 us per iteration
 * and rank, the job's read faults -32 %, the regain test's 658 -> 130);
 * a page read once is fetched again at most STRIKE_LIMIT times, and one
 * marked READ_AFTER at most once a phase while a thread faults within
 * REGAIN_SPAN of it.  Within REGAIN_SPAN pages either
 * side, at most rt.readahead pages; DSM_READAHEAD=0 turns it off with
 * read-ahead.  The protocol does not change: these are ordinary read
 * requests.
 */
#define REGAIN_SPAN 64

void coh_barrier_left(void)
{
	phase++;
}

/* [*lo, *hi): the region's pages within REGAIN_SPAN of `page`. */
static void span_near(uint64_t page, uint64_t *lo, uint64_t *hi)
{
	*lo = page > REGAIN_SPAN ? page - REGAIN_SPAN : 0;
	*hi = page + REGAIN_SPAN + 1 < rt.region_pages ? page + REGAIN_SPAN + 1 : rt.region_pages;
}

static void regain(uint64_t page)
{
	uint64_t lo, hi;
	uint32_t n = 0;

	span_near(page, &lo, &hi);
	for (uint64_t q = lo; q < hi && n < rt.readahead; q++) {
		uint8_t f = lost[q];

		if ((f & ~(STRIKES | READ_AFTER)) != LOST_COPY || (f & STRIKES) >= STRIKE_LIMIT * STRIKE || q == page ||
		    (uint8_t)(phase - lost_when[q]) > 1)
			continue;
		lost[q] = (uint8_t)((f & (STRIKES | READ_AFTER)) | REGAINED);
		if (pstate[q] == P_INVALID && !pending_find(q)) {
			request(q, 0, NULL, AHEAD_AGAIN);
			n++;
		}
	}
}

/*
 * Rewrite: regain's counterpart for writers.  A write fault on a page this
 * rank wrote in an earlier phase (its write grant came then) and still
 * holds read-only, because a reader got a copy since, also asks for write
 * access to the other such pages near it that were granted in the same
 * phase: a writer that sweeps an array again after others read it (CG's
 * p, FT's work array, a grid's band) gets them back in one bundle per home
 * instead of a round trip each, whatever its order.  Only pages of the same
 * phase's grants (one sweep), only within WROTE_PHASES phases, and only
 * copies nobody else wrote since (an invalidated one is not read-only
 * here): a page written once and read by everyone afterwards stops being
 * taken back after WROTE_PHASES barriers.  Ordinary write requests.
 */
static void rewrite(uint64_t page)
{
	uint64_t lo, hi;
	uint8_t when = wrote_when[page];
	uint32_t n = 0;

	span_near(page, &lo, &hi);
	for (uint64_t q = lo; q < hi && n < rt.readahead; q++)
		if (q != page && pstate[q] == P_READ && (lost[q] & WROTE_HERE) && wrote_when[q] == when &&
		    !pending_find(q)) {
			request(q, 1, NULL, AHEAD_AGAIN);
			n++;
		}
}

static void fault(uint64_t page, int write, struct mbox_req *waiter);

/* The fault's request and the fetch-ahead's go out bundled per home. */
void coh_fault(uint64_t page, int write, struct mbox_req *waiter)
{
	bundle_begin();
	fault(page, write, waiter);
	bundle_end();
}

static void fault(uint64_t page, int write, struct mbox_req *waiter)
{
	uint8_t st = pstate[page];
	struct pending *p;
	int again, rewritten;

	/* a thread wants this page: no strikes, nor a regained copy unasked */
	if ((lost[page] & STRIKES) >= STRIKE_LIMIT * STRIKE)
		lost[page] |= READ_AFTER; /* struck out, yet read */
	lost[page] &= (uint8_t)~(REGAINED | STRIKES);
	if (st == P_WRITE || (st == P_READ && !write)) {
		/* Served while this fault was on its way. */
		rt.be->wake(page);
		if (waiter) {
			waiter->b = 0; /* no hold */
			mbox_complete(waiter, 0);
		}
		fetch_ahead(page, write);
		return;
	}
	again = (lost[page] & ~READ_AFTER) == LOST_COPY && !write && rt.readahead;
	rewritten = write && st == P_READ && (lost[page] & WROTE_HERE) && wrote_when[page] != phase &&
		    (uint8_t)(phase - wrote_when[page]) <= WROTE_PHASES && rt.readahead && page < rt.region_pages;
	lost[page] &= (uint8_t)~LOST_COPY;
	p = pending_find(page);
	if (!p) {
		p = request(page, write, waiter, 0);
	} else if (p->ahead) {
		/* The reader caught up with a page read ahead: from now on a
		 * thread waits for it. */
		p->ahead = 0;
		n_faulted++;
		p->tag = stats_fault_begin(waiter, p->write, &p->t0);
	}
	/* A write that finds a read in flight waits for it and faults again. */
	if (waiter) {
		waiter->next = p->waiters;
		p->waiters = waiter;
	}
	if (again)
		regain(page); /* after the fault's own request, in its bundle */
	if (rewritten)
		rewrite(page);
	fetch_ahead(page, write);
}

static void got_page(const struct wire_hdr *h, const uint8_t *payload)
{
	uint64_t page = h->arg;
	struct pending *p = pending_find(page);
	int write = (h->flags & WIRE_F_WRITE) != 0;
	uint64_t token;
	int rc, written, later = 0;

	if (fhome)
		learn_home(page, (int)h->aux - 1, (int)h->src);

	if (!p || p->id != h->id) {
		log_debug("stale PAGE %lu (request %lu) from rank %u", (unsigned long)page,
			  (unsigned long)h->id, h->src);
		return;
	}
	drops_apply(); /* before anything takes a dropped page's place */
	if (h->flags & WIRE_F_NODATA) {
		if (pstate[page] != P_READ || !write)
			rt_fatal("rank %u granted page %lu without data, but this rank holds no copy "
				 "(protocol error)", h->src, (unsigned long)page);
		if (bundling && page < rt.region_pages) {
			pvec_push(&opens, page); /* opens_apply() */
			later = 1;
			rc = 0;
		} else {
			rc = rt.be->upgrade(page, 1);
		}
	} else {
		if (pstate[page] != P_INVALID)
			rt_fatal("rank %u sent page %lu which this rank already holds (protocol error)",
				 h->src, (unsigned long)page);
		if ((h->flags & WIRE_F_OVERWRITE) && (!write || !(h->flags & WIRE_F_ZERO)))
			rt_fatal("rank %u granted page %lu for overwriting, but not as writable zeros "
				 "(protocol error)", h->src, (unsigned long)page);
		if (h->flags & WIRE_F_LZ4) {
			static char unpacked[DSM_PAGE_SIZE]; /* service thread only */
			if (LZ4_decompress_safe((const char *)payload, unpacked, (int)h->len,
						DSM_PAGE_SIZE) != DSM_PAGE_SIZE)
				rt_fatal("rank %u sent page %lu compressed, but it does not decompress to "
					 "one page", h->src, (unsigned long)page);
			payload = (const uint8_t *)unpacked;
		}
		rc = rt.be->install(page, (h->flags & WIRE_F_ZERO) ? NULL : payload, write);
	}
	if (rc)
		rt_fatal("cannot install page %lu: %s", (unsigned long)page, strerror(-rc));
	pstate[page] = write ? P_WRITE : P_READ;
	/* A page a write stream took ahead counts as written here once the
	 * stream's thread has gone past it (fetch_ahead): a stream takes a few
	 * pages past the end of its run, which its thread never writes, and
	 * rewrite would take them again and again from their readers. */
	written = write && p->ahead != AHEAD_STREAM;
	lost[page] = (uint8_t)((lost[page] & ~(LOST_COPY | (written ? READ_AFTER : 0))) | (written ? WROTE_HERE : 0));
	if (written)
		wrote_when[page] = phase;
	if (write)
		hint[page] = 0; /* writable without a fault to take the hint */
	if ((int)h->src != home_of(page))
		send_ctl(home_of(page), WIRE_DONE, page, h->id, 0);
	else if (h->src == (uint32_t)rt.rank && (h->flags & WIRE_F_ZERO) && !(h->flags & WIRE_F_OVERWRITE) &&
		 page < rt.region_pages)
		fault_around(page); /* a first touch at home, most likely */
	stats_fault_done(h, p->write, p->t0, p->tag, p->ahead);
	token = !p->ahead && rt.size > 1 ?
			hold_add(page, write, stats_tag_tid(p->tag), p->waiters != NULL, later) : 0;
	for (struct mbox_req *w = p->waiters; w; w = w->next)
		w->b = token; /* the handler hands it back to coh_fault_returned() */
	pending_remove(p);
	p->prev->next = p->next;
	p->next->prev = p->prev;
	n_active--;
	if (later) {
		p->next = opened;
		opened = p;
		return;
	}
	request_done(p);
}

/* ---- advice ----------------------------------------------------------- */

/*
 * dsm_advise(DSM_ADV_WILL_OVERWRITE): the program will overwrite these pages
 * whole before it reads them, so the next write request of each asks its
 * home for ownership without the data (WIRE_F_OVERWRITE).  The home
 * invalidates every other copy as for any write, the owner's too (INV with
 * WIRE_F_OVERWRITE: dropped even if writable, never sent), and grants the
 * page itself as writable zeros (PAGE with WIRE_F_ZERO | WIRE_F_OVERWRITE),
 * on its own channel, so no DONE follows.  A writer that holds a read copy
 * upgrades it as usual (no data travels either way).
 *
 * A hint is for the next write request of its page and is spent by it, or
 * by any grant that makes the page writable here (a write-ahead in flight),
 * so a stale hint never outlives the phase it was given for: a page already
 * writable here, or with a write request in flight, gets none (its next
 * write request may be in a later phase, which did not promise anything).
 * The hints live on the service thread, which is why advice goes through
 * the mailbox.
 *
 * Advice also takes the pages ahead: the first ADVISE_AHEAD pages of the
 * range that are neither writable here nor asked for are requested at once,
 * as write requests with their hints (WIRE_F_OVERWRITE), bundled per home,
 * with no thread waiting.  The writer then finds them writable, or waits
 * for those still in flight, instead of taking a write fault and a round
 * trip for each page or each window of a write stream: a transpose or an
 * all-to-all exchange that overwrites another rank's copies moves their
 * ownership in one message each way.  The protocol does not change (these
 * are ordinary write requests, as the write stream's), and neither does
 * the promise: the old contents were the program's to discard from the
 * call on.  Release-consistent pages keep neither hints nor requests.
 */
#define ADVISE_AHEAD 16384 /* pages, 64 MiB */

void coh_advise(struct mbox_req *req)
{
	uint64_t end = req->a + req->b;
	uint32_t n = 0;

	bundle_begin();
	if (req->kind == MBOX_ADVISE_READ) {
		/* DSM_ADV_WILL_READ: read copies of the pages this rank lacks,
		 * asked for at once, as read-ahead's are. */
		for (uint64_t q = req->a; q < end && q < rt.region_pages && n < ADVISE_AHEAD; q++)
			if (pstate[q] == P_INVALID && !rc_page(q) && !pending_find(q)) {
				request(q, 0, NULL, AHEAD_ADVICE);
				n++;
			}
	} else {
		for (uint64_t q = req->a; q < end && q < rt.npages; q++) {
			struct pending *p;
			if (pstate[q] == P_WRITE || ((p = pending_find(q)) && p->write) || rc_page(q))
				continue;
			hint[q] = 1;
			if (!p && n < ADVISE_AHEAD && q < rt.region_pages) {
				request(q, 1, NULL, AHEAD_ADVICE);
				n++;
			}
		}
	}
	bundle_end();
	mbox_complete(req, 0);
}

/* The one function here that an application thread runs: it only posts
 * the advice to the service thread. */
int dsm_advise(void *ptr, size_t len, int advice)
{
	uintptr_t a = (uintptr_t)ptr;
	uint64_t first, last;
	struct mbox_req req = { .kind = advice == DSM_ADV_WILL_READ ? MBOX_ADVISE_READ : MBOX_ADVISE };

	if (!rt_live("dsm_advise"))
		return -EINVAL;
	if (advice != DSM_ADV_WILL_OVERWRITE && advice != DSM_ADV_WILL_READ)
		return -EINVAL;
	if (len == 0)
		return 0;
	if (a < rt.base || a - rt.base > rt.region_size || len > rt.region_size - (a - rt.base))
		return -EINVAL;
	if (advice == DSM_ADV_WILL_READ) {
		/* Every page the range touches. */
		first = (a - rt.base) >> DSM_PAGE_SHIFT;
		last = (a - rt.base + len + DSM_PAGE_SIZE - 1) >> DSM_PAGE_SHIFT;
	} else {
		/* Only pages wholly inside the range: the rest of a page
		 * that it shares with other data is not the caller's to
		 * overwrite. */
		first = (a - rt.base + DSM_PAGE_SIZE - 1) >> DSM_PAGE_SHIFT;
		last = (a - rt.base + len) >> DSM_PAGE_SHIFT;
	}
	if (first >= last || rt.size == 1)
		return 0; /* nothing whole, or nothing to fetch from anyone */
	req.a = first;
	req.b = last - first;
	return tp_call(&req);
}

/* ---- dispatch -------------------------------------------------------- */

/* DSM_HOME=first-touch: a request at the page's home, or at its directory
 * (see "first-touch homes"). */
static void route_request(const struct wire_hdr *h, int32_t src)
{
	uint64_t page = h->arg;
	int write = h->type == WIRE_WRITE_REQ, dir = page_home(page), home = home_of(page);
	int32_t r = src;
	uint32_t line = h->aux;

	if (h->flags & WIRE_F_ROUTED) {
		if (src != dir)
			rt_fatal("rank %d routed a request for page %lu, whose directory is rank %d", src,
				 (unsigned long)page, dir);
		if (h->aux >= (uint32_t)rt.size)
			rt_fatal("rank %d routed a request for page %lu from rank %u, which does not exist", src,
				 (unsigned long)page, h->aux);
		r = (int32_t)h->aux;
		line = 0;
		if (home < 0 && r == rt.rank)
			learn_home(page, rt.rank, src); /* the directory made this rank the home */
		else if (home != rt.rank)
			rt_fatal("rank %d routed page %lu's request from rank %d here, but the home is rank %d "
				 "(protocol error)", src, (unsigned long)page, r, home);
	} else if (home != rt.rank) {
		if (dir != rt.rank)
			rt_fatal("rank %d sent %s for page %lu, whose home is rank %d and directory rank %d", src,
				 wire_type_name(h->type), (unsigned long)page, home, dir);
		if (home < 0) {
			learn_home(page, src, rt.rank); /* first touch: src's from now on */
			home = src;
		}
		if (home != rt.rank) {
			send_ctl_f(home, h->type, (uint16_t)((h->flags & WIRE_F_OVERWRITE) | WIRE_F_ROUTED), page,
				   h->id, (uint32_t)src);
			return;
		}
	}
	stats_home_request(page, r, write, line);
	home_request(r, page, h->id, write, write && (h->flags & WIRE_F_OVERWRITE));
}

/* Before a bundle's messages are handled: write-protect, in runs, the
 * writable pages its forwards and requests at this home will serve (see
 * "Batched drops and downgrades").  Messages that do not decode are left
 * to handle_bundle(), which ends the job. */
static void to_downgrade(const struct wire_hdr *h, const uint8_t *payload)
{
	static struct pvec wp;
	size_t off = 0;
	struct wire_hdr in;

	wp.n = 0;

	while (off < h->len && !wire_decode_hdr(payload + off, h->len - off, &in) &&
	       in.len <= h->len - off - WIRE_HDR_SIZE) {
		uint64_t page = in.arg;
		int write = in.type == WIRE_FWD_WRITE || in.type == WIRE_WRITE_REQ;

		off += WIRE_HDR_SIZE + in.len;
		if (page >= rt.region_pages || pstate[page] != P_WRITE ||
		    !(in.type == WIRE_FWD_READ || in.type == WIRE_FWD_WRITE ||
		      (!fhome && page_home(page) == rt.rank &&
		       (in.type == WIRE_READ_REQ || (in.type == WIRE_WRITE_REQ && !(in.flags & WIRE_F_OVERWRITE))))) ||
		    hold_blocks(page, write, 1))
			continue;
		pvec_push(&wp, page);
		pstate[page] = P_READ;
	}
	if (wp.n)
		by_runs(wp.v, wp.n, rt.be->downgrade, "write-protect", NULL);
}

/* A COH_BUNDLE: each message in it handled as if it had come alone, and
 * what they make this rank send bundled in turn. */
static void handle_bundle(const struct wire_hdr *h, const uint8_t *payload)
{
	size_t off = 0;
	uint64_t n = 0;

	bundle_begin();
	to_downgrade(h, payload);
	while (off < h->len) {
		struct wire_hdr in;
		int rc = wire_decode_hdr(payload + off, h->len - off, &in);

		if (rc || in.type < WIRE_READ_REQ || in.type > WIRE_DONE ||
		    in.len > h->len - off - WIRE_HDR_SIZE)
			rt_fatal("rank %u sent a malformed bundle: message %lu (%s) %s", h->src, (unsigned long)n,
				 rc ? "?" : wire_type_name(in.type),
				 rc ? wire_strerror(rc) : in.len > h->len - off - WIRE_HDR_SIZE ?
				 "runs past its end" : "may not be bundled");
		in.src = h->src;
		coh_handle(&in, payload + off + WIRE_HDR_SIZE);
		off += WIRE_HDR_SIZE + in.len;
		n++;
	}
	if (n != h->arg)
		rt_fatal("rank %u sent a bundle of %lu messages that says %lu", h->src, (unsigned long)n,
			 (unsigned long)h->arg);
	bundle_end();
}

void coh_handle(const struct wire_hdr *h, const uint8_t *payload)
{
	uint64_t page = h->arg;
	int32_t src = (int32_t)h->src;
	int home;

	if (h->type == WIRE_COH_BUNDLE) {
		handle_bundle(h, payload);
		return;
	}
	if (page >= rt.npages)
		rt_fatal("rank %d sent %s for page %lu, beyond the region's %lu pages", src,
			 wire_type_name(h->type), (unsigned long)page, (unsigned long)rt.npages);
	home = home_of(page);
	switch (h->type) {
	case WIRE_READ_REQ:
	case WIRE_WRITE_REQ:
		if (fhome && page < rt.region_pages)
			break; /* route_request() checks */
		/* fall through */
	case WIRE_INV_ACK:
	case WIRE_DONE:
		if (home != rt.rank)
			rt_fatal("rank %d sent %s for page %lu, whose home is rank %d", src,
				 wire_type_name(h->type), (unsigned long)page, home);
		break;
	case WIRE_FWD_READ:
	case WIRE_FWD_WRITE:
	case WIRE_INV:
		if (home != src)
			rt_fatal("rank %d sent %s for page %lu but is not its home", src,
				 wire_type_name(h->type), (unsigned long)page);
		if ((h->type != WIRE_INV) && (h->aux >= (uint32_t)rt.size))
			rt_fatal("rank %d forwarded page %lu to rank %u, which does not exist", src,
				 (unsigned long)page, h->aux);
		break;
	case WIRE_PAGE:
		if (!(h->flags & (WIRE_F_ZERO | WIRE_F_NODATA | WIRE_F_LZ4)) && h->len != DSM_PAGE_SIZE)
			rt_fatal("rank %d sent page %lu with %u bytes of data", src, (unsigned long)page,
				 h->len);
		break;
	}

	if ((h->type == WIRE_INV || h->type == WIRE_FWD_WRITE || h->type == WIRE_FWD_READ) &&
	    hold_blocks(page, h->type != WIRE_FWD_READ, 1)) {
		defer(h);
		return;
	}
	switch (h->type) {
	case WIRE_READ_REQ:
	case WIRE_WRITE_REQ:
		if (fhome && page < rt.region_pages) {
			route_request(h, src);
			break;
		}
		stats_home_request(page, src, h->type == WIRE_WRITE_REQ, h->aux);
		home_request(src, page, h->id, h->type == WIRE_WRITE_REQ,
			     h->type == WIRE_WRITE_REQ && (h->flags & WIRE_F_OVERWRITE));
		break;
	case WIRE_FWD_READ:
		serve_read(page, (int)h->aux, h->id, 0);
		break;
	case WIRE_FWD_WRITE:
		serve_write(page, (int)h->aux, h->id, 0);
		break;
	case WIRE_INV:
		drop_copy(page, src, (h->flags & WIRE_F_OVERWRITE) != 0);
		send_ctl(src, WIRE_INV_ACK, page, h->id, 0);
		break;
	case WIRE_INV_ACK:
		home_ack(src, page, h->id);
		break;
	case WIRE_PAGE:
		got_page(h, payload);
		break;
	case WIRE_DONE:
		home_done(src, page, h->id);
		break;
	}
}

/* ---- deadlines ------------------------------------------------------- */

int coh_busy(void)
{
	return n_active || n_busy;
}

int coh_thread_waits(void)
{
	return n_faulted != 0;
}

int64_t coh_deadline(int64_t now)
{
	if (n_deferred)
		return now + HOLD_POLL_NS;
	return coh_busy() ? now + 200000000 : INT64_MAX;
}

void coh_check_deadlines(int64_t now)
{
	int secs = (int)(rt.timeout_ns / 1000000000);
	struct pending *p;
	struct dirent *e;

	if (n_deferred)
		holds_run();
	/* Both lists are in the order their entries were made, each with the
	 * deadline now + rt.timeout_ns: the first is the earliest.  (Advice
	 * keeps thousands of requests in flight; a scan of them all, after
	 * every batch of events, was a cost per message.) */
	p = active_head.next;
	e = busy_head.next;
	if (p != &active_head && now > p->deadline)
		rt_fatal("no answer within %d s to a %s request for page %lu (home: rank %d); see DSM_TIMEOUT",
			 secs, p->write ? "write" : "read", (unsigned long)p->page, req_target(p->page));
	if (e != &busy_head && now > e->deadline)
		rt_fatal("page %lu: %s within %d s while serving rank %d; see DSM_TIMEOUT", (unsigned long)e->page,
			 e->phase == PH_INV ? "invalidations were not acknowledged" : "the transfer was not confirmed",
			 secs, e->cur_rank);
}

/* ---- checkpoint support */

int coh_ckpt_list(uint64_t **pages, size_t *n)
{
	uint64_t *v;
	size_t k = 0;

	if (fhome) {
		/* A restart puts each page back at its static home. */
		log_err("dsm_checkpoint: not with DSM_HOME=first-touch (use cyclic or block)");
		return -ENOTSUP;
	}
	if (!(v = malloc((dir_map.n + 1) * sizeof(*v))))
		return -ENOMEM;
	for (size_t i = 0; i < dir_map.nb; i++)
		for (struct dirent *e = dir_map.b[i]; e; e = e->hnext)
			if (!e->virgin)
				v[k++] = e->page;
	qsort(v, k, sizeof(*v), page_cmp);
	*pages = v;
	*n = k;
	return 0;
}

int coh_ckpt_install(uint64_t page, const void *data)
{
	struct dirent *e;
	int rc;

	if (page >= rt.npages || page_home(page) != rt.rank)
		return -EINVAL;
	e = dir_find(page);
	if (pstate[page] != P_INVALID || (e && !e->virgin))
		return -EEXIST;
	drops_apply();
	if ((rc = rt.be->install(page, data, 1)))
		return rc;
	if (fhome)
		learn_home(page, rt.rank, rt.rank); /* restored: homed at its directory */
	pstate[page] = P_WRITE;
	e = dir_get(page);
	e->owner = rt.rank;
	e->virgin = 0;
	return 0;
}
