#!/bin/sh
# Description: the test runner behind `make check`.
#
# Runs every compiled unit test (build/tests/test_*) and every script
# tests/*.sh, each under a timeout.  A script whose header has a line
# "# Backends: uffd sigsegv" runs once per fault backend with DSM_BACKEND set
# (DSM_BACKENDS="uffd", for example, replaces that list for every such script).
# Exit 0 passes, 77 skips (the script prints why), anything else fails.
# Arguments, if any, are name filters (substrings).  Ends with the line
# "N passed, N failed, N skipped".
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
export DSM_TOP="$top" PATH="$top/bin:$PATH"
outdir="$top/tests/out"
rm -rf "$outdir" && mkdir -p "$outdir"
pass=0 fail=0 skip=0 n=0 failed=""

want() { # NAME: is it selected by the filters (all tests when there are none)?
	[ -z "$FILTERS" ] && return 0
	name=$1
	for f in $FILTERS; do case "$name" in *"$f"*) return 0;; esac; done
	return 1
}
FILTERS="$*"

run_one() { # name backend command...
	name=$1 backend=$2; shift 2
	label=$name; [ -n "$backend" ] && label="$name [$backend]"
	log="$outdir/$(echo "$label" | tr ' /[]' '_.__').log"
	for script; do :; done # the test file is the last word of the command
	tmo=$(sed -n 's/^# Timeout: *\([0-9]*\).*/\1/p' "$script" 2>/dev/null | head -1)
	[ -n "$tmo" ] || tmo=180
	n=$((n + 1))
	start=$(date +%s)
	if [ -n "$backend" ]; then
		DSM_BACKEND=$backend timeout -k 10 "$tmo" "$@" >"$log" 2>&1
	else
		timeout -k 10 "$tmo" "$@" >"$log" 2>&1
	fi
	rc=$?
	secs=$(( $(date +%s) - start ))
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1)); echo "ok $n - $label (${secs}s)"
	elif [ $rc -eq 77 ]; then
		skip=$((skip + 1)); echo "ok $n - $label # SKIP $(tail -n 1 "$log")"
	else
		fail=$((fail + 1)); failed="$failed
  $label"
		[ $rc -eq 124 ] && echo "timed out after ${tmo}s" >>"$log"
		echo "not ok $n - $label (exit $rc, ${secs}s)"
		tail -n 25 "$log" | sed 's/^/#   /'
	fi
}

for t in build/tests/test_*; do
	[ -x "$t" ] || continue
	want "$(basename "$t")" || continue
	run_one "$(basename "$t")" "" "$t"
done
for t in tests/*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	case $name in lib|run) continue;; esac
	want "$name" || continue
	backends=$(sed -n 's/^# Backends: *//p' "$t" | head -1)
	[ -n "$DSM_BACKENDS" ] && [ -n "$backends" ] && backends=$DSM_BACKENDS
	if [ -n "$backends" ]; then
		for b in $backends; do run_one "$name" "$b" sh "$t"; done
	else
		run_one "$name" "" sh "$t"
	fi
done
[ -n "$failed" ] && printf 'failed:%s\n' "$failed"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ] && [ $n -gt 0 ]
