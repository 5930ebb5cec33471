/*
 * machinefile.c - machinefile parser and rank placement; see machinefile.h.
 * Pure functions over a buffer (except mf_load, and mf_is_this_host, which
 * asks the system for its names), so every malformed form can be unit tested.
 */
#include "machinefile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <strings.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_' || c == ':' || c == '%';
}

/* Quote a token for a message: printable bytes as they are, others as \xNN. */
static const char *shown(const char *s, size_t n, char *buf, size_t cap)
{
	size_t o = 0, i;

	for (i = 0; i < n && o + 8 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f)
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
	}
	if (i < n) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

static int check_host(const char *h, size_t n, char *why, size_t whylen)
{
	const char *at = memchr(h, '@', n);
	char tok[80], bad[16];

	if (n > MF_HOST_MAX) {
		seterr(why, whylen, "host name '%s' is too long (at most %d bytes)", shown(h, n, tok, sizeof(tok)),
		       MF_HOST_MAX);
		return -1;
	}
	if (h[0] == '-') {
		seterr(why, whylen, "host name '%s' must not start with '-'", shown(h, n, tok, sizeof(tok)));
		return -1;
	}
	if (at && (at == h || at == h + n - 1 || memchr(at + 1, '@', (size_t)(h + n - at - 1)))) {
		seterr(why, whylen, "'%s' is not host or user@host", shown(h, n, tok, sizeof(tok)));
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (h + i == at || host_char(h[i]))
			continue;
		seterr(why, whylen, "invalid character '%s' in host name '%s'", shown(h + i, 1, bad, sizeof(bad)),
		       shown(h, n, tok, sizeof(tok)));
		return -1;
	}
	if (at && at[1] == '-') {
		seterr(why, whylen, "host name '%s' must not start with '-'", shown(at + 1, (size_t)(h + n - at - 1), tok,
										     sizeof(tok)));
		return -1;
	}
	return 0;
}

/* "slots=K" -> K; -1 with a reason. */
static int parse_slots(const char *v, size_t n, char *why, size_t whylen)
{
	long k = 0;
	char tok[80];

	if (n == 0) {
		seterr(why, whylen, "slots= needs a number");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9') {
			seterr(why, whylen, "slots=%s: not a number", shown(v, n, tok, sizeof(tok)));
			return -1;
		}
		if (k <= MF_SLOTS_MAX)
			k = k * 10 + (v[i] - '0');
	}
	if (k < 1 || k > MF_SLOTS_MAX) {
		seterr(why, whylen, "slots=%s: must be between 1 and %d", shown(v, n, tok, sizeof(tok)), MF_SLOTS_MAX);
		return -1;
	}
	return (int)k;
}

/* Parse one line (without its newline) into *h.  Returns 1 for a host line,
 * 0 for a blank or comment line, -1 with a reason. */
static int parse_line(const char *p, size_t len, struct mf_host *h, char *why, size_t whylen)
{
	const char *end = p + len, *hash = memchr(p, '#', len);
	const char *tok[8];
	size_t toklen[8];
	int ntok = 0;
	char shownbuf[80];

	if (memchr(p, '\0', len)) {
		seterr(why, whylen, "NUL byte in line (is this a text file?)");
		return -1;
	}
	if (hash)
		end = hash;
	while (p < end) {
		const char *s;
		while (p < end && is_blank(*p))
			p++;
		if (p == end)
			break;
		s = p;
		while (p < end && !is_blank(*p))
			p++;
		if (ntok == 8) {
			seterr(why, whylen, "too many words (expected: host [slots=K])");
			return -1;
		}
		tok[ntok] = s;
		toklen[ntok++] = (size_t)(p - s);
	}
	if (ntok == 0)
		return 0;
	if (memchr(tok[0], '=', toklen[0])) {
		seterr(why, whylen, "expected a host name first, got '%s'",
		       shown(tok[0], toklen[0], shownbuf, sizeof(shownbuf)));
		return -1;
	}
	h->slots = 0;
	/* "host:N", the MPI habit, is "host slots=N".  Only for a host with no
	 * other ':' in it: "::1" and "fe80::2" are addresses. */
	{
		const char *colon = memchr(tok[0], ':', toklen[0]);
		size_t hn = colon ? (size_t)(colon - tok[0]) : 0, digits = colon ? toklen[0] - hn - 1 : 0;

		if (colon && hn > 0 && digits > 0 && !memchr(colon + 1, ':', digits)) {
			int all = 1;

			for (size_t i = 0; i < digits; i++)
				all &= colon[1 + i] >= '0' && colon[1 + i] <= '9';
			if (all) {
				h->slots = parse_slots(colon + 1, digits, why, whylen);
				if (h->slots < 0)
					return -1;
				toklen[0] = hn;
			}
		}
	}
	if (check_host(tok[0], toklen[0], why, whylen))
		return -1;
	memcpy(h->name, tok[0], toklen[0]);
	h->name[toklen[0]] = '\0';
	for (int i = 1; i < ntok; i++) {
		const char *eq = memchr(tok[i], '=', toklen[i]);
		size_t klen = eq ? (size_t)(eq - tok[i]) : 0;

		if (!eq) {
			seterr(why, whylen, "unexpected '%s' after the host name (expected slots=K)",
			       shown(tok[i], toklen[i], shownbuf, sizeof(shownbuf)));
			return -1;
		}
		if (klen != 5 || memcmp(tok[i], "slots", 5)) {
			seterr(why, whylen, "unknown option '%s' (the only option is slots=K)",
			       shown(tok[i], toklen[i], shownbuf, sizeof(shownbuf)));
			return -1;
		}
		if (h->slots) {
			seterr(why, whylen, "slots given twice (host:N is host slots=N)");
			return -1;
		}
		h->slots = parse_slots(eq + 1, toklen[i] - klen - 1, why, whylen);
		if (h->slots < 0)
			return -1;
	}
	if (!h->slots)
		h->slots = 1;
	return 1;
}

int mf_parse(const char *text, size_t len, const char *fname, struct machinefile *mf,
	     char *err, size_t errlen)
{
	const char *p = text, *end = text + len;
	int line = 0, cap = 0;
	char why[512];

	*mf = (struct machinefile){ 0 };
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct mf_host h;
		int rc;

		line++;
		rc = parse_line(p, n, &h, why, sizeof(why));
		p += n + (nl ? 1 : 0);
		if (rc < 0) {
			seterr(err, errlen, "%s:%d: %s", fname, line, why);
			goto err_free;
		}
		if (rc == 0)
			continue;
		if (mf->nslots > MF_RANKS_MAX - h.slots) {
			seterr(err, errlen, "%s:%d: more than %d slots in all", fname, line, MF_RANKS_MAX);
			goto err_free;
		}
		if (mf->nhosts == cap) {
			int ncap = cap ? cap * 2 : 16;
			struct mf_host *nh = realloc(mf->hosts, (size_t)ncap * sizeof(*nh));
			if (!nh) {
				mf_free(mf);
				seterr(err, errlen, "%s: out of memory", fname);
				return -ENOMEM;
			}
			mf->hosts = nh;
			cap = ncap;
		}
		h.line = line;
		mf->hosts[mf->nhosts++] = h;
		mf->nslots += h.slots;
	}
	if (mf->nhosts == 0) {
		seterr(err, errlen, "%s: no hosts (the file is empty or has only comments)", fname);
		goto err_free;
	}
	return 0;

err_free:
	mf_free(mf);
	return -EINVAL;
}

int mf_load(const char *path, struct machinefile *mf, char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		seterr(err, errlen, "cannot read machinefile '%s': %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		seterr(err, errlen, "cannot read machinefile '%s': %s", path, strerror(-rc));
		goto err_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		seterr(err, errlen, "cannot read machinefile '%s': %s", path,
		       rc == -EISDIR ? "it is a directory" : "not a regular file");
		goto err_close;
	}
	if (st.st_size > 64 << 20) {
		rc = -EFBIG;
		seterr(err, errlen, "machinefile '%s' is larger than 64 MiB", path);
		goto err_close;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = -ENOMEM;
		seterr(err, errlen, "machinefile '%s': out of memory", path);
		goto err_close;
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			seterr(err, errlen, "cannot read machinefile '%s': %s", path, strerror(-rc));
			goto err_free;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > (size_t)st.st_size) {
			rc = -EAGAIN;
			seterr(err, errlen, "machinefile '%s' changed while it was read", path);
			goto err_free;
		}
	}
	rc = mf_parse(buf, got, path, mf, err, errlen);
err_free:
	free(buf);
err_close:
	close(fd);
	return rc;
}

int mf_single(const char *host, int slots, struct machinefile *mf)
{
	*mf = (struct machinefile){ 0 };
	if (slots < 1 || strlen(host) > MF_HOST_MAX)
		return -EINVAL;
	mf->hosts = calloc(1, sizeof(*mf->hosts));
	if (!mf->hosts)
		return -ENOMEM;
	strcpy(mf->hosts[0].name, host);
	mf->hosts[0].slots = slots;
	mf->nhosts = 1;
	mf->nslots = slots;
	return 0;
}

void mf_free(struct machinefile *mf)
{
	free(mf->hosts);
	*mf = (struct machinefile){ 0 };
}

int mf_is_local(const char *host)
{
	return !strcasecmp(host, "localhost") || !strcmp(host, "127.0.0.1");
}

/* An address of one of this machine's interfaces? */
static int own_address(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;
	struct ifaddrs *ifs, *i;
	int v6 = 0, found = 0;

	if (inet_pton(AF_INET, host, &a4) == 1) {
		if ((ntohl(a4.s_addr) >> 24) == 127)
			return 1;
	} else if (inet_pton(AF_INET6, host, &a6) == 1) {
		if (IN6_IS_ADDR_LOOPBACK(&a6))
			return 1;
		v6 = 1;
	} else {
		return 0;
	}
	if (getifaddrs(&ifs) < 0)
		return 0;
	for (i = ifs; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		if (!v6 && i->ifa_addr->sa_family == AF_INET)
			found = !memcmp(&((struct sockaddr_in *)i->ifa_addr)->sin_addr, &a4, sizeof(a4));
		else if (v6 && i->ifa_addr->sa_family == AF_INET6)
			found = !memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, &a6, sizeof(a6));
	}
	freeifaddrs(ifs);
	return found;
}

int mf_is_this_host(const char *host)
{
	char me[256];
	size_t hl, ml;

	if (strchr(host, '@')) /* a user named: ssh was asked for */
		return 0;
	if (mf_is_local(host) || own_address(host))
		return 1;
	if (gethostname(me, sizeof(me) - 1) < 0)
		return 0;
	me[sizeof(me) - 1] = '\0';
	if (!strcasecmp(host, me))
		return 1;
	/* "node1" and "node1.example.org": the same machine, when one of the
	 * two names is unqualified. */
	hl = strcspn(host, ".");
	ml = strcspn(me, ".");
	return hl == ml && (!host[hl] || !me[ml]) && !strncasecmp(host, me, hl);
}

int mf_starts_local(const struct machinefile *mf, const char *host)
{
	return mf_is_local(host) || (!mf->ssh_to_self && mf_is_this_host(host));
}

const char *mf_host_addr(const char *host)
{
	const char *at = strchr(host, '@');

	return at ? at + 1 : host;
}

/* Same machine for local_rank purposes: all local hosts are one. */
static int same_host(const struct machinefile *mf, const struct mf_host *a, const struct mf_host *b)
{
	int la = mf_starts_local(mf, a->name), lb = mf_starts_local(mf, b->name);

	if (la || lb)
		return la && lb;
	return !strcmp(mf_host_addr(a->name), mf_host_addr(b->name));
}

int mf_place(const struct machinefile *mf, int n, struct mf_rank *out)
{
	int *group, *count;
	int slot = 0, host = 0;

	if (n < 1 || mf->nhosts < 1 || mf->nslots < 1)
		return -EINVAL;
	group = malloc((size_t)mf->nhosts * sizeof(*group));
	count = calloc((size_t)mf->nhosts, sizeof(*count));
	if (!group || !count) {
		free(group);
		free(count);
		return -ENOMEM;
	}
	/* group[h]: the first host line naming the same machine.  Quadratic in
	 * the number of lines, which is fine for files people write by hand. */
	for (int h = 0; h < mf->nhosts; h++) {
		group[h] = h;
		for (int g = 0; g < h; g++) {
			if (same_host(mf, &mf->hosts[g], &mf->hosts[h])) {
				group[h] = g;
				break;
			}
		}
	}
	for (int r = 0; r < n; r++) {
		out[r].host = host;
		out[r].group = group[host];
		out[r].local_rank = count[group[host]]++;
		if (++slot == mf->hosts[host].slots) {
			slot = 0;
			host = (host + 1) % mf->nhosts;
		}
	}
	for (int r = 0; r < n; r++)
		out[r].local_size = count[group[out[r].host]];
	free(group);
	free(count);
	return 0;
}
