/*
 * machinefile.h - the list of hosts a job runs on, and where each rank goes.
 *
 * A machinefile has one host per line, optionally followed by `slots=K`
 * (K ranks on that host; default 1); `host:K` is `host slots=K`.  `#` starts a comment; blank lines are
 * ignored.  A host is a name or address, optionally `user@host`; it must not
 * start with '-' (it ends up on ssh's command line).
 *
 * Placement: the lines, each repeated `slots` times, form the slot list;
 * rank r runs on slot r mod (number of slots).  Without -n the job has one
 * rank per slot, so a file without slots= gives one rank per line.
 */
#ifndef DSM_MACHINEFILE_H
#define DSM_MACHINEFILE_H

#include <stddef.h>

#define MF_HOST_MAX  255
#define MF_SLOTS_MAX 65536
#define MF_RANKS_MAX (1 << 20)

struct mf_host {
	char name[MF_HOST_MAX + 1]; /* as written: the ssh target */
	int slots;
	int line;                   /* 1-based line number in the file */
};

struct machinefile {
	struct mf_host *hosts;
	int nhosts;
	int nslots;                 /* sum of slots */
	int ssh_to_self;            /* the user asked for ssh: only "localhost"
	                               and 127.0.0.1 start locally */
};

/* Where rank r runs, as computed by mf_place(). */
struct mf_rank {
	int host;                   /* index into machinefile.hosts */
	int group;                  /* the first host line naming the same machine */
	int local_rank;             /* index among the ranks on the same host */
	int local_size;             /* number of ranks on that host */
};

/*
 * Parse `len` bytes of machinefile text.  `fname` names the file in messages.
 * Returns 0, or -EINVAL with "fname:LINE: what is wrong" in err; -ENOMEM.
 */
int mf_parse(const char *text, size_t len, const char *fname, struct machinefile *mf,
	     char *err, size_t errlen);

/* Read and parse a file: errors also cover a missing, unreadable or
 * non-regular file. */
int mf_load(const char *path, struct machinefile *mf, char *err, size_t errlen);

/* A one-line machinefile "host slots=n" (used for `dsmexec -n N`). */
int mf_single(const char *host, int slots, struct machinefile *mf);

void mf_free(struct machinefile *mf);

/* True for hosts always started without ssh: "localhost" (any case) and
 * "127.0.0.1". */
int mf_is_local(const char *host);

/* True for every name of this machine: the above, any loopback address
 * (127.0.0.0/8, ::1), an address of one of its interfaces, its host name
 * (any case; qualified or not).  False for user@host: ssh was asked for. */
int mf_is_this_host(const char *host);

/* Is the host started without ssh in this job: mf_is_local, or
 * mf_is_this_host unless mf->ssh_to_self. */
int mf_starts_local(const struct machinefile *mf, const char *host);

/* The address part of a host entry: "user@node1" -> "node1". */
const char *mf_host_addr(const char *host);

/* Place n ranks (n >= 1) over the slots; fills out[0..n-1].  Ranks on hosts
 * with the same name, and all local hosts, count as one host for local_rank
 * and local_size.  Returns 0 or -EINVAL (n < 1 or an empty machinefile). */
int mf_place(const struct machinefile *mf, int n, struct mf_rank *out);

#endif
