/*
 * ckpt_demo - a long computation that survives the death of a rank.
 *
 * A ring of cells in the shared region evolves for a number of steps: each
 * rank computes its band of cells from the previous step's values (and both
 * neighbours'), a barrier separates the steps, and every rank counts its
 * updates into a shared counter under a lock.  The number of steps done is
 * kept in shared memory too, and every K steps the job checkpoints.  When a
 * rank dies (kill -9, a crash, a lost machine) the job ends; started again
 * with --restart it resumes from the last checkpoint, and its result is the
 * one an uninterrupted run gives (rank 0 checks it against the same
 * computation done in one process).
 *
 *   dsmexec -n 4 bin/ckpt_demo [options] DIR           run, checkpointing into DIR
 *   dsmexec -n 4 --restart DIR bin/ckpt_demo [options] DIR   resume
 *
 *   -s STEPS   steps to run (default 200)
 *   -k K       checkpoint every K steps (default 20)
 *   -c CELLS   cells in the ring (default 65536)
 *   -d MS      sleep MS milliseconds per step, to leave time for a kill -9
 *   -x R@S     rank R kills itself with SIGKILL at step S (not after a restart)
 */
#include <dsm.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOCK_UPDATES 0xc4b7u

/* In the region: this header on a page of its own, then two grids. */
struct state {
	uint64_t cells, steps_done, updates;
};

static uint64_t rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static uint64_t cell(uint64_t l, uint64_t c, uint64_t r, uint64_t step)
{
	return (rotl(l, 7) ^ (c * 0x9e3779b97f4a7c15ULL)) + (rotl(r, 13) ^ step);
}

static void sweep(const uint64_t *old, uint64_t *new, uint64_t n, uint64_t lo, uint64_t hi, uint64_t step)
{
	for (uint64_t i = lo; i < hi; i++)
		new[i] = cell(old[(i + n - 1) % n], old[i], old[(i + 1) % n], step);
}

static uint64_t digest(const uint64_t *g, uint64_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (uint64_t i = 0; i < n; i++)
		h = (h ^ g[i]) * 0x100000001b3ULL;
	return h;
}

static void usage(void)
{
	fprintf(stderr, "usage: ckpt_demo [-s steps] [-k every] [-c cells] [-d ms] [-x rank@step] DIR\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned long steps = 200, every = 20, cells = 65536, delay_ms = 0, die_rank = 0, die_step = 0;
	int opt, me, nr, rc, die = 0;
	struct state *st;
	uint64_t *grid[2], lo, hi, start;
	const char *dir;

	rc = dsm_init(&argc, &argv);
	if (rc) {
		fprintf(stderr, "ckpt_demo: dsm_init: %s\n", strerror(-rc));
		return 1;
	}
	while ((opt = getopt(argc, argv, "s:k:c:d:x:")) != -1) {
		switch (opt) {
		case 's': steps = strtoul(optarg, NULL, 10); break;
		case 'k': every = strtoul(optarg, NULL, 10); break;
		case 'c': cells = strtoul(optarg, NULL, 10); break;
		case 'd': delay_ms = strtoul(optarg, NULL, 10); break;
		case 'x':
			if (sscanf(optarg, "%lu@%lu", &die_rank, &die_step) != 2)
				usage();
			die = 1;
			break;
		default: usage();
		}
	}
	if (optind != argc - 1 || every == 0 || cells < 2)
		usage();
	dir = argv[optind];
	me = dsm_rank();
	nr = dsm_size();

	/* Named, so a restarted job finds it at the same address, as it was. */
	st = dsm_alloc_named("ckpt_demo", 4096 + 2 * cells * sizeof(uint64_t));
	if (!st) {
		fprintf(stderr, "ckpt_demo: dsm_alloc_named: %s\n", strerror(errno));
		return 1;
	}
	grid[0] = (uint64_t *)((char *)st + 4096);
	grid[1] = grid[0] + cells;
	if (dsm_checkpoint_restored()) {
		if (st->cells != cells) {
			fprintf(stderr, "ckpt_demo: the checkpoint has %lu cells, not %lu\n", (unsigned long)st->cells,
				cells);
			return 1;
		}
		die = 0;
		if (me == 0)
			printf("ckpt_demo: resumed from the checkpoint after step %lu\n", (unsigned long)st->steps_done);
	} else if (me == 0) {
		st->cells = cells;
		for (uint64_t i = 0; i < cells; i++)
			grid[0][i] = i * 0x2545f4914f6cdd1dULL + 1;
	}
	dsm_barrier();

	start = st->steps_done;
	lo = cells * (uint64_t)me / (uint64_t)nr;
	hi = cells * (uint64_t)(me + 1) / (uint64_t)nr;
	for (uint64_t s = start; s < steps; s++) {
		if (die && me == (int)die_rank && s == die_step) {
			printf("ckpt_demo: rank %d kills itself at step %lu\n", me, (unsigned long)s);
			fflush(stdout);
			raise(SIGKILL);
		}
		sweep(grid[s & 1], grid[(s + 1) & 1], cells, lo, hi, s);
		dsm_lock(LOCK_UPDATES);
		st->updates += hi - lo;
		dsm_unlock(LOCK_UPDATES);
		if (delay_ms)
			usleep((useconds_t)(delay_ms * 1000));
		dsm_barrier();
		if (me == 0)
			st->steps_done = s + 1;
		if ((s + 1) % every == 0 && s + 1 < steps) {
			/* Starts with a barrier, which orders rank 0's store above. */
			rc = dsm_checkpoint(dir);
			if (rc) {
				fprintf(stderr, "ckpt_demo: dsm_checkpoint: %s\n", strerror(-rc));
				return 1;
			}
			if (me == 0) {
				printf("ckpt_demo: checkpoint after step %lu\n", (unsigned long)(s + 1));
				fflush(stdout); /* a pipe to the launcher: show it before a kill */
			}
		}
	}
	dsm_barrier();

	if (me == 0) {
		uint64_t *a = malloc(cells * sizeof(uint64_t)), *b = malloc(cells * sizeof(uint64_t)), *t;
		uint64_t got = digest(grid[steps & 1], cells), want;
		int ok;

		if (!a || !b)
			return 1;
		for (uint64_t i = 0; i < cells; i++)
			a[i] = i * 0x2545f4914f6cdd1dULL + 1;
		for (uint64_t s = 0; s < steps; s++) {
			sweep(a, b, cells, 0, cells, s);
			t = a, a = b, b = t;
		}
		want = digest(a, cells);
		ok = got == want && st->updates == (uint64_t)steps * cells;
		printf("ckpt_demo: %lu steps of %lu cells on %d ranks: result %016llx, %llu updates: %s\n", steps,
		       cells, nr, (unsigned long long)got, (unsigned long long)st->updates,
		       ok ? "matches a one-process run" : "WRONG");
		free(a);
		free(b);
		if (!ok)
			return 1;
	}
	return dsm_finalize() ? 1 : 0;
}
