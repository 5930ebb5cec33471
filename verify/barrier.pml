/*
 * barrier.pml - a Promela model of the application barrier of src/sync.c
 * (sync_barrier, bar_advance, got_round): a dissemination barrier with
 * epochs, carrying write notices.  verify/README.md maps it to the C code;
 * verify/run.sh runs the checks (`make verify`).
 *
 * What is modelled
 *   - NR ranks, NE consecutive barriers (epochs 1..NE; in C the first
 *     application barrier is epoch 2, dsm_init's being 1: only the numbers
 *     differ).  ROUNDS = ceil(log2 NR).  In round k rank r sends
 *     BARRIER_ROUND(epoch, k) to r + 2^k and waits for the one of r - 2^k
 *     (mod NR); it sends round k + 1 only once round k's message is in.
 *   - Each rank is one process: its service thread, which handles one
 *     message at a time (d_step), and its application thread, whose entry
 *     into the next barrier (the mailbox request) is one more step the
 *     process may take whenever it is not in a barrier.  Every moment of
 *     entry against every order of arrival is tried.
 *   - Messages on one FIFO channel per ordered pair of ranks (a TCP
 *     connection; the transport keeps it exactly-once and in order).  A
 *     message is kept per epoch parity and round (got[]): one of the next
 *     epoch may come while this rank is still in the current one.
 *   - Write notices: a bit per (rank, epoch): what the rank wrote before it
 *     entered that barrier.  A rank's knowledge (know[]) grows by its own
 *     bit at entry and by the notices of every message at its arrival
 *     (rc_notices_in, called before got_round); a message carries all its
 *     sender knows when it is sent (rc_notices_out; C leaves out what the
 *     receiver is known to know, which this model does not need to).
 *   - dsm_allgather's data: every barrier here is an allgather too.  A
 *     rank's data (dat[]) is a bit per rank whose contribution it holds in
 *     the current epoch: its own at entry.  Round k's message carries the
 *     block of the min(2^k, NR) ranks that end with the sender (mod NR),
 *     as BARRIER_DATA does; the receiver keeps it per epoch parity and
 *     round (ag_early) and takes it in when it takes the round (ag_take).
 *
 * Checks (assertions): when a rank leaves epoch e, every rank has entered e
 * (no rank leaves early), and the leaving rank knows the notices of every
 * rank for every epoch up to e (the union) and holds every rank's data of
 * e; a rank sends only data it holds; every message is for the epoch
 * the receiver is in (a round not taken yet) or the next one, comes from the
 * rank that round names, and is not a duplicate (C's rt_fatal checks); at the
 * end every rank left every barrier (no deadlock), every channel is empty and
 * nothing is left in got[].
 *
 * Mutants (-DMUTANT_x), each must be caught; they run with -DLAX, which
 * leaves out the checks of what a message may be (C's protocol errors), so
 * that a mutant is caught by what it breaks:
 *   DROP_EARLY  a message of the next barrier that comes while this rank is
 *               still in (or not yet out of) the current one is dropped, not
 *               kept for later
 *   ANY_ROUND   a message counts for the lowest round not in yet, whatever
 *               round it is for (messages counted, not keyed by round)
 *   OWN_ONLY    a round's message carries only its sender's own notices, not
 *               what it learned in the rounds before
 *   SEND_AHEAD  a rank sends every round's message at entry, not each one
 *               after the round before is in
 *   DATA_OWN    a round's data is only its sender's own contribution, not
 *               the block it learned in the rounds before
 *   DATA_EARLY  data that come before their round is taken are merged at
 *               once, into the epoch this rank is in (not kept per epoch)
 */

#ifndef NR
#define NR 3
#endif
#ifndef NE
#define NE 2
#endif
#if NR <= 2
#define ROUNDS 1
#elif NR <= 4
#define ROUNDS 2
#else
#define ROUNDS 3
#endif
#define CAP 3

chan ch[NR * NR] = [CAP] of { byte, byte, int, byte };
#define CH(f, t) ch[(f) * NR + (t)]
#define BIT(r, e) (1 << ((r) * NE + (e) - 1))

byte ep[NR];          /* the epoch the rank is in or left last */
byte rnd[NR];         /* the round it waits in */
bool inb[NR];         /* in a barrier */
byte got[NR * 2];     /* per rank and epoch parity: rounds whose message is in */
int know[NR];         /* write notices this rank knows */
byte left;            /* barriers left, all ranks together */
byte dat[NR];         /* dsm_allgather: the ranks whose data this rank holds */
byte dblk[NR * 2 * ROUNDS]; /* per rank, epoch parity and round: data that came */
#define ALL ((1 << NR) - 1)

/* The block of the min(2^k, NR) ranks that end with rank r, as bits. */
inline block(r, k, m)
{
	m = 0;
	x = 0;
	do
	:: x < (1 << (k)) && x < NR -> m = m | (1 << ((r + NR - x) % NR)); x++
	:: else -> break
	od
}

inline send_round(r, k)
{
	to = (r + (1 << (k))) % NR;
	assert(nfull(CH(r, to)));
	block(r, k, m);
#ifdef MUTANT_DATA_OWN
	m = 1 << r;
#endif
	assert((dat[r] & m) == m); /* bar_send copies what ag_all holds */
#ifdef MUTANT_OWN_ONLY
	CH(r, to)!ep[r], k, know[r] & (((1 << NE) - 1) << (r * NE)), m
#else
	CH(r, to)!ep[r], k, know[r], m
#endif
}

#define DSLOT(r, e, k) dblk[((r) * 2 + ((e) & 1)) * ROUNDS + (k)]

#define SLOT(r, e) got[(r) * 2 + ((e) & 1)]

/* bar_advance */
inline advance(r)
{
	do
	:: rnd[r] < ROUNDS && (SLOT(r, ep[r]) >> rnd[r]) & 1 ->
		SLOT(r, ep[r]) = SLOT(r, ep[r]) & ~(1 << rnd[r]);
		dat[r] = dat[r] | DSLOT(r, ep[r], rnd[r]); /* ag_take */
		DSLOT(r, ep[r], rnd[r]) = 0;
		rnd[r]++;
#ifndef MUTANT_SEND_AHEAD
		if :: rnd[r] < ROUNDS -> send_round(r, rnd[r]) :: else -> skip fi
#endif
	:: else -> break
	od;
	if
	:: rnd[r] == ROUNDS ->
		/* leave: every rank entered, and the union is here */
		assert(dat[r] == ALL);
		q = 0;
		do
		:: q < NR ->
			assert(ep[q] >= ep[r]);
			x = 1;
			do
			:: x <= ep[r] -> assert(know[r] & BIT(q, x)); x++
			:: else -> break
			od;
			q++
		:: else -> break
		od;
		inb[r] = 0;
		left++
	:: else -> skip
	fi
}

/* sync_barrier */
inline enter(r)
{
	ep[r]++;
	inb[r] = 1;
	rnd[r] = 0;
	dat[r] = 1 << r;
	know[r] = know[r] | BIT(r, ep[r]);
#ifdef MUTANT_SEND_AHEAD
	k = 0;
	do
	:: k < ROUNDS -> send_round(r, k); k++
	:: else -> break
	od;
#else
	send_round(r, 0);
#endif
	advance(r)
}

/* got_round (after rc_notices_in) */
inline receive(r, f)
{
	know[r] = know[r] | kn;
#ifndef LAX
	assert(k < ROUNDS && f == (r + NR - ((1 << k) % NR)) % NR);
	assert(e == ep[r] + 1 || (e == ep[r] && inb[r] && k >= rnd[r]));
#endif
#ifdef MUTANT_DROP_EARLY
	if :: e == ep[r] + 1 -> goto dropped :: else -> skip fi;
#endif
#ifdef MUTANT_ANY_ROUND
	k = 0;
	do :: (SLOT(r, e) >> k) & 1 -> k++ :: else -> break od;
#endif
#ifndef LAX
	assert(!((SLOT(r, e) >> k) & 1));
#endif
	SLOT(r, e) = SLOT(r, e) | (1 << k);
#ifdef MUTANT_DATA_EARLY
	dat[r] = dat[r] | m;
#else
	DSLOT(r, e, k) = m;
#endif
	if :: e == ep[r] && inb[r] -> advance(r) :: else -> skip fi;
dropped:
	skip
}

#define RECV(f) :: d_step { CH(f, r)?e, k, kn, m -> receive(r, f); e = 0; k = 0; kn = 0; q = 0; x = 0; to = 0; m = 0 }

proctype rank(byte r)
{
	byte e, k, q, x, to, m;
	int kn;

end:	do
	:: d_step { !inb[r] && ep[r] < NE -> enter(r); k = 0; q = 0; x = 0; to = 0; m = 0 }
	RECV(0)
	RECV(1)
#if NR > 2
	RECV(2)
#endif
#if NR > 3
	RECV(3)
#endif
#if NR > 4
	RECV(4)
#endif
	od
}

init
{
	byte i;

	atomic {
		i = 0;
		do
		:: i < NR -> run rank(i); i++
		:: else -> break
		od
	}
	left == NR * NE;
	i = 0;
	do
	:: i < NR * NR -> assert(empty(ch[i])); i++
	:: else -> break
	od;
	i = 0;
	do
	:: i < NR * 2 -> assert(got[i] == 0); i++
	:: else -> break
	od;
	i = 0;
	do
	:: i < NR * 2 * ROUNDS -> assert(dblk[i] == 0); i++
	:: else -> break
	od
}
