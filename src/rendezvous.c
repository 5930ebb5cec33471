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
 */
#include "rendezvous.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

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

static void *server_main(void *arg)
{
	struct rdv_server *s = arg;
	int *fds = calloc((size_t)s->size, sizeof(int));
	struct rdv_entry *tab = calloc((size_t)s->size, sizeof(*tab));
	uint8_t *out = NULL, buf[4 + 255];
	int64_t deadline = s->timeout_ms > 0 ? now_ns() + (int64_t)s->timeout_ms * 1000000 : INT64_MAX;
	int joined = 0;
	size_t off = 0;
	char why[256];

	if (!fds || !tab)
		goto out;
	for (int i = 0; i < s->size; i++)
		fds[i] = -1;
	while (joined < s->size) {
		struct pollfd p[2] = { { .fd = s->lfd, .events = POLLIN },
				       { .fd = s->stop_pipe[0], .events = POLLIN } };
		int64_t left = (deadline - now_ns()) / 1000000;
		struct wire_hdr h;
		uint32_t rank;
		int fd, rc;

		if (left <= 0) {
			char missing[256] = "";
			for (int i = 0, n = 0; i < s->size && n < 16; i++)
				if (fds[i] < 0)
					n++, snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing),
						      " %d", i);
			log_err("rendezvous: %d of %d ranks joined within %d ms; missing:%s", joined, s->size,
				s->timeout_ms, missing);
			goto out;
		}
		if (poll(p, 2, (int)(left > 1000 ? 1000 : left + 1)) <= 0)
			continue;
		if (p[1].revents)
			goto out;
		fd = net_accept(s->lfd, deadline);
		if (fd < 0)
			continue;
		/* One slow or hostile client must not stall the others for long. */
		rc = net_auth_accept(fd, &s->auth, WIRE_SRC_LAUNCHER, &rank, now_ns() + 5000000000LL, why,
				     sizeof(why));
		if (rc) {
			log_warn("rendezvous: refused a connection: %s", why);
			close(fd);
			continue;
		}
		rc = net_recv_msg(fd, &h, buf, sizeof(buf), now_ns() + 5000000000LL);
		if (rc || h.type != WIRE_RDV_REGISTER || h.src != rank || rank >= (uint32_t)s->size ||
		    h.arg != (uint64_t)s->size || fds[rank] >= 0 || decode_addr(buf, h.len, &tab[rank]) < 0) {
			log_warn("rendezvous: bad registration from rank %u (%s)", rank,
				 rc ? strerror(-rc) :
				 rank >= (uint32_t)s->size ? "rank out of range" :
				 h.arg != (uint64_t)s->size ? "job size differs" :
				 h.type == WIRE_RDV_REGISTER && fds[rank] >= 0 ? "rank registered twice" :
				 "malformed message");
			close(fd);
			continue;
		}
		fds[rank] = fd;
		joined++;
	}
	out = malloc((size_t)s->size * (3 + RDV_ADDR_MAX));
	if (!out)
		goto out;
	for (int i = 0; i < s->size; i++)
		off += (size_t)encode_addr(out + off, tab[i].addr, tab[i].port);
	for (int i = 0; i < s->size; i++) {
		struct wire_hdr h = { .type = WIRE_RDV_TABLE, .len = (uint32_t)off, .src = WIRE_SRC_LAUNCHER,
				      .arg = (uint64_t)s->size };
		if (net_send_msg(fds[i], &h, out, now_ns() + 5000000000LL))
			log_warn("rendezvous: could not send the address table to rank %d", i);
	}
out:
	/* Nobody is answered here any more: stop listening. */
	close(s->lfd);
	s->lfd = -1;
	for (int i = 0; fds && i < s->size; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(out);
	free(tab);
	free(fds);
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
	fd = net_connect(host, port, deadline);
	if (fd < 0) {
		log_err("cannot reach the rendezvous at %s:%d: %s", host, port, strerror(-fd));
		rc = fd;
		goto out;
	}
	rc = net_auth_connect(fd, a, (uint32_t)rank, WIRE_SRC_LAUNCHER, deadline, why, sizeof(why));
	if (rc) {
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
