/*
 * A shared library with DSM_SHARED variables of its own, for globals_prog
 * (tests/globals_*.sh): an initialised array spanning pages, a zeroed one of
 * several MiB, a small initialised one, and a private variable beside them.
 */
#include <dsm.h>

#include "libglobals_lib.h"

DSM_SHARED int lib_init[1500] = { [0] = 5, [1499] = 6 };
DSM_SHARED unsigned char lib_zero[3 << 20];
DSM_SHARED short lib_small = -3;
int lib_private = 9;

int *lib_private_addr(void)
{
	return &lib_private;
}

int lib_triple(int x)
{
	return 3 * x;
}
