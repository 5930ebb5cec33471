/*
 * dsm.h - the public interface of the dsm distributed shared memory library.
 *
 * N processes ("ranks") map one shared region at the same virtual address and
 * use it with plain loads, stores and pointers; the library moves 4 KiB pages
 * between ranks on demand and keeps every rank's view sequentially consistent.
 *
 * Every function that can fail returns 0 or a negative errno value.
 * A program started without dsmexec is a job of one rank.
 */
#ifndef DSM_H
#define DSM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DSM_VERSION_MAJOR 0
#define DSM_VERSION_MINOR 1

/*
 * Join the job: read what the launcher passed (rank, size, rendezvous address,
 * secret), map the shared region at the same address on every rank, connect to
 * every peer and return once every rank has joined.  argc/argv may be NULL.
 * Returns 0, or a negative errno after printing why.
 */
int dsm_init(int *argc, char ***argv);

/* Collective: wait for every rank, then release every thread, socket and
 * mapping the library made.  Returns 0 or a negative errno. */
int dsm_finalize(void);

/* This process's rank (0..size-1) and the number of ranks in the job. */
int dsm_rank(void);
int dsm_size(void);

/* The shared region: the same address on every rank. */
void *dsm_base(void);
size_t dsm_region_size(void);
size_t dsm_page_size(void);

/* Collective: returns when every rank has entered it.  With serve-only ranks
 * (below) "every rank" means every rank that is not a server; a server gets
 * -EPERM.  One thread of a rank at a time: a second gets -EBUSY.  A
 * dissemination barrier, ceil(log2 n) rounds of one message per rank
 * (dsm_barrier(3)). */
int dsm_barrier(void);

/* Collective, a barrier too (for release consistency as well): every rank
 * that is not a server passes `len` bytes at `mine` (the same len on every
 * rank, at most DSM_GATHER_MAX / the number of such ranks) and gets every
 * rank's, in rank order, at `all` (len times that number of bytes; `mine`
 * and `all` may be in the shared region, but may not overlap).  The data
 * travel with the barrier's own messages: ceil(log2 n) rounds, no rank in
 * the middle (dsm_allgather(3)).  Returns 0 or a negative errno: -EINVAL for
 * a bad argument, -EPERM on a server, -EBUSY from a second thread. */
#define DSM_GATHER_MAX (1u << 20)
int dsm_allgather(const void *mine, size_t len, void *all);

/* Collective, a barrier too: combine `count` values of `type` at `buf`
 * element-wise over the ranks that are not servers, with `op`, and leave
 * the result in `buf` on every rank.  The ranks' values are combined in
 * rank order on every rank, so every rank gets the same bits.  0 or a
 * negative errno, as dsm_allgather(). */
enum dsm_type { DSM_INT32, DSM_INT64, DSM_UINT64, DSM_DOUBLE };
enum dsm_op { DSM_SUM, DSM_MIN, DSM_MAX };
int dsm_allreduce(void *buf, size_t count, enum dsm_type type, enum dsm_op op);

/*
 * ---- Synchronization ----
 *
 * Locks and counting semaphores are named by any 64-bit value: there is no
 * creation step.  Each is managed at a home rank chosen by hashing its id,
 * which queues waiters in arrival order (FIFO), so no waiter starves.
 * Acquiring (dsm_lock, dsm_trylock, dsm_sem_wait) and releasing (dsm_unlock,
 * dsm_sem_post) order memory: what a rank wrote before it released is seen by
 * whoever acquires after.
 *
 * A lock is held by a rank, not a thread: another thread of the holding rank
 * may release it, and a second dsm_lock() from the holding rank waits like
 * anyone else's (locks are not recursive).  A release travels to the home
 * without a reply, so a dsm_trylock() from another rank in the instant after
 * a release may still see -EBUSY.
 *
 * A lock stays cached at the rank that last held it until another rank asks
 * for it: taking and releasing it again there sends nothing and costs about a
 * pthread mutex.  Semaphores and condition variables homed at the calling
 * rank are served in the calling thread when no other rank must be told.
 *
 * A rank that dies while others wait ends the job (the transport notices the
 * lost connection), so no wait outlives it.
 */
/* Wait for the lock; 0, or -EINVAL before dsm_init(). */
int dsm_lock(uint64_t id);
/* Take the lock if it is free: 0, or -EBUSY when some rank (this one
 * included) holds it. */
int dsm_trylock(uint64_t id);
/* 0, or -EPERM when this rank does not hold the lock. */
int dsm_unlock(uint64_t id);

/* Counting semaphores keyed by any 64-bit value, each starting at 0.
 * dsm_sem_wait blocks until the count is positive, then decrements it;
 * waiters are served first come, first served.  dsm_sem_post increments it
 * (or wakes the oldest waiter).  Both return 0, or -EINVAL before dsm_init(). */
int dsm_sem_wait(uint64_t key);
int dsm_sem_post(uint64_t key);

/* Condition variables keyed by any 64-bit value (their own name space, as
 * semaphores have), used with a dsm lock as pthread condition variables are
 * with a mutex.  dsm_cond_wait releases the lock, which this rank must hold,
 * and waits, atomically: a signal or broadcast that comes after the release
 * wakes it; it takes the lock again before it returns (0, or -EPERM when
 * this rank does not hold the lock).  Wake-ups may be spurious: check the
 * predicate in a loop.  dsm_cond_signal wakes at least one waiter, of any
 * rank or thread, when there is one (the oldest); dsm_cond_broadcast wakes
 * every waiter.  All return -EINVAL before dsm_init(). */
int dsm_cond_wait(uint64_t cond, uint64_t lock);
int dsm_cond_signal(uint64_t cond);
int dsm_cond_broadcast(uint64_t cond);

/*
 * ---- The shared heap ----
 *
 * dsm_malloc() returns memory in the shared region, at the same address on
 * every rank, aligned to 16 bytes, not zeroed; any rank may call it, and any
 * rank may dsm_free() it.  Requests above DSM_SMALL_MAX bytes get whole,
 * page-aligned pages of their own, so no unrelated object shares them;
 * smaller ones come from slabs each rank takes for itself, so the small
 * objects of different ranks seldom share a page (only once a rank reuses an
 * object it freed for another).  NULL with
 * errno ENOMEM when the region is full, EINVAL before dsm_init().
 * dsm_free(NULL) does nothing; freeing what the heap did not hand out returns
 * -EINVAL (a second free of a small object is not detected).
 *
 * dsm_alloc_named(): every rank asking for the same name gets the same
 * address.  The first call allocates (page-aligned) and zero-fills it; a later
 * call waits until that is done.  A call with another size fails: NULL, errno
 * EINVAL, and a message naming both sizes.  Names are 1 to DSM_NAME_MAX bytes.
 * dsm_free() of a named object forgets the name too.
 *
 * The heap hands out the region from the top down and keeps its bookkeeping
 * off the region (at rank 0), so a program may use the low end of
 * dsm_base() directly, as long as it stays below what the heap has given out
 * and below the release-consistent part (the region's third quarter, below).
 */
#define DSM_SMALL_MAX 2048
#define DSM_NAME_MAX 255
void *dsm_malloc(size_t size);
int dsm_free(void *ptr);
void *dsm_alloc_named(const char *name, size_t size);

/*
 * ---- Release consistency ----
 *
 * Memory from dsm_malloc_rc() and dsm_alloc_named_rc() (and from dsm_malloc()
 * and dsm_alloc_named() when the job runs with DSM_CONSISTENCY=release) is
 * release-consistent; everything else stays sequentially consistent, and
 * both kinds may be used side by side in one program.  The model:
 *
 *   A write W by rank A to release-consistent memory is visible to a read R
 *   by rank B if A performs a release after W, and B performs an acquire
 *   after that release and before R, the acquire being ordered after the
 *   release by the synchronisation (the lock passed from A's release to B's
 *   acquire, B's dsm_sem_wait was granted by a post that came after A's
 *   dsm_sem_post, or both took part in the same dsm_barrier), or by a chain
 *   of such pairs through other ranks (happens-before is transitive: A
 *   releases L1, C acquires L1 and releases L2, B acquires L2: B sees W).
 *   Releases: dsm_unlock, dsm_sem_post, entering dsm_barrier, dsm_rpc_call
 *   (its call, and the handler's return, which sends the reply),
 *   dsm_release, dsm_finalize.  Acquires: dsm_lock, a successful
 *   dsm_trylock, dsm_sem_wait, leaving dsm_barrier, an RPC's arrival at its
 *   handler and its reply's at the caller, dsm_acquire.  Without such an order a
 *   read may return an older value (not an arbitrary one: some value
 *   written to that location).
 *
 * A data-race-free program (every pair of conflicting accesses of different
 * ranks, one of them a write, is ordered by synchronisation as above) sees
 * exactly what sequential consistency would give it.  Many ranks may write
 * one page at once: writes to different bytes never overwrite each other,
 * even within one word.  Writes of several threads of one rank are seen by
 * each other at once (they share the rank's copy).
 *
 * Release-consistent allocations take whole pages of a part of the region
 * of their own (its third quarter), never shared with sequentially
 * consistent data, so a small one still uses a page.  dsm_free() frees them.
 * A named allocation made by dsm_alloc_named_rc() cannot be asked for with
 * dsm_alloc_named() (and the reverse): NULL, errno EINVAL.
 *
 * dsm_release() publishes this rank's writes to release-consistent memory:
 * when it returns they are at their pages' homes.  dsm_acquire() makes the
 * writes that any rank published before it visible here: with no
 * synchronisation to say which pages changed, it drops every copy this rank
 * holds of release-consistent pages (flushing the ones it wrote first), so
 * the next access of each fetches it again.  Fences for programs that order
 * their ranks otherwise (a flag in sequentially consistent memory: write,
 * dsm_release(), set the flag; see the flag, dsm_acquire(), read).  Both
 * return 0, or -EINVAL before dsm_init().
 */
void *dsm_malloc_rc(size_t size);
void *dsm_alloc_named_rc(const char *name, size_t size);
int dsm_release(void);
int dsm_acquire(void);

/*
 * ---- Remote procedure calls ----
 *
 * dsm_rpc_register() makes `fn` callable under `id` on this rank (NULL
 * removes it; a second registration replaces the first).  It may be called
 * before dsm_init(), and must be for a serve-only rank, which never returns
 * from dsm_init().  Register on every rank before the first call can arrive
 * (for example, before a barrier).
 *
 * dsm_rpc_call() runs the function registered under `id` on `rank` (this rank
 * too) and waits for it.  `arg` holds arg_len bytes; `*reply_len` holds the
 * size of `reply` on entry and the reply's length on return (reply and
 * reply_len may be NULL: no reply).  Both payloads are at most DSM_RPC_MAX
 * bytes.  Returns what the handler returned (0 or a negative errno by
 * convention), or -ENOENT when `rank` has nothing registered under `id`,
 * -EMSGSIZE when arg_len exceeds DSM_RPC_MAX or the handler's reply did not
 * fit, -EINVAL for a bad rank or before dsm_init().  Any number of threads may
 * call at once.
 *
 * The handler runs on a worker thread of the target rank (one per call in
 * progress), so it may touch shared memory, take locks and make calls itself.
 * On entry *reply_len is the caller's reply capacity (0 with reply NULL); the
 * handler sets it to what it wrote.
 */
#define DSM_RPC_MAX (1u << 20)
typedef int (*dsm_rpc_fn)(const void *arg, size_t arg_len, void *reply, size_t *reply_len);
int dsm_rpc_register(uint32_t id, dsm_rpc_fn fn);
int dsm_rpc_call(int rank, uint32_t id, const void *arg, size_t arg_len, void *reply,
		 size_t *reply_len);

/*
 * ---- Serve-only ranks ----
 *
 * `dsmexec --serve N` (environment DSM_SERVERS=N, the same on every rank)
 * makes the last N ranks servers: they serve pages, locks, semaphores and RPCs
 * but never run the program's main work.  A server's dsm_init() does not
 * return: the rank serves until every other rank has called dsm_finalize(),
 * then exits with status 0.  Register RPC handlers before dsm_init().
 * Application barriers count only the other ranks; rank 0 is never a server.
 */
/* The number of server ranks (0 when there are none). */
int dsm_num_servers(void);
/* 1 when `rank` is a server, else 0. */
int dsm_is_server(int rank);

/*
 * ---- Statistics ----
 *
 * Counters of this rank since dsm_init(), always on: each is an add on a path
 * that already sends a message.  A fault is a page request this rank made:
 * threads that fault on one page at once share one request.  Times are the
 * waits in nanoseconds, summed over threads: a fault from its request to its
 * grant, the others around the call.  What one rank counts in pages_out
 * another counts in pages_in.
 *
 * dsm_stats() fills *st (zeros before dsm_init(); after dsm_finalize(), the
 * final counts) and returns 0, or -EINVAL when st is NULL.  DSM_STATS=1
 * (dsmexec --stats) prints them per rank at the end of the job, with the
 * job's total and its hot pages; see dsm_stats(3).  New fields only ever take
 * the place of `reserved`, so the structure keeps its size.
 */
struct dsm_stats {
	uint64_t read_faults;    /* read requests for pages this rank did not hold */
	uint64_t write_faults;   /* write requests, upgrades of a read copy included */
	uint64_t pages_in;       /* pages received from other ranks (zero pages too) */
	uint64_t pages_out;      /* pages sent to other ranks */
	uint64_t page_bytes_in;  /* page data received (a zero page carries none) */
	uint64_t page_bytes_out; /* page data sent */
	uint64_t net_bytes_in;   /* every byte received from peers, headers included */
	uint64_t net_bytes_out;  /* every byte sent to peers */
	uint64_t inv_sent;       /* read copies this rank, as a page's home, revoked */
	uint64_t inv_received;   /* read copies this rank dropped for another's write */
	uint64_t fault_ns;       /* waiting for pages */
	uint64_t locks;          /* dsm_lock() and dsm_trylock() calls */
	uint64_t lock_ns;
	uint64_t barriers;       /* dsm_barrier() calls, dsm_finalize()'s included */
	uint64_t barrier_ns;
	uint64_t sem_waits;      /* dsm_sem_wait() calls */
	uint64_t sem_ns;
	uint64_t rpc_calls;      /* dsm_rpc_call() calls */
	uint64_t rpc_ns;         /* waiting for replies */
	uint64_t rpc_served;     /* calls this rank's handlers ran */
	uint64_t prefetched;     /* pages requested ahead of a sequential reader or writer */
	/* release-consistent memory (dsm_malloc_rc): */
	uint64_t twins;          /* copies kept of pages about to be written */
	uint64_t diffs_sent;     /* diffs made at releases (one per page written; those of
				    pages homed here are applied without a message) */
	uint64_t diff_bytes_sent;
	uint64_t diffs_applied;  /* diffs applied to the master copies of pages homed here */
	uint64_t diff_bytes_applied;
	uint64_t notices_applied; /* other ranks' write notices (intervals) that dropped copies here */
	uint64_t reserved[5];    /* zero */
};
int dsm_stats(struct dsm_stats *st);

/*
 * ---- Advice ----
 *
 * dsm_advise(ptr, len, DSM_ADV_WILL_OVERWRITE): this rank promises to write
 * every byte of [ptr, ptr + len) before it reads any of it.  The call asks
 * at once, one message per home and without waiting, for the ownership of
 * each page wholly inside the range (pages it only shares are left alone;
 * up to 64 MiB, the rest on their first write fault) without its data: the
 * other copies are invalidated as for any write, and the page starts here as
 * zeros (or keeps this rank's read copy).  The advice is spent by the grant;
 * give it again before each overwrite phase.  A page this rank already holds
 * writable is left alone (nothing would be fetched).  From the call until the
 * writer has overwritten a page, another rank that reads it may see zeros
 * instead of the old contents: order such reads before the call or after the
 * phase (a barrier).  Only for
 * sequentially consistent memory (release-consistent pages ignore it).
 * Returns 0; -EINVAL for other advice, a range outside the shared region, or
 * before dsm_init().  A no-op on a job of one rank.
 */
#define DSM_ADV_WILL_OVERWRITE 1
/*
 * dsm_advise(ptr, len, DSM_ADV_WILL_READ): this rank will soon read [ptr,
 * ptr + len) (a block another rank wrote: a transpose's source, an
 * exchange's incoming part).  The call asks at once, one message per home
 * and without waiting, for a read copy of each page the range touches that
 * this rank does not hold (up to 64 MiB), as read-ahead would, so the
 * reader finds them here or on their way instead of faulting its way
 * through.  It changes nothing the program sees: a page written again
 * before the read is fetched again as usual.  Only for sequentially
 * consistent memory.
 */
#define DSM_ADV_WILL_READ 2
int dsm_advise(void *ptr, size_t len, int advice);

/*
 * ---- Shared global variables ----
 *
 * DSM_SHARED in front of a variable's definition at file scope makes it
 * shared by every rank, with the same coherence as the region:
 *
 *     DSM_SHARED double grid[1024][1024];      zero on every rank
 *     DSM_SHARED struct state st = { .n = 4 }; starts as rank 0's copy
 *
 * The program uses it as an ordinary variable.  Until dsm_init() it is this
 * process's own; dsm_init() makes rank 0's contents at that moment (its
 * initialisers, unless rank 0 changed them first) the value every rank sees,
 * and from then on a store by any rank is seen by all.  This works in the
 * program and in the shared libraries it links (each module's variables are
 * found at dsm_init), PIE or not, with gcc and clang.  Call dsm_init() before
 * starting threads that touch them.  After dsm_finalize() they are private
 * again, each rank keeping the pages it held last (others read as zeros).
 *
 * Each variable starts on a page of its own, and a module's shared variables
 * fill whole pages (4 KiB; a one-byte variable takes a page), so nothing
 * private shares a page with them.  They are stored in the binary: a
 * DSM_SHARED array of 4 MiB makes the file 4 MiB larger.  Not for const or
 * thread-local variables, nor inside functions.  Give them external linkage
 * (no `static`): the compiler may assume that no call into another file
 * changes a static variable whose address never leaves its file, and keep
 * its value in a register across dsm_barrier() or dsm_lock().
 *
 * Every rank must run the same binary at the same addresses: dsmexec starts
 * each rank with address-space randomisation off, and dsm_init() refuses a
 * job whose ranks differ (another build of the program or of a library with
 * DSM_SHARED variables, or the variables at other addresses: a rank started
 * by hand without `setarch -R`), naming the ranks and the difference.  So
 * the address of a global or of a function is the same on every rank: it may
 * be stored in shared memory or passed in an RPC payload.
 */
/*
 * A library's header declares its DSM_SHARED variables for the programs that
 * use them with DSM_SHARED_EXTERN instead of extern:
 *
 *     DSM_SHARED_EXTERN int table[1500];
 *
 * so that a PIE program (the default of most distributions' gcc and clang)
 * reaches them in the library rather than through a private copy of its own
 * (a copy relocation).  A non-PIE program needs -mno-direct-extern-access
 * (gcc 12 or later) or -fno-direct-access-external-data (clang) for that.
 * dsm_init() refuses a program that holds such a copy, naming the variable.
 * (The declaration is weak: a program linked without the library sees the
 * variable's address as NULL instead of failing to link.)
 */
#define DSM_SHARED_EXTERN extern __attribute__((weak))
#if defined(__ELF__)
#define DSM_SHARED __attribute__((section("dsm_shared"), aligned(4096)))
/* Pad this file's share of the section to whole pages: a subsection the
 * assembler places after every variable, whatever order they came in. */
__asm__(".pushsection dsm_shared,\"aw\",@progbits\n\t.subsection 8191\n\t.balign 4096\n\t.popsection");
/*
 * DSM_SHARED_RC: the same, in release-consistent memory (see dsm_malloc_rc()
 * and DSM_SHARED_RC(3)): a store by one rank is seen by another after the
 * writer's next release (dsm_unlock, dsm_sem_post, dsm_barrier, ...) and the
 * reader's acquire that follows it; ranks may write different bytes of one
 * page at once and both writes survive.
 *
 *     DSM_SHARED_RC long hits[64];          each rank counts in its own slot
 */
#define DSM_SHARED_RC __attribute__((section("dsm_shared_rc"), aligned(4096)))
__asm__(".pushsection dsm_shared_rc,\"aw\",@progbits\n\t.subsection 8191\n\t.balign 4096\n\t.popsection");
#endif
/*
 * `dsmcc --share-globals` (dsmcc(1)) shares every global and static variable
 * of the program's own objects, as threads share them.  DSM_PRIVATE in front
 * of one's definition keeps it each rank's own: per-rank state, a buffer
 * handed to libc (setvbuf), a pthread mutex of the rank's own threads.
 *
 *     DSM_PRIVATE int verbose;         each rank sets its own
 *
 * It is stored in the file even when zero; without --share-globals it
 * changes nothing.
 */
#define DSM_PRIVATE __attribute__((section(".data.dsm_private")))

/*
 * ---- Checkpoint and restart ----
 *
 * dsm_checkpoint(): collective, like a barrier: every rank calls it with the
 * same `dir`, which every rank can reach at the same path (one machine, or a
 * shared file system).  It saves the region's contents and the heap's state
 * to `dir` as a new generation and makes it the current one only once every
 * part is on disk, so a failure at any moment (of a rank, of the machine)
 * leaves the previous checkpoint usable.  While it runs no other thread of
 * any rank may write to the region or allocate (no RPC handler either): what
 * it saves is then the region as of the moment every rank entered.  Returns
 * 0 on every rank when the checkpoint was committed; otherwise a negative
 * errno (-EIO on a rank whose own part was written but the checkpoint as a
 * whole was not), after printing why.  -ENOTSUP in a job with serve-only
 * ranks; -EINVAL before dsm_init().
 *
 * A job started with `dsmexec --restart DIR` (DSM_RESTART=DIR on every rank)
 * begins with the region, the named allocations and the heap as the current
 * checkpoint in DIR left them; its dsm_init() fails, saying why, when the
 * checkpoint is of a job of another shape (ranks, DSM_BASE, DSM_SIZE,
 * DSM_HOME) or a file in it is damaged.  dsm_checkpoint_restored() says
 * whether this job began so (1) or empty (0).  Locks, semaphores and RPC
 * registrations are not saved: a restarted job begins with every lock free
 * and every semaphore at 0.
 */
int dsm_checkpoint(const char *dir);
int dsm_checkpoint_restored(void);

#ifdef __cplusplus
}
#endif

#endif /* DSM_H */
