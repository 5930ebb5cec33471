#!/bin/sh
# Description: a checkpoint that does not fit is refused at dsm_init with a
# message that says why - another number of ranks, another DSM_SIZE, DSM_BASE
# or DSM_HOME; a damaged file (a flipped byte, a truncated file, a damaged
# MANIFEST, a missing file, a FIFO or a link to /dev/zero in a file's place)
# is refused naming the file; so is a directory without a checkpoint.  The
# files are 0600 in 0700 directories.  No rank runs the program's work in any
# of them.
# Backends: uffd sigsegv
# Timeout: 150
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"
D=$BIN/ckpt_demo
[ -x "$BIN/dsmexec" ] && [ -x "$D" ] || fail "build first: make"
args="-s 20 -k 10 -c 30000"
export DSM_SIZE=64M
ck=$TMP/ck
run_job "$TMP/out" -n 3 "$D" $args "$ck"
[ $rc -eq 0 ] || { cat "$TMP/out"; fail "the job that writes the checkpoint exited $rc"; }
gen=$ck/$(readlink "$ck/current")

# refused NAME PATTERN [dsmexec args...]: the restart must fail with PATTERN.
refused() {
	what=$1 pat=$2
	shift 2
	run_job "$TMP/out" "$@" "$D" $args "$TMP/unused"
	cat "$TMP/out"
	[ $rc -ne 0 ] || fail "$what: the restart was not refused"
	expect_grep "$pat" "$TMP/out" "$what: the reason"
	! grep -q "resumed\|result" "$TMP/out" || fail "$what: the program ran"
}

refused "2 ranks" "cannot restore this job: it was taken by a job of 3 ranks, this job has 2" \
	-n 2 --restart "$ck"
refused "4 ranks" "it was taken by a job of 3 ranks, this job has 4" -n 4 --restart "$ck"
DSM_SIZE=128M refused "DSM_SIZE" "its region is 67108864 bytes, this job's 134217728 (DSM_SIZE)" \
	-n 3 --restart "$ck"
# (the default base differs under ThreadSanitizer: take the one it used)
base=$(sed -n 's/^base //p' "$gen/MANIFEST")
other=$(printf '%#x' $((base + 0x1000000000)))
DSM_BASE=$other refused "DSM_BASE" "its region starts at $base, this job's at $other (DSM_BASE)" \
	-n 3 --restart "$ck"
DSM_HOME=block refused "DSM_HOME" "its page homes are cyclic, this job's block (DSM_HOME)" -n 3 --restart "$ck"
DSM_SIZE=128M refused "2 things" "3 ranks, this job has 2 (dsmexec -n); its region is 67108864 bytes" \
	-n 2 --restart "$ck"

mkdir "$TMP/empty"
refused "no checkpoint" "DSM_RESTART=.*/empty: no checkpoint there" -n 3 --restart "$TMP/empty"

# damage COPY-NAME COMMAND: a copy of the checkpoint, damaged by COMMAND run in its generation.
damage() {
	rm -rf "$TMP/bad" && cp -a "$ck" "$TMP/bad" && (cd "$TMP/bad/$(readlink "$ck/current")" && eval "$1")
}
damage 'printf "\377" | dd of=rank.1.pages bs=1 seek=5000 conv=notrunc 2>/dev/null'
refused "a flipped byte" "rank.1.pages: its checksum does not match the MANIFEST: the file is corrupt" \
	-n 3 --restart "$TMP/bad"
damage 'truncate -s -100 rank.2.pages'
refused "a truncated file" "rank.2.pages: .* bytes, the MANIFEST says .*: the file is truncated" \
	-n 3 --restart "$TMP/bad"
damage 'sed -i "s/^ranks 3/ranks 2/" MANIFEST'
refused "a damaged MANIFEST" "MANIFEST: its checksum does not match its contents: the file is corrupt" \
	-n 3 --restart "$TMP/bad"
damage 'head -c 200 MANIFEST > M && mv M MANIFEST'
refused "a truncated MANIFEST" "MANIFEST: truncated or not a dsm checkpoint MANIFEST" -n 3 --restart "$TMP/bad"
damage 'rm heap'
refused "a missing heap" "/heap: No such file or directory" -n 3 --restart "$TMP/bad"
damage 'printf "\377" | dd of=heap bs=1 seek=20 conv=notrunc 2>/dev/null'
refused "a damaged heap" "/heap: its checksum does not match the MANIFEST" -n 3 --restart "$TMP/bad"
# Only regular files are read: a FIFO would block open(2) forever, a link to
# /dev/zero would be hashed without end.  Each is refused naming the file.
damage 'rm rank.1.pages && mkfifo rank.1.pages'
refused "a FIFO" "rank.1.pages: not a regular file (a FIFO): refused" -n 3 --restart "$TMP/bad"
damage 'rm rank.2.pages && ln -s /dev/zero rank.2.pages'
refused "a link to /dev/zero" "rank.2.pages: a symbolic link, not a checkpoint file: refused" \
	-n 3 --restart "$TMP/bad"
damage 'rm MANIFEST && mkfifo MANIFEST'
refused "a FIFO MANIFEST" "MANIFEST: not a regular file (a FIFO): refused" -n 3 --restart "$TMP/bad"
damage 'rm heap && ln -s /dev/zero heap'
refused "a heap linked to /dev/zero" "/heap: a symbolic link, not a checkpoint file: refused" \
	-n 3 --restart "$TMP/bad"

# The job's memory is the user's alone: files 0600, directories 0700.
expect_eq "$(stat -c %a "$ck")" 700 "the checkpoint directory's mode"
expect_eq "$(stat -c %a "$gen")" 700 "the generation directory's mode"
for f in "$gen"/*; do
	expect_eq "$(stat -c %a "$f")" 600 "$(basename "$f")'s mode"
done

# The launcher refuses what is not a directory, before it starts anything.
"$BIN/dsmexec" -n 1 --restart "$TMP/nothing" "$D" "$ck" >"$TMP/out" 2>&1
rc=$?
cat "$TMP/out"
expect_eq $rc 2 "dsmexec --restart of a missing directory: exit status"
expect_grep "^dsmexec: --restart .*/nothing: No such file or directory" "$TMP/out" "dsmexec's message"

# The checkpoint itself is still good.
run_job "$TMP/out" -n 3 --restart "$ck" "$D" $args "$TMP/unused"
cat "$TMP/out"
[ $rc -eq 0 ] || fail "the undamaged checkpoint was refused"
expect_grep "resumed from the checkpoint after step 10" "$TMP/out" "the undamaged checkpoint"
exit 0
