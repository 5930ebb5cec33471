/*
 * fuzz_connect.c - libFuzzer target for the connector side of the handshake
 * (net_auth_connect in src/net.c): it sends HELLO and the acceptor answers
 * with arbitrary bytes.
 *
 * Whatever the answer, net_auth_connect must return (within its deadline) a
 * negative errno with a reason, never succeed (no answer can carry a valid
 * MAC over the fresh nonce without the secret), and never touch memory it
 * should not.  The first input byte picks the id the connector expects
 * (any, or 0..254).
 */
#include <stdio.h>

#include "fuzz_handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct job_auth a;
	char why[256] = "";
	int64_t expect = -1;
	int far, fd, rc;

	if (size > 0) {
		expect = data[0] == 0xff ? -1 : data[0];
		data++;
		size--;
	}
	fuzz_auth(&a);
	fd = fuzz_pair(data, size, &far);
	if (fd < 0)
		return 0;
	rc = net_auth_connect(fd, &a, 1, expect, now_ns() + FUZZ_DEADLINE_NS, why, sizeof(why));
	if (rc == 0 || rc == -ETIMEDOUT || rc > 0 || why[0] == '\0' || strlen(why) >= sizeof(why)) {
		fprintf(stderr, "net_auth_connect returned %d (%s)\n", rc, why);
		abort();
	}
	close(fd);
	close(far);
	return 0;
}
