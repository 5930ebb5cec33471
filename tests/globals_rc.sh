#!/bin/sh
# Description: DSM_SHARED_RC globals - an initialised one starts as rank 0's
# copy; 3 ranks add to one under a lock and write their own words of one
# page at once, and after a barrier every rank reads the exact total and
# every word; a message passes through a lock; the writes made twins and
# diffs (release consistency); an SC DSM_SHARED counter beside them is exact;
# the --stats report calls the variables' page release-consistent.
# (tests/ckpt_rc.sh checkpoints and restores a DSM_SHARED_RC array.)
# Backends: uffd sigsegv
# Timeout: 120
. "$DSM_TOP/tests/lib.sh"
P=$TBIN/globals_rc
[ -x "$BIN/dsmexec" ] && [ -x "$P" ] || fail "build first: make tests"

for n in 2 3; do
	run_job "$TMP/out" -n $n --stats "$P" 200
	cat "$TMP/out"
	[ $rc -eq 0 ] || fail "$n ranks: the job exited $rc"
	expect_eq "$(grep -c "globals_rc rank [0-9] of $n: total $((200 * n)), 512 words, message: OK" "$TMP/out")" $n \
		"$n ranks: ranks that said OK"
	expect_grep "(0x[0-9a-f]*, home 0, release)  DSM_SHARED variables\? .*rc_total" "$TMP/out" \
		"$n ranks: the hot page of DSM_SHARED_RC variables"
done
exit 0
