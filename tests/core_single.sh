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
	expect_grep "^single: rank 0 of 1, region $base + $size, 1022 pages touched, .*: ok$" "$TMP/out" "$what"
}

run "default region" 0x200000000000 4294967296
run "64 MiB at 0x300000000000" 0x300000000000 67108864 DSM_BASE=0x300000000000 DSM_SIZE=64M
run "64 GiB region" 0x200000000000 68719476736 DSM_SIZE=64G
exit 0
