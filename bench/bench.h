/*
 * bench.h - what the benchmark programs share: the clock, figures measured
 * over repetitions, the table and the JSON they print, per-sample files for
 * bench/plot, and the plain-TCP and local-fault measurements ("limits") the
 * figures are compared with.  Header-only, because every bench/NAME.c is a
 * program of its own (the Makefile builds it into bin/NAME).
 *
 * Design.  A figure collects one p50 and one p99 per repetition; what it
 * reports is the median over the repetitions of each, so one repetition that
 * a busy machine disturbed moves neither.  A figure may name another figure
 * of the same run as its limit; the table then prints p50(figure) /
 * p50(limit).  For a rate (GB/s, faults/s) the p99 is the slow tail: the
 * rate of the chunk at the 99th percentile of chunk times.  Targets from
 * the performance issue are printed as "target:" lines that bench/run.sh
 * gathers into its summary.
 *
 * Options every program takes after its own arguments are removed by
 * bench_args(): --json (JSON on stdout instead of the table), --reps N,
 * --out DIR (write DIR/TAG.json and DIR/samples/TAG.KEY.txt), --tag TAG.
 * Only rank 0 prints.
 */
#ifndef DSM_BENCH_H
#define DSM_BENCH_H

#include <dsm.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BENCH_MAXREP 32
#define BENCH_MAXFIG 48
#define BENCH_MAXROW 48

struct bench_fig {
	char key[40];            /* file and JSON name: cold_read */
	char name[64];           /* for people: cold read fault */
	char unit[12];           /* us, GB/s, faults/s */
	int rate;                /* 1: higher is better (p99 is the slow tail) */
	double p50[BENCH_MAXREP], p99[BENCH_MAXREP];
	int nrep;
	char chunk[24];          /* a rate's samples: what one chunk is */
	struct bench_fig *limit; /* compared with, or NULL */
	double *samples;         /* every sample of every repetition, for plots */
	size_t ns, cap;
	const char *section;
};

/* A row of an application kernel's table. */
struct bench_row {
	char kernel[24], variant[24];
	int width;               /* ranks or threads */
	double t50, t99;         /* seconds */
	double speedup;          /* serial time / this time, medians of the same job */
	double faults, mib_in, fault_ms, barrier_ms; /* dsm_stats, summed over ranks */
	double pages;            /* pages received, summed over ranks */
	double barriers;         /* dsm_barrier calls, summed over ranks */
	int has_stats;
	char cls;                /* the problem class, or 0 */
	int threads;             /* threads per rank (or in the process) */
	double vs_thr;           /* speedup / the same job's pthreads speedup */
	int reps;                /* repetitions behind the medians, when fewer than asked */
};

struct bench_target {
	char what[96];
	char note[96];           /* printed under it, e.g. the same run's ceiling */
	char why[240];           /* printed under a MISSED one: what stands in the way */
	double value, goal;
	int at_most;             /* value <= goal, else value >= goal */
};

static struct {
	const char *program, *tag, *outdir, *section;
	int json, reps;
	char context[160];
	struct bench_fig fig[BENCH_MAXFIG];
	int nfig;
	struct bench_row row[BENCH_MAXROW];
	int nrow;
	struct bench_target tgt[40];
	int ntgt;
} bench = { .reps = 5 };

static inline double bench_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static inline void bench_die(const char *what, int err)
{
	fprintf(stderr, "%s: %s%s%s\n", bench.program ? bench.program : "bench", what, err ? ": " : "",
		err ? strerror(err) : "");
	exit(1);
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The p-quantile by nearest rank (p 0.5 of 5 values: the 3rd; p 0.99: the 5th).
 * Sorts v. */
static inline double bench_pct(double *v, size_t n, double p)
{
	size_t i;

	if (!n)
		return NAN;
	qsort(v, n, sizeof(*v), bench_cmp_double);
	i = (size_t)(p * (double)n); /* ceil without libm */
	if ((double)i < p * (double)n)
		i++;
	return v[i ? i - 1 : 0];
}

static inline double bench_median(const double *v, int n)
{
	double c[BENCH_MAXREP];

	memcpy(c, v, sizeof(double) * (size_t)n);
	return bench_pct(c, (size_t)n, 0.5);
}

/* Strip the common options; returns the new argc.  Call after dsm_init. */
static inline int bench_args(const char *program, int argc, char **argv)
{
	int out = 1;

	bench.program = program;
	bench.tag = program;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			bench.json = 1;
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			bench.reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--out") && i + 1 < argc)
			bench.outdir = argv[++i];
		else if (!strcmp(argv[i], "--tag") && i + 1 < argc)
			bench.tag = argv[++i];
		else
			argv[out++] = argv[i];
	}
	argv[out] = NULL;
	if (bench.reps < 1 || bench.reps > BENCH_MAXREP) {
		fprintf(stderr, "%s: --reps wants 1 to %d\n", program, BENCH_MAXREP);
		exit(2);
	}
	return out;
}

/* dsm_init, then bench_args: 0, or -1 after saying why dsm_init failed. */
static inline int bench_init(const char *program, int *argc, char ***argv)
{
	int rc = dsm_init(argc, argv);

	if (rc) {
		fprintf(stderr, "%s: dsm_init: %s\n", program, strerror(-rc));
		return -1;
	}
	*argc = bench_args(program, *argc, *argv);
	return 0;
}

static inline void bench_context(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(bench.context, sizeof(bench.context), fmt, ap);
	va_end(ap);
}

/* Figures added after this belong to the section `title`. */
static inline void bench_section(const char *title)
{
	bench.section = title;
}

static inline struct bench_fig *bench_fig(const char *key, const char *name, const char *unit, int rate)
{
	struct bench_fig *f;

	if (bench.nfig == BENCH_MAXFIG)
		bench_die("too many figures", 0);
	f = &bench.fig[bench.nfig++];
	memset(f, 0, sizeof(*f));
	snprintf(f->key, sizeof(f->key), "%s", key);
	snprintf(f->name, sizeof(f->name), "%s", name);
	snprintf(f->unit, sizeof(f->unit), "%s", unit);
	f->rate = rate;
	f->section = bench.section;
	return f;
}

static inline void bench_keep(struct bench_fig *f, const double *v, size_t n)
{
	if (f->ns + n > f->cap) {
		size_t cap = (f->ns + n) * 2;
		double *s = realloc(f->samples, cap * sizeof(double));
		if (!s)
			bench_die("realloc", ENOMEM);
		f->samples = s;
		f->cap = cap;
	}
	memcpy(f->samples + f->ns, v, n * sizeof(double));
	f->ns += n;
}

/* One repetition of a latency: n samples (reordered). */
static inline void bench_rep(struct bench_fig *f, double *v, size_t n)
{
	if (f->nrep == BENCH_MAXREP || !n)
		return;
	bench_keep(f, v, n);
	f->p50[f->nrep] = bench_pct(v, n, 0.5);
	f->p99[f->nrep] = bench_pct(v, n, 0.99);
	f->nrep++;
}

/* One repetition of a rate: `bytes` moved per chunk, chunk times in us (kept
 * as samples); p50 and p99 are rates, p99 that of the slow chunks.  Returns
 * the p50 rate.  scale converts bytes/us into the unit (1e-3 for GB/s). */
static inline double bench_rep_rate(struct bench_fig *f, double *chunk_us, size_t n, double per_chunk,
				    double scale)
{
	if (f->nrep == BENCH_MAXREP || !n)
		return NAN;
	bench_keep(f, chunk_us, n);
	if (scale == 1e-3)
		snprintf(f->chunk, sizeof(f->chunk), "%g MiB", per_chunk / (1 << 20));
	else /* faults/s: "256 faults" */
		snprintf(f->chunk, sizeof(f->chunk), "%g %.*s", per_chunk, (int)strcspn(f->unit, "/"), f->unit);
	f->p50[f->nrep] = per_chunk / bench_pct(chunk_us, n, 0.5) * scale;
	f->p99[f->nrep] = per_chunk / bench_pct(chunk_us, n, 0.99) * scale;
	return f->p50[f->nrep++];
}

/* One repetition of a figure computed elsewhere. */
static inline void bench_rep_value(struct bench_fig *f, double p50, double p99)
{
	if (f->nrep == BENCH_MAXREP)
		return;
	f->p50[f->nrep] = p50;
	f->p99[f->nrep] = p99;
	f->nrep++;
}

static inline double bench_p50(const struct bench_fig *f)
{
	return f->nrep ? bench_median(f->p50, f->nrep) : NAN;
}

static inline double bench_p99(const struct bench_fig *f)
{
	return f->nrep ? bench_median(f->p99, f->nrep) : NAN;
}

static inline struct bench_row *bench_row(const char *kernel, const char *variant, int width)
{
	struct bench_row *r;

	if (bench.nrow == BENCH_MAXROW)
		bench_die("too many rows", 0);
	r = &bench.row[bench.nrow++];
	memset(r, 0, sizeof(*r));
	snprintf(r->kernel, sizeof(r->kernel), "%s", kernel);
	snprintf(r->variant, sizeof(r->variant), "%s", variant);
	r->width = width;
	return r;
}

/* A target of the performance issue: value <= goal (at_most) or >= goal.
 * Returns it, for a note, or NULL. */
static inline struct bench_target *bench_target(const char *what, double value, int at_most, double goal)
{
	struct bench_target *t;

	if (bench.ntgt == 40 || isnan(value))
		return NULL;
	t = &bench.tgt[bench.ntgt++];
	memset(t, 0, sizeof(*t));
	snprintf(t->what, sizeof(t->what), "%s", what);
	t->value = value;
	t->goal = goal;
	t->at_most = at_most;
	return t;
}

static inline int bench_met(const struct bench_target *t)
{
	return t->at_most ? t->value <= t->goal : t->value >= t->goal;
}

static inline void bench_json_str(FILE *o, const char *s)
{
	fputc('"', o);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', o);
		if ((unsigned char)*s >= 0x20)
			fputc(*s, o);
	}
	fputc('"', o);
}

static inline void bench_json_num(FILE *o, double v)
{
	if (isnan(v) || isinf(v))
		fputs("null", o);
	else
		fprintf(o, "%.6g", v);
}

static inline void bench_write_json(FILE *o)
{
	fputs("{\"program\":", o);
	bench_json_str(o, bench.program);
	fputs(",\"tag\":", o);
	bench_json_str(o, bench.tag);
	fputs(",\"context\":", o);
	bench_json_str(o, bench.context);
	fprintf(o, ",\"reps\":%d,\"figures\":[", bench.reps);
	for (int i = 0; i < bench.nfig; i++) {
		struct bench_fig *f = &bench.fig[i];
		fputs(i ? ",\n{\"key\":" : "\n{\"key\":", o);
		bench_json_str(o, f->key);
		fputs(",\"name\":", o);
		bench_json_str(o, f->name);
		fputs(",\"section\":", o);
		bench_json_str(o, f->section ? f->section : "");
		fputs(",\"unit\":", o);
		bench_json_str(o, f->unit);
		fprintf(o, ",\"reps\":%d,\"samples\":%zu,\"p50\":", f->nrep, f->ns);
		bench_json_num(o, bench_p50(f));
		fputs(",\"p99\":", o);
		bench_json_num(o, bench_p99(f));
		if (f->limit) {
			fputs(",\"limit\":", o);
			bench_json_str(o, f->limit->key);
			fputs(",\"limit_p50\":", o);
			bench_json_num(o, bench_p50(f->limit));
			fputs(",\"ratio\":", o);
			bench_json_num(o, bench_p50(f) / bench_p50(f->limit));
		}
		fputs("}", o);
	}
	fputs("],\"kernels\":[", o);
	for (int i = 0; i < bench.nrow; i++) {
		struct bench_row *r = &bench.row[i];
		fputs(i ? ",\n{\"kernel\":" : "\n{\"kernel\":", o);
		bench_json_str(o, r->kernel);
		fputs(",\"variant\":", o);
		bench_json_str(o, r->variant);
		fprintf(o, ",\"width\":%d,\"time_p50_s\":", r->width);
		bench_json_num(o, r->t50);
		fputs(",\"time_p99_s\":", o);
		bench_json_num(o, r->t99);
		fputs(",\"speedup\":", o);
		bench_json_num(o, r->speedup);
		if (r->cls) {
			fprintf(o, ",\"class\":\"%c\",\"threads\":%d,\"vs_pthreads\":", r->cls, r->threads);
			bench_json_num(o, r->vs_thr);
		}
		if (r->has_stats) {
			fprintf(o, ",\"pages_in\":%.0f", r->pages);
			fprintf(o, ",\"faults\":%.0f,\"mib_in\":", r->faults);
			bench_json_num(o, r->mib_in);
			fputs(",\"fault_ms\":", o);
			bench_json_num(o, r->fault_ms);
			fputs(",\"barrier_ms\":", o);
			bench_json_num(o, r->barrier_ms);
		}
		fputs("}", o);
	}
	fputs("],\"targets\":[", o);
	for (int i = 0; i < bench.ntgt; i++) {
		struct bench_target *t = &bench.tgt[i];
		fputs(i ? ",\n{\"what\":" : "\n{\"what\":", o);
		bench_json_str(o, t->what);
		fputs(",\"value\":", o);
		bench_json_num(o, t->value);
		fprintf(o, ",\"op\":\"%s\",\"goal\":", t->at_most ? "<=" : ">=");
		bench_json_num(o, t->goal);
		fprintf(o, ",\"met\":%s", bench_met(t) ? "true" : "false");
		if (t->note[0]) {
			fputs(",\"note\":", o);
			bench_json_str(o, t->note);
		}
		if (t->why[0] && !bench_met(t)) {
			fputs(",\"why\":", o);
			bench_json_str(o, t->why);
		}
		fputs("}", o);
	}
	fputs("]}\n", o);
}

static inline void bench_fmt(char *buf, size_t len, double v)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else if (v >= 100000)
		snprintf(buf, len, "%.0f", v);
	else if (v >= 100)
		snprintf(buf, len, "%.1f", v);
	else if (v >= 1)
		snprintf(buf, len, "%.2f", v);
	else
		snprintf(buf, len, "%.3f", v);
}

static inline void bench_write_table(FILE *o)
{
	const char *sec = NULL;

	fprintf(o, "-- %s: %s (each figure: median over %d repetitions of its p50 and p99)\n", bench.tag,
		bench.context, bench.reps);
	if (bench.nfig)
		fprintf(o, "  %-36s %10s %10s %-8s %-31s %8s\n", "figure", "p50", "p99", "unit",
			"limit (same run): p50", "p50/lim");
	for (int i = 0; i < bench.nfig; i++) {
		struct bench_fig *f = &bench.fig[i];
		char a[32], b[32], c[64] = "", d[16] = "";

		if (f->section && f->section != sec)
			fprintf(o, "  [%s]\n", f->section);
		sec = f->section;
		bench_fmt(a, sizeof(a), bench_p50(f));
		bench_fmt(b, sizeof(b), bench_p99(f));
		if (f->limit) {
			char l[32];
			bench_fmt(l, sizeof(l), bench_p50(f->limit));
			snprintf(c, sizeof(c), "%.22s %s", f->limit->name, l);
			snprintf(d, sizeof(d), "%.2fx", bench_p50(f) / bench_p50(f->limit));
		}
		fprintf(o, "  %-36s %10s %10s %-8s %-31s %8s\n", f->name, a, b, f->unit, c, d);
	}
	if (bench.nrow)
		fprintf(o, "  %-7s %2s %-9s %5s %8s %8s %8s %7s %9s %9s %8s %9s %9s\n", "kernel", "cl", "variant",
			"r x t", "p50 s", "p99 s", "speedup", "vs-thr", "faults", "pages-in", "MiB-in", "fault-ms",
			"barr-ms");
	for (int i = 0; i < bench.nrow; i++) {
		struct bench_row *r = &bench.row[i];
		char shape[16], vs[16] = "-";

		if (r->has_stats)
			snprintf(shape, sizeof(shape), "%dx%d", r->width, r->threads ? r->threads : 1);
		else
			snprintf(shape, sizeof(shape), "%d", r->width);
		if (!isnan(r->vs_thr) && r->cls)
			snprintf(vs, sizeof(vs), "%.2f", r->vs_thr);
		fprintf(o, "  %-7s %2c %-9s %5s %8.3f %8.3f %7.2fx %7s", r->kernel, r->cls ? r->cls : '-', r->variant,
			shape, r->t50, r->t99, r->speedup, vs);
		if (r->has_stats)
			fprintf(o, " %9.0f %9.0f %8.1f %9.1f %9.1f", r->faults, r->pages, r->mib_in, r->fault_ms,
				r->barrier_ms);
		if (r->reps && r->reps < bench.reps)
			fprintf(o, "  (%d of %d reps)", r->reps, bench.reps);
		fputc('\n', o);
	}
	/* Without this line a bare "MISSED" reads as a failure of the user's
	 * machine or build. */
	if (bench.ntgt)
		fprintf(o, "targets: the project's own goals for these figures (project targets, see docs/bench.md); "
			"MISSED means slower than the goal here, not an error\n");
	for (int i = 0; i < bench.ntgt; i++) {
		struct bench_target *t = &bench.tgt[i];
		int met = bench_met(t);
		double by = t->at_most ? t->value / t->goal : t->goal / t->value;

		fprintf(o, "target: %-52s %s %5.2f, got %6.2f: %s", t->what, t->at_most ? "<=" : ">=", t->goal,
			t->value, met ? "met" : "MISSED");
		if (!met)
			fprintf(o, " (by %.2fx)", by);
		fputc('\n', o);
		if (t->note[0])
			fprintf(o, "target:   (%s)\n", t->note);
		if (t->why[0] && !met)
			fprintf(o, "target:   in the way: %s\n", t->why);
	}
	fflush(o);
}

static inline void bench_write_samples(void)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/samples", bench.outdir);
	mkdir(bench.outdir, 0777);
	mkdir(path, 0777);
	for (int i = 0; i < bench.nfig; i++) {
		struct bench_fig *f = &bench.fig[i];
		FILE *o;

		if (!f->ns)
			continue;
		snprintf(path, sizeof(path), "%s/samples/%s.%s.txt", bench.outdir, bench.tag, f->key);
		if (!(o = fopen(path, "w"))) {
			fprintf(stderr, "%s: %s: %s\n", bench.program, path, strerror(errno));
			continue;
		}
		if (f->chunk[0]) /* a rate: its samples are the times of its chunks */
			fprintf(o, "# %s, time per %s (%s), %zu samples over %d repetitions, in microseconds\n",
				f->name, f->chunk, bench.tag, f->ns, f->nrep);
		else
			fprintf(o, "# %s (%s), %zu samples over %d repetitions, in microseconds\n", f->name,
				bench.tag, f->ns, f->nrep);
		for (size_t k = 0; k < f->ns; k++)
			fprintf(o, "%.3f\n", f->samples[k]);
		fclose(o);
	}
}

/* Print the table or the JSON; with --out, also write the files. */
static inline void bench_report(void)
{
	if (bench.json)
		bench_write_json(stdout);
	else
		bench_write_table(stdout);
	fflush(stdout);
	if (bench.outdir) {
		char path[512];
		FILE *o;

		bench_write_samples();
		snprintf(path, sizeof(path), "%s/%s.json", bench.outdir, bench.tag);
		if ((o = fopen(path, "w"))) {
			bench_write_json(o);
			fclose(o);
		} else {
			fprintf(stderr, "%s: %s: %s\n", bench.program, path, strerror(errno));
		}
		/* The kernels' rows for bench/plot and run.sh's speedup table. */
		snprintf(path, sizeof(path), "%s/%s.kernels.tsv", bench.outdir, bench.tag);
		if (bench.nrow && (o = fopen(path, "w"))) {
			for (int i = 0; i < bench.nrow; i++)
				fprintf(o, "%s\t%s\t%d\t%.4f\t%.4f\t%.3f\t%d\t%c\t%.3f\t%.0f\t%.0f\t%.1f\t%.1f\t%.1f\t%.0f\n",
					bench.row[i].kernel, bench.row[i].variant, bench.row[i].width, bench.row[i].t50,
					bench.row[i].t99, bench.row[i].speedup, bench.row[i].threads,
					bench.row[i].cls ? bench.row[i].cls : '-', bench.row[i].vs_thr, bench.row[i].faults,
					bench.row[i].pages, bench.row[i].mib_in, bench.row[i].fault_ms,
					bench.row[i].barrier_ms, bench.row[i].barriers);
			fclose(o);
		}
	}
}

/* ---- plain TCP between two processes: the network's own cost ---------- */

#define BENCH_POLL 2 /* bench_full_io: read without sleeping, polling the socket */

/* Move exactly len bytes: writing 1 writes, 0 reads, BENCH_POLL reads
 * without ever sleeping (non-blocking reads, retried until they succeed). */
static inline int bench_full_io(int fd, void *buf, size_t len, int writing)
{
	char *p = buf;

	while (len) {
		ssize_t n = writing == 1 ? write(fd, p, len) :
			    recv(fd, p, len, writing == BENCH_POLL ? MSG_DONTWAIT : 0);
		if (n < 0 && (errno == EINTR || (writing == BENCH_POLL && (errno == EAGAIN || errno == EWOULDBLOCK))))
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static inline void bench_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* A listening socket on 127.0.0.1 (or DSM_HOST); *port gets its port. */
static inline int bench_listen(int *port, char *addr, size_t alen)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	const char *host = getenv("DSM_HOST");
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (!host || inet_pton(AF_INET, host, &a.sin_addr) != 1) {
		host = "127.0.0.1";
		inet_pton(AF_INET, host, &a.sin_addr);
	}
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 1) ||
	    getsockname(fd, (struct sockaddr *)&a, &len))
		bench_die("listen", errno);
	*port = ntohs(a.sin_port);
	snprintf(addr, alen, "%s", host);
	return fd;
}

static inline int bench_connect(const char *addr, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, addr, &a.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		bench_die("connect", errno);
	bench_nodelay(fd);
	return fd;
}

/*
 * n timed round trips (after `warm` untimed): the client sends req bytes,
 * the server answers resp bytes; t[i] gets each one's microseconds (client).
 *
 * Blocking (polling = 0), each process sleeps in read() and the other's
 * write wakes it.  Both ends pin themselves to the first CPU they may use
 * (the same one on one host) for the duration: a blocking ping-pong between
 * two idle CPUs costs several times one on a single CPU on a virtual machine
 * (here 55 us against 14: waking a halted vCPU is a trip through the
 * hypervisor), and the scheduler picks either from run to run.  Pinned, the
 * figure is the best a blocking round trip does, every run.
 *
 * Polling (polling = 1), both ends spin on non-blocking reads, unpinned:
 * the round trip of the network stack alone, with no wake-up at all.
 */
static inline void bench_tcp_rtt_how(int fd, int client, size_t req, size_t resp, int n, int warm, double *t,
				     int polling)
{
	static char buf[1 << 16];
	cpu_set_t saved, one;
	int pinned = 0, rd = polling ? BENCH_POLL : 0;

	if (!polling && sched_getaffinity(0, sizeof(saved), &saved) == 0) {
		CPU_ZERO(&one);
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &saved)) {
				CPU_SET(c, &one);
				break;
			}
		pinned = sched_setaffinity(0, sizeof(one), &one) == 0;
	}
	for (int i = -warm; i < n; i++) {
		double t0 = bench_now_us();
		if (client) {
			if (bench_full_io(fd, buf, req, 1) || bench_full_io(fd, buf, resp, rd))
				bench_die("tcp round trip", errno ? errno : EPIPE);
			if (i >= 0 && t)
				t[i] = bench_now_us() - t0;
		} else if (bench_full_io(fd, buf, req, rd) || bench_full_io(fd, buf, resp, 1)) {
			bench_die("tcp round trip", errno ? errno : EPIPE);
		}
	}
	if (pinned)
		sched_setaffinity(0, sizeof(saved), &saved);
}

static inline void bench_tcp_rtt(int fd, int client, size_t req, size_t resp, int n, int warm, double *t)
{
	bench_tcp_rtt_how(fd, client, req, resp, n, warm, t, 0);
}

/* One way: the sender writes `total` bytes as msg-byte messages (one write
 * each); the receiver times every `chunk` bytes into t (total/chunk entries)
 * and returns the whole transfer's bytes per microsecond (0 at the sender).
 * The receiver starts the clock and the sender with a one-byte go. */
static inline double bench_tcp_stream(int fd, int receiver, size_t msg, size_t total, size_t chunk, double *t)
{
	static char buf[1 << 16];
	char go = 1;

	if (!receiver) {
		if (bench_full_io(fd, &go, 1, 0))
			bench_die("tcp stream", EPIPE);
		for (size_t done = 0; done < total; done += msg)
			if (bench_full_io(fd, buf, msg, 1))
				bench_die("tcp stream", errno ? errno : EPIPE);
		if (bench_full_io(fd, &go, 1, 0)) /* the receiver has it all */
			bench_die("tcp stream", EPIPE);
		return 0;
	}
	double t0 = bench_now_us(), tc = t0;
	size_t done = 0, next = chunk;
	int k = 0;

	if (bench_full_io(fd, &go, 1, 1))
		bench_die("tcp stream", errno);
	while (done < total) {
		ssize_t n = read(fd, buf, msg);
		if (n <= 0)
			bench_die("tcp stream", n < 0 ? errno : EPIPE);
		done += (size_t)n;
		if (done >= next) {
			double now = bench_now_us();
			t[k++] = now - tc;
			tc = now;
			next += chunk;
		}
	}
	double us = bench_now_us() - t0;
	if (bench_full_io(fd, &go, 1, 1))
		bench_die("tcp stream", errno);
	return (double)total / us;
}

/* ---- a TCP connection between two ranks of a dsm job -------------------- */

struct bench_rendezvous {
	char addr[64];
	volatile int port;
};

/* Collective: every rank calls it.  Returns a connected socket on ranks a
 * (listens) and b (connects), -1 elsewhere.  rv is in the shared region. */
static inline int bench_rank_pair(struct bench_rendezvous *rv, int a, int b)
{
	int fd = -1, lfd = -1, port;
	char addr[64];

	if (dsm_rank() == a) {
		lfd = bench_listen(&port, addr, sizeof(addr));
		snprintf(rv->addr, sizeof(rv->addr), "%s", addr);
		rv->port = port;
	}
	dsm_barrier();
	if (dsm_rank() == b)
		fd = bench_connect(rv->addr, rv->port);
	if (dsm_rank() == a) {
		fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			bench_die("accept", errno);
		bench_nodelay(fd);
		close(lfd);
	}
	dsm_barrier();
	return fd;
}

/* The fault backend the job runs with, as asked in the environment. */
static inline const char *bench_backend(void)
{
	const char *b = getenv("DSM_BACKEND");

	return b && *b ? b : "auto";
}

static inline void bench_shuffle(uint64_t *v, size_t n, uint64_t *seed)
{
	for (size_t i = n - 1; i > 0; i--) {
		*seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
		size_t j = (size_t)((*seed >> 33) % (i + 1));
		uint64_t x = v[i];
		v[i] = v[j];
		v[j] = x;
	}
}

#endif
