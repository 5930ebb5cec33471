/*
 * hello - the smallest dsm program: join the job, say hello, leave.
 *
 *   bin/dsmexec -n 4 bin/hello
 */
#include <dsm.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	int rc = dsm_init(&argc, &argv);

	if (rc) {
		fprintf(stderr, "dsm_init: %s\n", strerror(-rc));
		return 1;
	}
	printf("hello from rank %d of %d\n", dsm_rank(), dsm_size());
	return dsm_finalize() ? 1 : 0;
}
