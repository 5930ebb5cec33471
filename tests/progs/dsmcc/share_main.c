/*
 * share_main.c - a program with plain, unannotated globals, built by
 * tests/dsmcc_share.sh with `dsmcc --share-globals` (with share_part.c,
 * passed in as an object) and run on 3 ranks: every global and static
 * variable is shared as threads share them; DSM_PRIVATE and thread-local
 * ones stay each rank's own.  Prints "values: ..." (the same on every rank)
 * and "OK".  Without --share-globals the ranks do not see each other's
 * stores and it fails, which the test checks too.
 */
#include <dsm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIG (64 << 20) /* zero, so it costs no room in the file */
#define LOCK 7

int counter = 7;                    /* extern, initialised */
static int s_init = 42;             /* static, initialised */
long zero_arr[3000];                /* extern, zero, several pages */
static char big_zero[BIG];          /* static, zero, 64 MiB */
double init_arr[1024] = { 1.0, [1023] = 2.0 }; /* extern, initialised, two pages */
const char *greeting = "hello";     /* a pointer to a string: same on every rank */
int pre_init;                       /* set before dsm_init: rank 0's value wins */
DSM_PRIVATE int mine = -1;          /* each rank's own */
static int mine_zero DSM_PRIVATE;   /* each rank's own, zero */
__thread int tl = 5;                /* thread-local: each rank's own */

/* share_part.c */
extern int part_value;
int *part_zero(void);

static int bump(void)
{
	static int calls; /* a function's static: shared too */

	return ++calls;
}

#define CHECK(cond, ...)                                                  \
	do {                                                              \
		if (!(cond)) {                                            \
			fprintf(stderr, "rank %d: FAIL: ", me);           \
			fprintf(stderr, __VA_ARGS__);                     \
			fprintf(stderr, " (line %d)\n", __LINE__);        \
			exit(1);                                          \
		}                                                         \
	} while (0)

int main(int argc, char **argv)
{
	const char *r = getenv("DSM_RANK");
	int me = r ? atoi(r) : 0, n;
	long sum = 0;

	pre_init = 1000 + me;
	if (dsm_init(&argc, &argv))
		return 1;
	me = dsm_rank();
	n = dsm_size();

	/* Everyone starts from rank 0's copy. */
	CHECK(pre_init == 1000, "pre_init %d, not rank 0's 1000", pre_init);
	CHECK(counter == 7 && s_init == 42 && part_value == 5, "initial values %d %d %d", counter, s_init,
	      part_value);
	CHECK(init_arr[0] == 1.0 && init_arr[1023] == 2.0, "init_arr");
	CHECK(!strcmp(greeting, "hello"), "greeting");
	for (int i = 0; i < 3000; i++)
		CHECK(zero_arr[i] == 0, "zero_arr[%d] = %ld", i, zero_arr[i]);
	dsm_barrier();

	/* Each rank writes its part. */
	mine = 100 + me;
	mine_zero = 200 + me;
	tl = 300 + me;
	for (int i = me; i < 3000; i += n)
		zero_arr[i] = i * 10L + me;
	big_zero[(long)BIG / n * me + 4097] = (char)('a' + me);
	part_zero()[me * 500] = me + 1;
	init_arr[512 + me] = me * 0.5;
	dsm_lock(LOCK);
	counter += me + 1;
	s_init++;
	bump();
	dsm_unlock(LOCK);
	dsm_barrier();

	/* And sees everyone's. */
	CHECK(counter == 7 + n * (n + 1) / 2, "counter %d", counter);
	CHECK(s_init == 42 + n, "s_init %d", s_init);
	CHECK(bump() > n, "the function's static was not shared");
	for (int i = 0; i < 3000; i++) {
		CHECK(zero_arr[i] == i * 10L + i % n, "zero_arr[%d] = %ld", i, zero_arr[i]);
		sum += zero_arr[i];
	}
	for (int k = 0; k < n; k++) {
		CHECK(big_zero[(long)BIG / n * k + 4097] == 'a' + k, "big_zero of rank %d", k);
		CHECK(part_zero()[k * 500] == k + 1, "part_zero of rank %d", k);
		CHECK(init_arr[512 + k] == k * 0.5, "init_arr of rank %d", k);
	}
	CHECK(mine == 100 + me && mine_zero == 200 + me, "DSM_PRIVATE: %d %d", mine, mine_zero);
	CHECK(tl == 300 + me, "thread-local: %d", tl);
	printf("values: counter=%d s_init=%d sum=%ld init=%g\n", counter, s_init, sum, init_arr[1023]);
	printf("rank %d: OK\n", me);
	dsm_barrier(); /* nobody leaves while another still reads */
	return dsm_finalize() ? 1 : 0;
}
