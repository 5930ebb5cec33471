/*
 * htab.c - see htab.h.
 */
#include "htab.h"

#include <errno.h>
#include <stdlib.h>

static size_t slot(size_t nb, uint64_t hash)
{
	return (size_t)(hash & (nb - 1));
}

void htab_init(struct htab *t, size_t first, uint64_t (*hash)(const struct hlink *l))
{
	*t = (struct htab){ .first = first, .hash = hash };
}

struct hlink *htab_chain(const struct htab *t, uint64_t hash)
{
	return t->nb ? t->b[slot(t->nb, hash)] : NULL;
}

int htab_reserve(struct htab *t)
{
	size_t nb, k;
	struct hlink **b;

	if (t->n < t->nb)
		return 0;
	nb = t->nb ? t->nb * 2 : t->first;
	b = calloc(nb, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < t->nb; i++)
		while (t->b[i]) {
			struct hlink *x = t->b[i];
			t->b[i] = x->next;
			k = slot(nb, t->hash(x));
			x->next = b[k];
			b[k] = x;
		}
	free(t->b);
	t->b = b;
	t->nb = nb;
	return 0;
}

void htab_add(struct htab *t, struct hlink *l, uint64_t hash)
{
	size_t k = slot(t->nb, hash);

	l->next = t->b[k];
	t->b[k] = l;
	t->n++;
}

void htab_del(struct htab *t, struct hlink *l, uint64_t hash)
{
	struct hlink **pp = &t->b[slot(t->nb, hash)];

	while (*pp != l)
		pp = &(*pp)->next;
	*pp = l->next;
	t->n--;
}

void htab_clear(struct htab *t, void (*drop)(struct hlink *l))
{
	for (size_t i = 0; i < t->nb; i++)
		while (t->b[i])
			drop(t->b[i]);
	free(t->b);
	t->b = NULL;
	t->nb = t->n = 0;
}
