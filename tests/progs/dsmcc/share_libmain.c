/*
 * share_libmain.c - uses share_lib.c's globals through functions (a direct
 * reference would give the program a private copy): every rank writes its
 * slot of the library's zero array, rank 1 its initialised variable; all see
 * all and print "OK".
 */
#include <dsm.h>
#include <stdio.h>

int *lib_zeros(void);
int *lib_value_p(void);

int main(int argc, char **argv)
{
	int me, n, ok;

	if (dsm_init(&argc, &argv))
		return 1;
	me = dsm_rank();
	n = dsm_size();
	ok = *lib_value_p() == 3;
	dsm_barrier();
	lib_zeros()[me * 1000] = me + 1;
	if (me == 1)
		*lib_value_p() = 9;
	dsm_barrier();
	ok &= *lib_value_p() == 9;
	for (int r = 0; r < n; r++)
		ok &= lib_zeros()[r * 1000] == r + 1;
	printf("rank %d: %s\n", me, ok ? "OK" : "FAIL");
	dsm_barrier();
	return dsm_finalize() || !ok;
}
