/*
 * net.h - blocking socket helpers with deadlines, and the authenticated
 * connection handshake.  Used at start-up (rendezvous, mesh set-up) and by the
 * launcher; the service thread's non-blocking I/O lives in transport_tcp.c.
 *
 * Every function returns 0 (or a file descriptor) or a negative errno.
 * -ETIMEDOUT means the deadline passed.  Deadlines are absolute CLOCK_MONOTONIC
 * nanoseconds (now_ns() + ...).
 */
#ifndef DSM_NET_H
#define DSM_NET_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define DSM_SECRET_LEN 32

struct job_auth {
	uint8_t secret[DSM_SECRET_LEN];
	uint64_t job_id;
};

int64_t now_ns(void);

/* "host:port" -> host, port.  Accepts "[v6]:port".  -EINVAL when malformed. */
int net_split_hostport(const char *s, char *host, size_t cap, int *port);

/* Listen on host:port (port 0 picks one; *bound_port gets it).  host NULL or
 * "*" means every interface.  Returns the fd (CLOEXEC). */
int net_listen(const char *host, int port, int *bound_port);

/* Connect with a deadline, retrying refused connections until it passes
 * (the peer may not be listening yet).  Returns the fd, TCP_NODELAY set. */
int net_connect(const char *host, int port, int64_t deadline);
/* The same; with retry_refused 0, a refused connection fails at once with
 * -ECONNREFUSED (nobody listens there). */
int net_connect_opt(const char *host, int port, int64_t deadline, int retry_refused);

/* accept(2) with a deadline; returns the fd. */
int net_accept(int lfd, int64_t deadline);

/* Numeric address of the local end of a connected socket. */
int net_local_addr(int fd, char *host, size_t cap);

int net_send_all(int fd, const void *buf, size_t len, int64_t deadline);
int net_recv_all(int fd, void *buf, size_t len, int64_t deadline);

/* One framed message.  net_recv_msg() fails with -EMSGSIZE when the payload
 * does not fit in cap, -ECONNRESET on EOF, and the wire_decode_hdr() errors. */
int net_send_msg(int fd, const struct wire_hdr *h, const void *payload, int64_t deadline);
int net_recv_msg(int fd, struct wire_hdr *h, void *payload, size_t cap, int64_t deadline);

/*
 * Mutual authentication with the job secret (HMAC-SHA-256 over fresh nonces
 * from both sides, bound to the job id and both ids).
 *   connector: HELLO(job id, nonce_c)          -> acceptor
 *   acceptor:  CHALLENGE(nonce_a, mac_a)       -> connector   (or REFUSE)
 *   connector: AUTH(mac_c)                     -> acceptor
 * A wrong secret, job id or version fails on both sides with a message.
 * `expect` is the id the connector wants to reach (-1: any); the acceptor
 * learns the connector's claimed id in *peer.  `why` gets a reason.
 */
int net_auth_connect(int fd, const struct job_auth *a, uint32_t self, int64_t expect,
		     int64_t deadline, char *why, size_t whylen);
int net_auth_accept(int fd, const struct job_auth *a, uint32_t self, uint32_t *peer,
		    int64_t deadline, char *why, size_t whylen);

/*
 * The acceptor's side of the same handshake as a state machine, for an event
 * loop that must never wait on one client (dsmexec's control port): the
 * socket is non-blocking, and net_auth_step() is called whenever it is
 * readable.  It consumes what has arrived, answers (CHALLENGE, REFUSE) with
 * non-blocking sends of a few dozen bytes that a fresh socket always takes,
 * and returns 0 (more is needed), 1 (authenticated: *peer is the connector's
 * claimed id) or a negative errno with the reason in why (close the
 * socket).  The deadline is the caller's: it drops connections that take
 * too long.
 */
struct net_auth_srv {
	int state;                          /* 0: HELLO next, 1: AUTH next */
	size_t have;                        /* bytes of the current message */
	uint8_t buf[WIRE_HDR_SIZE + 64];
	uint8_t nc[32], na[32];
	uint32_t peer;
};
/* One message read without blocking (net.c): 1 complete, 0 more to come,
 * or -errno with the reason in why. */
int net_msg_step(int fd, uint8_t *buf, size_t cap, size_t *have, struct wire_hdr *h, const char *what,
		 char *why, size_t whylen);
void net_auth_srv_init(struct net_auth_srv *s);
int net_auth_step(struct net_auth_srv *s, int fd, const struct job_auth *a, uint32_t self, uint32_t *peer,
		  char *why, size_t whylen);

/* Fill the secret and job id from the system's random source. */
int job_auth_generate(struct job_auth *a);

#endif
