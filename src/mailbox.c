/*
 * mailbox.c - see mailbox.h.
 *
 * Design: a Treiber stack of requests.  Producers (any thread, signal
 * handlers included) push with a CAS; the single consumer (the service
 * thread) swaps the whole stack out and reverses it to arrival order, so
 * there is no ABA problem.  A producer that finds the stack empty writes the
 * eventfd; the consumer reads it before draining, so no wake-up is lost.
 */
#include "mailbox.h"

#include <errno.h>
#include <sched.h>
#include <linux/futex.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "net.h"

static _Atomic(struct mbox_req *) head;
static int efd = -1;
static int64_t spin_ns;
static atomic_int waiting; /* callers not yet answered */

/* A sched_yield() that took this long ran another thread: the CPU is
 * wanted, and polling on it would slow whoever needs it. */
#define YIELD_CONTENDED_NS 5000

int mbox_init(int64_t spin)
{
	spin_ns = spin;
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	atomic_store(&head, NULL);
	return efd < 0 ? -errno : efd;
}

void mbox_fini(void)
{
	if (efd >= 0)
		close(efd);
	efd = -1;
}

void mbox_begin(struct mbox_req *req)
{
	atomic_store_explicit(&req->done, 0, memory_order_relaxed);
	req->tid = (int32_t)syscall(SYS_gettid);
	atomic_fetch_add_explicit(&waiting, 1, memory_order_relaxed);
}

void mbox_submit(struct mbox_req *req)
{
	struct mbox_req *old = atomic_load(&head);
	uint64_t one = 1;
	int saved = errno;

	do
		req->next = old;
	while (!atomic_compare_exchange_weak(&head, &old, req));
	if (!old) {
		while (write(efd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
	}
	errno = saved;
}

int mbox_end(struct mbox_req *req)
{
	mbox_wait(req);
	atomic_fetch_sub_explicit(&waiting, 1, memory_order_relaxed);
	return req->result;
}

int mbox_call(struct mbox_req *req)
{
	mbox_begin(req);
	mbox_submit(req);
	return mbox_end(req);
}

int mbox_pending(void)
{
	return atomic_load_explicit(&head, memory_order_relaxed) != NULL;
}

int mbox_wait(struct mbox_req *req)
{
	int saved = errno;

	if (spin_ns) {
		/* The answer often comes within microseconds: yielding, not
		 * sleeping, keeps this CPU from going idle (waking an idle CPU
		 * costs tens of microseconds on a virtual machine). */
		int64_t end = now_ns() + spin_ns;
		while (!atomic_load_explicit(&req->done, memory_order_acquire) && now_ns() < end)
			if (mbox_yield())
				break;
	}
	while (!atomic_load_explicit(&req->done, memory_order_acquire))
		syscall(SYS_futex, &req->done, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	errno = saved;
	return req->result;
}

int mbox_yield(void)
{
	int64_t t0 = now_ns();

	sched_yield();
	return now_ns() - t0 > YIELD_CONTENDED_NS;
}

int mbox_waiting(void)
{
	return atomic_load_explicit(&waiting, memory_order_relaxed);
}

struct mbox_req *mbox_drain(void)
{
	struct mbox_req *list, *rev = NULL;
	uint64_t n;

	while (read(efd, &n, sizeof(n)) < 0 && errno == EINTR)
		;
	list = atomic_exchange(&head, NULL);
	while (list) {
		struct mbox_req *next = list->next;
		list->next = rev;
		rev = list;
		list = next;
	}
	return rev;
}

void mbox_complete(struct mbox_req *req, int result)
{
	req->result = result;
	atomic_store_explicit(&req->done, 1, memory_order_release);
	/* The waiter may return and reuse its stack as soon as it sees done;
	 * a wake on a stale address only wakes nobody (or spuriously). */
	syscall(SYS_futex, &req->done, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
