#!/bin/sh
# Description: false sharing: 2 and 4 ranks each increment their own word of
# one page thousands of times, never more than a few increments ahead of the
# next rank, so the page changes hands constantly; every write must survive.
# Backends: uffd sigsegv uffd-sigbus
# Timeout: 320
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

for job in "2 20000" "4 5000"; do
	set -- $job
	n=$1 count=$2
	"$BIN/dsmexec" -t 150 -n "$n" "$TBIN/falseshare" "$count" >"$TMP/out" 2>&1
	rc=$?
	cat "$TMP/out"
	[ $rc -eq 0 ] || fail "falseshare on $n ranks: exit status $rc"
	r=0
	while [ $r -lt "$n" ]; do
		expect_grep "^\[$r\] falseshare: rank $r of $n, $count increments x 2 pages.*: ok$" "$TMP/out" \
			"rank $r's verdict"
		r=$((r + 1))
	done
done
exit 0
