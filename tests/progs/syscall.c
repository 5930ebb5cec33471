/*
 * Description: system calls that read or write region pages this rank does
 * not hold (the kernel, not the application, touches them).
 *   syscall
 * Rank 0 writes a message into pages A (it straddles two pages); after a
 * barrier rank 1 write(2)s it into a pipe and read(2)s the pipe into pages
 * B (also two, which nobody has touched), then rank 0 checks B with plain
 * loads.  Prints one line per call: "syscall: write: ok", or "syscall:
 * write: EFAULT" when the kernel refused the access (the sigsegv backend,
 * or userfaultfd in user-mode-only mode, cannot serve faults taken inside
 * the kernel).  After an EFAULT it does what dsm_init(3) says: touches the
 * buffer, one byte per page (a load before write(2), a store before
 * read(2)), and calls again, which must succeed: "syscall: write after
 * touching: ok".  Then "syscall: done".  Exits non-zero for anything else:
 * a short transfer, wrong data, another error.
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

/* The way around EFAULT documented in dsm_init(3): one access per page
 * of [p, p + len), a load (the page readable) or a store of the byte's
 * own value (the page writable). */
static void touch(char *p, size_t len, int write)
{
	volatile char *v = p;

	for (size_t i = 0; i < len; i = (i | (PAGE - 1)) + 1) {
		if (write)
			v[i] = v[i];
		else
			(void)v[i];
	}
	if (write)
		v[len - 1] = v[len - 1];
	else
		(void)v[len - 1];
}

int main(int argc, char **argv)
{
	int rc, bad = 0, fds[2];
	char *base, *a, *b;

	init_or_exit(&argc, &argv);
	if (dsm_size() < 2) {
		fprintf(stderr, "syscall needs 2 ranks\n");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	base = dsm_base();
	a = base + 4 * PAGE - 10;
	b = base + 9 * PAGE - 10;
	if (dsm_rank() == 0)
		memcpy(a, msg, sizeof(msg));
	dsm_barrier();
	if (dsm_rank() == 1) {
		ssize_t n;

		if (pipe(fds) < 0) {
			perror("pipe");
			return 1;
		}
		n = write(fds[1], a, sizeof(msg));
		bad |= report("write", n, errno);
		if (n < 0) {
			touch(a, sizeof(msg), 0);
			n = write(fds[1], a, sizeof(msg));
			bad |= n < 0 || report("write after touching", n, errno);
		}
		n = read(fds[0], b, sizeof(msg));
		bad |= report("read", n, errno);
		if (n < 0) {
			/* nothing was consumed: the pipe holds the whole message */
			touch(b, sizeof(msg), 1);
			n = read(fds[0], b, sizeof(msg));
			bad |= n < 0 || report("read after touching", n, errno);
		}
	}
	dsm_barrier();
	if (dsm_rank() == 0 && memcmp(b, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "syscall: rank 0 reads '%.*s' in pages B, expected '%s'\n", (int)sizeof(msg), b,
			msg);
		bad = 1;
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
