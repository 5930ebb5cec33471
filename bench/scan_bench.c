/*
 * scan_bench - reading remote memory in bulk: a sequential scan of a large
 * array another rank wrote, and single pages read in random order, against
 * plain TCP between the same two processes in the same run.
 *
 *   DSM_SIZE=1G dsmexec -n 2 bin/scan_bench [MiB [random-pages]]
 *                                     (default 256 MiB, 16384 random pages)
 *
 * Each repetition:
 *   tcp stream     rank 1 sends MiB of 4 KiB messages to rank 0 (one write
 *                  each); rank 0 times every MiB: GB/s
 *   tcp rtt        16-byte requests answered with 4 KiB, and their rate
 *   sequential     rank 1 writes every page of the array, then rank 0 sums
 *                  it from start to end, timing every MiB: GB/s
 *   random         rank 1 writes every page again (taking back what rank 0
 *                  read), then rank 0 reads one word from each of
 *                  random-pages pages in random order: the latency of each
 *                  and the rate (faults/s, timed per 256 faults)
 * The sequential scan is compared with the TCP stream, the random reads with
 * the round trip.
 */
#include "bench.h"

#define MIB (1u << 20)
#define GROUP 256 /* random reads timed together for the rate */

int main(int argc, char **argv)
{
	struct bench_fig *stream, *rtt, *rtt_rate, *seq, *rnd, *rnd_rate;
	struct bench_rendezvous *rv;
	uint64_t *order = NULL, seed = 7, sum = 0;
	double *t, *tc;
	size_t bytes, npages, nrand, ps, nchunk;
	int me, fd;
	char *a;

	if (bench_init("scan_bench", &argc, &argv))
		return 1;
	bytes = (size_t)(argc > 1 ? atol(argv[1]) : 256) * MIB;
	nrand = (size_t)(argc > 2 ? atol(argv[2]) : 16384);
	me = dsm_rank();
	ps = dsm_page_size();
	npages = bytes / ps;
	nchunk = bytes / MIB;
	if (dsm_size() != 2 || !nchunk || nrand < GROUP || nrand > npages) {
		fprintf(stderr, "scan_bench: run with 2 ranks; MiB >= 1; %d <= random-pages <= the array's pages\n",
			GROUP);
		return 2;
	}
	if (bytes + 2 * ps > dsm_region_size()) {
		fprintf(stderr, "scan_bench: %zu MiB do not fit the region of %zu MiB: set DSM_SIZE\n", bytes / MIB,
			dsm_region_size() / MIB);
		return 2;
	}
	rv = dsm_alloc_named("scan_bench.rv", sizeof(*rv));
	a = dsm_alloc_named("scan_bench.array", bytes);
	t = malloc(sizeof(double) * (nrand > nchunk ? nrand : nchunk));
	tc = malloc(sizeof(double) * (nrand / GROUP));
	order = malloc(sizeof(uint64_t) * npages);
	if (!rv || !a || !t || !tc || !order)
		bench_die("out of memory", ENOMEM);
	bench_context("2 ranks, backend %s, %zu MiB array, %zu random pages", bench_backend(), bytes / MIB, nrand);

	bench_section("bulk: sequential read of a remote array");
	stream = bench_fig("tcp_stream_4k", "tcp stream 4KiB msgs", "GB/s", 1);
	seq = bench_fig("seq_read", "sequential read, remote array", "GB/s", 1);
	seq->limit = stream;
	bench_section("random read of single remote pages");
	rtt = bench_fig("tcp_rtt_4k", "tcp rtt 16B/4KiB", "us", 0);
	rnd = bench_fig("rand_read", "random page read fault", "us", 0);
	rnd->limit = rtt;
	rtt_rate = bench_fig("tcp_rtt_4k_rate", "tcp rtt 16B/4KiB rate", "1/s", 1);
	rnd_rate = bench_fig("rand_read_rate", "random page reads", "faults/s", 1);
	rnd_rate->limit = rtt_rate;

	fd = bench_rank_pair(rv, 0, 1);
	for (int r = 0; r < bench.reps; r++) {
		if (me == 0) {
			bench_tcp_stream(fd, 1, 4096, bytes, MIB, t);
			bench_rep_rate(stream, t, nchunk, MIB, 1e-3);
			bench_tcp_rtt(fd, 1, 16, 4096, (int)nrand / 4, 100, t);
			bench_rep(rtt, t, nrand / 4);
			bench_rep_value(rtt_rate, 1e6 / rtt->p50[rtt->nrep - 1], 1e6 / rtt->p99[rtt->nrep - 1]);
		} else {
			bench_tcp_stream(fd, 0, 4096, bytes, MIB, NULL);
			bench_tcp_rtt(fd, 0, 16, 4096, (int)nrand / 4, 100, NULL);
			for (size_t i = 0; i < npages; i++)
				a[i * ps] = (char)(r + 1);
		}
		dsm_barrier();
		if (me == 0) {
			const uint64_t *w = (const uint64_t *)a;
			double t0 = bench_now_us();

			for (size_t c = 0; c < nchunk; c++) {
				for (size_t i = c * (MIB / 8); i < (c + 1) * (MIB / 8); i++)
					sum += w[i];
				double now = bench_now_us();
				t[c] = now - t0;
				t0 = now;
			}
			bench_rep_rate(seq, t, nchunk, MIB, 1e-3);
		}
		dsm_barrier();
		if (me == 1)
			for (size_t i = 0; i < npages; i++)
				a[i * ps] = (char)(r + 2);
		/* Regain (coherence.c) asks again, with a read fault, for the
		 * copies near it that rank 0 lost in the last phase: one barrier
		 * more, and each random read is one fault again (without it the
		 * figure's p50 was 0.5 us at --reps 3, regain's bundles). */
		dsm_barrier();
		dsm_barrier();
		if (me == 0) {
			volatile uint64_t sink;
			double tg = bench_now_us();

			for (size_t i = 0; i < npages; i++)
				order[i] = i;
			bench_shuffle(order, npages, &seed);
			for (size_t i = 0; i < nrand; i++) {
				double t0 = bench_now_us();
				sink = *(volatile uint64_t *)(a + order[i] * ps);
				double now = bench_now_us();
				t[i] = now - t0;
				if ((i + 1) % GROUP == 0) {
					tc[i / GROUP] = now - tg;
					tg = now;
				}
			}
			(void)sink;
			bench_rep(rnd, t, nrand);
			bench_rep_rate(rnd_rate, tc, nrand / GROUP, GROUP, 1e6);
		}
		dsm_barrier();
	}
	if (fd >= 0)
		close(fd);
	if (me == 0) {
		if (sum == 0) /* keeps the scan's loads, and checks the data arrived */
			fprintf(stderr, "scan_bench: the array read as zeros\n");
		bench_target("sequential read GB/s / tcp stream GB/s", bench_p50(seq) / bench_p50(stream), 0, 0.5);
		bench_report();
	}
	free(t);
	free(tc);
	free(order);
	return dsm_finalize() ? 1 : 0;
}
