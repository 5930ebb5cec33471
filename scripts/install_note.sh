#!/bin/sh
# install_note.sh PREFIX SYSTEM DESTDIR - the end of `make install`: what the
# user still has to do for the installed dsm to be found.
#
# A system prefix (SYSTEM = "system": pkg-config searches its pkgconfig
# directory by default) needs ld.so's cache refreshed: ldconfig, as root.
# Any other prefix: programs find libdsm through their rpath, but the shell,
# pkg-config and man do not look there: print the lines to add, only those
# the current environment lacks.  A staged install (DESTDIR) is a packager's:
# nothing to say.
prefix=$1 system=$2 destdir=$3

[ -z "$destdir" ] || exit 0
if [ "$system" = system ]; then
	if [ "$(id -u)" = 0 ] && command -v ldconfig >/dev/null 2>&1; then
		ldconfig || echo "dsm: ldconfig failed: run it as root so that programs find libdsm.so.0"
	else
		echo "dsm: run ldconfig as root so that programs find $prefix/lib/libdsm.so.0"
	fi
	exit 0
fi

lines=''
case ":$PATH:" in
*":$prefix/bin:"*) ;;
*) lines="$lines    export PATH=\"$prefix/bin:\$PATH\"
" ;;
esac
if [ "$(pkg-config --variable=prefix dsm 2>/dev/null)" != "$prefix" ]; then
	lines="$lines    export PKG_CONFIG_PATH=\"$prefix/lib/pkgconfig\${PKG_CONFIG_PATH:+:\$PKG_CONFIG_PATH}\"
"
fi
if [ "$(man -w dsmexec 2>/dev/null)" != "$prefix/share/man/man1/dsmexec.1" ]; then
	lines="$lines    export MANPATH=\"$prefix/share/man:\${MANPATH:-}\"
"
fi
[ -n "$lines" ] || exit 0
cat <<EOF

dsm is installed in $prefix, where the system does not look by itself.
Add these lines to your shell's startup file (~/.profile, ~/.bashrc):

$lines
Programs built with \`pkg-config --cflags --libs dsm\` or with dsmcc find
libdsm.so.0 through the rpath they carry: no LD_LIBRARY_PATH is needed.
EOF
