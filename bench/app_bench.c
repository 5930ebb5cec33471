/*
 * app_bench - the application suite: each kernel on dsm against the same
 * kernel without dsm, measured in the same job.
 *
 *   dsmexec -n P bin/app_bench [KERNEL[:CLASS],...] [--class C]
 *           [--variants serial,pthreads,dsm,hybrid] [--threads T]
 *           [--reps N] [--json] [--out DIR] [--tag TAG]
 *
 * Kernels (bench/apps/, one file each): cg, ft, is, ep (the NAS Parallel
 * Benchmarks' kernels of those names, written from the published
 * specification and verified against its values for classes S, W, A) and
 * jacobi, matmul, sort (checked against the serial run).  Default: all of
 * them, class --class (default BENCH_CLASS, or W).
 *
 * Variants, in this order within every repetition:
 *   serial    one worker in rank 0, private memory
 *   pthreads  T threads (default 2) in rank 0, private memory, the team
 *             barrier of apps.h (spins, then sleeps, as OpenMP's does): the
 *             OpenMP-with-2-threads baseline
 *   dsm       one worker per rank, on the shared region
 *   hybrid    T threads in each rank, on the shared region (by default
 *             only in jobs of 1 and 2 ranks: 4 x 2 threads on 2 cores
 *             measures the scheduler)
 * While rank 0 runs the first two, the other ranks wait in dsm_barrier.
 *
 * Design.  A kernel is written once over a struct worker (apps.h); this
 * file only decides where its arrays live and how many workers of which
 * kind run it.  Private arrays are laid out as the shared blocks are (the
 * same distances, 4 KiB pages, no huge pages): arrays a power of two apart
 * alias in the caches, and without the mirroring the comparison would
 * measure the allocator's layout, not the cost of sharing.  Every worker
 * first writes its own part (the kernel's init, untimed); the clock runs
 * from the barrier after that to the barrier after the kernel.  Every run
 * is verified (a wrong answer ends the job with exit status 1); the first
 * verification of each variant is printed as a "verify:" line.  The dsm
 * counters are the sums over the ranks of what dsm_stats() counted in the
 * timed span (median over the repetitions).  The kernels advise dsm of the
 * phases that overwrite whole pages (app_will_overwrite(), dsm_advise(3));
 * BENCH_ADVISE=0 leaves the advice out, to measure what it saves.  Beside
 * each target it misses, it prints what stands in the way: the share of
 * the ranks' time in faults and in barriers, their numbers and costs.
 */
#include "bench.h"
#include "apps/apps.h"

#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <sys/mman.h>

static const struct app_kernel *const kernels[] = { &app_jacobi, &app_matmul, &app_sort, &app_cg,
						    &app_ft,     &app_is,     &app_ep };
#define NKERNEL (int)(sizeof(kernels) / sizeof(kernels[0]))

enum variant { V_SERIAL, V_THREADS, V_DSM, V_HYBRID, NVAR };

/* The CPUs of the job (before dsm_init) and of this rank (after: DSM_BIND
 * may have narrowed them).  serial and pthreads, plain programs, run on the
 * job's. */
static cpu_set_t cpus_whole, cpus_rank;
static const char *const var_name[NVAR] = { "serial", "pthreads", "dsm", "hybrid" };

/* Targets of issue 14 apply to these kernels on 2 ranks. */
static const char *const two_rank_target = "cg ft is jacobi";

struct rank_stats {
	struct dsm_stats st[APP_MAXW]; /* per rank */
	int done[4];                   /* per variant: rank 0 says it has its repetitions */
};

struct slot {
	struct worker w;
	const struct app_kernel *k;
	pthread_t th;
};

static void work(struct slot *s)
{
	struct worker *w = &s->w;

	s->k->init(w);
	app_barrier(w);
	if (w->thread == 0)
		dsm_stats(&w->s0);
	if (w->id == 0)
		w->t0 = app_now_us();
	s->k->run(w);
	app_barrier(w);
	if (w->id == 0)
		w->t1 = app_now_us();
	if (w->thread == 0)
		dsm_stats(&w->s1);
	s->k->finish(w);
	app_barrier(w);
}

static void *thread_main(void *arg)
{
	work(arg);
	return NULL;
}

/* One run of k on d by this process's `threads` workers (and, with dsm, by
 * every rank's).  *w0 gets this process's thread 0. */
static void run_once(const struct app_kernel *k, struct app_data *d, int dsm, int threads, struct worker *w0)
{
	struct slot s[APP_MAXW];
	struct app_team team;
	int ranks = dsm ? dsm_size() : 1, rank = dsm ? dsm_rank() : 0;

	app_team_init(&team, threads, dsm);
	for (int t = 0; t < threads; t++) {
		s[t] = (struct slot){ .k = k };
		s[t].w = (struct worker){ .id = rank * threads + t, .nw = ranks * threads, .thread = t,
					  .dsm = dsm, .team = &team, .d = d };
	}
	for (int t = 1; t < threads; t++)
		if (pthread_create(&s[t].th, NULL, thread_main, &s[t]))
			bench_die("pthread_create", EAGAIN);
	work(&s[0]);
	for (int t = 1; t < threads; t++)
		pthread_join(s[t].th, NULL);
	app_team_destroy(&team);
	*w0 = s[0].w;
}

/* Private memory laid out as the shared blocks are: returns the mapping. */
static char *data_mirror(struct app_data *priv, const struct app_data *sh, size_t *span)
{
	uintptr_t lo = UINTPTR_MAX, top = 0;
	char *m;

	*priv = *sh;
	for (int b = 0; b < sh->nbuf; b++) {
		uintptr_t p = (uintptr_t)sh->buf[b];
		lo = p < lo ? p : lo;
		top = p + sh->size[b] > top ? p + sh->size[b] : top;
	}
	*span = top - lo;
	m = mmap(NULL, *span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		bench_die("mmap", errno);
	madvise(m, *span, MADV_NOHUGEPAGE);
	for (int b = 0; b < sh->nbuf; b++)
		priv->buf[b] = m + ((uintptr_t)sh->buf[b] - lo);
	return m;
}

static struct {
	int want[NVAR];
	int threads;
	double cap;   /* seconds: a variant slower than this runs once */
} opt;

struct series {
	double t[BENCH_MAXREP], faults[BENCH_MAXREP], pages[BENCH_MAXREP], mib[BENCH_MAXREP];
	double fms[BENCH_MAXREP], bms[BENCH_MAXREP], nbar[BENCH_MAXREP];
	int has, stats, n;  /* n: repetitions done */
};

static double p99_of(const double *v, int n)
{
	double c[BENCH_MAXREP];

	memcpy(c, v, sizeof(double) * (size_t)n);
	return bench_pct(c, (size_t)n, 0.99);
}

/* Rank 0, after a run: the verdict, printed the first time, fatal if wrong. */
static void check(const struct app_kernel *k, const struct app_data *d, int nw, const char *label, int first,
		  uint64_t *ref, int *have_ref)
{
	char msg[256];
	uint64_t dig = 0;
	int ok = k->verify(d, nw, &dig, msg, sizeof(msg));

	if (k->exact && *have_ref && dig != *ref) {
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), "; digest %#llx, serial %#llx",
			 (unsigned long long)dig, (unsigned long long)*ref);
		ok = 0;
	}
	if (k->exact && !*have_ref && ok) {
		*ref = dig;
		*have_ref = 1;
	}
	if (first || !ok)
		fprintf(bench.json ? stderr : stdout, "verify: %s class %c %s: %s: %s\n", k->name, d->cls, label,
			ok ? "ok" : "FAILED", msg);
	fflush(NULL);
	if (!ok)
		exit(1);
}

/* "10.2k" */
static void count_str(char *b, size_t len, double n)
{
	if (n >= 1e6)
		snprintf(b, len, "%.1fM", n / 1e6);
	else if (n >= 1e4)
		snprintf(b, len, "%.1fk", n / 1e3);
	else
		snprintf(b, len, "%.0f", n);
}

/*
 * What stands in the way of a missed target, from the counters of the run
 * it measured (`row`): the share of each rank's time
 * spent waiting for pages and in barriers, with their numbers and unit
 * costs, and the rest (computing, and waiting that the counters do not
 * see: a CPU shared by more threads than it has).  Faults' and barriers'
 * times are summed over the ranks (and a rank's threads), so a share is
 * of ranks x the run's time.
 */
static void profile(char *b, size_t len, const struct bench_row *row, int ranks)
{
	double nbar = row->barriers;
	double span_ms = row->t50 * 1e3 * ranks, fp, bp;
	char nf[16], nb[16];

	if (!row->has_stats || !(span_ms > 0)) {
		snprintf(b, len, "no counters for %s %s", row->kernel, row->variant);
		return;
	}
	fp = 100 * row->fault_ms / span_ms;
	bp = 100 * row->barrier_ms / span_ms;
	count_str(nf, sizeof(nf), row->faults);
	count_str(nb, sizeof(nb), nbar);
	snprintf(b, len,
		 "%s %dx%d, %.3f s: %.0f%% of time in faults (%s faults, %.0f us each, %.1f MiB in), "
		 "%.0f%% in barriers (%s, %.0f us each), %.0f%% computing or waiting for a CPU",
		 row->kernel, ranks, row->threads, row->t50, fp, nf,
		 row->faults > 0 ? row->fault_ms * 1e3 / row->faults : 0.0, row->mib_in, bp, nb,
		 nbar > 0 ? row->barrier_ms * 1e3 / nbar : 0.0, fp + bp < 100 ? 100 - fp - bp : 0.0);
}

static void add_target(const char *kname, const char *what, double value, int at_most, double goal,
		       const char *note, const struct bench_row *row, int ranks)
{
	char t[96];
	struct bench_target *g;

	snprintf(t, sizeof(t), "%s %s", kname, what);
	if (!(g = bench_target(t, value, at_most, goal)))
		return;
	if (note)
		snprintf(g->note, sizeof(g->note), "%s", note);
	if (row)
		profile(g->why, sizeof(g->why), row, ranks);
}

static void bench_kernel(const struct app_kernel *k, char cls, struct rank_stats *rs)
{
	int me = dsm_rank(), nr = dsm_size(), T = opt.threads, have_ref = 0;
	struct app_data shared = { .cls = cls }, priv;
	struct series v[NVAR];
	uint64_t ref = 0;
	size_t span = 0;
	char *mirror = NULL, name[96], label[32];
	int rc;

	if ((rc = k->setup(&shared, cls))) {
		if (me == 0)
			fprintf(stderr, "app_bench: %s has no class %c\n", k->name, cls);
		exit(2);
	}
	for (int b = 0; b < shared.nbuf; b++) {
		snprintf(name, sizeof(name), "app_bench.%s.%c.%s", k->name, cls, shared.names[b]);
		if (!(shared.buf[b] = dsm_alloc_named(name, shared.size[b])))
			bench_die(name, errno);
	}
	memset(v, 0, sizeof(v));
	memset(rs->done, 0, sizeof(rs->done));
	dsm_barrier();
	if (me == 0) {
		mirror = data_mirror(&priv, &shared, &span);
		/* An exact kernel is checked against a serial run: make one if
		 * the variants have none. */
		if (k->exact && !opt.want[V_SERIAL]) {
			struct worker w0;
			run_once(k, &priv, 0, 1, &w0);
			check(k, &priv, 1, "serial (reference)", 1, &ref, &have_ref);
		}
	}
	for (int r = 0; r < bench.reps; r++) {
		for (int vi = 0; vi < NVAR; vi++) {
			int dsm = vi >= V_DSM, threads = vi == V_THREADS || vi == V_HYBRID ? T : 1;
			struct worker w0;

			if (!opt.want[vi] || rs->done[vi])
				continue;
			if (!dsm && me != 0)
				continue;
			if (dsm)
				dsm_barrier(); /* rank 0's private runs are over */
			else /* the plain program runs on every CPU the job may use */
				sched_setaffinity(0, sizeof(cpus_whole), &cpus_whole);
			run_once(k, dsm ? &shared : &priv, dsm, threads, &w0);
			if (!dsm) /* back to the CPUs dsm_init gave this rank (DSM_BIND) */
				sched_setaffinity(0, sizeof(cpus_rank), &cpus_rank);
			if (dsm) {
				rs->st[me] = (struct dsm_stats){
					.read_faults = w0.s1.read_faults - w0.s0.read_faults,
					.write_faults = w0.s1.write_faults - w0.s0.write_faults,
					.pages_in = w0.s1.pages_in - w0.s0.pages_in,
					.page_bytes_in = w0.s1.page_bytes_in - w0.s0.page_bytes_in,
					.fault_ns = w0.s1.fault_ns - w0.s0.fault_ns,
					.barriers = w0.s1.barriers - w0.s0.barriers,
					.barrier_ns = w0.s1.barrier_ns - w0.s0.barrier_ns,
				};
				dsm_barrier();
			}
			if (me != 0)
				continue;
			if (dsm)
				snprintf(label, sizeof(label), "%s %dx%d", var_name[vi], nr, threads);
			else
				snprintf(label, sizeof(label), "%s %d", var_name[vi], threads);
			check(k, dsm ? &shared : &priv, (dsm ? nr : 1) * threads, label, r == 0, &ref, &have_ref);
			v[vi].has = 1;
			v[vi].n = r + 1;
			v[vi].t[r] = (w0.t1 - w0.t0) / 1e6;
			rs->done[vi] = v[vi].t[r] > opt.cap; /* seen by all after the next barrier */
			if (!dsm)
				continue;
			v[vi].stats = 1;
			v[vi].faults[r] = v[vi].pages[r] = v[vi].mib[r] = v[vi].fms[r] = v[vi].bms[r] = 0;
			v[vi].nbar[r] = 0;
			for (int q = 0; q < nr; q++) {
				v[vi].faults[r] += (double)(rs->st[q].read_faults + rs->st[q].write_faults);
				v[vi].pages[r] += (double)rs->st[q].pages_in;
				v[vi].mib[r] += (double)rs->st[q].page_bytes_in / (1 << 20);
				v[vi].fms[r] += (double)rs->st[q].fault_ns / 1e6;
				v[vi].bms[r] += (double)rs->st[q].barrier_ns / 1e6;
				v[vi].nbar[r] += (double)rs->st[q].barriers;
			}
		}
		dsm_barrier();
	}
	if (me == 0) {
		double s50 = v[V_SERIAL].has ? bench_median(v[V_SERIAL].t, v[V_SERIAL].n) : NAN;
		double thr = v[V_THREADS].has ? s50 / bench_median(v[V_THREADS].t, v[V_THREADS].n) : NAN;
		double sp[NVAR];
		struct bench_row *rows[NVAR];
		char note[96];

		for (int vi = 0; vi < NVAR; vi++) {
			struct bench_row *row;

			sp[vi] = NAN;
			rows[vi] = NULL;
			if (!v[vi].has)
				continue;
			row = rows[vi] = bench_row(k->name, var_name[vi], vi >= V_DSM ? nr : vi == V_THREADS ? T : 1);
			row->cls = cls;
			row->threads = vi == V_THREADS || vi == V_HYBRID ? T : 1;
			row->reps = v[vi].n;
			row->t50 = bench_median(v[vi].t, v[vi].n);
			row->t99 = p99_of(v[vi].t, v[vi].n);
			sp[vi] = row->speedup = s50 / row->t50;
			row->vs_thr = row->speedup / thr;
			if ((row->has_stats = v[vi].stats)) {
				row->faults = bench_median(v[vi].faults, v[vi].n);
				row->pages = bench_median(v[vi].pages, v[vi].n);
				row->mib_in = bench_median(v[vi].mib, v[vi].n);
				row->fault_ms = bench_median(v[vi].fms, v[vi].n);
				row->barrier_ms = bench_median(v[vi].bms, v[vi].n);
				row->barriers = bench_median(v[vi].nbar, v[vi].n);
			}
		}
		snprintf(note, sizeof(note), "pthreads, %d threads, same job: %.2fx over serial", T, thr);
		if (nr == 2 && strstr(two_rank_target, k->name))
			add_target(k->name, "2 ranks: speedup / pthreads-2's (issue 14)", sp[V_DSM] / thr, 0, 0.8,
				   note, rows[V_DSM], nr);
		if (nr == 2 && (!strcmp(k->name, "jacobi") || !strcmp(k->name, "matmul")))
			add_target(k->name, "on 2 ranks: speedup over single process", sp[V_DSM], 0, 1.6, note,
				   rows[V_DSM], nr);
		if (nr == 1)
			add_target(k->name, "1 rank x 2 threads: speedup / pthreads-2's (issue 14)",
				   sp[V_HYBRID] / thr, 0, 0.9, note, rows[V_HYBRID], nr);
		if (nr == 1)
			add_target(k->name, "1 rank: time / serial time (issue 20)", 1.0 / sp[V_DSM], 1, 1.1, NULL,
				   rows[V_DSM], nr);
		munmap(mirror, span);
	}
	dsm_barrier();
	if (me == 0)
		for (int b = 0; b < shared.nbuf; b++)
			dsm_free(shared.buf[b]);
	dsm_barrier();
}

static void usage(void)
{
	fprintf(stderr, "usage: app_bench [KERNEL[:CLASS],...] [--class S|W|A|B] "
			"[--variants serial,pthreads,dsm,hybrid] [--threads T] [--reps N] [--json] [--out DIR] "
			"[--tag TAG]\n  kernels:");
	for (int i = 0; i < NKERNEL; i++)
		fprintf(stderr, " %s", kernels[i]->name);
	fprintf(stderr, "\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *list = NULL, *vars = NULL, *env = getenv("BENCH_CLASS");
	char cls = env && *env ? *env : 'W', *copy;
	struct rank_stats *rs;
	int nr;

	sched_getaffinity(0, sizeof(cpus_whole), &cpus_whole);
	if (bench_init("app_bench", &argc, &argv))
		return 1;
	sched_getaffinity(0, sizeof(cpus_rank), &cpus_rank);
	opt.threads = 2;
	opt.cap = getenv("BENCH_APPS_CAP") ? atof(getenv("BENCH_APPS_CAP")) : 3;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--class") && i + 1 < argc)
			cls = argv[++i][0];
		else if (!strcmp(argv[i], "--variants") && i + 1 < argc)
			vars = argv[++i];
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			opt.threads = atoi(argv[++i]);
		else if (argv[i][0] != '-' && !list)
			list = argv[i];
		else
			usage();
	}
	nr = dsm_size();
	if (opt.threads < 1 || nr * opt.threads > APP_MAXW || dsm_num_servers()) {
		fprintf(stderr, "app_bench: at most %d workers (ranks x threads), no serve-only ranks\n", APP_MAXW);
		return 2;
	}
	for (int vi = 0; vi < NVAR; vi++)
		opt.want[vi] = vars ? strstr(vars, var_name[vi]) != NULL : vi != V_HYBRID || nr <= 2;
	rs = dsm_alloc_named("app_bench.stats", sizeof(*rs));
	if (!rs)
		bench_die("dsm_alloc_named", errno);
	bench_context("%d rank%s, backend %s; times in seconds, speedup = serial p50 / p50, vs-thr = speedup / "
		      "pthreads-%d speedup",
		      nr, nr > 1 ? "s" : "", bench_backend(), opt.threads);
	copy = strdup(list && strcmp(list, "all") ? list : "jacobi,matmul,sort,cg,ft,is,ep");
	for (char *save = NULL, *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(item, ':'), c = cls;
		int found = 0;

		if (colon) {
			*colon = 0;
			c = colon[1];
		}
		for (int i = 0; i < NKERNEL; i++)
			if (!strcmp(item, kernels[i]->name)) {
				bench_kernel(kernels[i], c, rs);
				found = 1;
			}
		if (!found) {
			if (dsm_rank() == 0)
				fprintf(stderr, "app_bench: no kernel '%s'\n", item);
			usage();
		}
	}
	free(copy);
	if (dsm_rank() == 0)
		bench_report();
	return dsm_finalize() ? 1 : 0;
}
