/*
 * fault.h - the fault backend interface.
 *
 * A backend maps the region at the same address in every rank, catches the
 * application's accesses to pages this rank does not hold (or holds
 * read-only, for writes) and reports them to the coherence engine with
 * coh_fault(); the engine answers by calling the operations below, always on
 * the service thread.  Two backends:
 *   - uffd:    userfaultfd, missing + write-protect modes; faults arrive on a
 *              file descriptor the service thread polls, or, in SIGBUS mode
 *              (DSM_BACKEND=uffd-sigbus), as SIGBUS on the faulting thread,
 *              whose handler waits as the sigsegv backend's does.
 *   - sigsegv: mprotect + a SIGSEGV handler; pages are filled through a second,
 *              always-writable mapping of the same memory, so no thread ever
 *              sees a half-written page.
 * Page states as the application sees them: no access, read-only, read-write.
 */
#ifndef DSM_FAULT_H
#define DSM_FAULT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct fault_backend {
	const char *name;
	/* Map [base, base+size) (fixed address, must be free).  Returns 0 or
	 * -errno after logging why. */
	int (*map)(uintptr_t base, size_t size);
	void (*unmap)(void);
	/* Fill an absent page with data (NULL: zeros) and open it for reading,
	 * or reading and writing; wakes threads waiting on it. */
	int (*install)(uint64_t page, const void *data, int writable);
	/* Pages [page, page + n), absent and never written at this rank, all
	 * in the region, become writable zeros, in one go. */
	int (*install_zeros)(uint64_t page, uint64_t n);
	/* Pages [page, page + n) (n > 1: all in the region), read-only ->
	 * read-write (the data is current); wakes waiters. */
	int (*upgrade)(uint64_t page, uint64_t n);
	/* Pages [page, page + n) (n > 1: all in the region), read-write ->
	 * read-only: once it returns no thread can write them.  One call for
	 * a run of pages makes one TLB shootdown, not n.  With wp_spans the
	 * run may hold read-only and absent pages, which stay as they are. */
	int (*downgrade)(uint64_t page, uint64_t n);
	int wp_spans;
	/* Pages [page, page + n) (n > 1: all in the region), present ->
	 * absent. */
	int (*drop)(uint64_t page, uint64_t n);
	/* Where the service thread may read a present page's bytes. */
	const void *(*peek)(uint64_t page);
	/* Where the service thread may write a present page's bytes in place
	 * while the application's view keeps its protection; NULL (or no
	 * function) where the backend has no such view. */
	void *(*poke)(uint64_t page);
	/* Wake threads waiting on a page whose access is already allowed. */
	void (*wake)(uint64_t page);
	/* File descriptor the service thread polls, or -1. */
	int (*event_fd)(void);
	/* Called when event_fd is readable: report faults with coh_fault(). */
	void (*handle_events)(void);
};

extern const struct fault_backend fault_uffd, fault_segv;

/* Can userfaultfd be used here?  0, or -errno with `why` filled in. */
int fault_uffd_probe(char *why, size_t len);

/* Before map: ask for userfaultfd's SIGBUS mode (UFFD_FEATURE_SIGBUS);
 * where the kernel lacks it the thread mode is used.  After map: 1 when the
 * SIGBUS mode is on. */
void fault_uffd_want_sigbus(int on);
int fault_uffd_sigbus(void);

/* From a fault signal's handler, for `addr` in page `page` (fault_segv.c):
 * was it a write (from the CPU's error code where there is one), and post
 * the fault to the service thread and sleep until the page is served.
 * Async-signal-safe. */
int fault_signal_is_write(void *uctx, uint64_t page);
void fault_signal_wait(uintptr_t addr, uint64_t page, int write);
/* A fault outside the region goes to the handler that was there before. */
void fault_signal_chain(const struct sigaction *old, int sig, siginfo_t *si, void *uctx);

#endif
