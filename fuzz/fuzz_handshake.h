/*
 * fuzz_handshake.h - what the two handshake targets share: a socketpair
 * whose far end has already sent the fuzzer's bytes and then closed for
 * writing, so the side under test reads them, then end of stream.
 */
#ifndef DSM_FUZZ_HANDSHAKE_H
#define DSM_FUZZ_HANDSHAKE_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "wire.h"

/* Every wait of the side under test ends after this long at most: the
 * bytes are all there (or end of stream), so only a bug would wait. */
#define FUZZ_DEADLINE_NS (200LL * 1000 * 1000)

/* The job both sides believe in. */
static inline void fuzz_auth(struct job_auth *a)
{
	memset(a->secret, 0x5a, sizeof(a->secret));
	a->job_id = 0x1122334455667788ull;
}

/* Returns the fd for the side under test, or -1.  *far is the other end,
 * which has sent data[0..size) and shut down its writing half. */
static inline int fuzz_pair(const uint8_t *data, size_t size, int *far)
{
	int sv[2];
	size_t off = 0;
	int bufsz = 1 << 20;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	while (off < size) {
		ssize_t n = send(sv[0], data + off, size - off, MSG_NOSIGNAL);
		if (n <= 0)
			break; /* the rest does not fit: the side under test gets a prefix */
		off += (size_t)n;
	}
	shutdown(sv[0], SHUT_WR);
	*far = sv[0];
	return sv[1];
}

#endif
