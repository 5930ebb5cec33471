/*
 * stats.c - observability: counters, hot pages, snapshots, the end-of-job
 * report.  See stats.h for the hooks and the lines a rank writes.
 *
 * Design.
 *   Counters: an array of uint64_t, one per field of struct dsm_stats.  The
 *     service thread counts faults, pages and invalidations (a relaxed load
 *     and store: no locked instruction on the fault path); application
 *     threads count their waits with relaxed atomic adds around calls that
 *     already cost a round trip.
 *   Hot pages: each home keeps, per page it served requests for, how many
 *     it served, and per requesting rank its reads, writes and the 64-byte
 *     lines its faults touched (the fault backends report the address: the
 *     SIGSEGV handler's si_addr, userfaultfd's exact address where the kernel
 *     gives it).  The line rides in the request's aux to the home.  One entry
 *     per page, made on its first request, at most HOT_MAX of them (later
 *     pages go uncounted): the same order of memory as the directory.
 *   Allocations: the heap tells us what this rank allocated (name or call
 *     site), so the report can say which allocation a hot page belongs to.
 *     A freed block's record is kept (the last FREED_KEEP of them): its pages
 *     were hot while it lived.  Rank 0 also reports the DSM_SHARED variables,
 *     from the symbol tables of the modules that have them.
 *   Snapshots (DSM_MONITOR=ms, set by dsmexec --monitor): a thread of ours
 *     wakes every interval, reads the counters and this rank's page-state
 *     table (racy reads: a snapshot may be a moment stale), and writes S and
 *     M lines.  It never takes a lock the fault path takes.
 *   Under dsmexec --stats without the live view, the same thread writes
 *     only an S line every COUNT_SNAP_MS, so that a job interrupted before
 *     dsm_finalize still reports what its ranks had counted.
 *   Report: at dsm_finalize, under dsmexec, C, H and A lines that dsmexec
 *     gathers into one table for the job (stats_job_*, below, shared with
 *     dsmexec); without dsmexec the rank prints its own table.
 *
 * Locking: `alloc_lock` guards the allocation records (application
 * threads).  The hot-page table belongs to the service thread (and to
 * stats_fini, after it has ended).  `snap_lock` guards `snap_stop`.
 */
#include "stats.h"

#include <dlfcn.h>
#include <dsm.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "coherence.h"
#include "globals.h"
#include "launch_env.h"
#include "log.h"
#include "mailbox.h"
#include "rc.h"
#include "runtime.h"
#include "trace.h"
#include "wire.h"

#ifndef UFFD_FEATURE_THREAD_ID
#define UFFD_FEATURE_THREAD_ID (1 << 8)
#endif
#ifndef UFFD_FEATURE_EXACT_ADDRESS
#define UFFD_FEATURE_EXACT_ADDRESS (1 << 11)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

#define HOT_MAX (1u << 18)   /* pages with a hot-page entry, per home */
#define HOT_REPORT 10        /* pages in the report */
#define HOT_RANKS 8          /* ranks listed per hot page */
#define ALLOC_MAX (1u << 16) /* allocation records kept */
#define ALLOC_LINES 512      /* of which reported */
#define LINE_MAX_BYTES 3800  /* an observation line: below PIPE_BUF */
#define MAP_BLOCKS 65536     /* the page map's resolution, at most */
#define LINE_BYTES 64        /* the false-sharing grain */
#define FREED_KEEP 1024      /* records of freed blocks kept for the report */
#define VAR_LINES 512        /* DSM_SHARED variables reported */
#define COUNT_SNAP_MS 1000   /* --stats: counters to dsmexec this often */

_Static_assert(sizeof(struct dsm_stats) == (ST_COUNT + 5) * sizeof(uint64_t),
	       "struct dsm_stats is the counters and 5 reserved words");
_Static_assert(offsetof(struct dsm_stats, prefetched) == ST_PREFETCHED * sizeof(uint64_t),
	       "the counters are in struct dsm_stats's order");
_Static_assert(offsetof(struct dsm_stats, notices_applied) == ST_NOTICES_APPLIED * sizeof(uint64_t),
	       "the counters are in struct dsm_stats's order");

uint64_t stats_ctr[ST_COUNT];

const char *const stats_names[ST_COUNT] = {
	"read_faults", "write_faults", "pages_in", "pages_out", "page_bytes_in", "page_bytes_out",
	"net_bytes_in", "net_bytes_out", "inv_sent", "inv_received", "fault_ns", "locks", "lock_ns",
	"barriers", "barrier_ns", "sem_waits", "sem_ns", "rpc_calls", "rpc_ns", "rpc_served",
	"prefetched", "twins", "diffs_sent", "diff_bytes_sent", "diffs_applied", "diff_bytes_applied",
	"notices_applied",
};

static int stats_on;      /* DSM_STATS=1: report at the end */
static int collect;       /* under dsmexec: write lines, dsmexec reports */
static int snap_ms;       /* snapshot interval, 0 = none */
static int snap_map;      /* DSM_MONITOR: snapshots carry the page map */
static int64_t t_start;
static uint64_t uffd_tag; /* service thread: the fault stats_uffd_fault described */
static int uffd_exact = -1;

int64_t obs_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int dsm_stats(struct dsm_stats *st)
{
	uint64_t *v = (uint64_t *)st;

	if (!st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	for (int i = 0; i < ST_COUNT; i++)
		v[i] = __atomic_load_n(&stats_ctr[i], __ATOMIC_RELAXED);
	return 0;
}

/* ---- faults ------------------------------------------------------------ */

uint64_t stats_fault_tag(uintptr_t addr)
{
	return (uint64_t)(uint32_t)trace_tid() << 8 | (((addr & (DSM_PAGE_SIZE - 1)) / LINE_BYTES) + 1);
}

uint64_t stats_uffd_features(void)
{
	static uint64_t have = (uint64_t)-1;
	struct uffdio_api api = { .api = UFFD_API };
	int fd;

	if (have != (uint64_t)-1)
		return have;
	have = 0;
	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && errno == EPERM)
		fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (fd >= 0 && ioctl(fd, UFFDIO_API, &api) == 0)
		have = api.features & (UFFD_FEATURE_THREAD_ID | UFFD_FEATURE_EXACT_ADDRESS);
	if (fd >= 0)
		close(fd);
	uffd_exact = (have & UFFD_FEATURE_EXACT_ADDRESS) != 0;
	return have;
}

void stats_uffd_fault(uint32_t tid, uint64_t addr)
{
	uffd_tag = (uint64_t)tid << 8 | (uffd_exact > 0 ? ((addr & (DSM_PAGE_SIZE - 1)) / LINE_BYTES) + 1 : 0);
}

uint64_t stats_fault_begin(struct mbox_req *waiter, int write, int64_t *t0)
{
	uint64_t tag = waiter ? (uint64_t)(uintptr_t)waiter->p : uffd_tag;

	uffd_tag = 0;
	stat_bump(write ? ST_WRITE_FAULTS : ST_READ_FAULTS, 1);
	*t0 = obs_clock();
	return tag;
}

uint64_t stats_prefetch_begin(int64_t *t0)
{
	stat_bump(ST_PREFETCHED, 1);
	*t0 = obs_clock();
	return 0; /* no thread touched it */
}

void stats_fault_done(const struct wire_hdr *h, int write, int64_t t0, uint64_t tag, int ahead)
{
	int64_t t1 = obs_clock();

	if (!ahead)
		stat_bump(ST_FAULT_NS, (uint64_t)(t1 - t0));
	if (!(h->flags & WIRE_F_NODATA) && (int)h->src != rt.rank) {
		stat_bump(ST_PAGES_IN, 1);
		stat_bump(ST_PAGE_BYTES_IN, h->len);
	}
	if (trace_on && !ahead)
		trace_rec(write ? TR_FAULT_WRITE : TR_FAULT_READ, (int)(tag >> 8), t0, t1, h->arg, h->src,
			  TRACE_FLOW_PAGE(rt.rank, h->id));
}

void stats_page_sent(int to, uint64_t page, uint64_t req, uint32_t len, int write, int64_t t0)
{
	if (to != rt.rank) {
		stat_bump(ST_PAGES_OUT, 1);
		stat_bump(ST_PAGE_BYTES_OUT, len);
	}
	if (trace_on)
		trace_rec(write ? TR_SERVE_WRITE : TR_SERVE_READ, 0, t0, obs_clock(), page, (uint64_t)to,
			  TRACE_FLOW_PAGE(to, req));
}

void stats_inv_received(int from)
{
	stat_bump(ST_INV_RECEIVED, 1);
	if (from == rt.rank)
		stat_bump(ST_INV_SENT, 1); /* the home dropped its own copy */
}

void stats_add_bytes(int peer, uint64_t sent, uint64_t received)
{
	(void)peer;
	if (sent)
		stat_add(ST_NET_BYTES_OUT, sent);
	if (received)
		stat_add(ST_NET_BYTES_IN, received);
}

/* ---- waits ----------------------------------------------------------- */

void stats_waited(int kind, uint64_t id, int64_t t0)
{
	int64_t t1 = obs_clock();
	enum stat_id n, ns;
	enum trace_kind tk;

	switch (kind) {
	case MBOX_LOCK: n = ST_LOCKS; ns = ST_LOCK_NS; tk = TR_LOCK; break;
	case MBOX_TRYLOCK: n = ST_LOCKS; ns = ST_LOCK_NS; tk = TR_TRYLOCK; break;
	case MBOX_SEM_WAIT: n = ST_SEM_WAITS; ns = ST_SEM_NS; tk = TR_SEM; break;
	case MBOX_BARRIER: n = ST_BARRIERS; ns = ST_BARRIER_NS; tk = TR_BARRIER; break;
	default: return;
	}
	stat_add(n, 1);
	stat_add(ns, (uint64_t)(t1 - t0));
	if (trace_on)
		trace_rec(tk, 0, t0, t1, id, 0, 0);
}

void stats_rpc_called(int rank, uint32_t fn, uint64_t call_id, int64_t t0)
{
	int64_t t1 = obs_clock();

	stat_add(ST_RPC_CALLS, 1);
	stat_add(ST_RPC_NS, (uint64_t)(t1 - t0));
	if (trace_on && call_id)
		trace_rec(TR_RPC_CALL, 0, t0, t1, (uint64_t)rank, fn, TRACE_FLOW_RPC(rt.rank, call_id));
}

void stats_rpc_served(int caller, uint32_t fn, uint64_t call_id, int64_t t0)
{
	stat_add(ST_RPC_SERVED, 1);
	if (trace_on)
		trace_rec(TR_RPC_SERVE, 0, t0, obs_clock(), (uint64_t)caller, fn, TRACE_FLOW_RPC(caller, call_id));
}

/* ---- hot pages (home, service thread) ------------------------------------ */

struct hot_rank {
	int32_t rank;
	uint32_t reads, writes;
	uint64_t rmask, wmask; /* 64-byte lines faulted on */
};

struct hot_page {
	struct hot_page *next;
	uint64_t page, n;
	uint32_t nr, cap;
	struct hot_rank *r;
	struct hot_rank inl[2];
};

static struct {
	struct hot_page **b;
	size_t nb, n;
	uint64_t untracked;
} hot;

static size_t hot_bucket(uint64_t page, size_t nb)
{
	return (size_t)((page * 0x9e3779b97f4a7c15ULL) >> 17) & (nb - 1);
}

static struct hot_page *hot_get(uint64_t page)
{
	struct hot_page *e;
	size_t k;

	if (hot.nb) {
		for (e = hot.b[hot_bucket(page, hot.nb)]; e; e = e->next)
			if (e->page == page)
				return e;
	}
	if (hot.n >= HOT_MAX)
		return NULL;
	if (hot.n >= hot.nb) {
		size_t nb = hot.nb ? 2 * hot.nb : 1024;
		struct hot_page **b = calloc(nb, sizeof(*b));
		if (!b)
			return NULL;
		for (size_t i = 0; i < hot.nb; i++)
			while (hot.b[i]) {
				struct hot_page *x = hot.b[i];
				hot.b[i] = x->next;
				k = hot_bucket(x->page, nb);
				x->next = b[k];
				b[k] = x;
			}
		free(hot.b);
		hot.b = b;
		hot.nb = nb;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->page = page;
	e->r = e->inl;
	e->cap = 2;
	k = hot_bucket(page, hot.nb);
	e->next = hot.b[k];
	hot.b[k] = e;
	hot.n++;
	return e;
}

/* The page's entry for rank `from`, one request more; NULL when the table
 * is full. */
static struct hot_rank *hot_rank_of(uint64_t page, int from)
{
	struct hot_page *e = hot_get(page);
	struct hot_rank *r;

	if (!e) {
		hot.untracked++;
		return NULL;
	}
	e->n++;
	for (uint32_t i = 0; i < e->nr; i++)
		if (e->r[i].rank == from)
			return &e->r[i];
	if (e->nr == e->cap) {
		struct hot_rank *v = malloc(2 * e->cap * sizeof(*v));
		if (!v)
			return NULL;
		memcpy(v, e->r, e->nr * sizeof(*v));
		if (e->r != e->inl)
			free(e->r);
		e->r = v;
		e->cap *= 2;
	}
	r = &e->r[e->nr++];
	*r = (struct hot_rank){ .rank = from };
	return r;
}

void stats_home_request(uint64_t page, int from, int write, uint32_t line)
{
	struct hot_rank *r = hot_rank_of(page, from);

	if (!r)
		return;
	if (write)
		r->writes++;
	else
		r->reads++;
	if (line >= 1 && line <= DSM_PAGE_SIZE / LINE_BYTES) {
		if (write)
			r->wmask |= 1ULL << (line - 1);
		else
			r->rmask |= 1ULL << (line - 1);
	}
}

void stats_home_diff(uint64_t page, int from, uint64_t lines)
{
	struct hot_rank *r = hot_rank_of(page, from);

	if (!r)
		return;
	r->writes++;
	r->wmask |= lines;
}

static void hot_free(void)
{
	for (size_t i = 0; i < hot.nb; i++)
		while (hot.b[i]) {
			struct hot_page *x = hot.b[i];
			hot.b[i] = x->next;
			if (x->r != x->inl)
				free(x->r);
			free(x);
		}
	free(hot.b);
	memset(&hot, 0, sizeof(hot));
}

/* ---- allocations (application threads) -------------------------------- */

struct arec {
	struct arec *next;
	uint64_t off, size;
	uint32_t obj;
	char *name;
	const void *site;
};

static pthread_mutex_t alloc_lock = PTHREAD_MUTEX_INITIALIZER;
static struct arec *arecs[4096];
static size_t n_arecs;
static struct arec *freed[FREED_KEEP]; /* a ring: the latest freed blocks */
static size_t freed_next;

static size_t arec_bucket(uint64_t off)
{
	return (size_t)(((off >> 4) * 0x9e3779b97f4a7c15ULL) >> 40) % (sizeof(arecs) / sizeof(arecs[0]));
}

void stats_note_alloc(uint64_t off, uint64_t size, const char *name, uint32_t objsize, const void *site)
{
	struct arec *a;
	size_t k = arec_bucket(off);

	if (!stats_on)
		return;
	pthread_mutex_lock(&alloc_lock);
	for (a = arecs[k]; a; a = a->next)
		if (a->off == off)
			break;
	if (!a && n_arecs < ALLOC_MAX && (a = calloc(1, sizeof(*a)))) {
		a->off = off;
		a->next = arecs[k];
		arecs[k] = a;
		n_arecs++;
	}
	if (a) {
		free(a->name);
		a->size = size;
		a->obj = objsize;
		a->name = name ? strdup(name) : NULL;
		a->site = site;
	}
	pthread_mutex_unlock(&alloc_lock);
}

void stats_note_free(uint64_t off)
{
	struct arec **pp;

	if (!stats_on)
		return;
	pthread_mutex_lock(&alloc_lock);
	for (pp = &arecs[arec_bucket(off)]; *pp; pp = &(*pp)->next)
		if ((*pp)->off == off) {
			struct arec *a = *pp, **slot = &freed[freed_next++ % FREED_KEEP];

			*pp = a->next;
			n_arecs--;
			if (*slot) {
				free((*slot)->name);
				free(*slot);
			}
			a->next = NULL;
			*slot = a;
			break;
		}
	pthread_mutex_unlock(&alloc_lock);
}

static void arecs_free(void)
{
	pthread_mutex_lock(&alloc_lock);
	for (size_t i = 0; i < sizeof(arecs) / sizeof(arecs[0]); i++)
		while (arecs[i]) {
			struct arec *a = arecs[i];
			arecs[i] = a->next;
			free(a->name);
			free(a);
		}
	for (size_t i = 0; i < FREED_KEEP; i++) {
		if (freed[i]) {
			free(freed[i]->name);
			free(freed[i]);
		}
		freed[i] = NULL;
	}
	freed_next = 0;
	n_arecs = 0;
	pthread_mutex_unlock(&alloc_lock);
}

/* "func+0x12", or "program+0x1234" (for addr2line -e program) */
static void describe_site(const void *site, char *out, size_t cap)
{
	Dl_info di;

	if (site && dladdr(site, &di) && di.dli_sname && di.dli_saddr)
		snprintf(out, cap, "%s+0x%lx", di.dli_sname, (unsigned long)((uintptr_t)site - (uintptr_t)di.dli_saddr));
	else if (site && dladdr(site, &di) && di.dli_fname)
		snprintf(out, cap, "%s+0x%lx", strrchr(di.dli_fname, '/') ? strrchr(di.dli_fname, '/') + 1 : di.dli_fname,
			 (unsigned long)((uintptr_t)site - (uintptr_t)di.dli_fbase));
	else
		snprintf(out, cap, "%p", site);
}

/* ---- lines ------------------------------------------------------------- */

static struct stats_job *self_job; /* without dsmexec: this rank's own report */
static void job_self(struct stats_job *j, int rank);

static char obs_token[OBS_TOKEN_LEN + 1]; /* DSM_OBS_TOKEN; "" without dsmexec */

static void emit(const char *line, size_t n)
{
	char tagged[LINE_MAX_BYTES + OBS_TOKEN_LEN + 16];

	if (self_job) {
		stats_job_line(self_job, rt.rank, line, n && line[n - 1] == '\n' ? n - 1 : n);
		return;
	}
	/* "\036DSM1 K rest" -> "\036DSM1 K t=TOKEN rest" */
	if (obs_token[0] && n > OBS_MAGIC_LEN + 1 && n + OBS_TOKEN_LEN + 3 <= sizeof(tagged)) {
		size_t k = OBS_MAGIC_LEN + 1;
		memcpy(tagged, line, k);
		memcpy(tagged + k, " t=", 3);
		memcpy(tagged + k + 3, obs_token, OBS_TOKEN_LEN);
		memcpy(tagged + k + 3 + OBS_TOKEN_LEN, line + k, n - k);
		line = tagged;
		n += 3 + OBS_TOKEN_LEN;
	}
	/* One write(2) below PIPE_BUF: no other thread's output splits it. */
	while (write(STDERR_FILENO, line, n) < 0 && errno == EINTR)
		;
}

static size_t put_counters(char *buf, size_t cap, char kind)
{
	size_t o = (size_t)snprintf(buf, cap, OBS_MAGIC "%c r=%d", kind, rt.rank);

	for (int i = 0; i < ST_COUNT && o < cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, " %s=%" PRIu64, stats_names[i],
				      __atomic_load_n(&stats_ctr[i], __ATOMIC_RELAXED));
	if (o < cap)
		buf[o++] = '\n';
	return o < cap ? o : cap;
}

static void hex(char *out, const char *s, size_t max)
{
	size_t o = 0;

	for (; *s && o + 3 < max; s++)
		o += (size_t)snprintf(out + o, max - o, "%02x", (unsigned char)*s);
	out[o] = '\0';
}

static int hot_cmp(const void *a, const void *b)
{
	const struct hot_page *x = *(struct hot_page *const *)a, *y = *(struct hot_page *const *)b;

	return x->n < y->n ? 1 : x->n > y->n ? -1 : x->page < y->page ? -1 : 1;
}

static int rank_cmp(const void *a, const void *b)
{
	const struct hot_rank *x = a, *y = b;
	uint32_t nx = x->reads + x->writes, ny = y->reads + y->writes;

	return nx < ny ? 1 : nx > ny ? -1 : x->rank - y->rank;
}

static void emit_hot(void)
{
	struct hot_page *top[HOT_REPORT];
	size_t ntop = 0;
	char line[LINE_MAX_BYTES + 64];

	for (size_t i = 0; i < hot.nb; i++)
		for (struct hot_page *e = hot.b[i]; e; e = e->next) {
			if (ntop < HOT_REPORT) {
				top[ntop++] = e;
			} else if (e->n > top[HOT_REPORT - 1]->n) {
				top[HOT_REPORT - 1] = e;
			} else {
				continue;
			}
			qsort(top, ntop, sizeof(top[0]), hot_cmp);
		}
	for (size_t i = 0; i < ntop; i++) {
		struct hot_page *e = top[i];
		size_t o;

		qsort(e->r, e->nr, sizeof(e->r[0]), rank_cmp);
		o = (size_t)snprintf(line, sizeof(line), OBS_MAGIC "H r=%d p=%" PRIu64 " a=0x%lx n=%" PRIu64 " c=%c k=",
				     rt.rank, e->page, (unsigned long)(uintptr_t)page_addr(e->page), e->n,
				     rc_page(e->page) ? 'r' : 's');
		for (uint32_t k = 0; k < e->nr && k < HOT_RANKS && o < LINE_MAX_BYTES; k++)
			o += (size_t)snprintf(line + o, sizeof(line) - o, "%s%d:%u:%u:%" PRIx64 ":%" PRIx64,
					      k ? "," : "", e->r[k].rank, e->r[k].reads, e->r[k].writes,
					      e->r[k].rmask, e->r[k].wmask);
		if (e->nr > HOT_RANKS)
			o += (size_t)snprintf(line + o, sizeof(line) - o, " more=%u", e->nr - HOT_RANKS);
		line[o++] = '\n';
		emit(line, o);
	}
}

static int arec_cmp(const void *a, const void *b)
{
	const struct arec *x = *(struct arec *const *)a, *y = *(struct arec *const *)b;

	if (!!x->name != !!y->name)
		return x->name ? -1 : 1; /* named ones first */
	return x->size < y->size ? 1 : x->size > y->size ? -1 : 0;
}

static void emit_alloc(const struct arec *a, int was_freed)
{
	char line[LINE_MAX_BYTES], what[600], desc[300];
	int o;

	if (a->name) {
		hex(what, a->name, sizeof(what));
		o = snprintf(line, sizeof(line), OBS_MAGIC "A r=%d off=%" PRIu64 " size=%" PRIu64 " obj=0 freed=%d name=%s\n",
			     rt.rank, a->off, a->size, was_freed, what);
	} else {
		describe_site(a->site, desc, sizeof(desc));
		hex(what, desc, sizeof(what));
		o = snprintf(line, sizeof(line), OBS_MAGIC "A r=%d off=%" PRIu64 " size=%" PRIu64 " obj=%u freed=%d site=%s\n",
			     rt.rank, a->off, a->size, a->obj, was_freed, what);
	}
	if (o > 0 && (size_t)o < sizeof(line))
		emit(line, (size_t)o);
}

static void emit_allocs(void)
{
	struct arec **v;
	size_t n = 0;

	pthread_mutex_lock(&alloc_lock);
	v = malloc((n_arecs + 1) * sizeof(*v));
	for (size_t i = 0; v && i < sizeof(arecs) / sizeof(arecs[0]); i++)
		for (struct arec *a = arecs[i]; a; a = a->next)
			v[n++] = a;
	if (v)
		qsort(v, n, sizeof(*v), arec_cmp);
	for (size_t i = 0; v && i < n && i < ALLOC_LINES; i++)
		emit_alloc(v[i], 0);
	for (size_t i = 0; i < FREED_KEEP; i++)
		if (freed[i])
			emit_alloc(freed[i], 1);
	pthread_mutex_unlock(&alloc_lock);
	free(v);
}

/* The DSM_SHARED variables of one module: the objects its symbol table
 * places in the section, as A lines whose offsets are in page-number space
 * (page * page size), as the hot pages' are.  Returns how many it emitted. */
static int emit_module_vars(const char *path, uintptr_t base, uintptr_t sec, size_t len, uint64_t first_page,
			    int budget)
{
	ElfW(Ehdr) eh;
	ElfW(Shdr) *sh = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC), n = 0;

	if (fd < 0)
		return 0;
	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_shentsize != sizeof(ElfW(Shdr)) || !eh.e_shnum || !(sh = calloc(eh.e_shnum, sizeof(*sh))) ||
	    pread(fd, sh, eh.e_shnum * sizeof(*sh), (off_t)eh.e_shoff) != (ssize_t)(eh.e_shnum * sizeof(*sh)))
		goto out;
	/* .symtab names static variables too; a stripped file has .dynsym only */
	for (unsigned want = SHT_SYMTAB; want && !n; want = want == SHT_SYMTAB ? SHT_DYNSYM : 0) {
		for (unsigned i = 0; i < eh.e_shnum && n < budget; i++) {
			ElfW(Sym) *syms;
			ElfW(Shdr) *strh;
			char *str;

			if (sh[i].sh_type != want || sh[i].sh_link >= eh.e_shnum)
				continue;
			strh = &sh[sh[i].sh_link];
			syms = malloc(sh[i].sh_size);
			str = malloc(strh->sh_size + 1);
			if (syms && str && pread(fd, syms, sh[i].sh_size, (off_t)sh[i].sh_offset) == (ssize_t)sh[i].sh_size &&
			    pread(fd, str, strh->sh_size, (off_t)strh->sh_offset) == (ssize_t)strh->sh_size) {
				str[strh->sh_size] = '\0';
				for (size_t k = 0; k < sh[i].sh_size / sizeof(*syms) && n < budget; k++) {
					uintptr_t a = base + syms[k].st_value;
					char line[LINE_MAX_BYTES], what[600];
					int o;

					if (ELF64_ST_TYPE(syms[k].st_info) != STT_OBJECT || !syms[k].st_size ||
					    a - sec >= len || syms[k].st_name >= strh->sh_size)
						continue;
					hex(what, str + syms[k].st_name, sizeof(what));
					o = snprintf(line, sizeof(line), OBS_MAGIC "A r=%d off=%" PRIu64 " size=%" PRIu64
						     " obj=0 var=%s\n", rt.rank, first_page * DSM_PAGE_SIZE + (a - sec),
						     (uint64_t)syms[k].st_size, what);
					if (o > 0 && (size_t)o < sizeof(line)) {
						emit(line, (size_t)o);
						n++;
					}
				}
			}
			free(syms);
			free(str);
		}
	}
out:
	free(sh);
	close(fd);
	return n;
}

/* Every rank has the same variables (dsm_init checks): rank 0 names them. */
static void emit_vars(void)
{
	struct globals_module_info m;
	int n = 0;

	if (rt.rank != 0)
		return;
	for (unsigned i = 0; globals_module(i, &m) == 0; i++)
		if (m.sec)
			n += emit_module_vars(m.path, m.base, m.sec, m.len, m.first_page, VAR_LINES - n);
}

/* ---- snapshots ----------------------------------------------------------- */

static pthread_t snap_thread;
static int snap_running;
static pthread_mutex_t snap_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t snap_cond = PTHREAD_COND_INITIALIZER;
static int snap_stop;
static uint32_t *blk_w, *blk_r;
static unsigned blk_shift;
static size_t n_blocks;

/* Add the states st[0 .. npages) of pages first ... to the blocks.  pstate
 * (and rc.c's table of the release-consistent arena, in the same code) is
 * the service thread's; a snapshot may read a byte as it changes, which only
 * makes it a moment stale.  Word loads skip untouched stretches. */
__attribute__((no_sanitize("thread"), noinline))
static void count_blocks(const uint8_t *st, uint64_t first, uint64_t npages)
{
	uint64_t p = 0;

	for (; p + 8 <= npages; p += 8) {
		uint64_t w;
		memcpy(&w, st + p, 8);
		if (!w)
			continue;
		for (unsigned i = 0; i < 8; i++) {
			uint8_t s = (uint8_t)(w >> (8 * i));
			if (s == 2)
				blk_w[(first + p + i) >> blk_shift]++;
			else if (s == 1)
				blk_r[(first + p + i) >> blk_shift]++;
		}
	}
	for (; p < npages; p++) {
		if (st[p] == 2)
			blk_w[(first + p) >> blk_shift]++;
		else if (st[p] == 1)
			blk_r[(first + p) >> blk_shift]++;
	}
}

static void snapshot(void)
{
	char line[LINE_MAX_BYTES + 128];
	const uint8_t *st = coh_page_states(), *rs = rc_page_states();
	size_t o, hdr;

	o = put_counters(line, sizeof(line), 'S');
	emit(line, o);
	if (!st || !blk_w)
		return;
	memset(blk_w, 0, n_blocks * sizeof(*blk_w));
	memset(blk_r, 0, n_blocks * sizeof(*blk_r));
	count_blocks(st, 0, rt.npages);
	if (rs) { /* release-consistent pages are never in pstate */
		count_blocks(rs, rc_first, rc_end - rc_first);
		count_blocks(rs + (rc_end - rc_first), rc_gfirst, rc_gend - rc_gfirst);
	}
	hdr = (size_t)snprintf(line, sizeof(line), OBS_MAGIC "M r=%d base=0x%lx bp=%u nb=%zu first=", rt.rank,
			       (unsigned long)rt.base, 1u << blk_shift, n_blocks);
	o = hdr;
	line[o++] = '1';
	for (size_t b = 0; b < n_blocks;) {
		size_t e = b + 1;

		if (!blk_w[b] && !blk_r[b]) {
			b++;
			continue;
		}
		while (e < n_blocks && blk_w[e] == blk_w[b] && blk_r[e] == blk_r[b])
			e++;
		if (o > LINE_MAX_BYTES) {
			line[o++] = '\n';
			emit(line, o);
			o = hdr;
			line[o++] = '0';
		}
		o += (size_t)snprintf(line + o, sizeof(line) - o, " %zu+%zu=%u/%u", b, e - b, blk_w[b], blk_r[b]);
		b = e;
	}
	line[o++] = '\n';
	emit(line, o);
}

static void *snap_main(void *arg)
{
	struct timespec ts;

	(void)arg;
	pthread_mutex_lock(&snap_lock);
	while (!snap_stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)snap_ms * 1000000;
		ts.tv_sec += ts.tv_nsec / 1000000000;
		ts.tv_nsec %= 1000000000;
		pthread_cond_timedwait(&snap_cond, &snap_lock, &ts);
		if (snap_stop)
			break;
		pthread_mutex_unlock(&snap_lock);
		snapshot();
		pthread_mutex_lock(&snap_lock);
	}
	pthread_mutex_unlock(&snap_lock);
	return NULL;
}

/* ---- set-up --------------------------------------------------------------- */

int stats_init(void)
{
	const char *la = getenv("DSM_LAUNCHER"), *mon = getenv("DSM_MONITOR"), *tok;
	int rc;

	memset(stats_ctr, 0, sizeof(stats_ctr));
	t_start = obs_clock();
	uffd_tag = 0;
	collect = la && !strcmp(la, "dsmexec");
	obs_token[0] = '\0';
	if ((tok = getenv("DSM_OBS_TOKEN")) && *tok) {
		if (strlen(tok) != OBS_TOKEN_LEN || strspn(tok, "0123456789abcdef") != OBS_TOKEN_LEN) {
			log_err("DSM_OBS_TOKEN=%s: expected %d hex digits (dsmexec sets it)", tok, OBS_TOKEN_LEN);
			return -EINVAL;
		}
		memcpy(obs_token, tok, OBS_TOKEN_LEN + 1);
		unsetenv("DSM_OBS_TOKEN"); /* the program has no use for it */
	}
	if ((rc = setting_flag("DSM_STATS", 0, &stats_on)))
		return rc;
	snap_ms = 0;
	if (mon && *mon) {
		long long ms;
		if (setting_int("DSM_MONITOR", 0, 60000, 0, &ms)) {
			log_err("DSM_MONITOR=%s: expected a snapshot interval in milliseconds (0 to 60000)", mon);
			return -EINVAL;
		}
		snap_ms = collect ? (int)ms : 0; /* only dsmexec reads snapshots */
	}
	snap_map = snap_ms != 0;
	if (!snap_ms && stats_on && collect)
		snap_ms = COUNT_SNAP_MS;
	if (stats_on)
		log_info("statistics: reported at dsm_finalize%s", collect ? " to dsmexec" : "");
	if (snap_map)
		log_info("statistics: a snapshot for dsmexec's live view every %d ms", snap_ms);
	return trace_init(rt.rank, rt.size);
}

void stats_start(void)
{
	sigset_t all, old;
	uint64_t need;

	if (!snap_ms)
		return;
	if (!snap_map)
		goto start; /* counters only */
	blk_shift = 0;
	need = (rt.npages + MAP_BLOCKS - 1) / MAP_BLOCKS;
	while ((1ULL << blk_shift) < need)
		blk_shift++;
	n_blocks = (size_t)((rt.npages + (1ULL << blk_shift) - 1) >> blk_shift);
	blk_w = calloc(n_blocks, sizeof(*blk_w));
	blk_r = calloc(n_blocks, sizeof(*blk_r));
	if (!blk_w || !blk_r) {
		log_warn("no memory for the page map; the live view gets counters only");
		free(blk_w);
		free(blk_r);
		blk_w = blk_r = NULL;
	}
start:
	snap_stop = 0;
	/* Signals are the application's. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	snap_running = pthread_create(&snap_thread, NULL, snap_main, NULL) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!snap_running)
		log_warn("cannot start the snapshot thread; the live view shows nothing of rank %d", rt.rank);
}

void stats_fini(void)
{
	char line[LINE_MAX_BYTES];
	size_t o;

	if (snap_running) {
		pthread_mutex_lock(&snap_lock);
		snap_stop = 1;
		pthread_cond_signal(&snap_cond);
		pthread_mutex_unlock(&snap_lock);
		pthread_join(snap_thread, NULL);
		snap_running = 0;
		if (snap_map)
			snapshot(); /* the end state, for the live view */
	}
	free(blk_w);
	free(blk_r);
	blk_w = blk_r = NULL;
	if (stats_on && !collect && (self_job = stats_job_new(rt.size)))
		job_self(self_job, rt.rank);
	if (stats_on || (collect && snap_ms)) {
		o = put_counters(line, sizeof(line), 'C');
		emit(line, o);
	}
	if (stats_on) {
		emit_hot();
		emit_allocs();
		emit_vars();
		if (hot.untracked)
			log_info("%" PRIu64 " requests for pages beyond the first %u were not counted per page",
				 hot.untracked, HOT_MAX);
	}
	if (self_job) {
		stats_job_report(self_job, STDERR_FILENO, (double)(obs_clock() - t_start) / 1e9);
		stats_job_free(self_job);
		self_job = NULL;
	}
	hot_free();
	arecs_free();
	trace_fini();
}

/* ---- the job's view ---------------------------------------------------------- */

struct job_rank {
	int have, final;
	uint64_t v[ST_COUNT];
};

struct job_hot {
	int home;
	int release;            /* a release-consistent page */
	uint64_t page, addr, n;
	unsigned more;
	unsigned nk;
	struct hot_rank k[HOT_RANKS];
};

struct job_alloc {
	int rank;
	uint64_t off, size;
	uint32_t obj;
	uint32_t freed;         /* freed before the end */
	int named;              /* what: 1 a name, 2 a DSM_SHARED variable, 0 a call site */
	char what[300];
};

struct stats_job {
	int n;
	int self;               /* a rank's report of its own: its rank, else -1 */
	struct job_rank *r;
	struct job_hot *hot;
	size_t nhot, caphot;
	struct job_alloc *al;
	size_t nal, capal;
};

struct stats_job *stats_job_new(int nranks)
{
	struct stats_job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->n = nranks;
	j->self = -1;
	j->r = calloc((size_t)nranks, sizeof(*j->r));
	if (!j->r) {
		free(j);
		return NULL;
	}
	return j;
}

static void job_self(struct stats_job *j, int rank)
{
	j->self = rank;
}

void stats_job_free(struct stats_job *j)
{
	if (!j)
		return;
	free(j->r);
	free(j->hot);
	free(j->al);
	free(j);
}

int stats_is_line(const char *p, size_t n)
{
	return n >= OBS_MAGIC_LEN + 1 && !memcmp(p, OBS_MAGIC, OBS_MAGIC_LEN);
}

/* The next space-separated token of [*p, end): its name (before '=') and value. */
static int next_tok(const char **p, const char *end, const char **name, size_t *nlen, const char **val,
		    size_t *vlen)
{
	const char *s = *p, *e, *eq;

	while (s < end && *s == ' ')
		s++;
	if (s >= end)
		return 0;
	for (e = s; e < end && *e != ' '; e++)
		;
	eq = memchr(s, '=', (size_t)(e - s));
	*name = s;
	*nlen = eq ? (size_t)(eq - s) : (size_t)(e - s);
	*val = eq ? eq + 1 : e;
	*vlen = eq ? (size_t)(e - eq - 1) : 0;
	*p = e;
	return 1;
}

static int tok_is(const char *name, size_t nlen, const char *want)
{
	return strlen(want) == nlen && !memcmp(name, want, nlen);
}

static int tok_u64(const char *v, size_t n, int base, uint64_t *out)
{
	char buf[32], *end;

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, v, n);
	buf[n] = '\0';
	errno = 0;
	*out = strtoull(buf, &end, base);
	return errno || *end ? -EINVAL : 0;
}

int stats_parse_counters(const char *p, size_t n, uint64_t v[ST_COUNT])
{
	const char *end = p + n, *name, *val;
	size_t nl, vl;

	if (!stats_is_line(p, n))
		return -EINVAL;
	p += OBS_MAGIC_LEN + 1;
	while (next_tok(&p, end, &name, &nl, &val, &vl))
		for (int i = 0; i < ST_COUNT; i++)
			if (tok_is(name, nl, stats_names[i])) {
				if (tok_u64(val, vl, 10, &v[i]))
					return -EINVAL;
				break;
			}
	return 0;
}

/*
 * The H and A lines: their NAME=decimal tokens go into the record through a
 * table of fields, the others to the kind's own function.
 */
struct dec_field {
	const char *name;
	size_t off;
	size_t size; /* 8 or 4 bytes; a 4-byte field takes the value's low bits */
};

#define DEC_FIELD(name, type, member) \
	{ name, offsetof(type, member), sizeof(((type *)0)->member) }

typedef int tok_fn(void *rec, const char *name, size_t nl, const char *val, size_t vl);

/* 1 when the token is one of fields (its value now in rec), 0 when not, -EINVAL for a bad value. */
static int tok_dec_field(const struct dec_field *fields, size_t nf, void *rec, const char *name, size_t nl,
			 const char *val, size_t vl)
{
	for (size_t i = 0; i < nf; i++) {
		uint64_t x;
		uint32_t x32;

		if (!tok_is(name, nl, fields[i].name))
			continue;
		if (tok_u64(val, vl, 10, &x))
			return -EINVAL;
		x32 = (uint32_t)x;
		memcpy((char *)rec + fields[i].off, fields[i].size == sizeof(x) ? (void *)&x : (void *)&x32,
		       fields[i].size);
		return 1;
	}
	return 0;
}

static int parse_record(const char *p, const char *end, const struct dec_field *fields, size_t nf,
			tok_fn *other, void *rec)
{
	const char *name, *val;
	size_t nl, vl;
	int rc;

	while (next_tok(&p, end, &name, &nl, &val, &vl)) {
		rc = tok_dec_field(fields, nf, rec, name, nl, val, vl);
		if (rc == 0)
			rc = other(rec, name, nl, val, vl);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* elem at the end of the array *v of *n, whose room doubles from first; -ENOMEM leaves it as it was. */
static int append(void **v, size_t *n, size_t *cap, const void *elem, size_t size, size_t first)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : first;
		void *p = realloc(*v, c * size);

		if (!p)
			return -ENOMEM;
		*v = p;
		*cap = c;
	}
	memcpy((char *)*v + *n * size, elem, size);
	(*n)++;
	return 0;
}

static const struct dec_field hot_fields[] = {
	DEC_FIELD("p", struct job_hot, page),
	DEC_FIELD("n", struct job_hot, n),
	DEC_FIELD("more", struct job_hot, more),
};

static int hot_token(void *rec, const char *name, size_t nl, const char *val, size_t vl)
{
	struct job_hot *h = rec;

	if (tok_is(name, nl, "a")) {
		if (vl < 3 || tok_u64(val + 2, vl - 2, 16, &h->addr))
			return -EINVAL;
	} else if (tok_is(name, nl, "c")) {
		if (vl != 1 || (*val != 'r' && *val != 's'))
			return -EINVAL;
		h->release = *val == 'r';
	} else if (tok_is(name, nl, "k")) {
		const char *q = val, *qe = val + vl;
		while (q < qe && h->nk < HOT_RANKS) {
			const char *c = memchr(q, ',', (size_t)(qe - q));
			char item[128];
			unsigned long long rk, rd, wr, rm, wm;
			size_t il = (size_t)((c ? c : qe) - q);
			if (il >= sizeof(item))
				return -EINVAL;
			memcpy(item, q, il);
			item[il] = '\0';
			if (sscanf(item, "%llu:%llu:%llu:%llx:%llx", &rk, &rd, &wr, &rm, &wm) != 5)
				return -EINVAL;
			h->k[h->nk++] = (struct hot_rank){ .rank = (int32_t)rk, .reads = (uint32_t)rd,
							   .writes = (uint32_t)wr, .rmask = rm, .wmask = wm };
			q = c ? c + 1 : qe;
		}
	}
	return 0;
}

static int parse_hot(struct stats_job *j, int rank, const char *p, const char *end)
{
	struct job_hot h = { .home = rank };
	void *v = j->hot;
	int rc = parse_record(p, end, hot_fields, sizeof(hot_fields) / sizeof(hot_fields[0]), hot_token, &h);

	if (rc == 0)
		rc = append(&v, &j->nhot, &j->caphot, &h, sizeof(h), 32);
	j->hot = v;
	return rc;
}

static int unhex(const char *v, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i + 1 < n && o + 1 < cap; i += 2) {
		unsigned c;
		char b[3] = { v[i], v[i + 1], 0 };
		if (sscanf(b, "%2x", &c) != 1)
			return -EINVAL;
		out[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	out[o] = '\0';
	return 0;
}

static const struct dec_field alloc_fields[] = {
	DEC_FIELD("off", struct job_alloc, off),
	DEC_FIELD("size", struct job_alloc, size),
	DEC_FIELD("obj", struct job_alloc, obj),
	DEC_FIELD("freed", struct job_alloc, freed),
};

static int alloc_token(void *rec, const char *name, size_t nl, const char *val, size_t vl)
{
	struct job_alloc *a = rec;

	if (tok_is(name, nl, "name") || tok_is(name, nl, "site") || tok_is(name, nl, "var")) {
		a->named = tok_is(name, nl, "name") ? 1 : tok_is(name, nl, "var") ? 2 : 0;
		if (unhex(val, vl, a->what, sizeof(a->what)))
			return -EINVAL;
	}
	return 0;
}

static int parse_alloc(struct stats_job *j, int rank, const char *p, const char *end)
{
	struct job_alloc a = { .rank = rank };
	void *v = j->al;
	int rc = parse_record(p, end, alloc_fields, sizeof(alloc_fields) / sizeof(alloc_fields[0]), alloc_token, &a);

	if (rc == 0)
		rc = append(&v, &j->nal, &j->capal, &a, sizeof(a), 64);
	j->al = v;
	return rc;
}

int stats_job_line(struct stats_job *j, int rank, const char *p, size_t n)
{
	const char *end = p + n;
	char kind;

	if (!stats_is_line(p, n))
		return -EINVAL;
	if (rank < 0 || rank >= j->n)
		return -EINVAL;
	kind = p[OBS_MAGIC_LEN];
	switch (kind) {
	case 'C':
	case 'S': {
		uint64_t v[ST_COUNT];
		memcpy(v, j->r[rank].v, sizeof(v));
		if (stats_parse_counters(p, n, v))
			return -EINVAL;
		if (j->r[rank].final && kind == 'S')
			return 0; /* a late snapshot never overrides the final count */
		memcpy(j->r[rank].v, v, sizeof(v));
		j->r[rank].have = 1;
		j->r[rank].final |= kind == 'C';
		return 0;
	}
	case 'H':
		return parse_hot(j, rank, p + OBS_MAGIC_LEN + 1, end);
	case 'A':
		return parse_alloc(j, rank, p + OBS_MAGIC_LEN + 1, end);
	default:
		return 0; /* M: the live view's */
	}
}

const uint64_t *stats_job_counters(const struct stats_job *j, int rank, int *final)
{
	if (!j || rank < 0 || rank >= j->n || !j->r[rank].have)
		return NULL;
	if (final)
		*final = j->r[rank].final;
	return j->r[rank].v;
}

/* ---- the report ----------------------------------------------------------- */

struct out {
	int fd;
	char buf[8192];
	size_t n;
};

static void out_flush(struct out *o)
{
	size_t off = 0;

	while (off < o->n) {
		ssize_t w = write(o->fd, o->buf + off, o->n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	o->n = 0;
}

__attribute__((format(printf, 2, 3)))
static void outf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->n > sizeof(o->buf) - 1024)
		out_flush(o);
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->n, sizeof(o->buf) - o->n, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->n += (size_t)n < sizeof(o->buf) - o->n ? (size_t)n : sizeof(o->buf) - o->n - 1;
}

/* "0-3,32,40-41": the set bits of a line mask. */
static void lines_of(uint64_t m, char *out, size_t cap)
{
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; i < 64 && o + 8 < cap; i++) {
		int e = i;
		if (!(m >> i & 1))
			continue;
		while (e + 1 < 64 && (m >> (e + 1) & 1))
			e++;
		o += (size_t)snprintf(out + o, cap - o, e > i ? "%s%d-%d" : "%s%d", o ? "," : "", i, e);
		i = e;
	}
}

static void row(struct out *o, const char *label, const uint64_t *v, int net)
{
	outf(o, "%5s %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8.1f %8.1f %8" PRIu64 " %8" PRIu64
		" %9.1f %8.1f %8.1f %8.1f %6" PRIu64 " %8.1f",
	     label, v[ST_READ_FAULTS], v[ST_WRITE_FAULTS], v[ST_PAGES_IN], v[ST_PAGES_OUT],
	     v[ST_PAGE_BYTES_IN] / 1048576.0, v[ST_PAGE_BYTES_OUT] / 1048576.0, v[ST_INV_SENT], v[ST_INV_RECEIVED],
	     v[ST_FAULT_NS] / 1e6, v[ST_LOCK_NS] / 1e6, v[ST_BARRIER_NS] / 1e6, v[ST_SEM_NS] / 1e6,
	     v[ST_RPC_CALLS], v[ST_RPC_NS] / 1e6);
	if (net)
		outf(o, " %8.1f %8.1f", v[ST_NET_BYTES_IN] / 1048576.0, v[ST_NET_BYTES_OUT] / 1048576.0);
	outf(o, "\n");
}

static int jhot_cmp(const void *a, const void *b)
{
	const struct job_hot *x = a, *y = b;

	return x->n < y->n ? 1 : x->n > y->n ? -1 : x->page < y->page ? -1 : 1;
}

/* Which of two records that overlap a page names it better: a DSM_SHARED
 * variable, then a live block before a freed one, then a name before a call
 * site. */
static int better(const struct job_alloc *a, const struct job_alloc *b)
{
	if ((a->named == 2) != (b->named == 2))
		return a->named == 2;
	if (!a->freed != !b->freed)
		return !a->freed;
	return a->named && !b->named;
}

/* The DSM_SHARED variables on the page: "variable a", "variables a, b and 3 more". */
static void vars_on(const struct stats_job *j, uint64_t lo, uint64_t hi, char *out, size_t cap)
{
	size_t o;
	int n = 0, shown = 0;

	for (size_t i = 0; i < j->nal; i++)
		n += j->al[i].named == 2 && j->al[i].off < hi && j->al[i].off + j->al[i].size > lo;
	o = (size_t)snprintf(out, cap, "DSM_SHARED variable%s ", n > 1 ? "s" : "");
	for (size_t i = 0; i < j->nal && shown < 3 && o < cap; i++) {
		const struct job_alloc *a = &j->al[i];

		if (a->named != 2 || a->off >= hi || a->off + a->size <= lo)
			continue;
		o += (size_t)snprintf(out + o, cap - o, "%s%s", shown ? (shown + 1 == n ? " and " : ", ") : "",
				      a->what);
		shown++;
	}
	if (n > shown && o < cap)
		snprintf(out + o, cap - o, " and %d more", n - shown);
}

/* What a hot page belongs to, from the allocations the ranks reported. */
static void owner_of(const struct stats_job *j, const struct job_hot *h, char *out, size_t cap)
{
	const struct job_alloc *best = NULL;
	uint64_t lo = h->page * DSM_PAGE_SIZE, hi = lo + DSM_PAGE_SIZE;
	int more = 0;

	for (size_t i = 0; i < j->nal; i++) {
		const struct job_alloc *a = &j->al[i];
		if (a->off < hi && a->off + a->size > lo) {
			/* every rank that asked for a name reports it: once is enough */
			if (best && a->named && best->named && a->off == best->off && !strcmp(a->what, best->what))
				continue;
			if (best)
				more++;
			if (!best || better(a, best))
				best = a;
		}
	}
	if (!best) {
		snprintf(out, cap, "(no allocation reported: memory used directly, or not from dsm_malloc)");
		return;
	}
	if (best->named == 2) {
		vars_on(j, lo, hi, out, cap);
		return;
	}
	if (best->named)
		snprintf(out, cap, "\"%s\" +0x%" PRIx64, best->what, lo > best->off ? lo - best->off : 0);
	else if (best->obj)
		snprintf(out, cap, "small objects of %u bytes (rank %d's slab, taken at %s)", best->obj, best->rank,
			 best->what);
	else
		snprintf(out, cap, "dsm_malloc(%" PRIu64 ") +0x%" PRIx64 " by rank %d at %s", best->size,
			 lo > best->off ? lo - best->off : 0, best->rank, best->what);
	if (best->freed)
		snprintf(out + strlen(out), cap - strlen(out), " (freed before the end)");
	if (more)
		snprintf(out + strlen(out), cap - strlen(out), " and %d more", more);
}

/* A hint when ranks touch disjoint 64-byte lines of one page that one of
 * them writes: the page moves for nothing.  The masks are samples (the line
 * of each fault), so it is a hint, not a proof. */
static void sharing_hint(const struct job_hot *h, char *out, size_t cap)
{
	char la[200], lb[200];

	out[0] = '\0';
	for (unsigned a = 0; a < h->nk; a++) {
		uint64_t wa = h->k[a].wmask;
		if (!wa)
			continue;
		for (unsigned b = 0; b < h->nk; b++) {
			uint64_t tb = h->k[b].wmask | h->k[b].rmask;
			if (b == a || !tb)
				continue;
			if (wa & tb) {
				snprintf(out, cap, "true sharing: ranks %d and %d touch the same lines", h->k[a].rank,
					 h->k[b].rank);
				return;
			}
		}
	}
	for (unsigned a = 0; a < h->nk; a++) {
		uint64_t wa = h->k[a].wmask;
		if (!wa)
			continue;
		for (unsigned b = 0; b < h->nk; b++) {
			uint64_t tb = h->k[b].wmask | h->k[b].rmask;
			if (b == a || !tb)
				continue;
			lines_of(wa, la, sizeof(la));
			lines_of(tb, lb, sizeof(lb));
			snprintf(out, cap, "FALSE SHARING likely: rank %d writes lines %s, rank %d %s lines %s (64-byte "
				 "lines) of the same page", h->k[a].rank, la, h->k[b].rank,
				 h->k[b].wmask ? "writes" : "reads", lb);
			return;
		}
	}
}

void stats_job_report(const struct stats_job *j, int fd, double elapsed_s)
{
	struct out o = { .fd = fd };
	uint64_t tot[ST_COUNT] = { 0 };
	int net = 0, have = 0, final = 0;
	char label[16];

	for (int r = 0; r < j->n; r++) {
		if (!j->r[r].have)
			continue;
		have++;
		final += j->r[r].final;
		for (int i = 0; i < ST_COUNT; i++)
			tot[i] += j->r[r].v[i];
	}
	net = tot[ST_NET_BYTES_IN] || tot[ST_NET_BYTES_OUT];
	if (j->self >= 0 && j->n > 1) {
		outf(&o, "dsm stats: rank %d of %d, %.2f s\n", j->self, j->n, elapsed_s);
	} else if (!have) {
		/* A table of zeros would read as "nothing happened". */
		outf(&o, "dsm stats: %d rank%s, %.2f s: the job ended before any rank reported its counters "
		     "(ranks report each second and at dsm_finalize)\n", j->n, j->n == 1 ? "" : "s", elapsed_s);
		out_flush(&o);
		return;
	} else {
		outf(&o, "dsm stats: %d rank%s, %.2f s\n", j->n, j->n == 1 ? "" : "s", elapsed_s);
		if (final < j->n)
			outf(&o, "(the job ended before %d of its ranks reached dsm_finalize: a row marked * is the "
			     "rank's count at its last report, up to a second before it ended%s)\n", j->n - final,
			     have < j->n ? "; ranks without a row never reported" : "");
	}
	outf(&o, "%5s %8s %8s %8s %8s %8s %8s %8s %8s %9s %8s %8s %8s %6s %8s%s\n", "rank", "rd-flt", "wr-flt",
	     "pg-in", "pg-out", "MiB-in", "MiB-out", "inv-sent", "inv-recv", "fault-ms", "lock-ms", "barr-ms",
	     "sem-ms", "rpcs", "rpc-ms", net ? "  net-MiB-in net-MiB-out" : "");
	for (int r = 0; r < j->n; r++) {
		if (!j->r[r].have)
			continue;
		snprintf(label, sizeof(label), "%d%s", r, j->r[r].final ? "" : "*");
		row(&o, label, j->r[r].v, net);
	}
	if (j->self < 0 || j->n == 1)
		row(&o, "total", tot, net);
	if (tot[ST_TWINS] || tot[ST_DIFFS_SENT] || tot[ST_DIFFS_APPLIED] || tot[ST_NOTICES_APPLIED]) {
		outf(&o, "release consistency: twins made, diffs sent and applied (KiB of diff), write notices "
		     "applied\n%5s %8s %8s %9s %8s %9s %8s\n", "rank", "twins", "diffs", "diff-KiB", "applied",
		     "appl-KiB", "notices");
		for (int r = 0; r <= j->n; r++) {
			const uint64_t *v = r < j->n ? j->r[r].v : tot;
			if (r < j->n && !j->r[r].have)
				continue;
			if (r == j->n && !(j->self < 0 || j->n == 1))
				break;
			snprintf(label, sizeof(label), r < j->n ? "%d%s" : "total", r, r < j->n && !j->r[r].final ?
				 "*" : "");
			outf(&o, "%5s %8" PRIu64 " %8" PRIu64 " %9.1f %8" PRIu64 " %9.1f %8" PRIu64 "\n", label,
			     v[ST_TWINS], v[ST_DIFFS_SENT], v[ST_DIFF_BYTES_SENT] / 1024.0, v[ST_DIFFS_APPLIED],
			     v[ST_DIFF_BYTES_APPLIED] / 1024.0, v[ST_NOTICES_APPLIED]);
		}
	}
	if (j->nhot) {
		struct job_hot *v = malloc(j->nhot * sizeof(*v));
		size_t n = j->nhot < HOT_REPORT ? j->nhot : HOT_REPORT;

		if (v) {
			memcpy(v, j->hot, j->nhot * sizeof(*v));
			qsort(v, j->nhot, sizeof(*v), jhot_cmp);
			outf(&o, "hot pages: the %zu pages requested most (counted at each page's home)\n", n);
			for (size_t i = 0; i < n; i++) {
				char own[400], hint[600], ln[200];
				owner_of(j, &v[i], own, sizeof(own));
				/* Several writers of one release-consistent
				 * page cost no ping-pong: no hint. */
				if (v[i].release)
					hint[0] = '\0';
				else
					sharing_hint(&v[i], hint, sizeof(hint));
				outf(&o, "  %8" PRIu64 " requests  page %" PRIu64 " (0x%" PRIx64 ", home %d, %s)  %s\n",
				     v[i].n, v[i].page, v[i].addr, v[i].home, v[i].release ? "release" : "sequential",
				     own);
				outf(&o, "           ");
				for (unsigned k = 0; k < v[i].nk; k++) {
					const struct hot_rank *hr = &v[i].k[k];
					lines_of(hr->wmask | hr->rmask, ln, sizeof(ln));
					outf(&o, "%srank %d: %u %s, %u %s%s%s", k ? "; " : "", hr->rank, hr->reads,
					     v[i].release ? "fetches" : "reads", hr->writes,
					     v[i].release ? "diffs" : "writes", ln[0] ? ", lines " : "", ln);
				}
				if (v[i].more)
					outf(&o, "; %u more ranks", v[i].more);
				outf(&o, "\n");
				if (hint[0])
					outf(&o, "           %s\n", hint);
			}
			free(v);
		}
	}
	out_flush(&o);
}
