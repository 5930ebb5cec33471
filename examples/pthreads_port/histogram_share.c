/*
 * histogram_share.c - histogram_pthreads.c ported to dsm with dsmcc
 * --share-globals: the globals stay as they were, shared by the ranks as
 * they were by the threads; the threads became ranks, the mutex a dsm_lock
 * and the barriers (pthread's, and the joins) dsm_barrier.  docs/porting.md
 * shows the diff.  Build and run:
 *   bin/dsmcc --share-globals -O2 examples/pthreads_port/histogram_share.c -o histogram_share
 *   bin/dsmexec -n 4 ./histogram_share
 */
#include <dsm.h>
#include <stdio.h>
#include <stdlib.h>

#define N (1 << 20)
#define BINS 16
#define LOCK 1 /* any 64-bit id names a lock */

unsigned data[N];
long hist[BINS];
struct { long total; int done; } summary = { 0, 0 };

static void work(int me, int n)
{
	long mine[BINS] = { 0 };

	for (int i = me; i < N; i += n)
		data[i] = (unsigned)i * 2654435761u;
	dsm_barrier();
	for (int i = me * (N / n); i < (me + 1) * (N / n); i++)
		mine[data[i] % BINS]++;
	dsm_lock(LOCK);
	for (int b = 0; b < BINS; b++)
		hist[b] += mine[b];
	summary.total += N / n;
	summary.done++;
	dsm_unlock(LOCK);
}

int main(int argc, char **argv)
{
	int rc = 0;

	if (dsm_init(&argc, &argv))
		return 1;
	if (N % dsm_size())
		return fprintf(stderr, "%d ranks do not divide %d\n", dsm_size(), N), 1;
	work(dsm_rank(), dsm_size());
	dsm_barrier();
	if (dsm_rank() == 0) {
		for (int b = 0; b < BINS; b++)
			printf("bin %2d: %ld\n", b, hist[b]);
		printf("%d workers counted %ld values\n", summary.done, summary.total);
		rc = summary.total == N ? 0 : 1;
	}
	return dsm_finalize() || rc;
}
