/*
 * ctl.c - encoding of the launcher's control messages; see ctl.h.
 * Decoding is a pure function over a byte buffer that checks every length
 * before it reads, so it can be unit tested and fuzzed.  Also the table of
 * control connections still authenticating (ctl_pending_*), which dsmexec's
 * event loop drives.
 *
 * Locking: none; dsmexec is single-threaded.
 */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "wire.h"

static const char hexdig[] = "0123456789abcdef";

int ctl_preamble_format(char *buf, size_t cap, const struct job_auth *a)
{
	char sec[2 * DSM_SECRET_LEN + 1];
	int n;

	for (int i = 0; i < DSM_SECRET_LEN; i++) {
		sec[2 * i] = hexdig[a->secret[i] >> 4];
		sec[2 * i + 1] = hexdig[a->secret[i] & 15];
	}
	sec[2 * DSM_SECRET_LEN] = '\0';
	n = snprintf(buf, cap, "DSMWRAP 1 %016llx %s\n", (unsigned long long)a->job_id, sec);
	return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int ctl_preamble_parse(const char *line, size_t len, struct job_auth *a)
{
	static const char head[] = "DSMWRAP 1 ";
	const size_t hl = sizeof(head) - 1, want = hl + 16 + 1 + 2 * DSM_SECRET_LEN;
	const char *p;
	uint64_t id = 0;

	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len != want || memcmp(line, head, hl) || line[hl + 16] != ' ')
		return -EINVAL;
	p = line + hl;
	for (int i = 0; i < 16; i++) {
		int v = hexval(p[i]);
		if (v < 0)
			return -EINVAL;
		id = id << 4 | (uint64_t)v;
	}
	p += 17;
	for (int i = 0; i < DSM_SECRET_LEN; i++) {
		int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		a->secret[i] = (uint8_t)(hi << 4 | lo);
	}
	a->job_id = id;
	return 0;
}

/* --- SETUP --- */

struct enc {
	uint8_t *buf;
	size_t len, cap;
	int err;
};

static void put_bytes(struct enc *e, const void *p, size_t n)
{
	if (e->err)
		return;
	if (e->len + n > WIRE_MAX_PAYLOAD) {
		e->err = -E2BIG;
		return;
	}
	if (e->len + n > e->cap) {
		size_t ncap = e->cap ? e->cap : 256;
		uint8_t *nb;
		while (ncap < e->len + n)
			ncap *= 2;
		nb = realloc(e->buf, ncap);
		if (!nb) {
			e->err = -ENOMEM;
			return;
		}
		e->buf = nb;
		e->cap = ncap;
	}
	memcpy(e->buf + e->len, p, n);
	e->len += n;
}

static void put_u32(struct enc *e, uint32_t v)
{
	uint8_t b[4];

	put_le32(b, v);
	put_bytes(e, b, 4);
}

static void put_str(struct enc *e, const char *s)
{
	size_t n = strlen(s);

	if (n > WIRE_MAX_PAYLOAD) {
		e->err = -E2BIG;
		return;
	}
	put_u32(e, (uint32_t)n);
	put_bytes(e, s, n);
}

int ctl_setup_encode(const struct ctl_setup *s, uint8_t **out, size_t *outlen)
{
	struct enc e = { 0 };

	put_u32(&e, s->rank);
	put_u32(&e, s->size);
	put_u32(&e, s->local_rank);
	put_u32(&e, s->local_size);
	put_u32(&e, s->rdv_port);
	put_u32(&e, s->grace_ms);
	put_u32(&e, s->wait_ms);
	put_str(&e, s->host);
	put_str(&e, s->cwd);
	put_str(&e, s->program);
	put_u32(&e, s->argc);
	for (uint32_t i = 0; i < s->argc; i++)
		put_str(&e, s->argv[i]);
	put_u32(&e, s->envc);
	for (uint32_t i = 0; i < s->envc; i++)
		put_str(&e, s->env[i]);
	if (e.err) {
		free(e.buf);
		return e.err;
	}
	*out = e.buf;
	*outlen = e.len;
	return 0;
}

struct dec {
	const uint8_t *p, *end;
	char *why;
	size_t whylen;
	int err;
};

static void dec_fail(struct dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void dec_fail(struct dec *d, const char *fmt, ...)
{
	va_list ap;

	if (d->err)
		return;
	d->err = -EBADMSG;
	va_start(ap, fmt);
	vsnprintf(d->why, d->whylen, fmt, ap);
	va_end(ap);
}

static uint32_t get_u32(struct dec *d, const char *what)
{
	uint32_t v;

	if (d->err)
		return 0;
	if (d->end - d->p < 4) {
		dec_fail(d, "SETUP truncated in %s", what);
		return 0;
	}
	v = get_le32(d->p);
	d->p += 4;
	return v;
}

static char *get_str(struct dec *d, const char *what)
{
	uint32_t n = get_u32(d, what);
	char *s;

	if (d->err)
		return NULL;
	if ((size_t)(d->end - d->p) < n) {
		dec_fail(d, "SETUP truncated in %s", what);
		return NULL;
	}
	if (memchr(d->p, '\0', n)) {
		dec_fail(d, "SETUP: NUL byte inside %s", what);
		return NULL;
	}
	s = malloc((size_t)n + 1);
	if (!s) {
		d->err = -ENOMEM;
		snprintf(d->why, d->whylen, "out of memory");
		return NULL;
	}
	memcpy(s, d->p, n);
	s[n] = '\0';
	d->p += n;
	return s;
}

/* A list of `n` strings; n is checked against the bytes left first, so a
 * forged count cannot make us allocate more than the message holds. */
static char **get_list(struct dec *d, uint32_t n, const char *what)
{
	char **v;

	if (d->err)
		return NULL;
	if (n > (size_t)(d->end - d->p) / 4) {
		dec_fail(d, "SETUP: %s count %u exceeds the message", what, n);
		return NULL;
	}
	v = calloc((size_t)n + 1, sizeof(*v));
	if (!v) {
		d->err = -ENOMEM;
		snprintf(d->why, d->whylen, "out of memory");
		return NULL;
	}
	for (uint32_t i = 0; i < n && !d->err; i++)
		v[i] = get_str(d, what);
	return v;
}

int ctl_setup_decode(const uint8_t *buf, size_t len, struct ctl_setup *s, char *why, size_t whylen)
{
	struct dec d = { .p = buf, .end = buf + len, .why = why, .whylen = whylen };

	*s = (struct ctl_setup){ 0 };
	s->rank = get_u32(&d, "rank");
	s->size = get_u32(&d, "size");
	s->local_rank = get_u32(&d, "local rank");
	s->local_size = get_u32(&d, "local size");
	s->rdv_port = get_u32(&d, "rendezvous port");
	s->grace_ms = get_u32(&d, "grace period");
	s->wait_ms = get_u32(&d, "wait time");
	s->host = get_str(&d, "host");
	s->cwd = get_str(&d, "working directory");
	s->program = get_str(&d, "program");
	s->argc = get_u32(&d, "argc");
	s->argv = get_list(&d, s->argc, "argv");
	s->envc = get_u32(&d, "envc");
	s->env = get_list(&d, s->envc, "environment");
	if (d.err)
		goto err_free;
	if (d.p != d.end)
		dec_fail(&d, "SETUP: %zu bytes left over", (size_t)(d.end - d.p));
	else if (s->size < 1 || s->rank >= s->size)
		dec_fail(&d, "SETUP: rank %u out of range for size %u", s->rank, s->size);
	else if (s->local_size < 1 || s->local_rank >= s->local_size || s->local_size > s->size)
		dec_fail(&d, "SETUP: local rank %u of %u out of range", s->local_rank, s->local_size);
	else if (s->rdv_port < 1 || s->rdv_port > 65535)
		dec_fail(&d, "SETUP: rendezvous port %u out of range", s->rdv_port);
	else if (!s->host[0])
		dec_fail(&d, "SETUP: empty host");
	else if (s->cwd[0] != '/')
		dec_fail(&d, "SETUP: working directory '%s' is not absolute", s->cwd);
	else if (!s->program[0])
		dec_fail(&d, "SETUP: empty program");
	else if (s->argc < 1)
		dec_fail(&d, "SETUP: argv is empty");
	for (uint32_t i = 0; i < s->envc && !d.err; i++) {
		const char *eq = strchr(s->env[i], '=');
		if (strncmp(s->env[i], "DSM_", 4) || !eq || eq == s->env[i] + 4)
			dec_fail(&d, "SETUP: environment entry %u is not DSM_NAME=value", i);
	}
	if (d.err)
		goto err_free;
	return 0;

err_free:
	ctl_setup_free(s);
	return d.err;
}

void ctl_setup_free(struct ctl_setup *s)
{
	free(s->host);
	free(s->cwd);
	free(s->program);
	for (uint32_t i = 0; s->argv && i < s->argc; i++)
		free(s->argv[i]);
	free(s->argv);
	for (uint32_t i = 0; s->env && i < s->envc; i++)
		free(s->env[i]);
	free(s->env);
	*s = (struct ctl_setup){ 0 };
}

/* --- signals --- */

static const struct {
	int sig;
	int wire;
} sigmap[] = {
	{ SIGHUP, 1 }, { SIGINT, 2 }, { SIGQUIT, 3 }, { SIGKILL, 9 },
	{ SIGUSR1, 10 }, { SIGUSR2, 12 }, { SIGTERM, 15 },
};

int ctl_sig_to_wire(int sig)
{
	for (size_t i = 0; i < sizeof(sigmap) / sizeof(sigmap[0]); i++)
		if (sigmap[i].sig == sig)
			return sigmap[i].wire;
	return -1;
}

int ctl_sig_from_wire(uint64_t w)
{
	for (size_t i = 0; i < sizeof(sigmap) / sizeof(sigmap[0]); i++)
		if ((uint64_t)sigmap[i].wire == w)
			return sigmap[i].sig;
	return -1;
}

int ctl_shell_quote(const char *s, char *out, size_t cap)
{
	size_t o = 0;

#define PUT(c) do { if (o + 1 >= cap) return -ENOSPC; out[o++] = (c); } while (0)
	PUT('\'');
	for (; *s; s++) {
		if (*s == '\'') {
			PUT('\'');
			PUT('\\');
			PUT('\'');
		}
		PUT(*s);
	}
	PUT('\'');
#undef PUT
	out[o] = '\0';
	return (int)o;
}

/* --- connections still authenticating --- */

static struct pending {
	int fd;              /* -1: free */
	int64_t since;
	struct net_auth_srv hs;
} pend[CTL_PENDING_MAX];
static int pend_init;

static void pend_setup(void)
{
	if (pend_init)
		return;
	for (int i = 0; i < CTL_PENDING_MAX; i++)
		pend[i].fd = -1;
	pend_init = 1;
}

/* Silent strangers are dropped without a word each (a thousand of them would
 * bury the job's output); DSM_LOG=debug names them. */
static void pend_drop(struct pending *p, const char *why)
{
	log_debug("dropped a control connection: %s", why);
	close(p->fd);
	p->fd = -1;
}

void ctl_pending_add(int fd, int64_t now)
{
	struct pending *slot = NULL, *silent = NULL, *oldest = NULL;

	pend_setup();
	for (int i = 0; i < CTL_PENDING_MAX && !slot; i++) {
		struct pending *p = &pend[i];
		if (p->fd < 0)
			slot = p;
		else if (p->hs.state == 0 && p->hs.have == 0 && (!silent || p->since < silent->since))
			silent = p;
		else if (!oldest || p->since < oldest->since)
			oldest = p;
	}
	if (!slot) {
		slot = silent ? silent : oldest;
		pend_drop(slot, silent ? "pushed out by a newer one while it had sent nothing" :
					 "pushed out by a newer one before it finished its handshake");
	}
	slot->fd = fd;
	slot->since = now;
	net_auth_srv_init(&slot->hs);
}

int ctl_pending_pollfds(struct pollfd *p, int max)
{
	int n = 0;

	pend_setup();
	for (int i = 0; i < CTL_PENDING_MAX && n < max; i++)
		if (pend[i].fd >= 0)
			p[n++] = (struct pollfd){ .fd = pend[i].fd, .events = POLLIN };
	return n;
}

void ctl_pending_poll(const struct pollfd *p, int n, const struct job_auth *a, void (*done)(int fd, uint32_t id))
{
	for (int k = 0; k < n; k++) {
		if (!p[k].revents)
			continue;
		for (int i = 0; i < CTL_PENDING_MAX; i++) {
			struct pending *q = &pend[i];
			char why[256];
			uint32_t id;
			int rc, fd;

			if (q->fd != p[k].fd)
				continue;
			rc = net_auth_step(&q->hs, q->fd, a, WIRE_SRC_LAUNCHER, &id, why, sizeof(why));
			if (rc < 0) {
				if (rc == -ECONNRESET)
					log_debug("a control connection closed before its handshake: %s", why);
				else
					log_warn("refused a control connection: %s", why);
				close(q->fd);
				q->fd = -1;
			} else if (rc == 1) {
				fd = q->fd;
				q->fd = -1;
				fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
				done(fd, id);
			}
			break;
		}
	}
}

int64_t ctl_pending_expire(int64_t now)
{
	int64_t next = INT64_MAX;

	pend_setup();
	for (int i = 0; i < CTL_PENDING_MAX; i++) {
		struct pending *p = &pend[i];
		if (p->fd < 0)
			continue;
		if (now - p->since >= CTL_PENDING_NS)
			pend_drop(p, "no handshake within 5 s");
		else if (p->since + CTL_PENDING_NS < next)
			next = p->since + CTL_PENDING_NS;
	}
	return next;
}

void ctl_pending_close_all(void)
{
	pend_setup();
	for (int i = 0; i < CTL_PENDING_MAX; i++)
		if (pend[i].fd >= 0) {
			close(pend[i].fd);
			pend[i].fd = -1;
		}
}
