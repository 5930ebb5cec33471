/*
 * dsmexec - start a dsm job of N ranks, gather its output, return its status.
 *
 * Design: one thread runs an event loop over poll(2); the rendezvous server
 * (rendezvous.c) runs in a second thread.  dsmexec makes the job's secret and
 * id, listens for control connections, starts the rendezvous server, then
 * starts one dsmwrap per rank: local ranks by fork+exec, remote ones through
 * ssh.  Each dsmwrap reads the credentials from its stdin, connects back and
 * authenticates; dsmexec sends it SETUP and it answers READY or FAIL (ctl.h).
 * Only when every rank is READY does dsmexec send GO, so bad input fails
 * before any program starts.
 *
 * Per rank the loop watches the control connection, the stdout and stderr of
 * the dsmwrap (or ssh) process, and the process itself (SIGCHLD through a
 * signalfd).  Output is cut into lines; each line goes out with its rank
 * prefix in one write(2).  Before GO a rank's output is held back: if the rank
 * fails to start, its stderr (ssh's error, say) becomes part of the message.
 *
 * Ending: the first rank that fails (non-zero status, signal, lost wrapper),
 * the --timeout, or a start failure ends the job: SIGTERM to every running
 * rank, SIGKILL after the grace period, then the control connections are cut
 * and the local dsmwrap/ssh processes killed.  A dsmwrap whose connection
 * drops ends its program itself, so nothing survives on any host.  SIGINT,
 * SIGTERM and SIGHUP are forwarded to every rank; a second one kills the job.
 *
 * Exit status: 0 when every rank exits 0; else the first failing rank's status
 * (128+n for signal n), 124 for --timeout, 126/127 for a program that is not
 * executable / not found, 255 for a launch failure, 2 for bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dsm.h>

#include "ctl.h"
#include "launch_env.h"
#include "log.h"
#include "machinefile.h"
#include "monitor.h"
#include "net.h"
#include "rendezvous.h"
#include "wire.h"

#define EXIT_USAGE    2
#define EXIT_TIMEOUT  124
#define EXIT_LAUNCH   255

#define STREAM_CAP    65536            /* longest line; longer ones are split */
/* ssh sessions being set up at once, per host and in all: sshd's default
 * MaxStartups starts refusing beyond 10 unauthenticated connections. */
#define MAX_CONNECTING_HOST 8
#define MAX_CONNECTING      64
#define CUT_WAIT_NS   (2LL * 1000000000) /* after SIGKILL, before cutting links */
#define REAP_WAIT_NS  (3LL * 1000000000) /* after cutting, before giving up */
#define MSG_WAIT_NS   (5LL * 1000000000) /* rest of a message once it started */
#define DRAIN_WAIT_NS (5LL * 1000000000) /* output and exit after the last EXITED */

extern char **environ;

enum rank_state { RS_PENDING, RS_SPAWNED, RS_CONNECTED, RS_READY, RS_RUNNING };

enum fail_kind {
	F_NONE,
	F_START_FAIL,    /* dsmwrap sent FAIL */
	F_START_DIED,    /* dsmwrap or ssh ended before READY */
	F_START_TIMEOUT, /* no READY within --start-timeout */
	F_EXIT,          /* the program exited with a non-zero status */
	F_SIGNAL,        /* the program was killed by a signal */
	F_LOST,          /* the control connection dropped without EXITED */
	F_TIMEOUT,       /* --timeout */
	F_INTERRUPT,     /* a signal to dsmexec before the job started */
};

struct stream {
	int fd;              /* read end of the pipe; -1 at EOF */
	int file;            /* --output-dir file, or -1 */
	char *buf;           /* partial line, or everything before GO */
	size_t len;
};

struct rank {
	int id;
	const char *host;    /* as in the machinefile: the ssh target */
	int local;
	int local_rank, local_size;
	enum rank_state state;
	pid_t pid;           /* dsmwrap or ssh; 0 once reaped */
	int wstatus;
	int in_fd;           /* its stdin: the preamble, then kept open */
	int ctl;             /* control connection, -1 when closed */
	int connected;       /* the control connection was made once */
	int emit;            /* output goes out (GO sent, or the job is over) */
	int done;            /* EXITED received */
	int connecting;      /* remote, started, not yet connected */
	int sent_fail;       /* FAIL received */
	int64_t lost_at;     /* process gone, connection open: deadline */
	struct stream s[2];  /* stdout, stderr */
};

static struct {
	/* options */
	int n;
	const char *mfile;
	int mfile_positional;
	const char *outdir;
	int prefix;
	double timeout_s, grace_s, start_s;
	const char *ssh;
	const char *wrap_remote;
	const char *address;
	int serve;             /* --serve N, or -1 */
	int stats;             /* --stats */
	const char *trace;     /* --trace FILE */
	int monitor;           /* --monitor PORT, or 0 */
	int retries;           /* --retries N */
	const char *ckpt_dir;  /* --checkpoint DIR */
	char **argv;
	int argc;

	/* derived */
	struct machinefile mf;
	struct mf_rank *place;
	char cwd[PATH_MAX];
	char *program;
	char wrap_local[PATH_MAX];
	char *ssh_cmd;          /* the words below point into it */
	char **ssh_words;
	int nssh;
	char **env;
	int envc;
	int all_local;
	char hostname[256];

	struct job_auth auth;
	int lfd, ctl_port, rdv_port;
	struct rdv_server *rdv;
	int sfd;
	sigset_t oldmask;

	struct rank *r;
	int nconnecting, nready;
	int *host_connecting;  /* per machinefile line (group): ssh sessions starting */
	int running;          /* GO sent */
	int ending;           /* the job is being ended */
	int nsignals;
	int64_t t0, start_deadline, timeout_at, term_at, kill_at, cut_at, give_up_at, drain_at;
	int64_t forwarded_at; /* last signal forwarded to the ranks */

	enum fail_kind fail;
	int fail_rank, fail_code;
	char fail_text[CTL_TEXT_MAX + 64];
	int out_broken[3];
	char line[STREAM_CAP + 64];
} J = { .serve = -1, .prefix = 1, .grace_s = 3, .start_s = 60, .lfd = -1, .sfd = -1, .fail_rank = -1 };

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dsmexec [options] program [args...]\n"
		"       dsmexec [options] -f FILE program [args...]\n"
		"       dsmexec [options] machinefile program [args...]\n"
		"Start a dsm job: N ranks of program, locally or on the hosts of a machinefile.\n"
		"\n"
		"  -n, --np N             number of ranks (default: one per machinefile slot,\n"
		"                         or the number of cores when there is no machinefile)\n"
		"  -f, --machinefile FILE hosts to run on: lines 'host', 'host slots=K' or\n"
		"                         'host:K'; this machine's names and loopback\n"
		"                         addresses start locally, without ssh\n"
		"  -o, --output-dir DIR   also write DIR/rank.N.out and DIR/rank.N.err\n"
		"      --no-prefix        do not prefix output lines with '[rank] '\n"
		"  -t, --timeout SECONDS  end the job after this long (exit status 124)\n"
		"      --grace SECONDS    between SIGTERM and SIGKILL when ending ranks (default 3)\n"
		"      --start-timeout SECONDS\n"
		"                         how long every rank may take to start (default 60)\n"
		"      --ssh CMD          remote shell command (default: $DSM_SSH, else 'ssh');\n"
		"                         given (or DSM_SSH), only localhost and 127.0.0.1\n"
		"                         start without it\n"
		"      --wrap PATH        dsmwrap on remote hosts (default: the local path)\n"
		"      --address HOST     address remote hosts use to reach this one\n"
		"                         (default: the client address ssh reports there)\n"
		"      --serve N          the last N ranks only serve (DSM_SERVERS=N)\n"
		"      --stats            print each rank's counters, the total and the hot\n"
		"                         pages at the end (DSM_STATS=1)\n"
		"      --trace FILE       write a Chrome/Perfetto trace of the job to FILE\n"
		"      --monitor PORT     serve a live view at http://127.0.0.1:PORT/\n"
		"      --restart DIR      begin from the current checkpoint in DIR\n"
		"                         (DSM_RESTART=DIR; see dsm_checkpoint(3))\n"
		"      --retries N        when a rank dies after the job started, restart the\n"
		"                         whole job from the last committed checkpoint in the\n"
		"                         --checkpoint directory, up to N times\n"
		"      --checkpoint DIR   the directory the job checkpoints into (for --retries)\n"
		"  -h, --help             this text\n"
		"  -V, --version          print the version\n"
		"\n"
		"A first operand that is a readable, non-executable regular file followed by\n"
		"another operand is a machinefile.  Exit status: 0 when every rank exits 0,\n"
		"else the first failing rank's status (128+n for signal n); 124 timeout;\n"
		"126/127 program not executable/not found; 255 launch failure; 2 usage.\n"
		"See dsmexec(1).\n");
}

/* ---- small helpers ------------------------------------------------------ */

static int parse_seconds(const char *opt, const char *v, double *out, int allow_zero)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (errno || end == v || *end || !isfinite(d) || d < 0 || (!allow_zero && d == 0) || d > 1e7) {
		log_err("%s %s: expected a number of seconds%s", opt, v, allow_zero ? "" : " above 0");
		return -1;
	}
	*out = d;
	return 0;
}

static int64_t secs_ns(double s)
{
	return (int64_t)(s * 1e9);
}

/* write(2) all of it; a broken stdout/stderr is remembered and skipped. */
static void write_all(int fd, const char *p, size_t n)
{
	if (fd <= 2 && J.out_broken[fd])
		return;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };
			poll(&pf, 1, 1000);
			continue;
		}
		if (w <= 0) {
			if (fd <= 2)
				J.out_broken[fd] = 1;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

/* Look a command up in PATH (for ssh), in the parent: the child of a
 * threaded process must only exec. */
static int find_in_path(const char *cmd, char *out, size_t cap)
{
	const char *path = getenv("PATH");

	if (strchr(cmd, '/')) {
		if ((size_t)snprintf(out, cap, "%s", cmd) >= cap)
			return -ENAMETOOLONG;
		return access(out, X_OK) ? -errno : 0;
	}
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = path;;) {
		const char *end = strchr(p, ':');
		size_t dl = end ? (size_t)(end - p) : strlen(p);
		struct stat st;
		int n = snprintf(out, cap, "%.*s%s%s", (int)dl, p, dl ? "/" : "", cmd);

		if (n > 0 && (size_t)n < cap && stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0)
			return 0;
		if (!end)
			return -ENOENT;
		p = end + 1;
	}
}

/* ---- output ----------------------------------------------------------------- */

static void emit_line(struct rank *r, int which, const char *p, size_t n)
{
	size_t o = 0;

	/* the ranks' statistics and snapshots are for us, not the terminal */
	if (which == 1 && (n = obs_take(r->id, p, n)) == 0)
		return;
	if (J.prefix)
		o = (size_t)snprintf(J.line, 32, "[%d] ", r->id);
	memcpy(J.line + o, p, n);
	J.line[o + n] = '\n';
	write_all(which ? STDERR_FILENO : STDOUT_FILENO, J.line, o + n + 1);
	if (r->s[which].file >= 0)
		write_all(r->s[which].file, J.line + o, n + 1);
}

/* Emit the complete lines held in a stream; with `all`, the rest too. */
static void flush_stream(struct rank *r, int which, int all)
{
	struct stream *s = &r->s[which];
	size_t start = 0;

	for (;;) {
		char *nl = memchr(s->buf + start, '\n', s->len - start);
		if (!nl)
			break;
		emit_line(r, which, s->buf + start, (size_t)(nl - (s->buf + start)));
		start = (size_t)(nl - s->buf) + 1;
	}
	if (start < s->len && (all || (start == 0 && s->len == STREAM_CAP))) {
		emit_line(r, which, s->buf + start, s->len - start);
		start = s->len;
	}
	memmove(s->buf, s->buf + start, s->len - start);
	s->len -= start;
}

static void on_stream(struct rank *r, int which)
{
	struct stream *s = &r->s[which];
	ssize_t n = read(s->fd, s->buf + s->len, STREAM_CAP - s->len);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close(s->fd);
		s->fd = -1;
		if (r->emit)
			flush_stream(r, which, 1);
		return;
	}
	s->len += (size_t)n;
	if (r->emit)
		flush_stream(r, which, 0);
}

/* What a rank wrote before it started, as one line for an error message. */
static void held_text(struct rank *r, char *out, size_t cap)
{
	struct stream *s = &r->s[1];
	size_t o = 0, i = 0;

	/* keep the end: the last lines say why */
	if (s->len > cap - 1)
		i = s->len - (cap - 1);
	for (; i < s->len && o + 3 < cap; i++) {
		char c = s->buf[i];
		if (c == '\n') {
			if (i + 1 < s->len)
				out[o++] = ';', out[o++] = ' ';
			continue;
		}
		out[o++] = (c == '\r' || c == '\t') ? ' ' : c;
	}
	while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == ';'))
		o--;
	out[o] = '\0';
	s->len = 0;
}

/* ---- failures ----------------------------------------------------------- */

static void end_job(void);
static void connecting_done(struct rank *r);

/* Record the first failure; later ones are consequences of ending the job. */
static void failed(enum fail_kind kind, int rank, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void failed(enum fail_kind kind, int rank, int code, const char *fmt, ...)
{
	va_list ap;

	if (J.fail == F_NONE) {
		J.fail = kind;
		J.fail_rank = rank;
		J.fail_code = code;
		va_start(ap, fmt);
		vsnprintf(J.fail_text, sizeof(J.fail_text), fmt, ap);
		va_end(ap);
		log_info("ending the job: %s", J.fail_text);
	}
	end_job();
}

static void describe_status(int st, char *out, size_t cap)
{
	if (WIFSIGNALED(st))
		snprintf(out, cap, "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
	else
		snprintf(out, cap, "exited with status %d", WEXITSTATUS(st));
}

/* The one line that says why the job failed, written when all output is
 * out.  `held`: what the failing rank wrote before it started. */
static void report_failure(const char *held)
{
	struct rank *r = J.fail_rank >= 0 ? &J.r[J.fail_rank] : NULL;
	char st[128];

	switch (J.fail) {
	case F_NONE:
		return;
	case F_START_FAIL:
		/* "a.out" is looked up in PATH, as the shell would: a file of
		 * that name here is what the user meant. */
		if (J.fail_code == 127 && !strchr(J.argv[0], '/') && access(J.argv[0], F_OK) == 0)
			log_err("cannot start rank %d on host %s: %s; did you mean ./%s?", r->id, r->host,
				J.fail_text, J.argv[0]);
		else
			log_err("cannot start rank %d on host %s: %s", r->id, r->host, J.fail_text);
		break;
	case F_START_DIED:
		if (held[0]) {
			log_err("cannot start rank %d on host %s: %s", r->id, r->host, held);
			break;
		}
		if (r->pid == 0)
			describe_status(r->wstatus, st, sizeof(st));
		else
			snprintf(st, sizeof(st), "closed its connection");
		log_err("cannot start rank %d on host %s: %s %s", r->id, r->host, r->local ? "dsmwrap" : "ssh", st);
		break;
	case F_START_TIMEOUT:
		log_err("cannot start rank %d on host %s: %s%s%s%s", r->id, r->host, J.fail_text,
			held[0] ? " (" : "", held, held[0] ? ")" : "");
		break;
	case F_EXIT:
	case F_SIGNAL:
		log_err("rank %d (host %s) %s", r->id, r->host, J.fail_text);
		break;
	case F_LOST:
		if (r->pid == 0) {
			describe_status(r->wstatus, st, sizeof(st));
			log_err("rank %d (host %s) %s (%s %s)", r->id, r->host, J.fail_text,
				r->local ? "dsmwrap" : "ssh", st);
		} else {
			log_err("rank %d (host %s) %s", r->id, r->host, J.fail_text);
		}
		break;
	case F_TIMEOUT:
	case F_INTERRUPT:
		log_err("%s", J.fail_text);
		break;
	}
}

/* ---- control connections ------------------------------------------------ */

static int send_ctl(struct rank *r, uint8_t type, uint64_t arg, const void *payload, size_t len)
{
	struct wire_hdr h = { .type = type, .src = WIRE_SRC_LAUNCHER, .arg = arg, .len = (uint32_t)len };
	int rc;

	if (r->ctl < 0)
		return -ENOTCONN;
	rc = net_send_msg(r->ctl, &h, payload, now_ns() + MSG_WAIT_NS);
	if (rc) {
		/* dsmwrap ends its program when the connection drops */
		log_info("rank %d: control connection: %s", r->id, strerror(-rc));
		close(r->ctl);
		r->ctl = -1;
	}
	return rc;
}

static void signal_rank(struct rank *r, int sig)
{
	if (r->state == RS_RUNNING && !r->done && r->ctl >= 0)
		send_ctl(r, WIRE_CTL_SIGNAL, (uint64_t)ctl_sig_to_wire(sig), NULL, 0);
}

/* DSM_HOST: where the rank listens for its peers. */
static const char *rank_addr(const struct rank *r)
{
	if (!r->local)
		return mf_host_addr(r->host);
	if (J.all_local)
		return "127.0.0.1";
	/* a local rank in a job that spans hosts must be reachable from them */
	return J.address ? J.address : J.hostname;
}

static int send_setup(struct rank *r)
{
	const struct mf_rank *p = &J.place[r->id];
	struct ctl_setup s = {
		.rank = (uint32_t)r->id,
		.size = (uint32_t)J.n,
		.local_rank = (uint32_t)p->local_rank,
		.local_size = (uint32_t)p->local_size,
		.rdv_port = (uint32_t)J.rdv_port,
		.grace_ms = (uint32_t)(J.grace_s * 1000),
		.wait_ms = (uint32_t)(J.start_s * 1000),
		.host = (char *)rank_addr(r),
		.cwd = J.cwd,
		.program = J.program,
		.argc = (uint32_t)J.argc,
		.argv = J.argv,
		.envc = (uint32_t)J.envc,
		.env = J.env,
	};
	uint8_t *buf;
	size_t len;
	int rc = ctl_setup_encode(&s, &buf, &len);

	if (rc) {
		failed(F_START_FAIL, r->id, EXIT_LAUNCH, "%s",
		       rc == -E2BIG ? "the arguments and DSM_* environment exceed 1 MiB" : strerror(-rc));
		return rc;
	}
	rc = send_ctl(r, WIRE_CTL_SETUP, 0, buf, len);
	free(buf);
	return rc;
}

static void start_all(void)
{
	J.running = 1;
	log_info("all %d ranks ready; starting them", J.n);
	for (int i = 0; i < J.n; i++) {
		struct rank *r = &J.r[i];
		r->state = RS_RUNNING;
		r->emit = 1;
		flush_stream(r, 0, r->s[0].fd < 0);
		flush_stream(r, 1, r->s[1].fd < 0);
		send_ctl(r, WIRE_CTL_GO, 0, NULL, 0);
	}
}

/* A control connection: its handshake runs in the loop (ctl_pending_*),
 * never blocking it. */
static void on_accept(void)
{
	int fd = accept4(J.lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd >= 0)
		ctl_pending_add(fd, now_ns());
}

/* An authenticated control connection from id. */
static void on_authenticated(int fd, uint32_t id)
{
	struct rank *r;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	if (id >= (uint32_t)J.n || J.r[id].connected || J.r[id].state != RS_SPAWNED) {
		log_msg(J.ending ? LOG_INFO : LOG_WARN, "refused a control connection claiming rank %u", id);
		close(fd);
		return;
	}
	r = &J.r[id];
	r->ctl = fd;
	r->connected = 1;
	r->state = RS_CONNECTED;
	connecting_done(r);
	log_info("rank %d connected", r->id);
	if (J.ending) {
		close(r->ctl);
		r->ctl = -1;
		return;
	}
	send_setup(r);
}

/* The control connection closed (EOF or error). */
static void ctl_closed(struct rank *r)
{
	close(r->ctl);
	r->ctl = -1;
	if (r->done || r->sent_fail)
		return;
	if (r->state == RS_RUNNING)
		failed(F_LOST, r->id, EXIT_LAUNCH, "lost contact with its dsmwrap");
	else
		failed(F_START_DIED, r->id, EXIT_LAUNCH, "dsmwrap closed the connection");
}

static void on_ctl(struct rank *r)
{
	struct wire_hdr h;
	char text[CTL_TEXT_MAX + 1];
	int rc = net_recv_msg(r->ctl, &h, text, CTL_TEXT_MAX, now_ns() + MSG_WAIT_NS);

	if (rc) {
		if (rc != -ECONNRESET)
			log_warn("rank %d: control connection: %s", r->id,
				 rc == -ETIMEDOUT ? "truncated message" :
				 rc == -EPROTO || rc == -EPROTONOSUPPORT || rc == -EBADMSG ? wire_strerror(rc) :
				 strerror(-rc));
		ctl_closed(r);
		return;
	}
	/* it ends up in a one-line message */
	for (uint32_t i = 0; i < h.len; i++)
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
			text[i] = ' ';
	text[h.len] = '\0';
	if (h.src != (uint32_t)r->id) {
		log_warn("rank %d: message claims to come from %u; dropping the connection", r->id, h.src);
		ctl_closed(r);
		return;
	}
	switch (h.type) {
	case WIRE_CTL_READY:
		if (r->state != RS_CONNECTED)
			break;
		r->state = RS_READY;
		log_info("rank %d ready (dsmwrap pid %llu)", r->id, (unsigned long long)h.arg);
		if (++J.nready == J.n && !J.ending)
			start_all();
		break;
	case WIRE_CTL_FAIL:
		r->sent_fail = 1;
		failed(F_START_FAIL, r->id, h.aux >= 1 && h.aux <= 255 ? (int)h.aux : EXIT_LAUNCH, "%s", text);
		break;
	case WIRE_CTL_EXITED:
		if (r->state != RS_RUNNING || r->done)
			break;
		r->done = 1;
		if (h.aux == CTL_EXIT_SIGNAL) {
			int sig = (int)(h.arg & 0x7f);
			log_info("rank %d killed by signal %d", r->id, sig);
			failed(F_SIGNAL, r->id, 128 + sig, "killed by signal %d (%s)", sig,
			       text[0] ? text : strsignal(sig));
		} else if (h.arg != 0) {
			int code = (int)(h.arg & 0xff);
			log_info("rank %d exited with status %d", r->id, code);
			failed(F_EXIT, r->id, code, "exited with status %d", code);
		} else {
			log_info("rank %d exited with status 0", r->id);
		}
		break;
	default:
		log_warn("rank %d: unexpected %s on the control connection", r->id, wire_type_name(h.type));
	}
}

/* ---- processes ------------------------------------------------------------ */

static void connecting_done(struct rank *r)
{
	if (!r->connecting)
		return;
	r->connecting = 0;
	J.nconnecting--;
	J.host_connecting[J.place[r->id].group]--;
}

/* argv for one rank's dsmwrap (local) or ssh (remote), built before fork. */
static char **rank_argv(struct rank *r, char **owned)
{
	static char rankbuf[16], portbuf[16], connbuf[300];
	char **av = calloc((size_t)J.nssh + 12, sizeof(*av));
	int a = 0;

	if (!av)
		return NULL;
	snprintf(rankbuf, sizeof(rankbuf), "%d", r->id);
	snprintf(portbuf, sizeof(portbuf), "%d", J.ctl_port);
	if (r->local) {
		snprintf(connbuf, sizeof(connbuf), "127.0.0.1:%d", J.ctl_port);
		av[a++] = J.wrap_local;
		av[a++] = "--connect";
		av[a++] = connbuf;
		av[a++] = "--rank";
		av[a++] = rankbuf;
	} else {
		const char *wrap = J.wrap_remote ? J.wrap_remote : J.wrap_local;
		size_t cap = 4 * strlen(wrap) + 400;
		char *cmd = malloc(cap);
		int o;

		if (!cmd) {
			free(av);
			return NULL;
		}
		o = snprintf(cmd, cap, "exec ");
		o += ctl_shell_quote(wrap, cmd + o, cap - (size_t)o);
		if (J.address)
			snprintf(cmd + o, cap - (size_t)o, strchr(J.address, ':') ? " --connect [%s]:%d --rank %d"
										  : " --connect %s:%d --rank %d",
				 J.address, J.ctl_port, r->id);
		else
			snprintf(cmd + o, cap - (size_t)o, " --port %d --rank %d", J.ctl_port, r->id);
		for (int i = 0; i < J.nssh; i++)
			av[a++] = J.ssh_words[i];
		av[a++] = "-o";
		av[a++] = "BatchMode=yes";
		av[a++] = "-T";
		av[a++] = (char *)r->host;
		av[a++] = cmd;
		*owned = cmd;
	}
	return av;
}

static int spawn(struct rank *r)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	char pre[CTL_PREAMBLE_MAX], *owned = NULL, **av;
	int plen, rc;
	pid_t pid;

	plen = ctl_preamble_format(pre, sizeof(pre), &J.auth);
	av = rank_argv(r, &owned);
	if (!av || plen < 0)
		return -ENOMEM;
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
		rc = -errno;
		log_err("pipe: %s", strerror(-rc));
		goto err_close;
	}
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		log_err("fork: %s", strerror(-rc));
		goto err_close;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls here: the rendezvous thread exists. */
		struct sigaction dfl = { .sa_handler = SIG_DFL };
		sigaction(SIGPIPE, &dfl, NULL);
		sigprocmask(SIG_SETMASK, &J.oldmask, NULL);
		setpgid(0, 0); /* a terminal's Ctrl-C reaches dsmexec only, which forwards it */
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
			_exit(127);
		execv(av[0], av);
		{
			static const char msg[] = "dsmexec: cannot execute the rank's launcher: ";
			const char *e = strerror(errno);
			if (write(2, msg, sizeof(msg) - 1) < 0 || write(2, e, strlen(e)) < 0 || write(2, "\n", 1) < 0)
				_exit(127);
		}
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	free(owned);
	free(av);
	/* An empty pipe takes the ~100-byte preamble without blocking. */
	if (write(in[1], pre, (size_t)plen) != plen)
		log_debug("rank %d: writing the credentials: %s", r->id, strerror(errno));
	explicit_bzero(pre, sizeof(pre));
	r->pid = pid;
	r->in_fd = in[1];
	r->s[0].fd = out[0];
	r->s[1].fd = err[0];
	r->state = RS_SPAWNED;
	if (!r->local) {
		r->connecting = 1;
		J.nconnecting++;
		J.host_connecting[J.place[r->id].group]++;
	}
	log_info("rank %d: started %s (pid %d) for host %s", r->id, r->local ? "dsmwrap" : "ssh", (int)pid,
		 r->host);
	return 0;

err_close:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	free(owned);
	free(av);
	return rc;
}

/* Start the ranks not started yet, ssh sessions a few at a time per host. */
static void spawn_more(void)
{
	for (int i = 0; i < J.n && !J.ending; i++) {
		struct rank *r = &J.r[i];

		if (r->state != RS_PENDING)
			continue;
		if (!r->local && (J.nconnecting >= MAX_CONNECTING ||
				  J.host_connecting[J.place[i].group] >= MAX_CONNECTING_HOST))
			continue;
		if (spawn(r)) {
			failed(F_START_DIED, r->id, EXIT_LAUNCH, "cannot start a process");
			return;
		}
	}
}

static struct rank *rank_of_pid(pid_t pid)
{
	for (int i = 0; i < J.n; i++)
		if (J.r[i].pid == pid)
			return &J.r[i];
	return NULL;
}

static void reap(void)
{
	int st;
	pid_t pid;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		struct rank *r = rank_of_pid(pid);
		char how[128];

		if (!r)
			continue;
		r->pid = 0;
		r->wstatus = st;
		describe_status(st, how, sizeof(how));
		log_info("rank %d: %s (pid %d) %s", r->id, r->local ? "dsmwrap" : "ssh", (int)pid, how);
		connecting_done(r);
		if (!r->connected) {
			if (!J.ending)
				failed(F_START_DIED, r->id, EXIT_LAUNCH, "%s", how);
		} else if (!r->done && r->ctl >= 0) {
			/* EXITED may still be in the socket; or a remote dsmwrap
			 * outlived ssh and is ending its program. */
			r->lost_at = now_ns() + secs_ns(J.grace_s) + DRAIN_WAIT_NS;
		}
	}
}

/* ---- ending the job ----------------------------------------------------- */

static void term_all(void)
{
	for (int i = 0; i < J.n; i++)
		signal_rank(&J.r[i], SIGTERM);
	J.term_at = 0;
	J.kill_at = now_ns() + secs_ns(J.grace_s);
}

/* Close the rank's control connection and its stdin, where still open. */
static void close_links(struct rank *r)
{
	if (r->ctl >= 0) {
		close(r->ctl);
		r->ctl = -1;
	}
	if (r->in_fd >= 0) {
		close(r->in_fd);
		r->in_fd = -1;
	}
}

static void end_job(void)
{
	int64_t now = now_ns();

	if (J.ending)
		return;
	J.ending = 1;
	for (int i = 0; i < J.n; i++) {
		struct rank *r = &J.r[i];

		if (r->state == RS_RUNNING)
			continue;
		/* Not started: dsmwrap exits when its connection or stdin closes. */
		close_links(r);
		if (!r->connected && r->pid > 0)
			kill(r->pid, SIGTERM); /* ssh, or dsmwrap, still connecting */
	}
	/* Ranks that were just sent a signal (Ctrl-C) are ending already: give
	 * them the grace period to do it their way before SIGTERM follows. */
	if (J.forwarded_at && now < J.forwarded_at + secs_ns(J.grace_s))
		J.term_at = J.forwarded_at + secs_ns(J.grace_s);
	else
		term_all();
}

static void kill_all(void)
{
	for (int i = 0; i < J.n; i++)
		signal_rank(&J.r[i], SIGKILL);
	J.term_at = J.kill_at = 0;
	J.cut_at = now_ns() + CUT_WAIT_NS;
}

/* Last resort: close every link (each dsmwrap then ends its program) and
 * kill the local processes. */
static void cut_all(void)
{
	for (int i = 0; i < J.n; i++) {
		struct rank *r = &J.r[i];
		close_links(r);
		if (r->pid > 0)
			kill(r->pid, SIGKILL);
	}
	J.cut_at = 0;
	J.give_up_at = now_ns() + REAP_WAIT_NS;
}

static void on_signal(int sig)
{
	J.nsignals++;
	if (!J.running && !J.ending) {
		failed(F_INTERRUPT, -1, 128 + sig, "interrupted by signal %d (%s) before the job started", sig,
		       strsignal(sig));
		return;
	}
	if (J.nsignals == 1 && J.running && !J.ending) {
		log_info("forwarding signal %d to every rank", sig);
		for (int i = 0; i < J.n; i++)
			signal_rank(&J.r[i], sig);
		J.forwarded_at = now_ns();
		return;
	}
	failed(F_INTERRUPT, -1, 128 + sig, "signal %d (%s)%s: job killed", sig, strsignal(sig),
	       J.nsignals > 1 ? " received twice" : "");
	if (!J.cut_at && !J.give_up_at)
		kill_all();
}

/* A rank is finished when its process is reaped, its output is drained and
 * its control connection is closed. */
static int finished(struct rank *r)
{
	if (r->state == RS_PENDING)
		return 1;
	if (r->pid == 0 && r->s[0].fd < 0 && r->s[1].fd < 0 && r->ctl >= 0 && (r->done || J.ending)) {
		close(r->ctl);
		r->ctl = -1;
	}
	return r->pid == 0 && r->s[0].fd < 0 && r->s[1].fd < 0 && r->ctl < 0;
}

static void on_timers(int64_t now)
{
	int all_done = J.running;

	if (!J.running && !J.ending && now >= J.start_deadline) {
		for (int i = 0; i < J.n; i++) {
			if (J.r[i].state < RS_READY) {
				failed(F_START_TIMEOUT, i, EXIT_LAUNCH, "no answer within %g s (see --start-timeout)",
				       J.start_s);
				break;
			}
		}
	}
	if (J.timeout_at && now >= J.timeout_at && !J.ending)
		failed(F_TIMEOUT, -1, EXIT_TIMEOUT, "job timed out after %g s", J.timeout_s);
	for (int i = 0; i < J.n; i++) {
		struct rank *r = &J.r[i];
		if (r->lost_at && now >= r->lost_at && !r->done && r->ctl >= 0) {
			r->lost_at = 0;
			ctl_closed(r);
		}
		all_done &= r->done;
	}
	if (all_done && !J.drain_at && !J.ending)
		J.drain_at = now + secs_ns(J.grace_s) + DRAIN_WAIT_NS;
	if (J.drain_at && now >= J.drain_at && !J.ending) {
		J.drain_at = 0;
		J.ending = 1;
		cut_all();
	}
	if (J.term_at && now >= J.term_at)
		term_all();
	if (J.kill_at && now >= J.kill_at)
		kill_all();
	if (J.cut_at && now >= J.cut_at)
		cut_all();
}

static int64_t next_timer(void)
{
	int64_t t = INT64_MAX;
	int64_t c[] = { J.running || J.ending ? 0 : J.start_deadline, J.ending ? 0 : J.timeout_at, J.term_at, J.kill_at,
			J.cut_at, J.give_up_at, J.ending ? 0 : J.drain_at };

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (c[i] && c[i] < t)
			t = c[i];
	for (int i = 0; i < J.n; i++)
		if (J.r[i].lost_at && J.r[i].lost_at < t)
			t = J.r[i].lost_at;
	if (ctl_pending_expire(now_ns()) < t)
		t = ctl_pending_expire(now_ns());
	return t;
}

/* ---- the loop ------------------------------------------------------------ */

static void loop(void)
{
	size_t cap = 2 + 3 * (size_t)J.n + OBS_MAX_FDS + CTL_PENDING_MAX;
	struct pollfd *p = calloc(cap, sizeof(*p));
	int *who = calloc(cap, sizeof(*who));

	if (!p || !who) {
		log_err("out of memory");
		exit(EXIT_LAUNCH);
	}
	for (;;) {
		int64_t now = now_ns(), t;
		int np = 0, all = 1, timeout, obs0, pend0;

		on_timers(now);
		spawn_more();
		for (int i = 0; i < J.n; i++)
			all &= finished(&J.r[i]);
		if (all && (J.ending || J.running))
			break;
		if (J.give_up_at && now >= J.give_up_at) {
			for (int i = 0; i < J.n; i++)
				if (!finished(&J.r[i]))
					log_err("rank %d (host %s) did not end; leaving it", i, J.r[i].host);
			break;
		}
		p[np] = (struct pollfd){ .fd = J.sfd, .events = POLLIN };
		who[np++] = -1;
		p[np] = (struct pollfd){ .fd = J.lfd, .events = POLLIN };
		who[np++] = -2;
		for (int i = 0; i < J.n; i++) {
			struct rank *r = &J.r[i];
			if (r->ctl >= 0) {
				p[np] = (struct pollfd){ .fd = r->ctl, .events = POLLIN };
				who[np++] = 3 * i;
			}
			for (int k = 0; k < 2; k++) {
				/* before GO, a full buffer waits (the rank is not running) */
				if (r->s[k].fd >= 0 && (r->emit || r->s[k].len < STREAM_CAP)) {
					p[np] = (struct pollfd){ .fd = r->s[k].fd, .events = POLLIN };
					who[np++] = 3 * i + 1 + k;
				}
			}
		}
		pend0 = np;
		np += ctl_pending_pollfds(p + np, CTL_PENDING_MAX);
		for (int k = pend0; k < np; k++)
			who[k] = -4;
		obs0 = np;
		np += obs_pollfds(p + np, OBS_MAX_FDS);
		for (int k = obs0; k < np; k++)
			who[k] = -3;
		t = next_timer();
		timeout = t == INT64_MAX ? -1 : t <= now ? 0 : (int)((t - now) / 1000000 + 1);
		if (obs_timeout_ms() >= 0 && (timeout < 0 || timeout > obs_timeout_ms()))
			timeout = obs_timeout_ms();
		if (poll(p, (nfds_t)np, timeout) < 0 && errno != EINTR) {
			log_err("poll: %s", strerror(errno));
			exit(EXIT_LAUNCH);
		}
		for (int k = 0; k < np; k++) {
			if (!p[k].revents)
				continue;
			if (who[k] == -1) {
				struct signalfd_siginfo si;
				while (read(J.sfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGCHLD)
						reap();
					else
						on_signal((int)si.ssi_signo);
				}
			} else if (who[k] == -2) {
				on_accept();
			} else if (who[k] == -3 || who[k] == -4) {
				continue; /* the live view, handshakes: below */
			} else {
				struct rank *r = &J.r[who[k] / 3];
				int what = who[k] % 3;
				if (what == 0 && r->ctl == p[k].fd)
					on_ctl(r);
				else if (what > 0 && r->s[what - 1].fd == p[k].fd)
					on_stream(r, what - 1);
			}
		}
		ctl_pending_poll(p + pend0, obs0 - pend0, &J.auth, on_authenticated);
		obs_poll(p + obs0, np - obs0);
	}
	ctl_pending_close_all();
	free(p);
	free(who);
}

/* ---- set-up ------------------------------------------------------------- */

/* --restart DIR: DSM_RESTART on every rank, as an absolute path, since a
 * rank on another host starts in the same directory only by convention. */
static int set_restart(const char *dir)
{
	char abs[PATH_MAX];
	struct stat st;

	if (stat(dir, &st) < 0) {
		log_err("--restart %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		log_err("--restart %s: not a directory (a checkpoint is a directory)", dir);
		return -1;
	}
	if (!realpath(dir, abs) || setenv("DSM_RESTART", abs, 1) < 0) {
		log_err("--restart %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- --retries -------------------------------------------------------------
 * A job whose rank dies is started again, whole, from the last committed
 * checkpoint: dsmexec execs itself with the same command line, the attempt
 * number in DSMEXEC_ATTEMPT, and --restart pointing at the checkpoint
 * directory.  Only deaths after the job started count (a rank that exits
 * with a failure status, is killed, or is lost), not failures to start, nor
 * a job that the user interrupted, nor a --timeout. */
#define ATTEMPT_VAR "DSMEXEC_ATTEMPT"

static int attempt_no(void)
{
	const char *v = getenv(ATTEMPT_VAR);

	return v && *v >= '0' && *v <= '9' ? atoi(v) : 0;
}

static int retries_setup(void)
{
	if (J.retries && !J.ckpt_dir) {
		log_err("--retries needs --checkpoint DIR: the directory the job checkpoints into");
		return -1;
	}
	if (attempt_no() > 0)
		return set_restart(J.ckpt_dir);
	return 0;
}

/* After a failed job: exec again when a retry is due; returns otherwise. */
static void maybe_retry(char **argv)
{
	char path[PATH_MAX], gen[64], num[16];
	int attempt = attempt_no();
	ssize_t n;

	if (!J.retries || attempt >= J.retries || !J.running || J.nsignals ||
	    (J.fail != F_EXIT && J.fail != F_SIGNAL && J.fail != F_LOST))
		return;
	snprintf(path, sizeof(path), "%s/current", J.ckpt_dir);
	n = readlink(path, gen, sizeof(gen) - 1);
	if (n <= 0) {
		log_err("--retries: no committed checkpoint in %s yet: not restarting", J.ckpt_dir);
		return;
	}
	gen[n] = '\0';
	log_err("restarting the job from %s/%s (retry %d of %d)", J.ckpt_dir, gen, attempt + 1, J.retries);
	snprintf(num, sizeof(num), "%d", attempt + 1);
	if (setenv(ATTEMPT_VAR, num, 1) < 0 || (execv("/proc/self/exe", argv), 1))
		log_err("--retries: cannot start dsmexec again: %s", strerror(errno));
}

static int parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "np", required_argument, NULL, 'n' },
		{ "machinefile", required_argument, NULL, 'f' },
		{ "output-dir", required_argument, NULL, 'o' },
		{ "no-prefix", no_argument, NULL, 'P' },
		{ "timeout", required_argument, NULL, 't' },
		{ "grace", required_argument, NULL, 'g' },
		{ "start-timeout", required_argument, NULL, 's' },
		{ "ssh", required_argument, NULL, 'S' },
		{ "wrap", required_argument, NULL, 'W' },
		{ "address", required_argument, NULL, 'A' },
		{ "serve", required_argument, NULL, 'E' },
		{ "stats", no_argument, NULL, 1001 },
		{ "trace", required_argument, NULL, 1002 },
		{ "monitor", required_argument, NULL, 1003 },
		{ "restart", required_argument, NULL, 'R' },
		{ "retries", required_argument, NULL, 1004 },
		{ "checkpoint", required_argument, NULL, 1005 },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	char *end;
	long v;
	int c;

	while ((c = getopt_long(argc, argv, "+n:f:o:t:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || v < 1 || v > MF_RANKS_MAX) {
				log_err("-n %s: the number of ranks must be an integer from 1 to %d", optarg,
					MF_RANKS_MAX);
				return -1;
			}
			J.n = (int)v;
			break;
		case 'f': J.mfile = optarg; break;
		case 'o': J.outdir = optarg; break;
		case 'P': J.prefix = 0; break;
		case 't':
			if (parse_seconds("--timeout", optarg, &J.timeout_s, 0))
				return -1;
			break;
		case 'g':
			if (parse_seconds("--grace", optarg, &J.grace_s, 1))
				return -1;
			break;
		case 's':
			if (parse_seconds("--start-timeout", optarg, &J.start_s, 0))
				return -1;
			break;
		case 'S': J.ssh = optarg; break;
		case 'W': J.wrap_remote = optarg; break;
		case 'A': J.address = optarg; break;
		case 'E':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || v < 0 || v >= MF_RANKS_MAX) {
				log_err("--serve %s: expected a number of server ranks", optarg);
				return -1;
			}
			J.serve = (int)v;
			break;
		case 'R':
			if (set_restart(optarg))
				return -1;
			break;
		case 1001: J.stats = 1; break;
		case 1002: J.trace = optarg; break;
		case 1003:
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || v < 1 || v > 65535) {
				log_err("--monitor %s: expected a TCP port from 1 to 65535", optarg);
				return -1;
			}
			J.monitor = (int)v;
			break;
		case 1004:
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || v < 0 || v > 1000) {
				log_err("--retries %s: expected a number of restarts from 0 to 1000", optarg);
				return -1;
			}
			J.retries = (int)v;
			break;
		case 1005: J.ckpt_dir = optarg; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("dsmexec (dsm) %d.%d\n", DSM_VERSION_MAJOR, DSM_VERSION_MINOR); exit(0);
		default:
			fprintf(stderr, "Try 'dsmexec --help'.\n");
			return -1;
		}
	}
	/* The positional machinefile: a readable, non-executable regular file
	 * followed by another operand.  A program must be executable, so no
	 * valid command line means both. */
	if (!J.mfile && argc - optind >= 2) {
		struct stat st;
		const char *f = argv[optind];
		if (stat(f, &st) == 0 && S_ISREG(st.st_mode) && access(f, R_OK) == 0 && access(f, X_OK) != 0) {
			J.mfile = f;
			J.mfile_positional = 1;
			optind++;
		}
	}
	if (optind >= argc) {
		log_err("no program to run");
		fprintf(stderr, "Try 'dsmexec --help'.\n");
		return -1;
	}
	if (!argv[optind][0]) {
		log_err("the program name is empty");
		return -1;
	}
	J.argv = argv + optind;
	J.argc = argc - optind;
	return 0;
}

static int setup_hosts(void)
{
	char err[1024];
	int rc;

	if (J.mfile) {
		rc = mf_load(J.mfile, &J.mf, err, sizeof(err));
		if (rc) {
			log_err("%s", err);
			if (J.mfile_positional)
				log_err("('%s' was read as a machinefile: it is a file without execute permission "
					"followed by more arguments; use -f FILE, or make it executable if it is the "
					"program)", J.mfile);
			return -1;
		}
		if (!J.n)
			J.n = J.mf.nslots;
	} else {
		if (!J.n)
			J.n = launch_env_cpus();
		if (mf_single("127.0.0.1", 1, &J.mf))
			return -1;
	}
	if (J.serve >= J.n) {
		log_err("--serve %d: rank 0 runs the program, so at most %d of the %d ranks can be servers", J.serve,
			J.n - 1, J.n);
		return -1;
	}
	/* --ssh or DSM_SSH: the user wants ssh, even to this machine's other
	 * names (a private sshd on 127.0.0.2, say). */
	J.mf.ssh_to_self = J.ssh || (getenv("DSM_SSH") && *getenv("DSM_SSH"));
	J.place = calloc((size_t)J.n, sizeof(*J.place));
	J.r = calloc((size_t)J.n, sizeof(*J.r));
	J.host_connecting = calloc((size_t)J.mf.nhosts, sizeof(int));
	if (!J.place || !J.r || !J.host_connecting || mf_place(&J.mf, J.n, J.place)) {
		log_err("out of memory");
		return -1;
	}
	J.all_local = 1;
	for (int i = 0; i < J.n; i++) {
		struct rank *r = &J.r[i];
		r->id = i;
		r->host = J.mf.hosts[J.place[i].host].name;
		r->local = mf_starts_local(&J.mf, r->host);
		r->ctl = r->in_fd = -1;
		for (int k = 0; k < 2; k++) {
			r->s[k].fd = r->s[k].file = -1;
			r->s[k].buf = malloc(STREAM_CAP);
			if (!r->s[k].buf) {
				log_err("out of memory");
				return -1;
			}
		}
		J.all_local &= r->local;
	}
	return 0;
}

/* Program path, dsmwrap, ssh, DSM_* environment, output files. */
static int setup_paths(void)
{
	char self[PATH_MAX], sshpath[PATH_MAX];
	ssize_t n;
	char *slash;
	int neededfds;
	struct rlimit rl;

	if (!getcwd(J.cwd, sizeof(J.cwd))) {
		log_err("cannot tell the working directory: %s", strerror(errno));
		return -1;
	}
	if (strchr(J.argv[0], '/') && J.argv[0][0] != '/') {
		const char *rel = J.argv[0];
		size_t len;

		while (rel[0] == '.' && rel[1] == '/') /* "./prog" -> "/cwd/prog" */
			for (rel += 2; *rel == '/'; rel++)
				;
		len = strlen(J.cwd) + strlen(rel) + 2;
		J.program = malloc(len);
		if (!J.program)
			return -1;
		snprintf(J.program, len, "%s/%s", J.cwd, rel);
	} else {
		J.program = strdup(J.argv[0]);
		if (!J.program)
			return -1;
	}

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0) {
		log_err("cannot find my own executable: %s", strerror(errno));
		return -1;
	}
	self[n] = '\0';
	slash = strrchr(self, '/');
	*slash = '\0';
	if ((size_t)snprintf(J.wrap_local, sizeof(J.wrap_local), "%s/dsmwrap", self) >= sizeof(J.wrap_local) ||
	    access(J.wrap_local, X_OK) != 0) {
		log_err("cannot run %s (dsmwrap belongs next to dsmexec): %s", J.wrap_local, strerror(errno));
		return -1;
	}

	if (!J.all_local) {
		const char *cmd = J.ssh ? J.ssh : getenv("DSM_SSH");
		char *save = NULL;

		if (!cmd || !*cmd)
			cmd = "ssh";
		J.ssh_cmd = strdup(cmd);
		J.ssh_words = calloc(strlen(cmd) / 2 + 2, sizeof(char *));
		if (!J.ssh_cmd || !J.ssh_words)
			return -1;
		for (char *w = strtok_r(J.ssh_cmd, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save))
			J.ssh_words[J.nssh++] = w;
		if (!J.nssh) {
			log_err("the ssh command is empty");
			return -1;
		}
		if (find_in_path(J.ssh_words[0], sshpath, sizeof(sshpath))) {
			log_err("cannot find the ssh command '%s' (set --ssh or DSM_SSH)", J.ssh_words[0]);
			return -1;
		}
		J.ssh_words[0] = strdup(sshpath);
		if (!J.ssh_words[0])
			return -1;
		if (gethostname(J.hostname, sizeof(J.hostname) - 1) < 0)
			strcpy(J.hostname, "127.0.0.1");
		if (J.wrap_remote && J.wrap_remote[0] != '/') {
			log_err("--wrap %s: the path must be absolute", J.wrap_remote);
			return -1;
		}
	}

	J.env = calloc(2, sizeof(char *));
	if (!J.env)
		return -1;
	if (J.serve >= 0) {
		static char servers[32];
		snprintf(servers, sizeof(servers), "DSM_SERVERS=%d", J.serve);
		J.env[J.envc++] = servers;
	}
	for (char **e = environ; e && *e; e++) {
		char **ne;

		if (strncmp(*e, "DSM_", 4) || !strchr(*e, '=') || strchr(*e, '=') == *e + 4)
			continue;
		if (J.serve >= 0 && !strncmp(*e, "DSM_SERVERS=", 12))
			continue;
		ne = realloc(J.env, (size_t)(J.envc + 2) * sizeof(char *));
		if (!ne)
			return -1;
		J.env = ne;
		J.env[J.envc++] = *e;
		J.env[J.envc] = NULL;
	}

	/* stdin, stdout and stderr pipes, the control socket, two files */
	neededfds = 6 * J.n + 64;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)neededfds) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)neededfds ? rl.rlim_max : (rlim_t)neededfds;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < (rlim_t)neededfds) {
			log_err("%d ranks need %d open files, but the limit is %llu", J.n, neededfds,
				(unsigned long long)rl.rlim_cur);
			return -1;
		}
	}

	if (J.outdir) {
		if (mkdir(J.outdir, 0777) < 0 && errno != EEXIST) {
			log_err("--output-dir %s: %s", J.outdir, strerror(errno));
			return -1;
		}
		for (int i = 0; i < J.n; i++) {
			for (int k = 0; k < 2; k++) {
				char path[PATH_MAX];
				snprintf(path, sizeof(path), "%s/rank.%d.%s", J.outdir, i, k ? "err" : "out");
				J.r[i].s[k].file = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
				if (J.r[i].s[k].file < 0) {
					log_err("--output-dir: cannot create %s: %s", path, strerror(errno));
					return -1;
				}
			}
		}
	}
	return 0;
}

/* Where to listen when remote hosts must reach us: "::" where that takes
 * IPv4 too (remote dsmwraps connect to whatever address family their ssh
 * session came in on), else every IPv4 interface. */
static const char *any_host(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), v6only = 1;
	socklen_t len = sizeof(v6only);

	if (fd < 0)
		return NULL;
	if (getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len) < 0)
		v6only = 1;
	close(fd);
	return v6only ? NULL : "::";
}

static int start_servers(void)
{
	const char *host = J.all_local ? "127.0.0.1" : any_host();
	struct sigaction old, dfl = { .sa_handler = SIG_DFL };
	sigset_t mask;
	int rc;

	/* Block before the rendezvous thread exists, so it inherits the mask
	 * and these signals reach the signalfd only. */

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	/* Forwarding Ctrl-C is the point, even when a shell started us in the
	 * background with SIGINT ignored; and the ranks must not inherit the
	 * ignoring.  A SIGHUP ignored on purpose (nohup) stays ignored. */
	sigaction(SIGINT, &dfl, NULL);
	sigaction(SIGTERM, &dfl, NULL);
	if (sigaction(SIGHUP, NULL, &old) == 0 && old.sa_handler != SIG_IGN)
		sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, &J.oldmask);
	J.sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (J.sfd < 0) {
		log_err("signalfd: %s", strerror(errno));
		return -1;
	}
	signal(SIGPIPE, SIG_IGN);
	rc = job_auth_generate(&J.auth);
	if (rc) {
		log_err("cannot make the job secret: %s", strerror(-rc));
		return -1;
	}
	J.lfd = net_listen(host, 0, &J.ctl_port);
	if (J.lfd < 0)
		return -1;
	fcntl(J.lfd, F_SETFL, fcntl(J.lfd, F_GETFL) | O_NONBLOCK); /* accept in the loop never waits */
	/* The ranks' own deadlines (DSM_TIMEOUT) and the failure of any rank
	 * bound the rendezvous; the server itself waits until it is stopped, so
	 * programs that never call dsm_init() raise no complaint. */
	rc = rdv_server_start(host, 0, J.n, &J.auth, 0, &J.rdv, &J.rdv_port);
	if (rc) {
		log_err("cannot start the rendezvous server: %s", strerror(-rc));
		return -1;
	}
	log_info("job %016llx: %d ranks, control port %d, rendezvous port %d", (unsigned long long)J.auth.job_id,
		 J.n, J.ctl_port, J.rdv_port);
	return 0;
}

/* A closed stdin/stdout/stderr would let a pipe take its number. */
static void open_std_fds(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", fd ? O_WRONLY : O_RDONLY) < 0)
			exit(EXIT_LAUNCH);
}

int main(int argc, char **argv)
{
	char held[1024] = "";
	int code;

	open_std_fds();
	log_set_ident("dsmexec");
	log_init_from_env();
	if (parse_args(argc, argv) || retries_setup() || setup_hosts())
		return EXIT_USAGE;
	if (obs_setup(J.n, J.stats, J.trace, J.monitor))
		return EXIT_LAUNCH;
	if (setup_paths())
		return EXIT_LAUNCH;
	if (start_servers())
		return EXIT_LAUNCH;
	J.t0 = now_ns();
	J.start_deadline = J.t0 + secs_ns(J.start_s);
	if (J.timeout_s > 0)
		J.timeout_at = J.t0 + secs_ns(J.timeout_s);
	loop();
	rdv_server_stop(J.rdv);
	if (J.fail_rank >= 0 && J.fail <= F_START_TIMEOUT)
		held_text(&J.r[J.fail_rank], held, sizeof(held));
	/* What ranks wrote before GO (if the job never started) goes out too. */
	for (int i = 0; i < J.n; i++) {
		J.r[i].emit = 1;
		flush_stream(&J.r[i], 0, 1);
		flush_stream(&J.r[i], 1, 1);
	}
	code = J.fail == F_NONE ? 0 : J.fail_code;
	obs_finish(code, (double)(now_ns() - J.t0) / 1e9);
	report_failure(held);
	explicit_bzero(&J.auth, sizeof(J.auth));
	if (code)
		maybe_retry(argv);
	return code;
}
