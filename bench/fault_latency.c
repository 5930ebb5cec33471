/*
 * fault_latency - what one page fault costs, against the network it rides on.
 *
 *   dsmexec -n 2 bin/fault_latency [pages]
 *
 * Rank 0 measures, in random page order:
 *   cold read   - read a page rank 1 holds writable (fetch + downgrade)
 *   write miss  - write a page rank 1 holds writable (fetch + ownership)
 *   upgrade     - write a page rank 0 already holds read-only
 * and, in the same run, a plain TCP round trip between the same two
 * processes: a 16-byte request answered with 4 KiB (a page's worth).  Each
 * fault's p50 is printed as a ratio to that round trip's p50.
 */
#include <dsm.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct shared {
	volatile int port;
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	return v[(int)(p * (n - 1))];
}

static int full_io(int fd, void *buf, size_t len, int writing)
{
	char *p = buf;

	while (len) {
		ssize_t n = writing ? write(fd, p, len) : read(fd, p, len);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Rank 1 answers `n` 16-byte requests with 4 KiB each; rank 0 times them. */
static double tcp_round_trip(struct shared *sh, int n, double *p99)
{
	static char page[4096];
	char req[16] = { 0 };
	double *t = malloc(sizeof(double) * (size_t)n), p50 = 0;
	int one = 1, fd;

	if (dsm_rank() == 1) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t al = sizeof(a);
		int l = socket(AF_INET, SOCK_STREAM, 0);
		bind(l, (struct sockaddr *)&a, sizeof(a));
		listen(l, 1);
		getsockname(l, (struct sockaddr *)&a, &al);
		sh->port = ntohs(a.sin_port);
		dsm_barrier();
		fd = accept(l, NULL, NULL);
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		for (int i = 0; i < n; i++)
			if (full_io(fd, req, sizeof(req), 0) || full_io(fd, page, sizeof(page), 1))
				break;
		close(fd);
		close(l);
	} else {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		dsm_barrier();
		a.sin_port = htons((uint16_t)sh->port);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			perror("connect");
			exit(1);
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		for (int i = 0; i < n; i++) {
			double t0 = now_us();
			full_io(fd, req, sizeof(req), 1);
			full_io(fd, page, sizeof(page), 0);
			t[i] = now_us() - t0;
		}
		close(fd);
		p50 = pct(t, n, 0.5);
		*p99 = pct(t, n, 0.99);
	}
	free(t);
	dsm_barrier();
	return p50;
}

static void shuffle(uint64_t *v, int n)
{
	for (int i = n - 1; i > 0; i--) {
		int j = rand() % (i + 1);
		uint64_t x = v[i];
		v[i] = v[j];
		v[j] = x;
	}
}

static void report(const char *what, double *t, int n, double rtt)
{
	double p50 = pct(t, n, 0.5), p99 = pct(t, n, 0.99);

	printf("%-12s p50 %7.1f us  p99 %7.1f us  p50/rtt %.2fx  p99/p50 %.2fx\n", what, p50, p99,
	       p50 / rtt, p99 / p50);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	struct shared *sh;
	uint64_t *order;
	double *t, rtt, rtt99 = 0;
	char *base;
	size_t ps;
	volatile char sink;

	if (dsm_init(&argc, &argv) || dsm_size() != 2) {
		fprintf(stderr, "fault_latency: run with exactly 2 ranks (dsmexec -n 2)\n");
		return 2;
	}
	ps = dsm_page_size();
	base = dsm_base();
	sh = (struct shared *)base;
	base += ps; /* page 0 holds the shared header */
	if ((size_t)(3 * n + 1) * ps > dsm_region_size()) {
		fprintf(stderr, "fault_latency: %d pages do not fit the region\n", n);
		return 2;
	}
	order = malloc(sizeof(uint64_t) * (size_t)n);
	t = malloc(sizeof(double) * (size_t)n);
	srand(42);

	rtt = tcp_round_trip(sh, n, &rtt99);

	/* Rank 1 takes every page writable: three sets of n pages. */
	if (dsm_rank() == 1)
		for (int i = 0; i < 3 * n; i++)
			base[(size_t)i * ps] = (char)(i | 1);
	dsm_barrier();
	if (dsm_rank() == 0) {
		printf("tcp 16B/4K   p50 %7.1f us  p99 %7.1f us\n", rtt, rtt99);
		for (int set = 0; set < 3; set++) {
			char *b = base + (size_t)set * n * ps;
			for (int i = 0; i < n; i++)
				order[i] = (uint64_t)i;
			shuffle(order, n);
			if (set == 2) /* upgrade: hold them read-only first */
				for (int i = 0; i < n; i++)
					sink = b[order[i] * ps];
			for (int i = 0; i < n; i++) {
				char *p = b + order[i] * ps;
				double t0 = now_us();
				if (set == 0)
					sink = *p;
				else
					*p = 2;
				t[i] = now_us() - t0;
			}
			report(set == 0 ? "cold read" : set == 1 ? "write miss" : "upgrade", t, n, rtt);
		}
	}
	(void)sink;
	free(order);
	free(t);
	return dsm_finalize() ? 1 : 0;
}
