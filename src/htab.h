/*
 * htab.h - a chained hash table of objects that embed a struct hlink.
 *
 * The owner keeps the key in its object and gives the key's hash with each
 * call; the table masks it to a bucket.  The bucket array doubles when the
 * table is full, so it starts at `first` buckets (a power of two).
 *
 * Locking: none; the owner's (the service thread, for alloc.c and sync.c).
 */
#ifndef DSM_HTAB_H
#define DSM_HTAB_H

#include <stddef.h>
#include <stdint.h>

struct hlink {
	struct hlink *next;
};

struct htab {
	struct hlink **b; /* nb buckets, or NULL */
	size_t nb, n;
	size_t first;
	uint64_t (*hash)(const struct hlink *l); /* to move entries on growth */
};

#define htab_entry(l, type, member) ((type *)((char *)(l) - offsetof(type, member)))

/* An empty table; forgets what it held without freeing it. */
void htab_init(struct htab *t, size_t first, uint64_t (*hash)(const struct hlink *l));

/* The chain where an entry with this hash would be; NULL in an empty table. */
struct hlink *htab_chain(const struct htab *t, uint64_t hash);

/* Room for one more entry: 0, or -ENOMEM with the table unchanged. */
int htab_reserve(struct htab *t);

/* Add l, after htab_reserve made room. */
void htab_add(struct htab *t, struct hlink *l, uint64_t hash);

/* Take l, which is in the table, out of it. */
void htab_del(struct htab *t, struct hlink *l, uint64_t hash);

/* Call drop on every entry (drop must htab_del it), then free the buckets. */
void htab_clear(struct htab *t, void (*drop)(struct hlink *l));

#endif
