/*
 * dsm.h - the public interface of the dsm distributed shared memory library.
 *
 * N processes ("ranks") map one shared region at the same virtual address and
 * use it with plain loads, stores and pointers; the library moves 4 KiB pages
 * between ranks on demand and keeps every rank's view sequentially consistent.
 *
 * Every function that can fail returns 0 or a negative errno value.
 * A program started without dsmexec is a job of one rank.
 */
#ifndef DSM_H
#define DSM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DSM_VERSION_MAJOR 0
#define DSM_VERSION_MINOR 1

/*
 * Join the job: read what the launcher passed (rank, size, rendezvous address,
 * secret), map the shared region at the same address on every rank, connect to
 * every peer and return once every rank has joined.  argc/argv may be NULL.
 * Returns 0, or a negative errno after printing why.
 */
int dsm_init(int *argc, char ***argv);

/* Collective: wait for every rank, then release every thread, socket and
 * mapping the library made.  Returns 0 or a negative errno. */
int dsm_finalize(void);

/* This process's rank (0..size-1) and the number of ranks in the job. */
int dsm_rank(void);
int dsm_size(void);

/* The shared region: the same address on every rank. */
void *dsm_base(void);
size_t dsm_region_size(void);
size_t dsm_page_size(void);

/* Collective: returns when every rank has entered it. */
int dsm_barrier(void);

#ifdef __cplusplus
}
#endif

#endif /* DSM_H */
