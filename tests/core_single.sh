#!/bin/sh
# Description: a program started without dsmexec is a job of one rank that
# can use its whole region: pages from the first to the last byte of the
# default 4 GiB region, of a 64 MiB region at another base, and of a 64 GiB
# region.
# Backends: uffd sigsegv
# Timeout: 60
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

# Nothing from a launcher.
unset DSM_RANK DSM_NRANKS DSM_ROOT DSM_RENDEZVOUS DSM_SECRET_FD DSM_SECRET_FILE DSM_JOB_ID \
	DSM_INSECURE DSM_BASE DSM_SIZE DSM_HOST DSM_HOME

run() { # what expected-base expected-size [VAR=value...]
	what=$1 base=$2 size=$3
	shift 3
	env "$@" timeout 30 "$TBIN/single" "$base" "$size" >"$TMP/out" 2>&1
	rc=$?
	cat "$TMP/out"
	[ $rc -eq 0 ] || fail "$what: exit status $rc"
	[ "$base" = default ] && base='0x[0-9a-f]*'
	expect_grep "^single: rank 0 of 1, region $base + $size, 1022 pages touched, .*: ok$" "$TMP/out" "$what"
}

# The default base is 0x200000000000 (elsewhere under ThreadSanitizer).
run "default region" default 4294967296
# Another base; under ThreadSanitizer it must lie inside its application range.
other=0x300000000000
grep -q 'sanitize=thread' "$DSM_TOP/build/flags" 2>/dev/null && other=0x560000000000
run "64 MiB at $other" $other 67108864 DSM_BASE=$other DSM_SIZE=64M
run "64 GiB region" default 68719476736 DSM_SIZE=64G
exit 0
