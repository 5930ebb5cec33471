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
# run_job OUT DSMEXEC-ARGS...: run a job under a safety timeout, its output
# in OUT; sets $rc.
run_job() {
	_out=$1
	shift
	rc=0
	timeout -k 5 60 "$BIN/dsmexec" "$@" >"$_out" 2>&1 || rc=$?
}
