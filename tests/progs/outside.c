/*
 * Description: accesses outside the shared region after dsm_init.
 *   outside MODE [rank]
 * Every mode first uses the region (each rank writes a page, then reads every
 * rank's page), then:
 *   null       reads address 0                        -> must die of SIGSEGV
 *   unmapped   writes a page it has just munmapped    -> must die of SIGSEGV
 *   readonly   writes a PROT_READ page                -> must die of SIGSEGV
 *   below      reads the page just below the region   -> must die of SIGSEGV
 *   above      reads the first byte past the region   -> must die of SIGSEGV
 *     (these need those pages unmapped, which the program checks first)
 *   handler    installed its own SA_SIGINFO SIGSEGV handler before dsm_init:
 *              a write to a PROT_NONE page outside the region calls it with
 *              that address (it opens the page and the write completes);
 *              faults inside the region never reach it; after dsm_finalize
 *              it still gets outside faults.  Exits 0.
 *   plain      the same with an old-style sa_handler.  Exits 0.
 *   altstack   the handler was installed with SA_ONSTACK and the faulting
 *              thread has an alternate signal stack: a stack overflow in
 *              that thread reaches the handler, which jumps out.  Exits 0.
 * With a rank argument only that rank does the fatal access; the others wait
 * in a barrier.  The line "outside: MODE: now" comes just before the access.
 */
#include <dsm.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096

static char *target;             /* the page the handler opens */
static volatile sig_atomic_t calls;
static void *volatile seen_addr;
static sigjmp_buf overflow_jmp;
static volatile sig_atomic_t overflowed;

static void die(const char *what, int rc)
{
	fprintf(stderr, "outside: %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
	exit(1);
}

static void info_handler(int sig, siginfo_t *si, void *uctx)
{
	(void)sig;
	(void)uctx;
	calls++;
	seen_addr = si->si_addr;
	if ((char *)si->si_addr >= target && (char *)si->si_addr < target + PAGE) {
		mprotect(target, PAGE, PROT_READ | PROT_WRITE);
		return;
	}
	/* Not ours: die as the default action would. */
	signal(SIGSEGV, SIG_DFL);
}

static void plain_handler(int sig)
{
	(void)sig;
	calls++;
	if (mprotect(target, PAGE, PROT_READ | PROT_WRITE) < 0)
		signal(SIGSEGV, SIG_DFL);
}

static void overflow_handler(int sig, siginfo_t *si, void *uctx)
{
	(void)sig;
	(void)si;
	(void)uctx;
	calls++;
	if (overflowed == 1) {
		overflowed = 2;
		siglongjmp(overflow_jmp, 1);
	}
	signal(SIGSEGV, SIG_DFL);
}

static volatile int depth_limit = 1 << 30; /* never reached: the stack ends first */

static int recurse(volatile char *prev, int depth)
{
	volatile char buf[512];

	buf[0] = (char)depth;
	buf[511] = prev ? prev[0] : 0;
	if (depth >= depth_limit)
		return buf[511];
	return recurse(buf, depth + 1) + buf[511];
}

static void *overflow_thread(void *arg)
{
	stack_t ss = { .ss_size = 64 * 1024 }, old;

	(void)arg;
	ss.ss_sp = malloc(ss.ss_size);
	if (!ss.ss_sp || sigaltstack(&ss, &old) < 0)
		die("sigaltstack", errno);
	if (sigsetjmp(overflow_jmp, 1) == 0) {
		overflowed = 1;
		recurse(NULL, 0);
	}
	/* Put back whatever was there (a sanitizer's own stack, say). */
	if (old.ss_flags & SS_DISABLE)
		old.ss_size = MINSIGSTKSZ;
	sigaltstack(&old, NULL);
	free(ss.ss_sp);
	return NULL;
}

/* A page nobody has mapped: mincore fails with ENOMEM there. */
static int unmapped(void *p)
{
	unsigned char v;

	return mincore(p, PAGE, &v) < 0 && errno == ENOMEM;
}

/* The access that must fault.  Mode null reads address 0 on purpose, which
 * UndefinedBehaviorSanitizer would report (and exit 1) before the fault. */
__attribute__((noinline, no_sanitize("undefined")))
static void touch(volatile char *p, int write)
{
	if (write)
		*p = 1;
	else
		(void)*p;
}

static void use_region(void)
{
	volatile uint64_t *base = dsm_base();
	int me = dsm_rank(), nr = dsm_size();

	for (int i = 0; i < 512; i++)
		base[(uint64_t)me * 512 + i] = (uint64_t)me * 1000 + (uint64_t)i;
	dsm_barrier();
	for (int r = 0; r < nr; r++)
		for (int i = 0; i < 512; i++)
			if (base[(uint64_t)r * 512 + i] != (uint64_t)r * 1000 + (uint64_t)i) {
				fprintf(stderr, "outside: rank %d's page holds a wrong value at %d\n", r, i);
				exit(1);
			}
	dsm_barrier();
}

static int handler_mode(const char *mode)
{
	volatile char *p;

	if (calls != 0) {
		fprintf(stderr, "outside: %s: the application's handler ran %d times for faults inside the "
			"region\n", mode, (int)calls);
		return 1;
	}
	p = (volatile char *)target;
	printf("outside: %s: now\n", mode);
	fflush(stdout);
	p[100] = 42; /* faults once; the handler opens the page */
	if (calls != 1 || p[100] != 42) {
		fprintf(stderr, "outside: %s: handler ran %d times (expected 1), byte %d\n", mode, (int)calls,
			p[100]);
		return 1;
	}
	if (!strcmp(mode, "handler") && seen_addr != (void *)(target + 100)) {
		fprintf(stderr, "outside: handler saw address %p, expected %p\n", seen_addr,
			(void *)(target + 100));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	int who = argc > 2 ? atoi(argv[2]) : -1, rc, me, bad = 0;
	struct sigaction sa;

	if (argc < 2) {
		fprintf(stderr, "usage: outside null|unmapped|readonly|below|above|handler|plain|altstack [rank]\n");
		return 2;
	}
	target = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (target == MAP_FAILED)
		die("mmap", errno);
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	if (!strcmp(mode, "handler")) {
		sa.sa_sigaction = info_handler;
		sa.sa_flags = SA_SIGINFO;
	} else if (!strcmp(mode, "plain")) {
		sa.sa_handler = plain_handler;
	} else if (!strcmp(mode, "altstack")) {
		sa.sa_sigaction = overflow_handler;
		sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	}
	if ((sa.sa_handler || sa.sa_sigaction) && sigaction(SIGSEGV, &sa, NULL) < 0)
		die("sigaction", errno);

	rc = dsm_init(&argc, &argv);
	if (rc)
		die("dsm_init", rc);
	me = dsm_rank();
	use_region();

	if (!strcmp(mode, "handler") || !strcmp(mode, "plain")) {
		bad = handler_mode(mode);
		rc = dsm_finalize();
		if (rc)
			die("dsm_finalize", rc);
		/* The handler is still ours after the library has gone. */
		mprotect(target, PAGE, PROT_NONE);
		calls = 0;
		if (!bad)
			bad = handler_mode(mode);
		printf("outside: %s: rank %d: %s\n", mode, me, bad ? "WRONG" : "ok");
		return bad;
	}
	if (!strcmp(mode, "altstack")) {
		pthread_t t;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setstacksize(&at, 256 * 1024);
		printf("outside: %s: now\n", mode);
		fflush(stdout);
		if (pthread_create(&t, &at, overflow_thread, NULL))
			die("pthread_create", EAGAIN);
		pthread_join(t, NULL);
		if (overflowed != 2 || calls != 1) {
			fprintf(stderr, "outside: altstack: handler ran %d times, overflow state %d\n", (int)calls,
				(int)overflowed);
			bad = 1;
		}
		rc = dsm_finalize();
		printf("outside: %s: rank %d: %s\n", mode, me, bad || rc ? "WRONG" : "ok");
		return bad || rc;
	}

	volatile char *p;
	char *region = dsm_base();
	if (!strcmp(mode, "null")) {
		p = NULL;
	} else if (!strcmp(mode, "unmapped")) {
		char *q = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (q == MAP_FAILED)
			die("mmap", errno);
		q[0] = 1;
		munmap(q, PAGE);
		p = q;
	} else if (!strcmp(mode, "readonly")) {
		mprotect(target, PAGE, PROT_READ);
		p = target;
	} else if (!strcmp(mode, "below")) {
		p = region - PAGE;
		if (!unmapped(region - PAGE)) {
			printf("skip: the page below the region is mapped\n");
			return 77;
		}
		p += PAGE - 1; /* the last byte before the region */
	} else if (!strcmp(mode, "above")) {
		p = region + dsm_region_size();
		if (!unmapped((void *)p)) {
			printf("skip: the page above the region is mapped\n");
			return 77;
		}
	} else {
		fprintf(stderr, "outside: unknown mode '%s'\n", mode);
		return 2;
	}
	if (who < 0 || who == me) {
		printf("outside: %s: now\n", mode);
		fflush(stdout);
		touch(p, !strcmp(mode, "unmapped") || !strcmp(mode, "readonly"));
		printf("outside: %s: the access at %p did not fault\n", mode, (void *)p);
		return 1;
	}
	dsm_barrier(); /* the other ranks wait here until the job ends */
	fprintf(stderr, "outside: rank %d left the barrier, but rank %d should have died\n", me, who);
	return 1;
}
