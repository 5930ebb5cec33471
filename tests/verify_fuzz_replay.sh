#!/bin/sh
# Description: every saved fuzz input (fuzz/corpus/TARGET/: the seed corpus
# and any crash found by `make fuzz`, kept as a regression test) runs through
# its fuzz target again, built without libFuzzer (fuzz/replay.c): the wire
# decoder, the acceptor and the connector side of the handshake.  A target
# that finds a bug aborts.
# Timeout: 60
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

for t in wire accept connect; do
	[ -x "$TBIN/replay_$t" ] || fail "$TBIN/replay_$t is missing (make tests)"
	n=$(ls "$DSM_TOP/fuzz/corpus/$t" | wc -l)
	[ "$n" -gt 0 ] || fail "fuzz/corpus/$t is empty"
	"$TBIN/replay_$t" "$DSM_TOP/fuzz/corpus/$t" >"$TMP/out" 2>&1
	rc=$?
	cat "$TMP/out"
	[ $rc -eq 0 ] || fail "replaying fuzz/corpus/$t: exit status $rc"
	expect_grep "replay_$t: $n input(s) ran" "$TMP/out" "inputs of fuzz/corpus/$t that ran"
done
exit 0
