# Helpers for the launcher tests (tests/launcher_*.sh); source after lib.sh.
#
# Every job a test starts runs with DSM_TEST_TAG=<unique> in dsmexec's
# environment: local dsmwraps and ranks inherit it and remote ranks get it
# as a DSM_* variable, so a scan of /proc finds whatever a job left behind.
PROG=$TBIN/launcher_prog
TAG="lt.$$.$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')"
[ -x "$BIN/dsmexec" ] && [ -x "$BIN/dsmwrap" ] && [ -x "$PROG" ] || fail "build first: make tests"

# run_job OUT ERR dsmexec-args...: run a job, set $rc.  The outer timeout is
# only a safety net against a hung launcher.
run_job() {
	_out=$1 _err=$2
	shift 2
	rc=0
	DSM_TEST_TAG=$TAG timeout -k 5 60 "$BIN/dsmexec" "$@" >"$_out" 2>"$_err" || rc=$?
}

# Processes of this test's jobs still alive: tagged environment, or $TMP on
# the command line (remote dsmwraps run from a link under $TMP).
job_procs() {
	{
		grep -lzx "DSM_TEST_TAG=$TAG" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3
		pgrep -f -- "$TMP/" || true
	} | grep -v -x -e "$$" -e "${SSHD_PID:-$$}" | sort -u
}

# Nothing of this test's jobs may be left.  Waits up to 5 s for processes
# that are already dying (a remote sshd session closing, say).
expect_no_job_left() {
	_i=0
	while [ $_i -lt 50 ]; do
		_left=$(job_procs)
		[ -z "$_left" ] && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	ps -o pid,ppid,pgid,stat,args -p $(echo $_left | tr ' ' ',') || true
	kill -9 $_left 2>/dev/null
	fail "${1:-job}: processes left behind"
}

# wait_for PATH...: until every file exists (at most 30 s).
wait_for() {
	for _f in "$@"; do
		_i=0
		while [ ! -e "$_f" ]; do
			[ $_i -lt 300 ] || fail "gave up waiting for $_f"
			sleep 0.1
			_i=$((_i + 1))
		done
	done
}

# expect_rc WANT WHAT: the last run_job's exit status.
expect_rc() {
	[ "$rc" = "$1" ] || {
		echo "--- stdout:"; cat "$_out"; echo "--- stderr:"; cat "$_err"
		fail "$2: exit status $rc, expected $1"
	}
}

# start_sshd [HIDE]: a private sshd for this test on 127.0.0.2-4 at a free
# port, with its own host key and a user key; sets DSM_SSH so dsmexec uses
# them.  Skips when sshd is not installed or cannot run here.  With HIDE (a
# directory), sessions see an empty HIDE when a mount namespace is allowed
# here (SSHD_HIDES=1): a directory that exists only on "this" host.
start_sshd() {
	SSHD_HIDES=0
	if [ -n "${1:-}" ] && unshare -m sh -c "mount -t tmpfs dsmtest '$1'" 2>/dev/null; then
		SSHD_HIDES=1
	fi
	SSHD=$(command -v sshd 2>/dev/null || echo /usr/sbin/sshd)
	[ -x "$SSHD" ] || skip "sshd not installed (Debian: apt-get install openssh-server)"
	command -v ssh >/dev/null && command -v ssh-keygen >/dev/null || skip "ssh client not installed"
	[ -d /run/sshd ] || mkdir -p /run/sshd 2>/dev/null || true
	SD=$TMP/sshd
	mkdir -p "$SD" && chmod 700 "$SD"
	ssh-keygen -q -t ed25519 -N '' -f "$SD/host_key" || skip "ssh-keygen failed"
	ssh-keygen -q -t ed25519 -N '' -f "$SD/user_key" || skip "ssh-keygen failed"
	cp "$SD/user_key.pub" "$SD/authorized_keys"
	SSHD_PID=
	trap 'stop_sshd; rm -rf "$TMP"' EXIT
	for _try in 1 2 3 4 5 6 7 8; do
		SSHD_PORT=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000))
		cat >"$SD/sshd_config" <<-EOC
		Port $SSHD_PORT
		ListenAddress 127.0.0.2
		ListenAddress 127.0.0.3
		ListenAddress 127.0.0.4
		HostKey $SD/host_key
		AuthorizedKeysFile $SD/authorized_keys
		PermitRootLogin yes
		StrictModes no
		PubkeyAuthentication yes
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		UsePAM no
		PidFile none
		LogLevel ERROR
		EOC
		cat >"$SD/ssh_config" <<-EOC
		Host *
		  Port $SSHD_PORT
		  User $(id -un)
		  IdentityFile $SD/user_key
		  IdentitiesOnly yes
		  StrictHostKeyChecking no
		  UserKnownHostsFile /dev/null
		  BatchMode yes
		  LogLevel ERROR
		  ConnectTimeout 10
		EOC
		: >"$SD/sshd.log"
		if [ $SSHD_HIDES = 1 ]; then
			unshare -m sh -c 'mount -t tmpfs dsmtest "$1" && exec "$2" -D -e -f "$3"' sh \
				"$1" "$SSHD" "$SD/sshd_config" 2>"$SD/sshd.log" &
		else
			"$SSHD" -D -e -f "$SD/sshd_config" 2>"$SD/sshd.log" &
		fi
		SSHD_PID=$!
		_i=0
		while [ $_i -lt 50 ]; do
			kill -0 $SSHD_PID 2>/dev/null || break
			grep -q "Bind to port" "$SD/sshd.log" && break
			if ssh -F "$SD/ssh_config" 127.0.0.2 true 2>/dev/null &&
			   ssh -F "$SD/ssh_config" 127.0.0.3 true 2>/dev/null &&
			   ssh -F "$SD/ssh_config" 127.0.0.4 true 2>/dev/null; then
				export DSM_SSH="ssh -F $SD/ssh_config"
				return 0
			fi
			sleep 0.1
			_i=$((_i + 1))
		done
		stop_sshd
		grep -q "Bind to port" "$SD/sshd.log" || break  # not a busy port: give up
	done
	skip "cannot run sshd here: $(tail -n 1 "$SD/sshd.log" 2>/dev/null)"
}

stop_sshd() {
	[ -n "${SSHD_PID:-}" ] || return 0
	kill $SSHD_PID 2>/dev/null
	wait $SSHD_PID 2>/dev/null
	SSHD_PID=
}
