/*
 * trace.c - the event trace: see trace.h.
 *
 * Design.  Recording must cost next to nothing on the fault path, so a record
 * is a fixed 48-byte struct stored into a buffer that belongs to the
 * recording thread: no lock, no formatting, no system call.  When a thread's
 * buffer fills, that thread formats it into the rank's part file FILE.rankN
 * (under `file_lock`) and starts again, so memory stays bounded.  At
 * dsm_finalize, trace_fini() formats what is left in every thread's buffer,
 * names the processes ("rank N") and threads, and renames the part from
 * FILE.rankN.part to FILE.rankN: complete.  dsmexec joins the parts into FILE
 * when the job has ended (trace_merge), so no rank waits for another; a rank
 * that died leaves its .part, of which the whole lines are kept.  Started
 * some other way (srun, mpirun), rank 0 joins them at its dsm_finalize, once
 * every part is complete or after 10 s.
 *
 * The format is Chrome's Trace Event JSON: one process per rank (the OS pid,
 * named "rank N" and sorted by rank), one track per thread (the OS tid).  A
 * fault is an "X" span on the thread that faulted (the service thread
 * records it, with the thread id the fault backend reported); the owner's
 * serving of a page is a span on its service thread; flow events "s" (the
 * request), "t" (served) and "f" (installed), with the id
 * TRACE_FLOW_PAGE(requester, request id) that every rank can compute, draw
 * the arrows.  RPCs get the same: call -> serve -> reply.
 *
 * Clock.  Records keep CLOCK_MONOTONIC nanoseconds; the file has CLOCK_REALTIME
 * microseconds from the job's start (DSM_TRACE_EPOCH, which dsmexec sets for
 * every rank), converted with the difference of the two clocks taken once at
 * trace_init.  Ranks on one host therefore agree exactly, and ranks on several
 * hosts as well as their clocks do (NTP: usually to well under a millisecond).
 *
 * Locking: `file_lock` guards the part file, `bufs` (the list of every
 * thread's buffer) and `closed`.  A buffer's records belong to its thread;
 * the thread publishes its count `n` with a release store, so trace_fini
 * (another thread) reads only whole records, and a thread that finds its
 * buffer full flushes it under `file_lock`, where trace_fini also works.
 */
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "stats.h"

#define TRACE_CHUNK 4096 /* records per thread buffer: 192 KiB */

enum role { ROLE_APP, ROLE_SERVICE, ROLE_WORKER };

struct trec {
	int64_t t0, t1;
	uint64_t a, b, flow;
	int32_t tid;
	uint16_t kind;
	uint16_t pad;
};
_Static_assert(sizeof(struct trec) == 48, "a trace record is 48 bytes");

struct tbuf {
	struct tbuf *next;
	int tid;
	int role;
	unsigned n; /* records; the owner writes it (release), others read it (acquire) */
	struct trec rec[TRACE_CHUNK];
};

int trace_on;

static pthread_mutex_t file_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tbuf *bufs;
static int closed;
static FILE *part;
static char path[PATH_MAX], done_path[PATH_MAX + 32], part_path[PATH_MAX + 64];
static int my_rank, n_ranks, under_dsmexec;
static int64_t to_epoch; /* monotonic ns + to_epoch = ns since the job's epoch */
static uint64_t written;
/* thread ids seen in records, to name them all once */
static int *seen;
static size_t n_seen, cap_seen;

static __thread struct tbuf *my_buf __attribute__((tls_model("initial-exec")));
static __thread int my_tid __attribute__((tls_model("initial-exec")));

int trace_tid(void)
{
	if (!my_tid)
		my_tid = (int)syscall(SYS_gettid);
	return my_tid;
}

int64_t trace_clock(void)
{
	return trace_on ? obs_clock() : 0;
}

/* ---- formatting (under file_lock) ------------------------------------- */

static void note_tid(int tid)
{
	for (size_t i = 0; i < n_seen; i++)
		if (seen[i] == tid)
			return;
	if (n_seen == cap_seen) {
		size_t cap = cap_seen ? 2 * cap_seen : 64;
		int *v = realloc(seen, cap * sizeof(*v));
		if (!v)
			return;
		seen = v;
		cap_seen = cap;
	}
	seen[n_seen++] = tid;
}

/* Microseconds with nanosecond digits, from monotonic ns. */
static void put_ts(FILE *f, int64_t mono)
{
	int64_t ns = mono + to_epoch;
	const char *sign = "";

	if (ns < 0) {
		sign = "-";
		ns = -ns;
	}
	fprintf(f, "%s%" PRId64 ".%03d", sign, ns / 1000, (int)(ns % 1000));
}

static void put_flow(FILE *f, const char *ph, int pid, int tid, int64_t ts, uint64_t flow)
{
	const char *what = flow & (1ULL << 62) ? "rpc" : "page";

	fprintf(f, "{\"ph\":\"%s\",\"bp\":\"e\",\"cat\":\"%s\",\"name\":\"%s\",\"id\":\"0x%" PRIx64
		   "\",\"pid\":%d,\"tid\":%d,\"ts\":", ph, what, what, flow, pid, tid);
	put_ts(f, ts);
	fputs("},\n", f);
}

static void put_rec(FILE *f, const struct trec *r, int pid)
{
	static const char *const names[TR_KINDS] = {
		[TR_FAULT_READ] = "read fault", [TR_FAULT_WRITE] = "write fault",
		[TR_SERVE_READ] = "serve read", [TR_SERVE_WRITE] = "serve write",
		[TR_LOCK] = "lock", [TR_TRYLOCK] = "trylock", [TR_SEM] = "sem wait",
		[TR_BARRIER] = "barrier", [TR_RPC_CALL] = "rpc call", [TR_RPC_SERVE] = "rpc serve",
		[TR_RC_TWIN] = "rc twin", [TR_RC_DIFF] = "rc diff", [TR_RC_APPLY] = "rc apply",
		[TR_RC_NOTICE] = "rc notice", [TR_RC_HOME] = "rc home",
	};
	static const char *const cats[TR_KINDS] = {
		[TR_FAULT_READ] = "fault", [TR_FAULT_WRITE] = "fault", [TR_SERVE_READ] = "page",
		[TR_SERVE_WRITE] = "page", [TR_LOCK] = "sync", [TR_TRYLOCK] = "sync", [TR_SEM] = "sync",
		[TR_BARRIER] = "sync", [TR_RPC_CALL] = "rpc", [TR_RPC_SERVE] = "rpc",
		[TR_RC_TWIN] = "rc", [TR_RC_DIFF] = "rc", [TR_RC_APPLY] = "rc", [TR_RC_NOTICE] = "rc",
		[TR_RC_HOME] = "rc",
	};
	int64_t dur = r->t1 > r->t0 ? r->t1 - r->t0 : 0;

	if (r->kind == 0 || r->kind >= TR_KINDS)
		return;
	note_tid(r->tid);
	fprintf(f, "{\"ph\":\"X\",\"cat\":\"%s\",\"name\":\"%s\",\"pid\":%d,\"tid\":%d,\"ts\":", cats[r->kind],
		names[r->kind], pid, r->tid);
	put_ts(f, r->t0);
	fprintf(f, ",\"dur\":%" PRId64 ".%03d,\"args\":{", dur / 1000, (int)(dur % 1000));
	switch (r->kind) {
	case TR_FAULT_READ:
	case TR_FAULT_WRITE:
		fprintf(f, "\"page\":%" PRIu64 ",\"from\":%" PRIu64, r->a, r->b);
		break;
	case TR_SERVE_READ:
	case TR_SERVE_WRITE:
		fprintf(f, "\"page\":%" PRIu64 ",\"to\":%" PRIu64, r->a, r->b);
		break;
	case TR_LOCK:
	case TR_TRYLOCK:
		fprintf(f, "\"lock\":\"0x%" PRIx64 "\"", r->a);
		break;
	case TR_SEM:
		fprintf(f, "\"key\":\"0x%" PRIx64 "\"", r->a);
		break;
	case TR_RPC_CALL:
		fprintf(f, "\"rank\":%" PRIu64 ",\"fn\":%" PRIu64, r->a, r->b);
		break;
	case TR_RPC_SERVE:
		fprintf(f, "\"caller\":%" PRIu64 ",\"fn\":%" PRIu64, r->a, r->b);
		break;
	case TR_RC_TWIN:
		fprintf(f, "\"page\":%" PRIu64, r->a);
		break;
	case TR_RC_DIFF:
		fprintf(f, "\"page\":%" PRIu64 ",\"home\":%" PRIu64, r->a, r->b);
		break;
	case TR_RC_APPLY:
		fprintf(f, "\"page\":%" PRIu64 ",\"from\":%" PRIu64, r->a, r->b);
		break;
	case TR_RC_NOTICE:
		fprintf(f, "\"creator\":%" PRIu64 ",\"pages\":%" PRIu64, r->a, r->b);
		break;
	case TR_RC_HOME:
		fprintf(f, "\"page\":%" PRIu64 ",\"home\":%" PRIu64, r->a, r->b);
		break;
	}
	fputs("}},\n", f);
	written++;
	if (!r->flow)
		return;
	/* Flow steps bind to the span that encloses them: a nanosecond inside
	 * its ends, or its middle. */
	switch (r->kind) {
	case TR_FAULT_READ:
	case TR_FAULT_WRITE:
	case TR_RPC_CALL:
		put_flow(f, "s", pid, r->tid, dur >= 2 ? r->t0 + 1 : r->t0, r->flow);
		put_flow(f, "f", pid, r->tid, dur >= 2 ? r->t1 - 1 : r->t1, r->flow);
		break;
	default:
		put_flow(f, "t", pid, r->tid, r->t0 + dur / 2, r->flow);
	}
}

static void format_buf(struct tbuf *tb, unsigned n)
{
	int pid = (int)getpid();

	for (unsigned i = 0; i < n; i++)
		put_rec(part, &tb->rec[i], pid);
}

/* ---- recording -------------------------------------------------------- */

static struct tbuf *buf_new(int kind)
{
	struct tbuf *tb = calloc(1, sizeof(*tb));

	if (!tb)
		return NULL;
	tb->tid = trace_tid();
	tb->role = kind == TR_RPC_SERVE ? ROLE_WORKER :
		   (kind >= TR_FAULT_READ && kind <= TR_SERVE_WRITE) || kind >= TR_RC_TWIN ? ROLE_SERVICE :
											      ROLE_APP;
	pthread_mutex_lock(&file_lock);
	tb->next = bufs;
	bufs = tb;
	pthread_mutex_unlock(&file_lock);
	my_buf = tb;
	return tb;
}

/* The owner's buffer is full: write it out and start again. */
static int flush_own(struct tbuf *tb)
{
	int ok;

	pthread_mutex_lock(&file_lock);
	ok = !closed && part;
	if (ok) {
		format_buf(tb, tb->n);
		fflush(part);
		__atomic_store_n(&tb->n, 0, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&file_lock);
	return ok;
}

void trace_rec(enum trace_kind kind, int tid, int64_t t0, int64_t t1, uint64_t a, uint64_t b, uint64_t flow)
{
	struct tbuf *tb = my_buf;
	unsigned n;

	if (!trace_on || __atomic_load_n(&closed, __ATOMIC_RELAXED))
		return;
	if (!tb && !(tb = buf_new((int)kind)))
		return;
	n = tb->n;
	if (n == TRACE_CHUNK) {
		if (!flush_own(tb))
			return;
		n = 0;
	}
	tb->rec[n] = (struct trec){ .t0 = t0, .t1 = t1, .a = a, .b = b, .flow = flow,
				    .tid = tid ? tid : tb->tid, .kind = (uint16_t)kind };
	__atomic_store_n(&tb->n, n + 1, __ATOMIC_RELEASE);
}

/* ---- set-up ------------------------------------------------------------ */

int trace_init(int rank, int size)
{
	const char *v = getenv("DSM_TRACE"), *ep = getenv("DSM_TRACE_EPOCH"), *la = getenv("DSM_LAUNCHER");
	struct timespec rt, mt;
	int64_t epoch;
	int fd;

	trace_on = 0;
	if (!v || !*v)
		return 0;
	if (strlen(v) >= sizeof(path)) {
		log_err("DSM_TRACE: the path is longer than %zu bytes", sizeof(path) - 1);
		return -ENAMETOOLONG;
	}
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mt);
	epoch = (int64_t)rt.tv_sec * 1000000000 + rt.tv_nsec;
	if (ep && *ep) {
		char *end;
		errno = 0;
		epoch = strtoll(ep, &end, 10);
		if (errno || *end || epoch <= 0) {
			log_err("DSM_TRACE_EPOCH=%s: expected nanoseconds since 1970 (dsmexec sets it)", ep);
			return -EINVAL;
		}
	}
	to_epoch = ((int64_t)rt.tv_sec * 1000000000 + rt.tv_nsec) - ((int64_t)mt.tv_sec * 1000000000 + mt.tv_nsec) -
		   epoch;
	snprintf(path, sizeof(path), "%s", v);
	my_rank = rank;
	n_ranks = size;
	under_dsmexec = la && !strcmp(la, "dsmexec");
	snprintf(done_path, sizeof(done_path), "%s.rank%d", path, rank);
	snprintf(part_path, sizeof(part_path), "%s.part", done_path);
	unlink(done_path);
	fd = open(part_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0 || !(part = fdopen(fd, "w"))) {
		int err = errno;
		log_err("DSM_TRACE=%s: cannot create %s: %s", v, part_path, strerror(err));
		if (fd >= 0)
			close(fd);
		return -err;
	}
	setvbuf(part, NULL, _IOFBF, 1 << 20);
	pthread_mutex_lock(&file_lock);
	closed = 0;
	written = 0;
	n_seen = 0;
	for (struct tbuf *tb = bufs; tb; tb = tb->next)
		tb->n = 0;
	pthread_mutex_unlock(&file_lock);
	trace_on = 1;
	log_info("tracing into %s", part_path);
	return 0;
}

static const char *role_name(int role)
{
	return role == ROLE_SERVICE ? "service" : role == ROLE_WORKER ? "rpc worker" : NULL;
}

void trace_fini(void)
{
	int pid = (int)getpid();

	if (!trace_on)
		return;
	pthread_mutex_lock(&file_lock);
	__atomic_store_n(&closed, 1, __ATOMIC_RELAXED);
	for (struct tbuf *tb = bufs; tb; tb = tb->next)
		format_buf(tb, __atomic_load_n(&tb->n, __ATOMIC_ACQUIRE));
	fprintf(part, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%d,\"args\":{\"name\":\"rank %d\"}},\n", pid,
		my_rank);
	fprintf(part, "{\"ph\":\"M\",\"name\":\"process_sort_index\",\"pid\":%d,\"args\":{\"sort_index\":%d}},\n",
		pid, my_rank);
	/* Name every thread: the recording threads by role, the others by id. */
	for (struct tbuf *tb = bufs; tb; tb = tb->next)
		note_tid(tb->tid);
	for (size_t i = 0; i < n_seen; i++) {
		const char *name = seen[i] == pid ? "main" : NULL;
		int order = seen[i] == pid ? 0 : 1;

		for (struct tbuf *tb = bufs; tb && !name; tb = tb->next)
			if (tb->tid == seen[i] && (name = role_name(tb->role)))
				order = tb->role == ROLE_SERVICE ? 3 : 2;
		fprintf(part, "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":\"",
			pid, seen[i]);
		if (name)
			fputs(name, part);
		else
			fprintf(part, "thread %d", seen[i]);
		fputs("\"}},\n", part);
		fprintf(part, "{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":%d,\"tid\":%d,"
			      "\"args\":{\"sort_index\":%d}},\n", pid, seen[i], order);
	}
	/* Complete parts have their final name: whoever joins them knows. */
	if (fclose(part) != 0 || rename(part_path, done_path) != 0)
		log_err("DSM_TRACE: writing %s: %s", done_path, strerror(errno));
	part = NULL;
	pthread_mutex_unlock(&file_lock);
	log_info("trace: %" PRIu64 " events in %s", written, done_path);
	if (under_dsmexec || my_rank != 0)
		return;
	/* Without dsmexec (srun, mpirun, by hand) rank 0 joins the parts,
	 * waiting a little for the others to finish theirs: on one host or a
	 * shared file system they all arrive. */
	for (int i = 1, waited = 0; i < n_ranks && waited < 200; waited++) {
		snprintf(part_path, sizeof(part_path), "%s.rank%d", path, i);
		if (access(part_path, F_OK) == 0)
			i++;
		else
			usleep(50000);
	}
	trace_merge(path, n_ranks);
}

/* ---- joining the parts -------------------------------------------------- */

/* Copy a part (or, for a rank that never finished it, what it wrote). */
static int copy_part(FILE *out, const char *file)
{
	char unfinished[PATH_MAX + 40];
	FILE *in = fopen(file, "r");

	if (!in) {
		snprintf(unfinished, sizeof(unfinished), "%s.part", file);
		in = fopen(unfinished, "r");
		if (in)
			unlink(unfinished);
	}
	char buf[1 << 16];
	size_t n;
	long keep;

	if (!in)
		return -errno;
	/* A rank killed while it wrote may leave half a line: keep whole ones. */
	if (fseek(in, 0, SEEK_END) == 0 && (keep = ftell(in)) > 0) {
		while (keep > 0) {
			int c;
			fseek(in, keep - 1, SEEK_SET);
			c = fgetc(in);
			if (c == '\n')
				break;
			keep--;
		}
		rewind(in);
		while (keep > 0 && (n = fread(buf, 1, (size_t)keep < sizeof(buf) ? (size_t)keep : sizeof(buf), in)) > 0) {
			fwrite(buf, 1, n, out);
			keep -= (long)n;
		}
	}
	fclose(in);
	return 0;
}

int trace_merge(const char *file, int nranks)
{
	char tmp[PATH_MAX + 32], p[PATH_MAX + 32];
	FILE *out;
	int found = 0;

	for (int i = 0; i < nranks; i++) {
		snprintf(p, sizeof(p), "%s.rank%d", file, i);
		found += access(p, R_OK) == 0;
		snprintf(p, sizeof(p), "%s.rank%d.part", file, i);
		found += access(p, R_OK) == 0;
	}
	if (!found) {
		log_warn("trace: no rank wrote its part of %s (none reached dsm_finalize)", file);
		return 0;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	out = fopen(tmp, "w");
	if (!out) {
		int err = errno;
		log_err("trace: cannot create %s: %s", tmp, strerror(err));
		return -err;
	}
	setvbuf(out, NULL, _IOFBF, 1 << 20);
	fprintf(out, "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"producer\":\"dsm\",\"ranks\":%d},"
		     "\"traceEvents\":[\n", nranks);
	found = 0;
	for (int i = 0; i < nranks; i++) {
		snprintf(p, sizeof(p), "%s.rank%d", file, i);
		if (access(p, F_OK) != 0)
			log_warn("trace: rank %d did not reach dsm_finalize: its part of the trace is %s", i,
				 copy_part(out, p) == 0 ? "what it wrote before" : "missing");
		else if (copy_part(out, p) == 0)
			found++;
		unlink(p);
	}
	/* The last element needs no comma after it: the job's start. */
	fputs("{\"ph\":\"i\",\"s\":\"g\",\"name\":\"job start\",\"pid\":0,\"tid\":0,\"ts\":0}\n]}\n", out);
	if (fclose(out) != 0 || rename(tmp, file) != 0) {
		int err = errno;
		log_err("trace: writing %s: %s", file, strerror(err));
		unlink(tmp);
		return -err;
	}
	return found;
}
