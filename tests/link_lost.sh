# Description: a peer that stops answering (stopped with SIGSTOP) ends the
# job after DSM_TIMEOUT with a message naming it, also when its link was cut
# and it never reconnects; no process is left behind.
# Backends: uffd sigsegv
# Timeout: 120
. "$DSM_TOP/tests/lib.sh"

[ -x "$TBIN/stopself" ] || fail "build first: make tests"
for faults in "" "cut=0-1@1500ms"; do
	what="silent rank 1${faults:+ with DSM_FAULTS=$faults}"
	DSM_TIMEOUT=3 DSM_FAULTS=$faults timeout -k 5 60 "$BIN/dsmexec" --grace 1 -n 2 "$TBIN/stopself" \
		>"$TMP/out" 2>&1 && fail "$what: the job succeeded"
	expect_grep "stopself: rank 1 stops" "$TMP/out" "$what: rank 1 reached its stop"
	expect_grep "\[dsm 0\] fatal: .*rank 1" "$TMP/out" "$what: rank 0 names rank 1"
	if grep -q "stopself: rank 0 reads" "$TMP/out"; then
		cat "$TMP/out"
		fail "$what: rank 0 read the page although rank 1 never answered"
	fi
done
expect_no_leftovers "$TBIN/stopself"
