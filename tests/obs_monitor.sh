#!/bin/sh
# Description: the live view in a real browser.  A 2-rank job over a 1 GiB
# region, pages in use from one end to the other, runs under dsmexec
# --monitor PORT; headless chromium loads the page while the job runs, and
# the DOM after the page's script ran must show the 2 ranks, the job
# running, a nonzero fault count, nonzero counts of release consistency's
# twins and diffs, a map of at most 1024 cells, and that the
# script fetched fresh data by itself.  The JSON behind it stays small
# whatever the region's size.  Then the job is stopped and must end cleanly.
# Backends: uffd sigsegv
# Timeout: 120
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

CHROME=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROME" ] || skip "chromium is not installed (apt-get install chromium)"

# chromium URL [extra options]: the DOM once the page's script has run
chrome() {
	url=$1
	shift
	udir=$(mktemp -d "$TMP/chrome.XXXXXX")
	timeout -k 5 60 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$udir" "$@" --dump-dom "$url" 2>"$TMP/chrome.err"
}

stop=$TMP/stop
job=""
cleanup() {
	touch "$stop"
	[ -n "$job" ] && kill "$job" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

# A port below the ephemeral range; another if it is taken.
for try in 1 2 3 4 5; do
	port=$((21000 + ($$ * 7 + try * 131) % 9000))
	rm -f "$stop"
	DSM_SIZE=1G timeout -k 5 100 "$BIN/dsmexec" -n 2 --monitor $port "$TBIN/obs_spin" "$stop" 64 \
		>"$TMP/job" 2>&1 &
	job=$!
	i=0
	while [ $i -lt 200 ] && ! grep -q "spin: started\|cannot listen" "$TMP/job"; do
		sleep 0.1
		i=$((i + 1))
	done
	grep -q "cannot listen" "$TMP/job" || break
	wait $job
	job=""
done
grep -q "spin: started" "$TMP/job" || { cat "$TMP/job"; fail "the job did not start"; }
sleep 1 # a snapshot or two

# The page, after its script ran and polled for 3 s of virtual time.
chrome "http://127.0.0.1:$port/" --virtual-time-budget=3000 >"$TMP/dom" ||
	{ cat "$TMP/chrome.err"; fail "chromium could not load the page"; }
val() { sed -n "s/.*id=\"$1\">\([^<]*\)<.*/\1/p" "$TMP/dom" | head -1; }
echo "nranks=$(val nranks) state=$(val state) faults=$(val totfaults) cells=$(val cells) polls=$(val polls)"
expect_eq "$(val nranks)" 2 "the rank count on the page"
expect_eq "$(val state)" running "the job's state on the page"
faults=$(val totfaults)
[ -n "$faults" ] && [ "$faults" -gt 0 ] || fail "the page shows no faults ('$faults')"
rf=$(val total-read_faults)
[ -n "$rf" ] && [ "$rf" -gt 0 ] || fail "the counters table shows no read faults ('$rf')"
# obs_spin's pages in the region's third quarter are release-consistent:
# written once, flushed as diffs at the barrier.
for c in twins diffs_sent diffs_applied; do
	v=$(val total-$c)
	[ -n "$v" ] && [ "$v" -gt 0 ] || fail "the counters table shows no release-consistent $c ('$v')"
done
cells=$(val cells)
[ -n "$cells" ] && [ "$cells" -gt 100 ] && [ "$cells" -le 1024 ] ||
	fail "the map has '$cells' cells, expected up to 1024 over the whole region"
polls=$(val polls)
[ -n "$polls" ] && [ "$polls" -ge 1 ] || fail "the page's script never fetched new data (polls '$polls')"

# The data for a 1 GiB region in use end to end: small, and quick.
chrome "http://127.0.0.1:$port/data.json" >"$TMP/json" || fail "chromium could not load /data.json"
size=$(wc -c <"$TMP/json")
echo "data.json: $size bytes"
[ "$size" -lt 200000 ] || fail "/data.json is $size bytes for a 1 GiB region"
expect_grep '"pages_per_cell":256' "$TMP/json" "1 GiB in 1024 cells of 256 pages"

touch "$stop"
wait $job
rc=$?
job=""
cat "$TMP/job"
expect_eq "$rc" 0 "the job's exit status"
expect_grep "spin: [0-9]* rounds" "$TMP/job" "the job's end"
if grep -q "$(printf '\036')" "$TMP/job"; then
	fail "a snapshot line reached the job's output"
fi
expect_no_leftovers "$TBIN/obs_spin"
expect_no_leftovers "$TMP/chrome"
exit 0
