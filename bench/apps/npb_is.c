/*
 * npb_is.c - IS of the NAS Parallel Benchmarks, written from the published
 * specification: 2^K integer keys below 2^M, each the sum of four NPB random
 * numbers (seed 314159265) times 2^M / 4, are ranked ten times; before each
 * ranking two keys are changed (key[i] = i, key[i + 10] = 2^M - i), and the
 * ranks of five keys at fixed positions are checked against the class's
 * published ranks (partial verification).  At the end the keys are placed
 * by their ranks and the result must be sorted (full verification).  A run
 * passes with all 5 x 10 + 1 checks.
 *
 * Parallel as NPB's bucket version: each worker holds a block of keys; it
 * counts them per bucket (the top bits of a key), sorts them into bucket
 * order within its block and publishes its counts; every worker then reads
 * all counts, takes a range of buckets that holds about 1/nw of the keys,
 * pulls those buckets from every worker's block (the all-to-all key
 * exchange), counts its keys per value and turns the counts into ranks by
 * a prefix sum that starts at the number of keys in lower buckets.
 */
#include "apps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IS_SEED 314159265ULL
#define ITERS 10
#define NTEST 5
#define PAGE 4096

enum { I_KEY, I_SORTED, I_RECV, I_RANK, I_CNT, I_RES, I_NBUF };
static const char *const i_names[] = { "key", "sorted", "recv", "rank", "count", "res" };

struct is_res {
	int tval[NTEST];             /* the keys at the test positions */
	long passed[APP_MAXW];
	long glo[APP_MAXW], ghi[APP_MAXW]; /* a worker's keys, in global order */
};

static struct is_par {
	int keys_log, max_log, buckets_log;
	long test_index[NTEST], test_rank[NTEST];
	size_t nkeys, maxkey, nbuckets;
} is_par;

static int is_setup(struct app_data *d, char cls)
{
	static const struct is_par classes[] = {
		{ 16, 11, 9, { 48427, 17148, 23627, 62548, 4431 }, { 0, 18, 346, 64917, 65463 }, 0, 0, 0 },
		{ 20, 16, 10, { 357773, 934767, 875723, 898999, 404505 }, { 1249, 11698, 1039987, 1043896, 1048018 },
		  0, 0, 0 },
		{ 23, 19, 10, { 2112377, 662041, 5336171, 3642833, 4250760 }, { 104, 17523, 123928, 8288932, 8388264 },
		  0, 0, 0 },
		{ 25, 21, 10, { 41869, 812306, 5102857, 18232239, 26860214 },
		  { 33422937, 10244, 59149, 33135281, 99 }, 0, 0, 0 },
	};
	int c = app_class_index(cls);

	if (c < 0)
		return c;
	is_par = classes[c];
	is_par.nkeys = (size_t)1 << is_par.keys_log;
	is_par.maxkey = (size_t)1 << is_par.max_log;
	is_par.nbuckets = (size_t)1 << is_par.buckets_log;
	d->par = &is_par;
	d->nbuf = I_NBUF;
	d->names = i_names;
	d->size[I_KEY] = d->size[I_SORTED] = d->size[I_RECV] = sizeof(int) * is_par.nkeys;
	d->size[I_RANK] = sizeof(int) * is_par.maxkey;
	/* A row of counts per worker, each on pages of its own. */
	d->size[I_CNT] = APP_MAXW * ((sizeof(int) * is_par.nbuckets + PAGE - 1) / PAGE * PAGE);
	d->size[I_RES] = sizeof(struct is_res);
	return 0;
}

static int *cnt_row(struct worker *w, int r)
{
	size_t stride = (sizeof(int) * is_par.nbuckets + PAGE - 1) / PAGE * PAGE;

	return (int *)((char *)w->d->buf[I_CNT] + stride * (size_t)r);
}

/* The rank that test key t must have in iteration it (NPB's rule per class). */
static long expected_rank(int t, int it)
{
	long r = is_par.test_rank[t];

	switch (is_par.keys_log) {
	case 16: /* S */
		return t <= 2 ? r + it : r - it;
	case 20: /* W */
		return t < 2 ? r + (it - 2) : r - it;
	case 23: /* A */
		return t <= 2 ? r + (it - 1) : r - (it - 1);
	default: /* B */
		return t == 1 || t == 2 || t == 4 ? r + it : r - it;
	}
}

/* The first bucket of worker v's range: the first below which lie at least
 * v/nw of the keys (glob[k]: the keys in buckets below k). */
static size_t split(const long *glob, int v, int nw)
{
	size_t k = 0;
	long want = (long)(is_par.nkeys * (size_t)v / (size_t)nw);

	if (v == nw)
		return is_par.nbuckets;
	while (k < is_par.nbuckets && glob[k] < want)
		k++;
	return k;
}

/* One ranking.  count: whether its partial verification counts. */
static void rank_keys(struct worker *w, int it, int count)
{
	void **b = w->d->buf;
	int *key = b[I_KEY], *sorted = b[I_SORTED], *recv = b[I_RECV], *rank = b[I_RANK];
	struct is_res *res = b[I_RES];
	size_t nb = is_par.nbuckets, lo, hi, blo = 0, bhi = 0, vlo, vhi, pos;
	int shift = is_par.max_log - is_par.buckets_log, *mine = cnt_row(w, w->id);
	long *off = app_xmalloc(sizeof(long) * nb), *glob = app_xmalloc(sizeof(long) * (nb + 1)), g;
	size_t *part = app_xmalloc(sizeof(size_t) * 2 * (size_t)w->nw); /* each block's part: from, len */

	app_range(is_par.nkeys, w->id, w->nw, &lo, &hi);
	if ((size_t)it >= lo && (size_t)it < hi)
		key[it] = it;
	if ((size_t)it + ITERS >= lo && (size_t)it + ITERS < hi)
		key[it + ITERS] = (int)is_par.maxkey - it;
	for (int t = 0; t < NTEST; t++)
		if ((size_t)is_par.test_index[t] >= lo && (size_t)is_par.test_index[t] < hi)
			res->tval[t] = key[is_par.test_index[t]];

	/* Count per bucket, sort the block into bucket order. */
	memset(off, 0, sizeof(long) * nb);
	for (size_t i = lo; i < hi; i++)
		off[key[i] >> shift]++;
	for (size_t k = 0; k < nb; k++)
		mine[k] = (int)off[k];
	app_will_overwrite(w, sorted + lo, sizeof(int) * (hi - lo));
	for (size_t k = 0, s = lo; k < nb; k++) {
		long c = off[k];
		off[k] = (long)s;
		s += (size_t)c;
	}
	for (size_t i = lo; i < hi; i++)
		sorted[off[key[i] >> shift]++] = key[i];
	app_barrier(w);

	/* Every worker's counts: the global ones, then this worker's buckets. */
	memset(glob, 0, sizeof(long) * (nb + 1));
	for (int r = 0; r < w->nw; r++) {
		const int *c = cnt_row(w, r);
		for (size_t k = 0; k < nb; k++)
			glob[k + 1] += c[k];
	}
	for (size_t k = 0; k < nb; k++)
		glob[k + 1] += glob[k];
	blo = split(glob, w->id, w->nw);
	bhi = split(glob, w->id + 1, w->nw);

	/* The key exchange: buckets [blo, bhi) of every block. */
	pos = (size_t)glob[blo];
	app_will_overwrite(w, recv + pos, sizeof(int) * (size_t)(glob[bhi] - glob[blo]));
	for (int r = 0; r < w->nw; r++) { /* where each block's part is, asked for at once */
		const int *c = cnt_row(w, r);
		size_t rlo, rhi;
		long before = 0, len = 0;

		app_range(is_par.nkeys, r, w->nw, &rlo, &rhi);
		for (size_t k = 0; k < blo; k++)
			before += c[k];
		for (size_t k = blo; k < bhi; k++)
			len += c[k];
		part[2 * r] = rlo + (size_t)before;
		part[2 * r + 1] = (size_t)len;
		if (r != w->id)
			app_will_read(w, sorted + part[2 * r], sizeof(int) * part[2 * r + 1]);
	}
	for (int r = 0; r < w->nw; r++) {
		memcpy(recv + pos, sorted + part[2 * r], sizeof(int) * part[2 * r + 1]);
		pos += part[2 * r + 1];
	}

	/* Ranks of the values in this worker's buckets. */
	vlo = blo << shift;
	vhi = bhi << shift;
	app_will_overwrite(w, rank + vlo, sizeof(int) * (vhi - vlo));
	memset(rank + vlo, 0, sizeof(int) * (vhi - vlo));
	for (size_t i = (size_t)glob[blo]; i < (size_t)glob[bhi]; i++)
		rank[recv[i]]++;
	g = glob[blo];
	for (size_t v = vlo; v < vhi; v++) {
		g += rank[v];
		rank[v] = (int)g;
	}
	res->glo[w->id] = glob[blo];
	res->ghi[w->id] = glob[bhi];
	for (int t = 0; t < NTEST && count; t++) {
		long k = res->tval[t];
		if (k > 0 && (size_t)k <= is_par.nkeys - 1 && (size_t)(k - 1) >= vlo && (size_t)(k - 1) < vhi)
			res->passed[w->id] += rank[k - 1] == expected_rank(t, it);
	}
	free(off);
	free(glob);
	free(part);
	app_barrier(w);
}

/* The keys (four numbers each, from the worker's point of the stream), and
 * one untimed ranking, as NPB does. */
static void is_init(struct worker *w)
{
	int *key = w->d->buf[I_KEY];
	struct is_res *res = w->d->buf[I_RES];
	size_t lo, hi;
	double k = (double)(is_par.maxkey / 4);
	uint64_t seed;

	app_range(is_par.nkeys, w->id, w->nw, &lo, &hi);
	seed = npb_mul46(IS_SEED, npb_pow46(NPB_A, 4 * lo));
	for (size_t i = lo; i < hi; i++) {
		double x = npb_randlc(&seed, NPB_A);
		x += npb_randlc(&seed, NPB_A);
		x += npb_randlc(&seed, NPB_A);
		x += npb_randlc(&seed, NPB_A);
		key[i] = (int)(k * x);
	}
	res->passed[w->id] = 0;
	app_barrier(w);
	rank_keys(w, 1, 0);
}

static void is_run(struct worker *w)
{
	for (int it = 1; it <= ITERS; it++)
		rank_keys(w, it, 1);
}

/* Full verification: the worker's keys placed by their ranks, in order. */
static void is_finish(struct worker *w)
{
	void **b = w->d->buf;
	int *recv = b[I_RECV], *rank = b[I_RANK], *out = b[I_SORTED];
	struct is_res *res = b[I_RES];
	size_t glo = (size_t)res->glo[w->id], ghi = (size_t)res->ghi[w->id], bad = 0;

	for (size_t i = glo; i < ghi; i++)
		out[--rank[recv[i]]] = recv[i];
	app_barrier(w);
	for (size_t i = glo > 0 ? glo : 1; i < ghi; i++)
		bad += out[i - 1] > out[i];
	res->passed[w->id] += bad == 0;
}

static int is_verify(const struct app_data *d, int nw, uint64_t *digest, char *msg, size_t len)
{
	const struct is_res *r = d->buf[I_RES];
	long passed = 0;

	for (int i = 0; i < nw; i++)
		passed += r->passed[i];
	*digest = (uint64_t)passed;
	snprintf(msg, len, "%ld of %d checks passed (partial: 5 per iteration, full: 1 per worker)", passed,
		 NTEST * ITERS + nw);
	return passed == NTEST * ITERS + nw;
}

const struct app_kernel app_is = { "is", 0, is_setup, is_init, is_run, is_finish, is_verify };
