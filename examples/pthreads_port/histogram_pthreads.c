/*
 * histogram_pthreads.c - the program before the port: NTHREADS threads fill
 * a global array, then count its values into a global histogram under a
 * mutex.  Build: cc -O2 -pthread histogram_pthreads.c -o histogram_pthreads
 * The port to dsm is ../port_histogram.c; docs/porting.md shows the diff.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define NTHREADS 4
#define N (1 << 20)
#define BINS 16

unsigned data[N];
long hist[BINS];
struct { long total; int done; } summary = { 0, 0 };
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t barrier;

static void *work(void *arg)
{
	int me = (int)(long)arg, n = NTHREADS;
	long mine[BINS] = { 0 };

	for (int i = me; i < N; i += n)
		data[i] = (unsigned)i * 2654435761u;
	pthread_barrier_wait(&barrier);
	for (int i = me * (N / n); i < (me + 1) * (N / n); i++)
		mine[data[i] % BINS]++;
	pthread_mutex_lock(&lock);
	for (int b = 0; b < BINS; b++)
		hist[b] += mine[b];
	summary.total += N / n;
	summary.done++;
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(void)
{
	pthread_t t[NTHREADS];

	pthread_barrier_init(&barrier, NULL, NTHREADS);
	for (long i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, work, (void *)i);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	for (int b = 0; b < BINS; b++)
		printf("bin %2d: %ld\n", b, hist[b]);
	printf("%d workers counted %ld values\n", summary.done, summary.total);
	return summary.total == N ? 0 : 1;
}
