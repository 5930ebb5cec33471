/* Description: ckpt_layout.c rebuilt with one DSM_SHARED variable more. */
#define CKPT_LAYOUT_EXTRA 1
#include "ckpt_layout.c"
