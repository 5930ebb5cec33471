# Description: every error an established rank-to-rank link can report
# (ECONNABORTED as from `ss -K`, EHOSTUNREACH, ENETDOWN, EIO, ...) heals: the
# session layer reconnects and resends, and the job's result is exact.  The
# transport's fault injector (DSM_FAULTS=cut=A-B@TIME/ERRNO) makes the cut
# rank's next recv() fail with each errno in turn.
# Timeout: 300
. "$DSM_TOP/tests/lib.sh"

[ -x "$BIN/counter" ] || fail "build first: make"
n=0
for err in ECONNRESET ECONNABORTED EPIPE ETIMEDOUT EHOSTUNREACH ENETUNREACH ENETDOWN ENETRESET \
	   EHOSTDOWN EIO ENOTCONN ECONNREFUSED EPROTO ENOBUFS ESHUTDOWN; do
	# 3 ranks, 300 increments each; the link 0-1 is cut early in the run.
	# DSM_LOG=info: the "link to rank 1 lost ...; reconnecting" line is an info message
	DSM_LOG=info DSM_TIMEOUT=20 DSM_FAULTS="cut=0-1@0.1s/$err" run_job "$TMP/o" -n 3 "$BIN/counter" 300
	[ "$rc" = 0 ] || { cat "$TMP/o"; fail "$err: exit status $rc"; }
	expect_grep "expected 900, 0 overlaps: OK" "$TMP/o" "$err: exact result"
	if grep -q "link to rank 1 lost" "$TMP/o"; then
		msg=$(grep "link to rank 1 lost" "$TMP/o" | head -1)
		case $msg in *"end of stream"*) fail "$err: the cut did not report its errno: $msg";; esac
		n=$((n + 1))
	fi
	if grep -q "fatal" "$TMP/o"; then cat "$TMP/o"; fail "$err: a fatal error"; fi
done
# A job that ends before the cut (a slow start on a loaded machine) tests
# nothing: most must have been cut.
[ $n -ge 12 ] || fail "only $n of 15 jobs were cut while running"
echo "$n jobs cut with an error, all exact"
