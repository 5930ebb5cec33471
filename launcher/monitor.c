/*
 * monitor.c - dsmexec's side of observability: see monitor.h.
 *
 * Design.  The ranks write observation lines to their stderr (stats.h); the
 * event loop hands each stderr line to obs_take() before printing it.
 * Counters, hot pages and allocations go to a stats_job (stats.c), which
 * prints the end-of-job table; snapshots (S) also give per-rank rates, and
 * page maps (M) fill, per rank, the pages it holds writable and read-only in
 * each block of the region.
 *
 * The live view is a small HTTP/1.1 server on 127.0.0.1:PORT inside the event
 * loop: non-blocking sockets, one request per connection, at most
 * MAX_CONNS at once, each with a deadline, so a stuck browser never holds up
 * the job.  Idle clients cannot lock a browser out: a connection that has
 * sent nothing is dropped after IDLE_WAIT_NS, and when every slot is taken a
 * new connection pushes out the oldest one still waiting for its request
 * (those that sent nothing first).  (No per-address limit: the server
 * listens on 127.0.0.1 only, where every client has the same address.)  A
 * malformed request - a NUL byte, no GET - is answered 400 at once.
 *
 * "/" is a page whose script draws what "/data.json" says, with the
 * current data already in it (so it shows something at once, even to a
 * browser without a network round trip); the script asks again every half
 * second.  The JSON aggregates the map into at most MAP_CELLS cells over the
 * part of the region in use, whatever the region's size, so neither the
 * page nor the server slows down with a large region.
 *
 * Locking: none; the event loop's thread only.
 */
#include "monitor.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <sodium.h>

#include "launch_env.h"
#include "log.h"
#include "net.h"
#include "stats.h"
#include "trace.h"

#define MAX_CONNS (OBS_MAX_FDS - 1)
#define CONN_WAIT_NS (10LL * 1000000000) /* the whole exchange */
#define IDLE_WAIT_NS (2LL * 1000000000)  /* the first byte of the request */
#define REQ_MAX 8192
#define MAP_CELLS 1024
#define SNAP_MS 500
#define LINE_TAKE_MAX 8192 /* an observation line, token taken out */

struct rank_view {
	uint32_t *w, *r;      /* per block: pages held writable / read-only */
	uint32_t bp;          /* pages per block */
	size_t nb;
	uint64_t base;
	uint64_t prev[ST_COUNT];
	int64_t prev_t;
	double rate[4];       /* faults, pages in, pages out per second; MiB/s of page data in+out */
};

struct conn {
	int fd;
	char req[REQ_MAX];
	size_t rn;
	char *out;
	size_t on, off;
	int64_t since, deadline;
};

static struct {
	int n;
	int stats;
	char trace[PATH_MAX];
	int lfd, port;
	struct stats_job *job;
	struct rank_view *rv;
	struct conn c[MAX_CONNS];
	int running;
	int exit_code;
	char token[OBS_TOKEN_LEN + 1]; /* DSM_OBS_TOKEN: marks the library's lines */
	int64_t t0;
} M = { .lfd = -1 };

/* ---- a growing string -------------------------------------------------- */

struct sb {
	char *b;
	size_t n, cap;
	int err;
};

__attribute__((format(printf, 2, 3)))
static void sbf(struct sb *s, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (s->err)
		return;
	for (;;) {
		size_t room = s->cap - s->n;
		va_start(ap, fmt);
		k = vsnprintf(s->b ? s->b + s->n : NULL, s->b ? room : 0, fmt, ap);
		va_end(ap);
		if (k < 0) {
			s->err = 1;
			return;
		}
		if (s->b && (size_t)k < room) {
			s->n += (size_t)k;
			return;
		}
		size_t cap = s->cap ? s->cap * 2 : 16384;
		while (cap < s->n + (size_t)k + 1)
			cap *= 2;
		char *nb = realloc(s->b, cap);
		if (!nb) {
			s->err = 1;
			return;
		}
		s->b = nb;
		s->cap = cap;
	}
}

static void sbput(struct sb *s, const char *p, size_t n)
{
	sbf(s, "%.*s", (int)n, p);
}

/* ---- set-up -------------------------------------------------------------- */

static int absolute(const char *path, char *out, size_t cap)
{
	char cwd[PATH_MAX];

	if (path[0] == '/')
		return (size_t)snprintf(out, cap, "%s", path) < cap ? 0 : -1;
	if (!getcwd(cwd, sizeof(cwd)))
		return -1;
	return (size_t)snprintf(out, cap, "%s/%s", cwd, path) < cap ? 0 : -1;
}

static int listen_local(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

int obs_setup(int nranks, int stats, const char *trace, int port)
{
	const char *v;
	char buf[64];
	struct timespec ts;
	int on;

	M.n = nranks;
	M.t0 = now_ns();
	M.running = 1;
	for (int i = 0; i < MAX_CONNS; i++)
		M.c[i].fd = -1;
	{
		uint8_t r[OBS_TOKEN_LEN / 2];
		if (sodium_init() < 0)
			return -1;
		randombytes_buf(r, sizeof(r));
		for (size_t i = 0; i < sizeof(r); i++)
			snprintf(M.token + 2 * i, 3, "%02x", r[i]);
		if (setenv("DSM_OBS_TOKEN", M.token, 1) < 0)
			return -1;
	}
	if (setting_flag("DSM_STATS", 0, &on))
		return -1;
	M.stats = stats || on;
	if (stats && setenv("DSM_STATS", "1", 1) < 0)
		return -1;
	if (!trace && (v = getenv("DSM_TRACE")) && *v)
		trace = v;
	if (trace) {
		if (!*trace || absolute(trace, M.trace, sizeof(M.trace) - 32)) {
			log_err("--trace %s: expected a file name", trace);
			return -1;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(buf, sizeof(buf), "%lld", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
		if (setenv("DSM_TRACE", M.trace, 1) < 0 || setenv("DSM_TRACE_EPOCH", buf, 1) < 0)
			return -1;
	}
	if (port) {
		M.lfd = listen_local(port);
		if (M.lfd < 0) {
			log_err("--monitor %d: cannot listen on 127.0.0.1:%d: %s", port, port, strerror(-M.lfd));
			return -1;
		}
		M.port = port;
		snprintf(buf, sizeof(buf), "%d", SNAP_MS);
		if (setenv("DSM_MONITOR", buf, 1) < 0)
			return -1;
		log_info("live view at http://127.0.0.1:%d/", port);
	}
	if (M.stats || port) {
		M.job = stats_job_new(nranks);
		M.rv = calloc((size_t)nranks, sizeof(*M.rv));
		if (!M.job || !M.rv) {
			log_err("out of memory");
			return -1;
		}
	}
	return 0;
}

/* ---- lines from the ranks ------------------------------------------------- */

static void take_rates(int rank)
{
	struct rank_view *v = &M.rv[rank];
	const uint64_t *c = stats_job_counters(M.job, rank, NULL);
	int64_t now = now_ns();
	double dt;

	if (!c)
		return;
	dt = (double)(now - v->prev_t) / 1e9;
	if (v->prev_t && dt > 0.05) {
		v->rate[0] = (double)(c[ST_READ_FAULTS] + c[ST_WRITE_FAULTS] - v->prev[ST_READ_FAULTS] -
				      v->prev[ST_WRITE_FAULTS]) / dt;
		v->rate[1] = (double)(c[ST_PAGES_IN] - v->prev[ST_PAGES_IN]) / dt;
		v->rate[2] = (double)(c[ST_PAGES_OUT] - v->prev[ST_PAGES_OUT]) / dt;
		v->rate[3] = (double)(c[ST_PAGE_BYTES_IN] + c[ST_PAGE_BYTES_OUT] - v->prev[ST_PAGE_BYTES_IN] -
				      v->prev[ST_PAGE_BYTES_OUT]) / dt / 1048576.0;
	}
	if (!v->prev_t || dt > 0.05) {
		memcpy(v->prev, c, sizeof(v->prev));
		v->prev_t = now;
	}
}

static int num(const char *s, const char *e, uint64_t *out, int base)
{
	char b[32], *end;

	if (e - s <= 0 || e - s >= (long)sizeof(b))
		return -1;
	memcpy(b, s, (size_t)(e - s));
	b[e - s] = '\0';
	errno = 0;
	*out = strtoull(b, &end, base);
	return errno || *end ? -1 : 0;
}

/* The next space-separated token of [*s, e). */
static int token(const char **s, const char *e, const char **t0, const char **t1)
{
	const char *p = *s;

	while (p < e && *p == ' ')
		p++;
	*t0 = p;
	while (p < e && *p != ' ')
		p++;
	*t1 = *s = p;
	return *t1 > *t0;
}

/* "M r=R base=0x.. bp=B nb=N first=F START+LEN=W/R ..." */
static void map_line(int rank, const char *p, size_t n)
{
	struct rank_view *v = &M.rv[rank];
	const char *e = p + n, *s = p + OBS_MAGIC_LEN + 1, *t0, *t1;
	uint64_t bp = 0, nb = 0, first = 0, base = 0;

	while (token(&s, e, &t0, &t1)) {
		const char *eq = memchr(t0, '=', (size_t)(t1 - t0));
		if (!eq || memchr(t0, '+', (size_t)(eq - t0)))
			continue;
		if (eq - t0 == 2 && !memcmp(t0, "bp", 2))
			num(eq + 1, t1, &bp, 10);
		else if (eq - t0 == 2 && !memcmp(t0, "nb", 2))
			num(eq + 1, t1, &nb, 10);
		else if (eq - t0 == 5 && !memcmp(t0, "first", 5))
			num(eq + 1, t1, &first, 10);
		else if (eq - t0 == 4 && !memcmp(t0, "base", 4) && t1 - eq > 3)
			num(eq + 3, t1, &base, 16);
	}
	if (!bp || !nb || nb > 65536)
		return;
	if (first) {
		if (!v->w || v->nb != nb) {
			free(v->w);
			free(v->r);
			v->w = calloc(nb, sizeof(*v->w));
			v->r = calloc(nb, sizeof(*v->r));
			if (!v->w || !v->r) {
				free(v->w);
				free(v->r);
				v->w = v->r = NULL;
				return;
			}
			v->nb = nb;
		}
		memset(v->w, 0, nb * sizeof(*v->w));
		memset(v->r, 0, nb * sizeof(*v->r));
		v->bp = (uint32_t)bp;
		v->base = base;
	}
	if (!v->w || v->nb != nb)
		return;
	s = p + OBS_MAGIC_LEN + 1;
	while (token(&s, e, &t0, &t1)) {
		const char *plus = memchr(t0, '+', (size_t)(t1 - t0)), *eq, *sl;
		uint64_t b0, len, w, r;

		if (!plus || !(eq = memchr(plus, '=', (size_t)(t1 - plus))) || !(sl = memchr(eq, '/', (size_t)(t1 - eq))))
			continue;
		if (num(t0, plus, &b0, 10) || num(plus + 1, eq, &len, 10) || num(eq + 1, sl, &w, 10) ||
		    num(sl + 1, t1, &r, 10) || b0 > v->nb || len > v->nb - b0)
			return;
		for (uint64_t b = b0; b < b0 + len; b++) {
			v->w[b] = (uint32_t)w;
			v->r[b] = (uint32_t)r;
		}
	}
}

size_t obs_take(int rank, const char *p, size_t n)
{
	const char *m;
	size_t off;

	if (n < OBS_MAGIC_LEN + 1)
		return n;
	m = memmem(p, n, OBS_MAGIC, OBS_MAGIC_LEN);
	if (!m)
		return n;
	off = (size_t)(m - p);
	p += off;
	n -= off;
	/* Only the library's lines: "\036DSM1 K t=TOKEN r=RANK ..." with this
	 * job's token and the rank whose stderr carried it.  Anything else is
	 * the program's output and printed as such. */
	{
		const size_t k = OBS_MAGIC_LEN + 1, rest = k + 3 + OBS_TOKEN_LEN;
		char line[LINE_TAKE_MAX], rpref[24];
		int rl = snprintf(rpref, sizeof(rpref), " r=%d", rank);

		if (!M.token[0] || n < rest + (size_t)rl || n - rest + k > sizeof(line) ||
		    memcmp(p + k, " t=", 3) || memcmp(p + k + 3, M.token, OBS_TOKEN_LEN) ||
		    memcmp(p + rest, rpref, (size_t)rl) || (p[rest + (size_t)rl] != ' ' && rest + (size_t)rl != n)) {
			log_debug("rank %d: a line that looks like an observation but is not this job's: printed", rank);
			return n + off;
		}
		memcpy(line, p, k);
		memcpy(line + k, p + rest, n - rest);
		p = line;
		n = n - rest + k;
		if (M.job && rank >= 0 && rank < M.n) {
			char kind = p[OBS_MAGIC_LEN];
			if (kind == 'M')
				map_line(rank, p, n);
			else if (stats_job_line(M.job, rank, p, n))
				log_debug("rank %d: an observation line that does not parse", rank);
			if (kind == 'S' || kind == 'C')
				take_rates(rank);
		}
	}
	return off;
}

/* ---- the data ------------------------------------------------------------ */

static void json_counters(struct sb *s, const uint64_t *v)
{
	sbf(s, "[");
	for (int i = 0; i < ST_COUNT; i++)
		sbf(s, "%s%" PRIu64, i ? "," : "", v ? v[i] : 0);
	sbf(s, "]");
}

static void json_map(struct sb *s)
{
	size_t nb = 0, lo = SIZE_MAX, hi = 0, per, ncell;
	uint32_t bp = 0;
	uint64_t base = 0;
	uint64_t *W, *R;

	for (int r = 0; r < M.n; r++) {
		struct rank_view *v = &M.rv[r];
		if (!v->w)
			continue;
		if (!nb) {
			nb = v->nb;
			bp = v->bp;
			base = v->base;
		}
		if (v->nb != nb)
			continue;
		for (size_t b = 0; b < nb; b++)
			if (v->w[b] || v->r[b]) {
				if (b < lo)
					lo = b;
				if (b > hi)
					hi = b;
			}
	}
	if (!nb || lo == SIZE_MAX) {
		sbf(s, "\"map\":{\"cells\":[]}");
		return;
	}
	per = (hi - lo + 1 + MAP_CELLS - 1) / MAP_CELLS;
	ncell = (hi - lo + 1 + per - 1) / per;
	W = calloc((size_t)M.n, sizeof(*W));
	R = calloc((size_t)M.n, sizeof(*R));
	if (!W || !R) {
		free(W);
		free(R);
		sbf(s, "\"map\":{\"cells\":[]}");
		return;
	}
	sbf(s, "\"map\":{\"base\":\"0x%" PRIx64 "\",\"page_size\":4096,\"first_page\":%zu,\"pages_per_cell\":%zu,"
	       "\"cells\":[", base, lo * bp, per * bp);
	for (size_t c = 0; c < ncell; c++) {
		size_t b0 = lo + c * per, b1 = b0 + per;
		uint64_t sw = 0, sr = 0, maxr = 0, best = 0;
		int owner = -1, state = 0;

		if (b1 > nb)
			b1 = nb;
		memset(W, 0, (size_t)M.n * sizeof(*W));
		memset(R, 0, (size_t)M.n * sizeof(*R));
		for (int r = 0; r < M.n; r++) {
			struct rank_view *v = &M.rv[r];
			if (!v->w || v->nb != nb)
				continue;
			for (size_t b = b0; b < b1; b++) {
				W[r] += v->w[b];
				R[r] += v->r[b];
			}
			sw += W[r];
			sr += R[r];
			if (R[r] > maxr)
				maxr = R[r];
		}
		for (int r = 0; r < M.n; r++)
			if (sw ? W[r] > best : R[r] > best) {
				best = sw ? W[r] : R[r];
				owner = r;
			}
		if (sw) {
			state = 2;
			for (int r = 0; r < M.n; r++)
				if (r != owner && (R[r] || W[r]))
					state = 3;
		} else if (sr) {
			state = 1;
		}
		{
			uint64_t pages = (uint64_t)(b1 - b0) * bp, used = sw + maxr;
			unsigned fill = pages ? (unsigned)((used > pages ? pages : used) * 100 / pages) : 0;
			sbf(s, "%s[%d,%d,%u,%" PRIu64 ",%" PRIu64 "]", c ? "," : "", owner, state, fill, sw, sr);
		}
	}
	sbf(s, "]}");
	free(W);
	free(R);
}

static void json_data(struct sb *s)
{
	uint64_t tot[ST_COUNT] = { 0 };

	sbf(s, "{\"ranks\":%d,\"running\":%s,\"exit\":%d,\"elapsed\":%.1f,\"port\":%d,\"names\":[", M.n,
	    M.running ? "true" : "false", M.running ? -1 : M.exit_code, (double)(now_ns() - M.t0) / 1e9, M.port);
	for (int i = 0; i < ST_COUNT; i++)
		sbf(s, "%s\"%s\"", i ? "," : "", stats_names[i]);
	sbf(s, "],\"rank\":[");
	for (int r = 0; r < M.n; r++) {
		int fin = 0;
		const uint64_t *v = stats_job_counters(M.job, r, &fin);
		struct rank_view *rv = &M.rv[r];
		if (v)
			for (int i = 0; i < ST_COUNT; i++)
				tot[i] += v[i];
		sbf(s, "%s{\"r\":%d,\"have\":%s,\"final\":%s,\"v\":", r ? "," : "", r, v ? "true" : "false",
		    fin ? "true" : "false");
		json_counters(s, v);
		sbf(s, ",\"rate\":[%.1f,%.1f,%.1f,%.2f]}", rv->rate[0], rv->rate[1], rv->rate[2], rv->rate[3]);
	}
	sbf(s, "],\"total\":");
	json_counters(s, tot);
	sbf(s, ",");
	json_map(s);
	sbf(s, "}");
}

/* The page: the data goes where the script says DATA. */
static const char page_head[] =
	"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>dsm live view</title>\n"
	"<style>\n"
	"body{font:14px/1.4 system-ui,sans-serif;margin:16px 24px;color:#222;background:#fafafa}\n"
	"h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;margin:18px 0 6px}\n"
	".sub{color:#555}table{border-collapse:collapse;font:12px/1.5 ui-monospace,monospace}\n"
	"td,th{padding:1px 8px;text-align:right;border-bottom:1px solid #e4e4e4;white-space:nowrap}th{background:#eee}\n"
	"tr.total td{font-weight:bold;border-top:2px solid #999}\n"
	".bar{display:inline-block;height:10px;vertical-align:middle;margin-right:6px}\n"
	"#map{border:1px solid #ccc;background:#fff;image-rendering:pixelated}\n"
	".key{display:inline-block;width:12px;height:12px;vertical-align:middle;margin:0 4px 0 12px;border:1px solid #999}\n"
	"#tip{font:12px ui-monospace,monospace;color:#333;min-height:1.4em}#legend span.it{white-space:nowrap}\n"
	".wrap{display:flex;gap:40px;align-items:flex-start}\n"
	"</style></head><body>\n"
	"<h1>dsm live view</h1>\n"
	"<div class=\"sub\"><span id=\"nranks\">?</span> ranks &middot; <span id=\"state\">?</span> &middot; "
	"<span id=\"elapsed\">0</span> s &middot; <span id=\"totfaults\">0</span> faults, "
	"<span id=\"totpages\">0</span> pages moved &middot; updated <span id=\"polls\">0</span> times</div>\n"
	"<div class=\"wrap\"><div>\n"
	"<h2>Pages of the region in use, coloured by owner</h2>\n"
	"<canvas id=\"map\" width=\"420\" height=\"420\"></canvas>\n"
	"<div id=\"tip\"></div><div id=\"legend\"></div><div class=\"sub\" id=\"mapinfo\"></div>\n"
	"</div><div>\n"
	"<h2>Transfer rates</h2><table id=\"rates\"></table>\n"
	"</div></div>\n"
	"<h2>Counters <span class=\"sub\">(times are waits in ms, summed over threads)</span></h2>"
	"<table id=\"counters\"></table>\n"
	"<script>\n"
	"const DATA = ";

static const char page_tail[] =
	";\n"
	"const COLS=['read_faults','write_faults','pages_in','pages_out','page_bytes_in','page_bytes_out',"
	"'inv_sent','inv_received','fault_ns','lock_ns','barrier_ns','sem_ns','rpc_calls','rpc_ns',"
	"'twins','diffs_sent','diffs_applied','notices_applied'];\n"
	"const HEAD={read_faults:'rd-flt',write_faults:'wr-flt',pages_in:'pg-in',pages_out:'pg-out',"
	"page_bytes_in:'MiB-in',page_bytes_out:'MiB-out',inv_sent:'inv-sent',inv_received:'inv-recv',"
	"fault_ns:'fault-ms',lock_ns:'lock-ms',barrier_ns:'barr-ms',sem_ns:'sem-ms',rpc_calls:'rpcs',rpc_ns:'rpc-ms',"
	"twins:'rc-twins',diffs_sent:'rc-diffs',diffs_applied:'rc-applied',notices_applied:'rc-notices'};\n"
	"function hue(r,n){return (r*137.508)%360;}\n"
	"function colour(r,st,n){if(r<0||st==0)return '#f0f0f0';const h=hue(r,n);"
	"const l=st==1?78:st==3?34:46;const s=st==1?55:70;return 'hsl('+h+','+s+'%,'+l+'%)';}\n"
	"function fmt(name,x){if(name.endsWith('_ns'))return (x/1e6).toFixed(1);"
	"if(name.startsWith('page_bytes'))return (x/1048576).toFixed(1);return String(x);}\n"
	"function el(id){return document.getElementById(id);}\n"
	"let last=null,polls=0;\n"
	"function render(d){last=d;const n=d.ranks;const idx={};d.names.forEach((k,i)=>idx[k]=i);\n"
	" el('nranks').textContent=n;el('polls').textContent=polls;el('elapsed').textContent=d.elapsed.toFixed(1);\n"
	" el('state').textContent=d.running?'running':'ended (exit '+d.exit+')';\n"
	" el('totfaults').textContent=d.total[idx.read_faults]+d.total[idx.write_faults];\n"
	" el('totpages').textContent=d.total[idx.pages_in];\n"
	" let h='<tr><th>rank</th>'+COLS.map(c=>'<th>'+HEAD[c]+'</th>').join('')+'</tr>';\n"
	" d.rank.forEach(x=>{h+='<tr><td>'+x.r+(x.final?'':'')+'</td>'+COLS.map(c=>'<td id=\"c-'+x.r+'-'+c+'\">'+"
	"(x.have?fmt(c,x.v[idx[c]]):'&ndash;')+'</td>').join('')+'</tr>';});\n"
	" h+='<tr class=\"total\"><td>total</td>'+COLS.map(c=>'<td id=\"total-'+c+'\">'+fmt(c,d.total[idx[c]])+'</td>').join('')+'</tr>';\n"
	" el('counters').innerHTML=h;\n"
	" let mx=1;d.rank.forEach(x=>{mx=Math.max(mx,x.rate[1],x.rate[2]);});\n"
	" let t='<tr><th>rank</th><th>faults/s</th><th>pages in/s</th><th>pages out/s</th><th>MiB/s</th></tr>';\n"
	" d.rank.forEach(x=>{const c='hsl('+hue(x.r,n)+',70%,46%)';t+='<tr><td>'+x.r+'</td><td id=\"rate-'+x.r+'-faults\">'"
	"+x.rate[0].toFixed(0)+'</td><td style=\"text-align:left\"><span class=\"bar\" style=\"background:'+c+';width:'"
	"+Math.round(100*x.rate[1]/mx)+'px\"></span>'+x.rate[1].toFixed(0)+'</td><td style=\"text-align:left\">"
	"<span class=\"bar\" style=\"background:'+c+';opacity:.5;width:'+Math.round(100*x.rate[2]/mx)+'px\"></span>'"
	"+x.rate[2].toFixed(0)+'</td><td>'+x.rate[3].toFixed(2)+'</td></tr>';});\n"
	" el('rates').innerHTML=t;\n"
	" const it=(c,t)=>'<span class=\"it\"><span class=\"key\" style=\"background:'+c+'\"></span>'+t+'</span> ';\n"
	" let lg='';for(let r=0;r<n;r++)lg+=it(colour(r,2,n),'rank '+r);\n"
	" lg+='<br>'+it(colour(0,2,n),'writable at one rank')+it(colour(0,1,n),'read copies only')"
	"+it(colour(0,3,n),'writable, other ranks hold some too')+it('#f0f0f0','unused')"
	"+'<br>a cell\\'s bar is as tall as the share of its pages in use';\n"
	" el('legend').innerHTML=lg;drawMap(d);}\n"
	"function drawMap(d){const cv=el('map'),g=cv.getContext('2d');const m=d.map,cells=m.cells;\n"
	" g.clearRect(0,0,cv.width,cv.height);\n"
	" if(!cells.length){el('mapinfo').textContent='no pages in use yet';return;}\n"
	" const cols=Math.max(1,Math.ceil(Math.sqrt(cells.length))),sz=Math.max(1,Math.floor(cv.width/cols));\n"
	" const in_=sz>3?sz-1:sz;cells.forEach((c,i)=>{const x=(i%cols)*sz,y=Math.floor(i/cols)*sz;"
	"g.fillStyle='#f0f0f0';g.fillRect(x,y,in_,in_);if(c[1]==0)return;"
	"const hgt=Math.max(Math.ceil(in_*0.2),Math.round(in_*c[2]/100));"
	"g.fillStyle=colour(c[0],c[1],d.ranks);g.fillRect(x,y+in_-hgt,in_,hgt);});\n"
	" el('mapinfo').innerHTML='<span id=\"cells\">'+cells.length+'</span> cells of '+m.pages_per_cell+' pages, from '"
	"+m.base+' + page '+m.first_page;}\n"
	"el('map').addEventListener('mousemove',ev=>{if(!last||!last.map.cells.length)return;const m=last.map;"
	"const cols=Math.max(1,Math.ceil(Math.sqrt(m.cells.length))),sz=Math.max(1,Math.floor(el('map').width/cols));"
	"const i=Math.floor(ev.offsetY/sz)*cols+Math.floor(ev.offsetX/sz);const c=m.cells[i];if(!c){el('tip').textContent='';return;}"
	"const p=m.first_page+i*m.pages_per_cell;const st=['unused','read copies','writable','writable + copies'][c[1]];"
	"el('tip').textContent='pages '+p+'-'+(p+m.pages_per_cell-1)+': '+(c[0]<0?'':'rank '+c[0]+', ')+st+', '+c[3]+' writable, '+c[4]+' read-only';});\n"
	"render(DATA);\n"
	"setInterval(()=>{fetch('/data.json',{cache:'no-store'}).then(r=>r.json()).then(d=>{polls++;render(d);})"
	".catch(()=>{el('state').textContent=last&&!last.running?el('state').textContent:'job over (dsmexec has exited)';});},500);\n"
	"</script></body></html>\n";

/* ---- HTTP --------------------------------------------------------------- */

static void conn_close(struct conn *c)
{
	close(c->fd);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void respond(struct conn *c, int code, const char *type, const char *body, size_t len)
{
	struct sb s = { 0 };

	sbf(&s, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
		"Connection: close\r\n\r\n", code, code == 200 ? "OK" : code == 404 ? "Not Found" : "Bad Request",
	    type, len);
	sbput(&s, body, len);
	if (s.err) {
		free(s.b);
		conn_close(c);
		return;
	}
	c->out = s.b;
	c->on = s.n;
	c->off = 0;
}

static void serve(struct conn *c)
{
	char method[8], path[256];
	struct sb body = { 0 };

	if (sscanf(c->req, "%7s %255s", method, path) != 2 || strcmp(method, "GET")) {
		respond(c, 400, "text/plain", "GET only\n", 9);
		return;
	}
	path[strcspn(path, "?#")] = '\0';
	log_debug("live view: GET %s", path);
	if (!strcmp(path, "/") || !strcmp(path, "/index.html")) {
		sbput(&body, page_head, sizeof(page_head) - 1);
		json_data(&body);
		sbput(&body, page_tail, sizeof(page_tail) - 1);
		if (!body.err)
			respond(c, 200, "text/html; charset=utf-8", body.b, body.n);
	} else if (!strcmp(path, "/data.json")) {
		json_data(&body);
		if (!body.err)
			respond(c, 200, "application/json", body.b, body.n);
	} else {
		respond(c, 404, "text/plain", "not found\n", 10);
	}
	if (body.err)
		conn_close(c);
	free(body.b);
}

static void on_readable(struct conn *c)
{
	ssize_t k = read(c->fd, c->req + c->rn, sizeof(c->req) - 1 - c->rn);

	if (k < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (k <= 0) {
		conn_close(c);
		return;
	}
	if (memchr(c->req + c->rn, '\0', (size_t)k)) {
		respond(c, 400, "text/plain", "NUL byte in the request\n", 24);
		return;
	}
	c->rn += (size_t)k;
	c->req[c->rn] = '\0';
	c->deadline = c->since + CONN_WAIT_NS; /* it spoke: the longer deadline */
	if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n"))
		serve(c);
	else if (c->rn == sizeof(c->req) - 1)
		respond(c, 400, "text/plain", "request too long\n", 17);
}

static void on_writable(struct conn *c)
{
	while (c->off < c->on) {
		ssize_t k = send(c->fd, c->out + c->off, c->on - c->off, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN)
			return;
		if (k <= 0)
			break;
		c->off += (size_t)k;
	}
	conn_close(c);
}

static void on_accept(void)
{
	for (;;) {
		int fd = accept4(M.lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct conn *c = NULL;

		if (fd < 0)
			return;
		for (int i = 0; i < MAX_CONNS && !c; i++)
			if (M.c[i].fd < 0)
				c = &M.c[i];
		if (!c) {
			/* full: push out the oldest that is still to send its
			 * request, a silent one first */
			for (int i = 0; i < MAX_CONNS; i++) {
				struct conn *o = &M.c[i];
				if (o->out)
					continue;
				if (!c || (o->rn == 0) > (c->rn == 0) ||
				    ((o->rn == 0) == (c->rn == 0) && o->since < c->since))
					c = o;
			}
			if (!c) {
				close(fd); /* every slot is sending an answer: the browser asks again */
				continue;
			}
			log_debug("live view: a new connection pushes out one idle for %.1f s",
				  (double)(now_ns() - c->since) / 1e9);
			conn_close(c);
		}
		c->fd = fd;
		c->rn = 0;
		c->since = now_ns();
		c->deadline = c->since + IDLE_WAIT_NS;
	}
}

int obs_pollfds(struct pollfd *p, int max)
{
	int k = 0;

	if (M.lfd < 0)
		return 0;
	if (k < max)
		p[k++] = (struct pollfd){ .fd = M.lfd, .events = POLLIN };
	for (int i = 0; i < MAX_CONNS && k < max; i++)
		if (M.c[i].fd >= 0)
			p[k++] = (struct pollfd){ .fd = M.c[i].fd, .events = M.c[i].out ? POLLOUT : POLLIN };
	return k;
}

void obs_poll(const struct pollfd *p, int n)
{
	int64_t now = now_ns();

	for (int k = 0; k < n; k++) {
		if (!p[k].revents)
			continue;
		if (p[k].fd == M.lfd) {
			on_accept();
			continue;
		}
		for (int i = 0; i < MAX_CONNS; i++) {
			struct conn *c = &M.c[i];
			if (c->fd != p[k].fd)
				continue;
			if (c->out)
				on_writable(c);
			else
				on_readable(c);
			if (c->fd >= 0 && c->out && c->off == 0)
				on_writable(c); /* usually it all goes at once */
			break;
		}
	}
	for (int i = 0; i < MAX_CONNS; i++)
		if (M.c[i].fd >= 0 && now > M.c[i].deadline)
			conn_close(&M.c[i]);
}

int obs_timeout_ms(void)
{
	for (int i = 0; i < MAX_CONNS; i++)
		if (M.c[i].fd >= 0)
			return 1000; /* to notice a connection's deadline */
	return -1;
}

/* ---- the end --------------------------------------------------------------- */

void obs_finish(int exit_code, double elapsed_s)
{
	M.running = 0;
	M.exit_code = exit_code;
	if (M.stats && M.job)
		stats_job_report(M.job, STDERR_FILENO, elapsed_s);
	if (M.trace[0]) {
		int found = trace_merge(M.trace, M.n);
		if (found >= 0)
			log_info("trace of %d rank%s in %s", found, found == 1 ? "" : "s", M.trace);
	}
	for (int i = 0; i < MAX_CONNS; i++)
		if (M.c[i].fd >= 0)
			conn_close(&M.c[i]);
	if (M.lfd >= 0)
		close(M.lfd);
	M.lfd = -1;
	for (int r = 0; M.rv && r < M.n; r++) {
		free(M.rv[r].w);
		free(M.rv[r].r);
	}
	free(M.rv);
	M.rv = NULL;
	stats_job_free(M.job);
	M.job = NULL;
}
