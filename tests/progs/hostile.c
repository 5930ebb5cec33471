/*
 * Description: a hostile client for the security tests, the job it attacks,
 * and a look at what a process listens on (tests/security_*.sh).
 *
 *   hostile [-j JOBID] [-s SECRETFILE] [-i ID] [-t SECONDS] HOST PORT MODE
 *
 * connects to a rank's listening socket and tries to get in without the job
 * secret (or, given the secret, with a claim no rank may make).  Modes:
 *   garbage       random bytes; an HTTP request
 *   wrong-secret  the whole handshake with a random secret: made by hand
 *                 (an AUTH the rank must reject) and through
 *                 net_auth_connect() (which notices first and says REFUSE)
 *   wrong-job     a HELLO naming another job
 *   version       a HELLO in protocol versions 0, 2 and 255
 *   oversized     headers whose length field is 0xffffffff, one more than
 *                 HELLO allows, 1 MiB (a length the codec allows for RPC_CALL
 *                 but the handshake does not), 2 GiB with an unknown type
 *   claim         HELLOs claiming ids 0, 1, 2, 3, 1000 and 0xffffffff with a
 *                 made-up AUTH; with -s, a valid AUTH claiming ids no rank
 *                 may claim: 1000, 0xfffffffe, 0xffffffff, the rank's own
 *   replay        the HELLO and AUTH of an earlier attempt sent again (with
 *                 -s, an AUTH that was valid for the earlier attempt); needs -j
 *   slow          connect and send nothing; send a HELLO a byte at a time
 *   flood         FLOOD_CONNS clients at once, each one quick attempt of the
 *                 kinds above
 *   siege         SIEGE_CONNS silent connections open at every moment for
 *                 -t SECONDS (default 20), each one the rank drops replaced
 *   member        the control, with -s: a valid handshake as id -i must get
 *                 in (the rank sends RESUME)
 * -j: the job id in hex (not a secret: every rank has it as DSM_JOB_ID);
 * without it the HELLOs name a random job and stop at the job id check.
 * -s: the DSM_SECRET_FILE the job uses.  -i: the id the HELLOs of
 * wrong-secret, replay and member claim (default 2).
 *
 * Each attempt prints one line: what was sent, what the rank answered
 * (REFUSE and its text, or the connection closed) and after how long; the
 * last line counts the connections made.  Exit status 0 when every attempt
 * was answered as it should be; 1 when one got in (after its AUTH the rank
 * sent a RESUME or any message but REFUSE), was left unanswered, was turned
 * away only after PROMPT_S where the header alone condemns it, or when the
 * rank's nonce repeated; 2 for usage errors and connections that could not be
 * made.
 *
 *   hostile victim DIR [SECONDS]
 *
 * is the job under attack, one rank of it: it writes DIR/pid.RANK, then
 * works in rounds (lock-protected increments of a shared counter; a stripe
 * of a shared array written by each rank, the whole array checked by all;
 * three barriers) until DIR/stop appears; rank 0 writes the number of rounds
 * done to DIR/progress as it goes.  At the end every rank checks the counter
 * and prints "hostile victim: rank R: N rounds, counter C: ok".  Without
 * DIR/stop within SECONDS (default 60) it fails.
 *
 *   hostile listening PID
 *
 * prints "ADDRESS PORT" for each listening TCP socket of process PID, from
 * /proc/PID/fd and /proc/net/tcp, tcp6.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net.h"
#include "wire.h"

#include "testutil.h"

#define ANSWER_NS (20LL * 1000000000)  /* the rank's own handshake deadline is 5 s */
#define PROMPT_S 3.0                   /* refusing on the header takes no waiting */
#define SLOW_MAX_S 12.0                /* a silent client must be dropped by then */
#define TRICKLE_MS 250
#define FLOOD_CONNS 100
#define SIEGE_CONNS 6

enum outcome {
	O_REFUSED,   /* REFUSE, then the connection closed */
	O_CLOSED,    /* closed (FIN or RST) without a word */
	O_CHALLENGE, /* the handshake goes on */
	O_IN,        /* the rank sent something only a member of the job gets */
	O_SILENT,    /* nothing within ANSWER_NS */
	O_ERROR,     /* a local failure, or the rank sent a malformed header */
};

struct answer {
	enum outcome o;
	struct wire_hdr h;
	uint8_t payload[64];
	char text[WIRE_HDR_SIZE + 260];
	double secs;
};

static const char *host;
static int port;
static const char *mode;
static uint64_t job_id;
static int have_job;
static uint8_t secret[DSM_SECRET_LEN];
static int have_secret;
static uint32_t claim_id = 2;
static int siege_secs = 20;
static int quiet;           /* flood: the threads print nothing, and wait their turn */
static atomic_int attempts; /* connections made */
static atomic_int unreached; /* connections that could not be made */
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static double secs_since(int64_t t0)
{
	return (double)(now_ns() - t0) / 1e9;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	pthread_mutex_lock(&out_lock);
	printf("hostile: %s: ", mode);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
}

static int dial(void)
{
	int fd = net_connect_opt(host, port, now_ns() + 5000000000LL, 0);

	if (fd >= 0)
		atomic_fetch_add(&attempts, 1);
	else {
		atomic_fetch_add(&unreached, 1);
		pthread_mutex_lock(&out_lock);
		printf("hostile: %s: cannot connect to %s:%d: %s\n", mode, host, port, strerror(-fd));
		fflush(stdout);
		pthread_mutex_unlock(&out_lock);
	}
	return fd;
}

/* The same MAC as net.c's auth_mac(); a change there shows as "the rank's
 * CHALLENGE does not verify" in the modes that hold the secret. */
static void auth_mac(uint8_t mac[32], const uint8_t key[DSM_SECRET_LEN], char label, uint32_t acceptor,
		     uint32_t connector, const uint8_t nc[32], const uint8_t na[32])
{
	uint8_t m[1 + 8 + 4 + 4 + 32 + 32];

	m[0] = (uint8_t)label;
	put_le64(m + 1, job_id);
	put_le32(m + 9, acceptor);
	put_le32(m + 13, connector);
	memcpy(m + 17, nc, 32);
	memcpy(m + 49, na, 32);
	crypto_auth_hmacsha256(mac, m, sizeof(m), key);
}

/* The job id a HELLO names: the job's, or (without -j) a random one. */
static uint64_t hello_job(void)
{
	uint64_t j;

	if (have_job)
		return job_id;
	randombytes_buf(&j, sizeof(j));
	return j;
}

/* out[WIRE_HDR_SIZE + 40]: a HELLO claiming `src`, in protocol `version`. */
static void make_hello(uint8_t *out, uint64_t job, uint32_t src, const uint8_t nc[32], uint8_t version)
{
	struct wire_hdr h = { .type = WIRE_HELLO, .len = 40, .src = src };

	wire_encode_hdr(out, &h);
	out[4] = version;
	put_le64(out + WIRE_HDR_SIZE, job);
	memcpy(out + WIRE_HDR_SIZE + 8, nc, 32);
}

static void make_auth_msg(uint8_t *out, uint32_t src, const uint8_t mac[32])
{
	struct wire_hdr h = { .type = WIRE_AUTH, .len = 32, .src = src };

	wire_encode_hdr(out, &h);
	memcpy(out + WIRE_HDR_SIZE, mac, 32);
}

static int send_bytes(int fd, const void *buf, size_t len)
{
	return net_send_all(fd, buf, len, now_ns() + 5000000000LL);
}

/* Read one message from the rank; a->secs counts from t0. */
static void read_answer(int fd, int64_t t0, struct answer *a)
{
	uint8_t hdr[WIRE_HDR_SIZE];
	int rc = net_recv_all(fd, hdr, sizeof(hdr), t0 + ANSWER_NS);

	a->text[0] = '\0';
	if (rc == -ETIMEDOUT) {
		a->o = O_SILENT;
		snprintf(a->text, sizeof(a->text), "no answer within %lld s", ANSWER_NS / 1000000000);
	} else if (rc) {
		a->o = O_CLOSED;
		snprintf(a->text, sizeof(a->text), "closed by the rank (%s)",
			 rc == -ECONNRESET ? "end of stream or reset" : strerror(-rc));
	} else if ((rc = wire_decode_hdr(hdr, sizeof(hdr), &a->h))) {
		a->o = O_ERROR;
		snprintf(a->text, sizeof(a->text), "the rank sent a malformed header: %s", wire_strerror(rc));
	} else if (a->h.type == WIRE_REFUSE) {
		char reason[257];
		rc = net_recv_all(fd, reason, a->h.len, t0 + ANSWER_NS);
		reason[rc ? 0 : a->h.len] = '\0';
		a->o = O_REFUSED;
		snprintf(a->text, sizeof(a->text), "REFUSE \"%s\"", reason);
	} else if (a->h.type == WIRE_CHALLENGE) {
		rc = net_recv_all(fd, a->payload, 64, t0 + ANSWER_NS);
		a->o = rc ? O_CLOSED : O_CHALLENGE;
		snprintf(a->text, sizeof(a->text), rc ? "closed by the rank in a CHALLENGE" : "CHALLENGE from id %u",
			 a->h.src);
	} else {
		a->o = O_IN;
		snprintf(a->text, sizeof(a->text), "GOT IN: the rank sent %s (seq %u, arg %llu)",
			 wire_type_name(a->h.type), a->h.seq, (unsigned long long)a->h.arg);
	}
	a->secs = secs_since(t0);
}

/* After our last message: the rank must answer REFUSE or close, and with
 * `prompt`, at once.  Returns 0 when it did. */
static int turned_away(int fd, int64_t t0, const char *what, int prompt)
{
	struct answer a;
	int bad;

	read_answer(fd, t0, &a);
	if (a.o == O_REFUSED) {
		/* whatever follows a REFUSE, the door must stay shut */
		struct answer b;
		read_answer(fd, t0, &b);
		if (b.o != O_CLOSED) {
			say("%s: %s, then %s: FAIL", what, a.text, b.text);
			return 1;
		}
	}
	/* in a flood, an answer waits its turn behind the others */
	bad = (a.o != O_REFUSED && a.o != O_CLOSED) || (prompt && !quiet && a.secs > PROMPT_S);
	say("%s: %s after %.2f s%s", what, a.text, a.secs,
	    !bad ? ""
	    : a.o == O_REFUSED || a.o == O_CLOSED ? ": FAIL (the header alone condemns it: expected at once)"
						   : ": FAIL");
	return bad;
}

/* ---- the attacks: each returns the number of attempts that went wrong ---- */

static int garbage_one(int http)
{
	uint8_t buf[256];
	int64_t t0 = now_ns();
	int fd = dial(), bad;

	if (fd < 0)
		return 1;
	if (http) {
		snprintf((char *)buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: hostile\r\n\r\n", host);
	} else {
		randombytes_buf(buf, sizeof(buf));
		buf[0] = 'x'; /* not the magic by chance */
	}
	/* a failed send means the rank has closed already: the answer says so */
	(void)send_bytes(fd, buf, http ? strlen((char *)buf) : sizeof(buf));
	bad = turned_away(fd, t0, http ? "an HTTP request" : "256 random bytes", 1);
	close(fd);
	return bad;
}

static int do_garbage(void)
{
	return garbage_one(0) + garbage_one(1);
}

/* HELLO; expect a CHALLENGE (or, without the job id, the job id's REFUSE).
 * Returns the fd with *a filled, or -1 after printing (*bad set). */
static int hello_until_challenge(uint32_t src, uint8_t nc[32], uint8_t *hello_out, struct answer *a,
				 const char *what, int *bad, int64_t *t0)
{
	uint8_t hello[WIRE_HDR_SIZE + 40];
	int fd = dial();

	*bad = 0;
	*t0 = now_ns();
	if (fd < 0) {
		*bad = 1;
		return -1;
	}
	randombytes_buf(nc, 32);
	make_hello(hello, hello_job(), src, nc, WIRE_VERSION);
	if (hello_out)
		memcpy(hello_out, hello, sizeof(hello));
	if (send_bytes(fd, hello, sizeof(hello))) {
		say("%s: sending HELLO failed", what);
		close(fd);
		*bad = 1;
		return -1;
	}
	read_answer(fd, *t0, a);
	if (a->o == O_CHALLENGE)
		return fd;
	/* Turned away at HELLO: right when it names a random job. */
	*bad = a->o != O_REFUSED && a->o != O_CLOSED;
	if (!*bad && have_job) {
		say("%s: HELLO for the right job: %s after %.2f s: FAIL (expected a CHALLENGE)", what, a->text,
		    a->secs);
		*bad = 1;
	} else {
		say("%s: HELLO: %s after %.2f s%s", what, a->text, a->secs, *bad ? ": FAIL" : "");
	}
	close(fd);
	return -1;
}

/* A complete attempt claiming `src`: HELLO, CHALLENGE, AUTH with `key`'s MAC
 * (NULL: 32 random bytes).  Returns 1 when it went wrong. */
static int auth_attempt(uint32_t src, const uint8_t *key, const char *what)
{
	uint8_t nc[32], mac[32], msg[WIRE_HDR_SIZE + 32];
	struct answer a;
	int64_t t0;
	int bad, fd = hello_until_challenge(src, nc, NULL, &a, what, &bad, &t0);

	if (fd < 0)
		return bad;
	if (key)
		auth_mac(mac, key, 'C', a.h.src, src, nc, a.payload);
	else
		randombytes_buf(mac, sizeof(mac));
	make_auth_msg(msg, src, mac);
	if (send_bytes(fd, msg, sizeof(msg))) {
		close(fd);
		say("%s: sending AUTH failed", what);
		return 1;
	}
	bad = turned_away(fd, t0, what, 1);
	close(fd);
	return bad;
}

static int do_wrong_secret(void)
{
	uint8_t wrong[DSM_SECRET_LEN];
	struct job_auth ja;
	char what[400], why[256];
	int bad, fd, rc;
	int64_t t0;

	randombytes_buf(wrong, sizeof(wrong));
	snprintf(what, sizeof(what), "handshake as id %u with a random secret", claim_id);
	bad = auth_attempt(claim_id, wrong, what);

	/* The library's own connector with the wrong secret. */
	memcpy(ja.secret, wrong, sizeof(wrong));
	ja.job_id = hello_job();
	if ((fd = dial()) < 0)
		return bad + 1;
	t0 = now_ns();
	rc = net_auth_connect(fd, &ja, claim_id, -1, t0 + ANSWER_NS, why, sizeof(why));
	if (rc == 0) {
		say("net_auth_connect as id %u with a random secret: succeeded: FAIL", claim_id);
		bad++;
	} else {
		snprintf(what, sizeof(what), "net_auth_connect as id %u with a random secret (\"%s\")", claim_id, why);
		bad += turned_away(fd, t0, what, 1);
	}
	close(fd);
	return bad;
}

static int do_wrong_job(void)
{
	uint8_t hello[WIRE_HDR_SIZE + 40], nc[32];
	uint64_t other = have_job ? job_id ^ 0x8000000000000001ULL : hello_job();
	int64_t t0 = now_ns();
	int fd = dial(), bad;

	if (fd < 0)
		return 1;
	randombytes_buf(nc, sizeof(nc));
	make_hello(hello, other, claim_id, nc, WIRE_VERSION);
	if (send_bytes(fd, hello, sizeof(hello))) {
		close(fd);
		return 1;
	}
	bad = turned_away(fd, t0, "HELLO for another job", 1);
	close(fd);
	return bad;
}

static int do_version(void)
{
	static const uint8_t versions[] = { 0, WIRE_VERSION + 1, 255 };
	int bad = 0;

	for (size_t i = 0; i < sizeof(versions); i++) {
		uint8_t hello[WIRE_HDR_SIZE + 40], nc[32];
		char what[64];
		int64_t t0 = now_ns();
		int fd = dial();

		if (fd < 0)
			return bad + 1;
		randombytes_buf(nc, sizeof(nc));
		make_hello(hello, hello_job(), claim_id, nc, versions[i]);
		snprintf(what, sizeof(what), "HELLO in protocol version %u", versions[i]);
		if (send_bytes(fd, hello, sizeof(hello)))
			bad++;
		else
			bad += turned_away(fd, t0, what, 1);
		close(fd);
	}
	return bad;
}

static int do_oversized(void)
{
	static const struct {
		uint8_t type;
		uint32_t len;
		const char *what;
	} hdrs[] = {
		{ WIRE_HELLO, 0xffffffffu, "HELLO header with length 0xffffffff" },
		{ WIRE_HELLO, 41, "HELLO header with length 41 (HELLO is 40)" },
		{ WIRE_RPC_CALL, WIRE_MAX_PAYLOAD, "RPC_CALL header with length 1 MiB, instead of a HELLO" },
		{ 255, 0x80000000u, "header of unknown type 255 with length 2 GiB" },
	};
	int bad = 0;

	for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		struct wire_hdr h = { .type = hdrs[i].type, .len = hdrs[i].len, .src = claim_id };
		uint8_t buf[WIRE_HDR_SIZE + 1024];
		int64_t t0 = now_ns();
		int fd = dial();

		if (fd < 0)
			return bad + 1;
		wire_encode_hdr(buf, &h);
		/* a first helping of the payload it announces */
		randombytes_buf(buf + WIRE_HDR_SIZE, sizeof(buf) - WIRE_HDR_SIZE);
		(void)send_bytes(fd, buf, sizeof(buf)); /* it may have closed already */
		bad += turned_away(fd, t0, hdrs[i].what, 1);
		close(fd);
	}
	return bad;
}

/* Learn the rank's id and check that our secret is the job's: a HELLO
 * claiming 1000, whose CHALLENGE must verify; a valid AUTH follows, which the
 * rank must refuse for the id. */
static int claim_with_secret(void)
{
	static const uint32_t ids[] = { 0xfffffffeu, 0xffffffffu };
	uint8_t nc[32], mac[32], msg[WIRE_HDR_SIZE + 32];
	struct answer a;
	uint32_t self;
	char what[128];
	int64_t t0;
	int bad, fd = hello_until_challenge(1000, nc, NULL, &a, "probe as id 1000", &bad, &t0);

	if (fd < 0)
		return bad + 1;
	self = a.h.src;
	auth_mac(mac, secret, 'A', self, 1000, nc, a.payload);
	if (sodium_memcmp(mac, a.payload + 32, 32) != 0) {
		say("the rank's CHALLENGE does not verify with the secret from -s: not the job's secret, or net.c's "
		    "MAC changed (update hostile.c)");
		close(fd);
		exit(2);
	}
	auth_mac(mac, secret, 'C', self, 1000, nc, a.payload);
	make_auth_msg(msg, 1000, mac);
	if (send_bytes(fd, msg, sizeof(msg))) {
		close(fd);
		return 1;
	}
	bad = turned_away(fd, t0, "valid AUTH claiming id 1000", 1);
	close(fd);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		snprintf(what, sizeof(what), "valid AUTH claiming id %u", ids[i]);
		bad += auth_attempt(ids[i], secret, what);
	}
	snprintf(what, sizeof(what), "valid AUTH claiming id %u, the rank's own", self);
	bad += auth_attempt(self, secret, what);
	return bad;
}

static int do_claim(void)
{
	static const uint32_t ids[] = { 0, 1, 2, 3, 1000, 0xffffffffu };
	char what[96];
	int bad = 0;

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		snprintf(what, sizeof(what), "HELLO claiming id %u, a made-up AUTH", ids[i]);
		bad += auth_attempt(ids[i], NULL, what);
	}
	if (have_secret)
		bad += claim_with_secret();
	return bad;
}

/* Session 1 records a HELLO and an AUTH: a made-up one, sent and refused; or
 * with -s, the valid answer to that session's CHALLENGE, never sent.  Session
 * 2 sends both again, back to back, as a recording would.  The rank's fresh
 * nonce must make the AUTH worthless. */
static int do_replay(void)
{
	uint8_t nc[32], na1[32], mac[32], rec[2 * WIRE_HDR_SIZE + 40 + 32];
	struct answer a;
	int64_t t0;
	int bad, fd = hello_until_challenge(claim_id, nc, rec, &a, "session 1", &bad, &t0);

	if (fd < 0)
		return bad + 1;
	memcpy(na1, a.payload, 32);
	if (have_secret) {
		auth_mac(mac, secret, 'A', a.h.src, claim_id, nc, na1);
		if (sodium_memcmp(mac, a.payload + 32, 32) != 0) {
			say("the rank's CHALLENGE does not verify with the secret from -s");
			close(fd);
			exit(2);
		}
		auth_mac(mac, secret, 'C', a.h.src, claim_id, nc, na1);
		make_auth_msg(rec + WIRE_HDR_SIZE + 40, claim_id, mac);
		say("session 1 as id %u: CHALLENGE verified; the valid AUTH recorded, not sent", claim_id);
	} else {
		randombytes_buf(mac, sizeof(mac));
		make_auth_msg(rec + WIRE_HDR_SIZE + 40, claim_id, mac);
		if (send_bytes(fd, rec + WIRE_HDR_SIZE + 40, WIRE_HDR_SIZE + 32) == 0)
			bad += turned_away(fd, t0, "session 1: HELLO, a made-up AUTH", 1);
	}
	close(fd);

	if ((fd = dial()) < 0)
		return bad + 1;
	t0 = now_ns();
	if (send_bytes(fd, rec, sizeof(rec))) {
		close(fd);
		return bad + 1;
	}
	read_answer(fd, t0, &a);
	if (a.o == O_CHALLENGE && !memcmp(a.payload, na1, 32)) {
		say("session 2: the rank's nonce repeats session 1's: FAIL");
		bad++;
	} else if (a.o == O_CHALLENGE) {
		bad += turned_away(fd, t0, "session 2: session 1's HELLO and AUTH replayed (fresh nonce)", 1);
	} else {
		say("session 2: HELLO: %s after %.2f s: FAIL (expected a CHALLENGE)", a.text, a.secs);
		bad++;
	}
	close(fd);
	return bad;
}

static int do_slow(void)
{
	uint8_t hello[WIRE_HDR_SIZE + 40], nc[32];
	struct answer a;
	size_t sent = 0;
	int64_t t0 = now_ns();
	int fd = dial(), bad = 0;

	if (fd < 0)
		return 1;
	read_answer(fd, t0, &a);
	bad = a.o != O_CLOSED || a.secs > SLOW_MAX_S;
	say("connected, sent nothing: %s after %.2f s%s", a.text, a.secs, bad ? ": FAIL" : "");
	close(fd);

	/* A byte at a time: the rank's deadline must not move with each one. */
	if ((fd = dial()) < 0)
		return bad + 1;
	t0 = now_ns();
	randombytes_buf(nc, sizeof(nc));
	make_hello(hello, hello_job(), claim_id, nc, WIRE_VERSION);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int n = poll(&p, 1, TRICKLE_MS);

		if (n > 0) {
			read_answer(fd, t0, &a);
			break;
		}
		if (sent == sizeof(hello)) {
			read_answer(fd, t0, &a);
			snprintf(a.text, sizeof(a.text), "took the whole HELLO a byte every %d ms", TRICKLE_MS);
			a.o = O_CHALLENGE;
			break;
		}
		if (send(fd, hello + sent, 1, MSG_NOSIGNAL) != 1) {
			a.o = O_CLOSED;
			a.secs = secs_since(t0);
			snprintf(a.text, sizeof(a.text), "closed by the rank (%s)", strerror(errno));
			break;
		}
		sent++;
	}
	a.secs = secs_since(t0);
	if (a.o != O_CLOSED || a.secs > SLOW_MAX_S) {
		bad++;
		say("a HELLO a byte every %d ms: %s after %.2f s, %zu bytes sent: FAIL", TRICKLE_MS, a.text, a.secs,
		    sent);
	} else {
		say("a HELLO a byte every %d ms: %s after %.2f s, %zu bytes sent", TRICKLE_MS, a.text, a.secs, sent);
	}
	close(fd);
	return bad;
}

/* member (with -s): the control that shows this client can tell a door that
 * opens: a valid handshake as id -i must get in (the rank sends RESUME). */
static int do_member(void)
{
	uint8_t nc[32], mac[32], msg[WIRE_HDR_SIZE + 32];
	struct answer a;
	int64_t t0;
	int bad, fd;

	if (!have_secret) {
		say("needs -s");
		exit(2);
	}
	fd = hello_until_challenge(claim_id, nc, NULL, &a, "member", &bad, &t0);
	if (fd < 0)
		return 1;
	auth_mac(mac, secret, 'C', a.h.src, claim_id, nc, a.payload);
	make_auth_msg(msg, claim_id, mac);
	if (send_bytes(fd, msg, sizeof(msg))) {
		close(fd);
		return 1;
	}
	read_answer(fd, t0, &a);
	close(fd);
	say("valid handshake as id %u: %s after %.2f s%s", claim_id, a.text, a.secs,
	    a.o == O_IN ? " (as it must: the secret opens the door)" : ": FAIL (the secret should open the door)");
	return a.o != O_IN;
}

/* flood: every connection dials first, then all attack at once. */
static pthread_barrier_t flood_go;

static void *flood_one(void *arg)
{
	intptr_t i = (intptr_t)arg, bad;

	pthread_barrier_wait(&flood_go);
	switch (i % 5) {
	case 0: bad = garbage_one(0); break;
	case 1: bad = do_wrong_job(); break;
	case 2: bad = do_version(); break;
	case 3: bad = do_oversized(); break;
	default: bad = auth_attempt(claim_id, NULL, "flood"); break;
	}
	return (void *)bad;
}

static int do_flood(void)
{
	pthread_t t[FLOOD_CONNS];
	int64_t t0 = now_ns();
	int n = 0, bad = 0;

	quiet = 1;
	pthread_barrier_init(&flood_go, NULL, FLOOD_CONNS);
	for (intptr_t i = 0; i < FLOOD_CONNS; i++) {
		if (pthread_create(&t[i], NULL, flood_one, (void *)i)) {
			fprintf(stderr, "hostile: pthread_create failed\n");
			exit(2);
		}
	}
	for (int i = 0; i < FLOOD_CONNS; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += r != NULL;
		n++;
	}
	quiet = 0;
	say("%d clients at once (garbage, wrong job, versions, oversized headers, made-up AUTHs): %d turned away as "
	    "they should be, %d not, after %.2f s%s",
	    n, n - bad, bad, secs_since(t0), bad ? ": FAIL" : "");
	return bad;
}

/* siege: SIEGE_CONNS silent connections open at every moment for
 * siege_secs, each closed one (the rank drops it after its handshake
 * deadline) replaced at once.  None can get in; what matters is what the
 * job does meanwhile. */
static int do_siege(void)
{
	struct pollfd p[SIEGE_CONNS];
	int64_t t0 = now_ns(), end = t0 + (int64_t)siege_secs * 1000000000;
	int made = 0, dropped = 0, bad = 0;

	for (int i = 0; i < SIEGE_CONNS; i++) {
		p[i] = (struct pollfd){ .fd = dial(), .events = POLLIN };
		if (p[i].fd < 0)
			return 1;
		made++;
	}
	while (now_ns() < end) {
		int n = poll(p, SIEGE_CONNS, 100);

		for (int i = 0; n > 0 && i < SIEGE_CONNS; i++) {
			char c;
			if (!p[i].revents)
				continue;
			if (recv(p[i].fd, &c, 1, MSG_DONTWAIT) > 0) {
				say("a silent connection got a byte from the rank: FAIL");
				bad++;
			}
			close(p[i].fd);
			dropped++;
			if ((p[i].fd = dial()) < 0) {
				say("after %.1f s the rank no longer listens: the job has ended", secs_since(t0));
				for (int j = 0; j < SIEGE_CONNS; j++)
					if (j != i)
						close(p[j].fd);
				return bad + 1;
			}
			made++;
		}
	}
	for (int i = 0; i < SIEGE_CONNS; i++)
		close(p[i].fd);
	say("%d silent connections open at every moment for %.1f s: %d made, %d dropped by the rank%s",
	    SIEGE_CONNS, secs_since(t0), made, dropped, bad ? ": FAIL" : "");
	return bad;
}

static const struct {
	const char *name;
	int (*fn)(void);
} modes[] = {
	{ "garbage", do_garbage },     { "wrong-secret", do_wrong_secret }, { "wrong-job", do_wrong_job },
	{ "version", do_version },     { "oversized", do_oversized },       { "claim", do_claim },
	{ "replay", do_replay },       { "slow", do_slow },                 { "flood", do_flood },
	{ "siege", do_siege },         { "member", do_member },
};

/* ---- the job under attack ------------------------------------------------ */

#define V_WORDS (64 * 4096 / sizeof(uint64_t)) /* 64 pages */
#define V_INCS 10                              /* locked increments per rank and round */
#define V_LOCK 7

struct vstate {
	uint64_t counter;
	int64_t stop;   /* rank 0: 1 DIR/stop appeared, 2 gave up waiting */
};

static uint64_t pattern(uint64_t i, long round) { return (i + 1) * 0x9e3779b97f4a7c15ULL ^ (uint64_t)round; }

/* DIR/NAME holds the text, put there in one rename. */
static void put_file(const char *dir, const char *name, long v)
{
	char path[4096], tmp[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (!(f = fopen(tmp, "w")) || fprintf(f, "%ld\n", v) < 0 || fclose(f) || rename(tmp, path)) {
		fprintf(stderr, "hostile victim: cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static int victim(int argc, char **argv, const char *dir, int seconds)
{
	char stop_path[4096], name[32];
	struct vstate *s;
	uint64_t *a, per;
	int64_t t0, last = 0;
	long round;
	int me, nr;

	init_or_exit(&argc, &argv);
	me = dsm_rank();
	nr = dsm_size();
	s = dsm_alloc_named("hostile.state", sizeof(*s));
	a = dsm_alloc_named("hostile.array", V_WORDS * sizeof(uint64_t));
	CHECK(s && a, "dsm_alloc_named: %s", strerror(errno));
	snprintf(name, sizeof(name), "pid.%d", me);
	put_file(dir, name, (long)getpid());
	snprintf(stop_path, sizeof(stop_path), "%s/stop", dir);
	per = (V_WORDS + (uint64_t)nr - 1) / (uint64_t)nr;
	CALL(dsm_barrier());
	t0 = now_ns();
	for (round = 0;; round++) {
		int who = (int)((me + round) % nr);

		for (int i = 0; i < V_INCS; i++) {
			CALL(dsm_lock(V_LOCK));
			s->counter++;
			CALL(dsm_unlock(V_LOCK));
		}
		for (uint64_t i = (uint64_t)who * per; i < V_WORDS && i < (uint64_t)(who + 1) * per; i++)
			a[i] = pattern(i, round);
		CALL(dsm_barrier());
		for (uint64_t i = 0; i < V_WORDS; i++)
			CHECK(a[i] == pattern(i, round), "round %ld: a[%lu] = %#lx, expected %#lx", round,
			      (unsigned long)i, (unsigned long)a[i], (unsigned long)pattern(i, round));
		CALL(dsm_barrier());
		if (me == 0) {
			if (access(stop_path, F_OK) == 0)
				s->stop = 1;
			else if (now_ns() - t0 > (int64_t)seconds * 1000000000)
				s->stop = 2;
			if (s->stop || now_ns() - last > 100000000) {
				put_file(dir, "progress", round + 1);
				last = now_ns();
			}
		}
		CALL(dsm_barrier());
		if (s->stop)
			break;
	}
	CHECK(s->stop == 1, "no %s within %d s", stop_path, seconds);
	CHECK(s->counter == (uint64_t)(round + 1) * V_INCS * (uint64_t)nr,
	      "the counter is %llu after %ld rounds of %d ranks, expected %llu", (unsigned long long)s->counter,
	      round + 1, nr, (unsigned long long)(round + 1) * V_INCS * (unsigned long long)nr);
	printf("hostile victim: rank %d: %ld rounds, counter %llu: ok\n", me, round + 1,
	       (unsigned long long)s->counter);
	fflush(stdout);
	return finish(me, 0);
}

/* ---- what a process listens on ----------------------------------------------- */

/* Print "ADDRESS PORT" for each listening TCP socket of process `pid`: its
 * descriptors' socket inodes looked up in /proc/net/tcp and tcp6. */
static int listening(const char *pid)
{
	static const char *tables[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	char path[256], link[64], line[512];
	unsigned long inodes[1024];
	size_t n = 0;
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	if (!(dir = opendir(path))) {
		fprintf(stderr, "hostile: %s: %s\n", path, strerror(errno));
		return 2;
	}
	while ((d = readdir(dir)) && n < sizeof(inodes) / sizeof(inodes[0])) {
		char fdpath[600];
		ssize_t len;
		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, d->d_name);
		len = readlink(fdpath, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		if (sscanf(link, "socket:[%lu]", &inodes[n]) == 1)
			n++;
	}
	closedir(dir);
	for (int t = 0; t < 2; t++) {
		FILE *f = fopen(tables[t], "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			char local[64], addr[INET6_ADDRSTRLEN];
			unsigned st, lport;
			unsigned long inode;
			/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
			if (sscanf(line, " %*s %63[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*u %*u %lu", local, &lport, &st,
				   &inode) != 4 || st != 0x0A)
				continue;
			for (size_t i = 0; i < n; i++) {
				if (inodes[i] != inode)
					continue;
				/* the kernel prints each 32-bit word of the address in host order */
				if (t == 0) {
					struct in_addr a = { .s_addr = (uint32_t)strtoul(local, NULL, 16) };
					inet_ntop(AF_INET, &a, addr, sizeof(addr));
				} else {
					struct in6_addr a;
					for (int w = 0; w < 4; w++) {
						char word[9];
						memcpy(word, local + 8 * w, 8);
						word[8] = '\0';
						a.s6_addr32[w] = (uint32_t)strtoul(word, NULL, 16);
					}
					inet_ntop(AF_INET6, &a, addr, sizeof(addr));
				}
				printf("%s %u\n", addr, lport);
			}
		}
		fclose(f);
	}
	return 0;
}

/* ---- main ------------------------------------------------------------------ */

static void usage(void)
{
	fprintf(stderr, "usage: hostile [-j JOBID] [-s SECRETFILE] [-i ID] [-t SECONDS] HOST PORT MODE\n"
			"       hostile victim DIR [SECONDS]\n"
			"       hostile listening PID\n"
			"modes:");
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		fprintf(stderr, " %s", modes[i].name);
	fprintf(stderr, "\n");
	exit(2);
}

/* The secret as runtime.c derives it from DSM_SECRET_FILE. */
static void read_secret_file(const char *path)
{
	uint8_t buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));

	if (n < 16) {
		fprintf(stderr, "hostile: %s: %s\n", path, n < 0 ? strerror(errno) : "fewer than 16 bytes");
		exit(2);
	}
	close(fd);
	crypto_generichash(secret, sizeof(secret), buf, (size_t)n, NULL, 0);
	have_secret = 1;
}

int main(int argc, char **argv)
{
	char *end;
	long p;
	int c;

	if (argc == 3 && !strcmp(argv[1], "listening"))
		return listening(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "victim"))
		return victim(argc, argv, argv[2], argc > 3 ? atoi(argv[3]) : 60);
	if (sodium_init() < 0) {
		fprintf(stderr, "hostile: libsodium failed to start\n");
		return 2;
	}
	while ((c = getopt(argc, argv, "j:s:i:t:")) != -1) {
		switch (c) {
		case 'j':
			errno = 0;
			job_id = strtoull(optarg, &end, 16);
			if (errno || *end || end == optarg)
				usage();
			have_job = 1;
			break;
		case 's':
			read_secret_file(optarg);
			break;
		case 'i':
			claim_id = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 't':
			siege_secs = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 3)
		usage();
	if (have_secret && !have_job) {
		fprintf(stderr, "hostile: -s needs -j\n");
		return 2;
	}
	host = argv[optind];
	p = strtol(argv[optind + 1], &end, 10);
	if (*end || p < 1 || p > 65535)
		usage();
	port = (int)p;
	mode = argv[optind + 2];
	if (!have_job && !strcmp(mode, "replay")) {
		fprintf(stderr, "hostile: replay needs -j: without the job id no handshake gets far enough to record\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (!strcmp(mode, modes[i].name)) {
			int bad = modes[i].fn();
			if (atomic_load(&unreached)) {
				say("%d connections, %d could not be made", atomic_load(&attempts),
				    atomic_load(&unreached));
				return 2;
			}
			say("%d connections: %s", atomic_load(&attempts),
			    bad ? "NOT ALL ANSWERED AS THEY SHOULD BE (FAIL above)" : "all answered as they should be");
			return bad ? 1 : 0;
		}
	}
	usage();
	return 2;
}
