/*
 * rpc_ping - rank 0 calls a function on every other rank (serve-only ranks
 * included: dsmexec --serve 1) and checks each reply.  The function is
 * registered before dsm_init(), as a serve-only rank requires.
 *
 *   dsmexec -n 4 bin/rpc_ping
 */
#include <dsm.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define PING 7

/* Reply "pong <rank>: " followed by the argument. */
static int ping(const void *arg, size_t arg_len, void *reply, size_t *reply_len)
{
	char head[32];
	int n = snprintf(head, sizeof(head), "pong %d: ", dsm_rank());

	if ((size_t)n + arg_len > *reply_len)
		return -EMSGSIZE;
	memcpy(reply, head, (size_t)n);
	memcpy((char *)reply + n, arg, arg_len);
	*reply_len = (size_t)n + arg_len;
	return 0;
}

int main(int argc, char **argv)
{
	int rc, bad = 0;

	dsm_rpc_register(PING, ping);
	rc = dsm_init(&argc, &argv);
	if (rc) {
		fprintf(stderr, "dsm_init: %s\n", strerror(-rc));
		return 1;
	}
	if (dsm_rank() == 0) {
		for (int r = 1; r < dsm_size(); r++) {
			char arg[64], reply[128], want[128];
			size_t len = sizeof(reply);
			int n = snprintf(arg, sizeof(arg), "ping %d", r);

			snprintf(want, sizeof(want), "pong %d: %s", r, arg);
			rc = dsm_rpc_call(r, PING, arg, (size_t)n, reply, &len);
			if (rc || len != strlen(want) || memcmp(reply, want, len)) {
				fprintf(stderr, "rpc_ping: rank %d answered %d, '%.*s'; expected '%s'\n", r, rc,
					(int)len, reply, want);
				bad = 1;
			}
		}
		printf("rpc_ping: %d ranks answered%s: %s\n", dsm_size() - 1,
		       dsm_num_servers() ? " (servers included)" : "", bad ? "WRONG" : "OK");
	}
	rc = dsm_finalize();
	return rc || bad ? 1 : 0;
}
