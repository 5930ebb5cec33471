#!/bin/sh
# Description: dsmexec tells the OpenMP runtimes of ranks that share a
# host's CPUs with more threads than it has to wait passively: with 2
# local ranks (OpenMP's default, a thread per CPU) every rank sees
# OMP_WAIT_POLICY=passive; with one rank, or OMP_NUM_THREADS small enough
# for the CPUs, nothing is set; a wait policy or GOMP_SPINCOUNT the user
# set is left alone.
# Timeout: 60
. "$DSM_TOP/tests/lib.sh"

cpus=$(nproc)
show() { # FILE dsmexec-args...: every rank prints its policy
	f=$1
	shift
	timeout -k 5 30 "$BIN/dsmexec" "$@" sh -c 'echo "policy=${OMP_WAIT_POLICY-unset} spin=${GOMP_SPINCOUNT-unset}"' >"$TMP/$f" 2>&1 ||
		{ cat "$TMP/$f"; fail "dsmexec $*: exit status $?"; }
	cat "$TMP/$f"
}

show two -n 2
expect_eq "$(grep -c '^\[[01]\] policy=passive spin=unset$' "$TMP/two")" 2 "2 local ranks, a thread per CPU each: passive"
show one -n 1
expect_grep '^\[0\] policy=unset spin=unset$' "$TMP/one" "1 rank: nothing set"
fit=$((cpus / 2))
if [ "$fit" -ge 1 ]; then
	OMP_NUM_THREADS=$fit show fit -n 2
	expect_eq "$(grep -c 'policy=unset spin=unset$' "$TMP/fit")" 2 "2 ranks x $fit threads on $cpus CPUs: nothing set"
fi
OMP_WAIT_POLICY=active show user -n 2
expect_eq "$(grep -c 'policy=active spin=unset$' "$TMP/user")" 2 "the user's OMP_WAIT_POLICY kept"
GOMP_SPINCOUNT=1000 show spin -n 2
expect_eq "$(grep -c 'policy=unset spin=1000$' "$TMP/spin")" 2 "the user's GOMP_SPINCOUNT kept, no policy added"
echo "ok"
