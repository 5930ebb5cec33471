/*
 * transport_tcp.c - a full mesh of TCP links between the ranks, the session
 * layer that makes each link survive lost messages and broken connections,
 * and the service thread.
 *
 * Design.
 *
 * Mesh: at start-up every rank connects to each lower rank and accepts a
 * connection from each higher one; both ends authenticate with the job secret
 * (net_auth_*), so a connection is known to come from the rank it claims.
 *
 * Session layer: every message a rank sends to a peer, except the link's own
 * ACK and RESUME, carries a per-link sequence number (wire header `seq`).
 * The sender keeps each message until the peer acknowledges it (a cumulative
 * ACK, sent ACK_DELAY after the first unacknowledged arrival or after every
 * ACK_EVERY messages); the receiver delivers a message only when it is the
 * next in sequence and drops duplicates and early arrivals.  The protocols
 * above (coherence, sync, RPC) therefore see every link as an exactly-once,
 * in-order channel, whatever happens below.
 *
 * Faults (DSM_FAULTS, see faults_parse) are injected below the session layer,
 * when a message is staged for the socket: it may be dropped, written twice,
 * swapped with the next one, or held back for a while; and a link can be cut
 * at a given time.  With faults on, a message not acknowledged within the
 * retransmission timeout is sent again (go-back-N, with backoff).  Off, the
 * cost is one predictable branch per message.
 *
 * Broken connections: a link that fails (end of stream without BYE, any
 * error the network can report on an established socket - reset, abort,
 * unreachable host or network, EIO -, a cut) goes down but the rank goes on.  The higher rank of the pair
 * reconnects (through the link manager thread, which also accepts the
 * connections of higher ranks on this rank's listening socket for the whole
 * job); the new connection is authenticated again, each side first sends
 * RESUME(next seq it expects) and then everything the other side has not
 * received.  A peer whose listening socket refuses connections has died; a
 * peer unreachable for DSM_TIMEOUT is given up.  Either ends this rank with
 * rt_peer_lost(), naming the peer.
 *
 * Failure detector: a link that carried nothing for DSM_TIMEOUT / 4 carries
 * a HEARTBEAT; a peer from which nothing arrived for DSM_TIMEOUT ends the job
 * (detector_due()).
 *
 * Messages a rank sends to itself go through a local queue handled after the
 * current message, which keeps handlers free of re-entry.
 *
 * Delivery: each protocol registers the message types it owns from its init
 * (tp_register), so the transport names none of them and a new protocol
 * (release consistency beside coherence) plugs in without touching it; a
 * message goes to its type's handler through one array lookup, and a type
 * nobody registered to the runtime (rt_handle), which refuses what it does
 * not know.
 *
 * Threads and locking: all link state belongs to the holder of the baton:
 * the service thread, or an application thread that drives while it waits
 * for its own request (see "The requesting thread drives" below).  The
 * link manager thread owns the listening socket and the reconnection
 * attempts; it learns which links are down from `link_down` (atomic flags,
 * plus a wake-up pipe) and hands authenticated sockets to the service thread
 * through the mailbox (MBOX_LINK_UP / MBOX_LINK_DEAD).
 */
#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <linux/futex.h>
#include <unistd.h>

#include "coherence.h"
#include "rc.h"
#include "launch_env.h"
#include "log.h"
#include "mailbox.h"
#include "rpc.h"
#include "runtime.h"
#include "stats.h"
#include "sync.h"

#define TAG_MBOX (1ULL << 32)
#define TAG_BACKEND ((1ULL << 32) + 1)
#define TAG_NET ((1ULL << 32) + 2)   /* the service thread's epoll: netfd is ready */
#define TAG_TIMER ((1ULL << 32) + 3) /* ... or a driver set its timer earlier */
#define DRIVE_NS 1000000LL           /* a driver serves the rank at most this long */
#define IN_INITIAL (64 * 1024)
#define STAGE_LIMIT (256 * 1024)   /* bytes staged for the socket at a time */
#define ACK_DELAY_NS 2000000LL     /* acknowledge within 2 ms ... */
#define ACK_EVERY 32               /* ... or after this many messages */
#define RTO_MIN_MS 20              /* retransmission timeout (faults on) */
#define RTO_MAX_MS 1000
#define ACK_NOW 1                  /* ack_due: at once */
#define PROBE_NS 200000000LL       /* link manager: retry / probe period */
#define REFUSED_DEAD 3             /* refused connections that mean "dead" */
#define FAULT_DELAY_MAX_S 10       /* DSM_FAULTS: longest delay=... */
#define FAULT_AT_MAX_S 3600        /* DSM_FAULTS: latest cut=...@TIME */

enum { LINK_UP, LINK_DOWN, LINK_GONE };

/* A sequenced message kept until the peer acknowledges it. */
struct omsg {
	struct omsg *next;
	uint32_t seq;
	uint32_t size;    /* header + payload */
	int64_t release;  /* fault injection: not before this time */
	uint8_t buf[];
};

/*
 * Big messages (a bundle of pages, up to about 130 KiB) would each come
 * from fresh memory: glibc hands the freed top of a thread's heap back to
 * the kernel (MADV_DONTNEED) and the next big message faults its pages in
 * again, zeroed, and each hand-back flushes the TLB (scan_bench: 3.5 % of
 * the service thread's samples were page faults in the copy into a new
 * message).  So messages of OMSG_MID to OMSG_BIG bytes get buffers of
 * OMSG_BIG bytes, and up to OMSG_KEEP freed ones wait for reuse.  Locking:
 * under the baton, as the links are.
 */
#define OMSG_MID (16u << 10)
#define OMSG_BIG (192u << 10)
#define OMSG_KEEP 16

static struct omsg *omsg_kept[OMSG_KEEP];
static int n_omsg_kept;

static struct omsg *omsg_alloc(size_t size)
{
	if (size < OMSG_MID || size > OMSG_BIG)
		return malloc(sizeof(struct omsg) + size);
	if (n_omsg_kept)
		return omsg_kept[--n_omsg_kept];
	return malloc(sizeof(struct omsg) + OMSG_BIG);
}

static void omsg_free(struct omsg *m)
{
	if (m->size >= OMSG_MID && m->size <= OMSG_BIG && n_omsg_kept < OMSG_KEEP)
		omsg_kept[n_omsg_kept++] = m;
	else
		free(m);
}

struct peer {
	int fd;
	int state;
	int inject_err;      /* fault injection: the next recv() fails with this */
	/* failure detector: when bytes last came in and went out (noted by the
	 * timers from the flags the I/O paths set: no clock read per message);
	 * armed once the peer's service thread has been heard from */
	int64_t last_rx, last_tx;
	int rx_seen, tx_seen;
	int heard;
	int said_bye;
	int sent_bye;        /* our BYE is queued for it (tp_send) */
	int resumed;         /* the peer's RESUME arrived on this connection */
	int64_t down_since;
	/* receiving */
	uint8_t *in;
	size_t in_len, in_cap;
	uint32_t recv_next;  /* next sequence number expected */
	uint32_t acked;      /* highest sequence number acknowledged to the peer */
	int64_t ack_due;     /* 0: no acknowledgement owed; ACK_NOW: owed now */
	int ack_force;       /* repeat the acknowledgement (the peer is resending) */
	int resume_owed;     /* send RESUME first on this connection */
	/* sending: all unacknowledged messages in order; `cur` is the first
	 * not yet staged on this connection */
	uint32_t send_next;
	struct omsg *head, *tail, *cur;
	uint8_t *out;        /* bytes staged for the socket */
	size_t out_off, out_len, out_cap;
	int want_out;
	int64_t rto_at;
	int rto_ms;
	int64_t last_rewind;
	int corked;          /* on the corked list: messages wait for flush_corked() */
};

struct loopmsg {
	struct loopmsg *next;
	struct wire_hdr h;
	uint8_t payload[];
};

/* Fault injection, from DSM_FAULTS. */
static struct {
	int on;
	double drop, dup, reorder;
	int64_t delay_min, delay_max;
	int cut_a, cut_b;
	int64_t cut_at;      /* absolute; 0: no cut (or done) */
	int cut_err;         /* the errno the cut rank's next recv() reports; 0: none */
	uint64_t rng;
} faults;

/* DSM_ENCRYPT=1: every message on a link is sealed with XChaCha20-Poly1305
 * under a key per direction (derived from the job secret), its header
 * authenticated as associated data.  A message is sealed once, when queued,
 * so a retransmission repeats the same nonce with the same plaintext. */
static int sealing;
static uint8_t (*tx_key)[32], (*rx_key)[32];
static uint8_t *open_buf; /* service thread: a message's opened payload */

static struct peer *peers;
static struct rdv_entry *table;
static int epfd = -1, netfd = -1, timer_fd = -1, mbox_fd = -1, listen_fd = -1;
static pthread_t service, linkmgr;
static int linkmgr_running;
static int lm_pipe[2] = { -1, -1 };
static atomic_int *link_down;
static volatile int stopping;
static int stop_requested;
static struct loopmsg *loop_head, **loop_tail = &loop_head;
static int *corked, n_corked; /* peers with messages queued since the last flush */

static void link_fail(int rank, const char *why);

static int seq_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

/* ---- fault injection ------------------------------------------------- */

static uint64_t rnd(void)
{
	uint64_t x = faults.rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	faults.rng = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static int chance(double p)
{
	return p > 0 && (double)(rnd() >> 11) / (double)(1ULL << 53) < p;
}

/* "200us", "5ms", "3s", "1.5s", "250" (ms) -> nanoseconds, at most max_s
 * seconds (nan, infinities and negatives are refused) */
static int parse_duration(const char *s, const char *end, double max_s, int64_t *ns)
{
	char buf[32], *e;
	size_t n = (size_t)(end - s);
	double v;

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	v = strtod(buf, &e);
	if (e == buf || !(v >= 0))
		return -EINVAL;
	if (!strcmp(e, "us"))
		v *= 1e3;
	else if (!strcmp(e, "ms") || !*e)
		v *= 1e6;
	else if (!strcmp(e, "s"))
		v *= 1e9;
	else
		return -EINVAL;
	if (!(v <= max_s * 1e9))
		return -EINVAL;
	*ns = (int64_t)v;
	return 0;
}

static int parse_prob(const char *s, double *p)
{
	char *e;

	*p = strtod(s, &e);
	return (e == s || (*e && *e != ',') || !(*p >= 0 && *p <= 1)) ? -EINVAL : 0; /* nan too */
}

/* The errors an established link may report.  Every one heals the same way
 * (link_fail: reconnect, resume, resend); those of our own making (EBADF,
 * EFAULT, EINVAL, ENOTSOCK, ENOMEM) do not come from the network and stay
 * fatal.  The names are what DSM_FAULTS's cut=A-B@TIME/ERRNO takes. */
static const struct { const char *name; int err; } link_errors[] = {
	{ "ECONNRESET", ECONNRESET }, { "ECONNABORTED", ECONNABORTED }, { "EPIPE", EPIPE },
	{ "ETIMEDOUT", ETIMEDOUT }, { "EHOSTUNREACH", EHOSTUNREACH }, { "ENETUNREACH", ENETUNREACH },
	{ "ENETDOWN", ENETDOWN }, { "ENETRESET", ENETRESET }, { "EHOSTDOWN", EHOSTDOWN }, { "EIO", EIO },
	{ "ENOTCONN", ENOTCONN }, { "ECONNREFUSED", ECONNREFUSED }, { "EPROTO", EPROTO },
	{ "ENOBUFS", ENOBUFS }, { "ESHUTDOWN", ESHUTDOWN },
};

static int link_error(int err)
{
	return err != EBADF && err != EFAULT && err != EINVAL && err != ENOTSOCK && err != ENOMEM &&
	       err != EOPNOTSUPP;
}

static int parse_link_error(const char *s, const char *end, int *err)
{
	for (size_t i = 0; i < sizeof(link_errors) / sizeof(link_errors[0]); i++)
		if (strlen(link_errors[i].name) == (size_t)(end - s) && !strncmp(s, link_errors[i].name, (size_t)(end - s))) {
			*err = link_errors[i].err;
			return 0;
		}
	return -EINVAL;
}

/* DSM_FAULTS="drop=0.01,delay=200us..5ms,dup=0.01,reorder=0.01,cut=1-2@3s,seed=42" */
static int faults_parse(const char *spec)
{
	uint64_t seed = 1;
	const char *s = spec;

	memset(&faults, 0, sizeof(faults));
	if (!spec || !*spec)
		return 0;
	while (*s) {
		const char *end = strchr(s, ','), *eq = strchr(s, '=');
		int rc = 0;

		if (!end)
			end = s + strlen(s);
		if (!eq || eq > end)
			goto bad;
		if (!strncmp(s, "drop=", 5)) {
			rc = parse_prob(eq + 1, &faults.drop);
		} else if (!strncmp(s, "dup=", 4)) {
			rc = parse_prob(eq + 1, &faults.dup);
		} else if (!strncmp(s, "reorder=", 8)) {
			rc = parse_prob(eq + 1, &faults.reorder);
		} else if (!strncmp(s, "delay=", 6)) {
			const char *dots = strstr(eq + 1, "..");
			if (!dots || dots > end)
				goto bad;
			rc = parse_duration(eq + 1, dots, FAULT_DELAY_MAX_S, &faults.delay_min);
			if (rc == 0)
				rc = parse_duration(dots + 2, end, FAULT_DELAY_MAX_S, &faults.delay_max);
			if (rc == 0 && faults.delay_max < faults.delay_min)
				rc = -EINVAL;
		} else if (!strncmp(s, "cut=", 4)) {
			char *e;
			const char *at = strchr(eq + 1, '@');
			faults.cut_a = (int)strtol(eq + 1, &e, 10);
			if (e == eq + 1 || *e != '-' || !at || at > end)
				goto bad;
			faults.cut_b = (int)strtol(e + 1, &e, 10);
			if (e != at || faults.cut_a == faults.cut_b || faults.cut_a < 0 || faults.cut_b < 0 ||
			    faults.cut_a >= rt.size || faults.cut_b >= rt.size)
				goto bad;
			const char *slash = memchr(at, '/', (size_t)(end - at));
			rc = parse_duration(at + 1, slash ? slash : end, FAULT_AT_MAX_S, &faults.cut_at);
			if (rc == 0 && slash)
				rc = parse_link_error(slash + 1, end, &faults.cut_err);
			faults.cut_at += now_ns();
		} else if (!strncmp(s, "seed=", 5)) {
			char *e;
			seed = strtoull(eq + 1, &e, 0);
			if (e == eq + 1 || e != end)
				goto bad;
		} else {
			goto bad;
		}
		if (rc)
			goto bad;
		s = *end ? end + 1 : end;
		continue;
bad:
		log_err("DSM_FAULTS=%s: cannot read '%.*s' (items: drop=P, dup=P, reorder=P with P from 0 "
			"to 1, delay=MIN..MAX up to %ds, cut=A-B@TIME up to %ds, optionally /ERRNO such as "
			"/ECONNABORTED, seed=N)", spec, (int)(end - s),
			s, FAULT_DELAY_MAX_S, FAULT_AT_MAX_S);
		return -EINVAL;
	}
	faults.on = 1;
	faults.rng = (seed ^ ((uint64_t)(rt.rank + 1) * 0x9e3779b97f4a7c15ULL)) | 1;
	log_info("fault injection on: %s", spec);
	return 0;
}

/* ---- start-up -------------------------------------------------------- */

static void peer_init(struct peer *p)
{
	memset(p, 0, sizeof(*p));
	p->fd = -1;
	p->state = LINK_UP;
	p->resumed = 1;
	p->recv_next = 1;
	p->send_next = 1;
	p->rto_ms = RTO_MIN_MS;
}

static int alloc_peers(void)
{
	if (peers)
		return 0;
	peers = calloc((size_t)rt.size, sizeof(*peers));
	link_down = calloc((size_t)rt.size, sizeof(*link_down));
	corked = calloc((size_t)rt.size, sizeof(*corked));
	if (!peers || !link_down || !corked)
		return -ENOMEM;
	n_corked = 0;
	for (int i = 0; i < rt.size; i++)
		peer_init(&peers[i]);
	return 0;
}

static int add_peer(int rank, int fd)
{
	struct peer *p = &peers[rank];

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	p->fd = fd;
	if (!p->in) {
		p->in_cap = IN_INITIAL;
		p->in = malloc(p->in_cap);
	}
	return p->in ? 0 : -ENOMEM;
}

int tp_mesh(const struct rdv_entry *tab, int lfd, int64_t deadline)
{
	char why[256];
	int rc, need;

	if ((rc = alloc_peers()))
		return rc;
	table = malloc((size_t)rt.size * sizeof(*table));
	if (!table)
		return -ENOMEM;
	memcpy(table, tab, (size_t)rt.size * sizeof(*table));
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
	/* The link manager keeps listening for reconnections. */
	listen_fd = fcntl(lfd, F_DUPFD_CLOEXEC, 0);
	return listen_fd < 0 ? -errno : 0;
}

/* ---- sending ---------------------------------------------------------- */

static void watch_out(int rank, int on)
{
	struct peer *p = &peers[rank];
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.u64 = (uint64_t)rank };

	if (p->want_out == on || p->fd < 0)
		return;
	p->want_out = on;
	if (epoll_ctl(netfd, EPOLL_CTL_MOD, p->fd, &ev) < 0)
		rt_fatal("epoll_ctl for rank %d: %s", rank, strerror(errno));
}

static void stage_bytes(struct peer *p, const void *data, size_t len)
{
	if (p->out_off == p->out_len)
		p->out_off = p->out_len = 0;
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

static int derive_keys(void)
{
	if (!sealing)
		return 0;
	if (sodium_init() < 0)
		return -EIO;
	tx_key = calloc((size_t)rt.size, sizeof(*tx_key));
	rx_key = calloc((size_t)rt.size, sizeof(*rx_key));
	open_buf = malloc(WIRE_MAX_PAYLOAD + WIRE_SEAL_OVERHEAD);
	if (!tx_key || !rx_key || !open_buf)
		return -ENOMEM;
	for (int r = 0; r < rt.size; r++) {
		crypto_kdf_derive_from_key(tx_key[r], 32, (uint64_t)rt.rank << 32 | (uint32_t)r, "dsm-link",
					   rt.auth.secret);
		crypto_kdf_derive_from_key(rx_key[r], 32, (uint64_t)r << 32 | (uint32_t)rt.rank, "dsm-link",
					   rt.auth.secret);
	}
	return 0;
}

/* Encode h (+ payload) for `to` into out: WIRE_HDR_SIZE + the length the
 * message has on the wire (msg_wire_size). */
static size_t msg_wire_size(const struct wire_hdr *h)
{
	return WIRE_HDR_SIZE + h->len + (sealing ? WIRE_SEAL_OVERHEAD : 0);
}

static void encode_msg(int to, struct wire_hdr *h, const void *payload, uint8_t *out)
{
	if (!sealing) {
		wire_encode_hdr(out, h);
		if (h->len)
			memcpy(out + WIRE_HDR_SIZE, payload, h->len);
		return;
	}
	uint32_t plain = h->len;
	uint8_t *nonce = out + WIRE_HDR_SIZE;
	unsigned long long clen;

	h->flags |= WIRE_F_SEALED;
	h->len = plain + WIRE_SEAL_OVERHEAD;
	wire_encode_hdr(out, h);
	randombytes_buf(nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &clen,
						   payload, plain, out, WIRE_HDR_SIZE, NULL, nonce,
						   tx_key[to]);
	h->len = plain;
	h->flags &= (uint16_t)~WIRE_F_SEALED;
}

/* Open a sealed message in place of h/payload; -EBADMSG if it fails. */
static int open_msg(int from, const uint8_t *raw, struct wire_hdr *h, const uint8_t **payload)
{
	const uint8_t *nonce = raw + WIRE_HDR_SIZE;
	unsigned long long plen;

	if (!(h->flags & WIRE_F_SEALED))
		return -EBADMSG;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(open_buf, &plen, NULL,
						       nonce + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
						       h->len - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
						       raw, WIRE_HDR_SIZE, nonce, rx_key[from]) != 0)
		return -EBADMSG;
	h->len = (uint32_t)plen;
	h->flags &= (uint16_t)~WIRE_F_SEALED;
	*payload = open_buf;
	return 0;
}

static void stage_link_msg(int rank, int type, uint64_t arg)
{
	struct wire_hdr h = { .type = (uint8_t)type, .src = (uint32_t)rt.rank, .arg = arg };
	uint8_t msg[WIRE_HDR_SIZE + WIRE_SEAL_OVERHEAD];

	encode_msg(rank, &h, NULL, msg);
	stage_bytes(&peers[rank], msg, msg_wire_size(&h));
}

static void arm_rto(struct peer *p, int64_t now)
{
	if (faults.on && !p->rto_at)
		p->rto_at = now + (int64_t)p->rto_ms * 1000000;
}

/* Move what may go now into the output buffer, applying injected faults. */
static void stage(int rank, int64_t now)
{
	struct peer *p = &peers[rank];

	if (p->resume_owed) {
		stage_link_msg(rank, WIRE_RESUME, p->recv_next);
		p->resume_owed = 0;
	}
	if (p->ack_due && (p->acked != p->recv_next - 1 || p->ack_force)) {
		stage_link_msg(rank, WIRE_ACK, p->recv_next - 1);
		p->acked = p->recv_next - 1;
		p->ack_force = 0;
	}
	p->ack_due = 0;
	if (!p->resumed)
		return;
	while (p->cur && p->out_len - p->out_off < STAGE_LIMIT) {
		struct omsg *m = p->cur;
		if (__builtin_expect(faults.on, 0)) {
			if (m->release > now)
				break; /* delayed: the timer comes back for it */
			if (chance(faults.drop)) {
				p->cur = m->next;
				arm_rto(p, now);
				continue;
			}
			if (m->next && m->next->release <= now && chance(faults.reorder)) {
				stage_bytes(p, m->next->buf, m->next->size);
				stage_bytes(p, m->buf, m->size);
				p->cur = m->next->next;
				arm_rto(p, now);
				continue;
			}
			if (chance(faults.dup))
				stage_bytes(p, m->buf, m->size);
			arm_rto(p, now);
		}
		stage_bytes(p, m->buf, m->size);
		p->cur = m->next;
	}
}

/* Write what is staged; stage more as the socket takes it. */
static void pump(int rank)
{
	struct peer *p = &peers[rank];
	int64_t now = faults.on ? now_ns() : 0;

	if (p->fd < 0 || p->state != LINK_UP)
		return;
	for (;;) {
		ssize_t n;

		if (p->out_off == p->out_len) {
			stage(rank, now);
			if (p->out_off == p->out_len) {
				watch_out(rank, 0);
				return;
			}
		}
		n = send(p->fd, p->out + p->out_off, p->out_len - p->out_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				watch_out(rank, 1);
				return;
			}
			if (!link_error(errno))
				rt_fatal("sending to rank %d: %s", rank, strerror(errno));
			link_fail(rank, strerror(errno));
			return;
		}
		p->out_off += (size_t)n;
		p->tx_seen = 1;
		stats_add_bytes(rank, (uint64_t)n, 0);
	}
}

void tp_send(int to, struct wire_hdr *h, const void *payload)
{
	struct peer *p;
	struct omsg *m;

	h->src = (uint32_t)rt.rank;
	if (to == rt.rank) {
		struct loopmsg *lm = malloc(sizeof(*lm) + h->len);
		if (!lm)
			rt_fatal("out of memory for a local message");
		lm->next = NULL;
		lm->h = *h;
		if (h->len)
			memcpy(lm->payload, payload, h->len);
		*loop_tail = lm;
		loop_tail = &lm->next;
		return;
	}
	p = &peers[to];
	if (p->state == LINK_GONE) {
		log_debug("dropping %s to rank %d, which has finished", wire_type_name(h->type), to);
		return;
	}
	m = omsg_alloc(msg_wire_size(h));
	if (!m)
		rt_fatal("out of memory for a message to rank %d", to);
	if (h->type == WIRE_BYE)
		p->sent_bye = 1;
	h->seq = p->send_next++;
	m->next = NULL;
	m->seq = h->seq;
	m->size = (uint32_t)msg_wire_size(h);
	m->release = 0;
	encode_msg(to, h, payload, m->buf);
	if (__builtin_expect(faults.on, 0) && faults.delay_max > 0) {
		/* Keep the link in order: never release before the previous one. */
		int64_t d = faults.delay_min +
			    (int64_t)(rnd() % (uint64_t)(faults.delay_max - faults.delay_min + 1));
		m->release = now_ns() + d;
		if (p->tail && p->tail->release > m->release)
			m->release = p->tail->release;
	}
	if (p->tail)
		p->tail->next = m;
	else
		p->head = m;
	p->tail = m;
	if (!p->cur)
		p->cur = m;
	/* Corked: what the handlers of one batch of events send to a peer
	 * goes out in one write, after the batch (flush_corked). */
	if (!p->corked) {
		p->corked = 1;
		corked[n_corked++] = to;
	}
}

/* Write what tp_send() queued since the last flush. */
static void flush_corked(void)
{
	for (int i = 0; i < n_corked; i++) {
		struct peer *p = &peers[corked[i]];
		p->corked = 0;
		if (p->out_off == p->out_len) /* else EPOLLOUT comes back for it */
			pump(corked[i]);
	}
	n_corked = 0;
}

/* The peer has everything up to `upto`: forget it.  Returns how many
 * messages that acknowledged. */
static int acked_upto(struct peer *p, uint32_t upto)
{
	int n = 0;

	while (p->head && !seq_before(upto, p->head->seq)) {
		n++;
		struct omsg *m = p->head;
		if (p->cur == m)
			p->cur = m->next;
		p->head = m->next;
		omsg_free(m);
	}
	if (!p->head)
		p->tail = NULL;
	if (!p->head || p->head == p->cur) {
		p->rto_at = 0; /* nothing written waits for an acknowledgement */
		p->rto_ms = RTO_MIN_MS;
	} else if (faults.on) {
		p->rto_at = now_ns() + (int64_t)p->rto_ms * 1000000;
	}
	return n;
}

static void free_queue(struct peer *p)
{
	while (p->head) {
		struct omsg *m = p->head;
		p->head = m->next;
		omsg_free(m);
	}
	p->tail = p->cur = NULL;
}

/* ---- link failures and reconnection ------------------------------------- */

static void wake_linkmgr(void)
{
	if (lm_pipe[1] >= 0 && write(lm_pipe[1], "x", 1) < 0 && errno != EAGAIN)
		log_debug("link manager pipe: %s", strerror(errno));
}

static void drop_connection(int rank)
{
	struct peer *p = &peers[rank];

	if (p->fd >= 0) {
		epoll_ctl(netfd, EPOLL_CTL_DEL, p->fd, NULL);
		close(p->fd);
	}
	p->fd = -1;
	p->want_out = 0;
	p->in_len = 0;
	p->out_off = p->out_len = 0;
}

/* Peer `rank` said BYE and has ended: its link is closed for good. */
static void peer_finished(int rank)
{
	drop_connection(rank);
	free_queue(&peers[rank]);
	peers[rank].state = LINK_GONE;
	rt_peer_closed(rank);
}

static void link_fail(int rank, const char *why)
{
	struct peer *p = &peers[rank];

	if (p->said_bye && p->sent_bye && !p->head) {
		/* It finished, and has everything we sent it, our BYE too,
		 * which it waits for before it ends: nothing to repair.  (Its
		 * BYE alone is not enough: ours, still to come, would be lost
		 * with the link, and it would wait for it until it gave us up.) */
		peer_finished(rank);
		return;
	}
	if (p->state == LINK_DOWN)
		return;
	/* Quiet: most often the peer died, and the launcher says so; a link
	 * that stays down ends in rt_peer_lost(), which names the peer. */
	log_info("link to rank %d lost (%s); reconnecting", rank, why);
	drop_connection(rank);
	p->state = LINK_DOWN;
	p->resumed = 0;
	p->down_since = now_ns();
	p->cur = NULL; /* nothing goes out until the peer says what it has */
	atomic_store(&link_down[rank], 1);
	wake_linkmgr();
}

/* An authenticated connection to `rank` (from the link manager). */
static void link_up(int rank, int fd)
{
	struct peer *p = &peers[rank];
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)rank };

	atomic_store(&link_down[rank], 0);
	/* While this rank ends, a peer still owed messages (our BYE) may come
	 * back for them. */
	if (p->state == LINK_GONE || (stop_requested && !p->head)) {
		close(fd);
		return;
	}
	if (p->state == LINK_UP)
		log_warn("rank %d reconnected while its old link looked alive; replacing it", rank);
	drop_connection(rank);
	if (add_peer(rank, fd) || epoll_ctl(netfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		rt_fatal("cannot take the new connection from rank %d", rank);
	p->state = LINK_UP;
	p->resumed = 0;
	p->cur = NULL;
	p->resume_owed = 1;
	p->last_rx = now_ns();
	log_info("link to rank %d re-established", rank);
	pump(rank);
}

/* The peer's RESUME: it has everything before `next`; send the rest again. */
static void got_resume(int rank, uint32_t next)
{
	struct peer *p = &peers[rank];

	acked_upto(p, next - 1);
	p->cur = p->head;
	p->resumed = 1;
	p->rto_at = 0;
	p->rto_ms = RTO_MIN_MS;
	pump(rank);
}

/*
 * Incoming connections are authenticated concurrently, each on a short-lived
 * thread of its own, so clients that connect and say nothing (for up to the
 * handshake's 5 s) cannot keep a real peer's reconnection waiting behind
 * them.  At most HS_MAX may be unauthenticated at once; then a new one waits
 * in the listen backlog until a slot frees or the oldest has been silent for
 * HS_EVICT_NS and is pushed out (a real peer finishes in well under a
 * millisecond).
 */
#define HS_MAX 16
#define HS_EVICT_NS 100000000LL /* a handshake this old may be pushed out */

static pthread_mutex_t hs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { int fd; int64_t since; } hs_pending[HS_MAX];
static int hs_count; /* handshake threads alive; hs_lock */

static void *handshake_main(void *arg)
{
	int fd = (int)(intptr_t)arg, slot = -1;
	uint32_t peer;
	char why[256];
	int rc = net_auth_accept(fd, &rt.auth, (uint32_t)rt.rank, &peer, now_ns() + 5000000000LL, why,
				 sizeof(why));

	if (rc == 0 && (peer >= (uint32_t)rt.size || peer == (uint32_t)rt.rank)) {
		snprintf(why, sizeof(why), "connection claims rank %u", peer);
		rc = -EPROTO;
	}
	pthread_mutex_lock(&hs_lock);
	for (int i = 0; i < HS_MAX; i++)
		if (hs_pending[i].fd == fd)
			slot = i;
	if (slot >= 0)
		hs_pending[slot].fd = -1;
	pthread_mutex_unlock(&hs_lock);
	if (rc) {
		if (rc == -ECONNRESET)
			log_debug("a connection closed before its handshake: %s", why);
		else
			log_warn("refused a connection: %s", why);
		close(fd);
	} else {
		struct mbox_req req = { .kind = MBOX_LINK_UP, .a = peer, .b = (uint64_t)fd };
		mbox_call(&req);
	}
	pthread_mutex_lock(&hs_lock);
	hs_count--;
	pthread_mutex_unlock(&hs_lock);
	return NULL;
}

/* Can another connection be taken now?  Yes when a slot is free or the
 * oldest pending handshake has been silent long enough to push out. */
static int handshake_room(void)
{
	int64_t now = now_ns();
	int room = 0;

	pthread_mutex_lock(&hs_lock);
	for (int i = 0; i < HS_MAX && !room; i++)
		room = hs_pending[i].fd < 0 || now - hs_pending[i].since > HS_EVICT_NS;
	pthread_mutex_unlock(&hs_lock);
	return room;
}

static void handshake_start(int fd)
{
	pthread_attr_t attr;
	pthread_t t;
	int free_slot = -1, oldest = -1;

	pthread_mutex_lock(&hs_lock);
	for (int i = 0; i < HS_MAX; i++) {
		if (hs_pending[i].fd < 0 && free_slot < 0)
			free_slot = i;
		if (hs_pending[i].fd >= 0 && (oldest < 0 || hs_pending[i].since < hs_pending[oldest].since))
			oldest = i;
	}
	if (free_slot < 0) {
		/* Full: the oldest silent client goes (its thread sees the
		 * connection end at once and exits). */
		log_warn("%d connections are waiting to authenticate; dropping the oldest, silent for "
			 "%lld ms", HS_MAX, (long long)((now_ns() - hs_pending[oldest].since) / 1000000));
		shutdown(hs_pending[oldest].fd, SHUT_RDWR);
		hs_pending[oldest].fd = -1;
		free_slot = oldest;
	}
	hs_pending[free_slot].fd = fd;
	hs_pending[free_slot].since = now_ns();
	hs_count++;
	pthread_mutex_unlock(&hs_lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, handshake_main, (void *)(intptr_t)fd) != 0) {
		log_warn("cannot start a handshake thread: %s", strerror(errno));
		pthread_mutex_lock(&hs_lock);
		hs_pending[free_slot].fd = -1;
		hs_count--;
		pthread_mutex_unlock(&hs_lock);
		close(fd);
	}
	pthread_attr_destroy(&attr);
}

/* After the service thread has gone: answer whatever the link manager or a
 * handshake thread still hands over (closing the sockets), then pause. */
static void refuse_handovers(void)
{
	for (struct mbox_req *r = mbox_drain(), *nx; r; r = nx) {
		nx = r->next;
		if (r->kind == MBOX_LINK_UP)
			close((int)r->b);
		mbox_complete(r, -ESHUTDOWN);
	}
	usleep(1000);
}

/* At the end: cut every pending handshake short and wait for its thread. */
static void handshakes_stop(void)
{
	for (;;) {
		int n;
		pthread_mutex_lock(&hs_lock);
		for (int i = 0; i < HS_MAX; i++)
			if (hs_pending[i].fd >= 0)
				shutdown(hs_pending[i].fd, SHUT_RDWR);
		n = hs_count;
		pthread_mutex_unlock(&hs_lock);
		if (n == 0)
			return;
		refuse_handovers();
	}
}

/* Link manager: accept reconnections, and reconnect or probe down links. */
static void *linkmgr_main(void *arg)
{
	int *refused = calloc((size_t)rt.size, sizeof(int));
	char why[256];

	(void)arg;
	if (!refused)
		return NULL;
	for (;;) {
		struct pollfd pf[2] = { { .fd = listen_fd, .events = POLLIN }, { .fd = lm_pipe[0], .events = POLLIN } };
		int any_down = 0;
		char buf[64];

		for (int r = 0; r < rt.size; r++)
			any_down |= atomic_load(&link_down[r]);
		int full = !handshake_room();
		if (full)
			pf[0].events = 0; /* leave them in the backlog for now */
		if (poll(pf, 2, full ? 10 : any_down ? (int)(PROBE_NS / 1000000) : -1) < 0 && errno != EINTR)
			break;
		if (pf[1].revents) {
			ssize_t n = read(lm_pipe[0], buf, sizeof(buf));
			if (n == 0 || (n > 0 && memchr(buf, 'q', (size_t)n)))
				break;
		}
		if (pf[0].revents) {
			int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				handshake_start(fd);
		}
		for (int r = 0; r < rt.size; r++) {
			int fd;
			if (!atomic_load(&link_down[r]))
				continue;
			/* The higher rank reconnects; the lower one only checks
			 * that the other is still alive. */
			fd = net_connect_opt(table[r].addr, table[r].port, now_ns() + PROBE_NS, 0);
			if (fd == -ECONNREFUSED) {
				if (++refused[r] >= REFUSED_DEAD) {
					struct mbox_req req = { .kind = MBOX_LINK_DEAD, .a = (uint64_t)r,
								.b = ECONNREFUSED };
					atomic_store(&link_down[r], 0);
					mbox_call(&req);
				}
				continue;
			}
			refused[r] = 0;
			if (fd < 0)
				continue;
			if (rt.rank < r) {
				close(fd); /* alive: it will call us */
				continue;
			}
			if (net_auth_connect(fd, &rt.auth, (uint32_t)rt.rank, r, now_ns() + 5000000000LL, why,
					     sizeof(why))) {
				log_warn("reconnecting to rank %d: %s", r, why);
				close(fd);
				continue;
			}
			struct mbox_req req = { .kind = MBOX_LINK_UP, .a = (uint64_t)r, .b = (uint64_t)fd };
			mbox_call(&req);
		}
	}
	free(refused);
	return NULL;
}

/* ---- receiving -------------------------------------------------------- */

/* Handlers by message type (tp_register), indexed by the header's one-byte
 * type.  Written only before the service thread starts; read only by it. */
static tp_handler handlers[UINT8_MAX + 1];

int tp_register(uint16_t first, uint16_t last, tp_handler fn)
{
	if (!fn || first > last || last > UINT8_MAX) {
		log_err("tp_register: bad message type range %u..%u", first, last);
		return -EINVAL;
	}
	for (unsigned t = first; t <= last; t++)
		if (handlers[t] && handlers[t] != fn) {
			log_err("tp_register: message type %u (%s) already has a handler", t,
				wire_type_name(t));
			return -EEXIST;
		}
	for (unsigned t = first; t <= last; t++)
		handlers[t] = fn;
	return 0;
}

static void dispatch(const struct wire_hdr *h, const uint8_t *payload)
{
	tp_handler fn = handlers[h->type];

	if (fn)
		fn(h, payload);
	else
		rt_handle(h, payload);
}

static void run_loopback(void)
{
	if (!loop_head)
		return;
	coh_batch_begin();
	while (loop_head) {
		struct loopmsg *m = loop_head;
		loop_head = m->next;
		if (!loop_head)
			loop_tail = &loop_head;
		dispatch(&m->h, m->payload);
		free(m);
	}
	coh_batch_end();
}

/* One message from the link: the session layer's part, then delivery. */
static void link_receive(int rank, const struct wire_hdr *h, const uint8_t *payload)
{
	struct peer *p = &peers[rank];

	if (h->type == WIRE_ACK) {
		/* An acknowledgement of nothing new while messages are out
		 * means the peer saw a gap: resend from the gap now rather than
		 * at the timeout (at most once per RTO_MIN_MS/4). */
		if (acked_upto(p, (uint32_t)h->arg) == 0 && faults.on && p->head && p->head != p->cur) {
			int64_t now = now_ns();
			if (now - p->last_rewind > RTO_MIN_MS * 250000LL) {
				p->last_rewind = now;
				p->cur = p->head;
				pump(rank);
			}
		}
		return;
	}
	if (h->type == WIRE_RESUME) {
		got_resume(rank, (uint32_t)h->arg);
		return;
	}
	if (h->type == WIRE_HEARTBEAT)
		return; /* its arrival is all it says (receive() noted the time) */
	if (h->seq == 0)
		rt_fatal("rank %d sent %s outside the link's sequence", rank, wire_type_name(h->type));
	if (h->seq != p->recv_next) {
		/* A duplicate, or one that overtook a lost message: the sender
		 * will repeat what is missing.  Say what we have soon. */
		p->ack_due = ACK_NOW;
		p->ack_force = 1; /* even if it says nothing new */
		return;
	}
	p->recv_next++;
	if (!p->ack_due)
		p->ack_due = now_ns() + ACK_DELAY_NS;
	if (p->recv_next - 1 - p->acked >= ACK_EVERY)
		p->ack_due = ACK_NOW;
	dispatch(h, payload);
	if (h->type == WIRE_BYE)
		p->said_bye = 1;
}

static void receive(int rank)
{
	struct peer *p = &peers[rank];

	while (p->fd >= 0) {
		size_t off = 0, room = p->in_cap - p->in_len;
		ssize_t n;

		if (p->inject_err) {
			errno = p->inject_err;
			p->inject_err = 0;
			n = -1;
		} else {
			n = recv(p->fd, p->in + p->in_len, room, 0);
		}
		if (n < 0 && (errno == EINTR))
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		/* Whatever the network did to the connection (reset, abort, a
		 * route gone), the session layer reconnects and resends; a peer
		 * that is really gone is found by the link manager (refused
		 * connections) or by DSM_TIMEOUT. */
		if (n == 0 || (n < 0 && link_error(errno))) {
			link_fail(rank, n == 0 ? "end of stream" : strerror(errno));
			return;
		}
		if (n < 0)
			rt_fatal("receiving from rank %d: %s", rank, strerror(errno));
		p->in_len += (size_t)n;
		p->rx_seen = 1;
		stats_add_bytes(rank, 0, (uint64_t)n);
		while (p->fd >= 0 && p->in_len - off >= WIRE_HDR_SIZE) {
			struct wire_hdr h;
			int rc = wire_decode_hdr(p->in + off, p->in_len - off, &h);
			size_t total;

			if (rc)
				rt_fatal("rank %d sent a bad message: %s", rank, wire_strerror(rc));
			if (h.src != (uint32_t)rank)
				rt_fatal("rank %d sent a message claiming to come from rank %u", rank, h.src);
			total = WIRE_HDR_SIZE + h.len;
			if (h.len > WIRE_MAX_PAYLOAD + WIRE_SEAL_OVERHEAD)
				rt_fatal("rank %d sent a message of %u bytes", rank, h.len);
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
			const uint8_t *payload = p->in + off + WIRE_HDR_SIZE;
			if (sealing != !!(h.flags & WIRE_F_SEALED))
				rt_fatal("rank %d %s its messages but this rank %s: set DSM_ENCRYPT=1 on every "
					 "rank or on none", rank, sealing ? "does not encrypt" : "encrypts",
					 sealing ? "does (DSM_ENCRYPT=1)" : "does not");
			if (sealing && open_msg(rank, p->in + off, &h, &payload)) {
				/* Not from the peer, or damaged: this connection cannot be
				 * trusted; the peer reconnects and repeats what it sent. */
				log_err("rank %d's connection carried a message that fails authentication; "
					"dropping the connection", rank);
				link_fail(rank, "unauthenticated message");
				return;
			}
			link_receive(rank, &h, payload);
			off += total;
		}
		if (p->fd < 0)
			return; /* the link failed while we handled its messages */
		if (off) {
			memmove(p->in, p->in + off, p->in_len - off);
			p->in_len -= off;
		}
		run_loopback();
		if ((size_t)n < room)
			break; /* a short read: the socket is drained, skip the EAGAIN */
	}
	if (p->fd >= 0 && p->ack_due == ACK_NOW)
		pump(rank);
}

/* ---- timers ------------------------------------------------------------ */

/*
 * The failure detector.  A rank's service thread answers whatever its
 * application threads do (compute, block in a system call), so a peer from
 * which nothing at all has arrived for DSM_TIMEOUT is stopped, hung or cut
 * off, even when nobody waits for an answer from it (a barrier, a lock held
 * by another rank).  To keep quiet links from looking dead, a link that sent
 * nothing for DSM_TIMEOUT / 4 carries a HEARTBEAT (a link-level message: not
 * numbered, not resent).  An idle job thus wakes once per DSM_TIMEOUT / 4 per
 * rank.  DSM_TIMEOUT=inf: no heartbeats, no detector.  The detector is armed
 * once something came from the peer's service thread (at start each rank
 * sends a heartbeat at once), so a peer still restoring a large checkpoint
 * before its service thread runs is not taken for dead.
 *
 * Checks peer r (up, not finished); sends a heartbeat when one is due, ends
 * the job when the peer has been silent too long.  Returns when it next
 * needs to run.
 */
static int64_t detector_due(int r, int64_t now)
{
	struct peer *p = &peers[r];
	int64_t hb = rt.timeout_ns / 4;

	if (rt.timeout_ns >= DSM_TIMEOUT_NEVER || p->state != LINK_UP || p->fd < 0)
		return INT64_MAX;
	/* The service thread runs the timers after every batch of events, so
	 * "seen since the last look" is "seen now" to within one batch. */
	if (p->rx_seen) {
		p->last_rx = now;
		p->heard = 1;
		p->rx_seen = 0;
	}
	if (p->tx_seen) {
		p->last_tx = now;
		p->tx_seen = 0;
	}
	if (p->heard && now - p->last_rx > rt.timeout_ns)
		rt_fatal("rank %d silent for %lld s (stopped?): nothing came from it for longer than "
			 "DSM_TIMEOUT", r, (long long)((now - p->last_rx) / 1000000000));
	if (now - p->last_tx >= hb) {
		stage_link_msg(r, WIRE_HEARTBEAT, 0);
		p->last_tx = now; /* sent, or staged behind what the socket has not taken */
		pump(r);
	}
	if (!p->heard)
		return p->last_tx + hb;
	return p->last_tx + hb < p->last_rx + rt.timeout_ns + 1 ? p->last_tx + hb : p->last_rx + rt.timeout_ns + 1;
}

/* Fire what is due; return milliseconds until the next timer (-1: none). */
static int64_t run_timers(void)
{
	int64_t now = now_ns(), next = INT64_MAX;

	if (faults.cut_at && now >= faults.cut_at) {
		int other = faults.cut_a == rt.rank ? faults.cut_b : faults.cut_b == rt.rank ? faults.cut_a : -1;
		faults.cut_at = 0;
		if (other >= 0 && rt.rank < other && peers[other].fd >= 0) {
			log_info("fault injection: cutting the link to rank %d%s%s", other,
				 faults.cut_err ? " with " : "", faults.cut_err ? strerror(faults.cut_err) : "");
			shutdown(peers[other].fd, SHUT_RDWR);
			if (faults.cut_err) {
				/* as if the kernel had reported it on this socket */
				peers[other].inject_err = faults.cut_err;
				receive(other);
			} else {
				link_fail(other, "cut by fault injection");
			}
		}
	} else if (faults.cut_at) {
		next = faults.cut_at;
	}
	for (int r = 0; r < rt.size; r++) {
		struct peer *p = &peers[r];
		if (r == rt.rank || p->state == LINK_GONE)
			continue;
		if (p->state == LINK_DOWN) {
			if (now - p->down_since > rt.timeout_ns)
				rt_peer_lost(r, "unreachable for longer than DSM_TIMEOUT");
			if (next > now + 200000000)
				next = now + 200000000;
			continue;
		}
		if (!p->said_bye) {
			int64_t due = detector_due(r, now);
			if (due < next)
				next = due;
		}
		if (p->rto_at && now >= p->rto_at) {
			/* go back: send everything unacknowledged again */
			p->cur = p->head;
			p->rto_ms = p->rto_ms * 2 > RTO_MAX_MS ? RTO_MAX_MS : p->rto_ms * 2;
			p->rto_at = now + (int64_t)p->rto_ms * 1000000;
			pump(r);
		}
		if (p->ack_due && p->ack_due <= now)
			pump(r);
		if (p->cur && p->cur->release && p->cur->release <= now && p->out_off == p->out_len)
			pump(r); /* a held-back message is due */
		if (p->ack_due && p->ack_due < next)
			next = p->ack_due;
		if (p->rto_at && p->rto_at < next)
			next = p->rto_at;
		if (p->cur && p->cur->release > now && p->cur->release < next)
			next = p->cur->release;
	}
	if (coh_deadline(now) < next)
		next = coh_deadline(now);
	if (next == INT64_MAX)
		return -1;
	return next <= now ? 0 : next - now;
}

/* epoll_wait for at most tmo_ns (-1: no limit).  A limit under a
 * millisecond (a page held for a thread, coherence.c) is kept to the
 * microsecond with epoll_pwait2 where the kernel has it (5.11). */
static int wait_events(int fd, struct epoll_event *evs, int max, int64_t tmo_ns)
{
	static atomic_int no_pwait2;

	if (tmo_ns >= 0 && tmo_ns < 1000000 && !atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
		struct timespec ts = { .tv_nsec = (long)tmo_ns };
		int n = epoll_pwait2(fd, evs, max, &ts, NULL);
		if (n >= 0 || errno != ENOSYS)
			return n;
		atomic_store_explicit(&no_pwait2, 1, memory_order_relaxed);
	}
	return epoll_wait(fd, evs, max, tmo_ns < 0 ? -1 : (int)((tmo_ns + 999999) / 1000000));
}

/* ---- the service thread ----------------------------------------------- */

static int all_delivered(void)
{
	for (int r = 0; r < rt.size; r++)
		if (r != rt.rank && peers[r].state != LINK_GONE && peers[r].head)
			return 0;
	return 1;
}

/* Take one request of an application thread (from the mailbox, or from its
 * own thread driving: tp_call). */
static void mailbox_one(struct mbox_req *r)
{
	if (r->kind != MBOX_LINK_UP && r->kind != MBOX_LINK_DEAD)
		coh_thread_moved(r->tid, r->kind == MBOX_FAULT ? r->a : UINT64_MAX);
	switch (r->kind) {
	case MBOX_FAULT:
		coh_ops_for(r->a)->fault(r->a, (int)r->b, r);
		break;
	case MBOX_LINK_UP:
		link_up((int)r->a, (int)r->b);
		mbox_complete(r, 0);
		break;
	case MBOX_LINK_DEAD:
		/* A peer that said BYE ends only once it has every rank's BYE:
		 * what it did not acknowledge, it had. */
		if (peers[r->a].said_bye) {
			peer_finished((int)r->a);
			mbox_complete(r, 0);
			break;
		}
		rt_peer_lost((int)r->a, "its listening socket refuses connections");
	default:
		if (r->kind >= MBOX_SYNC_FIRST && r->kind <= MBOX_SYNC_LAST)
			sync_request(r);
		else if (r->kind >= MBOX_RPC_FIRST && r->kind <= MBOX_RPC_LAST)
			rpc_request(r);
		else
			rt_request(r);
	}
}

static void mailbox_ready(void)
{
	struct mbox_req *r = mbox_drain();

	while (r) {
		struct mbox_req *nx = r->next;
		mailbox_one(r);
		r = nx;
	}
}

/* One batch of events from netfd, then what each batch ends with.  The
 * batch is one for the coherence engine too: what its handlers send goes
 * out bundled when the batch ends, and the pages it drops or opens for
 * writing go to the kernel in runs then (coherence.c, "Batched drops and
 * downgrades"): with cyclic homes, the grants of a phase come half from
 * a peer and half from this rank's own home, through the loopback. */
static void handle_events(const struct epoll_event *evs, int n)
{
	coh_batch_begin();
	for (int i = 0; i < n; i++) {
		uint64_t tag = evs[i].data.u64;
		if (tag == TAG_MBOX) {
			mailbox_ready();
		} else if (tag == TAG_BACKEND) {
			rt.be->handle_events();
		} else {
			int rank = (int)tag;
			if (peers[rank].fd >= 0 && (evs[i].events & EPOLLOUT))
				pump(rank);
			if (peers[rank].fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				receive(rank);
		}
		run_loopback();
	}
	coh_batch_end();
	/* Held-back requests (coherence.c's holds) may go out here. */
	if (coh_deadline(now_ns()) != INT64_MAX) {
		coh_check_deadlines(now_ns());
		run_loopback();
	}
	flush_corked();
}

/*
 * The requesting thread drives (issue 15: the critical path without
 * hand-offs).  An application thread that makes a request (a lock, a post,
 * a barrier, an RPC, a release) would hand it to the service thread and
 * sleep, and the answer would wake the service thread and then it: two
 * wake-ups on every request's path, each a context switch, and on a busy
 * CPU each a wait for the scheduler.  Instead the thread takes the baton,
 * if it is free, and is the service thread for a while: it handles its own
 * request, sends it, and polls the rank's network itself, handling whatever
 * arrives (its answer, and any peer's request), until its request is done,
 * DRIVE_NS has passed or a yield shows that another thread wants its CPU;
 * then it hands the baton back and, if its request is still open, waits
 * for the service thread like any caller.
 *
 * The service thread's epoll set (epfd) holds only netfd, the epoll set of
 * everything the rank serves (the peers' sockets, the mailbox, the fault
 * backend), and timer_fd.  A driver disarms netfd there, so the sleeping
 * service thread is not woken by what the driver handles, and arms it
 * again when it leaves (which wakes the service thread only if events
 * wait).  The timers (acknowledgements owed, heartbeats, holds) a driver
 * leaves earlier than the service thread's own wake-up are set on timer_fd.
 * A driver blocks every signal while it holds the baton: a handler that
 * touched the shared region would fault, and its fault needs the baton.
 * The SIGSEGV and SIGBUS fault paths do not drive (they run in a signal
 * handler: the protocol code is not async-signal-safe), nor does the
 * service thread itself.
 *
 * Locking: `baton` guards everything the service loop touches (the links,
 * the protocols' service-side state, `svc_wake_at`): the service thread
 * holds it except while it sleeps in epoll_wait; a driver only try-locks
 * it.  0 free, 1 held, 2 held and the service thread waits for it (a
 * futex, as in Drepper's "Futexes are tricky", mutex 2).
 */
static atomic_int baton = 1;
static int drive_on;        /* DSM_DRIVE (before and after the service thread
                             * runs, it holds the baton: nobody drives) */
static int64_t svc_wake_at; /* when the sleeping service thread wakes at the latest */

static void baton_take(void)
{
	int c = 0;

	if (atomic_compare_exchange_strong(&baton, &c, 1))
		return;
	if (c != 2)
		c = atomic_exchange(&baton, 2);
	while (c != 0) {
		syscall(SYS_futex, &baton, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
		c = atomic_exchange(&baton, 2);
	}
}

static int baton_try(void)
{
	int c = 0;

	return atomic_compare_exchange_strong(&baton, &c, 1);
}

static void baton_put(void)
{
	if (atomic_fetch_sub(&baton, 1) != 1) {
		atomic_store(&baton, 0);
		syscall(SYS_futex, &baton, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	}
}

static void arm_net(int on)
{
	struct epoll_event ev = { .events = on ? EPOLLIN : 0, .data.u64 = TAG_NET };

	if (epoll_ctl(epfd, EPOLL_CTL_MOD, netfd, &ev) < 0)
		rt_fatal("epoll_ctl for the service thread: %s", strerror(errno));
}

/* Serve the rank until req is done or DRIVE_NS has passed, first submitting
 * it if `submit`.  Returns 0, having done nothing, where it may not drive
 * now (the baton is taken, or driving is off). */
static int drive(struct mbox_req *req, int submit)
{
	struct epoll_event evs[64];
	sigset_t all, old;
	int64_t now, end, spin_end, tmo;

	if (!drive_on || atomic_load_explicit(&baton, memory_order_relaxed))
		return 0; /* taken: spare the two sigprocmask calls */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (!baton_try()) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return 0;
	}
	arm_net(0);
	if (submit) {
		if (mbox_pending())
			mailbox_ready(); /* older requests of other threads first */
		mailbox_one(req);
		run_loopback();
		flush_corked();
	}
	now = now_ns();
	end = now + DRIVE_NS;
	spin_end = now + rt.spin_ns;
	while (!atomic_load_explicit(&req->done, memory_order_acquire) && (now = now_ns()) < end) {
		int n;

		tmo = run_timers();
		if (now < spin_end) {
			/* Poll first: waking an idle CPU costs more than the answer
			 * takes to come (as service_main() does). */
			n = epoll_wait(netfd, evs, 64, 0);
			if (n == 0) {
				/* Another thread wants this CPU: leave the rank to
				 * the service thread, which may run above it
				 * (DSM_SERVICE_PRIORITY), and sleep. */
				if (mbox_yield())
					break;
				continue;
			}
		} else {
			n = wait_events(netfd, evs, 64, tmo >= 0 && tmo < end - now ? tmo : end - now);
		}
		if (n < 0 && errno != EINTR)
			rt_fatal("epoll_wait: %s", strerror(errno));
		handle_events(evs, n > 0 ? n : 0);
	}
	/* The timers this left for the service thread. */
	tmo = run_timers();
	now = now_ns();
	if (stop_requested)
		tmo = 0;
	if (tmo >= 0 && now + tmo < svc_wake_at) {
		struct itimerspec its = { .it_value = { .tv_sec = (now + tmo) / 1000000000,
							 .tv_nsec = (now + tmo) % 1000000000 } };
		if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
			its.it_value.tv_nsec = 1; /* zero would disarm it */
		if (timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
			rt_fatal("timerfd_settime: %s", strerror(errno));
		svc_wake_at = now + tmo;
	}
	/* Armed before the baton goes: once it is put, the service thread may
	 * end and tp_join() close the descriptors. */
	arm_net(1);
	baton_put();
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return 1;
}

int tp_call(struct mbox_req *req)
{
	mbox_begin(req);
	if (!drive(req, 1))
		mbox_submit(req);
	return mbox_end(req);
}

int tp_wait(struct mbox_req *req)
{
	drive(req, 0);
	return mbox_wait(req);
}

/*
 * Answering while busy: the service thread answers for the whole rank, so a
 * rank whose application threads fill every CPU must still let it run at
 * once when a peer's request arrives, not after the scheduler's time slice
 * (Jacobi's faults waited about 200 us on a busy peer).  DSM_SERVICE_PRIORITY:
 * "nice" runs it at nice -20, which the fair scheduler serves first on
 * wake-up; "fifo" at SCHED_FIFO 1 (else nice -20), ahead of every ordinary
 * thread, with the kernel's real-time throttling as the bound; "off" (the
 * default) leaves it alone.  Measured on a loaded 2-CPU VM: with a busy peer
 * either takes a cold read from 12-21x its idle-peer time to under 1x; but
 * with idle peers nice made a 2-rank barrier 2.7-3.2x slower and litmus
 * about 1.15x, and fifo made cold reads 1.5x slower (the woken real-time
 * thread displaces the thread it woke for): so auto raises it for good only
 * where ranks must share CPUs, and elsewhere only while it is starved.  At
 * SCHED_FIFO it does not poll (sched_yield() would hand its CPU to nobody);
 * at nice -20 it does (litmus ran 1.3x slower without).  Where the process
 * may not raise a priority the thread runs as before, saying so at
 * DSM_LOG=info.
 * Threads the service thread creates (RPC workers) run application code and
 * drop back with tp_normal_priority().
 */
static int service_prio; /* 0 off, 1 nice, 2 fifo */
static int app_nice;     /* the nice value of the thread that called tp_start() */
static int prio_raised;  /* the service thread runs above the application: 1 nice, 2 fifo */
static int own_cpus;     /* no more ranks on this host than CPUs */
#define FIFO_PRIO 1      /* the service thread's SCHED_FIFO priority */
static int spin_low;     /* at SCHED_FIFO, polling at the application's priority for now */
static int adapt_auto;   /* auto chose off: raise it while it waits for a CPU (below) */
static int adapt;        /* service thread: still doing so */

/*
 * auto (the default): fifo where this host's ranks outnumber its CPUs, or
 * where DSM_BIND gave each of several ranks its share of them
 * (launch_env_bind()); elsewhere off, raised only while the service thread
 * waits for a CPU (adapt_priority()).  With more ranks than CPUs every CPU
 * runs some rank's application thread, and a peer's request waits for the
 * scheduler to let the service thread in: on a kernel that preempts a running thread only
 * at its next tick (preempt=none, 250 Hz here) that is up to 4 ms a page.
 * 4 ranks on 2 CPUs, alternated twice: Jacobi 0.89/0.81 -> 0.53/0.57 s
 * (1 rank: 0.66), FT 0.30/0.27 -> 0.23/0.23, IS 0.22/0.19 -> 0.19/0.16,
 * sort 0.47/0.54 -> 0.43/0.43, CG 1.16/0.86 -> 0.81/0.85.  With a CPU per
 * rank the service thread finds one idle, and polls (a real-time thread
 * cannot yield to the application): there fifo made CG and IS on 2 ranks
 * 30-50 % slower, so auto leaves it off.  A rank bound to its share of the
 * CPUs shares them with its service thread, which then waits for a tick
 * like an oversubscribed one: 2 ranks on 2 CPUs, bound, 3 runs alternated
 * (2026-12-06), off -> fifo: Jacobi 0.54-0.63 -> 0.29-0.31 s, matmul
 * 0.29-0.37 -> 0.21-0.22, FT 0.35 -> 0.27, IS 0.24 -> 0.21, CG 0.38-0.45 ->
 * 0.39-0.40, sort 0.45-0.59 -> 0.51-0.66.  The ranks on this host come
 * from the launcher (0: unknown, taken as not oversubscribed).
 */
static int oversubscribed(void)
{
	long ranks = launch_env_host_ranks(), cpus = launch_env_cpus();

	if (ranks <= cpus && !launch_env_bound())
		return 0;
	log_info("%ld ranks on this host's %ld CPUs%s: the service thread asks for SCHED_FIFO "
		 "(DSM_SERVICE_PRIORITY=auto)", ranks, cpus, launch_env_bound() ? ", each on its share" : "");
	return 1;
}

static int read_service_priority(void)
{
	const char *v = getenv("DSM_SERVICE_PRIORITY");

	errno = 0;
	app_nice = getpriority(PRIO_PROCESS, 0); /* this thread's, on Linux */
	if (app_nice == -1 && errno)
		app_nice = 0;

	adapt_auto = 0;
	own_cpus = launch_env_host_ranks() <= launch_env_cpus();
	if (!v || !*v || !strcmp(v, "auto")) {
		service_prio = oversubscribed() ? 2 : 0;
		adapt_auto = !service_prio && rt.size > 1;
	} else if (!strcmp(v, "off"))
		service_prio = 0;
	else if (!strcmp(v, "nice"))
		service_prio = 1;
	else if (!strcmp(v, "fifo"))
		service_prio = 2;
	else {
		log_err("DSM_SERVICE_PRIORITY=%s: expected auto, nice, fifo or off", v);
		return -EINVAL;
	}
	return 0;
}

/* Raise the calling service thread as `want` says (service_prio's values). */
static void raise_priority(int want)
{
	struct sched_param sp = { .sched_priority = FIFO_PRIO };
	pid_t tid = (pid_t)syscall(SYS_gettid);
	int rc;

	prio_raised = 0;
	spin_low = 0;
	if (want == 2) {
		rc = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
		if (rc == 0) {
			prio_raised = 2;
			return;
		}
		log_info("service thread: SCHED_FIFO refused (%s); trying nice -20", strerror(rc));
	}
	if (want == 0)
		return;
	if (setpriority(PRIO_PROCESS, (id_t)tid, -20) < 0)
		log_info("service thread: nice -20 refused (%s): it runs at the application's priority",
			 strerror(errno));
	else
		prio_raised = 1;
}

void tp_normal_priority(void)
{
	struct sched_param sp = { .sched_priority = 0 };

	if (!service_prio && !adapt_auto)
		return;
	pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp);
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), app_nice); /* lowering is always allowed */
}

/*
 * auto, where it chose off (ranks no more than CPUs, not bound by DSM_BIND):
 * the rank's threads may still fill every CPU (OpenMP threads on every core
 * of a node, threads the program binds itself, another program), and then a
 * peer's request waits for the scheduler's tick: 4 ms a cold read here
 * (busy_bench, 55x the idle-peer time: while a thread of the rank waits in
 * the library the service thread polls, and each sched_yield() hands the CPU
 * to a spinner for its whole slice).  So the service thread watches its
 * own waits for a CPU (the run delay of /proc/thread-self/schedstat, per
 * time it ran): every ADAPT_NS, if it ran ADAPT_MIN_RUNS times or more and
 * waited ADAPT_WAIT_NS a time on average, it raises itself to SCHED_FIFO
 * (else nice -20, else it gives up, saying so at DSM_LOG=info), and goes
 * back to the application's priority ADAPT_HOLD_NS later to look again.
 * With a CPU free it waits microseconds and is left alone, which keeps off's
 * speed where off was chosen for it: polling (a thread at SCHED_FIFO must
 * not) and no displacing of the thread it wakes.  The threshold is a
 * scheduler's slice, not less: 2 unbound ranks of CG on 2 CPUs wait 0.2-0.7
 * ms a run, and raising at 0.2 ms made CG 0.34-0.55 s -> 0.54-0.73 s.
 */
#define ADAPT_NS 20000000
#define ADAPT_MIN_RUNS 4
#define ADAPT_WAIT_NS 1000000
#define ADAPT_HOLD_NS 500000000

static int adapt_fd = -1;
static int adapt_want = 2; /* 1 once SCHED_FIFO was refused and nice -20 was not */
static int64_t adapt_at, adapt_raised_at;
static uint64_t adapt_delay, adapt_runs;

/* This thread's run delay (ns waiting for a CPU) and runs so far; 0 on success. */
static int sched_waits(uint64_t *delay, uint64_t *runs)
{
	char buf[96];
	unsigned long long on_cpu, d, n;
	ssize_t len;

	if (adapt_fd < 0 && (adapt_fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	len = pread(adapt_fd, buf, sizeof(buf) - 1, 0);
	if (len <= 0)
		return -1;
	buf[len] = 0;
	if (sscanf(buf, "%llu %llu %llu", &on_cpu, &d, &n) != 3)
		return -1;
	*delay = d;
	*runs = n;
	return 0;
}

static void adapt_priority(int64_t now)
{
	uint64_t d, n;

	if (!adapt || now - adapt_at < ADAPT_NS)
		return;
	if (sched_waits(&d, &n) < 0) {
		log_info("service thread: no /proc/thread-self/schedstat (%s): its priority stays the application's",
			 strerror(errno));
		adapt = 0;
		return;
	}
	if (prio_raised && now - adapt_raised_at >= ADAPT_HOLD_NS) {
		tp_normal_priority();
		prio_raised = 0;
		spin_low = 0;
	} else if (!prio_raised && adapt_at && n - adapt_runs >= ADAPT_MIN_RUNS &&
		   (d - adapt_delay) / (n - adapt_runs) >= ADAPT_WAIT_NS) {
		log_debug("service thread: waited %llu us a run for a CPU: raised",
			  (unsigned long long)((d - adapt_delay) / (n - adapt_runs) / 1000));
		raise_priority(adapt_want);
		if (!prio_raised) {
			adapt = 0; /* raise_priority() said why at DSM_LOG=info */
			return;
		}
		adapt_want = prio_raised; /* said once why not SCHED_FIFO */
		adapt_raised_at = now;
	}
	adapt_delay = d;
	adapt_runs = n;
	adapt_at = now;
}

static void *service_main(void *arg)
{
	struct epoll_event evs[64];
	int64_t busy_at = 0; /* when the last event came, while polling */

	(void)arg;
	raise_priority(service_prio);
	adapt = adapt_auto;
	adapt_want = 2;
	adapt_at = 0;
	for (int r = 0; r < rt.size; r++) {
		peers[r].last_rx = now_ns();
		peers[r].last_tx = INT64_MIN / 2; /* a heartbeat at once: "my service thread runs" */
		peers[r].heard = peers[r].rx_seen = peers[r].tx_seen = 0;
	}
	while (!stopping) {
		int64_t tmo = run_timers();
		int n;

		/* While this rank waits for answers (its own page requests, a
		 * home's invalidations, an application thread in tp_call),
		 * poll for up to rt.spin_ns after the last event instead of
		 * sleeping: the answer usually comes within microseconds, and
		 * waking a CPU that went idle costs more than the message itself
		 * on a virtual machine (about 20 us here, 35 us on a bad day).
		 * A rank that only serves others does not spin: on a full
		 * machine its CPU is the one another thread needs.  A service
		 * thread at SCHED_FIFO could not spin there (its sched_yield()
		 * would give the CPU to nobody), so it drops to the
		 * application's priority for the spin (spin_low) and takes
		 * SCHED_FIFO back before it sleeps, and it spins only while a
		 * thread of its rank waits for a page, which leaves the CPU
		 * free, and only where the rank has CPUs of its own: with two
		 * ranks on a CPU the other rank's thread would take it for a
		 * whole slice at the first yield, answer or not (4-rank Jacobi
		 * 0.41-0.49 -> 0.61-0.65 s), and a thread in tp_call drives
		 * itself when the service thread sleeps (above).  2 bound
		 * ranks: a cold read 95-110 -> 60 us, CG W 0.27-0.30 -> 0.19-0.21
		 * s, IS W 0.13-0.17 -> 0.06-0.07 s. */
		if (rt.spin_ns && (prio_raised == 2 ? own_cpus && coh_thread_waits() : coh_busy() || mbox_waiting()) &&
		    now_ns() - busy_at < rt.spin_ns) {
			if (prio_raised == 2 && !spin_low)
				spin_low = !pthread_setschedparam(pthread_self(), SCHED_OTHER, &(struct sched_param){ 0 });
			n = epoll_wait(netfd, evs, 64, 0);
			if (n == 0) {
				if (mbox_yield())
					busy_at = 0; /* the CPU is wanted: sleep */
				continue;
			}
		} else {
			/* Asleep, it lets a requesting thread drive (above). */
			struct epoll_event top[2];
			int m, err;

			if (spin_low && prio_raised == 2)
				pthread_setschedparam(pthread_self(), SCHED_FIFO, &(struct sched_param){ FIFO_PRIO });
			spin_low = 0;

			svc_wake_at = tmo < 0 ? INT64_MAX : now_ns() + tmo;
			baton_put();
			m = wait_events(epfd, top, 2, tmo);
			err = errno;
			baton_take();
			if (m < 0 && err != EINTR)
				rt_fatal("epoll_wait: %s", strerror(err));
			for (int i = 0; i < m; i++)
				if (top[i].data.u64 == TAG_TIMER) {
					uint64_t expired;
					if (read(timer_fd, &expired, sizeof(expired)) < 0 && errno != EAGAIN)
						rt_fatal("reading the service thread's timer: %s", strerror(errno));
				}
			n = epoll_wait(netfd, evs, 64, 0);
		}
		if (n > 0 && rt.spin_ns)
			busy_at = now_ns();
		adapt_priority(now_ns());

		if (n < 0 && errno != EINTR)
			rt_fatal("epoll_wait: %s", strerror(errno));
		handle_events(evs, n > 0 ? n : 0);
		if (stop_requested && all_delivered())
			stopping = 1;
	}
	if (adapt_fd >= 0) {
		close(adapt_fd); /* this thread's: the next job's service thread opens its own */
		adapt_fd = -1;
	}
	/* Acknowledge everything, so no peer waits for us to repeat it. */
	for (int r = 0; r < rt.size; r++)
		if (r != rt.rank && peers[r].fd >= 0 && peers[r].acked != peers[r].recv_next - 1) {
			peers[r].ack_due = ACK_NOW;
			pump(r);
		}
	return NULL;
}

static int watch(int ep, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		log_err("epoll_ctl: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

int tp_start(void)
{
	sigset_t all, old;
	int rc;

	if ((rc = alloc_peers()))
		return rc;
	if ((rc = faults_parse(getenv("DSM_FAULTS"))))
		return rc;
	if ((rc = setting_flag("DSM_ENCRYPT", 0, &sealing)))
		return rc;
	sealing = sealing && rt.size > 1;
	if ((rc = derive_keys()))
		return rc;
	if ((rc = read_service_priority()))
		return rc;
	stopping = 0;
	stop_requested = 0;
	if ((rc = setting_flag("DSM_DRIVE", 1, &drive_on)))
		return rc;
	atomic_store(&baton, 1); /* the service thread's from its start */
	epfd = epoll_create1(EPOLL_CLOEXEC);
	netfd = epoll_create1(EPOLL_CLOEXEC);
	timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (epfd < 0 || netfd < 0 || timer_fd < 0)
		return -errno;
	if ((rc = watch(epfd, netfd, TAG_NET)) || (rc = watch(epfd, timer_fd, TAG_TIMER)))
		return rc;
	mbox_fd = mbox_init(rt.spin_ns);
	if (mbox_fd < 0)
		return mbox_fd;
	if ((rc = watch(netfd, mbox_fd, TAG_MBOX)))
		return rc;
	if (rt.be->event_fd() >= 0 && (rc = watch(netfd, rt.be->event_fd(), TAG_BACKEND)))
		return rc;
	for (int i = 0; i < rt.size; i++)
		if (peers[i].fd >= 0 && (rc = watch(netfd, peers[i].fd, (uint64_t)i)))
			return rc;
	/* Signals are for the application's threads, not ours. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (int i = 0; i < HS_MAX; i++)
		hs_pending[i].fd = -1;
	hs_count = 0;
	rc = -pthread_create(&service, NULL, service_main, NULL);
	if (rc == 0)
		pthread_setname_np(service, "dsm-service"); /* for top -H, perf, gdb and the tests */
	if (rc == 0 && listen_fd >= 0) {
		if (pipe2(lm_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
			rc = -errno;
		else if ((rc = -pthread_create(&linkmgr, NULL, linkmgr_main, NULL)) == 0)
			linkmgr_running = 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		log_err("cannot start the service threads: %s", strerror(-rc));
	return rc;
}

void tp_stop(void)
{
	stop_requested = 1;
}

void tp_join(void)
{
	int64_t deadline;

	pthread_join(service, NULL);
	if (linkmgr_running) {
		if (write(lm_pipe[1], "q", 1) < 0)
			log_debug("link manager pipe: %s", strerror(errno));
		/* It may be handing over a connection nobody will take now. */
		while (pthread_tryjoin_np(linkmgr, NULL) == EBUSY) {
			refuse_handovers();
		}
		linkmgr_running = 0;
		handshakes_stop(); /* none starts now: the link manager is gone */
	}
	deadline = now_ns() + rt.timeout_ns;
	for (int i = 0; peers && i < rt.size; i++) {
		struct peer *p = &peers[i];
		/* Whatever is still staged (an acknowledgement, say) goes out. */
		if (p->fd >= 0 && p->out_off < p->out_len &&
		    net_send_all(p->fd, p->out + p->out_off, p->out_len - p->out_off, deadline))
			log_warn("could not send the last messages to rank %d", i);
		if (p->fd >= 0)
			close(p->fd);
		free_queue(p);
		free(p->in);
		free(p->out);
	}
	free(peers);
	peers = NULL;
	free(table);
	table = NULL;
	free(link_down);
	link_down = NULL;
	free(corked);
	corked = NULL;
	n_corked = 0;
	if (sealing) {
		sodium_memzero(tx_key, (size_t)rt.size * sizeof(*tx_key));
		sodium_memzero(rx_key, (size_t)rt.size * sizeof(*rx_key));
	}
	free(tx_key);
	free(rx_key);
	free(open_buf);
	while (n_omsg_kept)
		free(omsg_kept[--n_omsg_kept]);
	tx_key = rx_key = NULL;
	open_buf = NULL;
	while (loop_head) {
		struct loopmsg *m = loop_head;
		loop_head = m->next;
		free(m);
	}
	loop_tail = &loop_head;
	for (int i = 0; i < 2; i++)
		if (lm_pipe[i] >= 0)
			close(lm_pipe[i]);
	lm_pipe[0] = lm_pipe[1] = -1;
	if (listen_fd >= 0)
		close(listen_fd);
	listen_fd = -1;
	close(epfd);
	close(netfd);
	close(timer_fd);
	epfd = netfd = timer_fd = -1;
	mbox_fini();
}
