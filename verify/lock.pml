/*
 * lock.pml - a Promela model of the lock protocol of src/sync.c with locks
 * cached at their last holder, as implemented.  verify/README.md maps it to
 * the C code; verify/run.sh runs the checks (`make verify`).
 *
 * What is modelled
 *   - NR ranks with NT threads each; one lock, whose home is rank 0 (HOME).
 *     Which rank is home does not matter to the protocol except that the
 *     home's messages to itself go through the local FIFO (the channel
 *     (HOME, HOME)), as tp_send() to itself does.
 *   - The home's entry (struct sobj): holder, the holder's grant id,
 *     recalled / probed / busy, and the FIFO queue of requests (thread,
 *     trylock or not).
 *   - Each rank's cache entry (struct lentry): present, held, recalled, the
 *     grant id, and the FIFO of this rank's threads waiting for it.
 *   - Each rank's mailbox (application threads -> service thread, FIFO) and
 *     its service thread: every handler one indivisible step (d_step), as one
 *     service thread runs them one at a time under the stripe mutex.
 *   - A thread of the home's rank that finds the lock free at the home takes
 *     it there and caches it in the same step (take_at_home()).
 *   - Each thread: ROUNDS times, dsm_lock or (with -DTRY, chosen freely)
 *     dsm_trylock, then if it got the lock the critical section and
 *     dsm_unlock.  The fast paths of dsm_lock/dsm_trylock/dsm_unlock are one
 *     step each (they run under the stripe mutex); the slow path pushes a
 *     request into the mailbox and waits for its completion.
 *   - Messages LOCK_REQ, LOCK_GRANT (status granted or EBUSY), UNLOCK,
 *     LOCK_RECALL (with or without the probe flag) and LOCK_BUSY, one FIFO
 *     channel per ordered pair of ranks (a TCP connection).
 *
 * Grant ids.  In C the id of the grant a recall recalls is the request id
 * (a counter), or for a lock taken at its home by a thread of the home's
 * rank an id of its own space: unique.  Here it is the number of the holding
 * (hseq, counted by the home), as unique; a recall whose id is not the
 * cache entry's is stale and dropped, as in C.  (An earlier version used the
 * thread's index as the id; spin found a stale probe that named a later
 * holding of the same thread taken at the home.)
 *
 * Checks: mutual exclusion (at most one thread of all ranks in its critical
 * section, asserted on entry), the cache agrees with the home (at most one
 * rank caches the lock, and that rank is the home's holder: monitor), every
 * rt_fatal of sync.c that says "protocol error" is an assertion, channels
 * never overflow, and no deadlock: every thread finishes its rounds (an
 * invalid end state otherwise).
 *
 * Mutants (-DMUTANT_x), each must be caught:
 *   RECALL_WHILE_HELD  the holder gives a recalled lock back while a thread
 *                      holds it (mutual exclusion)
 *   NO_RECALL          the home queues a request behind a cached lock without
 *                      recalling it (deadlock: the cache never lets go)
 */

#ifndef NR
#define NR 2
#endif
#ifndef NT
#define NT 2
#endif
#ifndef ROUNDS
#define ROUNDS 2
#endif
#define HOME 0
#define NTH (NR * NT)
#define RANK(t) ((t) / NT)
#define CAP 6
#define NONE 255

mtype = { LOCK_REQ, LOCK_GRANT, UNLOCK, RECALL, BUSY };

/* type, a (thread; a RECALL's grant id), b (try / EBUSY status / probe),
 * c (a granted LOCK_GRANT's grant id) */
chan ch[NR * NR] = [CAP] of { mtype, byte, byte, byte };
#define CH(f, t) ch[(f) * NR + (t)]
#define SEND(f, t, m, a, b) assert(nfull(CH(f, t))); CH(f, t)!m, a, b, 0
#define SEND3(f, t, m, a, b, c) assert(nfull(CH(f, t))); CH(f, t)!m, a, b, c

/* mailbox: thread, kind (0 lock, 1 trylock, 2 unlock: give a recalled lock back) */
chan mbox[NR] = [2 * NT] of { byte, byte }; /* an unlock may still be there when its thread asks again */

/* the home's entry */
byte holder = NONE;
byte hgrant;
byte hseq;          /* grant ids: one per holding, unique as C's request ids */
bool hrecalled, hprobed, hbusy;
chan hq = [NTH] of { byte, byte }; /* thread, try */

/* each rank's cache entry */
bool ce[NR], held[NR], crecalled[NR];
byte cgrant[NR];
chan lq[NR] = [NT] of { byte };

/* each thread: 0 waiting, 1 granted, 2 EBUSY */
byte got[NTH];
byte in_cs;
byte finished; /* threads that did all their rounds */

inline fail_trylocks()
{
	k = len(hq);
	do
	:: k > 0 ->
		hq?x, y;
		if
		:: y -> SEND(HOME, RANK(x), LOCK_GRANT, x, 1)
		:: !y -> hq!x, y
		fi;
		k--
	:: else -> break
	od
}

inline grant_lock(t)
{
	holder = RANK(t);
	hseq++;
	hgrant = hseq;
	hrecalled = 0;
	hprobed = 0;
	hbusy = 0;
	SEND3(HOME, RANK(t), LOCK_GRANT, t, 0, hgrant)
}

/* the home's handlers (home_lock, home_unlock, home_busy) */
inline home_msg(f, m, a, b)
{
	if
	:: m == LOCK_REQ ->
		if
		:: holder == NONE -> grant_lock(a)
		:: holder != NONE && b && hbusy -> SEND(HOME, f, LOCK_GRANT, a, 1)
		:: holder != NONE && !(b && hbusy) ->
			assert(nfull(hq));
			hq!a, b;
#ifndef MUTANT_NO_RECALL
			if
			:: !hrecalled || (b && !hprobed) ->
				SEND(HOME, holder, RECALL, hgrant, b);
				hrecalled = 1;
				if :: b -> hprobed = 1 :: else -> skip fi
			:: else -> skip
			fi
#endif
		fi
	:: m == UNLOCK ->
		assert(holder == f);                 /* "released lock ... (protocol error)" */
		if
		:: empty(hq) ->
			holder = NONE;
			hrecalled = 0;
			hprobed = 0;
			hbusy = 0
		:: nempty(hq) ->
			hq?x, y;
			grant_lock(x);
			fail_trylocks();
			if
			:: nempty(hq) ->
				SEND(HOME, holder, RECALL, hgrant, 0);
				hrecalled = 1;
				hbusy = 1
			:: empty(hq) -> skip
			fi
		fi
	:: m == BUSY ->
		assert(holder == f && hprobed);      /* "said it holds ... (protocol error)" */
		hbusy = 1;
		fail_trylocks()
	fi
}

/* the requester's handlers (got_grant, got_recall) */
inline rank_msg(r, f, m, a, b, c)
{
	assert(f == HOME);
	if
	:: m == LOCK_GRANT && b == 0 ->
		assert(!ce[r]);                      /* "already holds (protocol error)" */
		ce[r] = 1;
		held[r] = 1;
		crecalled[r] = 0;
		cgrant[r] = c;
		got[a] = 1
	:: m == LOCK_GRANT && b == 1 ->
		got[a] = 2
	:: m == RECALL ->
		if
		:: !ce[r] || cgrant[r] != a -> skip  /* stale: given back already */
		:: ce[r] && cgrant[r] == a ->
#ifdef MUTANT_RECALL_WHILE_HELD
			if :: true -> 
#else
			if
			:: !held[r] ->
#endif
				ce[r] = 0;
				held[r] = 0;
				crecalled[r] = 0;
				SEND(r, HOME, UNLOCK, a, 0)
			:: else ->
				crecalled[r] = 1;
				if :: b -> SEND(r, HOME, BUSY, 0, 0) :: else -> skip fi
			fi
		fi
	fi
}

/* the service thread's request_lock() and MBOX_UNLOCK */
inline mbox_req(r, t, k)
{
	if
	:: k == 2 -> SEND(r, HOME, UNLOCK, t, 0)
	:: k != 2 && ce[r] && !held[r] -> held[r] = 1; got[t] = 1
	:: k == 1 && ce[r] && held[r] -> got[t] = 2
	:: k == 0 && ce[r] && held[r] && !crecalled[r] -> lq[r]!t
	:: k != 2 && !(ce[r] && (!held[r] || k == 1 || !crecalled[r])) -> SEND(r, HOME, LOCK_REQ, t, k)
	fi
}

#define HANDLE(f) \
	if \
	:: r == HOME && (m == LOCK_REQ || m == UNLOCK || m == BUSY) -> home_msg(f, m, a, b) \
	:: else -> rank_msg(r, f, m, a, b, c) \
	fi; \
	a = 0; b = 0; c = 0; x = 0; y = 0; k = 0

proctype service(byte r)
{
	byte a, b, c, t, k, x, y;
	mtype m;

end:	do
	:: d_step { mbox[r]?t, k -> mbox_req(r, t, k); t = 0; k = 0 }
	:: d_step { CH(0, r)?m, a, b, c -> HANDLE(0) }
	:: d_step { CH(1, r)?m, a, b, c -> HANDLE(1) }
#if NR > 2
	:: d_step { CH(2, r)?m, a, b, c -> HANDLE(2) }
#endif
	od
}

proctype thread(byte t)
{
	byte r = RANK(t), i = 0, w;
	bool try;

	do
	:: i < ROUNDS ->
#ifdef TRY
		if :: try = 0 :: try = 1 fi;
#endif
		d_step {
			if
			:: ce[r] && !held[r] -> held[r] = 1; got[t] = 1
			:: ce[r] && held[r] && try -> got[t] = 2
			:: ce[r] && held[r] && !try && !crecalled[r] -> lq[r]!t
#ifndef NO_TAKE_AT_HOME
			:: !ce[r] && r == HOME && holder == NONE ->
				/* take_at_home(): a free lock homed here */
				holder = r;
				hseq++;
				hgrant = hseq;
				hrecalled = 0;
				hprobed = 0;
				hbusy = 0;
				ce[r] = 1;
				held[r] = 1;
				crecalled[r] = 0;
				cgrant[r] = hgrant;
				got[t] = 1
			:: !(ce[r] && (!held[r] || try || !crecalled[r])) && !(!ce[r] && r == HOME && holder == NONE) ->
#else
			:: !(ce[r] && (!held[r] || try || !crecalled[r])) ->
#endif
				assert(nfull(mbox[r]));
				mbox[r]!t, try
			fi
		}
		got[t] != 0;
		if
		:: got[t] == 1 ->
			d_step { in_cs++; assert(in_cs == 1) }
			d_step { in_cs-- }
			d_step {
				if
				:: !(ce[r] && held[r]) -> skip   /* -EPERM (only a mutant gets here) */
				:: ce[r] && held[r] && nempty(lq[r]) -> lq[r]?w; got[w] = 1; w = 0
				:: ce[r] && held[r] && empty(lq[r]) && !crecalled[r] -> held[r] = 0
				:: ce[r] && held[r] && empty(lq[r]) && crecalled[r] ->
					ce[r] = 0;
					held[r] = 0;
					crecalled[r] = 0;
					assert(nfull(mbox[r]));
					mbox[r]!t, 2
				fi
			}
		:: got[t] == 2 -> skip
		fi;
		got[t] = 0;
		try = 0;
		i++
	:: else -> break
	od;
	finished++
}

/* The cache agrees with the home: a rank that caches the lock is the
 * home's holder (so at most one rank caches it).  Evaluated in every state:
 * the guard holds only in a state that breaks it. */
#if NR > 2
#define AGREE (!ce[2] || holder == 2)
#else
#define AGREE true
#endif
active proctype monitor()
{
end:	atomic { !((!ce[0] || holder == 0) && (!ce[1] || holder == 1) && AGREE) -> assert(false) }
}

init
{
	byte i;
	atomic {
		i = 0;
		do
		:: i < NR -> run service(i); i++
		:: else -> break
		od;
		i = 0;
		do
		:: i < NTH -> run thread(i); i++
		:: else -> break
		od
	}
}
