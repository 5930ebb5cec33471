/*
 * runtime.c - joining and leaving a job: configuration from the environment,
 * the region, the rendezvous and mesh, the service thread, and the
 * collectives the runtime itself needs (barrier, finalize).
 *
 * Design of the collectives (service thread):
 *   barrier:  dsm_init's barrier (epoch 1) goes through rank 0: each rank
 *             sends BARRIER_ENTER to rank 0, which checks what every rank
 *             must agree on (DSM_SERVERS, the DSM_SHARED layout) and, once
 *             it has all `size` enters, sends BARRIER_RELEASE to every rank.
 *             The application's barriers (dsm_barrier, dsm_finalize's) are
 *             sync.c's dissemination barrier: no rank in the middle.
 *   finalize: after a barrier, each rank sends BYE to every peer and waits for
 *             every peer's BYE; a peer's end of stream after its BYE is
 *             expected, before it is a failure.
 *   servers:  with DSM_SERVERS=N the last N ranks only serve.  The barrier in
 *             dsm_init (epoch 1) counts every rank; later barriers are the
 *             application's and count (and involve) the other ranks only.  A server's
 *             dsm_init goes straight on to finalize, where it says BYE only
 *             once every application rank has (they may need it until then),
 *             and then exits the process.
 *
 * Locking: `rt` is written by dsm_init before the service thread starts and
 * only read afterwards.  The collective state below belongs to the service
 * thread.  One application thread at a time may call dsm_barrier().
 */
#include <dsm.h>

#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "coherence.h"
#include "globals.h"
#include "launch_env.h"
#include "log.h"
#include "mailbox.h"
#include "rc.h"
#include "rendezvous.h"
#include "rpc.h"
#include "runtime.h"
#include "stats.h"
#include "sync.h"
#include "transport.h"

#if defined(__SANITIZE_THREAD__)
#define DEFAULT_BASE 0x550000000000ULL /* inside ThreadSanitizer's application range */
#else
#define DEFAULT_BASE 0x200000000000ULL
#endif
#define DEFAULT_REGION (4ULL << 30)
#define DEFAULT_TIMEOUT_S 120
#define DSM_BASE_FLOOR (1ULL << 30)
#define DEFAULT_SPIN_US 200
#define DEFAULT_READAHEAD 256

struct dsm_rt rt = { .size = 1 };

static int initialized;
/* Where the program stands with the library, for the message a call made at
 * the wrong time prints (rt_live). */
static enum { LIFE_NEW, LIFE_FAILED, LIFE_LIVE, LIFE_DONE } life;
static int exit_hook_set;
static pid_t init_pid;               /* a forked child inherits the hook, not the job */
static struct rdv_server *root_server;
static int n_servers;                /* DSM_SERVERS: the last n_servers ranks only serve */
static struct launch_env lenv;       /* who started this rank (launch_env.c) */
static int secret_via_pmix;          /* the job secret comes from rank 0 through PMIx */

/* collective state: service thread only */
static int bar_done;                 /* dsm_init's barrier is behind this rank */
static struct mbox_req *bar_req;
static uint32_t bar_count;           /* rank 0: enters of dsm_init's barrier */
static struct mbox_req *fin_req;
static int byes;
static int app_byes;                 /* of those, from ranks that are not servers */
static int bye_sent;

void rt_fatal(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_err("fatal: %s", msg);
	_exit(1);
}

void rt_peer_lost(int peer, const char *why)
{
	/* Wait first: when the launcher saw the peer die it ends this rank
	 * during the wait, and its own message is the only one the user reads. */
	usleep(2000000);
	log_err("fatal: rank %d closed its connection unexpectedly (%s): it died or failed", peer, why);
	_exit(1);
}

int rt_live(const char *call)
{
	static const char *why[] = {
		[LIFE_NEW] = "before dsm_init",
		[LIFE_FAILED] = "after dsm_init failed",
		[LIFE_DONE] = "after dsm_finalize",
	};

	if (initialized)
		return 1;
	log_err("%s called %s", call, why[life]);
	return 0;
}

const char *rt_call_name(int kind)
{
	switch (kind) {
	case MBOX_BARRIER: return "dsm_barrier";
	default: return "a dsm_* function";
	}
}

/* ---- configuration ---------------------------------------------------- */

static int env_int(const char *name, long min, long max, long dflt, long *out)
{
	long long x;
	int rc = setting_int(name, min, max, dflt, &x);

	*out = (long)x;
	return rc;
}

/* DSM_TIMEOUT: seconds, or inf / off for no deadline at all (a rank stopped
 * in a debugger is then waited for, and never declared dead). */
static int read_timeout(int64_t *ns)
{
	const char *v = getenv("DSM_TIMEOUT");
	long secs;

	if (v && (!strcasecmp(v, "inf") || !strcasecmp(v, "off"))) {
		*ns = DSM_TIMEOUT_NEVER;
		log_info("DSM_TIMEOUT=%s: no deadlines, no failure detector", v);
		return 0;
	}
	if (env_int("DSM_TIMEOUT", 1, 1 << 24, DEFAULT_TIMEOUT_S, &secs)) {
		log_err("DSM_TIMEOUT=%s: seconds (1 to %d), or inf (or off) for no deadline", v, 1 << 24);
		return -EINVAL;
	}
	*ns = secs * 1000000000LL;
	return 0;
}

/* "4G", "512M", "65536", "0x1000": bytes. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	uint64_t x, mul = 1;

	if (*s < '0' || *s > '9') /* strtoull takes spaces and a minus sign */
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': mul = 1ULL << 10; end++; break;
	case 'm': case 'M': mul = 1ULL << 20; end++; break;
	case 'g': case 'G': mul = 1ULL << 30; end++; break;
	case 't': case 'T': mul = 1ULL << 40; end++; break;
	}
	if ((*end == 'b' || *end == 'B') && mul > 1)
		end++;
	if (*end || (x && mul > UINT64_MAX / x))
		return -EINVAL;
	*out = x * mul;
	return 0;
}

static int read_config(void)
{
	const char *v;
	uint64_t base = DEFAULT_BASE, size = DEFAULT_REGION;
	long servers, spin, ahead;
	int64_t tmo;
	int rc;

	if ((rc = settings_check()))
		return rc;
	if (read_timeout(&tmo))
		return -EINVAL;
	if (env_int("DSM_SPIN_US", 0, 1000000, DEFAULT_SPIN_US, &spin))
		return -EINVAL;
	rt.spin_ns = spin * 1000;
	if (env_int("DSM_READAHEAD", 0, 4096, DEFAULT_READAHEAD, &ahead))
		return -EINVAL;
	rt.readahead = (uint32_t)ahead;
	/* rank and size: from dsmexec, PMIx, Open MPI, MPICH or Slurm */
	if ((rc = launch_env_detect(&lenv)))
		return rc;
	log_info("rank %d of %d, started by %s", lenv.rank, lenv.size, lenv.name);
	if ((rc = launch_env_bind(lenv.local_rank))) /* DSM_BIND: before any thread starts */
		return rc;
	rt.rank = lenv.rank;
	rt.size = lenv.size;
	rt.timeout_ns = tmo;
	if (rt.size == 1)
		launch_env_done(); /* nobody to meet */
	if ((v = getenv("DSM_BASE")) && *v) {
		if (parse_size(v, &base) || base & (DSM_PAGE_SIZE - 1)) {
			log_err("DSM_BASE=%s: expected a page-aligned address such as 0x200000000000", v);
			return -EINVAL;
		}
		/* Near address 0, a NULL pointer plus an offset would land in the
		 * region: a bug would become a silent shared write. */
		if (base < DSM_BASE_FLOOR) {
			log_err("DSM_BASE=%s: below the lowest base allowed, %#llx (1 GiB): a region near "
				"address 0 turns NULL-pointer bugs into shared writes", v, DSM_BASE_FLOOR);
			return -EINVAL;
		}
	}
	if ((v = getenv("DSM_SIZE")) && *v) {
		if (parse_size(v, &size) || size == 0 || size & (DSM_PAGE_SIZE - 1) || size > (1ULL << 46)) {
			log_err("DSM_SIZE=%s: expected a multiple of 4 KiB up to 64T, such as 4G or 512M", v);
			return -EINVAL;
		}
	}
	if (base + size < base || base + size > (1ULL << 47)) {
		log_err("DSM_BASE + DSM_SIZE (%#" PRIx64 " + %#" PRIx64 ") leaves the user address space",
			base, size);
		return -EINVAL;
	}
	/* Rank 0 runs the program: at most DSM_NRANKS - 1 servers. */
	if (env_int("DSM_SERVERS", 0, rt.size - 1, 0, &servers))
		return -EINVAL;
	n_servers = (int)servers;
	rt.base = (uintptr_t)base;
	rt.region_size = (size_t)size;
	rt.npages = size >> DSM_PAGE_SHIFT;
	rt.region_pages = rt.npages; /* globals_scan() adds the globals' pages to npages */
	v = getenv("DSM_HOME");
	rt.first_touch = 0;
	if (!v || !*v || !strcmp(v, "cyclic")) {
		rt.pages_per_home = 0;
	} else if (!strcmp(v, "block")) {
		rt.pages_per_home = (rt.npages + (uint64_t)rt.size - 1) / (uint64_t)rt.size;
	} else if (!strcmp(v, "first-touch")) {
		rt.pages_per_home = 0; /* the directories that assign the homes: cyclic */
		rt.first_touch = 1;
	} else {
		log_err("DSM_HOME=%s: expected cyclic, block or first-touch", v);
		return -EINVAL;
	}
	return 0;
}

static int choose_backend(void)
{
	const char *v = getenv("DSM_BACKEND");
	char why[200];

	if (v && !strcmp(v, "sigsegv")) {
		rt.be = &fault_segv;
		return 0;
	}
	if (v && *v && strcmp(v, "uffd") && strcmp(v, "uffd-sigbus") && strcmp(v, "auto")) {
		log_err("DSM_BACKEND=%s: expected uffd, uffd-sigbus, sigsegv or auto", v);
		return -EINVAL;
	}
	fault_uffd_want_sigbus(v && !strcmp(v, "uffd-sigbus"));
	if (fault_uffd_probe(why, sizeof(why)) == 0) {
		rt.be = &fault_uffd;
		return 0;
	}
	if (v && !strncmp(v, "uffd", 4)) {
		log_err("DSM_BACKEND=%s, but %s", v, why);
		return -ENOTSUP;
	}
	log_info("using the sigsegv backend: %s", why);
	rt.be = &fault_segv;
	return 0;
}

/* The job secret: an inherited descriptor from the launcher, a file on a
 * shared file system that only the user can read, the PMIx key-value store
 * (rank 0 makes the secret up), or nothing at all when the user says so.
 * The job id: DSM_JOB_ID, else the launcher's job (and step) ids. */
static int read_secret(void)
{
	const char *fdv = getenv("DSM_SECRET_FD"), *file = getenv("DSM_SECRET_FILE");
	const char *job = getenv("DSM_JOB_ID");
	int insecure;

	rt.auth.job_id = lenv.have_job_id ? lenv.job_id : 0;
	if (job && *job) {
		char *end;
		errno = 0;
		rt.auth.job_id = strtoull(job, &end, 16);
		if (errno || *end || !isxdigit((unsigned char)*job) || strlen(job) > 16) {
			log_err("DSM_JOB_ID=%s: expected up to 16 hex digits", job);
			return -EINVAL;
		}
	}
	if (fdv && *fdv) {
		char *end;
		long fd;
		ssize_t n;

		errno = 0;
		fd = strtol(fdv, &end, 10);
		if (errno || *end || *fdv < '0' || *fdv > '9' || fd > 1 << 20) {
			log_err("DSM_SECRET_FD=%s: not a descriptor number", fdv);
			return -EINVAL;
		}
		n = pread((int)fd, rt.auth.secret, DSM_SECRET_LEN, 0);
		if (n != DSM_SECRET_LEN) {
			log_err("DSM_SECRET_FD=%ld: cannot read the %d-byte job secret: %s", fd, DSM_SECRET_LEN,
				n < 0 ? strerror(errno) : "too short");
			return -EINVAL;
		}
		close((int)fd);
		unsetenv("DSM_SECRET_FD");
		return 0;
	}
	if (file && *file) {
		uint8_t buf[4096];
		struct stat st;
		int fd = open(file, O_RDONLY | O_CLOEXEC);
		ssize_t n;

		if (fd < 0 || fstat(fd, &st) < 0) {
			log_err("DSM_SECRET_FILE=%s: %s", file, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -EINVAL;
		}
		/* Anyone who can read the secret can join the job and read its memory. */
		if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & (S_IRWXG | S_IRWXO))) {
			if (!S_ISREG(st.st_mode))
				log_err("DSM_SECRET_FILE=%s: not a regular file", file);
			else if (st.st_uid != geteuid())
				log_err("DSM_SECRET_FILE=%s: belongs to uid %u, not to this user (uid %u): the "
					"secret must be the user's own", file, (unsigned)st.st_uid, (unsigned)geteuid());
			else
				log_err("DSM_SECRET_FILE=%s: mode %04o lets group or others at the job secret; "
					"refused (chmod 600 %s)", file, (unsigned)(st.st_mode & 07777), file);
			close(fd);
			return -EACCES;
		}
		n = read(fd, buf, sizeof(buf));
		close(fd);
		if (n < 16) {
			log_err("DSM_SECRET_FILE=%s: %s", file,
				n < 0 ? strerror(errno) : "holds fewer than 16 bytes of secret");
			return -EINVAL;
		}
		crypto_generichash(rt.auth.secret, DSM_SECRET_LEN, buf, (size_t)n, NULL, 0);
		sodium_memzero(buf, sizeof(buf));
		return 0;
	}
	if (lenv.pmix) {
		struct job_auth fresh;

		if (rt.rank == 0) {
			if (job_auth_generate(&fresh)) {
				log_err("cannot make up a job secret: libsodium failed to start");
				return -EIO;
			}
			memcpy(rt.auth.secret, fresh.secret, DSM_SECRET_LEN);
			sodium_memzero(&fresh, sizeof(fresh));
		}
		secret_via_pmix = 1;
		log_info("the job secret comes from rank 0 through PMIx");
		return 0;
	}
	if (setting_flag("DSM_INSECURE", 0, &insecure))
		return -EINVAL;
	if (insecure) {
		log_warn("DSM_INSECURE=1: this job's connections are not authenticated");
		memset(rt.auth.secret, 0, DSM_SECRET_LEN);
		return 0;
	}
	if (lenv.kind == LAUNCH_DSM)
		log_err("no job secret: start the job with dsmexec, or set DSM_SECRET_FILE (or DSM_INSECURE=1 "
			"to run without authentication)");
	else
		log_err("no job secret for this job started by %s: set DSM_SECRET_FILE to a file only you can "
			"read, on a file system every host sees (or DSM_INSECURE=1 to run without "
			"authentication)", lenv.name);
	return -EACCES;
}

/* Listen, meet the other ranks (at the rendezvous, or through PMIx), connect
 * the mesh.  Where the job meets: DSM_RENDEZVOUS (dsmexec), else DSM_ROOT,
 * else PMIx, else the launcher's default (Slurm's, see launch_env.h). */
static int join_job(void)
{
	const char *host = getenv("DSM_HOST"), *rdv = getenv("DSM_RENDEZVOUS");
	const char *root = getenv("DSM_ROOT");
	int64_t deadline = now_ns() + rt.timeout_ns;
	int timeout_ms = rt.timeout_ns / 1000000 > INT_MAX ? INT_MAX : (int)(rt.timeout_ns / 1000000);
	struct rdv_entry *tab = NULL;
	char rhost[256], me[RDV_ADDR_MAX], hostbuf[RDV_ADDR_MAX];
	int lfd = -1, port, rport = 0, rc;

	if ((!rdv || !*rdv) && root && *root)
		rdv = root;
	else
		root = NULL;
	if ((!rdv || !*rdv) && !lenv.pmix && lenv.root[0]) {
		rdv = root = lenv.root;
		log_info("the rendezvous is at %s: %s", rdv, lenv.root_origin);
	}
	if (!rdv || !*rdv) {
		rdv = NULL;
		if (!lenv.pmix) {
			log_err("%s=%d but nothing says where the job meets: set DSM_ROOT=host:port, rank 0's "
				"host and a free port%s%s%s", lenv.size_var, rt.size, lenv.root_origin[0] ? " (" : "",
				lenv.root_origin, lenv.root_origin[0] ? ")" : "");
			rc = -EINVAL;
			goto out;
		}
	}
	if (rdv && net_split_hostport(rdv, rhost, sizeof(rhost), &rport)) {
		log_err("%s=%s: expected host:port", root ? "DSM_ROOT" : "DSM_RENDEZVOUS", rdv);
		rc = -EINVAL;
		goto out;
	}
	if ((rc = read_secret()))
		goto out;
	if (!host || !*host) {
		launch_env_listen_host(&lenv, rdv ? rhost : NULL, hostbuf, sizeof(hostbuf));
		host = hostbuf;
	}
	/* The secret through PMIx, the rendezvous elsewhere: fetch it first. */
	if (secret_via_pmix && rdv &&
	    (rc = launch_env_pmix_exchange(NULL, 0, rt.auth.secret, 1, NULL, 0, timeout_ms)))
		goto out;
	if (root && rt.rank == 0) {
		rc = rdv_server_start(rhost, rport, rt.size, &rt.auth, timeout_ms, &root_server, &rport);
		if (rc) {
			if (root == lenv.root)
				log_err("rank 0 cannot host the rendezvous at %s (%s): set DSM_ROOT=host:port",
					root, lenv.root_origin);
			goto out;
		}
	}
	lfd = net_listen(host, 0, &port);
	if (lfd < 0) {
		if (host != hostbuf)
			log_err("DSM_HOST=%s: this rank cannot listen there", host);
		rc = lfd;
		goto out;
	}
	if ((rc = net_local_addr(lfd, me, sizeof(me)))) {
		log_err("cannot tell the address of this rank's socket");
		goto out;
	}
	log_info("listening for peers on %s:%d", me, port);
	tab = calloc((size_t)rt.size, sizeof(*tab));
	if (!tab)
		rc = -ENOMEM;
	else if (rdv)
		rc = rdv_register(rhost, rport, &rt.auth, rt.rank, rt.size, me, port, tab, deadline);
	else
		rc = launch_env_pmix_exchange(me, port, rt.auth.secret, secret_via_pmix, tab, rt.size, timeout_ms);
	/* PMIx is done with: from here on the launcher sees a plain process */
	launch_env_done();
	if (rc == 0)
		rc = tp_mesh(tab, lfd, deadline);
out:
	launch_env_done();
	free(tab);
	if (lfd >= 0)
		close(lfd);
	return rc;
}

/* ---- public API -------------------------------------------------------- */

static int call(int kind);

/* A program that returns from main (or calls exit) without dsm_finalize.
 * Status 0: finalize for it, as dsm_finalize would, so the job ends normally
 * once every rank has left.  Another status: the rank is failing, perhaps
 * while the others still work; a collective finalize could wait for them
 * forever, so it leaves at once and the launcher ends the job naming it.
 * Either way stdio goes out first, so no output is lost whatever follows. */
static void exit_hook(int status, void *arg)
{
	(void)arg;
	if (!initialized || getpid() != init_pid)
		return;
	fflush(NULL);
	if (status != 0) {
		log_info("exiting with status %d without dsm_finalize()", status);
		return;
	}
	log_info("the program returned without dsm_finalize(); finalizing for it");
	if (dsm_finalize())
		_exit(1);
}

int dsm_init(int *argc, char ***argv)
{
	char ident[32];
	int rc;

	(void)argc;
	(void)argv;
	if (initialized) {
		log_err("dsm_init called twice: this rank already joined the job");
		return -EALREADY;
	}
	if (life == LIFE_DONE) {
		log_err("dsm_init called after dsm_finalize: a process joins one job once");
		return -EALREADY;
	}
	life = LIFE_FAILED; /* until it succeeds */
	log_init_from_env();
	if (!exit_hook_set && on_exit(exit_hook, NULL) == 0)
		exit_hook_set = 1;
	if ((rc = read_config()))
		return rc;
	if ((rc = globals_scan())) /* DSM_SHARED: before anything counts pages */
		return rc;
	if ((rc = rc_init())) /* DSM_CONSISTENCY, the release-consistent arena */
		return rc;
	snprintf(ident, sizeof(ident), "dsm %d", rt.rank);
	log_set_ident(ident);
	if ((rc = stats_init()))
		return rc;
	if ((rc = choose_backend()))
		return rc;
	if ((rc = rt.be->map(rt.base, rt.region_size)))
		return rc;
	if ((rc = globals_map()))
		goto err_unmap;
	if ((rc = coh_init()))
		goto err_unmap;
	if ((rc = sync_init()))
		goto err_coh;
	if ((rc = rpc_init()))
		goto err_sync;
	bar_done = 0;
	bar_count = 0;
	byes = app_byes = bye_sent = 0;
	if (rt.size > 1 && (rc = join_job()))
		goto err_rpc;
	/* DSM_RESTART: before any rank can ask for a page (no service thread
	 * yet, and no rank leaves dsm_init's barrier before every rank is in). */
	if ((rc = ckpt_restore()))
		goto err_rpc;
	if ((rc = globals_install())) /* rank 0's DSM_SHARED values, unless restored */
		goto err_rpc;
	if ((rc = tp_start()))
		goto err_rpc;
	initialized = 1;
	life = LIFE_LIVE;
	init_pid = getpid();
	stats_start();
	log_info("rank %d of %d joined; region %#lx + %zu bytes, %s backend%s%s", rt.rank, rt.size,
		 (unsigned long)rt.base, rt.region_size, rt.be->name,
		 rt.be == &fault_uffd && fault_uffd_sigbus() ? " (SIGBUS mode)" : "",
		 dsm_is_server(rt.rank) ? "; serving only" : "");
	rc = call(MBOX_BARRIER);
	if (rc || !dsm_is_server(rt.rank))
		return rc;
	/* A server serves until every application rank has finalized, then
	 * leaves without returning to the program. */
	exit(dsm_finalize() ? 1 : 0);

err_rpc:
	rpc_fini();
err_sync:
	sync_fini();
err_coh:
	coh_fini();
err_unmap:
	rc_fini();
	globals_unmap();
	rt.be->unmap();
	rdv_server_stop(root_server);
	root_server = NULL;
	return rc;
}

static int call(int kind)
{
	struct mbox_req req = { .kind = kind };

	if (!rt_live(rt_call_name(kind)))
		return -EINVAL;
	return tp_call(&req);
}

/* An application barrier, with dsm_allgather's data (g) or without (NULL):
 * a release and the barrier in one request to the service thread, then an
 * acquire (nothing to do, and no request, when the service thread applied
 * every notice as it came). */
static int app_barrier(struct sync_gather *g, int64_t t0)
{
	struct mbox_req req = { .kind = MBOX_BARRIER, .p = g };
	int rc = tp_call(&req); /* the release too (sync_barrier) */

	if (rc == 0)
		rc = rc_acquire();
	if (rc == 0)
		stats_waited(MBOX_BARRIER, 0, t0);
	return rc;
}

int dsm_barrier(void)
{
	int64_t t0 = obs_clock();

	if (!rt_live("dsm_barrier"))
		return -EINVAL;
	if (dsm_is_server(rt.rank))
		return -EPERM;
	if (rt.size == 1) {
		/* Nobody to wait for, and no thread to wake: a rank of one whose
		 * other threads spin (OpenMP's barrier does) would otherwise
		 * wait for its service thread to get a CPU. */
		atomic_thread_fence(memory_order_seq_cst);
		stats_waited(MBOX_BARRIER, 0, t0);
		return 0;
	}
	return app_barrier(NULL, t0);
}

int dsm_allgather(const void *mine, size_t len, void *all)
{
	int64_t t0 = obs_clock();
	struct sync_gather g = { .len = (uint32_t)len };
	size_t n = (size_t)(rt.size - n_servers), total = n * len;
	void *bounce;
	int rc;

	if (!rt_live("dsm_allgather"))
		return -EINVAL;
	if (dsm_is_server(rt.rank))
		return -EPERM;
	if (!mine || !all || !len || len > DSM_GATHER_MAX / n ||
	    ((const char *)mine < (char *)all + total && (char *)all < (const char *)mine + len))
		return -EINVAL;
	if (n == 1) {
		memcpy(all, mine, len);
		atomic_thread_fence(memory_order_seq_cst);
		stats_waited(MBOX_BARRIER, 0, t0);
		return 0;
	}
	/* The service thread reads and writes private copies: it never
	 * touches the shared region through the application's view. */
	if (!(bounce = malloc(total + len)))
		return -ENOMEM;
	memcpy((char *)bounce + total, mine, len);
	g.mine = (char *)bounce + total;
	g.all = bounce;
	if ((rc = app_barrier(&g, t0)) == 0)
		memcpy(all, bounce, total);
	free(bounce);
	return rc;
}

#define COMBINE(T)                                                                                     \
	do {                                                                                           \
		T *r = buf;                                                                            \
		const T *v = (const T *)all;                                                           \
		for (size_t i = 0; i < count; i++) {                                                   \
			T x = v[i];                                                                    \
			for (size_t k = 1; k < n; k++) {                                               \
				T y = v[k * count + i];                                                \
				x = op == DSM_SUM ? x + y : op == DSM_MIN ? (y < x ? y : x) : (y > x ? y : x); \
			}                                                                              \
			r[i] = x;                                                                      \
		}                                                                                      \
	} while (0)

int dsm_allreduce(void *buf, size_t count, enum dsm_type type, enum dsm_op op)
{
	size_t es = type == DSM_INT32 ? 4 : 8, n;
	void *all;
	int rc;

	if (!rt_live("dsm_allreduce"))
		return -EINVAL;
	if ((unsigned)type > DSM_DOUBLE || (unsigned)op > DSM_MAX || !buf || !count || count > SIZE_MAX / es)
		return -EINVAL;
	if (dsm_is_server(rt.rank))
		return -EPERM;
	n = (size_t)(rt.size - n_servers);
	if (count > DSM_GATHER_MAX / n / es)
		return -EINVAL; /* what dsm_allgather() would refuse */
	if (!(all = malloc(n * count * es)))
		return -ENOMEM;
	rc = dsm_allgather(buf, count * es, all);
	if (rc == 0) {
		switch (type) {
		case DSM_INT32: COMBINE(int32_t); break;
		case DSM_INT64: COMBINE(int64_t); break;
		case DSM_UINT64: COMBINE(uint64_t); break;
		case DSM_DOUBLE: COMBINE(double); break;
		}
	}
	free(all);
	return rc;
}

int dsm_finalize(void)
{
	int rc;

	if (!rt_live("dsm_finalize"))
		return -EINVAL;
	rc = dsm_is_server(rt.rank) ? 0 : dsm_barrier();
	if (rc == 0)
		rc = call(MBOX_FINALIZE);
	tp_join();
	rpc_fini();
	stats_fini();
	sync_fini();
	coh_fini();
	rc_fini();
	globals_unmap();
	rt.be->unmap();
	rdv_server_stop(root_server);
	root_server = NULL;
	initialized = 0;
	life = LIFE_DONE;
	return rc;
}

int dsm_rank(void) { return rt.rank; }
int dsm_size(void) { return rt.size; }
void *dsm_base(void) { return initialized ? (void *)rt.base : NULL; }
size_t dsm_region_size(void) { return initialized ? rt.region_size : 0; }
size_t dsm_page_size(void) { return DSM_PAGE_SIZE; }
int dsm_num_servers(void) { return n_servers; }
int dsm_is_server(int rank) { return n_servers > 0 && rank >= rt.size - n_servers && rank < rt.size; }

/* ---- service thread: collectives ---------------------------------------- */

static void check_finalized(void)
{
	struct wire_hdr h = { .type = WIRE_BYE };

	if (!fin_req)
		return;
	if (!bye_sent && (!dsm_is_server(rt.rank) || app_byes == rt.size - n_servers)) {
		bye_sent = 1;
		for (int i = 0; i < rt.size; i++)
			if (i != rt.rank)
				tp_send(i, &h, NULL);
	}
	if (bye_sent && byes == rt.size - 1) {
		mbox_complete(fin_req, 0);
		fin_req = NULL;
		tp_stop();
	}
}

void rt_request(struct mbox_req *req)
{
	struct wire_hdr h = { 0 };

	switch (req->kind) {
	case MBOX_BARRIER:
		if (bar_done) {
			sync_barrier(req);
			break;
		}
		bar_req = req;
		h.type = WIRE_BARRIER_ENTER;
		h.arg = 1;
		h.aux = (uint32_t)n_servers; /* rank 0 checks that every rank agrees */
		globals_send_layout(); /* rank 0 checks it before it can release */
		/* Inside it, as in sync.c's barriers: a rank that rank 0's release
		 * reached first may already FETCH from this one (a restart's
		 * claimed homes), and rc.c holds that until ours comes. */
		rc_barrier_entered();
		tp_send(0, &h, rc_notices_out(0, WIRE_BARRIER_ENTER, &h.len));
		break;
	case MBOX_FINALIZE:
		fin_req = req;
		check_finalized();
		break;
	case MBOX_CKPT_FIRST ... MBOX_CKPT_LAST:
		ckpt_request(req);
		break;
	case MBOX_RC_FIRST ... MBOX_RC_LAST:
		rc_request(req);
		break;
	case MBOX_ADVISE:
	case MBOX_ADVISE_READ:
		coh_advise(req);
		break;
	default:
		mbox_complete(req, -ENOSYS);
	}
}

void rt_handle(const struct wire_hdr *h, const uint8_t *payload)
{
	struct wire_hdr out = { 0 };

	switch (h->type) {
	case WIRE_BARRIER_ENTER:
		/* dsm_init's barrier counts every rank, servers included. */
		if (rt.rank != 0)
			rt_fatal("rank %u sent BARRIER_ENTER to rank %d, not to rank 0", h->src, rt.rank);
		if (h->arg != 1)
			rt_fatal("rank %u entered barrier %lu through rank 0: only dsm_init's (1) goes there "
				 "(protocol error)", h->src, (unsigned long)h->arg);
		if (h->aux != (uint32_t)n_servers)
			rt_fatal("rank %u runs with DSM_SERVERS=%u, rank 0 with %d: every rank must have the same",
				 h->src, h->aux, n_servers);
		rc_notices_in(h, payload); /* what the rank knew at its release */
		if (++bar_count > (uint32_t)rt.size)
			rt_fatal("rank %u entered barrier 1 twice", h->src);
		if (bar_count == (uint32_t)rt.size) {
			out.type = WIRE_BARRIER_RELEASE;
			out.arg = 1;
			for (int i = 0; i < rt.size; i++)
				tp_send(i, &out, rc_notices_out(i, WIRE_BARRIER_RELEASE, &out.len));
		}
		break;
	case WIRE_BARRIER_RELEASE:
		if (!bar_req || h->arg != 1 || bar_done)
			rt_fatal("rank %u released barrier %lu, but this rank waits in none of rank 0's (protocol "
				 "error)", h->src, (unsigned long)h->arg);
		rc_notices_in(h, payload); /* the union of what every rank knew */
		sync_barrier_left();
		bar_done = 1;
		mbox_complete(bar_req, 0);
		bar_req = NULL;
		break;
	case WIRE_BYE:
		byes++;
		if (!dsm_is_server((int)h->src))
			app_byes++;
		check_finalized();
		break;
	case WIRE_LAYOUT:
		globals_handle(h, payload);
		break;
	case WIRE_ABORT:
		rt_fatal("rank %u ended the job: %.*s", h->src, (int)h->len, (const char *)payload);
	default:
		rt_fatal("rank %u sent an unexpected %s message", h->src, wire_type_name(h->type));
	}
}

void rt_peer_closed(int peer)
{
	log_debug("rank %d has left", peer);
}
