/*
 * dsmwrap - starts one rank of a dsmexec job on its host and watches it.
 *
 * Design: dsmexec runs one dsmwrap per rank, directly or through ssh:
 *   dsmwrap --connect HOST:PORT --rank R
 *   dsmwrap --port PORT --rank R      (HOST: the client address in SSH_CONNECTION)
 * It reads the job id and secret from standard input (ctl.h), connects back
 * to dsmexec and authenticates, receives SETUP, checks the working directory
 * and the program, and answers READY or FAIL.  On GO it starts the program in
 * a process group of its own with the launcher environment (DSM_RANK, ...,
 * DSM_SECRET_FD) and standard input /dev/null; the program's stdout and stderr
 * are dsmwrap's, which dsmexec reads.  Then it forwards SIGNAL messages to the
 * group and reports the program's end with EXITED.  When the control
 * connection or standard input reaches EOF (dsmexec or ssh is gone) it ends
 * the program: SIGTERM to the group, SIGKILL after the grace period.  Before
 * it exits, it ends whatever the program left behind in its group or
 * reparented to it (dsmwrap is a child subreaper), so no process outlives it.
 * One thread; signals arrive through a signalfd.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"
#include "launch_env.h"
#include "log.h"
#include "machinefile.h"
#include "net.h"
#include "wire.h"

#define START_WAIT_NS (30LL * 1000000000) /* preamble, connection, SETUP */
#define MSG_WAIT_NS   (10LL * 1000000000) /* rest of a message once it started */
#define REAP_WAIT_NS  (5LL * 1000000000)  /* after SIGKILL */

static struct {
	int rank;
	char host[256];         /* where dsmexec is */
	int port;
	struct job_auth auth;
	int ctl;                /* control connection, -1 once lost */
	int in_open;            /* stdin not yet at EOF */
	struct ctl_setup setup;
	char path[PATH_MAX];    /* the program, resolved */
	int secret_fd;
	pid_t child, pgid;
	int child_done;
	int ending;             /* the program is being ended */
	int64_t kill_at, give_up_at;
} w = { .ctl = -1, .in_open = 1, .secret_fd = -1, .child = -1 };

static void usage(FILE *f)
{
	fprintf(f, "usage: dsmwrap (--connect HOST:PORT | --port PORT) --rank R\n"
		   "Started by dsmexec(1) on each host of a job; not meant to be run by hand.\n"
		   "Reads the job's credentials from standard input.  See dsmwrap(1).\n");
}

/* Read the preamble line byte by byte (nothing after it may be consumed). */
static int read_preamble(void)
{
	char line[CTL_PREAMBLE_MAX];
	size_t n = 0;
	int64_t deadline = now_ns() + START_WAIT_NS;

	while (n < sizeof(line)) {
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		int64_t left = (deadline - now_ns()) / 1000000;
		ssize_t r;

		if (left <= 0) {
			log_err("no credentials on standard input after %lld s", START_WAIT_NS / 1000000000);
			return -ETIMEDOUT;
		}
		if (poll(&p, 1, (int)left + 1) < 0 && errno != EINTR)
			return -errno;
		if (!p.revents)
			continue;
		r = read(STDIN_FILENO, line + n, 1);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0) {
			log_err("standard input closed before the credentials arrived "
				"(dsmwrap is started by dsmexec, not by hand)");
			return -EPIPE;
		}
		if (line[n++] == '\n')
			break;
	}
	if (ctl_preamble_parse(line, n, &w.auth)) {
		log_err("malformed credentials on standard input");
		return -EINVAL;
	}
	return 0;
}

/* Non-blocking look at stdin: 0 when dsmexec (or ssh) is gone. */
static int stdin_alive(void)
{
	struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
	char buf[256];

	if (!w.in_open)
		return 0;
	while (poll(&p, 1, 0) > 0 && p.revents) {
		ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			return 1;
		if (r <= 0) {
			w.in_open = 0;
			return 0;
		}
	}
	return 1;
}

/* Connect to dsmexec.  Retries refused connections until the deadline, but
 * gives up at once when stdin says dsmexec has gone.  A connection closed
 * before dsmexec's CHALLENGE was pushed out by a crowd of strangers at the
 * control port (ctl_pending_add()): connect again. */
static int connect_back(void)
{
	int64_t deadline = now_ns() + START_WAIT_NS;
	char why[256];
	int fd, rc;

again:
	for (;;) {
		int64_t step = now_ns() + 1000000000;

		fd = net_connect(w.host, w.port, step < deadline ? step : deadline);
		if (fd >= 0)
			break;
		if (fd != -ETIMEDOUT && fd != -ECONNREFUSED) {
			log_err("cannot connect to dsmexec at %s:%d: %s", w.host, w.port, strerror(-fd));
			return fd;
		}
		if (!stdin_alive())
			return -EPIPE;
		if (now_ns() >= deadline) {
			log_err("cannot connect to dsmexec at %s:%d: %s", w.host, w.port, strerror(-fd));
			return fd;
		}
	}
	rc = net_auth_connect(fd, &w.auth, (uint32_t)w.rank, WIRE_SRC_LAUNCHER, now_ns() + START_WAIT_NS,
			      why, sizeof(why));
	if ((rc == -EPIPE || rc == -ECONNRESET) && now_ns() + 50000000 < deadline && stdin_alive()) {
		log_debug("authentication with dsmexec at %s:%d: %s; connecting again", w.host, w.port, why);
		close(fd);
		usleep(20000);
		goto again;
	}
	if (rc) {
		log_err("authentication with dsmexec at %s:%d failed: %s", w.host, w.port, why);
		close(fd);
		return rc;
	}
	w.ctl = fd;
	return 0;
}

static int send_ctl(uint8_t type, uint32_t aux, uint64_t arg, const char *text)
{
	struct wire_hdr h = { .type = type, .src = (uint32_t)w.rank, .aux = aux, .arg = arg };
	size_t n = text ? strlen(text) : 0;

	if (w.ctl < 0)
		return -ENOTCONN;
	h.len = (uint32_t)(n < CTL_TEXT_MAX ? n : CTL_TEXT_MAX);
	return net_send_msg(w.ctl, &h, text, now_ns() + MSG_WAIT_NS);
}

static int fail(uint32_t code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(uint32_t code, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	send_ctl(WIRE_CTL_FAIL, code, 0, text);
	return -1;
}

/* Find the program the way execvp would, but report why not: 127 for not
 * found, 126 for found but not executable. */
static int find_program(const char *prog)
{
	const char *path, *p;
	int seen_noexec = 0;
	struct stat st;

	if (strchr(prog, '/')) {
		if (strlen(prog) >= sizeof(w.path))
			return fail(127, "program path '%s' is too long", prog);
		if (stat(prog, &st) < 0)
			return fail(errno == ENOENT || errno == ENOTDIR ? 127 : 126, "program '%s': %s", prog,
				    strerror(errno));
		if (S_ISDIR(st.st_mode))
			return fail(126, "program '%s' is a directory", prog);
		if (access(prog, X_OK) < 0)
			return fail(126, "program '%s' is not executable: %s", prog, strerror(errno));
		strcpy(w.path, prog);
		return 0;
	}
	path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path;; p = strchr(p, ':') + 1) {
		const char *end = strchr(p, ':');
		size_t dl = end ? (size_t)(end - p) : strlen(p);
		int n = snprintf(w.path, sizeof(w.path), "%.*s%s%s", (int)dl, p, dl ? "/" : "", prog);

		if (n > 0 && (size_t)n < sizeof(w.path) && stat(w.path, &st) == 0 && !S_ISDIR(st.st_mode)) {
			if (access(w.path, X_OK) == 0)
				return 0;
			seen_noexec = 1;
		}
		if (!end)
			break;
	}
	w.path[0] = '\0';
	if (seen_noexec)
		return fail(126, "program '%s' found in PATH but not executable", prog);
	return fail(127, "program '%s' not found in PATH (%s)", prog, path);
}

static void quiet_openmp(uint32_t local_size);
static void setenvf(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void setenvf(const char *name, const char *fmt, ...)
{
	char v[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	setenv(name, v, 1);
}

/* The launcher -> rank contract that dsm_init() reads. */
static int set_environment(void)
{
	const struct ctl_setup *s = &w.setup;
	static const uint8_t zero[DSM_SECRET_LEN];

	for (uint32_t i = 0; i < s->envc; i++) {
		char *eq = strchr(s->env[i], '=');
		*eq = '\0';
		setenv(s->env[i], eq + 1, 1);
		*eq = '=';
	}
	w.secret_fd = memfd_create("dsm-secret", MFD_CLOEXEC);
	if (w.secret_fd < 0)
		return fail(255, "memfd_create: %s", strerror(errno));
	if (pwrite(w.secret_fd, w.auth.secret, DSM_SECRET_LEN, 0) != DSM_SECRET_LEN ||
	    !memcmp(w.auth.secret, zero, sizeof(zero)))
		return fail(255, "cannot store the job secret: %s", strerror(errno));
	setenvf("DSM_RANK", "%u", s->rank);
	setenvf("DSM_NRANKS", "%u", s->size);
	setenvf("DSM_LOCAL_RANK", "%u", s->local_rank);
	setenvf("DSM_LOCAL_SIZE", "%u", s->local_size);
	setenvf("DSM_JOB_ID", "%016llx", (unsigned long long)w.auth.job_id);
	if (strchr(w.host, ':'))
		setenvf("DSM_RENDEZVOUS", "[%s]:%u", w.host, s->rdv_port);
	else
		setenvf("DSM_RENDEZVOUS", "%s:%u", w.host, s->rdv_port);
	setenvf("DSM_SECRET_FD", "%d", w.secret_fd);
	setenv("DSM_HOST", s->host, 1);
	setenv("DSM_LAUNCHER", "dsmexec", 1);
	setenv("PWD", s->cwd, 1);
	log_init_from_env();
	quiet_openmp(s->local_size);
	return 0;
}

/*
 * More threads than CPUs on this host: the ranks here, each with
 * OMP_NUM_THREADS threads (an OpenMP runtime's default: one per CPU).  An
 * OpenMP barrier's threads then spin (libgomp: GOMP_SPINCOUNT rounds,
 * milliseconds) on CPUs that the thread they wait for, or this rank's
 * service thread, needs; with a kernel that preempts a running thread only
 * at its next tick (4 ms at 250 Hz) a 2-rank x 2-thread CG took 8 s
 * instead of 0.6.  So, as Open MPI turns on yield-when-idle when it finds
 * a host oversubscribed, the ranks' OpenMP runtimes are told to wait
 * passively (OMP_WAIT_POLICY=passive), unless the user chose a wait policy
 * or libgomp's spin count.
 */
static void quiet_openmp(uint32_t local_size)
{
	const char *t = getenv("OMP_NUM_THREADS");
	long cpus = launch_env_cpus(), threads;

	if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT") || local_size < 2)
		return;
	threads = t && atol(t) > 0 ? atol(t) : cpus;
	if ((long)local_size * threads <= cpus)
		return;
	setenv("OMP_WAIT_POLICY", "passive", 1);
	log_info("%u ranks x %ld threads on %ld CPUs: OMP_WAIT_POLICY=passive", local_size, threads, cpus);
}

/* SETUP -> checks -> READY/FAIL.  Returns 0 when READY was sent. */
static int prepare(void)
{
	uint8_t *buf = malloc(WIRE_MAX_PAYLOAD);
	struct wire_hdr h;
	char why[256];
	int rc;

	if (!buf)
		return -ENOMEM;
	rc = net_recv_msg(w.ctl, &h, buf, WIRE_MAX_PAYLOAD, now_ns() + START_WAIT_NS);
	if (rc == 0 && h.type != WIRE_CTL_SETUP)
		rc = -EPROTO;
	if (rc) {
		free(buf);
		log_err("no SETUP from dsmexec: %s", rc == -EPROTO ? "unexpected message" : strerror(-rc));
		return rc;
	}
	rc = ctl_setup_decode(buf, h.len, &w.setup, why, sizeof(why));
	free(buf);
	if (rc)
		return fail(255, "%s", why);
	if (w.setup.rank != (uint32_t)w.rank)
		return fail(255, "SETUP for rank %u sent to rank %d", w.setup.rank, w.rank);
	if (chdir(w.setup.cwd) < 0)
		return fail(255, "working directory '%s' is not usable on this host: %s", w.setup.cwd,
			    strerror(errno));
	if (find_program(w.setup.program))
		return -1;
	if (set_environment())
		return -1;
	return send_ctl(WIRE_CTL_READY, 0, (uint64_t)getpid(), NULL);
}

/* Wait for GO.  1: go; 0: dsmexec ended the job before it started, or a
 * signal (sfd) told us to stop. */
static int wait_go(int sfd)
{
	int64_t deadline = now_ns() + (int64_t)w.setup.wait_ms * 1000000 + START_WAIT_NS;

	for (;;) {
		struct pollfd p[3] = { { .fd = w.ctl, .events = POLLIN },
				       { .fd = sfd, .events = POLLIN },
				       { .fd = w.in_open ? STDIN_FILENO : -1, .events = POLLIN } };
		int64_t left = (deadline - now_ns()) / 1000000;
		struct wire_hdr h;
		uint8_t buf[64];

		if (left <= 0) {
			log_err("no GO from dsmexec in time; giving up");
			return 0;
		}
		if (poll(p, 3, left > 60000 ? 60000 : (int)left + 1) < 0 && errno != EINTR)
			return 0;
		if (p[1].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == sizeof(si))
				if (si.ssi_signo != SIGCHLD)
					return 0;
		}
		if (p[2].revents && !stdin_alive())
			return 0;
		if (!p[0].revents)
			continue;
		if (net_recv_msg(w.ctl, &h, buf, sizeof(buf), now_ns() + MSG_WAIT_NS))
			return 0;
		if (h.type == WIRE_CTL_GO)
			return 1;
		if (h.type == WIRE_CTL_SIGNAL)
			return 0;
	}
}

static void start_program(const sigset_t *oldmask)
{
	pid_t parent = getpid();
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pid_t pid;

	if (devnull < 0) {
		log_err("cannot open /dev/null: %s", strerror(errno));
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		send_ctl(WIRE_CTL_EXITED, CTL_EXIT_CODE, 127, NULL);
		log_err("fork: %s", strerror(errno));
		exit(1);
	}
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(128 + SIGKILL);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGINT, SIG_DFL); /* what we forward must not be ignored */
		signal(SIGTERM, SIG_DFL);
		sigprocmask(SIG_SETMASK, oldmask, NULL);
		if (dup2(devnull, STDIN_FILENO) < 0 || fcntl(w.secret_fd, F_SETFD, 0) < 0) {
			dprintf(STDERR_FILENO, "dsmwrap: setting up rank %d: %s\n", w.rank, strerror(errno));
			_exit(127);
		}
		/* The same layout in every rank: DSM_SHARED variables and functions
		 * at the same addresses (dsm_init checks). */
		if (personality(0xffffffff) != -1)
			personality((unsigned long)personality(0xffffffff) | ADDR_NO_RANDOMIZE);
		execv(w.path, w.setup.argv);
		dprintf(STDERR_FILENO, "dsmwrap: cannot execute %s: %s\n", w.path, strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	setpgid(pid, pid); /* also here: no window where a signal misses the group */
	close(devnull);
	close(w.secret_fd);
	w.child = w.pgid = pid;
}

/* Signal the program's group and every process reparented to us. */
static void signal_all(int sig)
{
	char path[64], buf[4096];
	int fd;

	if (w.pgid > 0)
		kill(-w.pgid, sig);
	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		for (char *p = buf, *e; *p; p = e) {
			long pid = strtol(p, &e, 10);
			if (e == p)
				break;
			if (pid > 0)
				kill((pid_t)pid, sig);
		}
	}
}

static void begin_end(void)
{
	if (w.ending)
		return;
	w.ending = 1;
	signal_all(SIGTERM);
	w.kill_at = now_ns() + (int64_t)w.setup.grace_ms * 1000000;
	w.give_up_at = w.kill_at + REAP_WAIT_NS;
}

static void report_exit(int status)
{
	char text[128];

	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		snprintf(text, sizeof(text), "%s%s", strsignal(sig), WCOREDUMP(status) ? " (core dumped)" : "");
		send_ctl(WIRE_CTL_EXITED, CTL_EXIT_SIGNAL, (uint64_t)sig, text);
	} else {
		send_ctl(WIRE_CTL_EXITED, CTL_EXIT_CODE, (uint64_t)WEXITSTATUS(status), NULL);
	}
}

/* Reap everything that has ended.  Returns 1 when no child is left. */
static int reap(void)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid < 0)
			return errno == ECHILD;
		if (pid == 0)
			return 0;
		if (pid == w.child) {
			w.child_done = 1;
			report_exit(status);
			begin_end(); /* whatever it left behind */
		}
	}
}

static void on_ctl(void)
{
	uint8_t buf[64];
	struct wire_hdr h;
	int sig;

	if (net_recv_msg(w.ctl, &h, buf, sizeof(buf), now_ns() + MSG_WAIT_NS)) {
		close(w.ctl);
		w.ctl = -1;
		begin_end();
		return;
	}
	if (h.type != WIRE_CTL_SIGNAL)
		return;
	sig = ctl_sig_from_wire(h.arg);
	if (sig > 0 && !w.child_done)
		kill(-w.pgid, sig);
	if (sig == SIGKILL)
		signal_all(SIGKILL);
}

static void run(int sfd)
{
	for (;;) {
		struct pollfd p[3] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = w.ctl, .events = POLLIN },
			{ .fd = w.in_open ? STDIN_FILENO : -1, .events = POLLIN },
		};
		int timeout = -1;

		if (w.ending) {
			int64_t now = now_ns(), next = w.kill_at ? w.kill_at : w.give_up_at;
			if (w.kill_at && now >= w.kill_at) {
				signal_all(SIGKILL);
				w.kill_at = 0;
				continue;
			}
			if (now >= w.give_up_at) {
				log_err("rank %d: processes of the program did not end; leaving", w.rank);
				return;
			}
			timeout = (int)((next - now) / 1000000) + 1;
		}
		if (poll(p, 3, timeout) < 0 && errno != EINTR)
			return;
		if (p[0].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo != SIGCHLD && !w.child_done)
					kill(-w.pgid, (int)si.ssi_signo);
			}
			if (reap() && w.child_done)
				return;
		}
		if (p[1].revents)
			on_ctl();
		if (p[2].revents && !stdin_alive())
			begin_end();
	}
}

static int parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "port", required_argument, NULL, 'p' },
		{ "rank", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *connect = NULL, *port = NULL;
	char *end;
	long v;
	int c;

	w.rank = -1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': connect = optarg; break;
		case 'p': port = optarg; break;
		case 'r':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v < 0 || v >= MF_RANKS_MAX) {
				log_err("--rank %s: not a rank", optarg);
				return -1;
			}
			w.rank = (int)v;
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind != argc || w.rank < 0 || !!connect == !!port) {
		usage(stderr);
		return -1;
	}
	if (connect) {
		if (net_split_hostport(connect, w.host, sizeof(w.host), &w.port)) {
			log_err("--connect %s: expected HOST:PORT", connect);
			return -1;
		}
		return 0;
	}
	errno = 0;
	v = strtol(port, &end, 10);
	if (errno || *end || v < 1 || v > 65535) {
		log_err("--port %s: not a port number", port);
		return -1;
	}
	w.port = (int)v;
	/* SSH_CONNECTION="client_ip client_port server_ip server_port" */
	const char *sc = getenv("SSH_CONNECTION");
	size_t n = sc ? strcspn(sc, " ") : 0;
	if (!sc || n == 0 || n >= sizeof(w.host)) {
		log_err("--port needs SSH_CONNECTION in the environment (or use --connect HOST:PORT)");
		return -1;
	}
	memcpy(w.host, sc, n);
	w.host[n] = '\0';
	return 0;
}

int main(int argc, char **argv)
{
	sigset_t mask, oldmask;
	int sfd;

	log_set_ident("dsmwrap");
	log_init_from_env();
	if (parse_args(argc, argv))
		return 2;
	signal(SIGPIPE, SIG_IGN);
	if (read_preamble() || connect_back())
		return 1;
	if (prepare()) {
		/* FAIL sent (or the connection is gone): dsmexec reports it. */
		close(w.ctl);
		return 1;
	}
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, &oldmask);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		fail(255, "signalfd: %s", strerror(errno));
		return 1;
	}
	if (!wait_go(sfd))
		return 0;
	start_program(&oldmask);
	run(sfd);
	if (w.ctl >= 0)
		close(w.ctl);
	ctl_setup_free(&w.setup);
	return 0;
}
