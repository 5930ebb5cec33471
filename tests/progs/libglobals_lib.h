/* What libglobals_lib.so shares and offers (tests/progs/libglobals_lib.c). */
#ifndef LIBGLOBALS_LIB_H
#define LIBGLOBALS_LIB_H

#include <dsm.h>

DSM_SHARED_EXTERN int lib_init[1500];
DSM_SHARED_EXTERN unsigned char lib_zero[3 << 20];
DSM_SHARED_EXTERN short lib_small;
extern int lib_private;
int *lib_private_addr(void);
int lib_triple(int x);

#endif
