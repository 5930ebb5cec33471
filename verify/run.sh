#!/bin/sh
# Description: `make verify`: model-checks verify/coherence.pml (pages),
# verify/lock.pml (locks cached at their last holder), verify/cond.pml
# (condition variables: the wait/signal race), verify/rc.pml (release
# consistency: twins, diffs, write notices) and verify/barrier.pml (the
# dissemination barrier: epochs, the union of write notices) with spin.
#   verify/run.sh [-k] [NAME...]     (-k: keep the work directory)
# Runs every check below, or those whose name contains one of NAMEs, and
# prints for each one the states spin stored and matched and the depth it
# reached.  A check passes when spin finds no error in an exhaustive search;
# a mutant passes when spin does find one (it prints which assertion, or the
# property, it violated).  Exit 0 when every check passes.
#
# Environment: SPIN (spin), PAN_CC (cc), VERIFY_MEMLIM (MiB pan may use,
# default 4096).  spin: Debian/Ubuntu `apt-get install spin`.
top=$(cd "$(dirname "$0")/.." && pwd)
SPIN=${SPIN:-spin}
PAN_CC=${PAN_CC:-cc}
memlim=${VERIFY_MEMLIM:-4096}
keep=0
[ "${1:-}" = -k ] && { keep=1; shift; }
filters="$*"

command -v "$SPIN" >/dev/null 2>&1 || {
	echo "verify: $SPIN not found; install it (Debian/Ubuntu: apt-get install spin)"
	exit 1
}
work=$(mktemp -d "${TMPDIR:-/tmp}/dsmverify.XXXXXX")
[ $keep = 1 ] && echo "verify: work in $work" || trap 'rm -rf "$work"' EXIT
pass=0 fail=0

# check NAME EXPECT KIND "SPIN FLAGS" "WHAT" [MODEL]
#   MODEL:  a file of verify/, coherence.pml unless given
#   EXPECT: pass (no error, search complete) or fail (spin finds an error)
#   KIND:   safety (assertions, invalid end states) or live (acceptance
#           cycles of the LTL claim `served`, under weak fairness)
check() {
	name=$1 expect=$2 kind=$3 flags=$4 what=$5 model=$top/verify/${6:-coherence.pml}
	if [ -n "$filters" ]; then
		hit=0
		for f in $filters; do case $name in *"$f"*) hit=1;; esac; done
		[ $hit = 1 ] || return 0
	fi
	d=$work/$name
	mkdir -p "$d"
	start=$(date +%s)
	if [ $kind = safety ]; then
		ccflags="-DSAFETY -DNOFAIR" panflags="-m4000000"
	else
		flags="$flags -DLIVE"
		ccflags="-DNFAIR=6" panflags="-a -f -m4000000"
	fi
	# the first error is enough for a mutant
	[ $expect = fail ] && panflags="$panflags -c1"
	# Exhaustive, with lossless compression of the stored states (COLLAPSE
	# stores each distinct process and channel once); never BITSTATE.
	if ! (cd "$d" && $SPIN -a $flags "$model" >spin.out 2>&1 &&
	      $PAN_CC -O2 -w $ccflags -DCOLLAPSE -DMEMLIM=$memlim -DVECTORSZ=2048 -o pan pan.c >cc.out 2>&1); then
		cat "$d/spin.out" "$d/cc.out" 2>/dev/null | tail -n 20
		echo "not ok - $name: spin or the compiler failed"
		fail=$((fail + 1))
		return
	fi
	(cd "$d" && ./pan $panflags >pan.out 2>&1)
	secs=$(( $(date +%s) - start ))
	out=$d/pan.out
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$out" | tail -n 1)
	stored=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$out" | tail -n 1)
	visited=$(sed -n 's/.*states, stored (\([0-9.e+]*\) visited).*/\1/p' "$out" | tail -n 1)
	matched=$(sed -n 's/^ *\([0-9.e+]*\) states, matched.*/\1/p' "$out" | tail -n 1)
	depth=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' "$out" | tail -n 1)
	stats="states stored $stored${visited:+ ($visited visited)}, matched $matched, depth $depth, ${secs}s"
	incomplete=0
	grep -q -e 'max search depth too small' -e 'out of memory' -e 'Search not completed' \
		-e 'memory limit' "$out" && incomplete=1
	if [ -z "$errors" ]; then
		tail -n 20 "$out"
		echo "not ok - $name: pan did not finish"
		fail=$((fail + 1))
	elif [ $expect = pass ]; then
		if [ "$errors" = 0 ] && [ $incomplete = 0 ]; then
			echo "ok - $name: $what: no error; $stats"
			pass=$((pass + 1))
		else
			grep -E 'violated|error|acceptance|invalid|memory|depth too small' "$out" | head -n 5
			explain "$d" "$flags"
			echo "not ok - $name: $what: spin found an error or did not finish; $stats"
			fail=$((fail + 1))
		fi
	else
		if [ "$errors" != 0 ]; then
			echo "ok - $name: $what: caught, as it must be: $(explain "$d" "$flags" | head -n 1)"
			pass=$((pass + 1))
		else
			echo "not ok - $name: $what: NOT caught (the checks have lost their teeth); $stats"
			fail=$((fail + 1))
		fi
	fi
}

# What the trail in $1 violated: the assertion with its line, or the claim.
explain() {
	d=$1 flags=$2
	if ! ls "$d"/*.trail >/dev/null 2>&1; then
		echo "(no trail)"
		return
	fi
	(cd "$d" && $SPIN -t -k "$(ls ./*.trail | head -n 1)" $flags "$model" >trail.out 2>&1)
	mname=$(basename "$model")
	line=$(sed -n "s/^spin: .*$mname:\([0-9]*\), Error: assertion violated.*/\1/p" "$d/trail.out" | head -n 1)
	if [ -n "$line" ]; then
		echo "assertion at $mname:$line: $(sed -n "${line}p" "$model" | sed 's/^[[:space:]]*//')"
	elif grep -q 'acceptance cycle' "$d/pan.out"; then
		echo "the LTL property 'served': a request that is never served (acceptance cycle)"
	elif grep -q 'invalid end state' "$d/pan.out"; then
		echo "an invalid end state (deadlock)"
	else
		grep -m1 -E 'violated|error' "$d/pan.out"
	fi
}

# The model in all its shapes.  NR ranks, NP pages (page p's home is p % NR);
# ONEREQ: one request in flight per rank (a single-threaded program per
# rank); otherwise one per page per rank, as in C.
check main           pass safety "-DNR=3 -DNP=2 -DONEREQ" \
	"safety, 3 ranks x 2 pages, reads and writes from every rank, one request per rank"
check full-3x1       pass safety "-DNR=3 -DNP=1" \
	"safety, 3 ranks x 1 page, every request pattern of C"
check full-2x2       pass safety "-DNR=2 -DNP=2" \
	"safety, 2 ranks x 2 pages, a request per page per rank, as in C"
check full-4x1       pass safety "-DNR=4 -DNP=1" \
	"safety, 4 ranks x 1 page, every request pattern of C"
check live-main      pass live   "-DNR=3 -DNP=2 -DONEREQ -DNOHOLD" \
	"every request is served (weak fairness), 3 ranks x 2 pages, one request per rank, no holds"
check live-full-3x1  pass live   "-DNR=3 -DNP=1" \
	"every request is served (weak fairness), 3 ranks x 1 page"
check live-full-2x2  pass live   "-DNR=2 -DNP=2" \
	"every request is served (weak fairness), 2 ranks x 2 pages"

# Overwrites (dsm_advise(DSM_ADV_WILL_OVERWRITE)): a fault may also be an
# overwrite, granted without data (-DOVERWRITE; see coherence.pml).
# (3 ranks x 2 pages with overwrites passes 18 million states, past 4 GiB.)
check overwrite-2x2  pass safety "-DNR=2 -DNP=2 -DOVERWRITE" \
	"safety with overwrites, 2 ranks x 2 pages, a request per page per rank"
check overwrite-4x1  pass safety "-DNR=4 -DNP=1 -DOVERWRITE" \
	"safety with overwrites, 4 ranks x 1 page, every request pattern of C"
check overwrite-3x1  pass safety "-DNR=3 -DNP=1 -DOVERWRITE" \
	"safety with overwrites, 3 ranks x 1 page, every request pattern of C"
check live-overwrite-3x1 pass live "-DNR=3 -DNP=1 -DOVERWRITE" \
	"every request is served (weak fairness), with overwrites, 3 ranks x 1 page"

# Mutants: each a deliberate bug that the checks must catch.  STALE_DROP
# makes a stale reply a silent drop, as in C, so a mutant is caught by what
# it breaks, not by the model's stricter bookkeeping.
m="-DNR=3 -DNP=2 -DONEREQ -DSTALE_DROP"
check mutant-early-grant     fail safety "$m -DMUTANT_EARLY_GRANT" \
	"write granted before every INV_ACK is in"
check mutant-no-done-wait    fail safety "$m -DMUTANT_NO_DONE_WAIT" \
	"home does not wait for DONE after a forward"
check mutant-no-downgrade    fail safety "$m -DMUTANT_NO_DOWNGRADE" \
	"owner serving a read keeps its copy writable"
check mutant-queued-self     fail safety "$m -DMUTANT_QUEUED_SELF" \
	"home's page for itself queued, not installed at once"
check mutant-no-queue        fail safety "$m -DMUTANT_NO_QUEUE" \
	"home serves a request while another is in service"
check mutant-skip-owner-inv  fail safety "$m -DMUTANT_SKIP_OWNER_INV" \
	"owner not invalidated when the writer has a copy"
check mutant-read-no-sharer  fail safety "$m -DMUTANT_READ_NO_SHARER" \
	"home does not record a reader it served itself"
check mutant-nodata-virgin   fail safety "$m -DMUTANT_NODATA_VIRGIN" \
	"write granted without data for a virgin page the home never held"
check mutant-no-hold         fail safety "$m -DMUTANT_NO_HOLD" \
	"a page installed for a fault is taken before the access is made"
check mutant-overwrite-keep-owner fail safety "-DNR=3 -DNP=1 -DSTALE_DROP -DOVERWRITE -DMUTANT_OVERWRITE_KEEP_OWNER" \
	"an overwrite granted without invalidating the owner's copy"
check mutant-lifo            fail live   "-DNR=3 -DNP=1 -DMUTANT_LIFO" \
	"home serves its queue newest first (safe, but starves)"

# Locks cached at their last holder (lock.pml): NR ranks x NT threads, each
# thread ROUNDS lock (or, with TRY, lock or trylock) + unlock.
check lock-2x2       pass safety "-DNR=2 -DNT=2 -DROUNDS=2" \
	"locks, 2 ranks x 2 threads, 2 rounds each" lock.pml
check lock-2x2-try   pass safety "-DNR=2 -DNT=2 -DROUNDS=1 -DTRY" \
	"locks and trylocks, 2 ranks x 2 threads, 1 round each" lock.pml
check lock-3x1-try   pass safety "-DNR=3 -DNT=1 -DROUNDS=2 -DTRY" \
	"locks and trylocks, 3 ranks x 1 thread, 2 rounds each" lock.pml
check mutant-lock-recall-held fail safety "-DNR=2 -DNT=2 -DMUTANT_RECALL_WHILE_HELD" \
	"a recalled lock given back while a thread holds it" lock.pml
check mutant-lock-no-recall   fail safety "-DNR=2 -DNT=2 -DMUTANT_NO_RECALL" \
	"home queues a request behind a cached lock without recalling it" lock.pml

# Condition variables (cond.pml): a waiter on a remote rank, one on the
# home, a signaller on a third rank.
check cond           pass safety "" \
	"condition variables, signal inside and after the lock, no lost wake-up" cond.pml
check cond-bcast     pass safety "-DBCAST" \
	"condition variables, one broadcast wakes both waiters" cond.pml
check mutant-cond-release-first fail safety "-DMUTANT_RELEASE_FIRST" \
	"the waiter releases the lock before the home queued it" cond.pml
check mutant-cond-bcast-release-first fail safety "-DBCAST -DMUTANT_RELEASE_FIRST" \
	"the same, with a broadcast" cond.pml
check mutant-cond-signal-nobody fail safety "-DMUTANT_SIGNAL_NOBODY" \
	"a signal that wakes nobody while two wait" cond.pml

# Release consistency (rc.pml): 3 ranks x 2 pages of 2 words, one lock
# (two for the chain) and a barrier; every read of a data-race-free program
# must return what sequential consistency allows.  NPH phases separated by
# barriers, K operations per rank per phase.
check rc-locks       pass safety "-DNPH=1 -DK=2" \
	"release consistency, 2 operations per rank (locked increments, owned words)" rc.pml
check rc-barrier     pass safety "-DNPH=2 -DK=1" \
	"release consistency, a barrier between two phases of 1 operation per rank" rc.pml
check rc-carry       pass safety "-DNPH=2 -DK=1 -DCARRY" \
	"release consistency, a barrier that carries its diffs (copies patched, early FETCHes held)" rc.pml
check rc-open-locks  pass safety "-DNPH=1 -DK=2 -DOPEN" \
	"release consistency, dirty copies kept open across releases (twin refreshed), locks" rc.pml
check rc-open-carry  pass safety "-DNPH=2 -DK=1 -DCARRY -DOPEN" \
	"release consistency, open copies and a carrying barrier (open copies and twins patched)" rc.pml
check rc-chain       pass safety "-DCHAIN -DCA=0 -DCB=1 -DCC=2" \
	"release consistency, the chain A -L1-> B -L2-> C (A the home of x's page)" rc.pml
check rc-chain2      pass safety "-DCHAIN -DCA=2 -DCB=0 -DCC=1" \
	"release consistency, the chain A -L1-> B -L2-> C (A not the home of x's page)" rc.pml
r="-DNPH=1 -DK=2"
check mutant-rc-early-release  fail safety "$r -DMUTANT_EARLY_RELEASE" \
	"a release completes before the homes acknowledged its diffs" rc.pml
check mutant-rc-keep-stale     fail safety "$r -DMUTANT_KEEP_STALE" \
	"an acquire keeps a dirty copy of a page another rank wrote" rc.pml
check mutant-rc-diff-twice     fail safety "-DNPH=2 -DK=1 -DMUTANT_DIFF_TWICE" \
	"every diff is applied twice at its home" rc.pml
check mutant-rc-not-transitive fail safety "$r -DMUTANT_NOT_TRANSITIVE" \
	"a lock grant carries only its releaser's own write notices" rc.pml
check mutant-rc-serve-early    fail safety "-DNPH=2 -DK=1 -DCARRY -DMUTANT_SERVE_EARLY" \
	"a home answers a FETCH from past the barrier before applying its carried diffs" rc.pml
check mutant-rc-no-patch       fail safety "-DNPH=2 -DK=1 -DCARRY -DMUTANT_NO_PATCH" \
	"a barrier's exit keeps the copies it holds unpatched" rc.pml
check mutant-rc-diff-early     fail safety "-DNPH=2 -DK=1 -DCARRY -DOPEN -DMUTANT_DIFF_EARLY" \
	"a home applies a DIFF from past the barrier before its carried diffs" rc.pml
check mutant-rc-open-stale     fail safety "-DNPH=2 -DK=1 -DCARRY -DOPEN -DMUTANT_OPEN_STALE" \
	"a barrier's exit leaves the copies held open unpatched" rc.pml
check mutant-rc-open-no-twin   fail safety "-DNPH=2 -DK=1 -DCARRY -DOPEN -DMUTANT_OPEN_NO_TWIN" \
	"a barrier's exit patches an open copy but not its twin" rc.pml
check mutant-rc-open-keep-stale fail safety "-DNPH=1 -DK=2 -DOPEN -DMUTANT_KEEP_STALE" \
	"an acquire keeps an open copy of a page another rank wrote" rc.pml
check mutant-rc-chain-not-transitive fail safety "-DCHAIN -DMUTANT_NOT_TRANSITIVE" \
	"the same, on the chain across two locks" rc.pml

# Application barriers (barrier.pml): the dissemination barrier of sync.c,
# NR ranks x NE consecutive barriers, write notices carried by its rounds.
check barrier-3x3    pass safety "-DNR=3 -DNE=3" \
	"dissemination barrier, 3 ranks x 3 barriers: nobody early, the union of notices, every rank's data" barrier.pml
check barrier-4x3    pass safety "-DNR=4 -DNE=3" \
	"dissemination barrier, 4 ranks x 3 barriers: nobody early, the union of notices" barrier.pml
check barrier-5x3    pass safety "-DNR=5 -DNE=3" \
	"dissemination barrier, 5 ranks x 3 barriers (3 rounds that wrap around)" barrier.pml
b="-DNR=4 -DNE=2 -DLAX"
check mutant-barrier-drop-early fail safety "$b -DMUTANT_DROP_EARLY" \
	"a round of the next barrier that comes early is dropped" barrier.pml
check mutant-barrier-any-round  fail safety "$b -DMUTANT_ANY_ROUND" \
	"messages counted, not keyed by round" barrier.pml
check mutant-barrier-own-only   fail safety "$b -DMUTANT_OWN_ONLY" \
	"a round carries only its sender's own write notices" barrier.pml
check mutant-barrier-send-ahead fail safety "$b -DMUTANT_SEND_AHEAD" \
	"every round sent at entry, not after the round before" barrier.pml
check mutant-barrier-data-own   fail safety "-DNR=4 -DNE=2 -DMUTANT_DATA_OWN" \
	"dsm_allgather: a round carries only its sender's own data" barrier.pml
check mutant-barrier-data-early fail safety "-DNR=3 -DNE=2 -DMUTANT_DATA_EARLY" \
	"dsm_allgather: early data merged into the epoch the rank is in" barrier.pml

echo "verify: $pass passed, $fail failed"
[ $fail = 0 ]
