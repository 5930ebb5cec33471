/*
 * rendezvous.c - the job's address book.  See rendezvous.h.
 *
 * Design: the server is one thread that accepts authenticated connections,
 * reads one RDV_REGISTER from each (src = rank, arg = job size, payload: u16
 * port, u8 address length, address), and when every rank of the job
 * has registered sends RDV_TABLE to all of them (payload: for each rank in
 * order, u16 port, u8 length, address) and closes.  A second registration for
 * a rank, a rank out of range or a size that disagrees is refused and logged;
 * the job goes on.  The server keeps the connections open until it answers, so
 * a rank that exits early is noticed by nobody here: the mesh set-up fails
 * instead, with the rank named.
 *
 * The server never waits on one client: every connection is a small state
 * machine (handshake with net_auth_step(), then RDV_REGISTER read as it
 * arrives) over a non-blocking socket in one poll loop.  At most
 * RDV_PENDING_MAX connections are in progress (a newcomer pushes out the
 * oldest that has sent nothing, else the oldest), each dropped after
 * RDV_PENDING_NS, so idle or slow strangers at the port (the port of rank 0
 * with DSM_ROOT is as open as the network) delay no rank.  A rank whose
 * connection is dropped before the handshake's challenge connects again.
 */
#include "rendezvous.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

/* Connections still authenticating or registering: at most this many at
 * once, each for at most this long (a rank needs a round trip or two). */
#define RDV_PENDING_MAX 128
#define RDV_PENDING_NS  (5LL * 1000000000)

struct rdv_server {
	int lfd;
	int size;
	int timeout_ms;
	int stop_pipe[2];
	struct job_auth auth;
	pthread_t thread;
};

static int encode_addr(uint8_t *p, const char *addr, int port)
{
	size_t len = strlen(addr);

	put_le16(p, (uint16_t)port);
	p[2] = (uint8_t)len;
	memcpy(p + 3, addr, len);
	return (int)(3 + len);
}

/* Decode one "u16 port, u8 len, addr" entry; returns bytes used or -EBADMSG. */
static int decode_addr(const uint8_t *p, size_t avail, struct rdv_entry *e)
{
	size_t len;

	if (avail < 3)
		return -EBADMSG;
	len = p[2];
	if (len == 0 || len >= RDV_ADDR_MAX || avail < 3 + len)
		return -EBADMSG;
	e->port = get_le16(p);
	memcpy(e->addr, p + 3, len);
	e->addr[len] = '\0';
	if (e->port == 0 || memchr(e->addr, '\0', len))
		return -EBADMSG;
	return (int)(3 + len);
}

/*
 * One connection that has not registered yet: its handshake, then its
 * RDV_REGISTER, read as they arrive (the socket is non-blocking), so a
 * stranger that sends nothing, or a byte a minute, holds up nobody.
 */
struct rdv_pending {
	int fd;                     /* -1: free */
	int authed;                 /* handshake done, RDV_REGISTER next */
	int64_t since;
	uint32_t rank;              /* claimed in the handshake */
	size_t have;                /* bytes of RDV_REGISTER read */
	struct net_auth_srv hs;
	uint8_t buf[WIRE_HDR_SIZE + 3 + RDV_ADDR_MAX];
};

static void pending_drop(struct rdv_pending *q)
{
	close(q->fd);
	q->fd = -1;
}

/* A new connection takes a free slot, else that of the oldest one that has
 * sent nothing, else the oldest: a flood of strangers pushes out strangers,
 * and a rank retries (its connect succeeds at once, its handshake then
 * takes a round trip). */
static void pending_add(struct rdv_pending *pend, int fd, int64_t now)
{
	struct rdv_pending *slot = NULL, *silent = NULL, *oldest = NULL;

	for (int i = 0; i < RDV_PENDING_MAX && !slot; i++) {
		struct rdv_pending *q = &pend[i];
		if (q->fd < 0)
			slot = q;
		else if (!q->authed && q->hs.state == 0 && q->hs.have == 0 && (!silent || q->since < silent->since))
			silent = q;
		else if (!oldest || q->since < oldest->since)
			oldest = q;
	}
	if (!slot) {
		slot = silent ? silent : oldest;
		log_debug("rendezvous: dropped a connection pushed out by a newer one");
		pending_drop(slot);
	}
	slot->fd = fd;
	slot->authed = 0;
	slot->since = now;
	slot->have = 0;
	net_auth_srv_init(&slot->hs);
}

struct rdv_state {
	struct rdv_server *s;
	int *fds;
	struct rdv_entry *tab;
	int joined;
};

/* q has something to read: advance its handshake or its registration. */
static void pending_step(struct rdv_state *st, struct rdv_pending *q)
{
	struct rdv_server *s = st->s;
	struct wire_hdr h;
	char why[256];
	uint32_t rank;
	int rc;

	if (!q->authed) {
		rc = net_auth_step(&q->hs, q->fd, &s->auth, WIRE_SRC_LAUNCHER, &q->rank, why, sizeof(why));
		if (rc < 0) {
			if (rc == -ECONNRESET)
				log_debug("rendezvous: a connection closed before its handshake: %s", why);
			else
				log_warn("rendezvous: refused a connection: %s", why);
			pending_drop(q);
			return;
		}
		if (rc == 0)
			return;
		q->authed = 1;
	}
	rc = net_msg_step(q->fd, q->buf, sizeof(q->buf), &q->have, &h, "RDV_REGISTER", why, sizeof(why));
	if (rc == 0)
		return;
	rank = q->rank;
	if (rc < 0 || h.type != WIRE_RDV_REGISTER || h.src != rank || rank >= (uint32_t)s->size ||
	    h.arg != (uint64_t)s->size || st->fds[rank] >= 0 ||
	    decode_addr(q->buf + WIRE_HDR_SIZE, h.len, &st->tab[rank]) < 0) {
		log_warn("rendezvous: bad registration from rank %u (%s)", rank,
			 rc < 0 ? why :
			 rank >= (uint32_t)s->size ? "rank out of range" :
			 h.arg != (uint64_t)s->size ? "job size differs" :
			 h.type == WIRE_RDV_REGISTER && st->fds[rank] >= 0 ? "rank registered twice" :
			 "malformed message");
		pending_drop(q);
		return;
	}
	/* registered: the table goes out with blocking sends, with a deadline */
	fcntl(q->fd, F_SETFL, fcntl(q->fd, F_GETFL) & ~O_NONBLOCK);
	st->fds[rank] = q->fd;
	st->joined++;
	q->fd = -1;
}

static void *server_main(void *arg)
{
	struct rdv_server *s = arg;
	struct rdv_state st = { .s = s };
	struct rdv_pending *pend = calloc(RDV_PENDING_MAX, sizeof(*pend));
	struct pollfd *p = calloc(2 + RDV_PENDING_MAX, sizeof(*p));
	uint8_t *out = NULL;
	int64_t deadline = s->timeout_ms > 0 ? now_ns() + (int64_t)s->timeout_ms * 1000000 : INT64_MAX;
	size_t off = 0;

	st.fds = calloc((size_t)s->size, sizeof(int));
	st.tab = calloc((size_t)s->size, sizeof(*st.tab));
	if (!st.fds || !st.tab || !pend || !p)
		goto out;
	for (int i = 0; i < s->size; i++)
		st.fds[i] = -1;
	for (int i = 0; i < RDV_PENDING_MAX; i++)
		pend[i].fd = -1;
	/* accept until the backlog is empty, never waiting for one more */
	fcntl(s->lfd, F_SETFL, fcntl(s->lfd, F_GETFL) | O_NONBLOCK);
	while (st.joined < s->size) {
		int64_t now = now_ns(), left = (deadline - now) / 1000000, next = deadline;
		int np = 2, fd;

		if (left <= 0) {
			char missing[256] = "";
			for (int i = 0, n = 0; i < s->size && n < 16; i++)
				if (st.fds[i] < 0)
					n++, snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing),
						      " %d", i);
			log_err("rendezvous: %d of %d ranks joined within %d ms; missing:%s", st.joined, s->size,
				s->timeout_ms, missing);
			goto out;
		}
		/* each connection has its own deadline to register */
		for (int i = 0; i < RDV_PENDING_MAX; i++) {
			struct rdv_pending *q = &pend[i];
			if (q->fd < 0)
				continue;
			if (now - q->since >= RDV_PENDING_NS) {
				log_debug("rendezvous: dropped a connection that did not register within %lld ms",
					  RDV_PENDING_NS / 1000000);
				pending_drop(q);
				continue;
			}
			if (q->since + RDV_PENDING_NS < next)
				next = q->since + RDV_PENDING_NS;
			p[np++] = (struct pollfd){ .fd = q->fd, .events = POLLIN };
		}
		p[0] = (struct pollfd){ .fd = s->lfd, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = s->stop_pipe[0], .events = POLLIN };
		left = (next - now) / 1000000 + 1;
		if (poll(p, (nfds_t)np, (int)(left > 1000 ? 1000 : left)) <= 0)
			continue;
		if (p[1].revents)
			goto out;
		for (int k = 2; k < np; k++) {
			if (!p[k].revents)
				continue;
			for (int i = 0; i < RDV_PENDING_MAX; i++)
				if (pend[i].fd == p[k].fd) {
					pending_step(&st, &pend[i]);
					break;
				}
		}
		/* then the newcomers, so none pushes out one just served */
		for (int n = 0; p[0].revents && n < RDV_PENDING_MAX; n++) {
			fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (fd < 0) {
				if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
					log_warn("rendezvous: accept: %s", strerror(errno));
				break;
			}
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
			pending_add(pend, fd, now_ns());
		}
	}
	out = malloc((size_t)s->size * (3 + RDV_ADDR_MAX));
	if (!out)
		goto out;
	for (int i = 0; i < s->size; i++)
		off += (size_t)encode_addr(out + off, st.tab[i].addr, st.tab[i].port);
	for (int i = 0; i < s->size; i++) {
		struct wire_hdr h = { .type = WIRE_RDV_TABLE, .len = (uint32_t)off, .src = WIRE_SRC_LAUNCHER,
				      .arg = (uint64_t)s->size };
		if (net_send_msg(st.fds[i], &h, out, now_ns() + 5000000000LL))
			log_warn("rendezvous: could not send the address table to rank %d", i);
	}
out:
	/* Nobody is answered here any more: stop listening. */
	close(s->lfd);
	s->lfd = -1;
	for (int i = 0; pend && i < RDV_PENDING_MAX; i++)
		if (pend[i].fd >= 0)
			close(pend[i].fd);
	for (int i = 0; st.fds && i < s->size; i++)
		if (st.fds[i] >= 0)
			close(st.fds[i]);
	free(out);
	free(st.tab);
	free(st.fds);
	free(p);
	free(pend);
	return NULL;
}

int rdv_server_start(const char *host, int port, int size, const struct job_auth *a,
		     int timeout_ms, struct rdv_server **out, int *bound_port)
{
	struct rdv_server *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	s->size = size;
	s->timeout_ms = timeout_ms;
	s->auth = *a;
	if (pipe2(s->stop_pipe, O_CLOEXEC) < 0) {
		rc = -errno;
		goto err_free;
	}
	s->lfd = net_listen(host, port, bound_port);
	if (s->lfd < 0) {
		rc = s->lfd;
		goto err_pipe;
	}
	rc = -pthread_create(&s->thread, NULL, server_main, s);
	if (rc)
		goto err_listen;
	*out = s;
	return 0;

err_listen:
	close(s->lfd);
err_pipe:
	close(s->stop_pipe[0]);
	close(s->stop_pipe[1]);
err_free:
	free(s);
	return rc;
}

void rdv_server_stop(struct rdv_server *s)
{
	if (!s)
		return;
	if (write(s->stop_pipe[1], "x", 1) < 0)
		log_debug("rendezvous: stop pipe: %s", strerror(errno));
	pthread_join(s->thread, NULL);
	if (s->lfd >= 0)
		close(s->lfd);
	close(s->stop_pipe[0]);
	close(s->stop_pipe[1]);
	free(s);
}

int rdv_register(const char *host, int port, const struct job_auth *a, int rank, int size,
		 const char *my_addr, int my_port, struct rdv_entry *table, int64_t deadline)
{
	size_t cap = (size_t)size * (3 + RDV_ADDR_MAX);
	uint8_t reg[4 + 255], *buf = malloc(cap);
	struct wire_hdr h = { .type = WIRE_RDV_REGISTER, .src = (uint32_t)rank, .arg = (uint64_t)size };
	char why[256];
	size_t off = 0;
	int fd, rc;

	if (!buf)
		return -ENOMEM;
	if (strlen(my_addr) >= RDV_ADDR_MAX) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	for (;;) {
		fd = net_connect(host, port, deadline);
		if (fd < 0) {
			log_err("cannot reach the rendezvous at %s:%d: %s", host, port, strerror(-fd));
			rc = fd;
			goto out;
		}
		rc = net_auth_connect(fd, a, (uint32_t)rank, WIRE_SRC_LAUNCHER, deadline, why, sizeof(why));
		if (rc == 0)
			break;
		/* closed before the challenge: pushed out by a crowd of strangers
		 * (see the Design comment), so try again while time is left */
		if ((rc == -ECONNRESET || rc == -EPIPE) && now_ns() + 50000000 < deadline) {
			log_debug("rendezvous at %s:%d: %s; connecting again", host, port, why);
			close(fd);
			usleep(20000);
			continue;
		}
		log_err("rendezvous at %s:%d: %s", host, port, why);
		goto out_close;
	}
	h.len = (uint32_t)encode_addr(reg, my_addr, my_port);
	rc = net_send_msg(fd, &h, reg, deadline);
	if (rc == 0)
		rc = net_recv_msg(fd, &h, buf, cap, deadline);
	if (rc) {
		log_err("rendezvous at %s:%d: waiting for the other ranks: %s", host, port,
			rc == -ETIMEDOUT ? "timed out (see DSM_TIMEOUT)" :
			rc == -ECONNRESET ? "connection closed (registration refused?)" : strerror(-rc));
		goto out_close;
	}
	if (h.type != WIRE_RDV_TABLE || h.arg != (uint64_t)size) {
		log_err("rendezvous at %s:%d: unexpected %s", host, port, wire_type_name(h.type));
		rc = -EPROTO;
		goto out_close;
	}
	for (int i = 0; i < size; i++) {
		int used = decode_addr(buf + off, h.len - off, &table[i]);
		if (used < 0) {
			log_err("rendezvous at %s:%d: malformed address table", host, port);
			rc = -EPROTO;
			goto out_close;
		}
		off += (size_t)used;
	}
	rc = 0;
out_close:
	close(fd);
out:
	free(buf);
	return rc;
}
