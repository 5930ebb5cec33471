#!/bin/sh
# Description: forward progress of a faulting access: each of 2000 rounds,
# every rank writes a word of its own page, all meet at a barrier, and each
# reads a word of the next rank's page; no round may take a rank more than 2
# faults (a page granted to a faulting thread is not taken back before the
# thread has used it).  On 2 and on 4 ranks.
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
	expect_eq "$(grep -c '^\[[0-9]*\] progress: 2000 rounds, worst [12] faults .*, 0 rounds over 2$' "$TMP/out")" \
		"$n" "ranks whose every round took at most 2 faults, of $n"
done
exit 0
