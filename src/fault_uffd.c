/*
 * fault_uffd.c - the userfaultfd fault backend.
 *
 * Design: the region is private anonymous memory registered for MISSING and
 * WP (write-protect) faults.  An absent page faults as MISSING; a page
 * installed read-only (UFFDIO_COPY with MODE_WP) faults as WP on a write.
 * The faulting thread sleeps in the kernel; the service thread reads the fault
 * from the userfaultfd, runs the protocol, and UFFDIO_COPY / UFFDIO_WRITEPROTECT
 * wake it.  Installing with UFFDIO_COPY is atomic: no thread sees a partial
 * page.  Dropping is MADV_DONTNEED, after which the next touch faults again.
 * Only the service thread calls the operations here.
 *
 * SIGBUS mode (DSM_BACKEND=uffd-sigbus, UFFD_FEATURE_SIGBUS): the kernel
 * queues no fault message; the faulting thread takes SIGBUS, and its handler
 * posts the fault to the service thread and sleeps in the mailbox exactly as
 * the sigsegv backend's does (fault_signal_wait()); the installs are the
 * same ioctls.  The kernel's own accesses to an absent page (a read(2) into
 * the region) then fail with EFAULT instead of waiting, as on the sigsegv
 * backend: that is why the thread mode stays the default.
 */
#include <signal.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "coherence.h"
#include "rc.h"
#include "fault.h"
#include "globals.h"
#include "log.h"
#include "runtime.h"
#include "stats.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

static int uffd = -1;
static int want_sigbus, sigbus_on;
static struct sigaction old_bus;
static uintptr_t ubase;
static size_t usize;
static const uint8_t zero_page[DSM_PAGE_SIZE] __attribute__((aligned(4096)));

static int open_uffd(char *why, size_t len, uint64_t extra)
{
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_PAGEFAULT_FLAG_WP | stats_uffd_features() | extra };
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0 && errno == EPERM) /* unprivileged: user faults only */
		fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (fd < 0) {
		snprintf(why, len, "userfaultfd: %s%s", strerror(errno),
			 errno == EPERM ? " (set vm.unprivileged_userfaultfd=1, or run as root)" : "");
		return -errno;
	}
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		snprintf(why, len, "UFFDIO_API: %s", strerror(errno));
		close(fd);
		return -ENOTSUP;
	}
	if (!(api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP)) {
		snprintf(why, len, "this kernel's userfaultfd has no write-protect mode");
		close(fd);
		return -ENOTSUP;
	}
	return fd;
}

int fault_uffd_probe(char *why, size_t len)
{
	int fd = open_uffd(why, len, 0);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

void fault_uffd_want_sigbus(int on)
{
	want_sigbus = on;
}

int fault_uffd_sigbus(void)
{
	return sigbus_on;
}

static void bus_handler(int sig, siginfo_t *si, void *uctx)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	uint64_t page = addr_page(a); /* the region, or DSM_SHARED globals */

	/* userfaultfd's SIGBUS is BUS_ADRERR from the kernel (si_code > 0); one
	 * sent by kill(2) or for a truncated file elsewhere is not ours. */
	if (page == GLOBALS_NO_PAGE || si->si_code != BUS_ADRERR) {
		fault_signal_chain(&old_bus, sig, si, uctx);
		return;
	}
	fault_signal_wait(a, page, fault_signal_is_write(uctx, page));
}

/* Open the userfaultfd, in SIGBUS mode when asked and offered. */
static int open_for_map(void)
{
	struct sigaction sa;
	char why[160];
	int fd;

	sigbus_on = 0;
	if (want_sigbus) {
		fd = open_uffd(why, sizeof(why), UFFD_FEATURE_SIGBUS);
		if (fd >= 0) {
			memset(&sa, 0, sizeof(sa));
			sa.sa_sigaction = bus_handler;
			/* SA_ONSTACK: as for the sigsegv backend's SIGSEGV */
			sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
			sigemptyset(&sa.sa_mask);
			if (sigaction(SIGBUS, &sa, &old_bus) < 0) {
				int err = errno;
				log_err("sigaction(SIGBUS): %s", strerror(err));
				close(fd);
				return -err;
			}
			sigbus_on = 1;
			return fd;
		}
		log_info("userfaultfd without SIGBUS mode (%s): faults go through the service thread", why);
	}
	fd = open_uffd(why, sizeof(why), 0);
	if (fd < 0)
		log_err("%s", why);
	return fd;
}

static void close_uffd(void)
{
	if (sigbus_on)
		sigaction(SIGBUS, &old_bus, NULL);
	sigbus_on = 0;
	close(uffd);
	uffd = -1;
}

static int uffd_map(uintptr_t base, size_t size)
{
	struct uffdio_register reg = {
		.range = { .start = base, .len = size },
		.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP,
	};
	void *p;

	uffd = open_for_map();
	if (uffd < 0)
		return uffd;
	p = mmap((void *)base, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED || p != (void *)base) {
		int err = p == MAP_FAILED ? errno : EEXIST;
		log_err("cannot map the shared region at %#lx (%zu bytes): %s%s", (unsigned long)base, size,
			strerror(err), err == EEXIST ? "; the range is taken: choose another DSM_BASE" : "");
		if (p != MAP_FAILED)
			munmap(p, size);
		close_uffd();
		return -err;
	}
	madvise(p, size, MADV_NOHUGEPAGE);
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
		int err = errno;
		log_err("UFFDIO_REGISTER of the region: %s", strerror(err));
		munmap(p, size);
		close_uffd();
		return -err;
	}
	ubase = base;
	usize = size;
	return 0;
}

static void uffd_unmap(void)
{
	if (uffd < 0)
		return;
	munmap((void *)ubase, usize);
	close_uffd();
}

/* UFFDIO_COPY of `len` bytes from `src` to page `page` and on. */
static int copy_in(uint64_t page, const void *src, size_t len, int writable)
{
	struct uffdio_copy c = {
		.dst = (uintptr_t)page_addr(page),
		.src = (uintptr_t)src,
		.len = len,
		.mode = writable ? 0 : UFFDIO_COPY_MODE_WP,
	};

	while (ioctl(uffd, UFFDIO_COPY, &c) < 0) {
		if (errno == EAGAIN) {
			if (c.copy > 0) { /* part done: go on after it */
				c.dst += (uint64_t)c.copy;
				c.src += (uint64_t)c.copy;
				c.len -= (uint64_t)c.copy;
			}
			c.copy = 0;
			continue;
		}
		log_err("UFFDIO_COPY of page %lu (%zu bytes): %s", (unsigned long)page, len, strerror(errno));
		return -errno;
	}
	return 0;
}

static int uffd_install(uint64_t page, const void *data, int writable)
{
	return copy_in(page, data ? data : zero_page, DSM_PAGE_SIZE, writable);
}

static int uffd_install_zeros(uint64_t page, uint64_t n)
{
	static const uint8_t zeros[COH_ZERO_RUN * DSM_PAGE_SIZE] __attribute__((aligned(4096)));

	for (uint64_t done = 0; done < n; done += COH_ZERO_RUN) {
		uint64_t k = n - done < COH_ZERO_RUN ? n - done : COH_ZERO_RUN;
		int rc = copy_in(page + done, zeros, k * DSM_PAGE_SIZE, 1);
		if (rc)
			return rc;
	}
	return 0;
}

static int set_wp_pages(uint64_t page, uint64_t n, int on)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = (uintptr_t)page_addr(page), .len = n * DSM_PAGE_SIZE },
		.mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) < 0) {
		log_err("UFFDIO_WRITEPROTECT(%s) of page %lu (%lu pages): %s", on ? "on" : "off",
			(unsigned long)page, (unsigned long)n, strerror(errno));
		return -errno;
	}
	return 0;
}

static int uffd_upgrade(uint64_t page, uint64_t n)
{
	return set_wp_pages(page, n, 0); /* clearing WP wakes the waiting writers */
}

static int uffd_downgrade(uint64_t page, uint64_t n)
{
	return set_wp_pages(page, n, 1);
}

static int uffd_drop(uint64_t page, uint64_t n)
{
	if (madvise(page_addr(page), n * DSM_PAGE_SIZE, MADV_DONTNEED) < 0) {
		log_err("MADV_DONTNEED of page %lu (%lu pages): %s", (unsigned long)page, (unsigned long)n,
			strerror(errno));
		return -errno;
	}
	return 0;
}

static const void *uffd_peek(uint64_t page)
{
	/* Only called for pages this rank holds: reading cannot fault. */
	return page_addr(page);
}

static void uffd_wake(uint64_t page)
{
	struct uffdio_range r = { .start = (uintptr_t)page_addr(page), .len = DSM_PAGE_SIZE };

	if (sigbus_on)
		return; /* nobody sleeps in the kernel: waiters are mailbox requests */
	if (ioctl(uffd, UFFDIO_WAKE, &r) < 0)
		log_err("UFFDIO_WAKE of page %lu: %s", (unsigned long)page, strerror(errno));
}

static int uffd_event_fd(void)
{
	return sigbus_on ? -1 : uffd; /* SIGBUS mode queues no messages */
}

static void uffd_handle_events(void)
{
	struct uffd_msg msgs[64];

	for (;;) {
		ssize_t n = read(uffd, msgs, sizeof(msgs));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				rt_fatal("reading userfaultfd: %s", strerror(errno));
			return;
		}
		for (size_t i = 0; i < (size_t)n / sizeof(msgs[0]); i++) {
			struct uffd_msg *m = &msgs[i];
			uint64_t flags;
			if (m->event != UFFD_EVENT_PAGEFAULT)
				continue;
			flags = m->arg.pagefault.flags;
			stats_uffd_fault(m->arg.pagefault.feat.ptid, m->arg.pagefault.address);
			uint64_t page = addr_page(m->arg.pagefault.address); /* region or globals */
			coh_thread_moved((int32_t)m->arg.pagefault.feat.ptid, page);
			coh_ops_for(page)->fault(page, (flags & (UFFD_PAGEFAULT_FLAG_WRITE | UFFD_PAGEFAULT_FLAG_WP)) != 0,
						 NULL);
		}
		if ((size_t)n < sizeof(msgs))
			return;
	}
}

const struct fault_backend fault_uffd = {
	.name = "uffd",
	.map = uffd_map,
	.unmap = uffd_unmap,
	.install = uffd_install,
	.install_zeros = uffd_install_zeros,
	.upgrade = uffd_upgrade,
	.downgrade = uffd_downgrade,
	.wp_spans = 1, /* write protection skips absent pages (no UFFD_FEATURE_WP_UNPOPULATED) */
	.drop = uffd_drop,
	.peek = uffd_peek,
	.wake = uffd_wake,
	.event_fd = uffd_event_fd,
	.handle_events = uffd_handle_events,
};

/* ---- DSM_SHARED globals (globals.c): more ranges under the same uffd ---- */

/* The section's pages become anonymous memory (userfaultfd cannot watch a
 * file mapping), registered like the region's, every page absent.  The
 * caller kept what it needed of the old contents. */
int fault_uffd_map_extra(uintptr_t addr, size_t len)
{
	struct uffdio_register reg = {
		.range = { .start = addr, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP,
	};
	void *p;

	p = mmap((void *)addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
		 -1, 0);
	if (p == MAP_FAILED) {
		log_err("mmap over the DSM_SHARED variables at %#lx (%zu bytes): %s", (unsigned long)addr, len,
			strerror(errno));
		return -errno;
	}
	madvise(p, len, MADV_NOHUGEPAGE);
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
		log_err("UFFDIO_REGISTER of the DSM_SHARED variables at %#lx: %s", (unsigned long)addr,
			strerror(errno));
		return -errno;
	}
	return 0;
}

/* Ordinary memory again: writable, what this rank held stays. */
void fault_uffd_unmap_extra(uintptr_t addr, size_t len)
{
	struct uffdio_writeprotect wp = { .range = { .start = addr, .len = len }, .mode = 0 };
	struct uffdio_range r = { .start = addr, .len = len };

	if (uffd < 0)
		return;
	ioctl(uffd, UFFDIO_WRITEPROTECT, &wp);
	if (ioctl(uffd, UFFDIO_UNREGISTER, &r) < 0)
		log_err("UFFDIO_UNREGISTER of the DSM_SHARED variables at %#lx: %s", (unsigned long)addr,
			strerror(errno));
}
