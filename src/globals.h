/*
 * globals.h - DSM_SHARED global variables (globals.c): the "dsm_shared",
 * "dsm_shared_bss" (dsmcc --share-globals) and "dsm_shared_rc"
 * (DSM_SHARED_RC) sections of the program and of every shared library it
 * links, made coherent like the region, and the check
 * that every rank has the same layout.
 */
#ifndef DSM_GLOBALS_H
#define DSM_GLOBALS_H

#include <stddef.h>
#include <stdint.h>

struct wire_hdr;

/* dsm_init, in this order.  scan: after the configuration, before anything
 * sizes its tables by rt.npages: find every module's section, number its
 * pages after the region's and describe this rank's layout.  map: after the
 * backend mapped the region: keep rank 0's contents aside, then hand the
 * sections' pages to the backend, absent.  install: after a checkpoint was
 * restored, before the service thread starts: rank 0's contents become the
 * pages' data at their home, rank 0.  unmap: the sections become private
 * memory again (dsm_finalize, or a failed dsm_init).  0 or -errno. */
int globals_scan(void);
int globals_map(void);
int globals_install(void);
void globals_unmap(void);

/* The service thread at the start-up barrier: a rank that is not rank 0
 * sends its layout (WIRE_LAYOUT) to rank 0 ahead of its first
 * BARRIER_ENTER; rank 0 compares it with its own and ends the job, naming
 * the ranks and the difference, when they differ. */
void globals_send_layout(void);

/* Module i of those globals_scan() found (0: the program, then the libraries
 * with DSM_SHARED variables), for the checkpoint's record of the layout and
 * the statistics' report: 0, or -ENOENT past the last. */
struct globals_module_info {
	char kind;              /* 'x' the program, 'l' a library */
	const char *id, *path;  /* build id, file */
	uintptr_t base;         /* load address */
	uintptr_t sec;          /* the section of DSM_SHARED variables; 0: none */
	size_t len;
	uint64_t first_page;    /* the section's first page number */
	const char *section;    /* whose symbols name its variables: "dsm_shared"
				   (for dsmcc's "dsm_shared_bss" too, as checkpoints
				   have always recorded it), or "dsm_shared_rc" */
};
int globals_module(unsigned i, struct globals_module_info *m);
/* The page numbers of the DSM_SHARED_RC variables (the "dsm_shared_rc"
 * sections of every module), [*first, *end), after the other globals'; the
 * same on every rank.  After globals_scan(). */
void globals_rc_range(uint64_t *first, uint64_t *end);
void globals_handle(const struct wire_hdr *h, const uint8_t *payload);


/* Backend support, defined at the end of fault_uffd.c and fault_segv.c:
 * take over [addr, addr+len), page aligned, as pages first_page...; every
 * page absent.  unmap_extra: the range becomes ordinary read-write memory
 * holding what this rank had.  fault_segv_unmap_extras: after the last
 * range, before the backend's unmap. */
int fault_uffd_map_extra(uintptr_t addr, size_t len);
void fault_uffd_unmap_extra(uintptr_t addr, size_t len);
int fault_segv_map_extra(uintptr_t addr, size_t len, uint64_t first_page);
void fault_segv_unmap_extra(uintptr_t addr, size_t len);
void fault_segv_unmap_extras(void);

#endif
