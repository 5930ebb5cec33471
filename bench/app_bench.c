/*
 * app_bench - application kernels on dsm against the same kernels in one
 * process, measured in the same job.
 *
 *   dsmexec -n P bin/app_bench [jacobi,matmul,sort] [--reps N] [--json] [--out DIR]
 *
 * Kernels (sizes from the environment, defaults in brackets):
 *   jacobi  Jacobi relaxation on an N x N grid of doubles, I sweeps, a
 *           barrier between sweeps; each worker updates a band of rows
 *           (BENCH_JACOBI_N [2048], BENCH_JACOBI_ITERS [100])
 *   matmul  C = A x B, N x N doubles; each worker computes a band of rows of
 *           C and reads all of B (BENCH_MATMUL_N [1024])
 *   sort    sample sort of N 64-bit keys: each worker sorts its block
 *           (qsort), regular samples give splitters, each worker gathers its
 *           bucket from every block and merges the runs into the output
 *           (BENCH_SORT_N [4194304])
 *
 * Design.  A kernel is written once, over a `struct worker` (its index, the
 * number of workers, a barrier, the arrays), and run three ways: serial (one
 * worker on private memory, in rank 0), pthreads (P threads on private
 * memory, in rank 0, when P > 1) and dsm (one worker per rank on the shared
 * region).  The other ranks wait in dsm_barrier while rank 0 runs the first
 * two.  The variants alternate within every repetition, so a busy machine
 * slows them alike, and each speedup is the serial median over the
 * variant's median from the same job.  Each worker initialises its own part
 * of the data before the clock starts (first touch); the clock runs from a
 * barrier after that to the barrier after the kernel.  Every run's result is
 * checked against the serial one's: a digest that does not depend on how
 * the work was divided (per-row sums added in row order; for the sort, the
 * keys' sum and order).  The dsm counters are the sums over the ranks of
 * what dsm_stats() counted between the two barriers.
 */
#include "bench.h"

#include <pthread.h>
#include <stddef.h>
#include <sys/mman.h>

#define MAXW 16      /* workers at most */
#define SAMPLES 64   /* per worker, for the sort's splitters */

enum kind { JACOBI, MATMUL, SORT, NKIND };
static const char *kind_name[NKIND] = { "jacobi", "matmul", "sort" };

struct sort_meta {
	uint64_t samples[MAXW * SAMPLES];
	uint64_t pos[MAXW][MAXW + 1]; /* worker r's block: bucket b is [pos[r][b], pos[r][b+1]) */
	uint64_t sum[MAXW];
	uint64_t bad[MAXW];           /* out of order pairs seen */
};

/* A kernel's data: private or in the shared region, the same shapes. */
struct data {
	size_t n;
	long iters;
	double *g[2];          /* jacobi */
	double *a, *b, *c;     /* matmul */
	uint64_t *in, *out;    /* sort */
	struct sort_meta *meta;
	double *rowsum;        /* jacobi, matmul: one per row */
};

struct worker {
	int id, nw;
	enum kind kind;
	struct data *d;
	void (*barrier)(struct worker *);
	pthread_barrier_t *pb;
	double t0, t1;         /* worker 0: the timed span, microseconds */
	struct dsm_stats s0, s1; /* a rank's counters over the timed span */
};

static size_t lo_of(size_t n, int id, int nw)
{
	return n * (size_t)id / (size_t)nw;
}

/* ---- jacobi --------------------------------------------------------------- */

static void sweep(const double *old, double *new, size_t n, size_t lo, size_t hi)
{
	for (size_t i = lo; i < hi; i++) {
		if (i == 0 || i == n - 1)
			continue; /* the edges stay fixed */
		for (size_t j = 1; j < n - 1; j++)
			new[i * n + j] = 0.25 * (old[(i - 1) * n + j] + old[(i + 1) * n + j] + old[i * n + j - 1] +
						 old[i * n + j + 1]);
	}
}

static void jacobi_init(struct worker *w, size_t lo, size_t hi)
{
	size_t n = w->d->n;

	for (int k = 0; k < 2; k++)
		for (size_t i = lo; i < hi; i++)
			for (size_t j = 0; j < n; j++)
				w->d->g[k][i * n + j] = i == 0 ? 1.0 : 0.0;
}

static void jacobi_run(struct worker *w, size_t lo, size_t hi)
{
	for (long t = 0; t < w->d->iters; t++) {
		sweep(w->d->g[t & 1], w->d->g[(t + 1) & 1], w->d->n, lo, hi);
		w->barrier(w);
	}
}

/* ---- matmul --------------------------------------------------------------- */

static void matmul_init(struct worker *w, size_t lo, size_t hi)
{
	size_t n = w->d->n;

	for (size_t i = lo; i < hi; i++)
		for (size_t j = 0; j < n; j++) {
			w->d->a[i * n + j] = (double)((i * 7 + j * 3) % 17) * 0.25;
			w->d->b[i * n + j] = (double)((i * 5 + j * 11) % 13) * 0.5;
			w->d->c[i * n + j] = 0;
		}
}

/* Blocked so that a tile of B stays in cache: compute-bound, not memory-bound.
 * Each C[i][j] still adds its products in k order, so every variant gets the
 * same bits. */
#define TILE_J 256
#define TILE_K 64

static void matmul_run(struct worker *w, size_t lo, size_t hi)
{
	size_t n = w->d->n;
	const double *a = w->d->a, *b = w->d->b;
	double *c = w->d->c;

	for (size_t jj = 0; jj < n; jj += TILE_J) {
		size_t je = jj + TILE_J < n ? jj + TILE_J : n;
		for (size_t kk = 0; kk < n; kk += TILE_K) {
			size_t ke = kk + TILE_K < n ? kk + TILE_K : n;
			for (size_t i = lo; i < hi; i++) {
				double *ci = c + i * n;
				for (size_t k = kk; k < ke; k++) {
					double aik = a[i * n + k];
					const double *bk = b + k * n;
					for (size_t j = jj; j < je; j++)
						ci[j] += aik * bk[j];
				}
			}
		}
	}
}

/* ---- sort ----------------------------------------------------------------- */

static uint64_t key_at(uint64_t i)
{
	uint64_t z = i + 0x9e3779b97f4a7c15ULL; /* splitmix64 */

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static size_t lower_bound(const uint64_t *v, size_t n, uint64_t key)
{
	size_t l = 0, h = n;

	while (l < h) {
		size_t m = l + (h - l) / 2;
		if (v[m] < key)
			l = m + 1;
		else
			h = m;
	}
	return l;
}

static void sort_init(struct worker *w, size_t lo, size_t hi)
{
	for (size_t i = lo; i < hi; i++)
		w->d->in[i] = key_at(i);
}

static void sort_run(struct worker *w, size_t lo, size_t hi)
{
	struct data *d = w->d;
	struct sort_meta *m = d->meta;
	uint64_t all[MAXW * SAMPLES], sp[MAXW], head[MAXW], end[MAXW], *tmp, *out;
	size_t mine = hi - lo, size = 0, off = 0, k = 0;
	int nw = w->nw, id = w->id;

	qsort(d->in + lo, mine, sizeof(uint64_t), cmp_u64);
	for (int i = 0; i < SAMPLES; i++)
		m->samples[id * SAMPLES + i] = d->in[lo + (size_t)i * mine / SAMPLES];
	w->barrier(w);
	memcpy(all, m->samples, sizeof(uint64_t) * (size_t)(nw * SAMPLES));
	qsort(all, (size_t)(nw * SAMPLES), sizeof(uint64_t), cmp_u64);
	for (int b = 1; b < nw; b++)
		sp[b] = all[b * SAMPLES];
	m->pos[id][0] = lo;
	for (int b = 1; b < nw; b++)
		m->pos[id][b] = lo + lower_bound(d->in + lo, mine, sp[b]);
	m->pos[id][nw] = hi;
	w->barrier(w);

	/* Worker id gathers bucket id from every block and merges the runs. */
	for (int r = 0; r < nw; r++)
		for (int b = 0; b <= id; b++) {
			size_t len = m->pos[r][b + 1] - m->pos[r][b];
			if (b < id)
				off += len;
			else
				size += len;
		}
	tmp = malloc(sizeof(uint64_t) * (size ? size : 1));
	if (!tmp)
		bench_die("malloc", ENOMEM);
	for (int r = 0; r < nw; r++) {
		size_t len = m->pos[r][id + 1] - m->pos[r][id];
		memcpy(tmp + k, d->in + m->pos[r][id], len * sizeof(uint64_t));
		head[r] = k;
		k += len;
		end[r] = k;
	}
	out = d->out + off;
	for (size_t i = 0; i < size; i++) {
		int best = -1;
		for (int r = 0; r < nw; r++)
			if (head[r] < end[r] && (best < 0 || tmp[head[r]] < tmp[head[best]]))
				best = r;
		out[i] = tmp[head[best]++];
	}
	free(tmp);
}

/* ---- running a kernel, any way -------------------------------------------- */

static void work(struct worker *w)
{
	struct data *d = w->d;
	size_t lo = lo_of(d->n, w->id, w->nw), hi = lo_of(d->n, w->id + 1, w->nw);

	if (w->kind == JACOBI)
		jacobi_init(w, lo, hi);
	else if (w->kind == MATMUL)
		matmul_init(w, lo, hi);
	else
		sort_init(w, lo, hi);
	w->barrier(w);
	dsm_stats(&w->s0);
	if (w->id == 0)
		w->t0 = bench_now_us();
	if (w->kind == JACOBI)
		jacobi_run(w, lo, hi);
	else if (w->kind == MATMUL)
		matmul_run(w, lo, hi);
	else
		sort_run(w, lo, hi);
	w->barrier(w);
	if (w->id == 0)
		w->t1 = bench_now_us();
	dsm_stats(&w->s1);

	/* The digest's parts, untimed. */
	if (w->kind == SORT) {
		struct sort_meta *m = d->meta;
		size_t a = m->pos[0][0], s = 0;
		uint64_t sum = 0, bad = 0;

		for (int r = 0; r < w->nw; r++)
			for (int b = 0; b < w->id; b++)
				a += m->pos[r][b + 1] - m->pos[r][b];
		for (int r = 0; r < w->nw; r++)
			s += m->pos[r][w->id + 1] - m->pos[r][w->id];
		for (size_t i = a; i < a + s; i++) {
			sum += d->out[i];
			bad += i > 0 && d->out[i - 1] > d->out[i];
		}
		m->sum[w->id] = sum;
		m->bad[w->id] = bad;
	} else {
		const double *g = w->kind == JACOBI ? d->g[d->iters & 1] : d->c;
		for (size_t i = lo; i < hi; i++) {
			double s = 0;
			for (size_t j = 0; j < d->n; j++)
				s += g[i * d->n + j];
			d->rowsum[i] = s;
		}
	}
	w->barrier(w);
}

/* Worker 0's view of the result, the same however the work was divided:
 * the keys' sum (0 when out of order), or the bits of the sum of row sums. */
static uint64_t digest(enum kind kind, struct data *d, int nw)
{
	uint64_t sum = 0, bad = 0;
	double s = 0;

	if (kind == SORT) {
		for (int r = 0; r < nw; r++) {
			sum += d->meta->sum[r];
			bad += d->meta->bad[r];
		}
		return bad ? 0 : sum;
	}
	for (size_t i = 0; i < d->n; i++)
		s += d->rowsum[i];
	memcpy(&sum, &s, sizeof(sum));
	return sum;
}

static void no_barrier(struct worker *w)
{
	(void)w;
}

static void thread_barrier(struct worker *w)
{
	pthread_barrier_wait(w->pb);
}

static void rank_barrier(struct worker *w)
{
	(void)w;
	if (dsm_barrier())
		bench_die("dsm_barrier", EIO);
}

static void *thread_main(void *arg)
{
	work(arg);
	return NULL;
}

/* Serial (nw 1) or pthreads, in this process, on private data: seconds. */
static double run_local(enum kind kind, struct data *d, int nw, uint64_t *dig)
{
	struct worker w[MAXW];
	pthread_t th[MAXW];
	pthread_barrier_t pb;

	pthread_barrier_init(&pb, NULL, (unsigned)nw);
	for (int i = 0; i < nw; i++)
		w[i] = (struct worker){ .id = i, .nw = nw, .kind = kind, .d = d, .pb = &pb,
					.barrier = nw == 1 ? no_barrier : thread_barrier };
	for (int i = 1; i < nw; i++)
		if (pthread_create(&th[i], NULL, thread_main, &w[i]))
			bench_die("pthread_create", EAGAIN);
	work(&w[0]);
	for (int i = 1; i < nw; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&pb);
	*dig = digest(kind, d, nw);
	return (w[0].t1 - w[0].t0) / 1e6;
}

static size_t env_size(const char *name, size_t def)
{
	const char *v = getenv(name);

	return v && *v ? (size_t)strtoull(v, NULL, 10) : def;
}

static void data_sizes(enum kind kind, struct data *d)
{
	memset(d, 0, sizeof(*d));
	if (kind == JACOBI) {
		d->n = env_size("BENCH_JACOBI_N", 2048);
		d->iters = (long)env_size("BENCH_JACOBI_ITERS", 100);
	} else if (kind == MATMUL) {
		d->n = env_size("BENCH_MATMUL_N", 1024);
	} else {
		d->n = env_size("BENCH_SORT_N", 4194304);
	}
}

static void *get(enum kind kind, const char *tag, size_t size)
{
	char name[64];
	void *p;

	snprintf(name, sizeof(name), "app_bench.%s.%s", kind_name[kind], tag);
	if (!(p = dsm_alloc_named(name, size)))
		bench_die(name, errno);
	return p;
}

/* The kernel's named blocks of the shared region. */
static void data_alloc(enum kind kind, struct data *d)
{
	size_t n = d->n, sq = n * n * sizeof(double);

	if (kind == JACOBI) {
		d->g[0] = get(kind, "grid0", sq);
		d->g[1] = get(kind, "grid1", sq);
	} else if (kind == MATMUL) {
		d->a = get(kind, "a", sq);
		d->b = get(kind, "b", sq);
		d->c = get(kind, "c", sq);
	} else {
		d->in = get(kind, "in", n * sizeof(uint64_t));
		d->out = get(kind, "out", n * sizeof(uint64_t));
		d->meta = get(kind, "meta", sizeof(struct sort_meta));
	}
	if (kind != SORT)
		d->rowsum = get(kind, "rowsum", n * sizeof(double));
}

/* Each array malloc'd on its own, as a program without dsm would. */
static void data_malloc(enum kind kind, struct data *d, const struct data *sh)
{
	size_t n = sh->n, sq = n * n * sizeof(double);
	void **p[] = { (void **)&d->g[0], (void **)&d->g[1], (void **)&d->a, (void **)&d->b, (void **)&d->c,
		       (void **)&d->in, (void **)&d->out, (void **)&d->meta, (void **)&d->rowsum };
	size_t size[] = { sq, sq, sq, sq, sq, n * 8, n * 8, sizeof(struct sort_meta), n * sizeof(double) };

	(void)kind;
	*d = *sh;
	for (size_t k = 0; k < sizeof(p) / sizeof(p[0]); k++)
		if (*p[k] && !(*p[k] = malloc(size[k])))
			bench_die("malloc", ENOMEM);
}

static void data_unmalloc(struct data *d)
{
	void *p[] = { d->g[0], d->g[1], d->a, d->b, d->c, d->in, d->out, d->meta, d->rowsum };

	for (size_t k = 0; k < sizeof(p) / sizeof(p[0]); k++)
		free(p[k]);
}

/* The data's pointers, for data_mirror. */
static const size_t data_ptrs[] = {
	offsetof(struct data, g[0]), offsetof(struct data, g[1]), offsetof(struct data, a),
	offsetof(struct data, b),    offsetof(struct data, c),    offsetof(struct data, in),
	offsetof(struct data, out),  offsetof(struct data, meta), offsetof(struct data, rowsum),
};
#define PTR(d, k) (*(char **)((char *)(d) + data_ptrs[k]))

/*
 * Private memory laid out as the shared blocks are: the same offsets from
 * one another, 4 KiB pages, no huge pages (the region has none).  Arrays a
 * power of two apart alias in the caches (Jacobi's two grids, back to back
 * in the region, ran 30 to 40 % slower than two malloc'd ones on the 2-core
 * test machine), so without this the comparison would measure the
 * allocator's layout, not the cost of sharing.  The 1-rank job also runs
 * the serial kernel on separately malloc'd arrays ("serial-malloc") to show
 * that effect.
 */
static char *data_mirror(enum kind kind, struct data *priv, const struct data *sh, size_t *span)
{
	const size_t K = sizeof(data_ptrs) / sizeof(data_ptrs[0]);
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	char *m;

	*priv = *sh;
	for (size_t k = 0; k < K; k++)
		if (PTR(sh, k)) {
			uintptr_t p = (uintptr_t)PTR(sh, k);
			lo = p < lo ? p : lo;
			hi = p > hi ? p : hi;
		}
	/* The last block starts at hi: room for the largest. */
	*span = hi - lo + (kind == SORT ? sh->n * sizeof(uint64_t) + sizeof(struct sort_meta)
					: sh->n * sh->n * sizeof(double));
	m = mmap(NULL, *span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		bench_die("mmap", errno);
	madvise(m, *span, MADV_NOHUGEPAGE);
	for (size_t k = 0; k < K; k++)
		if (PTR(sh, k))
			PTR(priv, k) = m + ((uintptr_t)PTR(sh, k) - lo);
	return m;
}

struct rank_stats {
	struct dsm_stats st[MAXW];
};

static void bench_kernel(enum kind kind, struct rank_stats *rs)
{
	int me = dsm_rank(), nr = dsm_size();
	double ts[BENCH_MAXREP], tp[BENCH_MAXREP], td[BENCH_MAXREP], tm[BENCH_MAXREP];
	double faults[BENCH_MAXREP], mib[BENCH_MAXREP], fms[BENCH_MAXREP], bms[BENCH_MAXREP];
	uint64_t want = 0, got;
	struct data priv, shared, mal;
	size_t span = 0;
	char *mirror = NULL;
	struct bench_row *row;
	char what[96];

	data_sizes(kind, &shared);
	data_alloc(kind, &shared);
	if (me == 0)
		mirror = data_mirror(kind, &priv, &shared, &span);
	if (me == 0 && nr == 1)
		data_malloc(kind, &mal, &shared);
	for (int r = 0; r < bench.reps; r++) {
		struct worker w = { .id = me, .nw = nr, .kind = kind, .d = &shared, .barrier = rank_barrier };

		if (me == 0) {
			ts[r] = run_local(kind, &priv, 1, &got);
			if (r == 0)
				want = got;
			else if (got != want)
				bench_die("serial run gave another result", 0);
			if (nr == 1) {
				tm[r] = run_local(kind, &mal, 1, &got);
				if (got != want)
					bench_die("serial run on malloc'd arrays gave another result", 0);
			}
			if (nr > 1) {
				tp[r] = run_local(kind, &priv, nr, &got);
				if (got != want) {
					fprintf(stderr, "app_bench: %s with %d threads: digest %#llx, serial %#llx\n",
						kind_name[kind], nr, (unsigned long long)got, (unsigned long long)want);
					exit(1);
				}
			}
		}
		dsm_barrier();
		work(&w);
		rs->st[me] = (struct dsm_stats){
			.read_faults = w.s1.read_faults - w.s0.read_faults,
			.write_faults = w.s1.write_faults - w.s0.write_faults,
			.page_bytes_in = w.s1.page_bytes_in - w.s0.page_bytes_in,
			.fault_ns = w.s1.fault_ns - w.s0.fault_ns,
			.barrier_ns = w.s1.barrier_ns - w.s0.barrier_ns,
		};
		dsm_barrier();
		if (me == 0) {
			got = digest(kind, &shared, nr);
			if (got != want) {
				fprintf(stderr, "app_bench: %s on %d ranks: digest %#llx, serial %#llx: WRONG\n",
					kind_name[kind], nr, (unsigned long long)got, (unsigned long long)want);
				exit(1);
			}
			td[r] = (w.t1 - w.t0) / 1e6;
			faults[r] = mib[r] = fms[r] = bms[r] = 0;
			for (int k = 0; k < nr; k++) {
				faults[r] += (double)(rs->st[k].read_faults + rs->st[k].write_faults);
				mib[r] += (double)rs->st[k].page_bytes_in / (1 << 20);
				fms[r] += (double)rs->st[k].fault_ns / 1e6;
				bms[r] += (double)rs->st[k].barrier_ns / 1e6;
			}
		}
		dsm_barrier();
	}
	if (me == 0) {
		double s50 = bench_median(ts, bench.reps), s99, t50;
		double c[BENCH_MAXREP];

		memcpy(c, ts, sizeof(c));
		s99 = bench_pct(c, (size_t)bench.reps, 0.99);
		row = bench_row(kind_name[kind], "serial", 1);
		row->t50 = s50;
		row->t99 = s99;
		row->speedup = 1;
		if (nr == 1) {
			row = bench_row(kind_name[kind], "serial-malloc", 1);
			row->t50 = bench_median(tm, bench.reps);
			memcpy(c, tm, sizeof(c));
			row->t99 = bench_pct(c, (size_t)bench.reps, 0.99);
			row->speedup = s50 / row->t50;
			data_unmalloc(&mal);
		}
		if (nr > 1) {
			row = bench_row(kind_name[kind], "pthreads", nr);
			row->t50 = bench_median(tp, bench.reps);
			memcpy(c, tp, sizeof(c));
			row->t99 = bench_pct(c, (size_t)bench.reps, 0.99);
			row->speedup = s50 / row->t50;
		}
		row = bench_row(kind_name[kind], "dsm", nr);
		t50 = row->t50 = bench_median(td, bench.reps);
		memcpy(c, td, sizeof(c));
		row->t99 = bench_pct(c, (size_t)bench.reps, 0.99);
		row->speedup = s50 / t50;
		row->has_stats = 1;
		row->faults = bench_median(faults, bench.reps);
		row->mib_in = bench_median(mib, bench.reps);
		row->fault_ms = bench_median(fms, bench.reps);
		row->barrier_ms = bench_median(bms, bench.reps);
		if (nr == 2 && kind != SORT) {
			struct bench_target *t;
			snprintf(what, sizeof(what), "%s on 2 ranks: speedup over single process", kind_name[kind]);
			if ((t = bench_target(what, row->speedup, 0, 1.6)))
				snprintf(t->note, sizeof(t->note), "pthreads, 2 threads, same job: %.2fx",
					 s50 / bench_median(tp, bench.reps));
		}
		munmap(mirror, span);
	}
	dsm_barrier();
}

int main(int argc, char **argv)
{
	const char *list;
	struct rank_stats *rs;
	int rc, nr, want[NKIND] = { 0 };

	if ((rc = dsm_init(&argc, &argv))) {
		fprintf(stderr, "app_bench: dsm_init: %s\n", strerror(-rc));
		return 1;
	}
	argc = bench_args("app_bench", argc, argv);
	list = argc > 1 ? argv[1] : "jacobi,matmul,sort";
	nr = dsm_size();
	if (nr > MAXW || dsm_num_servers()) {
		fprintf(stderr, "app_bench: at most %d ranks, no serve-only ranks\n", MAXW);
		return 2;
	}
	for (int k = 0; k < NKIND; k++) {
		const char *p = strstr(list, kind_name[k]);
		want[k] = p != NULL;
	}
	rs = dsm_alloc_named("app_bench.stats", sizeof(*rs));
	if (!rs)
		bench_die("dsm_alloc_named", errno);
	bench_context("%d rank%s, backend %s; times in seconds, speedup = serial p50 / p50", nr, nr > 1 ? "s" : "",
		      bench_backend());
	for (int k = 0; k < NKIND; k++)
		if (want[k])
			bench_kernel((enum kind)k, rs);
	if (dsm_rank() == 0)
		bench_report();
	return dsm_finalize() ? 1 : 0;
}
