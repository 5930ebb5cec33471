/*
 * vector_add - rank 0 allocates two vectors on the shared heap and fills
 * them, and publishes the pointers in a named block: a pointer into the
 * region means the same thing on every rank.  Every rank adds its share into
 * a third vector; rank 0 checks the sum.
 *
 *   dsmexec -n 4 bin/vector_add [elements]     (default 262144)
 */
#include <dsm.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vectors {
	double *a, *b, *c;
	size_t n;
};

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 262144;
	int rc = dsm_init(&argc, &argv), me, workers;
	struct vectors *v;
	size_t lo, hi, per, bad = 0;

	if (rc) {
		fprintf(stderr, "dsm_init: %s\n", strerror(-rc));
		return 1;
	}
	me = dsm_rank();
	workers = dsm_size() - dsm_num_servers();
	v = dsm_alloc_named("vector_add", sizeof(*v));
	if (!v || n <= 0) {
		fprintf(stderr, "vector_add: %s\n", v ? "the length must be positive" : strerror(errno));
		return 1;
	}
	if (me == 0) {
		v->n = (size_t)n;
		v->a = dsm_malloc(v->n * sizeof(double));
		v->b = dsm_malloc(v->n * sizeof(double));
		v->c = dsm_malloc(v->n * sizeof(double));
		if (!v->a || !v->b || !v->c) {
			fprintf(stderr, "dsm_malloc: %s\n", strerror(errno));
			return 1;
		}
		for (size_t i = 0; i < v->n; i++) {
			v->a[i] = (double)i;
			v->b[i] = 2.0 * (double)i;
		}
	}
	dsm_barrier();
	per = (v->n + (size_t)workers - 1) / (size_t)workers;
	lo = (size_t)me * per;
	hi = lo + per < v->n ? lo + per : v->n;
	for (size_t i = lo; i < hi; i++)
		v->c[i] = v->a[i] + v->b[i];
	dsm_barrier();
	if (me == 0) {
		for (size_t i = 0; i < v->n; i++)
			if (v->c[i] != 3.0 * (double)i && bad++ < 5)
				fprintf(stderr, "vector_add: c[%zu] = %g, expected %g\n", i, v->c[i], 3.0 * (double)i);
		printf("vector_add: %zu elements added by %d ranks: %s\n", v->n, workers, bad ? "WRONG" : "OK");
		dsm_free(v->a);
		dsm_free(v->b);
		dsm_free(v->c);
	}
	rc = dsm_finalize();
	return rc || bad ? 1 : 0;
}
