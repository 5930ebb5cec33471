# Description: every DSM_* setting read in src/ and launcher/ refuses garbage,
# negatives and overflows with a message that names the variable (a typo
# never silently weakens anything); booleans take 0/1, yes/no, true/false,
# on/off in any case, so DSM_ENCRYPT=yes encrypts; DSM_FAULTS refuses nan and
# out-of-range values; DSM_BASE below 1 GiB is refused.
# Timeout: 240
. "$DSM_TOP/tests/lib.sh"

S=$TBIN/single
[ -x "$S" ] && [ -x "$BIN/counter" ] || fail "build first: make tests"
unset DSM_BACKEND_FORCED

# Not settings: the launcher's name (shown in messages only) and the local job
# size that dsmwrap exports for programs (the library does not read it).
not_settings="DSM_LAUNCHER DSM_LOCAL_SIZE"

# VAR VALUE...: each value, alone in the environment of a job of one rank,
# ends dsm_init with a message naming VAR and the value.
tested=""
refuse1() {
	var=$1; shift
	tested="$tested $var"
	for val in "$@"; do
		rc=0
		env "$var=$val" timeout -k 5 30 "$S" >"$TMP/o" 2>&1 || rc=$?
		[ $rc != 0 ] && [ $rc != 124 ] || { cat "$TMP/o"; fail "$var='$val': exit status $rc, expected a refusal"; }
		grep -qF -- "$var=$val" "$TMP/o" || { cat "$TMP/o"; fail "$var='$val': the message does not name it"; }
		grep -q "rank 0 of 1.*: ok" "$TMP/o" && fail "$var='$val': the job ran"
	done
}
# The same for rank 0 of a job of two started by hand (the variables read
# when joining a job); rank 1 is never started, so the refusal is at once.
refuse2() {
	var=$1; shift
	tested="$tested $var"
	for val in "$@"; do
		rc=0
		env DSM_INSECURE=1 DSM_RANK=0 DSM_NRANKS=2 DSM_ROOT=127.0.0.1:1 DSM_TIMEOUT=5 "$var=$val" \
			timeout -k 5 30 "$S" >"$TMP/o" 2>&1 || rc=$?
		[ $rc != 0 ] && [ $rc != 124 ] || { cat "$TMP/o"; fail "$var='$val' (2 ranks): exit status $rc"; }
		grep -qF -- "$var=$val" "$TMP/o" || { cat "$TMP/o"; fail "$var='$val' (2 ranks): not named"; }
	done
}

big=99999999999999999999999
refuse1 DSM_BACKEND garbage uffd-
refuse1 DSM_BASE 0x1000 4096 0 -1 " 0x200000000000" 0x200000000001 $big garbage
refuse1 DSM_SIZE -1 " -1" 0 4097 $big 1Q garbage
refuse1 DSM_HOME garbage blocky first-touchy first
refuse1 DSM_TIMEOUT 0 -1 $big garbage 1.5 " 5" infinity
refuse1 DSM_SPIN_US -1 $big garbage 1000001
refuse1 DSM_READAHEAD -1 $big garbage 4097 0x10
refuse1 DSM_MONITOR -1 $big garbage 60001
refuse1 DSM_RANK -1 $big garbage
refuse1 DSM_NRANKS 0 -1 $big garbage
refuse2 DSM_LOCAL_RANK -1 $big garbage
refuse1 DSM_ENCRYPT 2 -1 garbage yess 01 " 1"
refuse1 DSM_COMPRESSION 2 -1 garbage oui
refuse1 DSM_STATS 2 -1 garbage
refuse1 DSM_INSECURE 2 -1 garbage
refuse1 DSM_CONSISTENCY garbage releas " release" 1 sequentiall
refuse1 DSM_RC_HOMES garbage migrat " static" 1 statics
refuse1 DSM_RC_KEEP_OPEN garbage of " on" 1 0 yes
refuse1 DSM_SERVICE_PRIORITY garbage -20 " nice" fifo1
refuse1 DSM_BIND garbage core " auto" 1 offf
refuse1 DSM_DRIVE 2 -1 garbage yess " 1"
refuse1 DSM_PMIX 2 garbage
refuse1 DSM_FAULTS drop=nan drop=-nan drop=-0.1 drop=1.5 drop=inf dup=nan reorder=2 \
	"delay=1e308s..1e308s" "delay=nan..1ms" "delay=1ms..inf" "delay=-1ms..1ms" "delay=11s..12s" \
	"cut=0-0@1s" garbage
refuse1 DSM_RESTART /nonexistent-dir-for-dsm
refuse1 DSM_OBS_TOKEN garbage 0123 0123456789abcdef0123456789ABCDEF
refuse1 DSM_TRACE /nonexistent-dir-for-dsm/t
refuse1 DSM_CKPT_TEST_CRASH garbage mid-pages@0 mid-pages@-1 "mid-pages@$big"
tested="$tested DSM_TRACE_EPOCH"
for val in -1 0 garbage $big; do
	rc=0
	DSM_TRACE=$TMP/t DSM_TRACE_EPOCH=$val timeout -k 5 30 "$S" >"$TMP/o" 2>&1 || rc=$?
	[ $rc != 0 ] || { cat "$TMP/o"; fail "DSM_TRACE_EPOCH=$val accepted"; }
	expect_grep "DSM_TRACE_EPOCH=$val" "$TMP/o" "DSM_TRACE_EPOCH=$val named"
done
# The log level is no matter of safety: an unknown one is named and warn used.
tested="$tested DSM_LOG"
DSM_LOG=garbage timeout -k 5 30 "$S" >"$TMP/o" 2>&1
expect_grep "DSM_LOG=garbage: unknown level" "$TMP/o" "DSM_LOG named"

refuse2 DSM_SERVERS -1 2 $big garbage
refuse2 DSM_JOB_ID -1 garbage 0x 12345678901234567 " 1"
refuse2 DSM_SECRET_FD -1 garbage $big " 3"
refuse2 DSM_SECRET_FILE /nonexistent-file-for-dsm
refuse2 DSM_HOST 999.1.1.1
refuse2 DSM_ROOT garbage 127.0.0.1:99999 127.0.0.1:-1
tested="$tested DSM_RENDEZVOUS"
rc=0
DSM_INSECURE=1 DSM_RANK=0 DSM_NRANKS=2 DSM_RENDEZVOUS=garbage timeout -k 5 30 "$S" >"$TMP/o" 2>&1 || rc=$?
[ $rc != 0 ] || fail "DSM_RENDEZVOUS=garbage accepted"
expect_grep "DSM_RENDEZVOUS=garbage" "$TMP/o" "DSM_RENDEZVOUS named"

# dsmexec's own: DSM_SSH (for remote hosts) and DSM_STATS (it reads the report)
tested="$tested DSM_SSH"
echo otherhost.invalid >"$TMP/mf"
DSM_SSH=/nonexistent/ssh run_job "$TMP/o" -f "$TMP/mf" "$S"
[ "$rc" != 0 ] || fail "DSM_SSH=/nonexistent/ssh: the job ran"
expect_grep "DSM_SSH" "$TMP/o" "DSM_SSH named"
DSM_STATS=maybe run_job "$TMP/o" -n 2 "$BIN/counter" 10
[ "$rc" != 0 ] || fail "dsmexec with DSM_STATS=maybe: the job ran"
expect_grep "DSM_STATS=maybe" "$TMP/o" "dsmexec names DSM_STATS"

# Every DSM_ variable the sources read is in the table above.
for v in $(cd "$DSM_TOP" && grep -ohE '"DSM_[A-Z0-9_]+"' src/*.c launcher/*.c | tr -d '"' | sort -u); do
	case " $tested $not_settings " in
	*" $v "*) ;;
	*) fail "$v is read in src/ or launcher/ but this test does not try garbage in it";;
	esac
done

# The accepted spellings mean what they say.
DSM_STATS=YES run_job "$TMP/o" -n 2 "$BIN/counter" 10
[ "$rc" = 0 ] || { cat "$TMP/o"; fail "DSM_STATS=YES: exit status $rc"; }
expect_grep "^dsm stats: 2 ranks" "$TMP/o" "DSM_STATS=YES prints statistics"
DSM_STATS=Off DSM_COMPRESSION=no DSM_INSECURE=false DSM_PMIX=off run_job "$TMP/o" -n 2 "$BIN/counter" 10
[ "$rc" = 0 ] || { cat "$TMP/o"; fail "off spellings: exit status $rc"; }
if grep -q "^dsm stats" "$TMP/o"; then cat "$TMP/o"; fail "DSM_STATS=Off printed statistics"; fi
DSM_BASE=0x40000000 DSM_SIZE=64M timeout -k 5 30 "$S" 0x40000000 0x4000000 >"$TMP/o" 2>&1 ||
	{ cat "$TMP/o"; fail "DSM_BASE at the 1 GiB floor refused"; }

# DSM_ENCRYPT=yes encrypts: a rank with yes and a rank with 0 are told apart
# (refused as a mixed job), two ranks with yes/On give the exact result.
mixed_encrypt yes "$TMP/m"
expect_grep "set DSM_ENCRYPT=1 on every rank or on none" "$TMP/m" "DSM_ENCRYPT=yes encrypts"
DSM_ENCRYPT=On run_job "$TMP/o" -n 2 "$BIN/counter" 50
[ "$rc" = 0 ] || { cat "$TMP/o"; fail "DSM_ENCRYPT=On: exit status $rc"; }
expect_grep "expected 100, 0 overlaps: OK" "$TMP/o" "DSM_ENCRYPT=On counter"
echo "all DSM_* settings refuse garbage naming the variable"
