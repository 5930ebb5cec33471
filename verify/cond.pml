/*
 * cond.pml - a Promela model of dsm_cond_wait / dsm_cond_signal /
 * dsm_cond_broadcast in src/sync.c: the race between a waiter releasing its
 * lock and a signal from another rank.  verify/README.md maps it to the C
 * code; verify/run.sh runs the checks (`make verify`).
 *
 * What is modelled
 *   - 3 ranks.  The condition's home is rank 0.  Waiter threads: one on
 *     rank 1 (its condition is homed elsewhere: COND_WAIT, then COND_QUEUED
 *     before it releases the lock) and one on rank 0 (the home: it queues
 *     itself under home_mu, one step).  The signalling thread is on rank 2.
 *   - The lock is one indivisible test-and-set (verify/lock.pml checks the
 *     lock itself): what matters here is only that the signaller changes the
 *     predicate while holding it, after a waiter's release.
 *   - The predicate is a count of items: the signaller produces one item per
 *     waiter, each under the lock, and signals (or, with -DBCAST, produces
 *     them all and broadcasts once); each waiter consumes one item, waiting
 *     while there is none.
 *   - Messages COND_WAIT, COND_QUEUED, COND_SIGNAL (with the broadcast flag),
 *     COND_WAKE on one FIFO channel per ordered pair of ranks; each rank's
 *     service thread handles one message at a time (d_step).  A waiter on the
 *     home rank is woken directly by whoever serves it.
 *
 * Checks: no deadlock (every thread ends: a lost wake-up leaves a waiter
 * asleep with an item there for it, an invalid end state), and at the end
 * every item was consumed exactly once.
 *
 * Mutants (-DMUTANT_x), each must be caught:
 *   RELEASE_FIRST  the remote waiter releases the lock before the home
 *                  acknowledged its COND_WAIT (the race this design closes)
 *   SIGNAL_NOBODY  the home drops a signal without waking the oldest waiter
 *                  when two wait (a broken queue)
 */

#define NR 3
#define HOME 0
#define NW 2                  /* waiters: thread 0 on rank 1, thread 1 on rank 0 */
#define WRANK(w) (1 - (w))
#define SRANK 2
#define CAP 4

mtype = { COND_WAIT, COND_QUEUED, COND_SIGNAL, COND_WAKE };

chan ch[NR * NR] = [CAP] of { mtype, byte };
#define CH(f, t) ch[(f) * NR + (t)]
#define SEND(f, t, m, a) assert(nfull(CH(f, t))); CH(f, t)!m, a

byte lk;                       /* 0 free, else the holder + 1 (thread NW is the signaller) */
byte items;
byte consumed;
chan cq = [NW] of { byte };    /* the home's queue of waiters */
bool queued[NW], woken[NW];
byte ended;

inline lock(me) { atomic { lk == 0 -> lk = me + 1 } }
inline unlock(me) { assert(lk == me + 1); lk = 0 }

/* home_cond_signal: wake the oldest waiter, or all of them */
inline home_signal(all)
{
	do
	:: nempty(cq) ->
		cq?w;
#ifdef MUTANT_SIGNAL_NOBODY
		if :: len(cq) > 0 -> cq!w; break :: len(cq) == 0 -> skip fi;
#endif
		if
		:: WRANK(w) == HOME -> woken[w] = 1
		:: WRANK(w) != HOME -> SEND(HOME, WRANK(w), COND_WAKE, w)
		fi;
		if :: !all -> break :: all -> skip fi
	:: empty(cq) -> break
	od;
	w = 0
}

proctype service(byte r)
{
	byte a, w;
	mtype m;

#define HANDLE(f) \
	if \
	:: m == COND_WAIT -> assert(r == HOME); cq!a; SEND(HOME, f, COND_QUEUED, a) \
	:: m == COND_SIGNAL -> assert(r == HOME); home_signal(a) \
	:: m == COND_QUEUED -> queued[a] = 1 \
	:: m == COND_WAKE -> assert(queued[a]); woken[a] = 1 \
	fi; \
	a = 0

end:	do
	:: d_step { CH(0, r)?m, a -> HANDLE(0) }
	:: d_step { CH(1, r)?m, a -> HANDLE(1) }
	:: d_step { CH(2, r)?m, a -> HANDLE(2) }
	od
}

proctype waiter(byte me)
{
	byte r = WRANK(me);

	lock(me);
	do
	:: items > 0 -> break
	:: items == 0 ->
		/* dsm_cond_wait: queued at the home first, then the release */
		if
		:: r == HOME -> cq!me
		:: r != HOME ->
			SEND(r, HOME, COND_WAIT, me);
#ifndef MUTANT_RELEASE_FIRST
			queued[me];
#endif
		fi;
		unlock(me);
#ifdef MUTANT_RELEASE_FIRST
		if :: r != HOME -> queued[me] :: r == HOME -> skip fi;
#endif
		woken[me];
		d_step { woken[me] = 0; queued[me] = 0 }
		lock(me)
	od;
	items--;
	consumed++;
	unlock(me);
	ended++
}

proctype signaller()
{
	byte i = 0, w;

#ifdef BCAST
	lock(NW);
	items = NW;
	SEND(SRANK, HOME, COND_SIGNAL, 1);
	unlock(NW);
#else
	do
	:: i < NW ->
		lock(NW);
		items++;
		/* the signal inside the lock for one item, after it for the other */
		if
		:: i == 0 -> SEND(SRANK, HOME, COND_SIGNAL, 0); unlock(NW)
		:: i != 0 -> unlock(NW); SEND(SRANK, HOME, COND_SIGNAL, 0)
		fi;
		i++
	:: i == NW -> break
	od;
#endif
	w = 0;
	ended++
}

init
{
	atomic {
		run service(0);
		run service(1);
		run service(2);
		run waiter(0);
		run waiter(1);
		run signaller()
	}
	ended == NW + 1;
	assert(consumed == NW && items == 0)
}
