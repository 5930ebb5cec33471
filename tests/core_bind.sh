# Description: DSM_BIND: with several ranks on a host each rank's threads
# (the service thread's too) run on its own share of the CPUs the job may
# use.  On two CPUs A and B (taskset): 2 ranks get A and B, 4 ranks A, B,
# A, B; 1 rank and DSM_BIND=off keep both; a job narrowed to one CPU keeps
# it; 2 ranks on 4 CPUs get 2 each (when the machine has 4).
# Timeout: 120
. "$DSM_TOP/tests/lib.sh"

P=$TBIN/bind_probe
[ -x "$P" ] || fail "build first: make tests"
command -v taskset >/dev/null || skip "no taskset"
# The CPUs this test may use, one per line.
taskset -pc $$ | sed 's/.*: //' | tr ',' '\n' |
	awk -F- '{ if (NF == 2) for (c = $1; c <= $2; c++) print c; else print $1 }' >"$TMP/cpus"
[ "$(wc -l <"$TMP/cpus")" -ge 2 ] || skip "one CPU: nothing to share"
A=$(sed -n 1p "$TMP/cpus")
B=$(sed -n 2p "$TMP/cpus")

# job TASKSET-LIST N [VAR=VALUE]: run bind_probe on N ranks within the CPUs.
job() {
	list=$1 n=$2
	shift 2
	env "$@" taskset -c "$list" "$DSM_TOP/bin/dsmexec" -n "$n" "$P" >"$TMP/o" 2>&1 ||
		{ cat "$TMP/o"; fail "$n ranks on CPUs $list $*: exit status $?"; }
	! grep "threads disagree" "$TMP/o" || fail "$n ranks on CPUs $list $*: a rank's threads run on different CPUs"
}
cpus_of() { sed -n "s/^\[$1\] bind rank $1: //p" "$TMP/o"; }

job "$A,$B" 2
cat "$TMP/o"
expect_eq "$(cpus_of 0)" "$A" "2 ranks on CPUs $A,$B: rank 0"
expect_eq "$(cpus_of 1)" "$B" "2 ranks on CPUs $A,$B: rank 1"

job "$A,$B" 4
for r in 0 1 2 3; do
	[ $((r % 2)) = 0 ] && want=$A || want=$B
	expect_eq "$(cpus_of $r)" "$want" "4 ranks on CPUs $A,$B: rank $r"
done

job "$A,$B" 1
expect_eq "$(cpus_of 0)" "$A,$B" "1 rank on CPUs $A,$B"
job "$A,$B" 2 DSM_BIND=off
expect_eq "$(cpus_of 0)" "$A,$B" "DSM_BIND=off: rank 0"
expect_eq "$(cpus_of 1)" "$A,$B" "DSM_BIND=off: rank 1"
job "$A" 2
expect_eq "$(cpus_of 0)" "$A" "2 ranks on CPU $A alone: rank 0"
expect_eq "$(cpus_of 1)" "$A" "2 ranks on CPU $A alone: rank 1"

if [ "$(wc -l <"$TMP/cpus")" -ge 4 ]; then
	C=$(sed -n 3p "$TMP/cpus")
	D=$(sed -n 4p "$TMP/cpus")
	job "$A,$B,$C,$D" 2
	expect_eq "$(cpus_of 0)" "$A,$B" "2 ranks on 4 CPUs: rank 0"
	expect_eq "$(cpus_of 1)" "$C,$D" "2 ranks on 4 CPUs: rank 1"
fi
exit 0
