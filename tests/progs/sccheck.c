/*
 * Description: a consistency checker on real ranks.  Every thread of every
 * rank runs a seeded, random mix of reads and writes on a few shared 8-byte
 * words spread over a few pages (so the pages move all the time), logging
 * each operation and what it read; then rank 0 gathers the logs and checks
 * that the history is sequentially consistent per location, and that it
 * passes a necessary test of sequential consistency across locations.
 *
 *   sccheck [-o OPS] [-t THREADS] [-w WORDS] [-p PAGES] [-r READ%] [-s SEED]
 *           [-d DIR] [-k] [-l]           run on every rank of a job
 *   sccheck --check DIR                  check the logs a run kept (no job)
 *   sccheck --selftest                   the checker on made-up histories
 *
 * OPS operations per thread (default 5000), THREADS per rank (2), WORDS
 * words (16) over PAGES pages (4), READ% reads (50), SEED (from the clock;
 * printed, so a failure can be run again).  Logs go to DIR/sccheck.RANK.log
 * (default: a fresh directory rank 0 makes under $TMPDIR or /tmp, whose name
 * it hands the other ranks through the region; ranks must share a file
 * system); they are removed after a pass unless -k, kept after a failure.
 * -l: the words are release-consistent memory (dsm_alloc_named_rc) and every
 * access is made holding the word's own lock (a data-race-free program), so
 * the history must still be sequentially consistent.
 *
 * Every write stores a value no other write stores: (rank + 1) << 48 |
 * thread << 32 | n, its n-th write.  The initial value of every word is 0.
 * Loads and stores are sequentially consistent atomics, so threads of one
 * rank are sequentially consistent among themselves and any violation is
 * the DSM's.  The last line of rank 0 says how many operations were checked.
 *
 * What the check proves.  Write values are unique, so each read names the
 * write it read from (0: the initial value).
 *  1. Every value read was written, by a write to the same word, and a
 *     thread never reads one of its own writes before it made it.
 *  2. Per location (coherence, "SC per location"): for each word the check
 *     builds a graph on its writes (and its initial value): the initial value
 *     comes before every write, and for every thread, each time the write it
 *     observes at that word (the write it made, or the one it read) changes
 *     from a to b, a must come before b.  The history is sequentially
 *     consistent per location if and only if this graph is acyclic.  Only if:
 *     in any such order every thread's observations move forward through the
 *     writes (no value seen going backwards, a read never older than the
 *     thread's own write, ...), so every edge holds.  If: order the writes by
 *     any topological order; put each write, then every read of it, each
 *     thread's in program order; a thread's operations then stay in program
 *     order (its observations only move forward) and every read returns the
 *     latest write before it.  Linear time: one edge per operation at most.
 *  3. Across locations (necessary, not sufficient: deciding full sequential
 *     consistency is NP-complete): on all operations, with program order,
 *     reads-from, the write orders of 2 (every edge of them holds in any
 *     sequentially consistent order) and from-reads (a read of a comes before
 *     every write that must follow a), the graph must be acyclic.  A cycle is
 *     a proof that no single order explains the history (e.g. store
 *     buffering, or message passing that reads stale data).
 * A failure prints a cycle, each step with the operation that forced it.
 */
#include <dsm.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define PAGE 4096
#define LOG_MAGIC 0x314b434843534d44ull /* "DMSCHCK1" */
#define MAX_RANKS 255
#define MAX_THREADS 255
#define DIR_MAX 1024 /* longest log directory name */

enum { OP_READ = 0, OP_WRITE = 1 };

struct op {
	uint64_t val;
	uint32_t loc;
	uint32_t kind;
};

struct log_hdr {
	uint64_t magic;
	uint32_t rank, nranks, threads, words;
	uint64_t ops; /* per thread */
	uint64_t seed;
};

/* ---- the checker ---------------------------------------------------------------- */

/* A whole history: nt threads (rank-major), each with its operations. */
struct history {
	uint32_t nranks, threads, words;
	uint32_t nt;
	uint64_t *nops;    /* [nt] */
	struct op **ops;   /* [nt][nops] */
};

struct edge {
	uint32_t to;
	uint32_t why; /* thread that forced it, or UINT32_MAX */
	uint64_t at;  /* its operation index */
};

struct graph {
	uint32_t n;
	uint64_t m, cap;
	struct {
		uint32_t from;
		struct edge e;
	} *list;
	uint64_t *start; /* CSR, [n + 1] */
	struct edge *adj;
};

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p) {
		fprintf(stderr, "sccheck: out of memory (%zu x %zu bytes)\n", n, size);
		exit(2);
	}
	return p;
}

static void g_add(struct graph *g, uint32_t from, uint32_t to, uint32_t why, uint64_t at)
{
	if (g->m == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 1024;
		g->list = realloc(g->list, g->cap * sizeof(*g->list));
		if (!g->list) {
			fprintf(stderr, "sccheck: out of memory for %" PRIu64 " edges\n", g->cap);
			exit(2);
		}
	}
	g->list[g->m].from = from;
	g->list[g->m].e = (struct edge){ .to = to, .why = why, .at = at };
	g->m++;
}

static void g_freeze(struct graph *g)
{
	g->start = xcalloc(g->n + 1, sizeof(uint64_t));
	g->adj = xcalloc(g->m, sizeof(struct edge));
	for (uint64_t i = 0; i < g->m; i++)
		g->start[g->list[i].from + 1]++;
	for (uint32_t v = 0; v < g->n; v++)
		g->start[v + 1] += g->start[v];
	uint64_t *fill = xcalloc(g->n, sizeof(uint64_t));
	for (uint64_t i = 0; i < g->m; i++) {
		uint32_t f = g->list[i].from;
		g->adj[g->start[f] + fill[f]++] = g->list[i].e;
	}
	free(fill);
	free(g->list);
	g->list = NULL;
}

static void g_free(struct graph *g)
{
	free(g->list);
	free(g->start);
	free(g->adj);
	memset(g, 0, sizeof(*g));
}

/*
 * Find a cycle, if any.  Kahn's algorithm removes every node no cycle
 * passes through; from any node left, following edges to nodes still left
 * must come back to a node seen, which closes a cycle.  Fills cyc[] (edges,
 * with their sources in cyc_from[]) and returns its length, or 0.
 */
static uint32_t g_cycle(struct graph *g, uint32_t *cyc_from, struct edge *cyc, uint32_t max)
{
	uint32_t *indeg = xcalloc(g->n, sizeof(uint32_t)), *queue = xcalloc(g->n, sizeof(uint32_t));
	uint32_t qh = 0, qt = 0, len = 0;

	for (uint64_t i = 0; i < g->m; i++)
		indeg[g->adj[i].to]++;
	for (uint32_t v = 0; v < g->n; v++)
		if (!indeg[v])
			queue[qt++] = v;
	while (qh < qt) {
		uint32_t v = queue[qh++];
		for (uint64_t i = g->start[v]; i < g->start[v + 1]; i++)
			if (--indeg[g->adj[i].to] == 0)
				queue[qt++] = g->adj[i].to;
	}
	if (qt < g->n) {
		/* A node left (in-degree still above 0) has a predecessor left;
		 * walking back through those must repeat a node: a cycle. */
		uint32_t *pred = xcalloc(g->n, sizeof(uint32_t)), *mark = xcalloc(g->n, sizeof(uint32_t));
		struct edge *pe = xcalloc(g->n, sizeof(struct edge));
		uint32_t v = UINT32_MAX, n = 0;

		for (uint32_t u = 0; u < g->n; u++) {
			if (!indeg[u])
				continue;
			if (v == UINT32_MAX)
				v = u;
			for (uint64_t i = g->start[u]; i < g->start[u + 1]; i++) {
				uint32_t w = g->adj[i].to;
				if (indeg[w] && !mark[w]) {
					mark[w] = 1;
					pred[w] = u;
					pe[w] = g->adj[i];
				}
			}
		}
		memset(mark, 0, g->n * sizeof(uint32_t));
		while (!mark[v]) {
			mark[v] = 1;
			v = pred[v];
		}
		/* v is on the cycle: c0 = v, c1 = pred[c0], ...; its edges run
		 * c0 -> c(n-1) -> ... -> c1 -> c0. */
		uint32_t *c = queue; /* reuse */
		do {
			c[n++] = v;
			v = pred[v];
		} while (v != c[0]);
		for (uint32_t i = n; i-- > 0 && len < max;) {
			cyc_from[len] = pred[c[i]];
			cyc[len] = pe[c[i]];
			len++;
		}
		free(pred);
		free(mark);
		free(pe);
	}
	free(indeg);
	free(queue);
	return len;
}

static void describe_val(char *buf, size_t len, uint64_t v)
{
	if (v == 0)
		snprintf(buf, len, "0 (initial)");
	else
		snprintf(buf, len, "%#" PRIx64 " (rank %u thread %u write #%u)", v, (unsigned)(v >> 48) - 1,
			 (unsigned)(v >> 32) & 0xffff, (unsigned)v);
}

struct checker {
	const struct history *h;
	uint64_t nw;          /* writes */
	uint64_t *wbase;      /* [nt]: first write node of each thread */
	uint64_t *wcount;     /* [nt] */
	uint32_t *wloc;       /* [nw]: word of each write */
	uint64_t *wop;        /* [nw]: operation index of each write */
	uint64_t reads, writes, remote_reads, init_reads;
	int errors;
};

/* op_base[t]: the global index of thread t's first operation; op_base[nt]: how
 * many there are. */
static uint64_t *op_base;

static void thread_of(const struct history *h, uint32_t t, uint32_t *rank, uint32_t *thr)
{
	*rank = t / h->threads;
	*thr = t % h->threads;
}

/* The operation with global index gi, and its thread. */
static const struct op *op_at(const struct history *h, uint64_t gi, uint32_t *thread)
{
	for (uint32_t t = 0; t < h->nt; t++)
		if (gi >= op_base[t] && gi < op_base[t] + h->nops[t]) {
			*thread = t;
			return &h->ops[t][gi - op_base[t]];
		}
	return NULL;
}

/* The write node a value names, or -1 with an error message. */
static int64_t write_node(struct checker *c, uint32_t t, uint64_t i, const struct op *o, uint64_t made)
{
	const struct history *h = c->h;
	uint64_t v = o->val;
	uint32_t r = (uint32_t)(v >> 48), th = (uint32_t)(v >> 32) & 0xffff, n = (uint32_t)v, rk, tk;
	char d[96];

	if (v == 0)
		return (int64_t)(c->nw + o->loc); /* the initial value */
	thread_of(h, t, &rk, &tk);
	describe_val(d, sizeof(d), v);
	if (r == 0 || r > h->nranks || th >= h->threads || n == 0 ||
	    n > c->wcount[(r - 1) * h->threads + th]) {
		if (c->errors++ < 10)
			printf("sccheck: rank %u thread %u op %" PRIu64 ": read %s from word %u, a value never "
			       "written\n", rk, tk, i, d, o->loc);
		return -1;
	}
	uint32_t wt = (r - 1) * h->threads + th;
	uint64_t node = c->wbase[wt] + n - 1;
	if (c->wloc[node] != o->loc) {
		if (c->errors++ < 10)
			printf("sccheck: rank %u thread %u op %" PRIu64 ": read %s from word %u, but that write "
			       "went to word %u\n", rk, tk, i, d, o->loc, c->wloc[node]);
		return -1;
	}
	if (wt == t && n > made) {
		if (c->errors++ < 10)
			printf("sccheck: rank %u thread %u op %" PRIu64 ": read its own write %s before making "
			       "it\n", rk, tk, i, d);
		return -1;
	}
	return (int64_t)node;
}

/* A node of the write-order graph: a write, or a word's initial value. */
static void describe_node(struct checker *c, uint64_t node, char *buf, size_t len)
{
	uint32_t t;

	if (node >= c->nw)
		snprintf(buf, len, "initial value of word %u", (unsigned)(node - c->nw));
	else
		describe_val(buf, len, op_at(c->h, c->wop[node], &t)->val);
}

static void print_write_cycle(struct checker *c, uint32_t len, uint32_t *from, struct edge *e)
{
	printf("sccheck: not sequentially consistent per location (the writes to a word have no order "
	       "that every thread's observations agree with): a cycle of %u step(s):\n", len);
	for (uint32_t k = 0; k < len; k++) {
		char a[96], b[96], why[96];
		uint32_t rk, tk;
		describe_node(c, from[k], a, sizeof(a));
		describe_node(c, e[k].to, b, sizeof(b));
		if (e[k].why == UINT32_MAX) {
			snprintf(why, sizeof(why), "the initial value comes first");
		} else {
			thread_of(c->h, e[k].why, &rk, &tk);
			snprintf(why, sizeof(why), "rank %u thread %u op %" PRIu64, rk, tk, e[k].at);
		}
		printf("sccheck:   %s -> %s   [%s]\n", a, b, why);
	}
}

/* Describe an operation by its global index (past the last: an initial
 * value). */
static void describe_op(struct checker *c, uint64_t gi, char *buf, size_t len)
{
	const struct history *h = c->h;
	const struct op *o;
	uint32_t t, rk, tk;
	char d[96];

	if (gi >= op_base[h->nt]) {
		snprintf(buf, len, "initial value of word %u", (unsigned)(gi - op_base[h->nt]));
		return;
	}
	o = op_at(h, gi, &t);
	thread_of(h, t, &rk, &tk);
	describe_val(d, sizeof(d), o->val);
	snprintf(buf, len, "rank %u thread %u op %" PRIu64 ": %s word %u %s %s", rk, tk, gi - op_base[t],
		 o->kind == OP_WRITE ? "write" : "read", o->loc, o->kind == OP_WRITE ? "<-" : "->", d);
}

/*
 * Check a history; print what is wrong.  Returns 0 when it passes, 1 when
 * it does not.  *checked gets the number of operations checked.
 */
static int check_history(const struct history *h, uint64_t *checked, int quiet)
{
	struct checker c = { .h = h };
	struct graph co = { 0 }, all = { 0 };
	uint64_t total = 0;
	int64_t **obs; /* [nt][nops]: write node each operation observes */
	uint32_t cyc_from[64];
	struct edge cyc[64];
	uint32_t len;

	c.wbase = xcalloc(h->nt, sizeof(uint64_t));
	c.wcount = xcalloc(h->nt, sizeof(uint64_t));
	op_base = xcalloc(h->nt + 1, sizeof(uint64_t));
	for (uint32_t t = 0; t < h->nt; t++) {
		op_base[t] = total;
		total += h->nops[t];
		c.wbase[t] = c.nw;
		for (uint64_t i = 0; i < h->nops[t]; i++)
			if (h->ops[t][i].kind == OP_WRITE)
				c.wcount[t]++;
		c.nw += c.wcount[t];
	}
	op_base[h->nt] = total;
	if (c.nw + h->words > UINT32_MAX || total + h->words > UINT32_MAX) {
		printf("sccheck: history too large to check\n");
		return 1;
	}
	c.wloc = xcalloc(c.nw, sizeof(uint32_t));
	c.wop = xcalloc(c.nw, sizeof(uint64_t));
	/* 1. writes: where each went, and that it stored the value it should */
	for (uint32_t t = 0; t < h->nt; t++) {
		uint64_t n = 0;
		uint32_t rk, tk;
		thread_of(h, t, &rk, &tk);
		for (uint64_t i = 0; i < h->nops[t]; i++) {
			const struct op *o = &h->ops[t][i];
			if (o->loc >= h->words) {
				if (c.errors++ < 10)
					printf("sccheck: rank %u thread %u op %" PRIu64 ": word %u out of range\n", rk,
					       tk, i, o->loc);
				continue;
			}
			if (o->kind != OP_WRITE)
				continue;
			n++;
			if (o->val != ((uint64_t)(rk + 1) << 48 | (uint64_t)tk << 32 | n)) {
				if (c.errors++ < 10)
					printf("sccheck: rank %u thread %u op %" PRIu64 ": log says it wrote %#" PRIx64
					       ", not its write #%" PRIu64 " (a corrupt log)\n", rk, tk, i, o->val, n);
			}
			c.wloc[c.wbase[t] + n - 1] = o->loc;
			c.wop[c.wbase[t] + n - 1] = op_base[t] + i;
		}
	}
	if (c.errors)
		goto out;

	/* 2. per location: what each op observes; the write-order graph */
	co.n = (uint32_t)(c.nw + h->words);
	obs = xcalloc(h->nt, sizeof(*obs));
	for (uint64_t w = 0; w < c.nw; w++)
		g_add(&co, (uint32_t)(c.nw + c.wloc[w]), (uint32_t)w, UINT32_MAX, 0);
	for (uint32_t t = 0; t < h->nt; t++) {
		int64_t *last = xcalloc(h->words, sizeof(int64_t));
		uint64_t made = 0;
		obs[t] = xcalloc(h->nops[t], sizeof(int64_t));
		for (uint32_t w = 0; w < h->words; w++)
			last[w] = (int64_t)(c.nw + w);
		for (uint64_t i = 0; i < h->nops[t]; i++) {
			const struct op *o = &h->ops[t][i];
			int64_t node;
			if (o->kind == OP_WRITE) {
				node = (int64_t)(c.wbase[t] + made++);
				c.writes++;
			} else {
				node = write_node(&c, t, i, o, made);
				c.reads++;
				if (o->val == 0)
					c.init_reads++;
				else if ((o->val >> 48) - 1 != t / h->threads)
					c.remote_reads++;
			}
			obs[t][i] = node;
			if (node < 0)
				continue;
			if (node != last[o->loc])
				g_add(&co, (uint32_t)last[o->loc], (uint32_t)node, t, i);
			last[o->loc] = node;
		}
		free(last);
	}
	if (c.errors)
		goto out_obs;
	g_freeze(&co);
	len = g_cycle(&co, cyc_from, cyc, 64);
	if (len) {
		c.errors++;
		print_write_cycle(&c, len, cyc_from, cyc);
		goto out_obs;
	}

	/* 3. across locations: po, rf, co, fr on operations (+ one node per
	 * initial value, before every thread's first operation) */
	all.n = (uint32_t)(total + h->words);
	uint64_t *firstw = xcalloc((size_t)h->nt * h->words, sizeof(uint64_t)); /* + 1; 0: none */
	for (uint32_t t = 0; t < h->nt; t++)
		for (uint64_t i = h->nops[t]; i-- > 0;)
			if (h->ops[t][i].kind == OP_WRITE)
				firstw[(size_t)t * h->words + h->ops[t][i].loc] = op_base[t] + i + 1;
	for (uint32_t t = 0; t < h->nt; t++) {
		for (uint32_t w = 0; w < h->words; w++)
			if (h->nops[t])
				g_add(&all, (uint32_t)(total + w), (uint32_t)op_base[t], UINT32_MAX, 0);
		for (uint64_t i = 0; i < h->nops[t]; i++) {
			uint64_t gi = op_base[t] + i;
			const struct op *o = &h->ops[t][i];
			uint64_t node = (uint64_t)obs[t][i];
			if (i + 1 < h->nops[t])
				g_add(&all, (uint32_t)gi, (uint32_t)gi + 1, t, i + 1); /* po */
			if (node >= c.nw) {
				/* read of the initial value: rf, and fr to every write of
				 * the word (each thread's first one stands for the rest) */
				g_add(&all, (uint32_t)(total + o->loc), (uint32_t)gi, t, i);
				for (uint32_t u = 0; u < h->nt; u++)
					if (firstw[(size_t)u * h->words + o->loc])
						g_add(&all, (uint32_t)gi,
						      (uint32_t)(firstw[(size_t)u * h->words + o->loc] - 1), t, i);
				continue;
			}
			if (o->kind == OP_READ)
				g_add(&all, (uint32_t)c.wop[node], (uint32_t)gi, t, i); /* rf */
			/* co (from a write) and fr (from a read): to every write that
			 * must follow the one observed */
			for (uint64_t k = co.start[node]; k < co.start[node + 1]; k++)
				if (co.adj[k].to < c.nw)
					g_add(&all, (uint32_t)gi, (uint32_t)c.wop[co.adj[k].to], co.adj[k].why,
					      co.adj[k].at);
		}
	}
	free(firstw);
	g_freeze(&all);
	len = g_cycle(&all, cyc_from, cyc, 64);
	if (len) {
		c.errors++;
		printf("sccheck: not sequentially consistent: no single order of all operations explains "
		       "the history; a cycle of %u step(s):\n", len);
		for (uint32_t k = 0; k < len; k++) {
			char a[160], b[160];
			describe_op(&c, cyc_from[k], a, sizeof(a));
			describe_op(&c, cyc[k].to, b, sizeof(b));
			printf("sccheck:   %s\nsccheck:     before %s\n", a, b);
		}
	}

out_obs:
	for (uint32_t t = 0; t < h->nt; t++)
		free(obs[t]);
	free(obs);
out:
	if (!c.errors && !quiet)
		printf("sccheck: checked %" PRIu64 " operations (%" PRIu64 " reads, %" PRIu64 " writes; %" PRIu64
		       " reads of another rank's write, %" PRIu64 " of an initial value) on %u words, %u ranks x "
		       "%u threads: sequentially consistent per location; no cycle across locations\n",
		       total, c.reads, c.writes, c.remote_reads, c.init_reads, h->words, h->nranks, h->threads);
	*checked = c.errors ? 0 : total;
	g_free(&co);
	g_free(&all);
	free(c.wbase);
	free(c.wcount);
	free(c.wloc);
	free(c.wop);
	free(op_base);
	op_base = NULL;
	return c.errors ? 1 : 0;
}

/* ---- logs ------------------------------------------------------------------------ */

static int write_log(const char *dir, const struct log_hdr *hdr, struct op **ops)
{
	char path[DIR_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/sccheck.%u.log", dir, hdr->rank);
	f = fopen(path, "wb");
	if (!f) {
		fprintf(stderr, "sccheck: cannot create %s: %s\n", path, strerror(errno));
		return -1;
	}
	fwrite(hdr, sizeof(*hdr), 1, f);
	for (uint32_t t = 0; t < hdr->threads; t++)
		fwrite(ops[t], sizeof(struct op), hdr->ops, f);
	if (ferror(f) | fclose(f)) {
		fprintf(stderr, "sccheck: cannot write %s\n", path);
		return -1;
	}
	return 0;
}

/* Read every rank's log from dir into h.  0, or -1 after saying why. */
static int read_logs(const char *dir, struct history *h, uint64_t *seed)
{
	struct log_hdr first = { 0 };

	memset(h, 0, sizeof(*h));
	for (uint32_t r = 0; r == 0 || r < first.nranks; r++) {
		char path[DIR_MAX + 64];
		struct log_hdr hd;
		FILE *f;

		snprintf(path, sizeof(path), "%s/sccheck.%u.log", dir, r);
		f = fopen(path, "rb");
		if (!f) {
			printf("sccheck: cannot open %s: %s\n", path, strerror(errno));
			return -1;
		}
		if (fread(&hd, sizeof(hd), 1, f) != 1 || hd.magic != LOG_MAGIC || hd.rank != r ||
		    (r && (hd.nranks != first.nranks || hd.threads != first.threads || hd.words != first.words ||
			   hd.ops != first.ops)) ||
		    hd.nranks == 0 || hd.nranks > MAX_RANKS || hd.threads == 0 || hd.threads > MAX_THREADS ||
		    hd.words == 0 || hd.ops > (1ull << 32)) {
			printf("sccheck: %s: not a log of this run\n", path);
			fclose(f);
			return -1;
		}
		if (r == 0) {
			first = hd;
			h->nranks = hd.nranks;
			h->threads = hd.threads;
			h->words = hd.words;
			h->nt = hd.nranks * hd.threads;
			h->nops = xcalloc(h->nt, sizeof(uint64_t));
			h->ops = xcalloc(h->nt, sizeof(struct op *));
			*seed = hd.seed;
		}
		for (uint32_t t = 0; t < hd.threads; t++) {
			uint32_t k = r * hd.threads + t;
			h->nops[k] = hd.ops;
			h->ops[k] = xcalloc(hd.ops, sizeof(struct op));
			if (fread(h->ops[k], sizeof(struct op), hd.ops, f) != hd.ops) {
				printf("sccheck: %s: truncated\n", path);
				fclose(f);
				return -1;
			}
		}
		fclose(f);
	}
	return 0;
}

static void free_history(struct history *h)
{
	for (uint32_t t = 0; h->ops && t < h->nt; t++)
		free(h->ops[t]);
	free(h->ops);
	free(h->nops);
	memset(h, 0, sizeof(*h));
}

/* ---- the self-test: made-up histories with known verdicts ---------------------- */

#define W(r, t, n) ((uint64_t)((r) + 1) << 48 | (uint64_t)(t) << 32 | (n))

struct mini {
	const char *name;
	int ok;                 /* expected verdict */
	uint32_t threads;       /* ranks = number of sequences / threads */
	uint32_t nseq;
	struct op seq[4][6];    /* up to 4 threads x 6 ops; kind 2 ends */
};

#define R_(l, v) { (v), (l), OP_READ }
#define W_(l, v) { (v), (l), OP_WRITE }
#define END { 0, 0, 2 }

static const struct mini minis[] = {
	{ "empty reads of initial values", 1, 1, 2, { { R_(0, 0), R_(1, 0), END }, { R_(1, 0), END } } },
	{ "write then read own", 1, 1, 2,
	  { { W_(0, W(0, 0, 1)), R_(0, W(0, 0, 1)), END }, { R_(0, W(0, 0, 1)), R_(0, W(0, 0, 1)), END } } },
	{ "CoRR: new then old (forbidden)", 0, 1, 2,
	  { { W_(0, W(0, 0, 1)), W_(0, W(0, 0, 2)), END }, { R_(0, W(0, 0, 2)), R_(0, W(0, 0, 1)), END } } },
	{ "CoRR: new then initial (forbidden)", 0, 1, 2,
	  { { W_(0, W(0, 0, 1)), END }, { R_(0, W(0, 0, 1)), R_(0, 0), END } } },
	{ "CoWR: own write then older (forbidden)", 0, 1, 2,
	  { { W_(0, W(0, 0, 1)), END }, { R_(0, W(0, 0, 1)), W_(0, W(1, 0, 1)), R_(0, W(0, 0, 1)), END } } },
	{ "two readers disagree on the order (forbidden)", 0, 1, 4,
	  { { W_(0, W(0, 0, 1)), END },
	    { W_(0, W(1, 0, 1)), END },
	    { R_(0, W(0, 0, 1)), R_(0, W(1, 0, 1)), END },
	    { R_(0, W(1, 0, 1)), R_(0, W(0, 0, 1)), END } } },
	{ "two readers agree", 1, 1, 4,
	  { { W_(0, W(0, 0, 1)), END },
	    { W_(0, W(1, 0, 1)), END },
	    { R_(0, W(0, 0, 1)), R_(0, W(1, 0, 1)), END },
	    { R_(0, 0), R_(0, W(0, 0, 1)), R_(0, W(1, 0, 1)), END } } },
	{ "a value never written", 0, 1, 2, { { W_(0, W(0, 0, 1)), END }, { R_(0, W(0, 0, 2)), END } } },
	{ "a value from another word", 0, 1, 2,
	  { { W_(0, W(0, 0, 1)), END }, { R_(1, W(0, 0, 1)), END } } },
	{ "reads its own write before making it", 0, 1, 1, { { R_(0, W(0, 0, 1)), W_(0, W(0, 0, 1)), END } } },
	{ "message passing, stale data (forbidden across locations)", 0, 1, 2,
	  { { W_(0, W(0, 0, 1)), W_(1, W(0, 0, 2)), END }, { R_(1, W(0, 0, 2)), R_(0, 0), END } } },
	{ "message passing, fresh data", 1, 1, 2,
	  { { W_(0, W(0, 0, 1)), W_(1, W(0, 0, 2)), END }, { R_(1, W(0, 0, 2)), R_(0, W(0, 0, 1)), END } } },
	{ "store buffering, both old (forbidden across locations)", 0, 1, 2,
	  { { W_(0, W(0, 0, 1)), R_(1, 0), END }, { W_(1, W(1, 0, 1)), R_(0, 0), END } } },
	{ "store buffering, one new", 1, 1, 2,
	  { { W_(0, W(0, 0, 1)), R_(1, 0), END }, { W_(1, W(1, 0, 1)), R_(0, W(0, 0, 1)), END } } },
	{ "IRIW, readers disagree (forbidden across locations)", 0, 1, 4,
	  { { W_(0, W(0, 0, 1)), END },
	    { W_(1, W(1, 0, 1)), END },
	    { R_(0, W(0, 0, 1)), R_(1, 0), END },
	    { R_(1, W(1, 0, 1)), R_(0, 0), END } } },
	{ "2+2W cycle (forbidden across locations)", 0, 1, 2,
	  { { W_(0, W(0, 0, 1)), W_(1, W(0, 0, 2)), R_(1, W(1, 0, 1)), END },
	    { W_(1, W(1, 0, 1)), W_(0, W(1, 0, 2)), R_(0, W(0, 0, 1)), END } } },
	{ "2+2W, one order", 1, 1, 2,
	  { { W_(0, W(0, 0, 1)), W_(1, W(0, 0, 2)), R_(1, W(1, 0, 1)), END },
	    { W_(1, W(1, 0, 1)), W_(0, W(1, 0, 2)), R_(0, W(1, 0, 2)), END } } },
	{ "two threads of one rank", 1, 2, 2,
	  { { W_(0, W(0, 0, 1)), R_(0, W(0, 1, 1)), END }, { R_(0, W(0, 0, 1)), W_(0, W(0, 1, 1)), END } } },
};

static int selftest(void)
{
	int bad = 0;

	for (size_t k = 0; k < sizeof(minis) / sizeof(minis[0]); k++) {
		const struct mini *m = &minis[k];
		struct history h = { .nranks = m->nseq / m->threads, .threads = m->threads, .words = 2,
				     .nt = m->nseq };
		uint64_t nops[4], checked;
		struct op *ops[4];
		for (uint32_t t = 0; t < m->nseq; t++) {
			nops[t] = 0;
			while (m->seq[t][nops[t]].kind != 2)
				nops[t]++;
			ops[t] = (struct op *)m->seq[t];
		}
		h.nops = nops;
		h.ops = ops;
		printf("sccheck: selftest: %s (expect %s)\n", m->name, m->ok ? "pass" : "a failure");
		int rc = check_history(&h, &checked, 1);
		if ((rc == 0) != m->ok) {
			printf("sccheck: selftest: WRONG verdict for '%s'\n", m->name);
			bad++;
		}
	}
	printf("sccheck: selftest: %zu histories: %s\n", sizeof(minis) / sizeof(minis[0]), bad ? "WRONG" : "ok");
	return bad ? 1 : 0;
}

/* ---- the run on real ranks ---------------------------------------------------------- */

static int me, nr;
static uint32_t nthreads = 2, nwords = 16, npages = 4, read_pct = 50;
static uint64_t nops = 5000, seed;
static char *base;
static int rc_locks; /* -l */
static struct op **logs;
static pthread_barrier_t start_bar;

/* Word w: on page 1 + w % npages, in its own cache line. */
static uint64_t *word(uint32_t w)
{
	return (uint64_t *)(base + (1 + w % npages) * (size_t)PAGE + (w / npages) * 64);
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static void *worker(void *arg)
{
	uint32_t t = (uint32_t)(uintptr_t)arg;
	uint64_t s = seed * 0x9e3779b97f4a7c15ull + ((uint64_t)me << 20) + t + 1, n = 0;
	struct op *log = logs[t];

	for (int i = 0; i < 4; i++)
		rng_next(&s);
	pthread_barrier_wait(&start_bar);
	for (uint64_t i = 0; i < nops; i++) {
		uint64_t x = rng_next(&s);
		uint32_t w = (uint32_t)((x >> 8) % nwords);
		uint64_t *p = word(w);
		log[i].loc = w;
		if (rc_locks && (errno = -dsm_lock(1000 + w))) {
			fprintf(stderr, "sccheck: dsm_lock: %s\n", strerror(errno));
			exit(1);
		}
		if ((x & 0xff) * 100 < read_pct * 256u) {
			log[i].kind = OP_READ;
			log[i].val = __atomic_load_n(p, __ATOMIC_SEQ_CST);
		} else {
			uint64_t v = (uint64_t)(me + 1) << 48 | (uint64_t)t << 32 | ++n;
			log[i].kind = OP_WRITE;
			log[i].val = v;
			__atomic_store_n(p, v, __ATOMIC_SEQ_CST);
		}
		if (rc_locks && (errno = -dsm_unlock(1000 + w))) {
			fprintf(stderr, "sccheck: dsm_unlock: %s\n", strerror(errno));
			exit(1);
		}
		if ((i & 63) == 63)
			sched_yield(); /* the service threads need the cores too */
	}
	return NULL;
}

/* Page 0 of the region: rank 0 tells the others where the logs go and which
 * seed to run, and at the end the verdict. */
struct control {
	char dir[DIR_MAX];
	uint64_t seed;   /* rank 0's, which every rank runs */
	int32_t verdict; /* 0 pass, 1 fail */
};

static void usage(void)
{
	fprintf(stderr, "usage: sccheck [-o OPS] [-t THREADS] [-w WORDS] [-p PAGES] [-r READ%%] [-s SEED] "
			"[-d DIR] [-k] [-l]\n       sccheck --check DIR\n       sccheck --selftest\n");
	exit(2);
}

static void remove_logs(const char *dir, int made_dir)
{
	char path[DIR_MAX + 64];

	for (int r = 0; r < nr; r++) {
		snprintf(path, sizeof(path), "%s/sccheck.%d.log", dir, r);
		unlink(path);
	}
	if (made_dir)
		rmdir(dir);
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	int keep = 0, opt, made_dir = 0, rc;
	volatile struct control *ctl;
	pthread_t *thr;

	if (argc == 2 && !strcmp(argv[1], "--selftest"))
		return selftest();
	if (argc == 3 && !strcmp(argv[1], "--check")) {
		struct history h;
		uint64_t checked;
		if (read_logs(argv[2], &h, &seed))
			return 2;
		printf("sccheck: logs of seed %" PRIu64 " in %s\n", seed, argv[2]);
		rc = check_history(&h, &checked, 0);
		free_history(&h);
		return rc;
	}
	seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
	init_or_exit(&argc, &argv);
	me = dsm_rank();
	nr = dsm_size();
	while ((opt = getopt(argc, argv, "o:t:w:p:r:s:d:kl")) != -1) {
		switch (opt) {
		case 'o': nops = strtoull(optarg, NULL, 10); break;
		case 't': nthreads = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'w': nwords = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'p': npages = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'r': read_pct = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		case 'd': dir = optarg; break;
		case 'k': keep = 1; break;
		case 'l': rc_locks = 1; break;
		default: usage();
		}
	}
	if ((dir && strlen(dir) >= DIR_MAX - 1) || nthreads == 0 || nthreads > MAX_THREADS || nwords == 0 || npages == 0 || read_pct > 100 ||
	    nr > MAX_RANKS || nops == 0 || nops > (1ull << 32) || (nwords + npages - 1) / npages > PAGE / 64 ||
	    (1 + (size_t)npages) * PAGE > dsm_region_size())
		usage();
	base = dsm_base();
	ctl = (volatile struct control *)base;
	if (rc_locks) { /* the words in release-consistent pages; ctl stays */
		base = dsm_alloc_named_rc("sccheck.words", (1 + (size_t)npages) * PAGE);
		if (!base) {
			fprintf(stderr, "sccheck: dsm_alloc_named_rc: %s\n", strerror(errno));
			return 1;
		}
	}
	if (me == 0) {
		char tmpl[DIR_MAX];
		if (!dir) {
			const char *tmp = getenv("TMPDIR");
			snprintf(tmpl, sizeof(tmpl), "%s/sccheck.XXXXXX", tmp && *tmp ? tmp : "/tmp");
			if (!mkdtemp(tmpl)) {
				fprintf(stderr, "sccheck: mkdtemp %s: %s\n", tmpl, strerror(errno));
				return 1;
			}
			dir = tmpl;
			made_dir = 1;
		}
		snprintf((char *)ctl->dir, sizeof(ctl->dir), "%s", dir);
		printf("sccheck: %d ranks x %u threads, %" PRIu64 " ops each, %u words on %u pages, %u%% reads, "
		       "seed %" PRIu64 "\n", nr, nthreads, nops, nwords, npages, read_pct, seed);
	}
	if (me == 0)
		ctl->seed = seed;
	dsm_barrier();
	seed = ctl->seed;
	char mydir[DIR_MAX];
	snprintf(mydir, sizeof(mydir), "%s", (const char *)ctl->dir);

	logs = calloc(nthreads, sizeof(*logs));
	thr = calloc(nthreads, sizeof(*thr));
	if (!logs || !thr) {
		fprintf(stderr, "sccheck: out of memory\n");
		return 1;
	}
	for (uint32_t t = 0; t < nthreads; t++) {
		logs[t] = calloc(nops, sizeof(struct op));
		if (!logs[t]) {
			fprintf(stderr, "sccheck: out of memory for the logs\n");
			return 1;
		}
	}
	pthread_barrier_init(&start_bar, NULL, nthreads + 1);
	for (uint32_t t = 0; t < nthreads; t++)
		if ((rc = pthread_create(&thr[t], NULL, worker, (void *)(uintptr_t)t))) {
			fprintf(stderr, "sccheck: pthread_create: %s\n", strerror(rc));
			return 1;
		}
	dsm_barrier();
	pthread_barrier_wait(&start_bar);
	for (uint32_t t = 0; t < nthreads; t++)
		pthread_join(thr[t], NULL);

	struct log_hdr hdr = { .magic = LOG_MAGIC, .rank = (uint32_t)me, .nranks = (uint32_t)nr,
			       .threads = nthreads, .words = nwords, .ops = nops, .seed = seed };
	int bad = write_log(mydir, &hdr, logs) ? 1 : 0;
	dsm_barrier();
	if (me == 0) {
		struct history h;
		uint64_t checked = 0;
		if (bad || read_logs(mydir, &h, &seed)) {
			bad = 1;
		} else {
			bad = check_history(&h, &checked, 0);
			free_history(&h);
		}
		if (bad) {
			printf("sccheck: FAILED with seed %" PRIu64 "; logs kept in %s (sccheck --check %s); run "
			       "again with -s %" PRIu64 "\n", seed, mydir, mydir, seed);
		} else {
			if (!keep)
				remove_logs(mydir, made_dir);
			printf("sccheck: ok (%" PRIu64 " operations verified, seed %" PRIu64 ")\n", checked, seed);
		}
		ctl->verdict = bad;
	}
	dsm_barrier();
	bad |= ctl->verdict;
	for (uint32_t t = 0; t < nthreads; t++)
		free(logs[t]);
	free(logs);
	free(thr);
	rc = dsm_finalize();
	if (rc)
		fprintf(stderr, "rank %d: dsm_finalize: %s\n", me, strerror(-rc));
	return bad || rc ? 1 : 0;
}
