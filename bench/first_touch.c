/*
 * first_touch - the first write of fresh memory on one rank: dsm's shared
 * region against plain anonymous memory (mmap) in the same process.
 *
 *   bin/first_touch [MiB]            (default 64; one rank, no dsmexec needed)
 *
 * Each repetition writes one byte of every page of a fresh dsm_malloc block
 * and of a fresh mmap of the same size, alternately, timing every MiB: the
 * cost per page.  On one rank every page's home is this rank, so dsm has
 * nothing to fetch: what it costs beyond the kernel's own fault is what the
 * library adds (issue 20: about a kernel page fault).
 */
#include "bench.h"

#include <sys/mman.h>

#define MIB (1u << 20)

/* Write a byte of every page of [a, a + bytes), timing each MiB in us per page. */
static void touch(char *a, size_t bytes, size_t ps, double *t)
{
	for (size_t m = 0; m < bytes / MIB; m++) {
		double t0 = bench_now_us();
		for (size_t off = m * MIB; off < (m + 1) * MIB; off += ps)
			a[off] = 1;
		t[m] = (bench_now_us() - t0) / (double)(MIB / ps);
	}
}

int main(int argc, char **argv)
{
	struct bench_fig *fdsm, *fmmap;
	size_t bytes, ps, nchunk;
	double *t;

	if (bench_init("first_touch", &argc, &argv))
		return 1;
	bytes = (size_t)(argc > 1 ? atol(argv[1]) : 64) * MIB;
	nchunk = bytes / MIB;
	ps = dsm_page_size();
	if (dsm_size() != 1 || !nchunk || (size_t)bench.reps * bytes + MIB > dsm_region_size()) {
		fprintf(stderr, "first_touch: run on one rank, with MiB >= 1 and reps x MiB within the region\n");
		return 2;
	}
	if (!(t = malloc(nchunk * sizeof(double))))
		bench_die("malloc", ENOMEM);
	bench_context("1 rank, backend %s, %zu MiB per repetition", bench_backend(), nchunk);
	fdsm = bench_fig("first_touch_dsm", "first touch, dsm region", "us/page", 0);
	fmmap = bench_fig("first_touch_mmap", "first touch, mmap", "us/page", 0);
	for (int r = 0; r < bench.reps; r++) {
		char *a = dsm_malloc(bytes); /* fresh pages: never touched by anyone */
		char *b = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (!a || b == MAP_FAILED)
			bench_die("allocating the blocks", ENOMEM);
		touch(a, bytes, ps, t);
		bench_rep(fdsm, t, nchunk);
		touch(b, bytes, ps, t);
		bench_rep(fmmap, t, nchunk);
		munmap(b, bytes); /* the dsm block stays: freed pages are no longer fresh */
	}
	bench_target("first touch p50, dsm / mmap", bench_p50(fdsm) / bench_p50(fmmap), 1, 2);
	bench_report();
	free(t);
	return dsm_finalize() ? 1 : 0;
}
