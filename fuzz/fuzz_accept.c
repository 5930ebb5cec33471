/*
 * fuzz_accept.c - libFuzzer target for the acceptor side of the handshake
 * (net_auth_accept in src/net.c): the connecting peer sends arbitrary bytes.
 *
 * Whatever arrives, net_auth_accept must return (within its deadline) a
 * negative errno with a reason, never succeed (no input can know the secret
 * and the fresh nonce), and never touch memory it should not.
 */
#include <stdio.h>

#include "fuzz_handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct job_auth a;
	uint32_t peer = 0;
	char why[256] = "";
	int far, fd, rc;

	fuzz_auth(&a);
	fd = fuzz_pair(data, size, &far);
	if (fd < 0)
		return 0;
	rc = net_auth_accept(fd, &a, 0, &peer, now_ns() + FUZZ_DEADLINE_NS, why, sizeof(why));
	if (rc == 0 || rc == -ETIMEDOUT || rc > 0 || why[0] == '\0' || strlen(why) >= sizeof(why)) {
		fprintf(stderr, "net_auth_accept returned %d (%s)\n", rc, why);
		abort();
	}
	close(fd);
	close(far);
	return 0;
}
