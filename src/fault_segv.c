/*
 * fault_segv.c - the SIGSEGV + mprotect fault backend (works everywhere,
 * valgrind included).
 *
 * Design: the region's memory is a memfd mapped twice: the application's
 * view at the fixed base, whose page protections say what this rank holds
 * (none, read, read-write), and a private service view that is always
 * read-write and that only the service thread uses.  A page is filled through
 * the service view while the application's view still forbids access, and
 * only then opened with mprotect, so no thread ever sees a partial page.
 *
 * The SIGSEGV handler runs on the faulting thread: for an address inside the
 * region it posts a MBOX_FAULT request (signal-safe) and sleeps until the
 * service thread has served it, then returns so the access is retried
 * (fault_signal_wait(), which userfaultfd's SIGBUS mode shares).  For
 * any other address it hands the signal to the handler that was installed
 * before ours, or restores the default action so a real bug still crashes.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "coherence.h"
#include "rc.h"
#include "fault.h"
#include "globals.h"
#include "log.h"
#include "mailbox.h"
#include "runtime.h"
#include "stats.h"

static int memfd = -1;
static uintptr_t sbase;
static size_t ssize;
static uint8_t *service_view;
static struct sigaction old_segv;

int fault_signal_is_write(void *uctx, uint64_t page)
{
#if defined(__x86_64__)
	/* The page fault's error code; the kernel passes it with SIGBUS too. */
	(void)page;
	return (((ucontext_t *)uctx)->uc_mcontext.gregs[REG_ERR] & 2) != 0;
#else
	/* Without the CPU's error code: a fault on a page we hold read-only can
	 * only be a write; otherwise ask for read and let a write fault again. */
	(void)uctx;
	return coh_ops_for(page)->holds_readable(page);
#endif
}

void fault_signal_wait(uintptr_t addr, uint64_t page, int write)
{
	struct mbox_req req;

	req.kind = MBOX_FAULT;
	req.a = page;
	req.b = (uint64_t)write;
	req.p = (void *)(uintptr_t)stats_fault_tag(addr);
	mbox_call(&req);
	/* The access is retried as soon as this returns: the page may go. */
	coh_fault_returned(req.b);
}

/* A fault outside the region: hand it to the handler that was there before
 * ours (`old`), or, for the default action, return and let the access fault
 * again, fatally.  Shared with userfaultfd's SIGBUS mode. */
void fault_signal_chain(const struct sigaction *old, int sig, siginfo_t *si, void *uctx)
{
	if (old->sa_flags & SA_SIGINFO) {
		if (old->sa_sigaction) {
			old->sa_sigaction(sig, si, uctx);
			return;
		}
	} else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
		old->sa_handler(sig);
		return;
	}
	signal(sig, SIG_DFL);
}

static void segv_handler(int sig, siginfo_t *si, void *uctx)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	uint64_t page;

	page = addr_page(a); /* the region, or DSM_SHARED globals */
	if (page == GLOBALS_NO_PAGE || si->si_code != SEGV_ACCERR) {
		fault_signal_chain(&old_segv, sig, si, uctx);
		return;
	}
	fault_signal_wait(a, page, fault_signal_is_write(uctx, page));
}

static int segv_map(uintptr_t base, size_t size)
{
	struct sigaction sa;
	void *p;
	int err;

	memfd = memfd_create("dsm-region", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, (off_t)size) < 0) {
		err = errno;
		log_err("memfd for the shared region (%zu bytes): %s", size, strerror(err));
		goto err_close;
	}
	p = mmap((void *)base, size, PROT_NONE, MAP_SHARED | MAP_NORESERVE | MAP_FIXED_NOREPLACE, memfd, 0);
	if (p == MAP_FAILED || p != (void *)base) {
		err = p == MAP_FAILED ? errno : EEXIST;
		log_err("cannot map the shared region at %#lx (%zu bytes): %s%s", (unsigned long)base, size,
			strerror(err), err == EEXIST ? "; the range is taken: choose another DSM_BASE" : "");
		if (p != MAP_FAILED)
			munmap(p, size);
		goto err_close;
	}
	service_view = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, memfd, 0);
	if (service_view == MAP_FAILED) {
		err = errno;
		log_err("second mapping of the shared region: %s", strerror(err));
		goto err_unmap;
	}
	sbase = base;
	ssize = size;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = segv_handler;
	/* SA_ONSTACK: a program that catches its own stack overflows on an
	 * alternate stack (Rust, Go, ...) must still reach its handler. */
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &old_segv) < 0) {
		err = errno;
		log_err("sigaction(SIGSEGV): %s", strerror(err));
		goto err_unmap_service;
	}
	return 0;

err_unmap_service:
	munmap(service_view, size);
err_unmap:
	munmap((void *)base, size);
err_close:
	if (memfd >= 0)
		close(memfd);
	memfd = -1;
	return -err;
}

static void segv_unmap(void)
{
	if (memfd < 0)
		return;
	sigaction(SIGSEGV, &old_segv, NULL);
	munmap(service_view, ssize);
	munmap((void *)sbase, ssize);
	close(memfd);
	memfd = -1;
}

static int protect_pages(uint64_t page, uint64_t n, int prot)
{
	if (mprotect(page_addr(page), n * DSM_PAGE_SIZE, prot) < 0) {
		log_err("mprotect of page %lu (%lu pages): %s", (unsigned long)page, (unsigned long)n,
			strerror(errno));
		return -errno;
	}
	return 0;
}

static int protect(uint64_t page, int prot)
{
	return protect_pages(page, 1, prot);
}

static int segv_install(uint64_t page, const void *data, int writable)
{
	uint8_t *dst = service_view + (page << DSM_PAGE_SHIFT);

	if (data)
		memcpy(dst, data, DSM_PAGE_SIZE);
	else
		memset(dst, 0, DSM_PAGE_SIZE);
	return protect(page, writable ? PROT_READ | PROT_WRITE : PROT_READ);
}

/* Never written here: the memfd's pages are holes, zeros already. */
static int segv_install_zeros(uint64_t page, uint64_t n)
{
	return protect_pages(page, n, PROT_READ | PROT_WRITE);
}

static int segv_upgrade(uint64_t page, uint64_t n)
{
	return protect_pages(page, n, PROT_READ | PROT_WRITE);
}

static int segv_downgrade(uint64_t page, uint64_t n)
{
	return protect_pages(page, n, PROT_READ);
}

static int segv_drop(uint64_t page, uint64_t n)
{
	int rc = protect_pages(page, n, PROT_NONE);

	/* Give the memory back; the next install rewrites the whole page. */
	if (rc == 0)
		fallocate(memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(page << DSM_PAGE_SHIFT),
			  (off_t)(n * DSM_PAGE_SIZE));
	return rc;
}

static const void *segv_peek(uint64_t page)
{
	return service_view + (page << DSM_PAGE_SHIFT);
}

static void *segv_poke(uint64_t page)
{
	return service_view + (page << DSM_PAGE_SHIFT);
}

static void segv_wake(uint64_t page)
{
	(void)page; /* waiters are mailbox requests, completed by the engine */
}

static int segv_event_fd(void)
{
	return -1;
}

const struct fault_backend fault_segv = {
	.name = "sigsegv",
	.map = segv_map,
	.unmap = segv_unmap,
	.install = segv_install,
	.install_zeros = segv_install_zeros,
	.upgrade = segv_upgrade,
	.downgrade = segv_downgrade,
	.drop = segv_drop,
	.peek = segv_peek,
	.poke = segv_poke,
	.wake = segv_wake,
	.event_fd = segv_event_fd,
	.handle_events = NULL,
};

/* ---- DSM_SHARED globals (globals.c): more ranges in the same memfd ---- */

static size_t sextra; /* the memfd and the service view beyond the region */

/* Pages first_page... live in the memfd at their page number's offset, as
 * the region's do, so install, peek and drop work unchanged: grow the memfd
 * and the service view to hold them, then map them over the section,
 * inaccessible. */
int fault_segv_map_extra(uintptr_t addr, size_t len, uint64_t first_page)
{
	size_t end = (size_t)(first_page << DSM_PAGE_SHIFT) + len;
	void *p;

	if (end > ssize + sextra) {
		if (ftruncate(memfd, (off_t)end) < 0) {
			log_err("growing the region's memfd for the DSM_SHARED variables: %s", strerror(errno));
			return -errno;
		}
		p = mremap(service_view, ssize + sextra, end, MREMAP_MAYMOVE);
		if (p == MAP_FAILED) {
			log_err("growing the service view for the DSM_SHARED variables: %s", strerror(errno));
			return -errno;
		}
		service_view = p;
		sextra = end - ssize;
	}
	p = mmap((void *)addr, len, PROT_NONE, MAP_SHARED | MAP_NORESERVE | MAP_FIXED, memfd,
		 (off_t)(first_page << DSM_PAGE_SHIFT));
	if (p == MAP_FAILED) {
		log_err("mmap over the DSM_SHARED variables at %#lx (%zu bytes): %s", (unsigned long)addr, len,
			strerror(errno));
		return -errno;
	}
	return 0;
}

/* Ordinary memory again: writable, what this rank held stays (the mapping
 * keeps the memfd alive). */
void fault_segv_unmap_extra(uintptr_t addr, size_t len)
{
	if (mprotect((void *)addr, len, PROT_READ | PROT_WRITE) < 0)
		log_err("mprotect of the DSM_SHARED variables at %#lx: %s", (unsigned long)addr, strerror(errno));
}

void fault_segv_unmap_extras(void)
{
	if (sextra && service_view)
		munmap(service_view + ssize, sextra);
	sextra = 0;
}
