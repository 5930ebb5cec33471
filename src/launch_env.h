/*
 * launch_env.h - who started this rank, and what that tells us: the rank, the
 * job size, an id for the job, where rank 0 can be met; Slurm's compressed
 * node lists ("node[01-04,07]"); and, where the launcher offers PMIx, an
 * exchange of addresses and of the job secret through its key-value store.
 *
 * Detection order (the first that applies wins):
 *   1. DSM_RANK / DSM_NRANKS      dsmexec (DSM_LAUNCHER=dsmexec), or by hand
 *   2. PMIx                       PMIX_NAMESPACE + PMIX_RANK, the library built
 *                                 in (pmix.h at build time, libpmix.so.2 at
 *                                 run time) and not switched off (DSM_PMIX=0)
 *   3. Open MPI                   OMPI_COMM_WORLD_RANK / _SIZE / _LOCAL_RANK
 *   4. MPICH / Hydra              PMI_RANK / PMI_SIZE
 *   5. Slurm (a step of srun)     SLURM_PROCID / SLURM_NTASKS / SLURM_LOCALID,
 *                                 SLURM_STEP_NODELIST
 *   none of them: a job of one rank.
 */
#ifndef DSM_LAUNCH_ENV_H
#define DSM_LAUNCH_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "net.h"
#include "rendezvous.h"

enum launcher { LAUNCH_NONE, LAUNCH_DSM, LAUNCH_PMIX, LAUNCH_OMPI, LAUNCH_MPICH, LAUNCH_SLURM };

/* Under Slurm, rank 0 listens by default on the first host of the step's node
 * list, port SLURM_ROOT_PORT_BASE + (16 * job id + step id) mod
 * SLURM_ROOT_PORT_SPAN: above Linux's ephemeral range (32768-60999). */
#define SLURM_ROOT_PORT_BASE 61000
#define SLURM_ROOT_PORT_SPAN 4000

struct launch_env {
	enum launcher kind;
	const char *name;       /* "dsmexec", "PMIx", "Open MPI", ...: for messages */
	const char *size_var;   /* the variable that gave the job size, for messages */
	int rank, size;
	int local_rank;         /* among the ranks on this host; -1 when unknown */
	int one_host;           /* every rank of the job is known to run on this host */
	int pmix;               /* connected to a PMIx server (kind == LAUNCH_PMIX) */
	int have_job_id;
	uint64_t job_id;        /* the handshake's job id, from the launcher's ids */
	char root[300];         /* default rendezvous host:port; "" when none */
	char root_origin[256];  /* where the default came from, or why there is none */
};

/* Fill *le from the environment (see the order above).  Returns 0, or -EINVAL
 * after a message naming the variable that is wrong. */
int launch_env_detect(struct launch_env *le);

/* The address this rank listens on when DSM_HOST is not set: 127.0.0.1 when
 * the job was started by hand or dsmexec (which sets DSM_HOST) or every rank
 * runs on this host; else the source address of this host's route towards
 * rdv_host (where rank 0 is, NULL when unknown) unless that is a loopback
 * address; else the first IPv4 address of an interface that is up and not a
 * loopback; else 127.0.0.1, with a warning. */
void launch_env_listen_host(const struct launch_env *le, const char *rdv_host, char *out, size_t cap);

/*
 * Through PMIx: publish this rank's listening address (addr NULL: none) and,
 * at rank 0 with share_secret, the job secret; wait for every rank (a fence,
 * at most timeout_ms); then, with share_secret, every other rank reads the
 * secret into `secret`, and with table (size entries) every rank's address is
 * read into it.  0 or a negative errno after a message.  -ENOTSUP when not
 * connected to PMIx.
 */
int launch_env_pmix_exchange(const char *addr, int port, uint8_t secret[DSM_SECRET_LEN], int share_secret,
			     struct rdv_entry *table, int size, int timeout_ms);

/* Disconnect from the PMIx server, if connected (also done at exit). */
void launch_env_done(void);

/* The CPUs this process may run on: its affinity mask's, else the online
 * ones (1 at least), as they were at its first call, before
 * launch_env_bind().  dsmexec's default -n, dsmwrap's OpenMP wait policy and
 * the service thread's priority (DSM_SERVICE_PRIORITY=auto) count them. */
int launch_env_cpus(void);

/*
 * DSM_BIND=auto (the default; "off": leave the mask alone): with several
 * ranks on this host (launch_env_host_ranks()) and this rank's index among
 * them known, every thread of the process moves to the rank's share of the
 * CPUs it may use: the local_rank-th of equal blocks, or with more ranks
 * than CPUs the CPU local_rank mod their number.  As mpirun binds each rank
 * to a core.  Called by dsm_init() before it starts threads.  0, or -EINVAL
 * after a message when DSM_BIND is not understood; a mask that cannot be
 * set leaves the process as it was (said at DSM_LOG=info).
 */
int launch_env_bind(int local_rank);
/* 1 when launch_env_bind() narrowed this process's CPUs. */
int launch_env_bound(void);

/* The ranks on this host, as the launcher says (DSM_LOCAL_SIZE, Open MPI's
 * or MPICH's local size); 0 when it does not say. */
long launch_env_host_ranks(void);

/* ---- Slurm node lists -------------------------------------------------- */

#define NODELIST_MAX_HOSTS (1u << 20) /* a list naming more is refused */
#define NODELIST_HOST_MAX 256         /* longest host name, with its NUL */

struct nodelist;

/*
 * Parse a Slurm host list: comma-separated names, each with any number of
 * bracket groups of numbers and ranges ("node[01-04,07]", "rack[1-2]-node[01-02]",
 * "a,b[1-3],c").  A range keeps the width of its first number ("[08-10]" gives
 * 08 09 10).  Several groups expand with the last varying fastest.  Refused,
 * with the reason and the 1-based column in `why`: unbalanced or nested
 * brackets, empty names, ranges or groups, reversed ranges, numbers of more
 * than 9 digits, characters other than letters, digits, '.', '-' and '_',
 * names longer than 255 bytes, more than NODELIST_MAX_HOSTS hosts.
 * Returns 0 or -EINVAL (-ENOMEM).
 */
int nodelist_parse(const char *spec, struct nodelist **out, char *why, size_t whylen);
size_t nodelist_count(const struct nodelist *nl);
/* Host i (< nodelist_count()) into out[NODELIST_HOST_MAX]. */
void nodelist_host(const struct nodelist *nl, size_t i, char *out);
void nodelist_free(struct nodelist *nl);

/* ---- settings ------------------------------------------------------------
 * One parser per kind of DSM_* setting, for the library and the launcher, so
 * that a value means the same thing wherever it is read and a typo is refused
 * rather than taken for "off".  Each returns 0 (the value, or `dflt` when the
 * variable is unset or empty, in *out) or -EINVAL after a message naming the
 * variable, its value and what was expected. */

/* 1/0, yes/no, true/false, on/off in any case; anything else is -EINVAL.
 * Pure: no message. */
int setting_flag_parse(const char *v, int *out);
int setting_flag(const char *name, int dflt, int *out);
/* A decimal integer in [min, max]: digits with an optional sign, nothing
 * else (no spaces, no suffix); overflows are refused. */
int setting_int(const char *name, long long min, long long max, long long dflt, long long *out);
/* Every boolean setting of the library (DSM_ENCRYPT, DSM_COMPRESSION,
 * DSM_STATS, DSM_INSECURE, DSM_PMIX) is checked, and rewritten to "0" or "1"
 * in this process's environment so that any later reader agrees. */
int settings_check(void);

#endif
