#!/bin/sh
# Description: the stripe test (every rank writes its stripe of 8 MiB, then
# checks all of it, twice, stripes shifted) on 2, 4 and 8 ranks; 8 ranks on
# fewer cores must complete too.
# Backends: uffd sigsegv
# Timeout: 90
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

for n in 2 4 8; do
	"$BIN/dsmexec" -t 80 -n "$n" "$TBIN/stripe" 8 >"$TMP/out" 2>&1
	rc=$?
	cat "$TMP/out"
	[ $rc -eq 0 ] || fail "stripe on $n ranks: exit status $rc"
	r=0
	while [ $r -lt "$n" ]; do
		expect_grep "^\[$r\] stripe: rank $r checked 1048576 words x 2 rounds: ok$" "$TMP/out" \
			"rank $r of $n"
		r=$((r + 1))
	done
	expect_eq "$(grep -c 'stripe: .*: ok$' "$TMP/out")" "$n" "ranks of $n that printed ok"
done
exit 0
