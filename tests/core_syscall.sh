#!/bin/sh
# Description: system calls on region pages this rank does not hold: write(2)
# from one, read(2) into one.  With userfaultfd in full mode the kernel's
# accesses fault like the application's and both calls succeed; where faults
# inside the kernel cannot be served (the sigsegv backend, userfaultfd in
# user-mode-only or SIGBUS mode) both must fail cleanly with EFAULT, and then succeed
# after the way around it that dsm_init(3) documents: touch the buffer.
# Backends: uffd sigsegv uffd-sigbus
# Timeout: 60
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

"$BIN/dsmexec" -t 50 -n 2 "$TBIN/syscall" >"$TMP/out" 2>&1
rc=$?
cat "$TMP/out"
[ $rc -eq 0 ] || fail "exit status $rc"
expect_grep '^\[0\] syscall: done$' "$TMP/out" "the verdict"

full_uffd=no
if [ "${DSM_BACKEND:-uffd}" = uffd ]; then
	if [ "$(id -u)" = 0 ] || [ "$(cat /proc/sys/vm/unprivileged_userfaultfd 2>/dev/null)" = 1 ]; then
		full_uffd=yes
	fi
fi
if [ $full_uffd = yes ]; then
	expect_grep '^\[1\] syscall: write: ok$' "$TMP/out" "write(2) from a page rank 1 does not hold"
	expect_grep '^\[1\] syscall: read: ok$' "$TMP/out" "read(2) into a page rank 1 does not hold"
	exit 0
fi
# The sigsegv backend: both fail cleanly, and the way around it that
# dsm_init(3) documents (touch the buffer, one byte per page) works.
expect_grep '^\[1\] syscall: write: EFAULT$' "$TMP/out" "write(2) from a page rank 1 does not hold"
expect_grep '^\[1\] syscall: write after touching: ok$' "$TMP/out" "write(2) after touching the pages"
expect_grep '^\[1\] syscall: read: EFAULT$' "$TMP/out" "read(2) into a page rank 1 does not hold"
expect_grep '^\[1\] syscall: read after touching: ok$' "$TMP/out" "read(2) after touching the pages"
