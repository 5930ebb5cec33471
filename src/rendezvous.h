/*
 * rendezvous.h - how the ranks of a job find each other.
 *
 * Each rank listens on its own host, then registers "rank r listens at
 * addr:port" with the job's rendezvous server and receives the table of every
 * rank's address once all `size` ranks have registered.  The server runs in
 * dsmexec, or in rank 0 when the job is started by another launcher with
 * DSM_ROOT=host:port.  Every connection is authenticated with the job secret.
 */
#ifndef DSM_RENDEZVOUS_H
#define DSM_RENDEZVOUS_H

#include <stdint.h>

#include "net.h"

#define RDV_ADDR_MAX 64

struct rdv_entry {
	char addr[RDV_ADDR_MAX];
	int port;
};

struct rdv_server;

/* Start a server thread for `size` ranks on host:port (host NULL: every
 * interface; port 0: any, written to *bound_port).  It waits at most
 * timeout_ms for all ranks, then logs which are missing and gives up;
 * timeout_ms <= 0 waits until rdv_server_stop(). */
int rdv_server_start(const char *host, int port, int size, const struct job_auth *a,
		     int timeout_ms, struct rdv_server **out, int *bound_port);
/* Stop the server (if still running) and free it. */
void rdv_server_stop(struct rdv_server *s);

/* Register with the server at host:port and fill table[size]. */
int rdv_register(const char *host, int port, const struct job_auth *a, int rank, int size,
		 const char *my_addr, int my_port, struct rdv_entry *table, int64_t deadline);

#endif
