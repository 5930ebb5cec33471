/*
 * transport_tcp.c - a full mesh of TCP connections and the service thread.
 *
 * Design: at start-up every rank connects to each lower rank and accepts a
 * connection from each higher one; both ends authenticate with the job
 * secret (net_auth_*), so a connection is known to come from the rank it
 * claims.  Then one service thread per rank runs an epoll loop over the peer
 * sockets (non-blocking), the mailbox eventfd and the fault backend's fd, and
 * dispatches every complete message: coherence types to coh_handle(), the
 * rest to rt_handle().  Output that the socket does not take at once waits in
 * a per-peer buffer drained on EPOLLOUT, so the service thread never blocks
 * on a slow peer.  Messages a rank sends to itself go through a local queue
 * handled after the current message, which keeps handlers free of re-entry.
 *
 * A peer that closes without having said BYE, sends a message that fails
 * the header checks, or claims another rank's id ends this rank with
 * rt_fatal(), naming the peer and the cause.
 *
 * Locking: all of this file's state belongs to the service thread, except
 * during tp_mesh()/tp_join(), when the service thread does not run.
 */
#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "coherence.h"
#include "log.h"
#include "mailbox.h"
#include "rpc.h"
#include "runtime.h"
#include "sync.h"

#define TAG_MBOX (1ULL << 32)
#define TAG_BACKEND ((1ULL << 32) + 1)
#define IN_INITIAL (64 * 1024)

struct peer {
	int fd;
	int said_bye;
	uint8_t *in;
	size_t in_len, in_cap;
	uint8_t *out;
	size_t out_off, out_len, out_cap;
	int want_out;
};

struct loopmsg {
	struct loopmsg *next;
	struct wire_hdr h;
	uint8_t payload[];
};

static struct peer *peers;
static int epfd = -1, mbox_fd = -1;
static pthread_t service;
static volatile int stopping;
static struct loopmsg *loop_head, **loop_tail = &loop_head;

/* ---- start-up -------------------------------------------------------- */

static int add_peer(int rank, int fd)
{
	struct peer *p = &peers[rank];

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	p->fd = fd;
	p->in_cap = IN_INITIAL;
	p->in = malloc(p->in_cap);
	return p->in ? 0 : -ENOMEM;
}

int tp_mesh(const struct rdv_entry *tab, int lfd, int64_t deadline)
{
	char why[256];
	int rc, need;

	peers = calloc((size_t)rt.size, sizeof(*peers));
	if (!peers)
		return -ENOMEM;
	for (int i = 0; i < rt.size; i++)
		peers[i].fd = -1;
	for (int j = 0; j < rt.rank; j++) {
		int fd = net_connect(tab[j].addr, tab[j].port, deadline);
		if (fd < 0) {
			log_err("cannot connect to rank %d at %s:%d: %s", j, tab[j].addr, tab[j].port,
				strerror(-fd));
			return fd;
		}
		rc = net_auth_connect(fd, &rt.auth, (uint32_t)rt.rank, j, deadline, why, sizeof(why));
		if (rc == 0)
			rc = add_peer(j, fd);
		if (rc) {
			log_err("connection to rank %d at %s:%d: %s", j, tab[j].addr, tab[j].port, why);
			close(fd);
			return rc;
		}
	}
	need = rt.size - 1 - rt.rank;
	while (need > 0) {
		uint32_t peer;
		int64_t hs_deadline = now_ns() + 5000000000LL;
		int fd = net_accept(lfd, deadline);

		if (fd < 0) {
			log_err("waiting for %d higher rank(s) to connect: %s", need,
				fd == -ETIMEDOUT ? "timed out (see DSM_TIMEOUT)" : strerror(-fd));
			return fd;
		}
		rc = net_auth_accept(fd, &rt.auth, (uint32_t)rt.rank, &peer,
				     hs_deadline < deadline ? hs_deadline : deadline, why, sizeof(why));
		if (rc == 0 && (peer <= (uint32_t)rt.rank || peer >= (uint32_t)rt.size || peers[peer].fd >= 0)) {
			snprintf(why, sizeof(why), "connection claims rank %u, which is not expected", peer);
			rc = -EPROTO;
		}
		if (rc) {
			/* A stray or hostile client: refuse it and keep waiting. */
			log_warn("refused a connection: %s", why);
			close(fd);
			continue;
		}
		rc = add_peer((int)peer, fd);
		if (rc)
			return rc;
		need--;
	}
	return 0;
}

/* ---- sending ---------------------------------------------------------- */

static void watch_out(int rank, int on)
{
	struct peer *p = &peers[rank];
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.u64 = (uint64_t)rank };

	if (p->want_out == on)
		return;
	p->want_out = on;
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, p->fd, &ev) < 0)
		rt_fatal("epoll_ctl for rank %d: %s", rank, strerror(errno));
}

static void buffer_out(struct peer *p, const void *data, size_t len)
{
	if (p->out_len + len > p->out_cap) {
		size_t cap = p->out_cap ? p->out_cap : 64 * 1024;
		uint8_t *nb;
		while (cap < p->out_len + len)
			cap *= 2;
		nb = realloc(p->out, cap);
		if (!nb)
			rt_fatal("out of memory for the output to a peer (%zu bytes)", cap);
		p->out = nb;
		p->out_cap = cap;
	}
	memcpy(p->out + p->out_len, data, len);
	p->out_len += len;
}

static void flush_out(int rank)
{
	struct peer *p = &peers[rank];

	while (p->out_off < p->out_len) {
		ssize_t n = send(p->fd, p->out + p->out_off, p->out_len - p->out_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				watch_out(rank, 1);
				return;
			}
			rt_peer_lost(rank, strerror(errno));
		}
		p->out_off += (size_t)n;
	}
	p->out_off = p->out_len = 0;
	watch_out(rank, 0);
}

void tp_send(int to, struct wire_hdr *h, const void *payload)
{
	uint8_t hdr[WIRE_HDR_SIZE];
	struct peer *p;

	h->src = (uint32_t)rt.rank;
	if (to == rt.rank) {
		struct loopmsg *m = malloc(sizeof(*m) + h->len);
		if (!m)
			rt_fatal("out of memory for a local message");
		m->next = NULL;
		m->h = *h;
		if (h->len)
			memcpy(m->payload, payload, h->len);
		*loop_tail = m;
		loop_tail = &m->next;
		return;
	}
	p = &peers[to];
	if (p->fd < 0)
		rt_fatal("no connection to rank %d for %s", to, wire_type_name(h->type));
	wire_encode_hdr(hdr, h);
	if (p->out_len == 0) {
		struct iovec iov[2] = { { hdr, sizeof(hdr) }, { (void *)payload, h->len } };
		size_t total = sizeof(hdr) + h->len;
		ssize_t n;

		do
			n = writev(p->fd, iov, h->len ? 2 : 1);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			rt_peer_lost(to, strerror(errno));
		if (n == (ssize_t)total)
			return;
		if (n < 0)
			n = 0;
		if ((size_t)n < sizeof(hdr)) {
			buffer_out(p, hdr + n, sizeof(hdr) - (size_t)n);
			buffer_out(p, payload, h->len);
		} else {
			buffer_out(p, (const uint8_t *)payload + ((size_t)n - sizeof(hdr)), total - (size_t)n);
		}
		watch_out(to, 1);
		return;
	}
	buffer_out(p, hdr, sizeof(hdr));
	if (h->len)
		buffer_out(p, payload, h->len);
}

/* ---- receiving -------------------------------------------------------- */

static void dispatch(const struct wire_hdr *h, const uint8_t *payload)
{
	if (h->type >= WIRE_READ_REQ && h->type <= WIRE_DONE)
		coh_handle(h, payload);
	else if (h->type >= WIRE_SYNC_FIRST && h->type <= WIRE_SYNC_LAST)
		sync_handle(h, payload);
	else if (h->type >= WIRE_RPC_FIRST && h->type <= WIRE_RPC_LAST)
		rpc_handle(h, payload);
	else
		rt_handle(h, payload);
}

static void run_loopback(void)
{
	while (loop_head) {
		struct loopmsg *m = loop_head;
		loop_head = m->next;
		if (!loop_head)
			loop_tail = &loop_head;
		dispatch(&m->h, m->payload);
		free(m);
	}
}

static void close_peer(int rank)
{
	struct peer *p = &peers[rank];

	epoll_ctl(epfd, EPOLL_CTL_DEL, p->fd, NULL);
	close(p->fd);
	p->fd = -1;
	rt_peer_closed(rank);
}

static void receive(int rank)
{
	struct peer *p = &peers[rank];

	for (;;) {
		size_t off = 0;
		ssize_t n = recv(p->fd, p->in + p->in_len, p->in_cap - p->in_len, 0);

		if (n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE))) {
			if (p->said_bye) {
				close_peer(rank);
				return;
			}
			rt_peer_lost(rank, n == 0 ? "end of stream" : strerror(errno));
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			rt_fatal("receiving from rank %d: %s", rank, strerror(errno));
		}
		p->in_len += (size_t)n;
		while (p->in_len - off >= WIRE_HDR_SIZE) {
			struct wire_hdr h;
			int rc = wire_decode_hdr(p->in + off, p->in_len - off, &h);
			size_t total;

			if (rc)
				rt_fatal("rank %d sent a bad message: %s", rank, wire_strerror(rc));
			if (h.src != (uint32_t)rank)
				rt_fatal("rank %d sent a message claiming to come from rank %u", rank, h.src);
			total = WIRE_HDR_SIZE + h.len;
			if (p->in_len - off < total) {
				if (total > p->in_cap) {
					uint8_t *nb;
					memmove(p->in, p->in + off, p->in_len - off);
					p->in_len -= off;
					off = 0;
					nb = realloc(p->in, total);
					if (!nb)
						rt_fatal("out of memory for a message of %zu bytes", total);
					p->in = nb;
					p->in_cap = total;
				}
				break;
			}
			dispatch(&h, p->in + off + WIRE_HDR_SIZE);
			if (h.type == WIRE_BYE)
				p->said_bye = 1;
			off += total;
		}
		if (off) {
			memmove(p->in, p->in + off, p->in_len - off);
			p->in_len -= off;
		}
		run_loopback();
	}
}

/* ---- the service thread ----------------------------------------------- */

static void *service_main(void *arg)
{
	struct epoll_event evs[64];
	int be_fd = rt.be->event_fd();

	(void)arg;
	while (!stopping) {
		int n = epoll_wait(epfd, evs, 64, coh_busy() ? 200 : -1);

		if (n < 0 && errno != EINTR)
			rt_fatal("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;
			if (tag == TAG_MBOX) {
				struct mbox_req *r = mbox_drain();
				while (r) {
					struct mbox_req *nx = r->next;
					if (r->kind == MBOX_FAULT)
						coh_fault(r->a, (int)r->b, r);
					else if (r->kind >= MBOX_SYNC_FIRST && r->kind <= MBOX_SYNC_LAST)
						sync_request(r);
					else if (r->kind >= MBOX_RPC_FIRST && r->kind <= MBOX_RPC_LAST)
						rpc_request(r);
					else
						rt_request(r);
					r = nx;
				}
			} else if (tag == TAG_BACKEND) {
				rt.be->handle_events();
			} else {
				int rank = (int)tag;
				if (peers[rank].fd >= 0 && (evs[i].events & EPOLLOUT))
					flush_out(rank);
				if (peers[rank].fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
					receive(rank);
			}
			run_loopback();
		}
		if (coh_busy())
			coh_check_deadlines(now_ns());
	}
	(void)be_fd;
	return NULL;
}

static int watch(int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		log_err("epoll_ctl: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

int tp_start(void)
{
	sigset_t all, old;
	int rc;

	if (!peers) {
		peers = calloc((size_t)rt.size, sizeof(*peers));
		if (!peers)
			return -ENOMEM;
		for (int i = 0; i < rt.size; i++)
			peers[i].fd = -1;
	}
	stopping = 0;
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return -errno;
	mbox_fd = mbox_init();
	if (mbox_fd < 0)
		return mbox_fd;
	if ((rc = watch(mbox_fd, TAG_MBOX)))
		return rc;
	if (rt.be->event_fd() >= 0 && (rc = watch(rt.be->event_fd(), TAG_BACKEND)))
		return rc;
	for (int i = 0; i < rt.size; i++)
		if (peers[i].fd >= 0 && (rc = watch(peers[i].fd, (uint64_t)i)))
			return rc;
	/* Signals are for the application's threads, not ours. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = -pthread_create(&service, NULL, service_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		log_err("cannot start the service thread: %s", strerror(-rc));
	return rc;
}

void tp_stop(void)
{
	stopping = 1;
}

void tp_join(void)
{
	int64_t deadline;

	pthread_join(service, NULL);
	deadline = now_ns() + rt.timeout_ns;
	for (int i = 0; peers && i < rt.size; i++) {
		struct peer *p = &peers[i];
		/* Whatever is still buffered (a BYE, say) must reach the peer. */
		if (p->fd >= 0 && p->out_off < p->out_len &&
		    net_send_all(p->fd, p->out + p->out_off, p->out_len - p->out_off, deadline))
			log_warn("could not send the last messages to rank %d", i);
		if (p->fd >= 0)
			close(p->fd);
		free(p->in);
		free(p->out);
	}
	free(peers);
	peers = NULL;
	while (loop_head) {
		struct loopmsg *m = loop_head;
		loop_head = m->next;
		free(m);
	}
	loop_tail = &loop_head;
	close(epfd);
	epfd = -1;
	mbox_fini();
}
