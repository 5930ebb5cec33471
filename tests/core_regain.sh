#!/bin/sh
# Description: regain (coherence.c): a rank that rereads, in random order,
# pages that others rewrote since gets most of them in the bundle of its
# first fault: over 99 rounds of 32 pages, at most a sixth of the read
# faults of page-by-page fetching on 2 ranks (a page struck out and then
# read again is not struck out again: 658 faults before, about 130 with it)
# and two thirds on 3 ranks, every value right; pages
# read once and rewritten every round are fetched again at most a few times (pages in <= the hot
# pages + 6 per once page); with DSM_READAHEAD=0 (regain off) exactly one
# fault and one page per hot page per round.  Rewrite, the writers' side:
# rank 1 writes its hot pages again each round in shuffled order, after
# rank 0 read them; at most half the write faults of page by page, and with
# DSM_READAHEAD=0 exactly one per page it writes again (its hot pages every
# round, its once pages in the second).  On 2 and 3 ranks.
# Backends: uffd sigsegv
# Timeout: 150
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

rounds=100 hot=32 once=32
full=$(( (rounds - 1) * hot ))
figures() { # FILE: "faults pages" from rank 0's line
	sed -n 's/^\[0\] regain: [0-9]* rounds of [0-9]* pages: \([0-9]*\) read faults, \([0-9]*\) pages in$/\1 \2/p' "$1"
}
wfaults() { # FILE: rank 1's write faults
	sed -n 's/^\[1\] rewrite: [0-9]* rounds of [0-9]* pages: \([0-9]*\) write faults$/\1/p' "$1"
}
for n in 2 3; do
	wfull=$(( (rounds - 1) * (hot / (n - 1)) + once / (n - 1) ))
	"$BIN/dsmexec" -t 120 -n "$n" "$TBIN/regain" $rounds >"$TMP/out" 2>&1
	rc=$?
	cat "$TMP/out"
	[ $rc -eq 0 ] || fail "regain on $n ranks: exit status $rc"
	set -- $(figures "$TMP/out")
	[ $# -eq 2 ] || fail "regain on $n ranks: no figures"
	# A fault on a page whose regained copy is still on its way counts as
	# a read fault too; on 3 ranks the copies come from two writers through
	# three homes, and on the SIGSEGV backend 1,150-1,640 of 3,168 faults
	# were seen on one unchanged build: a third saved is the bound there.
	most=$((full / 6))
	[ $n -eq 3 ] && most=$((full * 2 / 3))
	[ "$1" -le $most ] || fail "$n ranks: $1 read faults for $full pages reread (regain should save $((full - most)) or more)"
	[ "$2" -ge $full ] && [ "$2" -le $((full + 6 * once)) ] ||
		fail "$n ranks: $2 pages in, expected $full to $((full + 6 * once)) (once pages fetched again and again?)"
	w=$(wfaults "$TMP/out")
	[ -n "$w" ] || fail "rewrite on $n ranks: no figure"
	[ "$w" -le $((wfull / 2)) ] || fail "$n ranks: rank 1 took $w write faults for $wfull pages written again (rewrite should save half or more)"

	DSM_READAHEAD=0 "$BIN/dsmexec" -t 120 -n "$n" "$TBIN/regain" $rounds >"$TMP/out" 2>&1
	rc=$?
	cat "$TMP/out"
	[ $rc -eq 0 ] || fail "regain with DSM_READAHEAD=0 on $n ranks: exit status $rc"
	expect_eq "$(figures "$TMP/out")" "$full $full" "DSM_READAHEAD=0 on $n ranks: read faults and pages in"
	expect_eq "$(wfaults "$TMP/out")" "$wfull" "DSM_READAHEAD=0 on $n ranks: rank 1's write faults"
done
exit 0
