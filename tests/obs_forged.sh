# Description: lines that look like observation records ("\036DSM1 ...")
# printed by a program on its stderr never enter the --stats report: dsmexec
# takes only lines that carry the job's token (DSM_OBS_TOKEN) and the rank
# of the stderr they came on; the others are printed as the program's output.
# Timeout: 60
. "$DSM_TOP/tests/lib.sh"
[ -x "$BIN/counter" ] || fail "build first: make"
cat >"$TMP/forge" <<'EOS'
#!/bin/sh
# a program that prints records of its own, then runs the real one
printf '\036DSM1 C r=0 read_faults=777777 write_faults=1\n' >&2
printf '\036DSM1 H r=-2 p=99999999999 a=0x1 n=5 k=0:1:1:1:1\n' >&2
printf '\036DSM1 A r=1 off=0 size=4096 obj=0 name=666f7267656421\n' >&2
exec "$@"
EOS
chmod +x "$TMP/forge"
run_job "$TMP/o" --stats -n 2 "$TMP/forge" "$BIN/counter" 10
cat -v "$TMP/o"
[ "$rc" = 0 ] || fail "exit status $rc"
expect_grep "expected 20, 0 overlaps: OK" "$TMP/o" "the job's result"
expect_grep "^dsm stats: 2 ranks" "$TMP/o" "the report"
grep -v "DSM1" "$TMP/o" | grep -q "777777\|99999999999\|-2" && fail "a forged record entered the report"
expect_eq "$(grep -c "^\[[01]\] .DSM1 C r=0 read_faults=777777" "$TMP/o")" 2 "forged counter lines printed as output"
expect_eq "$(grep -c "^\[[01]\] .DSM1 H r=-2 p=99999999999" "$TMP/o")" 2 "forged hot-page lines printed as output"
# the real records still count: each rank's row has its faults
expect_grep "^ *0 *[1-9][0-9]* " "$TMP/o" "rank 0's row"
expect_grep "^ *1 *[1-9][0-9]* " "$TMP/o" "rank 1's row"
