/*
 * Description: the connection handshake (net_auth_connect / net_auth_accept)
 * over real loopback TCP, the acceptor in a thread: the same secret and job
 * id succeed and each side learns the other's id; a wrong secret fails on
 * both sides with -EACCES and a reason; a wrong job id is refused; a peer
 * speaking another protocol version is refused with a reason naming the
 * version (and the connector gets a REFUSE); garbage is refused without
 * harming the acceptor; an AUTH replayed from an earlier session fails.
 * Every case runs twice: the acceptor blocking (net_auth_accept), then as
 * the non-blocking state machine dsmexec drives (net_auth_step under poll).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "wire.h"

#include "unit.h"

#define TIMEOUT_NS (10LL * 1000000000)

static int use_step; /* the acceptor is net_auth_step's state machine */

/* One acceptor: accepts one connection on lfd and runs net_auth_accept. */
struct server {
	pthread_t thr;
	int lfd, port;
	struct job_auth auth;
	uint32_t self;
	int rc;
	uint32_t peer;
	char why[256];
};

static void *server_main(void *arg)
{
	struct server *s = arg;
	int64_t deadline = now_ns() + TIMEOUT_NS;
	int fd = net_accept(s->lfd, deadline);

	if (fd < 0) {
		s->rc = fd;
		snprintf(s->why, sizeof(s->why), "(test) accept failed: %s", strerror(-fd));
		return NULL;
	}
	if (use_step) {
		struct net_auth_srv hs;
		net_auth_srv_init(&hs);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		for (;;) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			int64_t left = (deadline - now_ns()) / 1000000;
			if (left <= 0 || poll(&p, 1, (int)left) == 0) {
				s->rc = -ETIMEDOUT;
				snprintf(s->why, sizeof(s->why), "(test) no handshake before the deadline");
				break;
			}
			s->rc = net_auth_step(&hs, fd, &s->auth, s->self, &s->peer, s->why, sizeof(s->why));
			if (s->rc)
				break;
		}
		if (s->rc == 1)
			s->rc = 0;
	} else {
		s->rc = net_auth_accept(fd, &s->auth, s->self, &s->peer, deadline, s->why, sizeof(s->why));
	}
	close(fd);
	return NULL;
}

static void server_start(struct server *s)
{
	s->rc = 1;
	s->peer = 0xdeadu;
	s->why[0] = '\0';
	if (pthread_create(&s->thr, NULL, server_main, s)) {
		fprintf(stderr, "pthread_create failed\n");
		exit(1);
	}
}

static void server_join(struct server *s)
{
	pthread_join(s->thr, NULL);
}

static void server_listen(struct server *s, const struct job_auth *a, uint32_t self)
{
	memset(s, 0, sizeof(*s));
	s->auth = *a;
	s->self = self;
	s->lfd = net_listen("127.0.0.1", 0, &s->port);
	if (s->lfd < 0) {
		fprintf(stderr, "net_listen on 127.0.0.1 failed: %s\n", strerror(-s->lfd));
		exit(1);
	}
}

static int dial(int port)
{
	int fd = net_connect("127.0.0.1", port, now_ns() + TIMEOUT_NS);

	if (fd < 0) {
		fprintf(stderr, "net_connect to 127.0.0.1:%d failed: %s\n", port, strerror(-fd));
		exit(1);
	}
	return fd;
}

static void make_auth(struct job_auth *a, uint8_t fill, uint64_t job)
{
	memset(a->secret, fill, sizeof(a->secret));
	a->secret[DSM_SECRET_LEN - 1] ^= 0x5a;
	a->job_id = job;
}

/* A normal client against a normal acceptor.  Returns the client's rc. */
static int run_pair(struct server *s, const struct job_auth *ca, uint32_t cself, int64_t expect, char *why,
		    size_t whylen)
{
	int fd, rc;

	server_start(s);
	fd = dial(s->port);
	why[0] = '\0';
	rc = net_auth_connect(fd, ca, cself, expect, now_ns() + TIMEOUT_NS, why, whylen);
	close(fd); /* as any caller does on failure: the acceptor sees it */
	server_join(s);
	return rc;
}

static void test_success(void)
{
	struct job_auth a, ga;
	struct server s;
	char why[256];
	int rc;

	if (job_auth_generate(&ga)) {
		fprintf(stderr, "job_auth_generate failed\n");
		exit(1);
	}
	static const struct {
		uint32_t acceptor, connector;
	} ids[] = { { 0, 1 }, { 7, 3 }, { WIRE_SRC_LAUNCHER, 12345 }, { 2, WIRE_SRC_LAUNCHER } };

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		if (i & 1)
			a = ga; /* a random secret and job id */
		else
			make_auth(&a, (uint8_t)(0x11 * (i + 1)), 0x1122334455667788ull + i);
		server_listen(&s, &a, ids[i].acceptor);
		rc = run_pair(&s, &a, ids[i].connector, ids[i].acceptor, why, sizeof(why));
		CHECK(rc == 0, "ids %u<-%u: connector failed: %d (%s)", ids[i].acceptor, ids[i].connector, rc, why);
		CHECK(s.rc == 0, "ids %u<-%u: acceptor failed: %d (%s)", ids[i].acceptor, ids[i].connector, s.rc,
		      s.why);
		CHECK(s.peer == ids[i].connector, "acceptor learned id %u, expected %u", s.peer, ids[i].connector);
		close(s.lfd);
	}

	/* The connector that does not mind whom it reaches (expect -1). */
	make_auth(&a, 0x42, 99);
	server_listen(&s, &a, 5);
	rc = run_pair(&s, &a, 6, -1, why, sizeof(why));
	CHECK(rc == 0 && s.rc == 0, "expect=-1: connector %d (%s), acceptor %d (%s)", rc, why, s.rc, s.why);
	CHECK(s.peer == 6, "acceptor learned id %u, expected 6", s.peer);
	close(s.lfd);

	/* The connector learns the acceptor's id: reaching the wrong one fails. */
	server_listen(&s, &a, 5);
	rc = run_pair(&s, &a, 6, 4, why, sizeof(why));
	CHECK(rc != 0, "connector expecting id 4 accepted acceptor id 5");
	CHECK(rc == 0 || strstr(why, "5") != NULL, "reason '%s' does not name the id it reached (5)", why);
	CHECK(s.rc != 0, "acceptor succeeded although the connector gave up");
	close(s.lfd);
}

/*
 * A connector (id 1) with credentials b at an acceptor (id 0) with a: both
 * must refuse with -EACCES.  Their reasons are left in why and s->why.
 */
static void refused_pair(const char *what, struct server *s, const struct job_auth *a, const struct job_auth *b,
			 char *why, size_t whylen)
{
	int rc;

	server_listen(s, a, 0);
	rc = run_pair(s, b, 1, 0, why, whylen);
	CHECK(rc == -EACCES, "%s: connector returned %d (%s), expected -EACCES", what, rc, why);
	CHECK(s->rc == -EACCES, "%s: acceptor returned %d (%s), expected -EACCES", what, s->rc, s->why);
}

/* Credentials that differ from the acceptor's in one thing. */
static void test_wrong_credentials(void)
{
	struct job_auth a, b;
	struct server s;
	char why[256];

	make_auth(&a, 0x33, 42);
	b = a;
	b.secret[0] ^= 1; /* one bit differs */
	refused_pair("wrong secret", &s, &a, &b, why, sizeof(why));
	CHECK(why[0] != '\0', "wrong secret: connector gave no reason");
	CHECK(s.why[0] != '\0', "wrong secret: acceptor gave no reason");
	fprintf(stderr, "wrong secret: connector: %s; acceptor: %s\n", why, s.why);
	close(s.lfd);

	make_auth(&a, 0x44, 0x1000);
	b = a;
	b.job_id = 0x1001;
	refused_pair("wrong job id", &s, &a, &b, why, sizeof(why));
	CHECK(strstr(why, "job") != NULL, "wrong job id: connector's reason '%s' does not mention the job", why);
	CHECK(strstr(s.why, "job") != NULL, "wrong job id: acceptor's reason '%s' does not mention the job",
	      s.why);
	fprintf(stderr, "wrong job: connector: %s; acceptor: %s\n", why, s.why);
	close(s.lfd);
}

/* A HELLO as a peer of another protocol version would send it. */
static void send_hello_v2(int fd, const struct job_auth *a, uint32_t self)
{
	uint8_t msg[WIRE_HDR_SIZE + 40];
	struct wire_hdr h = { .type = WIRE_HELLO, .len = 40, .src = self };

	wire_encode_hdr(msg, &h);
	msg[4] = 2;
	put_le64(msg + WIRE_HDR_SIZE, a->job_id);
	memset(msg + WIRE_HDR_SIZE + 8, 0x77, 32);
	if (net_send_all(fd, msg, sizeof(msg), now_ns() + TIMEOUT_NS)) {
		fprintf(stderr, "(test) sending the v2 HELLO failed\n");
		exit(1);
	}
}

static void test_version(void)
{
	struct job_auth a;
	struct server s;
	struct wire_hdr h;
	char buf[300];
	int fd, rc;

	/* A version-2 connector against us. */
	make_auth(&a, 0x55, 7);
	server_listen(&s, &a, 0);
	server_start(&s);
	fd = dial(s.port);
	send_hello_v2(fd, &a, 1);
	rc = net_recv_msg(fd, &h, buf, sizeof(buf) - 1, now_ns() + TIMEOUT_NS);
	CHECK(rc == 0, "v2 connector: no answer from the acceptor: %d", rc);
	if (rc == 0) {
		buf[h.len] = '\0';
		CHECK(h.type == WIRE_REFUSE, "v2 connector got %s, expected REFUSE", wire_type_name(h.type));
		CHECK(strstr(buf, "version") != NULL, "REFUSE text '%s' does not mention the version", buf);
	}
	close(fd);
	server_join(&s);
	CHECK(s.rc != 0, "acceptor accepted a version-2 HELLO");
	CHECK(s.rc == -EPROTONOSUPPORT, "v2 connector: acceptor returned %d, expected -EPROTONOSUPPORT", s.rc);
	CHECK(strstr(s.why, "version") != NULL, "acceptor's reason '%s' does not mention the version", s.why);
	fprintf(stderr, "v2 connector: acceptor: %s\n", s.why);
	close(s.lfd);

	/* A version-2 acceptor answering our HELLO. */
	int lfd, port, cfd, afd;
	char why[256];
	uint8_t hello[WIRE_HDR_SIZE + 40], chal[WIRE_HDR_SIZE + 64];

	lfd = net_listen("127.0.0.1", 0, &port);
	CHECK(lfd >= 0, "net_listen failed");
	if (lfd < 0)
		return;
	cfd = dial(port);
	afd = net_accept(lfd, now_ns() + TIMEOUT_NS);
	CHECK(afd >= 0, "accept failed");
	if (afd < 0)
		return;
	/* Answer before the connector asks: the bytes wait in its socket. */
	h = (struct wire_hdr){ .type = WIRE_CHALLENGE, .len = 64, .src = 0 };
	wire_encode_hdr(chal, &h);
	chal[4] = 2;
	memset(chal + WIRE_HDR_SIZE, 0x66, 64);
	net_send_all(afd, chal, sizeof(chal), now_ns() + TIMEOUT_NS);
	rc = net_auth_connect(cfd, &a, 1, 0, now_ns() + TIMEOUT_NS, why, sizeof(why));
	CHECK(rc == -EPROTONOSUPPORT, "v2 acceptor: connector returned %d (%s), expected -EPROTONOSUPPORT", rc,
	      why);
	CHECK(strstr(why, "version") != NULL, "connector's reason '%s' does not mention the version", why);
	net_recv_all(afd, hello, sizeof(hello), now_ns() + TIMEOUT_NS);
	close(cfd);
	close(afd);
	close(lfd);
}

/* Garbage from a connector: refused, and the acceptor keeps working. */
static void test_garbage(void)
{
	struct job_auth a;
	struct server s;
	char why[256];
	uint8_t junk[200];
	int fd, rc;

	make_auth(&a, 0x66, 8);
	server_listen(&s, &a, 0);

	/* Random bytes: bad magic. */
	srand(12345);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)rand();
	junk[0] = 'G';
	server_start(&s);
	fd = dial(s.port);
	net_send_all(fd, junk, sizeof(junk), now_ns() + TIMEOUT_NS);
	server_join(&s);
	close(fd);
	CHECK(s.rc == -EPROTO, "random bytes: acceptor returned %d (%s), expected -EPROTO", s.rc, s.why);
	CHECK(s.why[0] != '\0', "random bytes: acceptor gave no reason");

	/* An HTTP request. */
	static const char http[] = "GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl\r\n\r\n";
	server_start(&s);
	fd = dial(s.port);
	net_send_all(fd, http, sizeof(http) - 1, now_ns() + TIMEOUT_NS);
	server_join(&s);
	close(fd);
	CHECK(s.rc == -EPROTO, "HTTP request: acceptor returned %d (%s), expected -EPROTO", s.rc, s.why);

	/* A valid header of the wrong type (AUTH first). */
	uint8_t msg[WIRE_HDR_SIZE + 32];
	struct wire_hdr h = { .type = WIRE_AUTH, .len = 32, .src = 1 };
	wire_encode_hdr(msg, &h);
	memset(msg + WIRE_HDR_SIZE, 0, 32);
	server_start(&s);
	fd = dial(s.port);
	net_send_all(fd, msg, sizeof(msg), now_ns() + TIMEOUT_NS);
	server_join(&s);
	close(fd);
	CHECK(s.rc != 0, "AUTH without HELLO was accepted");

	/* A HELLO claiming a payload larger than HELLO's. */
	h = (struct wire_hdr){ .type = WIRE_HELLO, .len = 100000, .src = 1 };
	wire_encode_hdr(msg, &h);
	server_start(&s);
	fd = dial(s.port);
	net_send_all(fd, msg, WIRE_HDR_SIZE, now_ns() + TIMEOUT_NS);
	server_join(&s);
	close(fd);
	CHECK(s.rc == -EBADMSG, "oversized HELLO: acceptor returned %d (%s), expected -EBADMSG", s.rc, s.why);

	/* Half a header, then gone. */
	server_start(&s);
	fd = dial(s.port);
	net_send_all(fd, msg, 17, now_ns() + TIMEOUT_NS);
	close(fd);
	server_join(&s);
	CHECK(s.rc != 0, "half a header was accepted");

	/* Connect and close at once. */
	server_start(&s);
	fd = dial(s.port);
	close(fd);
	server_join(&s);
	CHECK(s.rc != 0, "an empty connection was accepted");

	/* The same listener still serves a real peer. */
	rc = run_pair(&s, &a, 9, 0, why, sizeof(why));
	CHECK(rc == 0 && s.rc == 0, "after garbage: connector %d (%s), acceptor %d (%s)", rc, why, s.rc, s.why);
	CHECK(s.peer == 9, "after garbage: acceptor learned id %u, expected 9", s.peer);
	close(s.lfd);
}

/* Read one framed message's raw bytes (header + payload) into buf. */
static int relay_one(int from, int to, uint8_t *buf, size_t cap, size_t *len)
{
	struct wire_hdr h;
	int64_t dl = now_ns() + TIMEOUT_NS;
	int rc = net_recv_all(from, buf, WIRE_HDR_SIZE, dl);

	if (rc)
		return rc;
	rc = wire_decode_hdr(buf, WIRE_HDR_SIZE, &h);
	if (rc)
		return rc;
	if (WIRE_HDR_SIZE + h.len > cap)
		return -EMSGSIZE;
	if (h.len && (rc = net_recv_all(from, buf + WIRE_HDR_SIZE, h.len, dl)))
		return rc;
	*len = WIRE_HDR_SIZE + h.len;
	return to >= 0 ? net_send_all(to, buf, *len, dl) : 0;
}

struct client {
	pthread_t thr;
	int port;
	const struct job_auth *auth;
	int rc;
	char why[256];
};

static void *client_main(void *arg)
{
	struct client *c = arg;
	int fd = dial(c->port);

	c->rc = net_auth_connect(fd, c->auth, 1, 0, now_ns() + TIMEOUT_NS, c->why, sizeof(c->why));
	close(fd);
	return NULL;
}

/* Record a good session through a relay, then replay the connector's bytes. */
static void test_replay(void)
{
	struct job_auth a;
	struct server s;
	struct client c;
	uint8_t hello[256], chal[256], auth[256], buf[256];
	size_t hello_len = 0, chal_len = 0, auth_len = 0, n;
	int rlfd, rport, cfd, sfd, rc;

	make_auth(&a, 0x77, 0xabcdef);
	server_listen(&s, &a, 0);
	rlfd = net_listen("127.0.0.1", 0, &rport);
	CHECK(rlfd >= 0, "relay listen failed");
	if (rlfd < 0)
		return;

	/* Session 1: connector -> relay -> acceptor, every byte recorded. */
	server_start(&s);
	c = (struct client){ .port = rport, .auth = &a };
	pthread_create(&c.thr, NULL, client_main, &c);
	cfd = net_accept(rlfd, now_ns() + TIMEOUT_NS);
	sfd = dial(s.port);
	rc = cfd < 0 ? cfd : relay_one(cfd, sfd, hello, sizeof(hello), &hello_len);
	if (rc == 0)
		rc = relay_one(sfd, cfd, chal, sizeof(chal), &chal_len);
	if (rc == 0)
		rc = relay_one(cfd, sfd, auth, sizeof(auth), &auth_len);
	CHECK(rc == 0, "relaying the first session failed: %d", rc);
	pthread_join(c.thr, NULL);
	server_join(&s);
	close(sfd);
	if (cfd >= 0)
		close(cfd);
	close(rlfd);
	CHECK(c.rc == 0 && s.rc == 0, "relayed session: connector %d (%s), acceptor %d (%s)", c.rc, c.why, s.rc,
	      s.why);
	if (rc)
		goto out;

	/* Session 2: the recorded HELLO and AUTH, against a fresh challenge. */
	server_start(&s);
	sfd = dial(s.port);
	net_send_all(sfd, hello, hello_len, now_ns() + TIMEOUT_NS);
	rc = relay_one(sfd, -1, buf, sizeof(buf), &n);
	CHECK(rc == 0, "no CHALLENGE in the replayed session: %d", rc);
	CHECK(rc != 0 || n != chal_len || memcmp(buf, chal, n) != 0, "the acceptor repeated its challenge");
	net_send_all(sfd, auth, auth_len, now_ns() + TIMEOUT_NS);
	server_join(&s);
	close(sfd);
	CHECK(s.rc == -EACCES, "replayed AUTH: acceptor returned %d (%s), expected -EACCES", s.rc, s.why);
	fprintf(stderr, "replayed AUTH: acceptor: %s\n", s.why);
out:
	close(s.lfd);
}

int main(void)
{
	for (use_step = 0; use_step < 2; use_step++) {
		test_success();
		test_wrong_credentials();
		test_version();
		test_garbage();
		test_replay();
	}
	return unit_result("test_handshake: ", "test_handshake: ok");
}
