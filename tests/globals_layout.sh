#!/bin/sh
# Description: DSM_SHARED globals need the same layout on every rank: two
# ranks started by hand (DSM_ROOT, DSM_INSECURE) with address-space
# randomisation off (setarch -R) meet; one started with it on, or one running
# another program, is refused at dsm_init by rank 0 with a message naming
# the ranks and the difference, and neither rank hangs.
# Backends: uffd sigsegv
# Timeout: 120
. "$DSM_TOP/tests/lib.sh"
P=$TBIN/globals_prog
[ -x "$P" ] && [ -x "$BIN/hello" ] || fail "build first: make tests"
command -v setarch >/dev/null 2>&1 || skip "no setarch (util-linux)"
setarch -R true 2>/dev/null || skip "setarch -R is not permitted here"

# Below the ephemeral ports; another port when a job elsewhere has this one.
base_port=$((10000 + ($$ * 7) % 20000))
# pair NAME PREFIX0 PROG0 PREFIX1 PROG1: ranks 0 and 1 by hand; sets rc0, rc1
pair() {
	for _try in 1 2 3 4 5; do
		pair_once "$@"
		grep -q "Address already in use" "$TMP/$1.0" || break
		echo "(port $base_port was taken: again)"
	done
	echo "--- $1: rank 0 exited $rc0, rank 1 exited $rc1"
	cat "$TMP/$1.0" "$TMP/$1.1"
}
pair_once() {
	_n=$1
	base_port=$((base_port + 1))
	env DSM_RANK=0 DSM_NRANKS=2 DSM_ROOT=127.0.0.1:$base_port DSM_INSECURE=1 DSM_TIMEOUT=20 \
		timeout -k 5 40 $2 "$3" layout >"$TMP/$_n.0" 2>&1 &
	_p0=$!
	env DSM_RANK=1 DSM_NRANKS=2 DSM_ROOT=127.0.0.1:$base_port DSM_INSECURE=1 DSM_TIMEOUT=20 \
		timeout -k 5 40 $4 "$5" layout >"$TMP/$_n.1" 2>&1 &
	_p1=$!
	rc0=0 rc1=0
	wait $_p0 || rc0=$?
	wait $_p1 || rc1=$?
}

# Both with randomisation off: the same addresses, the job runs.
pair same "setarch -R" "$P" "setarch -R" "$P"
[ $rc0 -eq 0 ] && [ $rc1 -eq 0 ] || fail "two ranks started with setarch -R did not run"
a0=$(sed -n 's/^layout: g_int at //p' "$TMP/same.0")
a1=$(sed -n 's/^layout: g_int at //p' "$TMP/same.1")
[ -n "$a0" ] && expect_eq "$a1" "$a0" "g_int's address on rank 1"

# Rank 1 with randomisation on.
if [ "$(cat /proc/sys/kernel/randomize_va_space 2>/dev/null)" != 0 ]; then
	pair aslr "setarch -R" "$P" "" "$P"
	[ $rc0 -ne 0 ] && [ $rc1 -ne 0 ] || fail "a rank with randomisation on was not refused"
	expect_grep "layout mismatch: rank 1 has the DSM_SHARED variables of globals_prog at 0x[0-9a-f]* (.* bytes), rank 0 at 0x[0-9a-f]* (.* bytes): start every rank with address-space randomisation off" \
		"$TMP/aslr.0" "rank 0's message"
	expect_grep "rank 0 ended the job: rank 1 has the DSM_SHARED variables\|rank 0 closed its connection" \
		"$TMP/aslr.1" "rank 1's message"
else
	echo "randomisation is off on this machine: the ASLR case is not tried"
fi

# Rank 1 runs another program.
pair other "setarch -R" "$P" "setarch -R" "$BIN/hello"
[ $rc0 -ne 0 ] && [ $rc1 -ne 0 ] || fail "a rank running another program was not refused"
expect_grep "layout mismatch: rank 1 runs another program than rank 0: .*hello (build [0-9a-f]*) there, .*globals_prog (build [0-9a-f]*) here" \
	"$TMP/other.0" "rank 0's message"
expect_no_leftovers "$P layout"
echo "globals_layout: OK"
