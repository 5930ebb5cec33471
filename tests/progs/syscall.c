/*
 * Description: system calls that read or write region pages this rank does
 * not hold (the kernel, not the application, touches them).
 *   syscall
 * Rank 0 writes a message into page A; after a barrier rank 1 write(2)s page
 * A into a pipe and read(2)s the pipe into page B, which nobody has touched,
 * then rank 0 checks page B with plain loads.  Prints one line per call:
 * "syscall: write: ok", or "syscall: write: EFAULT" when the kernel refused
 * the access (the sigsegv backend, or userfaultfd in user-mode-only mode,
 * cannot serve faults taken inside the kernel), then "syscall: done".
 * Exits non-zero for anything else: a short transfer, wrong data, another
 * error.
 */
#include <dsm.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define PAGE 4096

static const char msg[] = "through the kernel and back";

static int report(const char *call, ssize_t n, int err)
{
	if (n == (ssize_t)sizeof(msg)) {
		printf("syscall: %s: ok\n", call);
		return 0;
	}
	if (n < 0 && err == EFAULT) {
		printf("syscall: %s: EFAULT\n", call);
		return 0;
	}
	fprintf(stderr, "syscall: %s returned %zd (%s), expected %zu\n", call, n, n < 0 ? strerror(err) : "short",
		sizeof(msg));
	return 1;
}

int main(int argc, char **argv)
{
	int rc, bad = 0, fds[2];
	char *base, *a, *b;
	volatile int *verdict;

	init_or_exit(&argc, &argv);
	if (dsm_size() < 2) {
		fprintf(stderr, "syscall needs 2 ranks\n");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	base = dsm_base();
	a = base + 3 * PAGE;
	b = base + 8 * PAGE;
	verdict = (volatile int *)(base + 12 * PAGE);
	if (dsm_rank() == 0)
		memcpy(a, msg, sizeof(msg));
	dsm_barrier();
	if (dsm_rank() == 1) {
		char local[sizeof(msg)];
		ssize_t n;
		int read_ok;

		if (pipe(fds) < 0) {
			perror("pipe");
			return 1;
		}
		n = write(fds[1], a, sizeof(msg));
		bad |= report("write", n, errno);
		if (n < 0) /* the read below still needs something to read */
			n = write(fds[1], msg, sizeof(msg));
		n = read(fds[0], b, sizeof(msg));
		bad |= report("read", n, errno);
		read_ok = n == (ssize_t)sizeof(msg);
		if (!read_ok) {
			/* Nothing landed in page B: the pipe still holds it all. */
			if (read(fds[0], local, sizeof(local)) != (ssize_t)sizeof(local) ||
			    memcmp(local, msg, sizeof(msg)) != 0) {
				fprintf(stderr, "syscall: the failed read consumed part of the pipe\n");
				bad = 1;
			}
		}
		*verdict = read_ok ? 1 : 2;
	}
	dsm_barrier();
	if (dsm_rank() == 0) {
		int v = *verdict;
		if (v == 1 && memcmp(b, msg, sizeof(msg)) != 0) {
			fprintf(stderr, "syscall: rank 0 reads '%.*s' in page B, expected '%s'\n", (int)sizeof(msg), b,
				msg);
			bad = 1;
		}
		if (v == 2)
			for (size_t i = 0; i < PAGE; i++)
				if (b[i] != 0) {
					fprintf(stderr, "syscall: a failed read left byte %zu of page B nonzero\n", i);
					bad = 1;
					break;
				}
	}
	if (bad)
		*(volatile int *)(base + 13 * PAGE) = 1;
	dsm_barrier();
	bad = *(volatile int *)(base + 13 * PAGE);
	if (dsm_rank() == 0)
		printf("syscall: %s\n", bad ? "WRONG" : "done");
	rc = dsm_finalize();
	return bad || rc ? 1 : 0;
}
