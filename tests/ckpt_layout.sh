# Description: a checkpoint records the layout of the program's DSM_SHARED
# variables (names, offsets, sizes, build id): the same program restarts from
# it, and so does a stripped copy of it (same build); a rebuild with one
# variable more is refused naming the variable, instead of loading the old
# values into the wrong variables.
# Backends: uffd sigsegv
# Timeout: 120
. "$DSM_TOP/tests/lib.sh"
P=$TBIN/ckpt_layout
[ -x "$P" ] && [ -x "$TBIN/ckpt_layout2" ] || fail "build first: make tests"
export DSM_SIZE=64M
cd "$TMP" || fail "no $TMP"
run_job out -n 2 "$P" ck
[ "$rc" = 0 ] || { cat out; fail "the job that writes the checkpoint exited $rc"; }
expect_grep "^var [0-9]* 8 steps_done$" ck/current/MANIFEST "the MANIFEST names steps_done"
expect_grep "^shared x [0-9a-f:]* 12288 ckpt_layout$" ck/current/MANIFEST "the MANIFEST names the program"

run_job out -n 2 --restart ck "$P" ck
[ "$rc" = 0 ] || { cat out; fail "restart of the same program exited $rc"; }
expect_grep "restored steps_done=7 total=42 left=0,0" out "the same program restores its variables"

run_job out -n 2 --restart ck "$TBIN/ckpt_layout2" ck
cat out
[ "$rc" != 0 ] || fail "a program with another layout was restarted"
expect_grep "cannot restore this program: DSM_SHARED variable 'balance' of the program (offset [0-9]*, 8 bytes) is not in the checkpoint" \
	out "the refusal names the new variable"
! grep -q "restored" out || fail "the program with another layout ran"

if command -v strip >/dev/null 2>&1; then
	cp "$P" stripped && strip stripped
	run_job out -n 2 --restart ck ./stripped ck
	[ "$rc" = 0 ] || { cat out; fail "restart of a stripped copy exited $rc"; }
	expect_grep "restored steps_done=7 total=42 left=0,0" out "a stripped copy of the same build restores"
fi
