/*
 * Description: the launcher's control codec: preamble, SETUP round trip and
 * every truncation and corruption of it, signal mapping, shell quoting.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "wire.h"

#define UNIT_STDOUT
#include "unit.h"

static void test_preamble(void)
{
	struct job_auth a, b;
	char line[CTL_PREAMBLE_MAX];
	int n;

	for (int i = 0; i < DSM_SECRET_LEN; i++)
		a.secret[i] = (uint8_t)(i * 37 + 1);
	a.job_id = 0x0123456789abcdefULL;
	n = ctl_preamble_format(line, sizeof(line), &a);
	CHECK(n > 0 && line[n - 1] == '\n' && !strncmp(line, "DSMWRAP 1 0123456789abcdef ", 27), "format: '%s'",
	      line);
	memset(&b, 0, sizeof(b));
	CHECK(ctl_preamble_parse(line, (size_t)n, &b) == 0 && !memcmp(&a.secret, &b.secret, DSM_SECRET_LEN) &&
		      a.job_id == b.job_id,
	      "round trip");
	CHECK(ctl_preamble_parse(line, (size_t)n - 1, &b) == 0, "without the newline");
	CHECK(ctl_preamble_parse(line, (size_t)n - 2, &b) == -EINVAL, "one hex digit short");
	line[12] = 'G';
	CHECK(ctl_preamble_parse(line, (size_t)n, &b) == -EINVAL, "bad hex digit");
	line[12] = 'A';
	CHECK(ctl_preamble_parse(line, (size_t)n, &b) == -EINVAL, "upper-case hex is not ours");
	CHECK(ctl_preamble_parse("DSMWRAP 2 ", 10, &b) == -EINVAL, "other version");
	CHECK(ctl_preamble_format(line, 20, &a) == -ENOSPC, "small buffer");
}

static char *argv_[] = { "prog", "arg one", "", NULL };
static char *env_[] = { "DSM_LOG=debug", "DSM_X=a=b", NULL };

static struct ctl_setup sample(void)
{
	return (struct ctl_setup){
		.rank = 2, .size = 4, .local_rank = 1, .local_size = 2, .rdv_port = 4242,
		.grace_ms = 3000, .wait_ms = 60000, .host = "node-1", .cwd = "/home/u/run",
		.program = "/home/u/run/prog", .argc = 3, .argv = argv_, .envc = 2, .env = env_,
	};
}

static void test_setup_roundtrip(void)
{
	struct ctl_setup s = sample(), d;
	uint8_t *buf;
	size_t len;
	char why[256];

	CHECK(ctl_setup_encode(&s, &buf, &len) == 0, "encode");
	CHECK(ctl_setup_decode(buf, len, &d, why, sizeof(why)) == 0, "decode: %s", why);
	CHECK(d.rank == 2 && d.size == 4 && d.local_rank == 1 && d.local_size == 2 && d.rdv_port == 4242 &&
		      d.grace_ms == 3000 && d.wait_ms == 60000,
	      "integers");
	CHECK(!strcmp(d.host, "node-1") && !strcmp(d.cwd, "/home/u/run") && !strcmp(d.program, "/home/u/run/prog"),
	      "strings");
	CHECK(d.argc == 3 && !strcmp(d.argv[1], "arg one") && !strcmp(d.argv[2], "") && d.argv[3] == NULL, "argv");
	CHECK(d.envc == 2 && !strcmp(d.env[1], "DSM_X=a=b") && d.env[2] == NULL, "env");
	ctl_setup_free(&d);

	/* every truncation fails cleanly */
	for (size_t cut = 0; cut < len; cut++) {
		int rc = ctl_setup_decode(buf, cut, &d, why, sizeof(why));
		CHECK(rc == -EBADMSG, "truncated to %zu bytes: rc %d", cut, rc);
	}
	/* trailing garbage */
	{
		uint8_t *big = malloc(len + 1);
		memcpy(big, buf, len);
		big[len] = 0;
		CHECK(ctl_setup_decode(big, len + 1, &d, why, sizeof(why)) == -EBADMSG && strstr(why, "left over"),
		      "trailing byte: %s", why);
		free(big);
	}
	/* a forged huge count does not allocate: argc is at offset 28 + 3 strings */
	{
		size_t off = 28 + 4 + strlen(s.host) + 4 + strlen(s.cwd) + 4 + strlen(s.program);
		uint8_t *c = malloc(len);
		memcpy(c, buf, len);
		put_le32(c + off, 0xffffffffu);
		CHECK(ctl_setup_decode(c, len, &d, why, sizeof(why)) == -EBADMSG && strstr(why, "exceeds"),
		      "forged argc: %s", why);
		free(c);
	}
	free(buf);
}

/* Encode a variant of the sample and expect the decoder to refuse it. */
static void expect_refused(struct ctl_setup s, const char *what)
{
	struct ctl_setup d;
	uint8_t *buf;
	size_t len;
	char why[256] = "";

	if (ctl_setup_encode(&s, &buf, &len)) {
		CHECK(0, "%s: encode failed", what);
		return;
	}
	CHECK(ctl_setup_decode(buf, len, &d, why, sizeof(why)) == -EBADMSG, "%s is accepted", what);
	CHECK(strstr(why, what) != NULL, "%s: message '%s'", what, why);
	free(buf);
}

static void test_setup_invalid(void)
{
	struct ctl_setup s;
	char *badenv[] = { "PATH=/bin", NULL }, *noeq[] = { "DSM_X", NULL }, *noname[] = { "DSM_=1", NULL };

	s = sample(), s.rank = 4, expect_refused(s, "out of range");
	s = sample(), s.size = 0, s.rank = 0, expect_refused(s, "out of range");
	s = sample(), s.local_rank = 2, expect_refused(s, "local rank");
	s = sample(), s.local_size = 5, s.local_rank = 0, expect_refused(s, "local rank");
	s = sample(), s.rdv_port = 0, expect_refused(s, "rendezvous port");
	s = sample(), s.rdv_port = 65536, expect_refused(s, "rendezvous port");
	s = sample(), s.host = "", expect_refused(s, "empty host");
	s = sample(), s.cwd = "relative", expect_refused(s, "not absolute");
	s = sample(), s.program = "", expect_refused(s, "empty program");
	s = sample(), s.argc = 0, expect_refused(s, "argv is empty");
	s = sample(), s.env = badenv, s.envc = 1, expect_refused(s, "DSM_NAME=value");
	s = sample(), s.env = noeq, s.envc = 1, expect_refused(s, "DSM_NAME=value");
	s = sample(), s.env = noname, s.envc = 1, expect_refused(s, "DSM_NAME=value");

	/* a NUL inside a string */
	{
		struct ctl_setup d;
		uint8_t *buf;
		size_t len;
		char why[256];
		s = sample();
		ctl_setup_encode(&s, &buf, &len);
		buf[28 + 4 + 1] = '\0'; /* inside "node-1" */
		CHECK(ctl_setup_decode(buf, len, &d, why, sizeof(why)) == -EBADMSG && strstr(why, "NUL"),
		      "NUL inside: %s", why);
		free(buf);
	}
	/* more than a message can carry */
	{
		char *huge = malloc(WIRE_MAX_PAYLOAD + 1);
		uint8_t *buf;
		size_t len;
		memset(huge, 'x', WIRE_MAX_PAYLOAD);
		huge[WIRE_MAX_PAYLOAD] = '\0';
		s = sample(), s.program = huge;
		CHECK(ctl_setup_encode(&s, &buf, &len) == -E2BIG, "oversized SETUP is refused");
		free(huge);
	}
}

static void test_signals(void)
{
	int sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGKILL, SIGUSR1, SIGUSR2, SIGTERM };

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		int w = ctl_sig_to_wire(sigs[i]);
		CHECK(w > 0 && ctl_sig_from_wire((uint64_t)w) == sigs[i], "signal %d round trip", sigs[i]);
	}
	CHECK(ctl_sig_to_wire(SIGINT) == 2 && ctl_sig_to_wire(SIGTERM) == 15 && ctl_sig_to_wire(SIGKILL) == 9,
	      "traditional numbers");
	CHECK(ctl_sig_to_wire(SIGSEGV) == -1 && ctl_sig_from_wire(11) == -1 && ctl_sig_from_wire(1ULL << 40) == -1,
	      "unmapped signals");
}

static void test_quote(void)
{
	char out[64];

	CHECK(ctl_shell_quote("/usr/bin/dsmwrap", out, sizeof(out)) > 0 && !strcmp(out, "'/usr/bin/dsmwrap'"),
	      "plain: %s", out);
	CHECK(ctl_shell_quote("/a b/it's $x", out, sizeof(out)) > 0 && !strcmp(out, "'/a b/it'\\''s $x'"),
	      "quote inside: %s", out);
	CHECK(ctl_shell_quote("", out, sizeof(out)) == 2 && !strcmp(out, "''"), "empty: %s", out);
	CHECK(ctl_shell_quote("abcdef", out, 5) == -ENOSPC, "small buffer");
}

int main(void)
{
	test_preamble();
	test_setup_roundtrip();
	test_setup_invalid();
	test_signals();
	test_quote();
	return unit_result("", "all control codec checks passed");
}
