#!/bin/sh
# Description: the --stats report names what a user needs.  A hot page of a
# block freed before the end keeps its call site; a page of DSM_SHARED
# variables names the variable; after Ctrl-C the table shows what the ranks
# had counted (rows marked *), never a row of zeros.
# Backends: uffd sigsegv
# Timeout: 120
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"
prog=$TBIN/first_hour_stats

run_job "$TMP/freed" -n 2 --stats "$prog" freed 300
cat "$TMP/freed"
expect_eq $rc 0 "freed: exit status"
expect_grep "^ *[0-9]* requests  page [0-9]* (0x[0-9a-f]*, home [01], sequential)  dsm_malloc(16384) +0x0 by rank 0 at .* (freed before the end)\$" \
	"$TMP/freed" "freed: the hot page keeps its block's call site"
! grep -q "no allocation reported" "$TMP/freed" || fail "freed: a hot page lost its allocation"

run_job "$TMP/var" -n 2 --stats "$prog" var 300
cat "$TMP/var"
expect_eq $rc 0 "var: exit status"
expect_grep "^ *[0-9]* requests  page [0-9]* (0x[0-9a-f]*, home 0, sequential)  DSM_SHARED variable hot_total\$" \
	"$TMP/var" "var: the page names the variable"

# Ctrl-C: dsmexec forwards SIGINT; the ranks never reach dsm_finalize.
"$BIN/dsmexec" -t 60 -n 2 --stats "$prog" spin >"$TMP/int" 2>&1 &
job=$!
i=0
while ! grep -q "spinning" "$TMP/int" && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
grep -q "spinning" "$TMP/int" || { kill $job; cat "$TMP/int"; fail "spin: never started"; }
sleep 3 # the ranks report their counters each second
kill -INT $job
wait $job
rc=$?
cat "$TMP/int"
expect_eq $rc 130 "Ctrl-C: exit status"
expect_grep "^dsm stats: 2 ranks" "$TMP/int" "Ctrl-C: the table"
expect_grep "^(the job ended before 2 of its ranks reached dsm_finalize" "$TMP/int" "Ctrl-C: the note"
for r in 0 1; do
	set -- $(awk -v r="$r*" '$1 == r { print; exit }' "$TMP/int")
	[ $# -ge 15 ] || fail "Ctrl-C: no row for rank $r"
	[ "$3" -gt 0 ] || fail "Ctrl-C: rank $r's row says no write faults: $*"
done
set -- $(awk '$1 == "total" { print; exit }' "$TMP/int")
[ "$#" -ge 15 ] && [ "$3" -gt 0 ] || fail "Ctrl-C: the total is empty: $*"
exit 0
