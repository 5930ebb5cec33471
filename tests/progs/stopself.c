/*
 * Description: rank 1 stops (SIGSTOP) after the first barrier and never
 * answers again, while rank 0 keeps asking for a page whose home is rank 1.
 * Rank 0 must give up after DSM_TIMEOUT with a message naming rank 1.
 */
#include <signal.h>
#include <unistd.h>

#include "testutil.h"

int main(int argc, char **argv)
{
	volatile char *page1;
	int me;

	init_or_exit(&argc, &argv);
	me = dsm_rank();
	page1 = (volatile char *)dsm_base() + dsm_page_size(); /* home: rank 1 */
	if (me == 1)
		page1[0] = 1; /* rank 1 owns it writable */
	dsm_barrier();
	if (me == 1) {
		printf("stopself: rank 1 stops\n");
		fflush(stdout);
		raise(SIGSTOP);
		return 0;
	}
	sleep(1);
	printf("stopself: rank 0 reads %d\n", page1[0]); /* never answered */
	return 1;
}
