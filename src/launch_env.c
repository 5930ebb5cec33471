/*
 * launch_env.c - which launcher started this rank, and what its environment
 * says.  See launch_env.h for the order of detection.
 *
 * The file has three parts: the detection (pure reading of environment
 * variables, plus PMIx queries where PMIx is used), the choice of the address
 * a rank listens on, and the Slurm node-list parser (pure; unit-tested).
 *
 * PMIx is optional twice over.  At build time the Makefile defines
 * DSM_HAVE_PMIX when pkg-config finds pmix.h; at run time libpmix.so.2 is
 * loaded with dlopen() only when the environment names a PMIx server, so
 * neither libdsm nor the programs built on it need libpmix to link or run.
 * The entry points go through the table `px` (SQLite's aSyscall[] habit).
 *
 * Locking: none; everything here runs on the thread that calls dsm_init().
 */
#include "launch_env.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define MAX_RANKS (1 << 24)

/* ---- environment helpers ------------------------------------------------ */

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/* ---- settings ------------------------------------------------------------ */

int setting_flag_parse(const char *v, int *out)
{
	static const char *const yes[] = { "1", "yes", "true", "on" }, *const no[] = { "0", "no", "false", "off" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(v, yes[i])) {
			*out = 1;
			return 0;
		}
		if (!strcasecmp(v, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return -EINVAL;
}

int setting_flag(const char *name, int dflt, int *out)
{
	const char *v = env(name);

	*out = dflt;
	if (!v)
		return 0;
	if (setting_flag_parse(v, out)) {
		log_err("%s=%s: expected 1, yes, true or on (or 0, no, false, off)", name, v);
		return -EINVAL;
	}
	return 0;
}

int setting_int(const char *name, long long min, long long max, long long dflt, long long *out)
{
	const char *v = env(name), *d;
	char *end;
	long long x;

	*out = dflt;
	if (!v)
		return 0;
	d = v + (*v == '-' || *v == '+');
	errno = 0;
	x = strtoll(v, &end, 10);
	if (*d < '0' || *d > '9' || errno || *end || x < min || x > max) {
		log_err("%s=%s: expected an integer from %lld to %lld", name, v, min, max);
		return -EINVAL;
	}
	*out = x;
	return 0;
}

int settings_check(void)
{
	static const char *const flags[] = { "DSM_ENCRYPT", "DSM_COMPRESSION", "DSM_STATS", "DSM_INSECURE",
					     "DSM_PMIX" };
	int bad = 0, on;

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if (setting_flag(flags[i], 0, &on)) {
			bad = 1;
			continue;
		}
		if (env(flags[i]) && setenv(flags[i], on ? "1" : "0", 1) < 0)
			return -errno;
	}
	return bad ? -EINVAL : 0;
}

/* An integer variable: 1 with its value in *out, 0 when unset or empty,
 * -EINVAL after a message when malformed or outside [min, max]. */
static int env_num(const char *name, long long min, long long max, long long *out)
{
	if (!env(name))
		return 0;
	return setting_int(name, min, max, 0, out) ? -EINVAL : 1;
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
	return h;
}

/* Rank and size from two variables (both required unless `optional`, when
 * they default to 0 and 1); the local rank, and whether every rank is on this
 * host, from two more when they are set. */
static int rank_size(struct launch_env *le, const char *rank_var, const char *size_var, int optional,
		     const char *lrank_var, const char *lsize_var)
{
	long long r = 0, s = 1, lr, ls;
	int hr = env_num(rank_var, 0, MAX_RANKS - 1, &r), hs = env_num(size_var, 1, MAX_RANKS, &s);

	if (hr < 0 || hs < 0)
		return -EINVAL;
	if (!optional && (!hr || !hs)) {
		log_err("%s is set but not %s: cannot tell this rank's place in the %s job",
			hr ? rank_var : size_var, hr ? size_var : rank_var, le->name);
		return -EINVAL;
	}
	if (r >= s) {
		log_err("%s=%lld is not below %s=%lld", rank_var, r, size_var, s);
		return -EINVAL;
	}
	le->rank = (int)r;
	le->size = (int)s;
	le->size_var = size_var;
	if (lrank_var) {
		int h = env_num(lrank_var, 0, MAX_RANKS - 1, &lr);
		if (h < 0)
			return -EINVAL;
		if (h > 0)
			le->local_rank = (int)lr;
	}
	if (lsize_var) {
		int h = env_num(lsize_var, 1, MAX_RANKS, &ls);
		if (h < 0)
			return -EINVAL;
		le->one_host = h > 0 && ls == s;
	}
	return 0;
}

/* ---- PMIx ---------------------------------------------------------------- */

#ifdef DSM_HAVE_PMIX
#include <dlfcn.h>
#include <pmix.h>

static struct {
	void *dl;
	__typeof__(&PMIx_Init) init;
	__typeof__(&PMIx_Finalize) finalize;
	__typeof__(&PMIx_Get) get;
	__typeof__(&PMIx_Put) put;
	__typeof__(&PMIx_Commit) commit;
	__typeof__(&PMIx_Fence) fence;
	__typeof__(&PMIx_Error_string) error_string;
	__typeof__(&PMIx_Value_destruct) value_destruct; /* may be missing (PMIx < 4) */
	pmix_proc_t me;
	int connected;
} px;

#define PX_KEY_ADDR "dsm.listen"
#define PX_KEY_SECRET "dsm.secret"

static int pmix_load(void)
{
	static const char *const names[] = { "libpmix.so.2", "libpmix.so" };
	const char *err = "not found";

	if (px.dl)
		return 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !px.dl; i++) {
		/* RTLD_GLOBAL: PMIx's own plugins resolve symbols from it */
		px.dl = dlopen(names[i], RTLD_NOW | RTLD_GLOBAL);
		if (!px.dl)
			err = dlerror();
	}
	if (!px.dl) {
		log_info("PMIx: cannot load libpmix.so.2 (%s)", err);
		return -ENOENT;
	}
#define SYM(field, name)                                                                \
	do {                                                                            \
		*(void **)&px.field = dlsym(px.dl, name);                               \
		if (!px.field) {                                                        \
			log_warn("PMIx: libpmix.so.2 lacks %s", name);                  \
			goto err_close;                                                 \
		}                                                                       \
	} while (0)
	SYM(init, "PMIx_Init");
	SYM(finalize, "PMIx_Finalize");
	SYM(get, "PMIx_Get");
	SYM(put, "PMIx_Put");
	SYM(commit, "PMIx_Commit");
	SYM(fence, "PMIx_Fence");
	SYM(error_string, "PMIx_Error_string");
#undef SYM
	*(void **)&px.value_destruct = dlsym(px.dl, "PMIx_Value_destruct");
	return 0;

err_close:
	dlclose(px.dl);
	px.dl = NULL;
	return -ENOENT;
}

static void pmix_value_release(pmix_value_t *v)
{
	if (!v)
		return;
	if (px.value_destruct) {
		px.value_destruct(v);
	} else if (v->type == PMIX_STRING) {
		free(v->data.string);
	} else if (v->type == PMIX_BYTE_OBJECT) {
		free(v->data.bo.bytes);
	}
	free(v);
}

static void info_timeout(pmix_info_t *i, int timeout_ms)
{
	memset(i, 0, sizeof(*i));
	snprintf(i->key, sizeof(i->key), "%s", PMIX_TIMEOUT);
	i->value.type = PMIX_INT;
	i->value.data.integer = timeout_ms > 0 ? (timeout_ms + 999) / 1000 : 0;
}

/* A number PMIx holds about `rank` (PMIX_RANK_WILDCARD: the job). */
static int pmix_get_num(uint32_t rank, const char *key, long long *out)
{
	pmix_proc_t p = px.me;
	pmix_value_t *v = NULL;
	pmix_status_t st;
	int rc = 0;

	p.rank = rank;
	st = px.get(&p, key, NULL, 0, &v);
	if (st != PMIX_SUCCESS || !v) {
		log_debug("PMIx_Get(%s): %s", key, px.error_string(st));
		pmix_value_release(v);
		return -ENOENT;
	}
	switch (v->type) {
	case PMIX_UINT8: *out = v->data.uint8; break;
	case PMIX_UINT16: *out = v->data.uint16; break;
	case PMIX_UINT32: *out = v->data.uint32; break;
	case PMIX_UINT64: *out = (long long)v->data.uint64; break;
	case PMIX_UINT: *out = v->data.uint; break;
	case PMIX_INT: *out = v->data.integer; break;
	case PMIX_INT32: *out = v->data.int32; break;
	case PMIX_SIZE: *out = (long long)v->data.size; break;
	case PMIX_PROC_RANK: *out = v->data.rank; break;
	default:
		log_warn("PMIx_Get(%s): unexpected value type %u", key, (unsigned)v->type);
		rc = -EPROTO;
	}
	pmix_value_release(v);
	return rc;
}

static void pmix_atexit(void)
{
	launch_env_done();
}

/* 1: no PMIx here; 0: connected, *le filled; -EINVAL: PMIx gave nonsense. */
static int detect_pmix(struct launch_env *le)
{
	static int atexit_done;
	int use = 1;
	long long size, lsize, lrank;
	pmix_status_t st;

	if (!env("PMIX_NAMESPACE") || !env("PMIX_RANK"))
		return 1;
	if (setting_flag("DSM_PMIX", 1, &use))
		return -EINVAL;
	if (!use) {
		log_info("PMIx: switched off by DSM_PMIX=%s", env("DSM_PMIX"));
		return 1;
	}
	if (pmix_load())
		return 1;
	st = px.init(&px.me, NULL, 0);
	if (st != PMIX_SUCCESS) {
		log_warn("PMIx_Init: %s; using the launcher's other variables", px.error_string(st));
		return 1;
	}
	px.connected = 1;
	if (!atexit_done) {
		atexit(pmix_atexit);
		atexit_done = 1;
	}
	le->kind = LAUNCH_PMIX;
	le->pmix = 1;
	le->name = env("OMPI_COMM_WORLD_SIZE") ? "PMIx (Open MPI)" :
		   env("SLURM_STEP_ID") ? "PMIx (Slurm)" : "PMIx";
	le->size_var = "PMIX_JOB_SIZE";
	if (pmix_get_num(PMIX_RANK_WILDCARD, PMIX_JOB_SIZE, &size) || size < 1 || size > MAX_RANKS ||
	    px.me.rank >= (uint32_t)size) {
		log_err("PMIx: no usable job size for namespace %s, rank %u", px.me.nspace, px.me.rank);
		launch_env_done();
		return -EINVAL;
	}
	le->rank = (int)px.me.rank;
	le->size = (int)size;
	if (pmix_get_num(px.me.rank, PMIX_LOCAL_RANK, &lrank) == 0)
		le->local_rank = (int)lrank;
	le->one_host = pmix_get_num(PMIX_RANK_WILDCARD, PMIX_LOCAL_SIZE, &lsize) == 0 && lsize == size;
	le->have_job_id = 1;
	le->job_id = fnv1a(px.me.nspace);
	snprintf(le->root_origin, sizeof(le->root_origin), "PMIx namespace %.200s", px.me.nspace);
	return 0;
}

int launch_env_pmix_exchange(const char *addr, int port, uint8_t secret[DSM_SECRET_LEN], int share_secret,
			     struct rdv_entry *table, int size, int timeout_ms)
{
	pmix_proc_t all = px.me;
	pmix_info_t info[2];
	pmix_value_t val, *v = NULL;
	pmix_status_t st;
	char buf[RDV_ADDR_MAX + 16];

	if (!px.connected)
		return -ENOTSUP;
	if (addr) {
		snprintf(buf, sizeof(buf), strchr(addr, ':') ? "[%s]:%d" : "%s:%d", addr, port);
		memset(&val, 0, sizeof(val));
		val.type = PMIX_STRING;
		val.data.string = buf;
		if ((st = px.put(PMIX_GLOBAL, PX_KEY_ADDR, &val)) != PMIX_SUCCESS)
			goto err_put;
	}
	if (share_secret && px.me.rank == 0) {
		memset(&val, 0, sizeof(val));
		val.type = PMIX_BYTE_OBJECT;
		val.data.bo.bytes = (char *)secret;
		val.data.bo.size = DSM_SECRET_LEN;
		if ((st = px.put(PMIX_GLOBAL, PX_KEY_SECRET, &val)) != PMIX_SUCCESS)
			goto err_put;
	}
	if ((st = px.commit()) != PMIX_SUCCESS) {
		log_err("PMIx_Commit: %s", px.error_string(st));
		return -EIO;
	}
	all.rank = PMIX_RANK_WILDCARD;
	memset(&info[0], 0, sizeof(info[0]));
	snprintf(info[0].key, sizeof(info[0].key), "%s", PMIX_COLLECT_DATA);
	info[0].value.type = PMIX_BOOL;
	info[0].value.data.flag = true;
	info_timeout(&info[1], timeout_ms);
	if ((st = px.fence(&all, 1, info, 2)) != PMIX_SUCCESS) {
		log_err("PMIx_Fence (waiting for every rank of namespace %s): %s%s", px.me.nspace,
			px.error_string(st), st == PMIX_ERR_TIMEOUT ? " (see DSM_TIMEOUT)" : "");
		return st == PMIX_ERR_TIMEOUT ? -ETIMEDOUT : -EIO;
	}
	if (share_secret && px.me.rank != 0) {
		pmix_proc_t zero = px.me;

		zero.rank = 0;
		st = px.get(&zero, PX_KEY_SECRET, &info[1], 1, &v);
		if (st != PMIX_SUCCESS || !v || v->type != PMIX_BYTE_OBJECT || v->data.bo.size != DSM_SECRET_LEN) {
			log_err("PMIx: no job secret from rank 0: %s",
				st != PMIX_SUCCESS ? px.error_string(st) : "malformed value");
			pmix_value_release(v);
			return -EACCES;
		}
		memcpy(secret, v->data.bo.bytes, DSM_SECRET_LEN);
		pmix_value_release(v);
		v = NULL;
	}
	for (int r = 0; table && r < size; r++) {
		pmix_proc_t p = px.me;

		p.rank = (uint32_t)r;
		st = px.get(&p, PX_KEY_ADDR, &info[1], 1, &v);
		if (st != PMIX_SUCCESS || !v || v->type != PMIX_STRING ||
		    net_split_hostport(v->data.string, table[r].addr, sizeof(table[r].addr), &table[r].port)) {
			log_err("PMIx: no usable address from rank %d: %s", r,
				st != PMIX_SUCCESS ? px.error_string(st) : "malformed value");
			pmix_value_release(v);
			return -EPROTO;
		}
		pmix_value_release(v);
		v = NULL;
	}
	return 0;

err_put:
	log_err("PMIx_Put: %s", px.error_string(st));
	return -EIO;
}

void launch_env_done(void)
{
	pmix_status_t st;

	if (!px.connected)
		return;
	px.connected = 0;
	st = px.finalize(NULL, 0);
	if (st != PMIX_SUCCESS)
		log_debug("PMIx_Finalize: %s", px.error_string(st));
}

#else /* !DSM_HAVE_PMIX */

static int detect_pmix(struct launch_env *le)
{
	(void)le;
	if (env("PMIX_NAMESPACE") && env("PMIX_RANK"))
		log_info("PMIx: this libdsm was built without PMIx (no pmix.h); using the launcher's other variables");
	return 1;
}

int launch_env_pmix_exchange(const char *addr, int port, uint8_t secret[DSM_SECRET_LEN], int share_secret,
			     struct rdv_entry *table, int size, int timeout_ms)
{
	(void)addr, (void)port, (void)secret, (void)share_secret, (void)table, (void)size, (void)timeout_ms;
	return -ENOTSUP;
}

void launch_env_done(void)
{
}

#endif /* DSM_HAVE_PMIX */

/* ---- the other launchers -------------------------------------------------- */

/* Slurm: the step's node list gives rank 0's host (block and cyclic
 * distributions both put task 0 on the step's first node), the job and step
 * ids the port and the job id. */
static int detect_slurm(struct launch_env *le)
{
	const char *list = env("SLURM_STEP_NODELIST"), *me = env("SLURMD_NODENAME");
	long long job, step, nodes;
	int hj, hs, hn;
	struct nodelist *nl = NULL;
	char first[NODELIST_HOST_MAX], why[200];

	le->kind = LAUNCH_SLURM;
	le->name = "Slurm";
	if (rank_size(le, "SLURM_PROCID", "SLURM_NTASKS", 0, "SLURM_LOCALID", NULL))
		return -EINVAL;
	hj = env_num("SLURM_JOB_ID", 0, UINT32_MAX, &job);
	hs = env_num("SLURM_STEP_ID", 0, UINT32_MAX, &step);
	hn = env_num("SLURM_STEP_NUM_NODES", 1, MAX_RANKS, &nodes);
	if (hj < 0 || hs < 0 || hn < 0)
		return -EINVAL;
	if (hj && hs) {
		le->have_job_id = 1;
		le->job_id = (uint64_t)job << 32 | (uint64_t)step;
	}
	le->one_host = hn > 0 && nodes == 1;
	if (nodelist_parse(list, &nl, why, sizeof(why))) {
		snprintf(le->root_origin, sizeof(le->root_origin), "SLURM_STEP_NODELIST=%.60s: %.150s", list, why);
		return 0;
	}
	nodelist_host(nl, 0, first);
	if (nodelist_count(nl) == 1)
		le->one_host = 1;
	nodelist_free(nl);
	if (!hj || !hs) {
		snprintf(le->root_origin, sizeof(le->root_origin),
			 "no SLURM_JOB_ID and SLURM_STEP_ID to derive a port from");
		return 0;
	}
	if (le->rank == 0 && me && strcmp(me, first)) {
		snprintf(le->root_origin, sizeof(le->root_origin),
			 "rank 0 runs on %.60s, not on %.60s, the first host of SLURM_STEP_NODELIST", me, first);
		return 0;
	}
	snprintf(le->root, sizeof(le->root), "%s:%d", first,
		 SLURM_ROOT_PORT_BASE + (int)((16 * (uint64_t)job + (uint64_t)step) % SLURM_ROOT_PORT_SPAN));
	snprintf(le->root_origin, sizeof(le->root_origin),
		 "Slurm's default: the first host of SLURM_STEP_NODELIST, port %d + (16 x SLURM_JOB_ID + "
		 "SLURM_STEP_ID) mod %d", SLURM_ROOT_PORT_BASE, SLURM_ROOT_PORT_SPAN);
	return 0;
}

int launch_env_detect(struct launch_env *le)
{
	long long id;
	int rc;

	memset(le, 0, sizeof(*le));
	le->kind = LAUNCH_NONE;
	le->name = "no launcher";
	le->size_var = "DSM_NRANKS";
	le->size = 1;
	le->local_rank = -1;
	le->one_host = 1;
	if (env("DSM_RANK") || env("DSM_NRANKS")) {
		le->kind = LAUNCH_DSM;
		le->name = env("DSM_LAUNCHER") ? env("DSM_LAUNCHER") : "DSM_RANK/DSM_NRANKS";
		le->one_host = 0;
		return rank_size(le, "DSM_RANK", "DSM_NRANKS", 1, "DSM_LOCAL_RANK", NULL);
	}
	if ((rc = detect_pmix(le)) <= 0)
		return rc;
	if (env("OMPI_COMM_WORLD_RANK") || env("OMPI_COMM_WORLD_SIZE")) {
		le->kind = LAUNCH_OMPI;
		le->name = "Open MPI";
		if (rank_size(le, "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", 0, "OMPI_COMM_WORLD_LOCAL_RANK",
			      "OMPI_COMM_WORLD_LOCAL_SIZE"))
			return -EINVAL;
		/* Open MPI 4 names the job by number; Open MPI 5 by its PMIx namespace */
		if (env_num("OMPI_MCA_ess_base_jobid", 0, UINT32_MAX, &id) > 0) {
			le->have_job_id = 1;
			le->job_id = (uint64_t)id;
		} else if (env("PMIX_NAMESPACE")) {
			le->have_job_id = 1;
			le->job_id = fnv1a(env("PMIX_NAMESPACE"));
		}
		snprintf(le->root_origin, sizeof(le->root_origin), "%s",
			 env("PMIX_NAMESPACE") ? "PMIx is not in use, and Open MPI's variables do not say on "
						 "which host rank 0 runs" :
						 "Open MPI's variables do not say on which host rank 0 runs");
		return 0;
	}
	if (env("PMI_RANK") || env("PMI_SIZE")) {
		le->kind = LAUNCH_MPICH;
		le->name = "MPICH";
		if (rank_size(le, "PMI_RANK", "PMI_SIZE", 0, "MPI_LOCALRANKID", "MPI_LOCALNRANKS"))
			return -EINVAL;
		snprintf(le->root_origin, sizeof(le->root_origin),
			 "MPICH's variables do not say on which host rank 0 runs");
		return 0;
	}
	/* A batch script has SLURM_PROCID too, but is no step of srun */
	if (env("SLURM_PROCID") && env("SLURM_STEP_NODELIST"))
		return detect_slurm(le);
	return 0;
}

/* ---- the address to listen on ---------------------------------------------- */

static int is_loopback(const char *addr)
{
	return !strncmp(addr, "127.", 4) || !strcmp(addr, "::1") || !strncmp(addr, "::ffff:127.", 11);
}

/* The source address the kernel would use to reach host (no packet is sent). */
static int route_source(const char *host, char *out, size_t cap)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM }, *res, *ai;
	int rc = -EHOSTUNREACH;

	if (getaddrinfo(host, "9", &hints, &res))
		return -EHOSTUNREACH;
	for (ai = res; ai && rc; ai = ai->ai_next) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
		    getnameinfo((struct sockaddr *)&ss, len, out, (socklen_t)cap, NULL, 0, NI_NUMERICHOST) == 0)
			rc = 0;
		close(fd);
	}
	freeaddrinfo(res);
	return rc;
}

static int first_interface_addr(char *out, size_t cap, char *ifname, size_t ifcap)
{
	struct ifaddrs *ifa, *i;
	int rc = -EADDRNOTAVAIL;

	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i && rc; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
		    (i->ifa_flags & IFF_LOOPBACK))
			continue;
		if (inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, out, (socklen_t)cap)) {
			snprintf(ifname, ifcap, "%s", i->ifa_name);
			rc = 0;
		}
	}
	freeifaddrs(ifa);
	return rc;
}

void launch_env_listen_host(const struct launch_env *le, const char *rdv_host, char *out, size_t cap)
{
	char ifname[IF_NAMESIZE + 1];

	if (le->kind == LAUNCH_NONE || le->kind == LAUNCH_DSM || le->one_host) {
		snprintf(out, cap, "127.0.0.1");
		log_debug("listening on %s: %s", out, le->one_host ? "every rank runs on this host" : "no DSM_HOST");
		return;
	}
	if (rdv_host && route_source(rdv_host, out, cap) == 0 && !is_loopback(out)) {
		log_info("listening on %s, this host's address towards %s (set DSM_HOST to choose)", out, rdv_host);
		return;
	}
	if (first_interface_addr(out, cap, ifname, sizeof(ifname)) == 0) {
		log_info("listening on %s, the address of %s (set DSM_HOST to choose)", out, ifname);
		return;
	}
	snprintf(out, cap, "127.0.0.1");
	log_warn("no network interface is up with an address other hosts can reach: listening on 127.0.0.1 "
		 "(set DSM_HOST)");
}

/* ---- Slurm node lists ------------------------------------------------------ */

struct nl_range {
	uint32_t lo, hi;
	int width;              /* digits of the range's first number, zeros kept */
};

struct nl_seg {                 /* a run of name characters, or a bracket group */
	const char *lit;        /* NULL for a group */
	size_t litlen;
	size_t first_range, nranges;
	uint64_t count;         /* names it stands for: 1 for a literal */
};

struct nl_elem {                /* one comma-separated element */
	size_t first_seg, nsegs;
	uint64_t count;
};

struct nodelist {
	char *spec;
	struct nl_range *ranges;
	struct nl_seg *segs;
	struct nl_elem *elems;
	size_t nelems;
	uint64_t count;
};

static int name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
	       c == '_';
}

static int digits(uint32_t x)
{
	int n = 1;

	while (x >= 10) {
		x /= 10;
		n++;
	}
	return n;
}

/* Up to 9 digits at *pp; 0, or -1 with the reason in `why`. */
static int parse_num(const char **pp, const char *spec, uint32_t *val, int *width, char *why, size_t whylen)
{
	const char *p = *pp;
	uint32_t x = 0;
	int n = 0;

	while (*p >= '0' && *p <= '9') {
		if (++n > 9) {
			snprintf(why, whylen, "column %d: number of more than 9 digits", (int)(*pp - spec) + 1);
			return -1;
		}
		x = x * 10 + (uint32_t)(*p++ - '0');
	}
	if (n == 0) {
		if (*p)
			snprintf(why, whylen, "column %d: expected a number, found '%c'", (int)(p - spec) + 1, *p);
		else
			snprintf(why, whylen, "column %d: expected a number, found the end", (int)(p - spec) + 1);
		return -1;
	}
	*pp = p;
	*val = x;
	*width = n;
	return 0;
}

/* One bracket group at *pp (just after '['). */
static int parse_group(const char **pp, const char *spec, struct nodelist *nl, size_t *nr, struct nl_seg *s,
		       int *maxw, char *why, size_t whylen)
{
	const char *p = *pp, *open = p - 1;
	int col;

	s->first_range = *nr;
	s->count = 0;
	*maxw = 0;
	for (;;) {
		struct nl_range *r = &nl->ranges[*nr];
		int w;

		col = (int)(p - spec) + 1;
		if (!*p)
			goto err_unclosed;
		if (*p == '[') {
			snprintf(why, whylen, "column %d: '[' inside brackets", col);
			return -1;
		}
		if (*p == ']' || *p == ',') {
			snprintf(why, whylen, "column %d: empty range", col);
			return -1;
		}
		if (parse_num(&p, spec, &r->lo, &r->width, why, whylen))
			return -1;
		r->hi = r->lo;
		if (*p == '-') {
			p++;
			if (parse_num(&p, spec, &r->hi, &w, why, whylen))
				return -1;
			if (r->hi < r->lo) {
				snprintf(why, whylen, "column %d: reversed range %u-%u", col, r->lo, r->hi);
				return -1;
			}
		}
		if (r->hi - r->lo + 1 > NODELIST_MAX_HOSTS - s->count)
			goto err_size;
		s->count += r->hi - r->lo + 1;
		w = digits(r->hi) > r->width ? digits(r->hi) : r->width;
		if (w > *maxw)
			*maxw = w;
		(*nr)++;
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == ']')
			break;
		if (!*p)
			goto err_unclosed;
		snprintf(why, whylen, "column %d: unexpected '%c' in brackets", (int)(p - spec) + 1, *p);
		return -1;
	}
	s->nranges = *nr - s->first_range;
	*pp = p + 1;
	return 0;

err_unclosed:
	snprintf(why, whylen, "column %d: '[' is not closed", (int)(open - spec) + 1);
	return -1;
err_size:
	snprintf(why, whylen, "names more than %u hosts", NODELIST_MAX_HOSTS);
	return -1;
}

int nodelist_parse(const char *spec, struct nodelist **out, char *why, size_t whylen)
{
	struct nodelist *nl;
	size_t len, nr = 0, ns = 0;
	const char *p;

	*out = NULL;
	if (!spec || !*spec) {
		snprintf(why, whylen, "empty node list");
		return -EINVAL;
	}
	len = strlen(spec);
	nl = calloc(1, sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	/* every range, segment and element takes at least one character */
	nl->spec = strdup(spec);
	nl->ranges = calloc(len + 1, sizeof(*nl->ranges));
	nl->segs = calloc(len + 1, sizeof(*nl->segs));
	nl->elems = calloc(len + 1, sizeof(*nl->elems));
	if (!nl->spec || !nl->ranges || !nl->segs || !nl->elems) {
		nodelist_free(nl);
		return -ENOMEM;
	}
	p = nl->spec;
	for (;;) {
		struct nl_elem *e = &nl->elems[nl->nelems];
		const char *start = p;
		size_t namelen = 0;

		e->first_seg = ns;
		e->count = 1;
		while (*p && *p != ',') {
			struct nl_seg *s = &nl->segs[ns];
			int w;

			if (*p == '[') {
				p++;
				if (parse_group(&p, nl->spec, nl, &nr, s, &w, why, whylen))
					goto err;
				namelen += (size_t)w;
			} else if (*p == ']') {
				snprintf(why, whylen, "column %d: ']' without '['", (int)(p - nl->spec) + 1);
				goto err;
			} else if (name_char(*p)) {
				s->lit = p;
				while (name_char(*p))
					p++;
				s->litlen = (size_t)(p - s->lit);
				s->count = 1;
				namelen += s->litlen;
			} else {
				snprintf(why, whylen, "column %d: unexpected character '%c'", (int)(p - nl->spec) + 1,
					 *p);
				goto err;
			}
			if (e->count > NODELIST_MAX_HOSTS / s->count)
				goto err_size;
			e->count *= s->count;
			ns++;
		}
		e->nsegs = ns - e->first_seg;
		if (e->nsegs == 0) {
			snprintf(why, whylen, "column %d: empty host name", (int)(start - nl->spec) + 1);
			goto err;
		}
		if (namelen >= NODELIST_HOST_MAX) {
			snprintf(why, whylen, "column %d: host names longer than %d bytes", (int)(start - nl->spec) + 1,
				 NODELIST_HOST_MAX - 1);
			goto err;
		}
		if (e->count > NODELIST_MAX_HOSTS - nl->count)
			goto err_size;
		nl->count += e->count;
		nl->nelems++;
		if (!*p)
			break;
		p++;
	}
	*out = nl;
	return 0;

err_size:
	snprintf(why, whylen, "names more than %u hosts", NODELIST_MAX_HOSTS);
err:
	nodelist_free(nl);
	return -EINVAL;
}

size_t nodelist_count(const struct nodelist *nl)
{
	return (size_t)nl->count;
}

void nodelist_host(const struct nodelist *nl, size_t i, char *out)
{
	const struct nl_elem *e = nl->elems;
	uint64_t k = i, rest;
	size_t off = 0;

	while (k >= e->count) {
		k -= e->count;
		e++;
	}
	/* mixed radix: the last group varies fastest */
	rest = e->count;
	for (size_t j = 0; j < e->nsegs; j++) {
		const struct nl_seg *s = &nl->segs[e->first_seg + j];
		uint64_t idx;

		rest /= s->count;
		if (s->lit) {
			memcpy(out + off, s->lit, s->litlen);
			off += s->litlen;
			continue;
		}
		idx = (k / rest) % s->count;
		for (size_t r = s->first_range;; r++) {
			const struct nl_range *g = &nl->ranges[r];

			if (idx <= g->hi - g->lo) {
				off += (size_t)snprintf(out + off, NODELIST_HOST_MAX - off, "%0*u", g->width,
							g->lo + (uint32_t)idx);
				break;
			}
			idx -= g->hi - g->lo + 1;
		}
	}
	out[off] = '\0';
}

void nodelist_free(struct nodelist *nl)
{
	if (!nl)
		return;
	free(nl->spec);
	free(nl->ranges);
	free(nl->segs);
	free(nl->elems);
	free(nl);
}

int launch_env_cpus(void)
{
	static int cpus; /* the first answer: before launch_env_bind() */
	cpu_set_t set;
	long n;

	if (cpus)
		return cpus;
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return cpus = CPU_COUNT(&set);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return cpus = n > 0 ? (int)n : 1;
}

/* Every thread of this process runs on `set` from now on (threads made
 * later inherit it from their creator). */
static int bind_threads(const cpu_set_t *set)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int rc = 0;

	if (sched_setaffinity(0, sizeof(*set), set) < 0)
		rc = -errno;
	while (rc == 0 && d && (e = readdir(d))) {
		long tid = strtol(e->d_name, NULL, 10);
		if (tid > 0 && sched_setaffinity((pid_t)tid, sizeof(*set), set) < 0 && errno != ESRCH)
			rc = -errno;
	}
	if (d)
		closedir(d);
	return rc;
}

static int bound; /* launch_env_bind() narrowed this process's CPUs */

int launch_env_bound(void)
{
	return bound;
}

int launch_env_bind(int local_rank)
{
	const char *v = getenv("DSM_BIND");
	long ranks = launch_env_host_ranks();
	int cpu[CPU_SETSIZE], n = 0, first, count, rc;
	cpu_set_t all, mine;
	char list[64] = "";

	launch_env_cpus(); /* counted before this narrows the mask */
	if (v && *v && strcmp(v, "auto") && strcmp(v, "off")) {
		log_err("DSM_BIND=%s: expected auto or off", v);
		return -EINVAL;
	}
	if ((v && !strcmp(v, "off")) || ranks < 2 || local_rank < 0 || local_rank >= ranks ||
	    sched_getaffinity(0, sizeof(all), &all) < 0)
		return 0;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &all))
			cpu[n++] = c;
	if (n < 2)
		return 0; /* bound already (mpirun --bind-to core, taskset) */
	if (ranks <= n) { /* an equal block of the CPUs each */
		long per = n / ranks, extra = n % ranks;
		first = (int)(local_rank * per + (local_rank < extra ? local_rank : extra));
		count = (int)(per + (local_rank < extra));
	} else { /* more ranks than CPUs: CPU local_rank mod n */
		first = local_rank % n;
		count = 1;
	}
	CPU_ZERO(&mine);
	for (int k = first; k < first + count; k++)
		CPU_SET(cpu[k], &mine);
	if (count == 1)
		snprintf(list, sizeof(list), "%d", cpu[first]);
	else
		snprintf(list, sizeof(list), "%d-%d%s", cpu[first], cpu[first + count - 1],
			 cpu[first + count - 1] - cpu[first] == count - 1 ? "" : " (some)");
	if ((rc = bind_threads(&mine))) {
		log_info("DSM_BIND=auto: cannot bind to CPUs %s: %s; running on all %d", list, strerror(-rc), n);
		return 0;
	}
	bound = 1;
	log_info("rank %d of this host's %ld: on CPU%s %s of the %d it may use (DSM_BIND=auto)", local_rank, ranks,
		 count == 1 ? "" : "s", list, n);
	return 0;
}

long launch_env_host_ranks(void)
{
	static const char *const vars[] = { "DSM_LOCAL_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS",
					    "PMI_LOCAL_SIZE" };

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i]);
		char *end;
		long n = v ? strtol(v, &end, 10) : 0;
		if (v && *v && !*end && n > 0)
			return n;
	}
	return 0;
}
