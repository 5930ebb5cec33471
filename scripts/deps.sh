#!/bin/sh
# Check that the libraries dsm builds against are installed.  As root on
# Debian/Ubuntu, install what is missing; otherwise print the command to run.
missing=""
have() { printf '#include <%s>\n' "$1" | ${CC:-cc} -E -x c - >/dev/null 2>&1; }
have sodium.h || missing="$missing libsodium-dev"
have lz4.h || missing="$missing liblz4-dev"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq $missing >/dev/null || {
		echo "deps: apt-get install$missing failed" >&2; exit 1; }
	exit 0
fi
echo "deps: missing libraries:$missing" >&2
echo "deps: run:  sudo apt-get install -y$missing" >&2
exit 1
