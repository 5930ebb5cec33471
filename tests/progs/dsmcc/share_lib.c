/*
 * share_lib.c - a shared library whose objects tests/dsmcc_share.sh builds
 * with `dsmcc --share-globals -c`: its initialised and zero globals are
 * shared like the program's (both sections of a library).
 */
static int zeros[3000];
int lib_value = 3;

int *lib_zeros(void)
{
	return zeros;
}

int *lib_value_p(void)
{
	return &lib_value;
}
