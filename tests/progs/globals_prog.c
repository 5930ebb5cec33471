/*
 * DSM_SHARED globals (tests/globals_*.sh).
 *
 *   globals_prog check    globals of many types and sizes, initialised and
 *                         zeroed, here and in libglobals_lib.so: they start as
 *                         rank 0's copy, one rank writes, every rank reads;
 *                         the private variables beside them stay private
 *   globals_prog fnptr    function pointers and addresses of globals are the
 *                         same on every rank: kept in a shared global, and
 *                         passed in an RPC that calls the function on the far
 *                         side and writes through the address
 *   globals_prog layout   print this rank's section address and wait in a
 *                         barrier (for the layout-mismatch test)
 */
#include "testutil.h"

#include <errno.h>
#include <stdint.h>

#include "libglobals_lib.h"

struct state {
	int n;
	double w[600]; /* the struct spans two pages */
	char name[16];
};

DSM_SHARED char g_byte;
DSM_SHARED char g_byte_init = 'x';
DSM_SHARED int g_int = 42;
DSM_SHARED int g_changed = 1;        /* rank 0 changes it before dsm_init */
DSM_SHARED double g_grid[256][256];  /* 512 KiB of zeros */
DSM_SHARED struct state g_st = { .n = 7, .w = { 1.5, 2.5 }, .name = "init" };
DSM_SHARED uint8_t g_big[(5 << 20) + 123];
DSM_SHARED long g_big_init[3000] = { [0] = 11, [2999] = 22 };
DSM_SHARED int *g_ptr = &g_int;      /* a relocated initialiser in a PIE */
DSM_SHARED int g_ranks[64];
DSM_SHARED int (*g_fn)(int);
DSM_SHARED int g_results[64];
int private_after = 5;               /* not shared: beside the section */
int private_bss;

static int me;

static int square(int x)
{
	return x * x;
}

static int negate(int x)
{
	return -x;
}

static int check(void)
{
	int n = dsm_size(), writer = n - 1;

	/* Rank 0's copy at dsm_init is every rank's. */
	CHECK(g_byte == 0 && g_byte_init == 'x' && g_int == 42, "small initial values: %d %d %d", g_byte,
	      g_byte_init, g_int);
	CHECK(g_changed == 100, "g_changed: rank 0 set 100 before dsm_init, this rank sees %d", g_changed);
	CHECK(g_st.n == 7 && g_st.w[0] == 1.5 && g_st.w[1] == 2.5 && g_st.w[599] == 0 && !strcmp(g_st.name, "init"),
	      "the struct's initial value");
	for (int i = 0; i < 256; i += 17)
		CHECK(g_grid[i][255 - i] == 0, "g_grid[%d][%d] is %g", i, 255 - i, g_grid[i][255 - i]);
	for (size_t i = 0; i < sizeof(g_big); i += 4093)
		CHECK(g_big[i] == 0, "g_big[%zu] is %d", i, g_big[i]);
	CHECK(g_big_init[0] == 11 && g_big_init[1] == 0 && g_big_init[2999] == 22, "g_big_init's initial value");
	CHECK(g_ptr == &g_int && *g_ptr == 42, "g_ptr: %p, &g_int %p", (void *)g_ptr, (void *)&g_int);
	CHECK(lib_init[0] == 5 && lib_init[1] == 0 && lib_init[1499] == 6 && lib_small == -3,
	      "the library's initial values: %d %d %d", lib_init[0], lib_init[1499], lib_small);
	for (size_t i = 0; i < sizeof(lib_zero); i += 4091)
		CHECK(lib_zero[i] == 0, "lib_zero[%zu] is %d", i, lib_zero[i]);
	CALL(dsm_barrier());

	private_after = 1000 + me;
	private_bss = 2000 + me;
	lib_private = 3000 + me;
	g_ranks[me] = me + 1; /* every rank writes its own slot of one page */
	if (me == writer) {
		g_byte = 0x5a;
		g_int = 1000;
		g_st.n = 99;
		g_st.w[599] = 3.25;
		strcpy(g_st.name, "written");
		for (int i = 0; i < 256; i++)
			for (int j = 0; j < 256; j++)
				g_grid[i][j] = i * 256 + j;
		for (size_t i = 0; i < sizeof(g_big); i++)
			g_big[i] = (uint8_t)(i * 7 + 1);
		for (int i = 0; i < 3000; i++)
			g_big_init[i] = 3L * i;
		for (size_t i = 0; i < sizeof(lib_zero); i++)
			lib_zero[i] = (unsigned char)(i % 251);
		for (int i = 0; i < 1500; i++)
			lib_init[i] = -i;
		lib_small = 1234;
	}
	CALL(dsm_barrier());

	CHECK(g_byte == 0x5a && g_int == 1000 && *g_ptr == 1000, "small values after the write");
	CHECK(g_st.n == 99 && g_st.w[0] == 1.5 && g_st.w[599] == 3.25 && !strcmp(g_st.name, "written"),
	      "the struct after the write");
	for (int i = 0; i < 256; i++)
		for (int j = 0; j < 256; j++)
			CHECK(g_grid[i][j] == i * 256 + j, "g_grid[%d][%d] is %g", i, j, g_grid[i][j]);
	for (size_t i = 0; i < sizeof(g_big); i++)
		CHECK(g_big[i] == (uint8_t)(i * 7 + 1), "g_big[%zu] is %d", i, g_big[i]);
	for (int i = 0; i < 3000; i++)
		CHECK(g_big_init[i] == 3L * i, "g_big_init[%d] is %ld", i, g_big_init[i]);
	for (size_t i = 0; i < sizeof(lib_zero); i++)
		CHECK(lib_zero[i] == (unsigned char)(i % 251), "lib_zero[%zu] is %d", i, lib_zero[i]);
	for (int i = 0; i < 1500; i++)
		CHECK(lib_init[i] == -i, "lib_init[%d] is %d", i, lib_init[i]);
	CHECK(lib_small == 1234, "lib_small is %d", lib_small);
	for (int r = 0; r < n; r++)
		CHECK(g_ranks[r] == r + 1, "g_ranks[%d] is %d", r, g_ranks[r]);
	CHECK(private_after == 1000 + me && private_bss == 2000 + me && lib_private == 3000 + me,
	      "private variables beside the shared ones were changed: %d %d %d", private_after, private_bss,
	      lib_private);
	CALL(dsm_barrier());
	printf("check: %d ranks, %zu + %zu bytes of program globals, %zu bytes of library globals: OK\n", n,
	       sizeof(g_big), sizeof(g_grid), sizeof(lib_zero));
	return 0;
}

/* ---- function pointers ---- */

struct call {
	int (*fn)(int);
	int x;
	int *where; /* a DSM_SHARED global: written on the far side */
};

static int call_fn(const void *arg, size_t len, void *reply, size_t *reply_len)
{
	struct call c;
	int r;

	if (len != sizeof(c) || *reply_len < sizeof(int))
		return -EINVAL;
	memcpy(&c, arg, sizeof(c));
	r = c.fn(c.x);
	*c.where = r;
	memcpy(reply, &r, sizeof(r));
	*reply_len = sizeof(r);
	return 0;
}

static int fnptr(void)
{
	int (*fns[])(int) = { square, negate, lib_triple };
	int n = dsm_size(), to = (me + 1) % n;
	struct call c = { .fn = fns[me % 3], .x = me + 2, .where = &g_results[me] };
	int r = 0;
	size_t rlen = sizeof(r);

	CALL(dsm_rpc_register(1, call_fn));
	if (me == 0)
		g_fn = lib_triple;
	CALL(dsm_barrier());
	CHECK(g_fn == lib_triple && g_fn(5) == 15, "g_fn, set by rank 0: %p, here lib_triple is %p",
	      (void *)(uintptr_t)g_fn, (void *)(uintptr_t)lib_triple);
	CALL(dsm_rpc_call(to, 1, &c, sizeof(c), &r, &rlen));
	CHECK(rlen == sizeof(r) && r == c.fn(c.x), "rank %d ran my function on %d: %d, expected %d", to, c.x, r,
	      c.fn(c.x));
	CHECK(g_results[me] == r, "rank %d wrote %d through &g_results[%d], this rank sees %d", to, r, me,
	      g_results[me]);
	CALL(dsm_barrier());
	printf("fnptr: rank %d ran %s(%d) = %d on rank %d: OK\n", me,
	       c.fn == square ? "square" : c.fn == negate ? "negate" : "lib_triple", c.x, r, to);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "check";
	const char *r = getenv("DSM_RANK");
	int rc = 0;

	/* Before dsm_init each rank's copy is its own; rank 0's is the one kept. */
	if (!r || !strcmp(r, "0")) {
		g_changed = 100;
	} else {
		g_changed = -1;
		g_int = -1;
		lib_small = -1;
	}
	init_or_exit(&argc, &argv);
	me = dsm_rank();
	if (!strcmp(mode, "check"))
		rc = check();
	else if (!strcmp(mode, "fnptr"))
		rc = fnptr();
	else if (!strcmp(mode, "layout"))
		printf("layout: g_int at %p\n", (void *)&g_int), rc = dsm_barrier();
	else
		CHECK(0, "unknown mode %s", mode);
	rc = finish(me, rc);
	if (rc == 0 && !strcmp(mode, "check")) {
		/* Private again: this rank's own memory, writable. */
		g_int = 5000 + me;
		lib_small = (short)me;
		CHECK(g_int == 5000 + me && lib_small == me, "globals after dsm_finalize");
	}
	return rc;
}
