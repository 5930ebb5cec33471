/*
 * Description: Slurm node-list expansion (launch_env.c): ranges, lists, zero
 * padding, several bracket groups, plain hosts, comma-separated mixtures; and
 * malformed lists refused with a message that says what and where.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "launch_env.h"
#include "unit.h"

/* Expand spec and join the hosts with spaces. */
static int expand(const char *spec, char *out, size_t cap, char *why, size_t whylen)
{
	struct nodelist *nl;
	char host[NODELIST_HOST_MAX];
	size_t off = 0;
	int rc = nodelist_parse(spec, &nl, why, whylen);

	if (rc)
		return rc;
	out[0] = '\0';
	for (size_t i = 0; i < nodelist_count(nl); i++) {
		nodelist_host(nl, i, host);
		off += (size_t)snprintf(out + off, cap - off, "%s%s", i ? " " : "", host);
		if (off >= cap)
			break;
	}
	nodelist_free(nl);
	return 0;
}

static const struct good {
	const char *spec, *hosts;
} good[] = {
	{ "node07", "node07" },
	{ "localhost", "localhost" },
	{ "n1.cluster.example_org", "n1.cluster.example_org" },
	{ "node[1-3]", "node1 node2 node3" },
	{ "node[01-04,07]", "node01 node02 node03 node04 node07" },
	{ "node[08-11]", "node08 node09 node10 node11" },
	{ "node[098-101]", "node098 node099 node100 node101" },
	{ "node[9-11]", "node9 node10 node11" },
	{ "node[5]", "node5" },
	{ "node[3,1,2]", "node3 node1 node2" },
	{ "node[007]", "node007" },
	{ "rack[1-2]-node[01-02]", "rack1-node01 rack1-node02 rack2-node01 rack2-node02" },
	{ "r[1-2]c[1-2]n[8-9]", "r1c1n8 r1c1n9 r1c2n8 r1c2n9 r2c1n8 r2c1n9 r2c2n8 r2c2n9" },
	{ "a,b[1-3],c", "a b1 b2 b3 c" },
	{ "gpu[1-2],cpu[01-02,10]", "gpu1 gpu2 cpu01 cpu02 cpu10" },
	{ "[1-3]", "1 2 3" },
	{ "[1-2]x", "1x 2x" },
	{ "127.0.0.[1-2]", "127.0.0.1 127.0.0.2" },
	{ "node[1-3]-ib", "node1-ib node2-ib node3-ib" },
	{ "a,a", "a a" },
};

static const struct bad {
	const char *spec, *why; /* `why` must appear in the message */
} bad[] = {
	{ "", "empty node list" },
	{ "node[1-3", "column 5: '[' is not closed" },
	{ "node[1,2", "column 5: '[' is not closed" },
	{ "node[", "column 5: '[' is not closed" },
	{ "node1-3]", "column 8: ']' without '['" },
	{ "node[1-3]]", "column 10: ']' without '['" },
	{ "node[[1-3]]", "column 6: '[' inside brackets" },
	{ "node[1[2]]", "column 7: unexpected '[' in brackets" },
	{ "node[5-3]", "column 6: reversed range 5-3" },
	{ "node[01-04,9-2]", "column 12: reversed range 9-2" },
	{ "a,,b", "column 3: empty host name" },
	{ ",a", "column 1: empty host name" },
	{ "a,", "column 3: empty host name" },
	{ "node[]", "column 6: empty range" },
	{ "node[1,,3]", "column 8: empty range" },
	{ "node[1,]", "column 8: empty range" },
	{ "node[,1]", "column 6: empty range" },
	{ "node[1-]", "column 8: expected a number, found ']'" },
	{ "node[-3]", "column 6: expected a number, found '-'" },
	{ "node[a-b]", "column 6: expected a number, found 'a'" },
	{ "node[1-2-3]", "column 9: unexpected '-' in brackets" },
	{ "node[1:4]", "column 7: unexpected ':' in brackets" },
	{ "node 1", "column 5: unexpected character ' '" },
	{ "node[1-3];rm", "column 10: unexpected character ';'" },
	{ "node[1234567890]", "column 6: number of more than 9 digits" },
	{ "node[0-999999999]", "names more than 1048576 hosts" },
	{ "a[0-1023]b[0-1023]c[0-1]", "names more than 1048576 hosts" },
	{ "a[0-999],b[0-1047999]", "names more than 1048576 hosts" },
	{ "a[0-1023]b[0-1023]", NULL }, /* exactly the limit: accepted */
};

int main(void)
{
	static char out[1 << 16];
	char why[256], name[300], host[NODELIST_HOST_MAX];
	struct nodelist *nl;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int rc = expand(good[i].spec, out, sizeof(out), why, sizeof(why));

		CHECK(rc == 0, "'%s': refused: %s", good[i].spec, why);
		if (rc == 0)
			CHECK(!strcmp(out, good[i].hosts), "'%s': expanded to '%s', expected '%s'", good[i].spec, out,
			      good[i].hosts);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc;

		why[0] = '\0';
		rc = nodelist_parse(bad[i].spec, &nl, why, sizeof(why));
		if (!bad[i].why) {
			CHECK(rc == 0 && nodelist_count(nl) == NODELIST_MAX_HOSTS, "'%s': refused: %s", bad[i].spec,
			      why);
			if (rc == 0) {
				nodelist_host(nl, NODELIST_MAX_HOSTS - 1, host);
				CHECK(!strcmp(host, "a1023b1023"), "'%s': last host '%s'", bad[i].spec, host);
			}
			nodelist_free(nl);
			continue;
		}
		CHECK(rc == -EINVAL && nl == NULL, "'%s': accepted (rc %d), expected refusal '%s'", bad[i].spec, rc,
		      bad[i].why);
		CHECK(strstr(why, bad[i].why), "'%s': message '%s', expected '%s'", bad[i].spec, why, bad[i].why);
	}

	/* host names: 255 bytes pass, 256 do not, also when a range makes them long */
	memset(name, 'h', 255);
	name[255] = '\0';
	CHECK(expand(name, out, sizeof(out), why, sizeof(why)) == 0 && strlen(out) == 255, "255-byte name: %s",
	      why);
	memset(name, 'h', 256);
	name[256] = '\0';
	CHECK(nodelist_parse(name, &nl, why, sizeof(why)) == -EINVAL && strstr(why, "longer than 255"),
	      "256-byte name accepted or message '%s'", why);
	memset(name, 'h', 250);
	strcpy(name + 250, "[1-100000]");
	CHECK(nodelist_parse(name, &nl, why, sizeof(why)) == -EINVAL && strstr(why, "longer than 255"),
	      "250 bytes + 6 digits accepted or message '%s'", why);
	strcpy(name + 250, "[1-10000]");
	CHECK(nodelist_parse(name, &nl, why, sizeof(why)) == 0, "250 bytes + 5 digits refused: %s", why);
	if (nl) {
		nodelist_host(nl, 9999, host);
		CHECK(strlen(host) == 255 && !strcmp(host + 250, "10000"), "last host of a long list: '%s'", host);
		nodelist_free(nl);
	}

	/* the i-th host without expanding all of them */
	CHECK(nodelist_parse("a[0-999]b[0-999],c", &nl, why, sizeof(why)) == 0, "big list: %s", why);
	CHECK(nodelist_count(nl) == 1000001, "big list: %zu hosts", nodelist_count(nl));
	nodelist_host(nl, 0, host);
	CHECK(!strcmp(host, "a0b0"), "host 0: %s", host);
	nodelist_host(nl, 1234, host);
	CHECK(!strcmp(host, "a1b234"), "host 1234: %s", host);
	nodelist_host(nl, 1000000, host);
	CHECK(!strcmp(host, "c"), "host 1000000: %s", host);
	nodelist_free(nl);
	nodelist_free(NULL);
	return unit_result("test_nodelist: ", "test_nodelist: ok");
}
