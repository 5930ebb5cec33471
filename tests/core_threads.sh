#!/bin/sh
# Description: 4 threads per rank fault together on pages shared by every
# thread of every rank and on pages only one thread writes; after each round
# every thread checks every word.  2 ranks, and 3 ranks with pages' homes
# cyclic and in blocks.
# Backends: uffd sigsegv uffd-sigbus
# Timeout: 90
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

for job in "2 4 300" "3 4 100" "3 4 100 block"; do
	set -- $job
	n=$1 threads=$2 rounds=$3 home=${4:-cyclic}
	DSM_HOME=$home "$BIN/dsmexec" -t 80 -n "$n" "$TBIN/threads" "$threads" "$rounds" >"$TMP/out" 2>&1
	rc=$?
	cat "$TMP/out"
	[ $rc -eq 0 ] || fail "threads on $n ranks, $home homes: exit status $rc"
	r=0
	while [ $r -lt "$n" ]; do
		expect_grep "^\[$r\] threads: rank $r of $n, $threads threads x $rounds rounds: ok$" "$TMP/out" \
			"rank $r's verdict"
		r=$((r + 1))
	done
done
exit 0
