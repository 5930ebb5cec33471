#!/bin/sh
# Description: the counters and the end-of-job report.  A known access
# pattern gives known counts (obs_counts checks them itself with dsm_stats()
# and this script checks the table dsmexec --stats prints), exact without
# read-ahead and accounted for with it; the statistics
# lines never reach the job's output; DSM_STATS=1 without dsmexec prints a
# one-rank table; and the hot-page report names the allocation of two pages
# that move and tells false sharing from true sharing; a release-consistent
# job's report says its page is release-consistent, and counts the twins,
# the diffs (sent, applied, and their bytes) and the write notices.
# Backends: uffd sigsegv
# Timeout: 90
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

K=64
export DSM_READAHEAD=0
run_job "$TMP/counts" -n 2 --stats "$TBIN/obs_counts" $K
unset DSM_READAHEAD
cat "$TMP/counts"
expect_eq "$rc" 0 "obs_counts exit status"
expect_grep "^\[0\] counts rank 0: ok" "$TMP/counts" "rank 0's own check of dsm_stats()"
expect_grep "^\[1\] counts rank 1: ok" "$TMP/counts" "rank 1's own check of dsm_stats()"
if grep -q "$(printf '\036')" "$TMP/counts"; then
	fail "a statistics line reached the job's output"
fi
expect_grep "^dsm stats: 2 ranks" "$TMP/counts" "the table's title"

# The table: rank, rd-flt, wr-flt, pg-in, pg-out, MiB-in, MiB-out, inv-sent, inv-recv, ...
row() { awk -v r="$1" '$1 == r && NF >= 15 { print; exit }' "$TMP/counts"; }
set -- $(row 1)
expect_eq "$2 $3 $4 $9" "$K 0 $K $K" "rank 1: read faults, write faults, pages in, invalidations received"
set -- $(row 0)
expect_eq "$2 $3 $4 $5" "0 $((2 * K)) $((K / 2)) $K" "rank 0: read faults, write faults, pages in, pages out"
set -- $(row total)
expect_eq "$8 $9" "$K $K" "the job's invalidations sent and received"

# With read-ahead (the default) the same reads take a few faults.
run_job "$TMP/ahead" -n 2 "$TBIN/obs_counts" $K
cat "$TMP/ahead"
expect_eq "$rc" 0 "obs_counts exit status, read-ahead on"
expect_grep "^\[1\] counts rank 1: ok" "$TMP/ahead" "rank 1's check of its read-ahead counts"

# One rank without dsmexec prints its own table.
DSM_STATS=1 "$BIN/hello" >"$TMP/single" 2>&1 || fail "hello with DSM_STATS=1 failed: $(cat "$TMP/single")"
cat "$TMP/single"
expect_grep "^dsm stats: 1 rank" "$TMP/single" "a single rank's table"
expect_grep "^total " "$TMP/single" "a single rank's total"

# Hot pages: page 0 of obs.counters is written by both ranks at different
# lines, page 1 at the same word.
run_job "$TMP/share" -n 2 --stats "$TBIN/obs_share" 3000
cat "$TMP/share"
expect_eq "$rc" 0 "obs_share exit status"
expect_grep "^hot pages" "$TMP/share" "the hot-page report"
expect_grep 'requests  page [0-9]* (0x[0-9a-f]*, home [01], sequential)  "obs.counters" +0x0$' "$TMP/share" \
	"the falsely shared page, with its allocation"
expect_grep 'requests  page [0-9]* (0x[0-9a-f]*, home [01], sequential)  "obs.counters" +0x1000$' "$TMP/share" \
	"the truly shared page, with its allocation"
grep -A 2 '"obs.counters" +0x0$' "$TMP/share" >"$TMP/page0"
expect_grep "FALSE SHARING likely: rank [01] writes lines \(0\|32\), rank [01] .* lines \(0\|32\)" "$TMP/page0" \
	"the false-sharing hint for page 0"
grep -A 2 '"obs.counters" +0x1000$' "$TMP/share" >"$TMP/page1"
expect_grep "true sharing: ranks [01] and [01] touch the same lines" "$TMP/page1" "the hint for page 1"

# Release consistency: 2 ranks increment adjacent counters of one
# release-consistent page under locks (an SC array beside it).
run_job "$TMP/rc" -n 2 --stats "$TBIN/rc_litmus" counters 500
cat "$TMP/rc"
expect_eq "$rc" 0 "rc_litmus counters exit status"
expect_grep 'requests  page [0-9]* (0x[0-9a-f]*, home [01], release)  "rc_litmus" +0x0$' "$TMP/rc" \
	"the release-consistent page, named so"
grep -A 1 '"rc_litmus" +0x0$' "$TMP/rc" >"$TMP/rcpage"
expect_grep "rank [01]: [0-9]* fetches, [1-9][0-9]* diffs, lines 0" "$TMP/rcpage" "the diffs each rank sent the page"
expect_grep 'requests  page [0-9]* (0x[0-9a-f]*, home [01], sequential)  "rc_litmus.sc" +0x0$' "$TMP/rc" \
	"the sequentially consistent page of the same job"
expect_grep "^release consistency: twins made, diffs sent and applied" "$TMP/rc" "the release-consistency table"
# rank, twins, diffs, diff-KiB, applied, appl-KiB, notices: the total row
set -- $(awk '/^release consistency/ { t = 1 } t && $1 == "total" { print; exit }' "$TMP/rc")
[ $# -eq 7 ] || fail "no total row of release consistency"
[ "$2" -gt 0 ] && [ "$3" -gt 0 ] && [ "$5" -eq "$3" ] && [ "$7" -gt 0 ] ||
	fail "release consistency: twins $2, diffs sent $3, applied $5 (must equal sent), notices $7"
[ "$4" != "0.0" ] && [ "$4" = "$6" ] || fail "release consistency: KiB of diff sent $4, applied $6"
exit 0
