/*
 * coherence.pml - a Promela model of the page protocol of src/coherence.c,
 * as implemented.  verify/README.md maps every message and function of the
 * model to the C code and says what each check proves; verify/run.sh runs
 * the checks (`make verify`).
 *
 * What is modelled
 *   - NR ranks and NP pages; page p's home is rank p % NR (cyclic homes).
 *     With the defaults (3 ranks, 2 pages) rank 2 is home of nothing, so
 *     every path through a third party is there.
 *   - Each rank's view of each page (invalid / read / write), the data it
 *     holds (a version number), and its one request in flight per page
 *     (struct pending: read or write, request id); with -DONEREQ one request
 *     in flight per rank (a single-threaded program on each rank).
 *   - The directory entry at the home: owner, sharers, virgin, the phase of
 *     the request in service (idle / collecting INV_ACKs / waiting for DONE),
 *     that request (rank, id, read or write, whether data must travel, acks
 *     left) and the FIFO queue of requests waiting behind it.
 *   - The messages READ_REQ, WRITE_REQ, FWD_READ, FWD_WRITE, INV, INV_ACK,
 *     PAGE (flags WRITE, NODATA, ZERO) and DONE, on one FIFO channel per
 *     ordered pair of ranks (a TCP connection; a rank's messages to itself
 *     go through the transport's local FIFO queue, the channel (r, r)).
 *   - A page the home hands to itself is installed at once, inside the same
 *     step (deliver_page), never queued.
 *   - Every handler runs as one indivisible step (d_step): in C one service
 *     thread per rank runs them one at a time.  Each channel is read by its
 *     own process (link), so weak fairness means every message sent is
 *     eventually received, as epoll does; the steps of one rank still never
 *     overlap because each is atomic.
 *   - The application of each rank (app): at any time it may fault on a page
 *     for reading or writing (coh_fault: a new request unless one is in
 *     flight for the page), or store to a page it holds writable.  The fault
 *     is handled at the moment it is issued: the mailbox between the faulting
 *     thread and the service thread only delays the handling, and every
 *     moment is tried anyway.  A fault is an access (Copy.acc, a load or a
 *     store) that the faulting thread makes once its page is installed.
 *   - Holds (forward progress): a page installed for a faulting access is
 *     held until the access is made (Copy.held); meanwhile an INV, a
 *     FWD_WRITE, or a FWD_READ that would write-protect a page held for a
 *     store waits in a deferred slot (Copy.dt/drq/did; at most one per rank
 *     and page, asserted), and at the home a request that would take the
 *     home's own held copy waits in phase PH_HOLD.  The thread processes
 *     (one per rank and page) make the access, and handle what waited once
 *     the hold is over, as holds_run() does.  A hold's time bound (HOLD_NS
 *     in C) is not modelled: without it the checks show that a hold ends by
 *     the access alone, and that nothing starves meanwhile.
 *
 * Data.  latest[p] counts the stores to page p; a copy holds the version it
 * was made from.  A store is optional (a write grant may be used or not) and
 * at most MAXV happen per page: the protocol's control never looks at data,
 * so a stale copy, if one could exist, shows with the single store that made
 * it stale (see README.md); MAXV = 1 is therefore complete, larger values are
 * there to be tried.
 *
 * Request ids.  In C they are unique per rank (a counter).  Ids are only ever
 * compared for equality, so the model keeps what equality needs: the id of a
 * new request of (rank, page) differs from that of its previous one only if
 * a message of the previous one can still be around, and the model asserts
 * (check_no_leftovers) that the only such message is the previous request's
 * DONE on the rank -> home channel, which FIFO delivers before the new
 * request.  One bit per (rank, page) is then exact.
 *
 * Checks (see verify/run.sh): assertions (the protocol errors, i.e. every
 * rt_fatal of coherence.c that says "protocol error", stale replies, channel
 * capacity, the invariant below), invalid end states and a state with
 * nothing left to do while a request is open (process quiet), and, with
 * -DLIVE, the LTL property `served` under weak fairness.
 *
 * One request per access: a thread whose access was served never finds its
 * page gone before it made the access (which would make it fault again and
 * a second request serve the same access); asserted in access().
 *
 * Invariant (SWMR + data), checked in every reachable state: per page at
 * most one rank holds it writable, and then no other rank holds it at all;
 * every copy a rank holds (readable or writable) has the latest version.
 *
 * Mutants (-DMUTANT_x): deliberately broken variants that the checks must
 * catch; see README.md.
 *
 * Overwrites (-DOVERWRITE; dsm_advise(DSM_ADV_WILL_OVERWRITE)): a rank may
 * also fault for an overwrite, a store that replaces the whole page (acc 3):
 * its WRITE_REQ carries F_OVER; a home that finds the writer without a copy
 * invalidates every copy, the owner's too (INV with F_OVER: dropped even if
 * writable), and grants PAGE(F_WRITE | F_ZERO | F_OVER) itself, no DONE.
 * The copy installed so holds GARBAGE (zeros: no version anyone wrote) until
 * the access stores; the invariant allows it only at the writer that holds
 * it alone, for that access, and got_page() still asserts that every other
 * installed copy is current, so garbage that travelled would be caught.
 */

#ifndef NR
#define NR 3
#endif
#ifndef NP
#define NP 2
#endif
#ifndef MAXV
#ifdef LIVE
#define MAXV 0 /* stores change no control: liveness needs none */
#else
#define MAXV 1
#endif
#endif
#ifndef CAP
#define CAP 6 /* the checks assert that no channel ever holds more */
#endif
#ifdef OVERWRITE
#if MAXV > 2
#error "GARBAGE takes the version 3: MAXV <= 2 with OVERWRITE"
#endif
#endif
#define GARBAGE 3              /* the version of a page installed as zeros for an overwrite */
#if NR > 4 || NP > 3
#error "the bit fields and the invariant macros below are written for NR <= 4, NP <= 3"
#endif
#define HOME(p) ((p) % NR)
#define QCAP (NR - 1)          /* a home's queue: one request per other rank */

/* page states (pstate), phases of a directory entry, PAGE flags */
#define P_INVALID 0
#define P_READ    1
#define P_WRITE   2
#define PH_IDLE 0
#define PH_INV  1
#define PH_DONE 2
#define PH_HOLD 3
#define F_WRITE  1
#define F_NODATA 2
#define F_ZERO   4
#define F_OVER   8
#define D_INV  1
#define D_FWDR 2
#define D_FWDW 3
#define D_INVO 4 /* an INV with F_OVER */

mtype = { READ_REQ, WRITE_REQ, FWD_READ, FWD_WRITE, INV, INV_ACK, PAGE, DONE };

/*
 * A message: type, a = page + NP * (requester + NR * id), b = flags + 8 *
 * version.  The requester is the sender of a request or DONE, the aux of a
 * forward, the receiver of a PAGE; INV and INV_ACK carry it only for the
 * model's own check_no_leftovers (in C they have only the id).
 */
chan ch[NR * NR] = [CAP] of { mtype, byte, byte };
#define CH(f, t) ch[(f) * NR + (t)]
#define MA(pg, rq, id) ((pg) + NP * ((rq) + NR * (id)))
#define MB(fl, v) ((fl) + 16 * (v))

/* One rank's view of one page: pstate, its data, its request in flight. */
typedef Copy {
	unsigned st : 2;   /* P_* */
	unsigned ver : 2;  /* version of the data held (when st != P_INVALID) */
	unsigned pend : 2; /* 0 none, 1 read, 2 write request in flight */
	unsigned rid : 1;  /* its request id */
	unsigned acc : 2;  /* the access that faulted: 0 none, 1 a load, 2 a store,
	                    * 3 an overwrite (-DOVERWRITE) */
	unsigned held : 1; /* installed for that access, not yet made (holds) */
	unsigned dt : 3;   /* a message deferred by the hold: 0 none, D_* */
	unsigned drq : 2;  /* its requester, */
	unsigned did : 1;  /* its id */
};
Copy cp[NR * NP];
#define CP(r, p) cp[(r) * NP + (p)]

/* The directory entry of one page, kept by its home. */
typedef Dir {
	unsigned own : 2;     /* owner, counted from the home: see OWNER */
	unsigned used : 1;    /* not virgin: see VIRGIN */
	unsigned phase : 2;
	unsigned cur : 2;     /* request in service: rank, */
	unsigned cid : 1;     /* id, */
	unsigned cw : 1;      /* write?, */
	unsigned need : 1;    /* must the data travel? */
	unsigned zero : 1;    /* an overwrite: grant zeros (GARBAGE), no data */
	unsigned acks : 2;    /* INV_ACKs still to come */
	unsigned sharers : 4; /* bit set of ranks (NR <= 4) */
	unsigned qn : 2;
	byte q[QCAP];         /* queued: rank + NR * (w + 3 * id), w: 0 read, 1 write,
	                       * 2 overwrite */
};
Dir dir[NP];
/* Zero-initialised, an entry is what dir_get() creates: owned by its home,
 * virgin, no sharers, idle. */
#define OWNER(p) ((dir[p].own + HOME(p)) % NR)
#define SET_OWNER(p, r) dir[p].own = ((r) + NR - HOME(p)) % NR
#define VIRGIN(p) (!dir[p].used)

byte latest[NP];          /* stores so far to each page */

/* Scratch for the steps; every step is indivisible, so one set serves all
 * and, being hidden, it is no part of the state. */
hidden mtype m_t;
hidden byte m_a, m_b, m_pg, m_rq, m_id, m_fl, m_v, t_i, t_st, t_hc, t_r, t_id, t_vg, t_v, t_q;
hidden byte g_me, g_src;
hidden byte h_r, h_id, h_w; /* the request a hold made wait */

#define SEND(f, t, typ, pg, rq, id, fl, v) \
	assert(nfull(CH(f, t))); CH(f, t)!typ, MA(pg, rq, id), MB(fl, v)

/* ---- the requester's side ------------------------------------------------ */

/* got_page(): a PAGE for rank `me` from `src`. */
inline got_page(me, src, pg, id, fl, v)
{
	if
	:: CP(me, pg).pend == 0 || CP(me, pg).rid != id ->
#ifndef STALE_DROP
		assert(false) /* a stale PAGE: never happens in a fault-free run */
#else
		skip
#endif
	:: else ->
		if
		:: fl & F_NODATA ->
			/* rt_fatal "granted page without data, but this rank holds no copy" */
			assert(CP(me, pg).st == P_READ && (fl & F_WRITE));
			CP(me, pg).st = P_WRITE /* upgrade: the data held is current */
		:: else ->
			/* rt_fatal "sent page which this rank already holds" */
			assert(CP(me, pg).st == P_INVALID);
			CP(me, pg).ver = v;
			if
			:: fl & F_WRITE -> CP(me, pg).st = P_WRITE
			:: else -> CP(me, pg).st = P_READ
			fi
		fi;
		if
		:: fl & F_OVER ->
			/* rt_fatal "granted for overwriting, but not as writable zeros" */
			assert((fl & F_WRITE) && (fl & F_ZERO) && v == GARBAGE && CP(me, pg).pend == 2 + 1)
		:: else ->
			assert(CP(me, pg).ver == latest[pg]) /* installed data is current */
		fi;
#ifndef MUTANT_NO_HOLD
		CP(me, pg).held = (CP(me, pg).acc != 0); /* hold_add() */
#endif
		if
		:: src != HOME(pg) -> SEND(me, HOME(pg), DONE, pg, me, id, 0, 0)
		:: else -> skip
		fi;
		CP(me, pg).pend = 0;
		CP(me, pg).rid = 0
	fi
}

/* deliver_page(): the home installs a page for itself at once. */
inline deliver_page(from, to, pg, id, fl, v)
{
#ifndef MUTANT_QUEUED_SELF
	if
	:: to == from -> got_page(to, from, pg, id, fl, v)
	:: else -> SEND(from, to, PAGE, pg, to, id, fl, v)
	fi
#else
	SEND(from, to, PAGE, pg, to, id, fl, v)
#endif
}

/* send_page(): this rank's copy (or, virgin and not held, zeros). */
inline send_page(me, to, pg, id, sst, wr)
{
	if
	:: sst == P_INVALID || CP(me, pg).ver == 0 ->
		deliver_page(me, to, pg, id, (F_ZERO | wr), 0)
	:: else ->
		t_v = CP(me, pg).ver;
		deliver_page(me, to, pg, id, wr, t_v)
	fi;
	t_v = 0
}

/* ---- holds ------------------------------------------------------------------ */

/* hold_blocks(): would a request of another rank take rank me's held page
 * away?  A write request always; a read only from an owner that holds it
 * writable for a store. */
#define HOLD_BLOCKS(me, pg, w, owner_here) \
	(CP(me, pg).st != P_INVALID && CP(me, pg).held && \
	 ((w) || ((owner_here) && CP(me, pg).st == P_WRITE && CP(me, pg).acc >= 2)))

/* ---- the owner's side ------------------------------------------------------ */

/* serve_read(): give `to` a read copy, keep ours read-only. */
inline serve_read(me, pg, to, id, vg)
{
	t_st = CP(me, pg).st;
#ifndef MUTANT_NO_DOWNGRADE
	if
	:: t_st == P_WRITE -> CP(me, pg).st = P_READ /* stop writers first */
	:: else -> skip
	fi;
#endif
	/* rt_fatal "asked to serve page which this rank does not hold" */
	assert(!(t_st == P_INVALID && !vg));
	send_page(me, to, pg, id, t_st, 0)
}

/* serve_write(): hand the page, writable, to `to` and drop ours. */
inline serve_write(me, pg, to, id, vg)
{
	t_st = CP(me, pg).st;
	assert(!(t_st == P_INVALID && !vg)); /* rt_fatal, as above */
	send_page(me, to, pg, id, t_st, F_WRITE);
	if
	:: t_st != P_INVALID -> CP(me, pg).st = P_INVALID; CP(me, pg).ver = 0
	:: else -> skip
	fi
}

/* drop_copy(): an invalidation; ow: for an overwrite (F_OVER), which may
 * take the owner's writable copy, unread. */
inline drop_copy(me, pg, ow)
{
	/* rt_fatal "invalidation while this rank holds it writable" */
	assert(CP(me, pg).st != P_WRITE || ow);
	CP(me, pg).st = P_INVALID;
	CP(me, pg).ver = 0 /* what an invalid copy held is gone */
}

/* ---- the home's side --------------------------------------------------------- */

/* The request in service is complete (first half of dir_finish; dir_run
 * takes the next one).  The fields of the finished request are cleared:
 * in C they are dead while the phase is idle. */
inline dir_idle(pg)
{
	dir[pg].phase = PH_IDLE;
	dir[pg].cur = 0;
	dir[pg].cid = 0;
	dir[pg].cw = 0;
	dir[pg].need = 0;
	dir[pg].zero = 0
}

/* dir_write_granted(): every other holder has dropped its copy. */
inline dir_write_granted(pg)
{
	t_r = dir[pg].cur;
	t_id = dir[pg].cid;
	t_vg = VIRGIN(pg);
	if
	:: dir[pg].need && OWNER(pg) != HOME(pg) ->
		SEND(HOME(pg), OWNER(pg), FWD_WRITE, pg, t_r, t_id, 0, 0);
#ifndef MUTANT_NO_DONE_WAIT
		dir[pg].phase = PH_DONE /* until r's DONE */
#else
		SET_OWNER(pg, t_r);
		dir[pg].used = 1;
		dir[pg].sharers = 0;
		dir_idle(pg)
#endif
	:: else ->
		if
		:: dir[pg].need -> serve_write(HOME(pg), pg, t_r, t_id, t_vg)
		:: dir[pg].zero -> deliver_page(HOME(pg), t_r, pg, t_id, (F_WRITE | F_ZERO | F_OVER), GARBAGE)
		:: else -> deliver_page(HOME(pg), t_r, pg, t_id, (F_WRITE | F_NODATA), 0)
		fi;
		SET_OWNER(pg, t_r);
		dir[pg].used = 1;
		dir[pg].sharers = 0;
		dir_idle(pg)
	fi;
	t_r = 0; t_id = 0; t_vg = 0
}

/* The rest of dir_start(), once no hold of the home's stands in the way. */
inline dir_go(pg, r, id, w)
{
	if
	:: !w ->
		if
		:: OWNER(pg) == HOME(pg) ->
			t_vg = VIRGIN(pg);
			serve_read(HOME(pg), pg, r, id, t_vg);
			t_vg = 0;
			if
#ifndef MUTANT_READ_NO_SHARER
			:: r != HOME(pg) -> dir[pg].sharers = dir[pg].sharers | (1 << r)
#else
			:: r != HOME(pg) -> skip
#endif
			:: else -> dir[pg].used = 1 /* home installs its own copy now */
			fi;
			dir_idle(pg)
		:: else ->
			dir[pg].sharers = dir[pg].sharers | (1 << r);
			SEND(HOME(pg), OWNER(pg), FWD_READ, pg, r, id, 0, 0);
#ifdef MUTANT_NO_DONE_WAIT
			dir_idle(pg)
#else
			skip /* until r's DONE */
#endif
		fi
	:: else ->
#ifndef MUTANT_NODATA_VIRGIN
		t_hc = ((r == OWNER(pg) && !VIRGIN(pg)) || (dir[pg].sharers & (1 << r)));
#else
		t_hc = (r == OWNER(pg) || (dir[pg].sharers & (1 << r))); /* forgets virgin */
#endif
		dir[pg].need = !t_hc && w == 1;
		dir[pg].zero = !t_hc && w == 2;
		dir[pg].acks = 0;
		dir[pg].phase = PH_INV;
		t_i = 0;
		do
		:: t_i < NR ->
			if
			:: (dir[pg].sharers & (1 << t_i)) && t_i != r ->
				if
				:: t_i == HOME(pg) -> drop_copy(HOME(pg), pg, 0)
				:: else ->
					SEND(HOME(pg), t_i, INV, pg, r, id, 0, 0);
					dir[pg].acks = dir[pg].acks + 1
				fi
			:: else -> skip
			fi;
			t_i = t_i + 1
		:: else -> break
		od;
		t_i = 0;
		/* With r's copy current, or none needed, the owner must drop too. */
#ifndef MUTANT_SKIP_OWNER_INV
		if
#ifndef MUTANT_OVERWRITE_KEEP_OWNER
		:: (t_hc || dir[pg].zero) && OWNER(pg) != r ->
#else
		:: t_hc && OWNER(pg) != r ->
#endif
			if
			:: OWNER(pg) == HOME(pg) -> drop_copy(HOME(pg), pg, dir[pg].zero)
			:: else ->
				SEND(HOME(pg), OWNER(pg), INV, pg, r, id, (dir[pg].zero * F_OVER), 0);
				dir[pg].acks = dir[pg].acks + 1
			fi
		:: else -> skip
		fi;
#endif
#ifdef MUTANT_EARLY_GRANT
		dir[pg].acks = 0; /* grant without waiting for the INV_ACKs */
#endif
		skip /* dir_run grants when no INV_ACK is to come */
	fi;
	t_hc = 0
}

/* dir_start(): begin serving request (r, id, w), unless a hold of the
 * home's own copy makes it wait (PH_HOLD; the entry keeps the request). */
inline dir_start(pg, r, id, w)
{
	dir[pg].phase = PH_DONE;
	dir[pg].cur = r;
	dir[pg].cid = id;
	dir[pg].cw = (w != 0);
	if
	:: r != HOME(pg) && HOLD_BLOCKS(HOME(pg), pg, w, OWNER(pg) == HOME(pg)) ->
		dir[pg].phase = PH_HOLD /* until the hold ends: hold_replay */
	:: else -> dir_go(pg, r, id, w)
	fi
}

/* What the home does after each step: grant a write once no INV_ACK is to
 * come (the end of dir_start, or home_ack), and, while idle, start the oldest
 * queued request (the loop of dir_finish).  In C these are nested calls;
 * here one loop, so that each piece appears once in the generated code. */
inline dir_run(pg)
{
	do
	:: dir[pg].phase == PH_INV && dir[pg].acks == 0 -> dir_write_granted(pg)
	:: dir[pg].phase == PH_IDLE && dir[pg].qn > 0 ->
#ifndef MUTANT_LIFO
		t_q = dir[pg].q[0];
		t_i = 1;
		do
		:: t_i < dir[pg].qn -> dir[pg].q[t_i - 1] = dir[pg].q[t_i]; t_i = t_i + 1
		:: else -> break
		od;
#else
		t_q = dir[pg].q[dir[pg].qn - 1]; /* the newest first */
#endif
		dir[pg].qn = dir[pg].qn - 1;
		dir[pg].q[dir[pg].qn] = 0;
		t_i = 0;
		dir_start(pg, (t_q % NR), (t_q / (3 * NR)), ((t_q / NR) % 3))
	:: else -> break
	od;
	t_q = 0
}

/* home_request(): serve now, or queue behind the request in service. */
inline home_request(pg, r, id, w)
{
	if
#ifndef MUTANT_NO_QUEUE
	:: dir[pg].phase != PH_IDLE ->
		assert(dir[pg].qn < QCAP);
		dir[pg].q[dir[pg].qn] = r + NR * (w + 3 * id);
		dir[pg].qn = dir[pg].qn + 1
#endif
	:: else -> dir_start(pg, r, id, w)
	fi
}

inline stale()
{
#ifndef STALE_DROP
	assert(false) /* a stale reply: never happens in a fault-free run */
#else
	skip
#endif
}

/* home_ack() */
inline home_ack(pg, id)
{
	if
	:: dir[pg].phase != PH_INV || dir[pg].cid != id || dir[pg].acks == 0 -> stale()
	:: else ->
		dir[pg].acks = dir[pg].acks - 1 /* at 0, dir_run grants */
	fi
}

/* home_done() */
inline home_done(from, pg, id)
{
	if
	:: dir[pg].phase != PH_DONE || dir[pg].cid != id || dir[pg].cur != from -> stale()
	:: else ->
		if
		:: dir[pg].cw ->
			SET_OWNER(pg, from);
			dir[pg].used = 1;
			dir[pg].sharers = 0
		:: else -> skip
		fi;
		dir_idle(pg)
	fi
}

/* ---- the requester opens a request (coh_fault) ------------------------------ */

/* No message of rank r's previous request for page pg may be left, except
 * its DONE on r -> home (FIFO delivers it before the new request), and the
 * home may still be serving that request only while that DONE is on its
 * way.  This is what lets one id bit per (rank, page) stand for C's unique
 * ids. */
inline check_no_leftovers(r, pg)
{
	t_i = 0;
	do
	:: t_i < NR * NR ->
		assert(!(ch[t_i] ?? [READ_REQ, eval(MA(pg, r, 0)), _]) &&
		       !(ch[t_i] ?? [READ_REQ, eval(MA(pg, r, 1)), _]) &&
		       !(ch[t_i] ?? [WRITE_REQ, eval(MA(pg, r, 0)), _]) &&
		       !(ch[t_i] ?? [WRITE_REQ, eval(MA(pg, r, 1)), _]) &&
		       !(ch[t_i] ?? [FWD_READ, eval(MA(pg, r, 0)), _]) &&
		       !(ch[t_i] ?? [FWD_READ, eval(MA(pg, r, 1)), _]) &&
		       !(ch[t_i] ?? [FWD_WRITE, eval(MA(pg, r, 0)), _]) &&
		       !(ch[t_i] ?? [FWD_WRITE, eval(MA(pg, r, 1)), _]) &&
		       !(ch[t_i] ?? [INV, eval(MA(pg, r, 0)), _]) &&
		       !(ch[t_i] ?? [INV, eval(MA(pg, r, 1)), _]) &&
		       !(ch[t_i] ?? [INV_ACK, eval(MA(pg, r, 0)), _]) &&
		       !(ch[t_i] ?? [INV_ACK, eval(MA(pg, r, 1)), _]) &&
		       !(ch[t_i] ?? [PAGE, eval(MA(pg, r, 0)), _]) &&
		       !(ch[t_i] ?? [PAGE, eval(MA(pg, r, 1)), _]));
		t_i = t_i + 1
	:: else -> break
	od;
	t_i = 0;
	do
	:: t_i < NR -> assert(CP(t_i, pg).dt == 0 || CP(t_i, pg).drq != r); t_i = t_i + 1
	:: else -> break
	od;
	t_i = 0;
	assert(dir[pg].phase == PH_IDLE || dir[pg].cur != r ||
	       (dir[pg].phase == PH_DONE && (CH(r, HOME(pg)) ?? [DONE, eval(MA(pg, r, dir[pg].cid)), _])));
	t_i = 0;
	do
	:: t_i < dir[pg].qn -> assert(dir[pg].q[t_i] % NR != r); t_i = t_i + 1
	:: else -> break
	od;
	t_i = 0
}

inline open_request(me, pg, w)
{
	check_no_leftovers(me, pg);
	/* a fresh id: different from the previous request's if its DONE may
	 * still be on its way (see above) */
	if
	:: dir[pg].phase == PH_DONE && dir[pg].cur == me -> CP(me, pg).rid = 1 - dir[pg].cid
	:: else -> CP(me, pg).rid = 0
	fi;
	CP(me, pg).pend = 1 + w;
	if
	:: w -> SEND(me, HOME(pg), WRITE_REQ, pg, me, CP(me, pg).rid, ((w == 2) * F_OVER), 0)
	:: else -> SEND(me, HOME(pg), READ_REQ, pg, me, CP(me, pg).rid, 0, 0)
	fi
}

/* ---- dispatch (coh_handle) ------------------------------------------------- */

inline handle(me, src)
{
	m_pg = m_a % NP;
	m_rq = (m_a / NP) % NR;
	m_id = m_a / (NP * NR);
	m_fl = m_b % 16;
	m_v = m_b / 16;
	if
	:: (m_t == INV || m_t == FWD_READ || m_t == FWD_WRITE) &&
	   HOLD_BLOCKS(me, m_pg, m_t != FWD_READ, 1) ->
		/* defer(): at most one, as home serves one request per page */
		assert(CP(me, m_pg).dt == 0 && HOME(m_pg) == src);
		if
		:: m_t == INV && (m_fl & F_OVER) -> CP(me, m_pg).dt = D_INVO
		:: m_t == INV && !(m_fl & F_OVER) -> CP(me, m_pg).dt = D_INV
		:: m_t == FWD_READ -> CP(me, m_pg).dt = D_FWDR
		:: else -> CP(me, m_pg).dt = D_FWDW
		fi;
		CP(me, m_pg).drq = m_rq;
		CP(me, m_pg).did = m_id
	:: m_t == READ_REQ -> assert(HOME(m_pg) == me); home_request(m_pg, src, m_id, 0)
	:: m_t == WRITE_REQ -> assert(HOME(m_pg) == me); home_request(m_pg, src, m_id, (1 + ((m_fl & F_OVER) != 0)))
	:: m_t == FWD_READ -> assert(HOME(m_pg) == src); serve_read(me, m_pg, m_rq, m_id, 0)
	:: m_t == FWD_WRITE -> assert(HOME(m_pg) == src); serve_write(me, m_pg, m_rq, m_id, 0)
	:: m_t == INV ->
		assert(HOME(m_pg) == src);
		drop_copy(me, m_pg, ((m_fl & F_OVER) != 0));
		SEND(me, src, INV_ACK, m_pg, m_rq, m_id, 0, 0)
	:: m_t == INV_ACK -> assert(HOME(m_pg) == me); home_ack(m_pg, m_id)
	:: m_t == PAGE -> got_page(me, src, m_pg, m_id, m_fl, m_v)
	:: m_t == DONE -> assert(HOME(m_pg) == me); home_done(src, m_pg, m_id)
	fi;
	if
	:: HOME(m_pg) == me -> dir_run(m_pg)
	:: else -> skip
	fi;
	m_t = 0; m_a = 0; m_b = 0; m_pg = 0; m_rq = 0; m_id = 0; m_fl = 0; m_v = 0;
	t_st = 0; t_r = 0
}

/* One process per channel: rank (_pid % NR) reads what rank (_pid / NR)
 * sent it. */
active [NR * NR] proctype link()
{
end:	do
	:: d_step {
		ch[_pid] ? m_t, m_a, m_b ->
		g_src = _pid / NR;
		g_me = _pid % NR;
		handle(g_me, g_src);
		g_src = 0;
		g_me = 0
	   }
	od
}

/* ---- the application ---------------------------------------------------------- */

/* May rank `me` fault on page pg now?  In C one request per page per rank
 * is in flight; with -DONEREQ one per rank (a single-threaded program). */
#ifdef ONEREQ
#define MAYASK(me, pg) (CP(me, 0).pend == 0 && (NP < 2 || CP(me, 1 % NP).pend == 0) && \
			(NP < 3 || CP(me, 2 % NP).pend == 0))
#else
#define MAYASK(me, pg) (CP(me, pg).pend == 0)
#endif

/* holds_run(): a deferred message, or the home's request waiting in
 * PH_HOLD, is handled once the hold has ended. */
inline hold_replay(me, pg)
{
	m_b = 0;
	if
	:: CP(me, pg).dt == D_INV -> m_t = INV
	:: CP(me, pg).dt == D_INVO -> m_t = INV; m_b = MB(F_OVER, 0)
	:: CP(me, pg).dt == D_FWDR -> m_t = FWD_READ
	:: else -> m_t = FWD_WRITE
	fi;
	m_a = MA(pg, CP(me, pg).drq, CP(me, pg).did);
	CP(me, pg).dt = 0;
	CP(me, pg).drq = 0;
	CP(me, pg).did = 0;
	g_src = HOME(pg);
	g_me = me;
	handle(g_me, g_src);
	g_src = 0;
	g_me = 0
}

/* The thread whose fault was served makes its access, if its page is there
 * (a store is optional: MAXV bounds them); if the page went before the
 * access was made, the thread would fault again and a second request would
 * serve the same access: the forward-progress defect that holds prevent. */
inline access(me, pg)
{
	if
	:: (CP(me, pg).acc == 1 && CP(me, pg).st != P_INVALID) ||
	   (CP(me, pg).acc >= 2 && CP(me, pg).st == P_WRITE) ->
		if
		:: CP(me, pg).acc >= 2 && latest[pg] < MAXV ->
			latest[pg] = latest[pg] + 1; CP(me, pg).ver = latest[pg]
		:: CP(me, pg).acc == 3 && latest[pg] >= MAXV ->
			CP(me, pg).ver = latest[pg] /* the whole page, as it was: a store is not optional */
		:: CP(me, pg).acc != 3 -> skip
		fi;
		CP(me, pg).acc = 0;
		CP(me, pg).held = 0
	:: else ->
		assert(false) /* a second fault for one access: its page went first */
	fi
}

/* Fault for reading or writing (an access that waits for its page; thread()
 * makes it), or store to a page held writable.  With -DNOHOLD a fault is
 * not an access (acc stays 0): no page is held and there are no thread
 * processes, the protocol as it is without holds (smaller: for live-main). */
#ifdef NOHOLD
#define ACCESS(me, pg, a) skip
#else
#define ACCESS(me, pg, a) CP(me, pg).acc = a
#endif
#ifdef OVERWRITE
#define APP_OVERWRITE(me, pg) \
	:: d_step { CP(me, pg).acc == 0 && CP(me, pg).st != P_WRITE && MAYASK(me, pg) -> \
		ACCESS(me, pg, 3); open_request(me, pg, 2) }
#else
#define APP_OVERWRITE(me, pg)
#endif
#define APP_PAGE(me, pg) \
	:: d_step { CP(me, pg).acc == 0 && CP(me, pg).st == P_INVALID && MAYASK(me, pg) -> \
		ACCESS(me, pg, 1); open_request(me, pg, 0) } \
	:: d_step { CP(me, pg).acc == 0 && CP(me, pg).st != P_WRITE && MAYASK(me, pg) -> \
		ACCESS(me, pg, 2); open_request(me, pg, 1) } \
	APP_OVERWRITE(me, pg) \
	:: d_step { CP(me, pg).acc == 0 && CP(me, pg).st == P_WRITE && latest[pg] < MAXV -> \
		latest[pg] = latest[pg] + 1; CP(me, pg).ver = latest[pg] }

active [NR] proctype app()
{
	byte me = _pid - NR * NR;
	assert(me < NR);
end:	do
	APP_PAGE(me, 0)
#if NP > 1
	APP_PAGE(me, 1)
#endif
#if NP > 2
	APP_PAGE(me, 2)
#endif
	od
}

/* The thread that faulted on (me, pg), once served, makes its access; and
 * the service thread's holds_run() handles what a hold deferred once it has
 * ended.  One process per rank and page, so that weak fairness makes every
 * served thread run, as the kernel's scheduler does. */
#ifndef NOHOLD
active [NR * NP] proctype thread()
{
	byte me = (_pid - NR * NR - NR) / NP;
	byte pg = (_pid - NR * NR - NR) % NP;
	assert(me < NR);
end:	do
	:: d_step { CP(me, pg).acc != 0 && CP(me, pg).pend == 0 -> access(me, pg) }
	:: d_step { CP(me, pg).dt != 0 && !CP(me, pg).held -> hold_replay(me, pg) }
	:: d_step { HOME(pg) == me && dir[pg].phase == PH_HOLD && !CP(me, pg).held ->
		h_r = dir[pg].cur; h_id = dir[pg].cid; h_w = dir[pg].cw;
		dir_go(pg, h_r, h_id, h_w); dir_run(pg); h_r = 0; h_id = 0; h_w = 0 }
	od
}
#endif

/* ---- checks ------------------------------------------------------------------------- */

/* The SWMR + data invariant for one page (for NR <= 4). */
#define HOLDS(r, p) (r < NR && CP(r, p).st != P_INVALID)
#define WRITER(r, p) (r < NR && CP(r, p).st == P_WRITE)
#define ALONE(r, p) (!WRITER(r, p) || \
	((r == 0 || !HOLDS(0, p)) && (r == 1 || !HOLDS(1, p)) && \
	 (r == 2 || !HOLDS(2, p)) && (r == 3 || !HOLDS(3, p))))
/* (an overwrite's GARBAGE only at its writer, alone, until the store) */
#define FRESH(r, p) (!HOLDS(r, p) || CP(r, p).ver == latest[p] || \
	(CP(r, p).ver == GARBAGE && CP(r, p).acc == 3 && WRITER(r, p)))
#define PAGE_OK(p) (p >= NP || \
	(ALONE(0, p) && ALONE(1, p) && ALONE(2, p) && ALONE(3, p) && \
	 FRESH(0, p) && FRESH(1, p) && FRESH(2, p) && FRESH(3, p)))
#define SWMR (PAGE_OK(0) && PAGE_OK(1) && PAGE_OK(2))

#ifndef LIVE
active proctype monitor()
{
	atomic { !SWMR -> assert(SWMR) }
}
#endif

/* Nothing can move any more: then no request may be open anywhere. */
#define OPEN(r, p) (r < NR && p < NP && CP(r, p).pend != 0)
#define ROPEN(r) (OPEN(r, 0) || OPEN(r, 1) || OPEN(r, 2))
#define BUSY(p) (p < NP && dir[p].phase != PH_IDLE)
active proctype quiet()
{
	timeout -> assert(!ROPEN(0) && !ROPEN(1) && !ROPEN(2) && !ROPEN(3) &&
			  !BUSY(0) && !BUSY(1) && !BUSY(2))
}

#ifdef LIVE
/* Every request is eventually served: a request that (rank, page) opens
 * is closed (its page installed) later. */
#define SERVED(r, p) ([] (CP(r, p).pend != 0 -> <> (CP(r, p).pend == 0)))
#if NP > 1
#define SERVED_ALL(r) (SERVED(r, 0) && SERVED(r, 1))
#else
#define SERVED_ALL(r) SERVED(r, 0)
#endif
#if NR > 2
ltl served { SERVED_ALL(0) && SERVED_ALL(1) && SERVED_ALL(2) }
#else
ltl served { SERVED_ALL(0) && SERVED_ALL(1) }
#endif
#endif
