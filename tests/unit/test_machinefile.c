/*
 * Description: machinefile parser (every malformed form), file loading and
 * rank placement.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "machinefile.h"

#define UNIT_STDOUT
#include "unit.h"

/* Good files: text -> "host/slots host/slots ..." */
static const struct {
	const char *text;
	const char *want;
} good[] = {
	{ "a\n", "a/1" },
	{ "a", "a/1" },                                   /* no final newline */
	{ "a\nb\nc\n", "a/1 b/1 c/1" },
	{ "  a  \n\tb\t\n", "a/1 b/1" },                  /* blanks around */
	{ "a slots=4\n", "a/4" },
	{ "a\tslots=2   # two ranks\n", "a/2" },          /* comment after */
	{ "# hosts\n\n   \n#b\na\n", "a/1" },             /* comments, blank lines */
	{ "a#comment\n", "a/1" },
	{ "a\r\nb slots=3\r\n", "a/1 b/3" },              /* CRLF */
	{ "user@node-1.example.com slots=2\n", "user@node-1.example.com/2" },
	{ "10.0.0.1\n::1\nfe80::1%eth0\n", "10.0.0.1/1 ::1/1 fe80::1%eth0/1" },
	{ "node_7\n", "node_7/1" },
	{ "a slots=65536\n", "a/65536" },
	{ "a slots=007\n", "a/7" },
	{ "a\na\n", "a/1 a/1" },                          /* repeats are fine */
	{ "localhost:2\nuser@node1:4\n", "localhost/2 user@node1/4" }, /* host:N, the MPI habit */
	{ "::1\nfe80::1:2\n", "::1/1 fe80::1:2/1" },       /* addresses, not host:N */
};

/* Bad files: text -> the message expected ("f:LINE: ..."). */
static const struct {
	const char *text;
	size_t len;                                       /* 0: strlen */
	const char *want;
} bad[] = {
	{ "", 0, "f: no hosts" },
	{ "\n\n", 0, "f: no hosts" },
	{ "# only a comment\n  # and another\n", 0, "f: no hosts" },
	{ "a\nb\nslots=2\n", 0, "f:3: expected a host name first, got 'slots=2'" },
	{ "a slots=0\n", 0, "f:1: slots=0: must be between 1 and 65536" },
	{ "a slots=65537\n", 0, "f:1: slots=65537: must be between 1 and 65536" },
	{ "a slots=99999999999999999999999\n", 0, "f:1: slots=99999999999999999999999: must be between" },
	{ "a slots=\n", 0, "f:1: slots= needs a number" },
	{ "a slots=abc\n", 0, "f:1: slots=abc: not a number" },
	{ "a slots=-1\n", 0, "f:1: slots=-1: not a number" },
	{ "a slots=2x\n", 0, "f:1: slots=2x: not a number" },
	{ "a slots=1.5\n", 0, "f:1: slots=1.5: not a number" },
	{ "a slots=2 slots=3\n", 0, "f:1: slots given twice" },
	{ "a:2 slots=3\n", 0, "f:1: slots given twice (host:N is host slots=N)" },
	{ "a:0\n", 0, "f:1: slots=0: must be between 1 and 65536" },
	{ "a cpus=2\n", 0, "f:1: unknown option 'cpus=2'" },
	{ "a =2\n", 0, "f:1: unknown option '=2'" },
	{ "a b\n", 0, "f:1: unexpected 'b' after the host name" },
	{ "a 4\n", 0, "f:1: unexpected '4' after the host name" },
	{ "good\nho$t\n", 0, "f:2: invalid character '$' in host name 'ho$t'" },
	{ "a/b\n", 0, "f:1: invalid character '/' in host name 'a/b'" },
	{ "h\xc3\xa9\n", 0, "f:1: invalid character '\\xc3' in host name 'h\\xc3\\xa9'" },
	{ "-oProxyCommand=x\n", 0, "f:1: expected a host name first, got '-oProxyCommand=x'" },
	{ "-evil\n", 0, "f:1: host name '-evil' must not start with '-'" },
	{ "user@-evil\n", 0, "f:1: host name '-evil' must not start with '-'" },
	{ "@host\n", 0, "f:1: '@host' is not host or user@host" },
	{ "user@\n", 0, "f:1: 'user@' is not host or user@host" },
	{ "a@b@c\n", 0, "f:1: 'a@b@c' is not host or user@host" },
	{ "a\0b\n", 4, "f:1: NUL byte in line" },
	{ "a slots=1 x y z w v u t s\n", 0, "f:1: too many words" },
	{ "\n\n\n\nbad!\n", 0, "f:5: invalid character '!'" },
};

static void fmt_hosts(const struct machinefile *mf, char *out, size_t cap)
{
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; i < mf->nhosts; i++)
		o += (size_t)snprintf(out + o, cap - o, "%s%s/%d", i ? " " : "", mf->hosts[i].name, mf->hosts[i].slots);
}

static void test_good(void)
{
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct machinefile mf;
		char err[512] = "", got[1024];
		int rc = mf_parse(good[i].text, strlen(good[i].text), "f", &mf, err, sizeof(err));

		CHECK(rc == 0, "good[%zu]: rc %d, error '%s'", i, rc, err);
		if (rc)
			continue;
		fmt_hosts(&mf, got, sizeof(got));
		CHECK(!strcmp(got, good[i].want), "good[%zu]: got '%s', want '%s'", i, got, good[i].want);
		mf_free(&mf);
	}
}

static void test_bad(void)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct machinefile mf = { .nhosts = 42 };
		char err[512] = "";
		size_t len = bad[i].len ? bad[i].len : strlen(bad[i].text);
		int rc = mf_parse(bad[i].text, len, "f", &mf, err, sizeof(err));

		CHECK(rc == -EINVAL, "bad[%zu]: rc %d for '%s'", i, rc, bad[i].text);
		CHECK(!strncmp(err, bad[i].want, strlen(bad[i].want)), "bad[%zu]: message '%s', want '%s...'", i,
		      err, bad[i].want);
		CHECK(mf.hosts == NULL && mf.nhosts == 0, "bad[%zu]: result not cleared", i);
	}
}

static void test_long_host(void)
{
	char text[600], err[512];
	struct machinefile mf;
	int rc;

	memset(text, 'h', MF_HOST_MAX);
	strcpy(text + MF_HOST_MAX, "\n");
	rc = mf_parse(text, strlen(text), "f", &mf, err, sizeof(err));
	CHECK(rc == 0 && strlen(mf.hosts[0].name) == MF_HOST_MAX, "a %d-byte host name is accepted", MF_HOST_MAX);
	if (rc == 0)
		mf_free(&mf);
	memset(text, 'h', MF_HOST_MAX + 1);
	strcpy(text + MF_HOST_MAX + 1, "\n");
	rc = mf_parse(text, strlen(text), "f", &mf, err, sizeof(err));
	CHECK(rc == -EINVAL && strstr(err, "f:1: host name") && strstr(err, "is too long"), "long host: '%s'", err);
}

static void test_too_many_slots(void)
{
	/* 17 lines of 65536 slots pass the total limit of 2^20 on line 17 */
	char text[1024] = "", err[512];
	struct machinefile mf;
	int rc;

	for (int i = 0; i < 17; i++)
		strcat(text, "h slots=65536\n");
	rc = mf_parse(text, strlen(text), "f", &mf, err, sizeof(err));
	CHECK(rc == -EINVAL && strstr(err, "f:17: more than"), "slot total limit: rc %d '%s'", rc, err);
}

static void test_load(void)
{
	char dir[] = "/tmp/test_machinefile.XXXXXX", path[128], err[512];
	struct machinefile mf;
	int rc, fd;

	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "%s/missing", dir);
	rc = mf_load(path, &mf, err, sizeof(err));
	CHECK(rc == -ENOENT && strstr(err, "cannot read machinefile") && strstr(err, "No such file"),
	      "missing file: rc %d '%s'", rc, err);

	rc = mf_load(dir, &mf, err, sizeof(err));
	CHECK(rc == -EISDIR && strstr(err, "it is a directory"), "directory: rc %d '%s'", rc, err);

	snprintf(path, sizeof(path), "%s/hosts", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && write(fd, "a slots=2\n# c\nb\nbad line\n", 25) == 25, "write %s", path);
	close(fd);
	rc = mf_load(path, &mf, err, sizeof(err));
	CHECK(rc == -EINVAL && strstr(err, "/hosts:4: unexpected 'line'"), "file error names file and line: '%s'",
	      err);

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && write(fd, "a slots=2\n# c\nb\n", 16) == 16, "write %s", path);
	close(fd);
	rc = mf_load(path, &mf, err, sizeof(err));
	CHECK(rc == 0 && mf.nhosts == 2 && mf.nslots == 3 && mf.hosts[1].line == 3, "load: rc %d '%s'", rc, err);
	if (rc == 0)
		mf_free(&mf);

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	close(fd);
	rc = mf_load(path, &mf, err, sizeof(err));
	CHECK(rc == -EINVAL && strstr(err, "no hosts"), "empty file: '%s'", err);

	unlink(path);
	rmdir(dir);
}

/* Placement: "host:local_rank/local_size" per rank. */
static void check_place(const char *text, int n, const char *want)
{
	struct machinefile mf;
	struct mf_rank pl[64];
	char err[256], got[2048];
	size_t o = 0;

	if (mf_parse(text, strlen(text), "f", &mf, err, sizeof(err))) {
		CHECK(0, "placement input '%s': %s", text, err);
		return;
	}
	CHECK(mf_place(&mf, n, pl) == 0, "mf_place(%d)", n);
	got[0] = '\0';
	for (int r = 0; r < n; r++)
		o += (size_t)snprintf(got + o, sizeof(got) - o, "%s%s:%d/%d", r ? " " : "", mf.hosts[pl[r].host].name,
				      pl[r].local_rank, pl[r].local_size);
	CHECK(!strcmp(got, want), "placement of %d over '%s': got '%s', want '%s'", n, text, got, want);
	mf_free(&mf);
}

static void test_place(void)
{
	struct machinefile mf;
	struct mf_rank pl[4];

	/* one rank per line by default */
	check_place("a\nb\nc\n", 3, "a:0/1 b:0/1 c:0/1");
	/* -n N: round-robin over the lines */
	check_place("a\nb\n", 5, "a:0/3 b:0/2 a:1/3 b:1/2 a:2/3");
	check_place("a\nb\nc\n", 2, "a:0/1 b:0/1");
	/* slots fill a host before the next */
	check_place("a slots=2\nb\n", 3, "a:0/2 a:1/2 b:0/1");
	check_place("a slots=2\nb\n", 6, "a:0/4 a:1/4 b:0/2 a:2/4 a:3/4 b:1/2");
	/* the same host on two lines is one host for local ranks */
	check_place("a\nb\na\n", 3, "a:0/2 b:0/1 a:1/2");
	check_place("u@a\na\n", 2, "u@a:0/2 a:1/2");
	/* all local names are this host */
	check_place("localhost\n127.0.0.1\n", 2, "localhost:0/2 127.0.0.1:1/2");

	/* group: the first line naming the same machine */
	static const char groups[] = "a\nb\nu@a\nlocalhost\n127.0.0.1\n";
	char err[256];

	if (mf_parse(groups, strlen(groups), "f", &mf, err, sizeof(err)) == 0) {
		struct mf_rank g[5];
		CHECK(mf_place(&mf, 5, g) == 0 && g[0].group == 0 && g[1].group == 1 && g[2].group == 0 &&
			      g[3].group == 3 && g[4].group == 3,
		      "host groups %d %d %d %d %d", g[0].group, g[1].group, g[2].group, g[3].group, g[4].group);
		mf_free(&mf);
	} else {
		CHECK(0, "group input: %s", err);
	}

	CHECK(mf_single("127.0.0.1", 4, &mf) == 0 && mf.nslots == 4, "mf_single");
	CHECK(mf_place(&mf, 0, pl) == -EINVAL, "n = 0 is refused");
	CHECK(mf_place(&mf, -1, pl) == -EINVAL, "n < 0 is refused");
	mf_free(&mf);
	CHECK(mf_single("h", 0, &mf) == -EINVAL, "mf_single with 0 slots");
}

static void test_helpers(void)
{
	CHECK(mf_is_local("localhost") && mf_is_local("127.0.0.1"), "local names");
	CHECK(!mf_is_local("127.0.0.2") && !mf_is_local("root@localhost") && !mf_is_local("host"),
	      "non-local names");
	{
		char me[256] = "";
		struct machinefile m = { 0 };

		CHECK(mf_is_local("LOCALHOST") && mf_is_local("LocalHost"), "localhost in any case");
		CHECK(mf_is_this_host("127.0.0.2") && mf_is_this_host("127.255.255.254") && mf_is_this_host("::1") &&
		      mf_is_this_host("LOCALHOST"), "loopback addresses are this host");
		CHECK(!mf_is_this_host("root@127.0.0.2") && !mf_is_this_host("128.0.0.1") &&
		      !mf_is_this_host("nosuchhost.invalid") && !mf_is_this_host("::2"), "other hosts");
		gethostname(me, sizeof(me) - 1);
		CHECK(!me[0] || mf_is_this_host(me), "this host's own name '%s'", me);
		CHECK(mf_starts_local(&m, "127.0.0.3"), "127.0.0.3 starts locally");
		m.ssh_to_self = 1;
		CHECK(!mf_starts_local(&m, "127.0.0.3") && mf_starts_local(&m, "localhost"),
		      "with ssh asked for, only localhost and 127.0.0.1 start locally");
	}
	CHECK(!strcmp(mf_host_addr("user@node1"), "node1") && !strcmp(mf_host_addr("node1"), "node1"),
	      "mf_host_addr");
}

int main(void)
{
	test_good();
	test_bad();
	test_long_host();
	test_too_many_slots();
	test_load();
	test_place();
	test_helpers();
	return unit_result("", "all machinefile checks passed");
}
