/*
 * net.c - blocking socket helpers with deadlines and the connection handshake.
 * See net.h.  Nothing here keeps state; every call is safe from any thread.
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int ms_left(int64_t deadline)
{
	int64_t left = deadline - now_ns();

	if (left <= 0)
		return 0;
	return left / 1000000 > 1000000 ? 1000000 : (int)(left / 1000000) + 1;
}

/* Wait until fd is ready for `events` or the deadline passes. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		int ms = ms_left(deadline);
		int n;

		if (ms == 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, ms);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

int net_split_hostport(const char *s, char *host, size_t cap, int *port)
{
	const char *colon, *h = s;
	size_t hlen;
	char *end;
	long p;

	if (!s || !*s)
		return -EINVAL;
	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return -EINVAL;
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= cap)
		return -EINVAL;
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || p < 1 || p > 65535)
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (int)p;
	return 0;
}

static int resolve(const char *host, int port, int passive, struct addrinfo **res)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	char ports[16];
	int rc;

	if (passive)
		hints.ai_flags = AI_PASSIVE;
	snprintf(ports, sizeof(ports), "%d", port);
	rc = getaddrinfo(host, ports, &hints, res);
	if (rc) {
		log_err("cannot resolve host '%s': %s", host ? host : "*", gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	return 0;
}

int net_listen(const char *host, int port, int *bound_port)
{
	struct addrinfo *res, *ai;
	int fd = -1, rc, one = 1;

	if (host && !strcmp(host, "*"))
		host = NULL;
	rc = resolve(host, port, 1, &res);
	if (rc)
		return rc;
	rc = -EADDRNOTAVAIL;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0)
			break;
		rc = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		log_err("cannot listen on %s:%d: %s", host ? host : "*", port, strerror(-rc));
		return rc;
	}
	if (bound_port) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		getsockname(fd, (struct sockaddr *)&ss, &sl);
		*bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							     : ((struct sockaddr_in *)&ss)->sin_port);
	}
	return fd;
}

static void set_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int net_connect(const char *host, int port, int64_t deadline)
{
	return net_connect_opt(host, port, deadline, 1);
}

int net_connect_opt(const char *host, int port, int64_t deadline, int retry_refused)
{
	struct addrinfo *res;
	int rc = resolve(host, port, 0, &res);

	if (rc)
		return rc;
	for (;;) {
		for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
			int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
			if (fd < 0) {
				rc = -errno;
				continue;
			}
			if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
				rc = -errno;
				close(fd);
				continue;
			}
			rc = wait_fd(fd, POLLOUT, deadline);
			if (rc == 0) {
				int err = 0;
				socklen_t el = sizeof(err);
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
				rc = -err;
			}
			if (rc == 0) {
				fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
				set_nodelay(fd);
				freeaddrinfo(res);
				return fd;
			}
			close(fd);
		}
		if (rc == -ETIMEDOUT || now_ns() >= deadline || (rc == -ECONNREFUSED && !retry_refused) ||
		    (rc != -ECONNREFUSED && rc != -EAGAIN && rc != -ENETUNREACH))
			break;
		usleep(20000);
	}
	freeaddrinfo(res);
	if (now_ns() >= deadline && (rc != -ECONNREFUSED || retry_refused))
		rc = -ETIMEDOUT;
	return rc;
}

int net_accept(int lfd, int64_t deadline)
{
	for (;;) {
		int rc = wait_fd(lfd, POLLIN, deadline);
		int fd;

		if (rc)
			return rc;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			set_nodelay(fd);
			return fd;
		}
		if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
			return -errno;
	}
}

int net_local_addr(int fd, char *host, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int rc;

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	rc = getnameinfo((struct sockaddr *)&ss, sl, host, (socklen_t)cap, NULL, 0, NI_NUMERICHOST);
	return rc ? -EINVAL : 0;
}

/* Move len bytes through a socket, waiting (up to the deadline) whenever it
 * is not ready.  Receiving fails with -ECONNRESET at end of stream. */
static int io_all(int fd, uint8_t *p, size_t len, int64_t deadline, int sending)
{
	while (len > 0) {
		ssize_t n = sending ? send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT)
				    : recv(fd, p, len, MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0 && !sending)
			return -ECONNRESET;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int rc = wait_fd(fd, sending ? POLLOUT : POLLIN, deadline);
			if (rc)
				return rc;
			continue;
		}
		return n < 0 ? -errno : -EIO;
	}
	return 0;
}

int net_send_all(int fd, const void *buf, size_t len, int64_t deadline)
{
	return io_all(fd, (uint8_t *)buf, len, deadline, 1);
}

int net_recv_all(int fd, void *buf, size_t len, int64_t deadline)
{
	return io_all(fd, buf, len, deadline, 0);
}

int net_send_msg(int fd, const struct wire_hdr *h, const void *payload, int64_t deadline)
{
	uint8_t hdr[WIRE_HDR_SIZE];
	int rc;

	wire_encode_hdr(hdr, h);
	rc = net_send_all(fd, hdr, sizeof(hdr), deadline);
	if (rc == 0 && h->len)
		rc = net_send_all(fd, payload, h->len, deadline);
	return rc;
}

int net_recv_msg(int fd, struct wire_hdr *h, void *payload, size_t cap, int64_t deadline)
{
	uint8_t hdr[WIRE_HDR_SIZE];
	int rc = net_recv_all(fd, hdr, sizeof(hdr), deadline);

	if (rc)
		return rc;
	rc = wire_decode_hdr(hdr, sizeof(hdr), h);
	if (rc)
		return rc;
	if (h->len > cap)
		return -EMSGSIZE;
	return h->len ? net_recv_all(fd, payload, h->len, deadline) : 0;
}

int job_auth_generate(struct job_auth *a)
{
	if (sodium_init() < 0)
		return -EIO;
	randombytes_buf(a->secret, sizeof(a->secret));
	randombytes_buf(&a->job_id, sizeof(a->job_id));
	return 0;
}

/* mac = HMAC(secret, label | job | acceptor | connector | nonce_c | nonce_a) */
static void auth_mac(uint8_t mac[32], const struct job_auth *a, char label, uint32_t acceptor,
		     uint32_t connector, const uint8_t nc[32], const uint8_t na[32])
{
	uint8_t m[1 + 8 + 4 + 4 + 32 + 32];

	m[0] = (uint8_t)label;
	put_le64(m + 1, a->job_id);
	put_le32(m + 9, acceptor);
	put_le32(m + 13, connector);
	memcpy(m + 17, nc, 32);
	memcpy(m + 49, na, 32);
	crypto_auth_hmacsha256(mac, m, sizeof(m), a->secret);
}

static const char *errtext(int rc)
{
	if (rc == -ETIMEDOUT)
		return "timed out";
	if (rc == -ECONNRESET)
		return "connection closed by peer";
	if (rc == -EPROTO || rc == -EPROTONOSUPPORT || rc == -EBADMSG)
		return wire_strerror(rc);
	return strerror(-rc);
}

int net_auth_connect(int fd, const struct job_auth *a, uint32_t self, int64_t expect,
		     int64_t deadline, char *why, size_t whylen)
{
	uint8_t buf[256], nc[32], mac[32];
	struct wire_hdr h = { .type = WIRE_HELLO, .len = 40, .src = self };
	uint32_t acceptor;
	int rc;

	if (sodium_init() < 0)
		return -EIO;
	randombytes_buf(nc, sizeof(nc));
	put_le64(buf, a->job_id);
	memcpy(buf + 8, nc, 32);
	rc = net_send_msg(fd, &h, buf, deadline);
	if (rc) {
		snprintf(why, whylen, "sending HELLO: %s", errtext(rc));
		return rc;
	}
	rc = net_recv_msg(fd, &h, buf, sizeof(buf) - 1, deadline);
	if (rc) {
		snprintf(why, whylen, "waiting for CHALLENGE: %s",
			 rc == -EPROTONOSUPPORT ? "peer speaks another protocol version" : errtext(rc));
		return rc;
	}
	if (h.type == WIRE_REFUSE) {
		buf[h.len] = '\0';
		snprintf(why, whylen, "refused by peer: %s", (char *)buf);
		return -EACCES;
	}
	acceptor = h.src;
	if (h.type != WIRE_CHALLENGE || (expect >= 0 && acceptor != (uint32_t)expect)) {
		snprintf(why, whylen, "unexpected %s from id %u", wire_type_name(h.type), acceptor);
		return -EPROTO;
	}
	auth_mac(mac, a, 'A', acceptor, self, nc, buf);
	if (sodium_memcmp(mac, buf + 32, 32) != 0) {
		snprintf(why, whylen, "peer does not know the job secret");
		/* Tell the acceptor, or it sees only a closed connection. */
		h = (struct wire_hdr){ .type = WIRE_REFUSE, .len = 12, .src = self };
		net_send_msg(fd, &h, "wrong secret", deadline);
		return -EACCES;
	}
	auth_mac(mac, a, 'C', acceptor, self, nc, buf);
	h = (struct wire_hdr){ .type = WIRE_AUTH, .len = 32, .src = self };
	rc = net_send_msg(fd, &h, mac, deadline);
	if (rc)
		snprintf(why, whylen, "sending AUTH: %s", errtext(rc));
	return rc;
}

static void refuse(int fd, uint32_t self, const char *reason, int64_t deadline)
{
	struct wire_hdr h = { .type = WIRE_REFUSE, .len = (uint32_t)strlen(reason), .src = self };

	net_send_msg(fd, &h, reason, deadline);
}

int net_auth_accept(int fd, const struct job_auth *a, uint32_t self, uint32_t *peer,
		    int64_t deadline, char *why, size_t whylen)
{
	uint8_t buf[64], nc[32], na[32], mac[32];
	struct wire_hdr h;
	int rc;

	if (sodium_init() < 0)
		return -EIO;
	rc = net_recv_msg(fd, &h, buf, sizeof(buf), deadline);
	if (rc == -EPROTONOSUPPORT) {
		snprintf(why, whylen, "peer speaks another protocol version (we speak %d)", WIRE_VERSION);
		refuse(fd, self, "protocol version mismatch", deadline);
		return rc;
	}
	if (rc) {
		snprintf(why, whylen, "reading HELLO: %s", errtext(rc));
		return rc;
	}
	if (h.type != WIRE_HELLO) {
		snprintf(why, whylen, "expected HELLO, got %s", wire_type_name(h.type));
		return -EPROTO;
	}
	if (get_le64(buf) != a->job_id) {
		snprintf(why, whylen, "HELLO from id %u belongs to another job", h.src);
		refuse(fd, self, "wrong job id", deadline);
		return -EACCES;
	}
	*peer = h.src;
	memcpy(nc, buf + 8, 32);
	randombytes_buf(na, sizeof(na));
	memcpy(buf, na, 32);
	auth_mac(buf + 32, a, 'A', self, *peer, nc, na);
	h = (struct wire_hdr){ .type = WIRE_CHALLENGE, .len = 64, .src = self };
	rc = net_send_msg(fd, &h, buf, deadline);
	if (rc) {
		snprintf(why, whylen, "sending CHALLENGE: %s", errtext(rc));
		return rc;
	}
	rc = net_recv_msg(fd, &h, buf, sizeof(buf), deadline);
	if (rc) {
		snprintf(why, whylen, "reading AUTH from id %u: %s", *peer, errtext(rc));
		return rc;
	}
	auth_mac(mac, a, 'C', self, *peer, nc, na);
	if (h.type != WIRE_AUTH || sodium_memcmp(mac, buf, 32) != 0) {
		snprintf(why, whylen, "id %u failed authentication (wrong secret)", *peer);
		return -EACCES;
	}
	return 0;
}

/* ---- the acceptor's handshake, non-blocking ------------------------------- */

void net_auth_srv_init(struct net_auth_srv *s)
{
	memset(s, 0, sizeof(*s));
}

/* Send a short message now or never: a peer that does not take 100 bytes
 * on a fresh connection is not one we wait for. */
static int send_now(int fd, const struct wire_hdr *h, const void *payload)
{
	uint8_t out[WIRE_HDR_SIZE + 256];
	size_t len = WIRE_HDR_SIZE + h->len;
	ssize_t n;

	if (h->len > 256)
		return -EMSGSIZE;
	wire_encode_hdr(out, h);
	if (h->len)
		memcpy(out + WIRE_HDR_SIZE, payload, h->len);
	do
		n = send(fd, out, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EAGAIN;
}

static void refuse_now(int fd, uint32_t self, const char *reason)
{
	struct wire_hdr h = { .type = WIRE_REFUSE, .len = (uint32_t)strlen(reason), .src = self };

	send_now(fd, &h, reason);
}

/*
 * Read, without blocking, what has arrived of one message into buf (cap
 * bytes, *have of them read so far): the header first, then exactly its
 * payload, never past the message (nothing else may come before the reader
 * answers).  1 when it is complete (h decoded, *have its length), 0 when more
 * must come, or -errno with the reason in why, naming `what` was read.
 */
int net_msg_step(int fd, uint8_t *buf, size_t cap, size_t *have, struct wire_hdr *h, const char *what,
		 char *why, size_t whylen)
{
	for (;;) {
		size_t want = WIRE_HDR_SIZE;
		ssize_t n;
		int rc;

		if (*have >= WIRE_HDR_SIZE) {
			rc = wire_decode_hdr(buf, *have, h);
			if (rc) {
				snprintf(why, whylen, "reading %s: %s", what, errtext(rc));
				return rc;
			}
			if (h->len > cap - WIRE_HDR_SIZE) {
				snprintf(why, whylen, "reading %s: %s of %u bytes is too long", what,
					 wire_type_name(h->type), h->len);
				return -EMSGSIZE;
			}
			want = WIRE_HDR_SIZE + h->len;
		}
		if (*have == want)
			return 1;
		n = recv(fd, buf + *have, want - *have, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			rc = n == 0 ? -ECONNRESET : -errno;
			snprintf(why, whylen, "reading %s: %s", what, errtext(rc));
			return rc;
		}
		*have += (size_t)n;
	}
}

int net_auth_step(struct net_auth_srv *s, int fd, const struct job_auth *a, uint32_t self, uint32_t *peer,
		  char *why, size_t whylen)
{
	const char *expect = s->state == 0 ? "HELLO" : "AUTH";
	struct wire_hdr h;
	uint8_t mac[32];
	int rc;

	if (sodium_init() < 0)
		return -EIO;
	rc = net_msg_step(fd, s->buf, sizeof(s->buf), &s->have, &h, expect, why, whylen);
	if (rc == -EPROTONOSUPPORT) {
		snprintf(why, whylen, "peer speaks another protocol version (we speak %d)", WIRE_VERSION);
		refuse_now(fd, self, "protocol version mismatch");
	}
	if (rc <= 0)
		return rc;
	s->have = 0;
	if (s->state == 0) {
		if (h.type != WIRE_HELLO || h.len != 40) {
			snprintf(why, whylen, "expected HELLO, got %s", wire_type_name(h.type));
			return -EPROTO;
		}
		if (get_le64(s->buf + WIRE_HDR_SIZE) != a->job_id) {
			snprintf(why, whylen, "HELLO from id %u belongs to another job", h.src);
			refuse_now(fd, self, "wrong job id");
			return -EACCES;
		}
		s->peer = h.src;
		memcpy(s->nc, s->buf + WIRE_HDR_SIZE + 8, 32);
		randombytes_buf(s->na, sizeof(s->na));
		{
			uint8_t out[64];
			struct wire_hdr c = { .type = WIRE_CHALLENGE, .len = 64, .src = self };
			memcpy(out, s->na, 32);
			auth_mac(out + 32, a, 'A', self, s->peer, s->nc, s->na);
			if ((rc = send_now(fd, &c, out))) {
				snprintf(why, whylen, "sending CHALLENGE: %s", errtext(rc));
				return rc;
			}
		}
		s->state = 1;
		return 0;
	}
	auth_mac(mac, a, 'C', self, s->peer, s->nc, s->na);
	if (h.type != WIRE_AUTH || h.len != 32 || sodium_memcmp(mac, s->buf + WIRE_HDR_SIZE, 32) != 0) {
		snprintf(why, whylen, "id %u failed authentication (wrong secret)", s->peer);
		return -EACCES;
	}
	*peer = s->peer;
	return 1;
}
