# Helpers for the security tests (tests/security_*.sh), whose jobs are
# hostile victim's 3 ranks: each writes its pid to DIR/pid.R, rank 0 its
# rounds to DIR/progress, and all end their work once DIR/stop exists.
# Source after lib.sh.
H=$TBIN/hostile
[ -x "$H" ] || fail "build first: make tests"

# wait_ranks DIR OUT PID [FILE [EARLY]]: until the 3 ranks wrote their pid
# files, and DIR/FILE when given (at most 30 s), unless the job (PID, its
# output in OUT) ends first: that fails with EARLY.
wait_ranks() {
	_i=0
	until [ -s "$1/pid.0" ] && [ -s "$1/pid.1" ] && [ -s "$1/pid.2" ] && { [ -z "${4:-}" ] || [ -s "$1/$4" ]; }; do
		kill -0 "$3" 2>/dev/null || { cat "$2"; fail "${5:-the job ended early}"; }
		[ $_i -lt 300 ] || { cat "$2"; fail "the job did not start within 30 s"; }
		sleep 0.1
		_i=$((_i + 1))
	done
}

# start_by_hand DIR HOST LIMIT ROUNDS VAR=VALUE...: a job of 3 ranks started
# without a launcher, each under a LIMIT s timeout, with the secret
# $TMP/secret, the variables given and the rendezvous at HOST:$rport, a port
# below the ephemeral range (another one if that one is taken).  Sets $pids;
# rank R's output is in $TMP/hand.R.
start_by_hand() {
	_dir=$1 _host=$2 _limit=$3 _rounds=$4
	shift 4
	try=0
	while :; do
		rport=$((20000 + ($$ + try * 7919) % 12000))
		pids=
		for r in 0 1 2; do
			env DSM_RANK=$r DSM_NRANKS=3 DSM_ROOT=$_host:$rport DSM_SECRET_FILE="$TMP/secret" "$@" \
				DSM_TIMEOUT=20 DSM_LOG=warn timeout -k 5 $_limit "$H" victim "$_dir" $_rounds \
				>"$TMP/hand.$r" 2>&1 &
			pids="$pids $!"
		done
		sleep 0.5
		grep -q "cannot listen on $_host:$rport" "$TMP/hand.0" && [ $try -lt 3 ] || break
		kill $pids 2>/dev/null
		wait $pids 2>/dev/null
		rm -f "$_dir"/*
		try=$((try + 1))
	done
}

# expect_loopback_refused R PORT: rank R's port PORT refuses a connection on
# 127.0.0.1.
expect_loopback_refused() {
	rc=0
	"$H" 127.0.0.1 "$2" garbage >"$TMP/other" 2>&1 || rc=$?
	cat "$TMP/other"
	expect_eq "$rc" 2 "hostile's status connecting to rank $1's port on 127.0.0.1"
	expect_grep "cannot connect to 127.0.0.1:$2: Connection refused" "$TMP/other" "rank $1's port on 127.0.0.1"
}

# expect_job_done DIR PID OUT WHAT: the job (PID, its output in OUT) stopped
# through DIR/stop exits with status 0, its 3 ranks' checks passed.
expect_job_done() {
	touch "$1/stop"
	rc=0
	wait $2 || rc=$?
	cat "$3"
	[ $rc -eq 0 ] || fail "$4 exited with status $rc"
	expect_eq "$(grep -c "hostile victim: rank [0-2]: .*: ok\$" "$3")" 3 "ranks of $4 that checked ok"
}

# wait_by_hand WHAT: wait for start_by_hand's ranks, in rank order; each
# one's output is shown, and each must exit with status 0 ("rank R WHAT").
wait_by_hand() {
	_what=$1
	set -- $pids
	for r in 0 1 2; do
		rc=0
		wait $1 || rc=$?
		shift
		echo "--- rank $r (started by hand):"
		cat "$TMP/hand.$r"
		[ $rc -eq 0 ] || fail "rank $r $_what exited with status $rc"
	done
}
