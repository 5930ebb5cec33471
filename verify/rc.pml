/*
 * rc.pml - a Promela model of the home-based lazy release-consistent
 * protocol with multiple writers (twins and diffs) that release-consistent
 * allocations use (src/rc.c).  verify/README.md says what each check proves;
 * verify/run.sh runs the checks (`make verify`).
 *
 * What is modelled
 *   - 3 ranks, 2 pages of 2 words each; page p's home is rank p (rank 2 is
 *     home of nothing).  The home holds the master copy (mem) and reads and
 *     writes it directly; its own writes are recorded as write notices like
 *     anyone's.  A non-home rank's copy is INVALID, READ (clean) or WRITE
 *     (a twin kept, dirty).
 *   - A read or write of an INVALID copy fetches the whole page from its
 *     home (FETCH, PAGE) and installs it READ.  A write to a READ copy keeps
 *     a twin and makes it WRITE: no message.
 *   - Release (unlock, barrier entry, the end of the program): each dirty
 *     page's diff (the words that differ from the twin, with their values)
 *     goes to its home (DIFF), which applies it and acknowledges (ACK); the
 *     release completes when every ack is in; then every copy is READ and
 *     its twin dropped, and if the rank wrote anything since its previous
 *     release, the pages it wrote become one interval's write notices:
 *     interval vc[r][r] + 1 of creator r.
 *   - Acquire (lock grant, barrier exit): the synchronisation carries a
 *     vector timestamp, the intervals of each creator that the releaser
 *     knew of (lock grant: the last releaser's vector; barrier exit: the
 *     union of every rank's vector at its entry).  The acquirer invalidates
 *     its copies of the pages named by every interval it had not seen yet
 *     (a dirty one is flushed first: its diff sent and acknowledged), then
 *     merges the vector into its own.  Notices are immutable once made, so
 *     the table notices[creator][interval] stands for the notices that travel
 *     with the vector; an acquirer reads only the entries its vector covers.
 *   - Locks and the barrier themselves are indivisible steps here (a
 *     test-and-set and a counter): lock.pml checks the lock protocol, and
 *     what matters for consistency is what the release publishes and what
 *     the acquire learns.  Their messages would only be more interleavings
 *     of the same order: release before grant, every entry before any exit.
 *   - -DCARRY: a barrier's release carries its diffs in the barrier (rc.c's
 *     carried intervals): no DIFF, no ACK; the pages written become an
 *     interval as before.  At its exit each rank, in creator order, applies
 *     the carried diffs of the pages it is home of to their masters and
 *     patches the copies it holds READ with every carried diff of their
 *     pages (its own too); the carried intervals invalidate nothing.  A
 *     FETCH or DIFF names the barriers its sender has left; a home that has
 *     left fewer holds it until its own exit, after the carried diffs
 *     (in_epoch(); the held DIFFs are applied, then the FETCHes answered).  The
 *     home's own writes go to the master at once, as before; the words it
 *     wrote since its last release are its carried diff.
 *   - -DOPEN: a release keeps every dirty copy open for writing (rc.c's
 *     open pages; closing is the release without OPEN): its diff goes as
 *     before, when it has changed words, and its twin becomes a copy of it.
 *     An acquire flushes and drops an open copy as it does a dirty one.  At
 *     a carrying barrier's exit an open copy and its twin take the others'
 *     carried diffs (not its own), and a READ copy that the others' diffs
 *     patch opens, its twin the patched copy.
 *   - FETCH, PAGE, DIFF, ACK on one FIFO channel per ordered pair of ranks
 *     (a TCP connection); each rank's handlers are indivisible (d_step), as
 *     its one service thread runs them one at a time.  One application
 *     thread per rank.
 *
 * The programs.  Every data-race-free program of the shape below runs, with
 * every interleaving of its ranks and of the protocol's messages:
 *   - main: phases separated by barriers (NPH phases, K operations per rank
 *     per phase, any of them may be left out).  Words 1 (page 0) and 3
 *     (page 1) are guarded by lock 0: a critical section of any rank reads
 *     one of them and writes it (an increment).  Words 0 (page 0) and 2
 *     (page 1) are owned in phase 0, word 0 by rank 2 and word 2 by rank 0,
 *     who read or write them outside critical sections (so two ranks write disjoint words of one
 *     page at once: rank 2 word 0 and anyone word 1, and rank 0 word 2 while
 *     anyone writes word 3); in phase 1 they are read-only and every rank may
 *     read them.  The program's end is a release (dsm_finalize).  That is
 *     data-race-free by construction.
 *   - -DCHAIN: the transitive chain across two locks (A writes x and flag
 *     f1 under lock 0; B reads f1 under lock 0 and, if set, writes flag f2
 *     under lock 1; C, which read x's page before, reads f2 under lock 1
 *     and, if set, reads x outside any lock).  Ranks CA, CB, CC.
 *   - -DOPEN: in phase 1 word 2 stays rank 0's, which may read and write
 *     it; the others read only word 0.
 *
 * Data.  sc[w] is the "SC memory": the number of writes to word w so far,
 * bumped in the same step as the write, which stores that number.  In a
 * data-race-free program every other write to w is ordered by
 * happens-before with a read of w, and happens-before is real-time order
 * here, so the latest write in real time is the one the read must return
 * under sequential consistency: every read asserts that it got sc[w].
 *
 * Checks (see verify/run.sh): every read returns what sequential
 * consistency allows (the assertion in rd), the protocol's own errors
 * (a PAGE nobody asked for, an ACK with no diff outstanding, a FETCH or DIFF
 * to a rank that is not the page's home), channels never overflow, no
 * deadlock (every rank ends), and at the end, with every message handled,
 * the homes' master copies hold the last write to every word (so two
 * writers' diffs to one page both survive).
 *
 * Mutants (-DMUTANT_x), each must be caught:
 *   EARLY_RELEASE      a release completes before the homes acknowledged its
 *                      diffs
 *   KEEP_STALE         an acquire keeps a copy that it holds dirty instead of
 *                      flushing and invalidating it
 *   DIFF_TWICE         every diff reaches its home twice (a retransmission
 *                      the home does not recognise) and is applied twice
 *   NOT_TRANSITIVE     a lock grant carries only the intervals its last
 *                      releaser created itself, not those it had learned
 *   SERVE_EARLY        (CARRY) a home answers the FETCH of a rank that left
 *                      the barrier before it did, before it applied the
 *                      carried diffs
 *   NO_PATCH           (CARRY) a rank keeps the copies it holds as they
 *                      are at a barrier's exit, neither patched nor dropped
 *   DIFF_EARLY         (CARRY) a home applies the DIFF of a rank that left
 *                      the barrier before it did at once, so the carried
 *                      diffs it applies at its exit undo it (OPEN's program
 *                      writes a carried word again in the next phase)
 *   OPEN_STALE         (CARRY, OPEN) a barrier's exit leaves the copies
 *                      held open unpatched
 *   OPEN_NO_TWIN       (CARRY, OPEN) it patches an open copy but not its
 *                      twin, so the copy's next diff sends the others'
 *                      words back, stale
 */

#define NR 3
#define NP 2
#define NWD 2                  /* words per page */
#define NW (NP * NWD)
#define HOME(p) (p)            /* NP <= NR */
#ifndef CAP
#define CAP 4 /* the checks assert that no channel ever holds more */
#endif

#ifdef CHAIN
#define NL 2
#define NPH 1
#define K 0
#ifndef CA
#define CA 0
#endif
#ifndef CB
#define CB 1
#endif
#ifndef CC
#define CC 2
#endif
#define MAXI 3
#else
#define NL 1
#ifndef NPH
#define NPH 2
#endif
#ifndef K
#define K 2
#endif
/* intervals per rank: at most one per release (K unlocks per phase, a
 * barrier between phases, one at the end) */
#define MAXI (NPH * K + NPH)
#endif

#define INVALID 0
#define READ 1
#define WRITE 2

mtype = { FETCH, PAGE, DIFF, ACK };

/* type, page, a (DIFF: bit i = word i changed; D_DUP: the mutant's second
 * copy, applied without an ack), the page's two words */
chan ch[NR * NR] = [CAP] of { mtype, byte, byte, byte, byte };
#define CH(f, t) ch[(f) * NR + (t)]
#define SEND(f, t, m, p, a, v0, v1) assert(nfull(CH(f, t))); CH(f, t)!m, p, a, v0, v1
#define D_DUP 4

byte sc[NW];                   /* the SC memory: writes to each word so far */
byte mem[NW];                  /* the homes' master copies */
byte st[NR * NP];              /* a non-home rank's copy: INVALID/READ/WRITE */
byte cp[NR * NW];              /* its words */
byte tw[NR * NW];              /* its twin (when WRITE) */
byte pendn[NR * NP];           /* diffs sent and not yet acknowledged */
byte fetching[NR];             /* page + 1 of the FETCH in flight, or 0 */
byte written[NR];              /* pages written since the last release */
byte vc[NR * NR];              /* vc[r][q]: intervals of q that r has seen */
byte notices[NR * MAXI];       /* pages written in interval i + 1 of q */
byte lk[NL];                   /* 0 free, else holder + 1 */
byte lvec[NL * NR];            /* the vector a lock grant carries */
#if NPH > 1
byte bvec[(NPH - 1) * NR];     /* the vector a barrier's exit carries */
byte arrived[NPH - 1];
#endif
byte ended;
byte pfet[NR * NR];            /* CARRY: at home h, page + 1 of f's held FETCH */
#ifdef CARRY
byte left[NR];                 /* barriers each rank has left */
byte hw[NR];                   /* the home's words written since its release */
byte cdm[(NPH - 1) * NR * NP]; /* barrier b's carried diffs: the words of */
byte cdv[(NPH - 1) * NR * NW]; /* page p that creator q changed, and values */
byte civ[(NPH - 1) * NR];      /* the number of q's carried interval, or 0 */
#define CDM(b, q, p) cdm[((b) * NR + (q)) * NP + (p)]
#define CDV(b, q, w) cdv[((b) * NR + (q)) * NW + (w)]
#define LEFT(r) left[r]
#define HW_MARK(w) hw[r] = hw[r] | (1 << (w))
#define HW_CLEAR hw[r] = 0
#ifdef MUTANT_SERVE_EARLY
#define HOLD_FETCH(a) false
#else
#define HOLD_FETCH(a) ((a) > left[r])
#endif
#ifdef MUTANT_DIFF_EARLY
#define HOLD_DIFF(a) false
#else
#define HOLD_DIFF(a) ((a) > left[r])
#endif
#define DIFF_LEFT (left[r] << 3)
#else
#define LEFT(r) 0
#define HW_MARK(w) skip
#define HW_CLEAR skip
#define HOLD_FETCH(a) false
#define HOLD_DIFF(a) false
#define DIFF_LEFT 0
#endif
/* CARRY: at home h, the DIFF from f of page p held until h's exit: its
 * mask + 1, and its words */
byte pdm[NR * NR * NP];
byte pdv[NR * NR * NW];
#define PDM(h, f, p) pdm[((h) * NR + (f)) * NP + (p)]
#define PDV(h, f, w) pdv[((h) * NR + (f)) * NW + (w)]

#define ST(r, p) st[(r) * NP + (p)]
#define CPW(r, w) cp[(r) * NW + (w)]
#define TWW(r, w) tw[(r) * NW + (w)]
#define VC(r, q) vc[(r) * NR + (q)]

/* A rank's service thread: one handler at a time. */
proctype service(byte r)
{
	mtype m;
	byte p, a, v0, v1;

#define HANDLE(f) \
	if \
	:: m == FETCH -> \
		assert(r == HOME(p)); \
		if \
		:: HOLD_FETCH(a) -> pfet[r * NR + (f)] = p + 1 \
		:: else -> SEND(r, f, PAGE, p, 0, mem[p * NWD], mem[p * NWD + 1]) \
		fi \
	:: m == DIFF -> \
		assert(r == HOME(p)); \
		if \
		:: HOLD_DIFF(a >> 3) -> \
			assert(PDM(r, f, p) == 0); \
			PDM(r, f, p) = (a & 7) + 1; \
			PDV(r, f, p * NWD) = v0; PDV(r, f, p * NWD + 1) = v1 \
		:: else -> \
			if :: a & 1 -> mem[p * NWD] = v0 :: else -> skip fi; \
			if :: a & 2 -> mem[p * NWD + 1] = v1 :: else -> skip fi; \
			if :: !(a & D_DUP) -> SEND(r, f, ACK, p, 0, 0, 0) :: else -> skip fi \
		fi \
	:: m == PAGE -> \
		assert(r != HOME(p) && fetching[r] == p + 1 && ST(r, p) == INVALID); \
		CPW(r, p * NWD) = v0; CPW(r, p * NWD + 1) = v1; \
		ST(r, p) = READ; \
		fetching[r] = 0 \
	:: m == ACK -> \
		assert(pendn[r * NP + p] > 0); \
		pendn[r * NP + p]-- \
	fi; \
	p = 0; a = 0; v0 = 0; v1 = 0

end:	do
	:: d_step { CH((r + 1) % NR, r)?m, p, a, v0, v1 -> HANDLE((r + 1) % NR) }
	:: d_step { CH((r + 2) % NR, r)?m, p, a, v0, v1 -> HANDLE((r + 2) % NR) }
	od
}

/* A fault on an INVALID copy: the whole page from its home. */
/*
 * The application's operations.  Each is a few indivisible steps (d_step),
 * split only where it waits (for the lock, a page, acks, the barrier); an
 * operation as a whole is atomic apart from those waits.  Its steps touch
 * only this rank's state, or are sends, acquires and releases, and stores
 * that in a data-race-free program no other rank can observe in between, so
 * they commute with what the other ranks do meanwhile (a reduction: it
 * removes interleavings that cannot change any outcome).
 */

/* Begin an access to word w: fetch its page if the copy is INVALID. */
#define ACCESS_BEGIN(w) \
	p = (w) / NWD; \
	if \
	:: r != HOME(p) && ST(r, p) == INVALID -> \
		fetching[r] = p + 1; \
		SEND(r, HOME(p), FETCH, p, LEFT(r), 0, 0) \
	:: else -> skip \
	fi

/* Read word w into v: it must be the last write ordered before it. */
inline rd(w)
{
	d_step { ACCESS_BEGIN(w) }
	d_step {
		fetching[r] == 0 ->
		if
		:: r == HOME(p) -> v = mem[w]
		:: else -> v = CPW(r, w)
		fi;
		assert(v == sc[w]);
		p = 0
	}
}

/* The store of a write to word w: the value is the number of writes to it
 * so far; a non-home copy READ keeps a twin first. */
#define STORE(w) \
	sc[w]++; \
	if \
	:: r == HOME(p) -> mem[w] = sc[w]; HW_MARK(w) \
	:: else -> \
		if \
		:: ST(r, p) == READ -> \
			TWW(r, p * NWD) = CPW(r, p * NWD); \
			TWW(r, p * NWD + 1) = CPW(r, p * NWD + 1); \
			ST(r, p) = WRITE \
		:: else -> assert(ST(r, p) == WRITE) \
		fi; \
		CPW(r, w) = sc[w] \
	fi; \
	written[r] = written[r] | (1 << p)

inline wr(w)
{
	d_step { ACCESS_BEGIN(w) }
	d_step { fetching[r] == 0 -> STORE(w); p = 0 }
}

/* A critical section's access: read word w and write it (an increment). */
inline inc(w)
{
	d_step { ACCESS_BEGIN(w) }
	d_step {
		fetching[r] == 0 ->
		if
		:: r == HOME(p) -> v = mem[w]
		:: else -> v = CPW(r, w)
		fi;
		assert(v == sc[w]);
		STORE(w);
		p = 0
	}
}

/* Send the diffs of the dirty pages in mask D (the words that differ from
 * the twin, with their values) to their homes. */
#define SEND_DIFFS(D) \
	p = 0; \
	do \
	:: p < NP -> \
		if \
		:: ((D) & (1 << p)) && r != HOME(p) && ST(r, p) == WRITE -> \
			a = 0; \
			if :: CPW(r, p * NWD) != TWW(r, p * NWD) -> a = 1 :: else -> skip fi; \
			if :: CPW(r, p * NWD + 1) != TWW(r, p * NWD + 1) -> a = a | 2 :: else -> skip fi; \
			if \
			:: a != 0 -> \
				SEND(r, HOME(p), DIFF, p, a | DIFF_LEFT, CPW(r, p * NWD), CPW(r, p * NWD + 1)); \
				SEND_DUP; \
				pendn[r * NP + p]++ \
			:: else -> skip /* an open page not written since: nothing */ \
			fi \
		:: else -> skip \
		fi; \
		p++ \
	:: else -> break \
	od; \
	p = 0; a = 0

#ifdef MUTANT_DIFF_TWICE
#define SEND_DUP SEND(r, HOME(p), DIFF, p, a | D_DUP | DIFF_LEFT, CPW(r, p * NWD), CPW(r, p * NWD + 1))
#else
#define SEND_DUP skip
#endif

/* Every diff sent is acknowledged. */
#define ACKS_IN (pendn[r * NP] == 0 && pendn[r * NP + 1] == 0)
#ifdef MUTANT_EARLY_RELEASE
#define RELEASE_WAITS true
#else
#define RELEASE_WAITS ACKS_IN
#endif

/* Leave every page of mask D in state ns (READ: twin dropped; INVALID:
 * copy dropped). */
#define SET_STATE(D, ns) \
	p = 0; \
	do \
	:: p < NP -> \
		if \
		:: ((D) & (1 << p)) && r != HOME(p) && ST(r, p) != INVALID -> \
			ST(r, p) = ns; \
			TWW(r, p * NWD) = 0; TWW(r, p * NWD + 1) = 0; \
			if \
			:: ns == INVALID -> CPW(r, p * NWD) = 0; CPW(r, p * NWD + 1) = 0 \
			:: else -> skip \
			fi \
		:: else -> skip \
		fi; \
		p++ \
	:: else -> break \
	od; \
	p = 0

/* -DOPEN: a release keeps every dirty copy open for writing, its twin now
 * a copy of it (rc.c's open pages, always kept here: closing is the
 * release without OPEN). */
#ifdef OPEN
#define RELEASE_PAGES \
	p = 0; \
	do \
	:: p < NP -> \
		if \
		:: r != HOME(p) && ST(r, p) == WRITE -> \
			TWW(r, p * NWD) = CPW(r, p * NWD); TWW(r, p * NWD + 1) = CPW(r, p * NWD + 1) \
		:: else -> skip \
		fi; \
		p++ \
	:: else -> break \
	od; \
	p = 0
#else
#define RELEASE_PAGES SET_STATE(3, READ)
#endif

/* The end of a release, once the homes have acknowledged: every copy clean
 * (or open, with a fresh twin), and the pages written since the last
 * release one interval's notices. */
#define RELEASE_END \
	RELEASE_PAGES; \
	HW_CLEAR; \
	if \
	:: written[r] != 0 -> \
		VC(r, r)++; \
		assert(VC(r, r) <= MAXI); \
		notices[r * MAXI + VC(r, r) - 1] = written[r]; \
		written[r] = 0 \
	:: else -> skip \
	fi

/*
 * The start of an acquire with vector av: M = the pages written in the
 * intervals not seen yet (never the home's own page: the master copy is
 * never invalid); the dirty ones among them are flushed first.
 */
#ifdef MUTANT_KEEP_STALE
/* keep the pages held dirty: their other words go stale */
#define KEEP_DIRTY \
	q = 0; \
	do \
	:: q < NP -> \
		if :: ST(r, q) == WRITE -> M = M & ~(1 << q) :: else -> skip fi; \
		q++ \
	:: else -> break \
	od
#else
#define KEEP_DIRTY skip
#endif
#ifdef CARRY
/* a barrier's carried interval invalidates nothing (cb: barrier + 1) */
#define CARRIED_IV(q, i) (cb > 0 && (i) + 1 == civ[(cb - 1) * NR + (q)])
#else
#define CARRIED_IV(q, i) false
#endif
#define ACQUIRE_BEGIN \
	M = 0; \
	q = 0; \
	do \
	:: q < NR -> \
		if \
		:: q != r -> \
			i = VC(r, q); \
			do \
			:: i < av[q] && CARRIED_IV(q, i) -> i++ \
			:: i < av[q] && !CARRIED_IV(q, i) -> M = M | notices[q * MAXI + i]; i++ \
			:: else -> break \
			od \
		:: else -> skip \
		fi; \
		q++ \
	:: else -> break \
	od; \
	M = M & ~(1 << r); \
	KEEP_DIRTY; \
	q = 0; i = 0; \
	SEND_DIFFS(M)

/* ... and its end, once the flushed diffs are acknowledged: invalidate,
 * then learn av. */
#define ACQUIRE_END \
	SET_STATE(M, INVALID); \
	q = 0; \
	do \
	:: q < NR -> \
		if :: av[q] > VC(r, q) -> VC(r, q) = av[q] :: else -> skip fi; \
		av[q] = 0; \
		q++ \
	:: else -> break \
	od; \
	q = 0; M = 0

inline lock(l)
{
	d_step {
		lk[l] == 0 ->
		lk[l] = r + 1;
		av[0] = lvec[(l) * NR]; av[1] = lvec[(l) * NR + 1]; av[2] = lvec[(l) * NR + 2];
		ACQUIRE_BEGIN
	}
	d_step { ACKS_IN -> ACQUIRE_END }
}

/* The vector a lock grant carries: what its releaser knows, or with the
 * mutant only the releaser's own intervals. */
#ifdef MUTANT_NOT_TRANSITIVE
#define PUBLISH(l) \
	lvec[(l) * NR] = 0; lvec[(l) * NR + 1] = 0; lvec[(l) * NR + 2] = 0; \
	lvec[(l) * NR + r] = VC(r, r)
#else
#define PUBLISH(l) \
	lvec[(l) * NR] = VC(r, 0); lvec[(l) * NR + 1] = VC(r, 1); lvec[(l) * NR + 2] = VC(r, 2)
#endif

inline unlock(l)
{
	d_step { SEND_DIFFS(3) }
	d_step {
		RELEASE_WAITS ->
		RELEASE_END;
		assert(lk[l] == r + 1);
		PUBLISH(l);
		lk[l] = 0
	}
}

#if NPH > 1 && defined(CARRY)
/* The barrier's release: each page written becomes a carried diff (the
 * words that differ from the twin; at the home, the words it wrote), its
 * copy READ; no message. */
#define CARRY_DIFFS(b) \
	p = 0; \
	do \
	:: p < NP -> \
		a = 0; \
		if \
		:: r == HOME(p) -> a = (hw[r] >> (p * NWD)) & 3 \
		:: r != HOME(p) && ST(r, p) == WRITE -> \
			if :: CPW(r, p * NWD) != TWW(r, p * NWD) -> a = 1 :: else -> skip fi; \
			if :: CPW(r, p * NWD + 1) != TWW(r, p * NWD + 1) -> a = a | 2 :: else -> skip fi \
		:: else -> skip \
		fi; \
		CDM(b, r, p) = a; \
		if \
		:: r == HOME(p) -> CDV(b, r, p * NWD) = mem[p * NWD]; CDV(b, r, p * NWD + 1) = mem[p * NWD + 1] \
		:: else -> CDV(b, r, p * NWD) = CPW(r, p * NWD); CDV(b, r, p * NWD + 1) = CPW(r, p * NWD + 1) \
		fi; \
		p++ \
	:: else -> break \
	od; \
	p = 0; a = 0

/* Write word w of page p with creator q's carried value, if it changed it,
 * into dst. */
#define PATCH_WORD(b, q, p, k, dst) \
	if :: CDM(b, q, p) & (1 << (k)) -> dst = CDV(b, q, (p) * NWD + (k)) :: else -> skip fi

#ifdef MUTANT_NO_PATCH
#define PATCH_COPY(b, q, p) skip
#else
#define PATCH_COPY(b, q, p) \
	PATCH_WORD(b, q, p, 0, CPW(r, (p) * NWD)); PATCH_WORD(b, q, p, 1, CPW(r, (p) * NWD + 1))
#endif

/* A copy held open (-DOPEN) takes the others' diffs, and its twin too. */
#if defined(MUTANT_OPEN_STALE)
#define PATCH_OPEN(b, q, p) skip
#elif defined(MUTANT_OPEN_NO_TWIN)
#define PATCH_OPEN(b, q, p) PATCH_COPY(b, q, p)
#else
#define PATCH_OPEN(b, q, p) \
	PATCH_COPY(b, q, p); \
	PATCH_WORD(b, q, p, 0, TWW(r, (p) * NWD)); PATCH_WORD(b, q, p, 1, TWW(r, (p) * NWD + 1))
#endif

/* -DOPEN: a copy held READ that the others' diffs patched (i) opens, its
 * twin the patched copy (rc.c's update_done where the backend cannot
 * write a read-only page in place). */
#ifdef OPEN
#define OPEN_PATCHED(p) \
	if \
	:: i != 0 && r != HOME(p) && ST(r, p) == READ -> \
		TWW(r, (p) * NWD) = CPW(r, (p) * NWD); TWW(r, (p) * NWD + 1) = CPW(r, (p) * NWD + 1); \
		ST(r, p) = WRITE \
	:: else -> skip \
	fi
#else
#define OPEN_PATCHED(p) skip
#endif

/* The barrier's exit, after the other notices: in creator order, the
 * masters of the pages homed here take the others' carried diffs, the
 * copies held READ take every one; then the FETCHes held for this exit
 * are answered. */
#define CARRIED_END(b) \
	p = 0; \
	do \
	:: p < NP -> \
		q = 0; \
		do \
		:: q < NR -> \
			if \
			:: r == HOME(p) && q != r -> \
				PATCH_WORD(b, q, p, 0, mem[p * NWD]); PATCH_WORD(b, q, p, 1, mem[p * NWD + 1]) \
			:: r != HOME(p) && ST(r, p) == READ -> \
				PATCH_COPY(b, q, p); \
				if :: q != r && CDM(b, q, p) != 0 -> i = 1 :: else -> skip fi \
			:: r != HOME(p) && ST(r, p) == WRITE && q != r -> PATCH_OPEN(b, q, p) \
			:: else -> skip \
			fi; \
			q++ \
		:: else -> break \
		od; \
		OPEN_PATCHED(p); \
		i = 0; \
		p++ \
	:: else -> break \
	od; \
	left[r]++; \
	q = 0; \
	do \
	:: q < NR -> \
		p = 0; \
		do \
		:: p < NP -> \
			if \
			:: PDM(r, q, p) != 0 -> \
				a = PDM(r, q, p) - 1; \
				if :: a & 1 -> mem[p * NWD] = PDV(r, q, p * NWD) :: else -> skip fi; \
				if :: a & 2 -> mem[p * NWD + 1] = PDV(r, q, p * NWD + 1) :: else -> skip fi; \
				if :: !(a & D_DUP) -> SEND(r, q, ACK, p, 0, 0, 0) :: else -> skip fi; \
				PDM(r, q, p) = 0; PDV(r, q, p * NWD) = 0; PDV(r, q, p * NWD + 1) = 0; a = 0 \
			:: else -> skip \
			fi; \
			p++ \
		:: else -> break \
		od; \
		if \
		:: pfet[r * NR + q] != 0 -> \
			p = pfet[r * NR + q] - 1; \
			pfet[r * NR + q] = 0; \
			SEND(r, q, PAGE, p, 0, mem[p * NWD], mem[p * NWD + 1]) \
		:: else -> skip \
		fi; \
		q++ \
	:: else -> break \
	od; \
	p = 0; q = 0

inline barrier(b)
{
	d_step {
		CARRY_DIFFS(b);
		if :: written[r] != 0 -> civ[(b) * NR + r] = VC(r, r) + 1 :: else -> skip fi;
		RELEASE_END;
		q = 0;
		do
		:: q < NR ->
			if :: VC(r, q) > bvec[(b) * NR + q] -> bvec[(b) * NR + q] = VC(r, q) :: else -> skip fi;
			q++
		:: else -> break
		od;
		q = 0;
		arrived[b]++
	}
	d_step {
		arrived[b] == NR ->
		av[0] = bvec[(b) * NR]; av[1] = bvec[(b) * NR + 1]; av[2] = bvec[(b) * NR + 2];
		cb = (b) + 1;
		ACQUIRE_BEGIN
	}
	d_step { ACKS_IN -> ACQUIRE_END; CARRIED_END(b); cb = 0 }
}
#elif NPH > 1
inline barrier(b)
{
	d_step { SEND_DIFFS(3) }
	d_step {
		RELEASE_WAITS ->
		RELEASE_END;
		q = 0;
		do
		:: q < NR ->
			if :: VC(r, q) > bvec[(b) * NR + q] -> bvec[(b) * NR + q] = VC(r, q) :: else -> skip fi;
			q++
		:: else -> break
		od;
		q = 0;
		arrived[b]++
	}
	d_step {
		arrived[b] == NR ->
		av[0] = bvec[(b) * NR]; av[1] = bvec[(b) * NR + 1]; av[2] = bvec[(b) * NR + 2];
		ACQUIRE_BEGIN
	}
	d_step { ACKS_IN -> ACQUIRE_END }
}
#endif

proctype app(byte r)
{
	byte p, a, v, M, q, i, cb;
	byte av[NR];
#ifdef CHAIN
	/* x = word 0 (page 0), y = word 1 (page 0, never written), flags f1 =
	 * word 2 and f2 = word 3 (page 1) */
	if
	:: r == CA ->
		atomic { lock(0); wr(0); wr(2); unlock(0) }
	:: r == CB ->
		atomic { lock(0); rd(2); unlock(0) };
		atomic {
			lock(1);
			if :: v != 0 -> wr(3) :: else -> skip fi;
			unlock(1)
		}
	:: r == CC ->
		atomic { rd(1) };
		atomic { lock(1); rd(3); unlock(1) };
		if :: v != 0 -> atomic { rd(0) } :: else -> skip fi
	:: else -> skip
	fi;
	v = 0;
#else
	byte e, k;
	do
	:: e < NPH ->
		do
		:: atomic {
			k < K ->
			k++;
			if
			:: lock(0); inc(1); unlock(0)
			:: lock(0); inc(3); unlock(0)
			:: e == 0 && r == 2 -> wr(0)
			:: e == 0 && r == 2 -> rd(0)
			:: e == 0 && r == 0 -> wr(2)
			:: e == 0 && r == 0 -> rd(2)
			:: e == 1 -> rd(0)
#ifdef OPEN
			/* word 2 stays rank 0's: a copy held open elsewhere
			 * since phase 0 must not send it back stale */
			:: e == 1 && r == 0 -> rd(2)
			:: e == 1 && r == 0 -> wr(2)
#else
			:: e == 1 -> rd(2)
#endif
			fi;
			v = 0
		   }
		:: atomic {
			k = 0;
			e++;
#if NPH > 1
			if :: e < NPH -> barrier(e - 1) :: else -> skip fi;
#endif
			break
		   }
		od
	:: else -> break
	od;
	e = 0;
#endif
	/* the program's end (dsm_finalize) is a release */
	atomic {
		d_step { SEND_DIFFS(3) }
		d_step { RELEASE_WAITS -> RELEASE_END; ended++ }
	}
}

#define QUIET(f, t) (len(CH(f, t)) == 0)

init
{
	byte w;

	atomic {
		run service(0); run service(1); run service(2);
		run app(0); run app(1); run app(2)
	}
	ended == NR;
	QUIET(0, 1) && QUIET(0, 2) && QUIET(1, 0) && QUIET(1, 2) && QUIET(2, 0) && QUIET(2, 1);
	/* every write reached its home: the master copies are SC memory */
	do
	:: w < NW -> assert(mem[w] == sc[w]); w++
	:: else -> break
	od
}
