#!/bin/sh
# Description: the trace.  dsmexec --trace FILE leaves one valid JSON file
# (checked by a strict parser, build/tests/obs_jsoncheck) with a process per
# rank, spans for faults, pages served, lock, semaphore and barrier waits and
# RPCs (called and served), release consistency's twins, diffs made and
# applied and write notices applied, and page flows that start at a request
# and end at its grant; the per-rank parts are gone.  DSM_TRACE=FILE on ranks started
# without dsmexec writes FILE too (rank 0 joins the parts).
# Backends: uffd sigsegv
# Timeout: 60
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

check() { # FILE: validate, summary in $TMP/sum
	"$TBIN/obs_jsoncheck" "$1" >"$TMP/sum" 2>&1 || { cat "$TMP/sum"; fail "$1 is not a valid trace"; }
	cat "$TMP/sum"
}
count() { # WHAT: the number after "WHAT " in the summary, 0 if absent
	n=$(sed -n "s/^$1 \([0-9]*\).*/\1/p" "$TMP/sum" | head -1)
	echo "${n:-0}"
}
atleast() { # WHAT MIN
	[ "$(count "$1")" -ge "$2" ] || fail "trace: expected at least $2 of '$1', got $(count "$1")"
}

cd "$TMP" || exit 1
export DSM_READAHEAD=0 # every page read is a fault of its own, counted below
run_job "$TMP/out" -n 2 --trace t.json "$TBIN/obs_trace"
cat "$TMP/out"
expect_eq "$rc" 0 "obs_trace exit status"
[ -f "$TMP/t.json" ] || fail "no trace file t.json in the working directory"
ls "$TMP"/t.json.* 2>/dev/null && fail "the per-rank parts were left behind"
check "$TMP/t.json"
expect_grep "^process rank 0$" "$TMP/sum" "rank 0's process"
expect_grep "^process rank 1$" "$TMP/sum" "rank 1's process"
atleast "span read fault" 16
atleast "span write fault" 16
atleast "span serve read" 16
atleast "span lock" 2
atleast "span sem wait" 2
atleast "span barrier" 4
atleast "span rpc call" 3
atleast "span rpc serve" 3
atleast "span rc twin" 1
atleast "span rc diff" 1
atleast "span rc apply" 1
atleast "span rc notice" 1
atleast "ph s" 16
atleast "ph t" 16
atleast "ph f" 16
[ "$(sed -n 's/^flows [0-9]* complete \([0-9]*\)$/\1/p' "$TMP/sum")" -ge 32 ] ||
	fail "fewer than 32 flows with a start and an end"
expect_eq "$(count bad-span)" 0 "spans without a time and a duration"

# One rank, no dsmexec: the rank writes the file itself.
DSM_TRACE="$TMP/one.json" "$BIN/hello" >"$TMP/one.out" 2>&1 || fail "hello with DSM_TRACE: $(cat "$TMP/one.out")"
check "$TMP/one.json"
expect_grep "^process rank 0$" "$TMP/sum" "the single rank's process"

# Two ranks started by hand (as srun or mpirun would): rank 0 joins the parts.
port=$((22000 + ($$ * 13) % 9000))
for r in 0 1; do
	DSM_INSECURE=1 DSM_RANK=$r DSM_NRANKS=2 DSM_ROOT=127.0.0.1:$port DSM_TRACE="$TMP/hand.json" \
		timeout -k 5 60 "$TBIN/obs_trace" >"$TMP/hand.$r" 2>&1 &
done
wait
cat "$TMP/hand.0" "$TMP/hand.1"
check "$TMP/hand.json"
expect_grep "^process rank 0$" "$TMP/sum" "rank 0's process, joined by rank 0"
expect_grep "^process rank 1$" "$TMP/sum" "rank 1's process, joined by rank 0"
ls "$TMP"/hand.json.* 2>/dev/null && fail "the per-rank parts were left behind"

# A trace file that cannot be created stops the job at dsm_init, saying why.
run_job "$TMP/bad" -n 2 --trace "$TMP/no/such/dir/t.json" "$TBIN/obs_trace"
[ "$rc" -ne 0 ] || fail "a trace in a missing directory did not fail the job"
expect_grep "DSM_TRACE=.*cannot create" "$TMP/bad" "the reason"
exit 0
