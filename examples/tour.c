/*
 * tour - a first look at the shared region.
 *
 *   bin/dsmexec -n 4 bin/tour
 *
 * Rank 0 builds a linked list inside the region with plain pointers; after a
 * barrier every rank walks the same list, because a pointer into the region
 * means the same thing on every rank.  Then every rank writes its own slot
 * of an array and, after another barrier, reads everybody's.
 */
#include <dsm.h>
#include <stdio.h>
#include <string.h>

struct node {
	struct node *next;
	int value;
};

struct world {
	struct node *head;        /* a pointer stored in shared memory */
	struct node nodes[100];
	int slot[64];             /* one per rank */
};

int main(int argc, char **argv)
{
	int rc = dsm_init(&argc, &argv);
	struct world *w;
	int sum = 0, ok = 1;

	if (rc) {
		fprintf(stderr, "dsm_init: %s\n", strerror(-rc));
		return 1;
	}
	w = dsm_base(); /* the same address on every rank, zero-filled */
	if (dsm_size() > 64) {
		fprintf(stderr, "tour: at most 64 ranks\n");
		return 1;
	}

	if (dsm_rank() == 0) {
		for (int i = 0; i < 100; i++) {
			w->nodes[i].value = i + 1;
			w->nodes[i].next = w->head;
			w->head = &w->nodes[i];
		}
	}
	dsm_barrier(); /* rank 0's writes are now visible to everyone */

	for (struct node *n = w->head; n; n = n->next)
		sum += n->value;

	w->slot[dsm_rank()] = dsm_rank() * 10;
	dsm_barrier();
	for (int r = 0; r < dsm_size(); r++)
		if (w->slot[r] != r * 10)
			ok = 0;

	printf("rank %d: list sum %d (expected 5050), slots %s\n", dsm_rank(), sum, ok ? "ok" : "WRONG");
	rc = dsm_finalize();
	return sum == 5050 && ok && rc == 0 ? 0 : 1;
}
