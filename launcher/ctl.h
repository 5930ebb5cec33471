/*
 * ctl.h - the control protocol between dsmexec and its dsmwrap processes.
 *
 * One dsmwrap per rank.  dsmexec starts it (directly, or over ssh) with the
 * control port and the rank on its command line and writes the preamble line
 * (job id and secret, never on a command line) to its standard input, which
 * dsmexec then keeps open: its EOF tells dsmwrap that dsmexec is gone.
 *
 *   stdin    "DSMWRAP 1 <job id: 16 hex> <secret: 64 hex>\n"   dsmexec -> dsmwrap
 *   TCP      HELLO / CHALLENGE / AUTH (net_auth_*; dsmwrap's id = its rank,
 *            dsmexec's id = WIRE_SRC_LAUNCHER)
 *   SETUP    payload: struct ctl_setup, encoded below          dsmexec -> dsmwrap
 *   READY    arg = dsmwrap's pid: program found, cwd exists    dsmwrap -> dsmexec
 *   FAIL     aux = exit status to report (126, 127, 255),
 *            payload = reason text                             dsmwrap -> dsmexec
 *   GO       start the program (sent once every rank is READY) dsmexec -> dsmwrap
 *   SIGNAL   arg = signal (wire numbering, ctl_sig_*): send it
 *            to the program's process group                    dsmexec -> dsmwrap
 *   EXITED   aux = CTL_EXIT_CODE or CTL_EXIT_SIGNAL, arg = the
 *            status or signal, payload = description           dsmwrap -> dsmexec
 * Either side may close at any time.  When dsmwrap loses the connection (or
 * its stdin) it ends the program: SIGTERM to its group, SIGKILL after the
 * grace period.
 *
 * SETUP payload, little-endian, strings as u32 length + bytes (no NUL):
 *   u32 rank, size, local_rank, local_size, rdv_port, grace_ms, wait_ms
 *   str host (DSM_HOST), str cwd, str program
 *   u32 argc, argc x str (argv[0] first)
 *   u32 envc, envc x str ("DSM_NAME=value": dsmexec's DSM_* variables)
 */
#ifndef DSM_LAUNCHER_CTL_H
#define DSM_LAUNCHER_CTL_H

#include <stddef.h>
#include <stdint.h>

#include "net.h"

#define CTL_PREAMBLE_MAX 128 /* bytes, newline included */
#define CTL_TEXT_MAX     4096 /* FAIL and EXITED payloads */

enum { CTL_EXIT_CODE = 0, CTL_EXIT_SIGNAL = 1 };

struct ctl_setup {
	uint32_t rank, size, local_rank, local_size;
	uint32_t rdv_port;
	uint32_t grace_ms;   /* SIGTERM .. SIGKILL when ending the program */
	uint32_t wait_ms;    /* how long dsmwrap waits for GO */
	char *host;
	char *cwd;
	char *program;
	uint32_t argc;
	char **argv;         /* argc entries plus a NULL */
	uint32_t envc;
	char **env;          /* envc entries plus a NULL */
};

/* The preamble line, newline included.  Returns its length or -ENOSPC. */
int ctl_preamble_format(char *buf, size_t cap, const struct job_auth *a);
/* Parse a preamble line (trailing newline optional).  0 or -EINVAL. */
int ctl_preamble_parse(const char *line, size_t len, struct job_auth *a);

/* Encode into a malloc'd buffer.  0, -ENOMEM, or -E2BIG past WIRE_MAX_PAYLOAD. */
int ctl_setup_encode(const struct ctl_setup *s, uint8_t **out, size_t *outlen);
/* Decode and validate; on success the caller frees with ctl_setup_free().
 * Returns 0, or -EBADMSG / -ENOMEM with a reason in why. */
int ctl_setup_decode(const uint8_t *buf, size_t len, struct ctl_setup *s, char *why, size_t whylen);
void ctl_setup_free(struct ctl_setup *s);

/* Signal numbers on the wire are the traditional ones (HUP 1, INT 2, QUIT 3,
 * KILL 9, USR1 10, USR2 12, TERM 15) whatever the host's numbering.
 * Both return -1 for a signal that is not forwarded. */
int ctl_sig_to_wire(int sig);
int ctl_sig_from_wire(uint64_t w);

/*
 * Control connections that have not authenticated yet (dsmexec).  Each is a
 * small state machine (net_auth_step) driven by dsmexec's one event loop, so
 * a client that connects and says nothing, or trickles, never holds up the
 * loop: rank output, exits and the other handshakes go on.  At most
 * CTL_PENDING_MAX wait at once; a new one pushes out the oldest that has
 * sent nothing (else the oldest), and each is dropped CTL_PENDING_NS after
 * it connected.  A real dsmwrap sends its HELLO at once and is through in
 * about a millisecond.
 */
#define CTL_PENDING_MAX 32
#define CTL_PENDING_NS  (5LL * 1000000000)
struct pollfd;
/* A newly accepted connection (non-blocking). */
void ctl_pending_add(int fd, int64_t now);
/* Their pollfds into p (at most max); returns how many. */
int ctl_pending_pollfds(struct pollfd *p, int max);
/* Advance the handshakes whose fds are ready in p[0..n); each that
 * authenticates is handed to done() (blocking again, no longer pending);
 * each that fails is logged and closed. */
void ctl_pending_poll(const struct pollfd *p, int n, const struct job_auth *a,
		      void (*done)(int fd, uint32_t id));
/* Drop those past their deadline; the next deadline (INT64_MAX: none). */
int64_t ctl_pending_expire(int64_t now);
/* Close them all (the job ends). */
void ctl_pending_close_all(void);

/* Quote s for a POSIX shell (ssh runs the remote command through one):
 * 'it'\''s'.  Returns the length written or -ENOSPC. */
int ctl_shell_quote(const char *s, char *out, size_t cap);

#endif
