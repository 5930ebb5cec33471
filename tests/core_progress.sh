#!/bin/sh
# Description: forward progress of a faulting access (tests/progs/progress.c):
# rounds in which every rank writes its own page, meets the others at a
# barrier and reads the next rank's page, then writes by every rank at once
# to one shared page.  A page granted to a faulting thread is not taken back
# before the thread has used it: no access faults twice more than it needs,
# at most 1% once more (a hold is bounded in time), and every value read and
# written is right.  On 2 and on 4 ranks.
# Backends: uffd sigsegv uffd-sigbus
# Timeout: 150
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

# Read-ahead off: every request is a fault the thread waited for.
export DSM_READAHEAD=0
for n in 2 4; do
	"$BIN/dsmexec" -t 120 -n "$n" "$TBIN/progress" 2000 >"$TMP/out" 2>&1
	rc=$?
	cat "$TMP/out"
	[ $rc -eq 0 ] || fail "progress on $n ranks: exit status $rc"
	for what in rounds writes; do
		expect_eq "$(grep -c "^\[[0-9]*\] progress: $what: 2000, [0-9]* faulted, worst [0-9]* faults" "$TMP/out")" \
			"$n" "ranks that judged their $what, of $n"
	done
done
exit 0
