/*
 * launcher_prog - a rank for the launcher tests that needs no dsm_init: it
 * runs the actions on its command line in order.  "@R:action" runs only on
 * rank R (DSM_RANK).
 *
 *   info          print the launcher environment on stdout, one line on stderr
 *   mark=DIR      create DIR/started.RANK
 *   waitmarks=DIR:N   wait until DIR/started.0 .. started.N-1 exist
 *   until=PATH    wait until PATH exists
 *   trap=DIR      on SIGINT/SIGTERM/SIGHUP create DIR/sig.RANK.SIGNO, then die of it
 *   note=DIR      the same, but carry on
 *   ignore=SIG    ignore a signal
 *   sleep=SECONDS sleep (through signals that are ignored or trapped)
 *   exit=CODE     exit with CODE
 *   kill=SIG      kill itself with SIG
 *   lines=N       write N numbered lines to stdout, each in several write()s
 *   partial=TEXT  write TEXT to stdout with no newline
 *   long=N        write one line of N 'x' to stdout, in one write()
 *   orphan        leave a grandchild behind in a new session, sleeping
 *   child         leave a child behind in the process group, sleeping
 * Every wait gives up after 30 s (exit 99), so a broken launcher cannot hang it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int rank = -1;
static char trap_dir[PATH_MAX];
static int trap_dies;

static void on_signal(int sig)
{
	char path[PATH_MAX + 64];
	int fd;

	snprintf(path, sizeof(path), "%s/sig.%d.%d", trap_dir, rank, sig);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0)
		close(fd);
	if (!trap_dies)
		return;
	signal(sig, SIG_DFL);
	raise(sig);
}

static void sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			exit(98);
		p += w;
		n -= (size_t)w;
	}
}

static void info(void)
{
	static const char *vars[] = { "DSM_RANK", "DSM_NRANKS", "DSM_LOCAL_RANK", "DSM_LOCAL_SIZE", "DSM_JOB_ID",
				      "DSM_RENDEZVOUS", "DSM_HOST", "DSM_LAUNCHER", "DSM_TEST_VAR", "DSM_SIZE",
				      "DSM_SERVERS" };
	unsigned char secret[33];
	char line[4096], cwd[PATH_MAX];
	struct stat in, nul;
	const char *fdv = getenv("DSM_SECRET_FD");
	size_t o;
	ssize_t n = -1;

	o = (size_t)snprintf(line, sizeof(line), "info rank=%d", rank);
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i]);
		o += (size_t)snprintf(line + o, sizeof(line) - o, " %s=%s", vars[i], v ? v : "(unset)");
	}
	if (fdv)
		n = pread(atoi(fdv), secret, sizeof(secret), 0);
	o += (size_t)snprintf(line + o, sizeof(line) - o, " secret=");
	for (ssize_t i = 0; i < n; i++)
		o += (size_t)snprintf(line + o, sizeof(line) - o, "%02x", secret[i]);
	if (n != 32)
		o += (size_t)snprintf(line + o, sizeof(line) - o, "BAD(%zd)", n);
	fstat(0, &in);
	stat("/dev/null", &nul);
	o += (size_t)snprintf(line + o, sizeof(line) - o, " stdin=%s cwd=%s ssh=%s\n",
			      S_ISCHR(in.st_mode) && in.st_rdev == nul.st_rdev ? "devnull" : "other",
			      getcwd(cwd, sizeof(cwd)) ? cwd : "?", getenv("SSH_CONNECTION") ? "yes" : "no");
	write_all(1, line, o);
	o = (size_t)snprintf(line, sizeof(line), "stderr of rank %d\n", rank);
	write_all(2, line, o);
}

static void wait_path(const char *path)
{
	for (int i = 0; i < 3000; i++) {
		if (access(path, F_OK) == 0)
			return;
		sleep_s(0.01);
	}
	fprintf(stderr, "launcher_prog: gave up waiting for %s\n", path);
	exit(99);
}

static void linger(int new_session)
{
	pid_t pid = fork();

	if (pid < 0)
		exit(97);
	if (pid > 0) {
		if (new_session) {
			int st;
			waitpid(pid, &st, 0);
		}
		return;
	}
	if (new_session) {
		if (fork() != 0)
			_exit(0);
		setsid();
	}
	sleep_s(300);
	_exit(0);
}

static void action(const char *a)
{
	char path[PATH_MAX + 64];

	if (!strcmp(a, "info")) {
		info();
	} else if (!strncmp(a, "mark=", 5)) {
		int fd;
		snprintf(path, sizeof(path), "%s/started.%d", a + 5, rank);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			exit(96);
		close(fd);
	} else if (!strncmp(a, "waitmarks=", 10)) {
		const char *colon = strrchr(a, ':');
		int n = colon ? atoi(colon + 1) : 0;
		for (int i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "%.*s/started.%d", (int)(colon - (a + 10)), a + 10, i);
			wait_path(path);
		}
	} else if (!strncmp(a, "until=", 6)) {
		wait_path(a + 6);
	} else if (!strncmp(a, "trap=", 5) || !strncmp(a, "note=", 5)) {
		trap_dies = a[0] == 't';
		snprintf(trap_dir, sizeof(trap_dir), "%s", a + 5);
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		signal(SIGHUP, on_signal);
	} else if (!strncmp(a, "ignore=", 7)) {
		signal(atoi(a + 7), SIG_IGN);
	} else if (!strncmp(a, "sleep=", 6)) {
		sleep_s(atof(a + 6));
	} else if (!strncmp(a, "exit=", 5)) {
		exit(atoi(a + 5));
	} else if (!strncmp(a, "kill=", 5)) {
		signal(atoi(a + 5), SIG_DFL);
		raise(atoi(a + 5));
	} else if (!strncmp(a, "lines=", 6)) {
		int n = atoi(a + 6);
		for (int i = 0; i < n; i++) {
			char line[256];
			int len = snprintf(line, sizeof(line), "line %d of rank %d %s\n", i, rank,
					   "abcdefghijklmnopqrstuvwxyz0123456789");
			/* in pieces, so the launcher has to put lines together */
			write_all(1, line, 7);
			write_all(1, line + 7, (size_t)len - 7);
		}
	} else if (!strncmp(a, "long=", 5)) {
		size_t n = (size_t)atol(a + 5);
		char *buf = malloc(n + 1);
		if (!buf)
			exit(97);
		memset(buf, 'x', n);
		buf[n] = '\n';
		write_all(1, buf, n + 1);
		free(buf);
	} else if (!strncmp(a, "partial=", 8)) {
		write_all(1, a + 8, strlen(a + 8));
	} else if (!strcmp(a, "orphan")) {
		linger(1);
	} else if (!strcmp(a, "child")) {
		linger(0);
	} else {
		fprintf(stderr, "launcher_prog: unknown action '%s'\n", a);
		exit(95);
	}
}

int main(int argc, char **argv)
{
	const char *r = getenv("DSM_RANK");

	rank = r ? atoi(r) : -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] == '@') {
			char *colon = strchr(a, ':');
			if (!colon || atoi(a + 1) != rank)
				continue;
			a = colon + 1;
		}
		action(a);
	}
	return 0;
}
