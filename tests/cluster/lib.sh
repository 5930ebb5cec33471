# Helpers for the cluster tests (tests/cluster_*.sh): jobs started by another
# launcher than dsmexec.  Source after lib.sh, then call tag_jobs NAME.
#
# Every process of a test's jobs carries DSM_TEST_TAG=$TAG in its
# environment; none may outlive its job.

# Rank, size, rendezvous and secret come from the launcher, never from the
# caller's environment.
unset DSM_RANK DSM_NRANKS DSM_LOCAL_RANK DSM_ROOT DSM_RENDEZVOUS DSM_SECRET_FD DSM_SECRET_FILE DSM_JOB_ID \
	DSM_HOST DSM_INSECURE DSM_PMIX DSM_LAUNCHER DSM_LOG

# unset_slurm_env: no variable of a Slurm the machine may have; the test
# sets its own.
unset_slurm_env() {
	for v in $(env | sed -n 's/^\(SLURM[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
}

# tag_jobs NAME: a tag of this run's own for its jobs, and cleanup as the
# EXIT trap.
tag_jobs() {
	TAG="$1.$$.$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')"
	trap cleanup EXIT
}
left_behind() {
	grep -lzx "DSM_TEST_TAG=$TAG" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 | grep -v -x "$$"
}
kill_left_behind() {
	for p in $(left_behind); do kill -KILL "$p" 2>/dev/null; done
}
# cleanup: a test with more to stop (daemons) defines its own.
cleanup() {
	kill_left_behind
	rm -rf "$TMP"
}

# expect_none_left WHAT: nothing of this test's jobs left, after up to
# LEFT_WAIT tenths of a second for what is already dying.
LEFT_WAIT=50
expect_none_left() {
	i=0
	while [ -n "$(left_behind)" ] && [ $i -lt $LEFT_WAIT ]; do sleep 0.1; i=$((i + 1)); done
	left=$(left_behind | tr '\n' ' ')
	[ -z "$left" ] || { ps -o pid,args -p "$(echo $left | tr ' ' ,)"; fail "$1: processes left behind: $left"; }
}

job() { # OUT VAR=VALUE... COMMAND...: run a job; sets $rc and $secs
	_out=$1
	shift
	rc=0
	_start=$(date +%s)
	env DSM_TEST_TAG="$TAG" "$@" >"$_out" 2>&1 </dev/null || rc=$?
	secs=$(($(date +%s) - _start))
	cat "$_out"
}

# make_secret: $TMP/secret, a job secret only this user can read.
make_secret() {
	head -c 64 /dev/urandom >"$TMP/secret"
	chmod 600 "$TMP/secret"
}

# suppress_pmix_leaks: under LeakSanitizer, libpmix keeps a few bytes of its
# own to the end.
suppress_pmix_leaks() {
	echo "leak:libpmix.so" >"$TMP/lsan.supp"
	export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$TMP/lsan.supp"
}

# expect_job_stopped WHAT LAUNCHER UNIT COMMAND...: LAUNCHER ($pid, in the
# background, its output in $TMP/out) runs cluster_wait on 4 ranks; once they
# are ready, COMMAND (the scheduler's kill) must end LAUNCHER within 15 s,
# with a failure status and no UNIT going on.
expect_job_stopped() {
	_what=$1 _launcher=$2 _unit=$3
	shift 3
	i=0
	while [ "$(grep -c 'cluster_wait: rank .* ready' "$TMP/out")" -lt 4 ] && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ $i -lt 300 ] || { kill -KILL $pid; cat "$TMP/out"; fail "$_what: the job did not start"; }
	"$@"
	i=0
	while kill -0 $pid 2>/dev/null && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
	if kill -0 $pid 2>/dev/null; then
		kill -KILL $pid
		cat "$TMP/out"
		fail "$_what: $_launcher still runs 15 s after it"
	fi
	rc=0
	wait $pid || rc=$?
	cat "$TMP/out"
	[ $rc -ne 0 ] || fail "$_what: $_launcher exited 0"
	! grep -q survived "$TMP/out" || fail "$_what: a $_unit went on"
}
