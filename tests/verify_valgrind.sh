#!/bin/sh
# Description: multi-rank programs with every rank under valgrind memcheck
# (the SIGSEGV backend: valgrind cannot run userfaultfd): stripe, the litmus
# tests (short), the lock counter and the consistency checker (short, two
# threads per rank).  Any memcheck error (invalid access, use of undefined
# values, a bad free, a block definitely lost, ...) fails the test through
# --error-exitcode.
#
# Two options are needed for any dsm program under valgrind:
#  - --ignore-ranges=REGION: a touch of a page the rank does not hold is an
#    access to PROT_NONE memory by design (it faults, the handler fetches the
#    page, the access is retried), which memcheck would otherwise report once
#    per fault.  Everything else, the library's own mapping of the region
#    included, is checked.
#  - --vex-iropt-register-updates=allregs-at-mem-access: the faulting access
#    is retried after the handler, so every register must be up to date at
#    every memory access; by default valgrind keeps only a few so, and the
#    retried code then runs with stale registers (wrong values, a crash).
# DSM_VALGRIND="valgrind options" replaces the default options; by hand:
#   DSM_BACKEND=sigsegv DSM_SIZE=64M dsmexec -n 2 valgrind --error-exitcode=99 \
#       --vex-iropt-register-updates=allregs-at-mem-access \
#       --ignore-ranges=0x200000000000-0x200004000000 PROGRAM
# Timeout: 300
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

command -v valgrind >/dev/null 2>&1 || skip "valgrind is not installed (apt-get install valgrind)"
grep -q -- '-fsanitize' "$DSM_TOP/build/flags" 2>/dev/null && skip "a sanitizer build: valgrind cannot run it"

base=0x200000000000
size_mib=64
end=$(printf '0x%x' $((base + size_mib * 1024 * 1024)))
export DSM_BACKEND=sigsegv DSM_BASE=$base DSM_SIZE=${size_mib}M DSM_TIMEOUT=200
opts=${DSM_VALGRIND:-"--error-exitcode=99 --track-origins=yes --leak-check=full --errors-for-leak-kinds=definite
	--vex-iropt-register-updates=allregs-at-mem-access
	--ignore-ranges=$base-$end"}

# run NAME RANKS PROGRAM ARGS...
run() {
	name=$1 n=$2
	shift 2
	start=$(date +%s)
	timeout -k 5 250 "$BIN/dsmexec" -t 240 -n "$n" valgrind $opts "$@" >"$TMP/$name.out" 2>&1
	rc=$?
	cat "$TMP/$name.out"
	[ $rc -eq 0 ] || fail "$name on $n ranks under valgrind: exit status $rc (99: a memcheck error)"
	# every rank's memcheck said it found nothing
	expect_eq "$(grep -c 'ERROR SUMMARY: 0 errors' "$TMP/$name.out")" "$n" "$name: ranks with no memcheck error"
	echo "$name on $n ranks: clean under memcheck ($(( $(date +%s) - start ))s)"
}

run stripe 3 "$TBIN/stripe" 1
run litmus 3 "$TBIN/litmus" 200 1
run counter 3 "$BIN/counter" 200
run sccheck 3 "$TBIN/sccheck" -t 2 -o 5000 -d "$TMP"
exit 0
