/*
 * Description: several application threads per rank fault at once, on pages
 * they share with threads of their own and other ranks and on pages only
 * they use.
 *   threads [threads per rank] [rounds]   (defaults: 4, 30)
 *
 * Layout (words of 8 bytes):
 *   shared pages 0..NSHARED-1: every (rank, thread) owns SLOT consecutive
 *     words on every shared page, so each shared page is written by every
 *     thread of every rank;
 *   private pages: every (rank, thread) owns NPRIV whole pages that no other
 *     thread writes.
 * Each round every thread writes all its words ITERS times (the last pass
 * leaves a value that names the round, rank, thread, page and word), visiting
 * the shared pages in its own order so threads collide on different pages;
 * after each write to a shared page it reads its word back (it must see its
 * own write, wherever the page went meanwhile) and reads another thread's.
 * Then every thread of every rank meets at a barrier (only one thread per
 * rank calls dsm_barrier, between two waits on a pthread barrier) and every
 * thread checks every word of every page, so threads of one rank read-fault
 * on the same pages together.  A second barrier ends the round.
 */
#include <dsm.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define PAGE 4096
#define WORDS (PAGE / 8)
#define NSHARED 6
#define NPRIV 2
#define SLOT 8
#define ITERS 3

static int me, nr, nt, rounds;
static uint64_t *base;
static pthread_barrier_t pbar;
static int failed; /* any thread of this rank saw a wrong value */

static volatile uint64_t *shared_page(int p)
{
	return base + (uint64_t)p * WORDS;
}

static volatile uint64_t *private_page(int rank, int t, int k)
{
	return base + (uint64_t)(NSHARED + ((rank * nt + t) * NPRIV + k)) * WORDS;
}

static uint64_t value(int round, int rank, int t, int page, int word)
{
	return ((uint64_t)(round + 1) << 48) | ((uint64_t)rank << 36) | ((uint64_t)t << 28) |
	       ((uint64_t)page << 12) | (uint64_t)word;
}

static void all_threads_barrier(int t)
{
	pthread_barrier_wait(&pbar);
	if (t == 0) {
		int rc = dsm_barrier();
		if (rc) {
			fprintf(stderr, "rank %d: dsm_barrier: %s\n", me, strerror(-rc));
			exit(1);
		}
	}
	pthread_barrier_wait(&pbar);
}

static int check(int t, int round, volatile uint64_t *w, uint64_t want, const char *what, int page, int word,
		 int *bad)
{
	uint64_t v = *w;

	if (v == want)
		return 0;
	if ((*bad)++ < 5)
		fprintf(stderr, "rank %d thread %d, round %d: %s page %d word %d holds %#lx, expected %#lx\n", me, t,
			round, what, page, word, (unsigned long)v, (unsigned long)want);
	return 1;
}

static void *thread_main(void *arg)
{
	int t = (int)(intptr_t)arg, bad = 0;
	int slot = me * nt + t;

	for (int round = 0; round < rounds; round++) {
		/* write */
		for (int it = 0; it < ITERS; it++) {
			int final = it == ITERS - 1;
			for (int i = 0; i < NSHARED; i++) {
				int p = (i + slot + round) % NSHARED;
				volatile uint64_t *pg = shared_page(p);
				for (int j = 0; j < SLOT; j++) {
					int w = slot * SLOT + j;
					uint64_t v = final ? value(round, me, t, p, w) : (uint64_t)it;
					/* Atomic (relaxed) because another thread reads
					 * it now: a plain access would be a data race. */
					__atomic_store_n(&pg[w], v, __ATOMIC_RELAXED);
					/* Read back at once, and read another thread's
					 * word, so read and write faults on one page
					 * mix within a rank and across ranks. */
					check(t, round, &pg[w], v, "own word (read back) on shared", p, w, &bad);
					(void)__atomic_load_n(&pg[((slot + 1 + j) % (nr * nt)) * SLOT + j],
							      __ATOMIC_RELAXED);
				}
			}
			for (int k = 0; k < NPRIV; k++) {
				volatile uint64_t *pg = private_page(me, t, k);
				for (int w = 0; w < WORDS; w++)
					pg[w] = final ? value(round, me, t, NSHARED + k, w) : (uint64_t)it;
			}
		}
		all_threads_barrier(t);
		/* verify everything, every thread */
		for (int i = 0; i < NSHARED; i++) {
			int p = (i + t) % NSHARED;
			volatile uint64_t *pg = shared_page(p);
			for (int r = 0; r < nr; r++)
				for (int u = 0; u < nt; u++)
					for (int j = 0; j < SLOT; j++) {
						int w = (r * nt + u) * SLOT + j;
						check(t, round, &pg[w], value(round, r, u, p, w), "shared", p, w, &bad);
					}
			for (int w = nr * nt * SLOT; w < WORDS; w++)
				check(t, round, &pg[w], 0, "shared (unused part of)", p, w, &bad);
		}
		for (int r = 0; r < nr; r++)
			for (int u = 0; u < nt; u++)
				for (int k = 0; k < NPRIV; k++) {
					volatile uint64_t *pg = private_page(r, u, k);
					for (int w = 0; w < WORDS; w++)
						check(t, round, &pg[w], value(round, r, u, NSHARED + k, w), "private",
						      NSHARED + k, w, &bad);
				}
		all_threads_barrier(t);
	}
	if (bad)
		__atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
	return NULL;
}

int main(int argc, char **argv)
{
	int rc;
	pthread_t *th;

	nt = argc > 1 ? atoi(argv[1]) : 4;
	rounds = argc > 2 ? atoi(argv[2]) : 30;
	init_or_exit(&argc, &argv);
	me = dsm_rank();
	nr = dsm_size();
	base = dsm_base();
	if (nt < 1 || nt > 255 || rounds < 1 || nr * nt * SLOT > WORDS) {
		fprintf(stderr, "threads: need 1..255 threads, 1+ rounds and ranks x threads <= %d\n",
			WORDS / SLOT);
		return 1;
	}
	th = calloc((size_t)nt, sizeof(*th));
	pthread_barrier_init(&pbar, NULL, (unsigned)nt);
	for (int t = 0; t < nt; t++)
		if (pthread_create(&th[t], NULL, thread_main, (void *)(intptr_t)t)) {
			fprintf(stderr, "pthread_create failed\n");
			return 1;
		}
	for (int t = 0; t < nt; t++)
		pthread_join(th[t], NULL);
	printf("threads: rank %d of %d, %d threads x %d rounds: %s\n", me, nr, nt, rounds,
	       failed ? "WRONG" : "ok");
	rc = dsm_finalize();
	if (rc)
		fprintf(stderr, "rank %d: dsm_finalize: %s\n", me, strerror(-rc));
	free(th);
	return failed || rc ? 1 : 0;
}
