#!/bin/sh
# Description: jobs started by Open MPI's mpirun instead of dsmexec (the
# programs use no MPI: mpirun only starts them).  The stripe test on 4 ranks
# with rank and size from Open MPI's variables (DSM_PMIX=0) and a secret
# file, the lock counter with rank, size and secret from PMIx, both meeting
# at DSM_ROOT; a job meeting and sharing its secret through PMIx alone; a job
# without a secret, and one whose secret file others can read, refused with a
# message; a rank killed ends the job, named; mpirun's SIGTERM (a scheduler's
# kill) ends every rank; no process is left behind.
# Backends: uffd sigsegv
# Timeout: 150
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

command -v mpirun >/dev/null 2>&1 || skip "mpirun not found (Debian: apt-get install openmpi-bin)"
mpirun --version 2>&1 | grep -q "Open MPI" || skip "mpirun is not Open MPI's: $(mpirun --version 2>&1 | head -n 1)"
[ -x "$TBIN/stripe" ] && [ -x "$TBIN/cluster_wait" ] && [ -x "$BIN/counter" ] || fail "build first: make tests"

. "$DSM_TOP/tests/cluster/lib.sh"
tag_jobs ompi

# As root mpirun wants --allow-run-as-root; 4 ranks on fewer cores need
# --oversubscribe; plm isolated starts the ranks on this host (no ssh, no
# Slurm).  --tag-output prefixes each line with [job,rank].
MPIRUN="mpirun -n 4 --oversubscribe --mca plm isolated --tag-output"
[ "$(id -u)" = 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
# timeout --foreground: one SIGTERM to mpirun, which then ends its ranks (a
# second one, as a signal to the whole group sends, makes it leave them).
# job with DSM_ROOT on a port below the ephemeral range (32768-60999), another
# one if that one is taken.
mpi_root() {
	_o=$1
	shift
	try=0
	while :; do
		port=$((20000 + ($$ + try * 7919) % 12000))
		job "$_o" DSM_ROOT=127.0.0.1:$port "$@"
		grep -q "cannot listen on 127.0.0.1:$port" "$_o" && [ $try -lt 3 ] || break
		try=$((try + 1))
	done
}
RUN="timeout --foreground -k 5 60 $MPIRUN"

make_secret
suppress_pmix_leaks

# 1. stripe: rank and size from OMPI_COMM_WORLD_*, rendezvous at DSM_ROOT
mpi_root "$TMP/out" DSM_PMIX=0 DSM_LOG=info DSM_SECRET_FILE="$TMP/secret" $RUN "$TBIN/stripe" 8
[ $rc -eq 0 ] || fail "stripe, Open MPI variables: mpirun exit status $rc"
for r in 0 1 2 3; do
	expect_grep "^\[[0-9]*,$r\]<stdout>:stripe: rank $r checked 1048576 words x 2 rounds: ok$" "$TMP/out" \
		"stripe, Open MPI variables: Open MPI's rank $r is dsm rank $r, and ok"
done
expect_eq "$(grep -c 'started by Open MPI$' "$TMP/out")" 4 "stripe: ranks that found Open MPI's variables"
expect_none_left "stripe, Open MPI variables"

# 2. counter: rank, size and the secret from PMIx (where built in, else a
# secret file), rendezvous at DSM_ROOT
have_pmix=no
grep -a -q 'libpmix\.so\.2' "$DSM_TOP/lib/libdsm.a" && have_pmix=yes
secret=
[ $have_pmix = yes ] || secret="$TMP/secret"
mpi_root "$TMP/out" DSM_LOG=info DSM_SECRET_FILE="$secret" $RUN "$BIN/counter" 200
[ $rc -eq 0 ] || fail "counter: mpirun exit status $rc"
expect_grep "^\[[0-9]*,0\]<stdout>:counter: rank 0: 800 increments by 4 ranks, expected 800, 0 overlaps: OK$" \
	"$TMP/out" "counter on 4 ranks"
if [ $have_pmix = yes ]; then
	expect_eq "$(grep -c 'started by PMIx (Open MPI)$' "$TMP/out")" 4 "counter: ranks that found PMIx"
	expect_eq "$(grep -c 'job secret comes from rank 0 through PMIx' "$TMP/out")" 4 \
		"counter: ranks with PMIx's secret and DSM_ROOT's rendezvous"
fi
expect_none_left "counter"

# 3. PMIx alone: no DSM_ROOT, no secret file
job "$TMP/out" DSM_LOG=info $RUN "$TBIN/stripe" 2
if [ $have_pmix = yes ]; then
	[ $rc -eq 0 ] || fail "stripe through PMIx: mpirun exit status $rc"
	expect_eq "$(grep -c 'stripe: rank .* ok$' "$TMP/out")" 4 "stripe through PMIx: ranks ok"
	expect_eq "$(grep -c 'started by PMIx (Open MPI)$' "$TMP/out")" 4 "ranks that found PMIx"
	expect_eq "$(grep -c 'job secret comes from rank 0 through PMIx' "$TMP/out")" 4 "ranks with PMIx's secret"
else
	echo "(libdsm built without PMIx: the job must be refused)"
	[ $rc -ne 0 ] || fail "without PMIx, DSM_ROOT or a secret the job ran"
	expect_grep "nothing says where the job meets: set DSM_ROOT" "$TMP/out" "without PMIx and DSM_ROOT"
fi
expect_none_left "stripe through PMIx"

# 4. no secret (no file, no PMIx, no DSM_INSECURE): refused
mpi_root "$TMP/out" DSM_PMIX=0 $RUN "$TBIN/stripe" 2
[ $rc -ne 0 ] || fail "a job without a secret ran"
[ $secs -le 15 ] || fail "a job without a secret took $secs s to be refused (exit status $rc)"
expect_grep "no job secret for this job started by Open MPI: set DSM_SECRET_FILE" "$TMP/out" \
	"no secret: the message"
! grep -q "stripe: rank" "$TMP/out" || fail "a rank without a secret ran the test"
expect_none_left "no secret"

# 5. a secret file that others can read: refused
cp "$TMP/secret" "$TMP/open-secret"
chmod 644 "$TMP/open-secret"
mpi_root "$TMP/out" DSM_SECRET_FILE="$TMP/open-secret" $RUN "$TBIN/stripe" 2
[ $rc -ne 0 ] || fail "a job with a world-readable secret file ran"
expect_grep "DSM_SECRET_FILE=$TMP/open-secret: mode 0644 lets group or others at the job secret; refused" \
	"$TMP/out" "readable secret: the message"
expect_none_left "readable secret"

# 6. a rank killed (SIGKILL) ends the job, named
mpi_root "$TMP/out" DSM_SECRET_FILE="$TMP/secret" $RUN "$TBIN/killself" barrier
[ $rc -ne 0 ] || fail "killed rank: the job succeeded"
# (mpirun passes on the killed rank's status, 137, so the bound is the time)
[ $secs -le 15 ] || fail "killed rank: the job took $secs s to end (exit status $rc)"
expect_grep "killself: rank 1 dies" "$TMP/out" "killed rank: rank 1 reached its death"
expect_grep "rank 1 .*signal 9\|rank 1 closed its connection" "$TMP/out" "killed rank: rank 1 named"
! grep -q survived "$TMP/out" || fail "killed rank: a rank finished without rank 1"
expect_none_left "killed rank"

# 7. the scheduler's kill: SIGTERM to mpirun ends every rank
root=
[ $have_pmix = yes ] || root=127.0.0.1:$((20000 + ($$ + 4 * 7919) % 12000))
env DSM_TEST_TAG="$TAG" DSM_SECRET_FILE="$TMP/secret" DSM_ROOT="$root" $MPIRUN "$TBIN/cluster_wait" 60 \
	>"$TMP/out" 2>&1 </dev/null &
pid=$!
expect_job_stopped SIGTERM mpirun rank kill -TERM $pid
expect_none_left "SIGTERM to mpirun"
exit 0
