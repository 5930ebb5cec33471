# Shared helpers for the shell tests: source "$DSM_TOP/tests/lib.sh".
set -u
: "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}"
BIN=$DSM_TOP/bin
TBIN=$DSM_TOP/build/tests
TMP=$(mktemp -d "${TMPDIR:-/tmp}/dsmtest.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "skip: $*"; exit 77; }
# expect_eq ACTUAL EXPECTED WHAT
expect_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }
# expect_grep PATTERN FILE WHAT
expect_grep() { grep -q -- "$1" "$2" || { echo "--- $2:"; cat "$2"; fail "$3: no line matches '$1'"; }; }
# expect_ranks_ok PROG N FILE: every rank printed "PROG: rank R of N: ok"
expect_ranks_ok() {
	_r=0
	while [ $_r -lt "$2" ]; do
		expect_grep "^\[$_r\] $1: rank $_r of $2: ok$" "$3" "rank $_r's verdict"
		_r=$((_r + 1))
	done
}
# No process of this test's programs may be left behind.
expect_no_leftovers() {
	sleep 0.3
	left=$(pgrep -f "$1" | grep -v "^$$\$" || true)
	[ -z "$left" ] || { ps -o pid,args -p $left; fail "processes left behind matching '$1'"; }
}
# free_port [K]: a TCP port below the ephemeral range (32768-60999) that no
# socket here uses now; K varies the start (a retry's count).
free_port() {
	_p=$((20000 + ($$ * 7 + ${1:-0} * 7919) % 12000))
	while grep -q ":$(printf %04X $_p) " /proc/net/tcp /proc/net/tcp6 2>/dev/null; do
		_p=$((20000 + (_p - 19999) % 12000))
	done
	echo $_p
}
# mixed_encrypt ENC OUT: two ranks started by hand, rank 0 with DSM_ENCRYPT=ENC
# and rank 1 with 0; both ranks' output in OUT. Retried on a taken port.
mixed_encrypt() {
	for _try in 0 1 2 3; do
		_port=$(free_port $_try)
		for _r in 0 1; do
			_enc=0; [ $_r = 0 ] && _enc=$1
			DSM_ENCRYPT=$_enc DSM_INSECURE=1 DSM_ROOT=127.0.0.1:$_port DSM_RANK=$_r \
				DSM_NRANKS=2 timeout -k 5 30 "$BIN/counter" 10 >"$TMP/m$_r" 2>&1 &
		done
		wait
		cat "$TMP/m0" "$TMP/m1" >"$2"
		grep -q "cannot listen" "$2" || break
	done
}
# run_job OUT DSMEXEC-ARGS...: run a job under a safety timeout, its output
# in OUT; sets $rc.
run_job() {
	_out=$1
	shift
	rc=0
	timeout -k 5 60 "$BIN/dsmexec" "$@" >"$_out" 2>&1 || rc=$?
}
