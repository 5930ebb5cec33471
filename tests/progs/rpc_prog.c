/*
 * Description: one rank of the RPC tests; the first argument chooses the test.
 * Handlers are registered before dsm_init, so serve-only ranks have them.
 *
 *   concurrent THREADS CALLS   every rank that is not a server runs THREADS
 *                       threads, each making CALLS calls to every rank in
 *                       turn (itself and servers included) with an argument
 *                       of its own; handlers take varying time, so replies
 *                       overtake each other; every reply must belong to its
 *                       call
 *   shm                 handlers that read and write shared memory and take
 *                       a dsm lock; arguments and replies that live in the
 *                       region; a handler that calls back its caller
 *   errors              an unregistered id (-ENOENT), payloads at and over
 *                       DSM_RPC_MAX, a reply that does not fit (-EMSGSIZE), a
 *                       bad rank, a handler's own error, unregistering
 *   die                 rank 0 calls a handler on rank 1 that kills rank 1
 *                       (exit 7): the call must not hang, the job must end
 */
#include <dsm.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

enum { ECHO = 1, SHM = 2, NEST = 3, SUM = 4, TOOBIG = 5, FAILS = 6, GONE = 7, DIE = 8 };

static int me, n, size;

/* ---- handlers ----------------------------------------------------------- */

struct echo_head {
	int32_t rank, thread;
	uint32_t seq, len;
};

/* Reply: the header with `rank` replaced by this rank, then the payload
 * bytes each plus one.  Takes 0 to 200 us, so replies overtake. */
static int echo(const void *arg, size_t len, void *reply, size_t *reply_len)
{
	struct echo_head h;
	const uint8_t *in = (const uint8_t *)arg + sizeof(h);
	uint8_t *out = (uint8_t *)reply + sizeof(h);

	if (len < sizeof(h) || *reply_len < len)
		return -EINVAL;
	memcpy(&h, arg, sizeof(h));
	if (h.len != len - sizeof(h))
		return -EBADMSG;
	usleep((h.seq * 37 + (uint32_t)h.thread * 11) % 5 * 50);
	h.rank = dsm_rank();
	memcpy(reply, &h, sizeof(h));
	for (uint32_t i = 0; i < h.len; i++)
		out[i] = (uint8_t)(in[i] + 1);
	*reply_len = len;
	return 0;
}

struct shm_arg {
	volatile int64_t *cell;     /* in the region: read it, write it back doubled */
	volatile int64_t *counter;  /* in the region: increment under lock 500 */
};

static int shm(const void *arg, size_t len, void *reply, size_t *reply_len)
{
	struct shm_arg a;
	int64_t v;

	if (len != sizeof(a) || *reply_len < sizeof(v))
		return -EINVAL;
	memcpy(&a, arg, sizeof(a));
	v = *a.cell;
	*a.cell = 2 * v;
	if (dsm_lock(500))
		return -EIO;
	(*a.counter)++;
	dsm_unlock(500);
	memcpy(reply, &v, sizeof(v));
	*reply_len = sizeof(v);
	return 0;
}

/* Call ECHO back on the rank named in the argument, and pass its reply on. */
static int nest(const void *arg, size_t len, void *reply, size_t *reply_len)
{
	int32_t back;
	struct echo_head h = { .rank = -1, .thread = 99, .seq = 1, .len = 0 };

	if (len != sizeof(back))
		return -EINVAL;
	memcpy(&back, arg, sizeof(back));
	return dsm_rpc_call(back, ECHO, &h, sizeof(h), reply, reply_len);
}

/* Reply: the length and a byte sum of the argument. */
static int sum(const void *arg, size_t len, void *reply, size_t *reply_len)
{
	uint64_t r[2] = { len, 0 };

	for (size_t i = 0; i < len; i++)
		r[1] += ((const uint8_t *)arg)[i];
	if (*reply_len < sizeof(r))
		return -EINVAL;
	memcpy(reply, r, sizeof(r));
	*reply_len = sizeof(r);
	return 0;
}

static int toobig(const void *arg, size_t len, void *reply, size_t *reply_len)
{
	(void)arg;
	(void)len;
	(void)reply;
	*reply_len += 1; /* claims more than the buffer holds */
	return 0;
}

static int fails(const void *arg, size_t len, void *reply, size_t *reply_len)
{
	(void)arg;
	(void)len;
	(void)reply;
	*reply_len = 0;
	return -EDOM;
}

static int die(const void *arg, size_t len, void *reply, size_t *reply_len)
{
	(void)arg;
	(void)len;
	(void)reply;
	(void)reply_len;
	printf("rank %d dies in a handler\n", dsm_rank());
	fflush(stdout);
	_exit(7);
}

/* ---- concurrent calls --------------------------------------------------- */

static long calls;

static void *caller(void *arg)
{
	int t = (int)(intptr_t)arg;
	uint8_t *buf = malloc(sizeof(struct echo_head) + 4096), *rep = malloc(sizeof(struct echo_head) + 4096);

	CHECK(buf && rep, "out of memory");
	for (long i = 0; i < calls; i++) {
		int target = (int)((me + t + i) % size), rc;
		struct echo_head h = { .rank = me, .thread = t, .seq = (uint32_t)i,
				       .len = (uint32_t)((i * 131 + (long)t * 17 + me) % 4096) }, got;
		size_t len = sizeof(h) + 4096;

		memcpy(buf, &h, sizeof(h));
		for (uint32_t k = 0; k < h.len; k++)
			buf[sizeof(h) + k] = (uint8_t)(k * 3 + (uint32_t)i + (uint32_t)t);
		rc = dsm_rpc_call(target, ECHO, buf, sizeof(h) + h.len, rep, &len);
		CHECK(rc == 0, "thread %d call %ld to rank %d: %s", t, i, target, strerror(-rc));
		CHECK(len == sizeof(h) + h.len, "thread %d call %ld: reply of %zu bytes, expected %zu", t, i, len,
		      sizeof(h) + h.len);
		memcpy(&got, rep, sizeof(got));
		CHECK(got.rank == target && got.thread == t && got.seq == (uint32_t)i && got.len == h.len,
		      "thread %d call %ld to rank %d got the reply to (rank %d, thread %d, call %u)", t, i, target,
		      got.rank, got.thread, got.seq);
		for (uint32_t k = 0; k < h.len; k++)
			CHECK(rep[sizeof(h) + k] == (uint8_t)(buf[sizeof(h) + k] + 1),
			      "thread %d call %ld: reply byte %u is wrong", t, i, k);
	}
	free(buf);
	free(rep);
	return NULL;
}

static int test_concurrent(int threads)
{
	pthread_t th[64];

	CHECK(threads > 0 && threads <= 64, "1 to 64 threads");
	dsm_barrier();
	for (int t = 0; t < threads; t++)
		CHECK(pthread_create(&th[t], NULL, caller, (void *)(intptr_t)t) == 0, "pthread_create");
	for (int t = 0; t < threads; t++)
		pthread_join(th[t], NULL);
	dsm_barrier();
	if (me == 0)
		printf("concurrent: %d ranks x %d threads x %ld calls to %d ranks, every reply matched: OK\n", n,
		       threads, calls, size);
	return 0;
}

/* ---- handlers and shared memory ----------------------------------------- */

static int test_shm(void)
{
	struct shared {
		int64_t counter;
		int64_t cell[64];
		struct echo_head arg;   /* an argument that lives in the region */
		uint8_t reply[64];      /* a reply buffer in the region */
	} *s = dsm_alloc_named("rpc.shm", sizeof(struct shared));
	int64_t got;
	size_t len;
	int rc;

	CHECK(s && n <= 64, "dsm_alloc_named: %s", strerror(errno));
	dsm_barrier();
	for (int r = 0; r < size; r++) {
		struct shm_arg a = { .cell = &s->cell[me], .counter = &s->counter };

		s->cell[me] = 1000 * me + r + 1;
		len = sizeof(got);
		rc = dsm_rpc_call(r, SHM, &a, sizeof(a), &got, &len);
		CHECK(rc == 0 && len == sizeof(got), "SHM on rank %d: %s", r, strerror(-rc));
		CHECK(got == 1000 * me + r + 1, "the handler on rank %d read %lld", r, (long long)got);
		CHECK(s->cell[me] == 2 * got, "after the call to rank %d the cell holds %lld, not %lld", r,
		      (long long)s->cell[me], (long long)(2 * got));
	}
	dsm_barrier();
	if (me == 0)
		CHECK(s->counter == (int64_t)n * size, "the handlers counted %lld calls, expected %d",
		      (long long)s->counter, n * size);

	/* Argument and reply buffer in the region, one rank at a time. */
	for (int turn = 0; turn < n; turn++) {
		if (turn == me) {
			s->arg = (struct echo_head){ .rank = me, .thread = 7, .seq = 3, .len = 0 };
			len = sizeof(s->reply);
			rc = dsm_rpc_call((me + 1) % size, ECHO, &s->arg, sizeof(s->arg), s->reply, &len);
			CHECK(rc == 0 && len == sizeof(struct echo_head), "ECHO from the region: %s", strerror(-rc));
			CHECK(((struct echo_head *)s->reply)->rank == (me + 1) % size &&
				      ((struct echo_head *)s->reply)->seq == 3,
			      "the reply in the region is wrong");
		}
		dsm_barrier();
	}

	/* A handler that calls its caller back. */
	{
		int32_t back = me;
		struct echo_head h;

		len = sizeof(h);
		rc = dsm_rpc_call((me + 1) % size, NEST, &back, sizeof(back), &h, &len);
		CHECK(rc == 0 && len == sizeof(h) && h.rank == me && h.thread == 99,
		      "a nested call back to this rank: %s", strerror(-rc));
	}
	dsm_barrier();
	if (me == 0)
		printf("shm: handlers read and wrote shared memory and took locks; nested calls: OK\n");
	return 0;
}

/* ---- errors -------------------------------------------------------------- */

static int test_errors(void)
{
	uint8_t *big = malloc(DSM_RPC_MAX + 1), small[8];
	uint64_t r[2], want = 0;
	size_t len;
	int rc, other = (me + 1) % size;

	CHECK(big, "out of memory");
	for (size_t i = 0; i < DSM_RPC_MAX + 1; i++)
		big[i] = (uint8_t)(i * 13);
	for (size_t i = 0; i < DSM_RPC_MAX; i++)
		want += big[i];

	len = sizeof(small);
	rc = dsm_rpc_call(other, 4242, NULL, 0, small, &len);
	CHECK(rc == -ENOENT && len == 0, "an unregistered id returned %d, %zu bytes", rc, len);
	rc = dsm_rpc_call(me, 4242, NULL, 0, NULL, NULL);
	CHECK(rc == -ENOENT, "an unregistered id on this rank returned %d", rc);

	len = sizeof(r);
	rc = dsm_rpc_call(other, SUM, big, DSM_RPC_MAX, r, &len);
	CHECK(rc == 0 && len == sizeof(r) && r[0] == DSM_RPC_MAX && r[1] == want,
	      "an argument of DSM_RPC_MAX bytes: %s", strerror(-rc));
	len = sizeof(r);
	rc = dsm_rpc_call(other, SUM, big, DSM_RPC_MAX + 1, r, &len);
	CHECK(rc == -EMSGSIZE, "an argument over DSM_RPC_MAX returned %d", rc);

	len = sizeof(small);
	rc = dsm_rpc_call(other, TOOBIG, NULL, 0, small, &len);
	CHECK(rc == -EMSGSIZE && len == 0, "a reply that does not fit returned %d", rc);
	len = sizeof(small);
	rc = dsm_rpc_call(other, FAILS, NULL, 0, small, &len);
	CHECK(rc == -EDOM, "a failing handler's result came back as %d", rc);

	CHECK(dsm_rpc_call(size, ECHO, NULL, 0, NULL, NULL) == -EINVAL, "rank out of range");
	CHECK(dsm_rpc_call(-1, ECHO, NULL, 0, NULL, NULL) == -EINVAL, "negative rank");
	len = 8;
	CHECK(dsm_rpc_call(other, ECHO, NULL, 0, NULL, &len) == -EINVAL, "a reply length without a buffer");

	/* Unregister: calls from then on find nothing. */
	CHECK(dsm_rpc_call(me, GONE, NULL, 0, NULL, NULL) == -EDOM, "GONE before unregistering");
	dsm_rpc_register(GONE, NULL);
	CHECK(dsm_rpc_call(me, GONE, NULL, 0, NULL, NULL) == -ENOENT, "GONE after unregistering");
	dsm_barrier();
	if (me == 0)
		printf("errors: OK\n");
	free(big);
	return 0;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	int threads = argc > 2 ? atoi(argv[2]) : 4, rc;

	calls = argc > 3 ? strtol(argv[3], NULL, 10) : 100;
	dsm_rpc_register(ECHO, echo);
	dsm_rpc_register(SHM, shm);
	dsm_rpc_register(NEST, nest);
	dsm_rpc_register(SUM, sum);
	dsm_rpc_register(TOOBIG, toobig);
	dsm_rpc_register(FAILS, fails);
	dsm_rpc_register(GONE, fails);
	dsm_rpc_register(DIE, die);
	CHECK(dsm_rpc_call(0, ECHO, NULL, 0, NULL, NULL) == -EINVAL, "a call before dsm_init");
	rc = dsm_init(&argc, &argv);
	CHECK(rc == 0, "dsm_init: %s", strerror(-rc));
	me = dsm_rank();
	size = dsm_size();
	n = size - dsm_num_servers();
	if (!strcmp(what, "concurrent"))
		rc = test_concurrent(threads);
	else if (!strcmp(what, "shm"))
		rc = test_shm();
	else if (!strcmp(what, "errors"))
		rc = test_errors();
	else if (!strcmp(what, "die")) {
		if (me == 0) {
			rc = dsm_rpc_call(1, DIE, NULL, 0, NULL, NULL);
			CHECK(0, "the call to a rank that died returned %d", rc);
		}
		dsm_barrier();
		CHECK(0, "the barrier returned although rank 1 died");
	}
	else
		CHECK(0, "unknown test '%s'", what);
	return finish(me, rc);
}
