#!/bin/sh
# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0
#
# Runs the libshmdev and shmdev-ctl tests: libshmdev_test as root and as
# user tester (uid 1000) when it exists, then ctl_test.sh as root. Each
# section prints TAP with a kselftest "# Totals:" line.
#
# The programs come from the directory of this script, or from
# $LIBTESTS_DIR, or from /libtests (as in the test VM, where this script
# runs as /run.sh): libshmdev_test, ctl_test.sh, shmdev-ctl and
# libshmdev.so.1 (shmdev-ctl is linked against it; LD_LIBRARY_PATH points
# there).
#
# Exit status: 0 if no section failed (a section that skips as a whole,
# exit 4, does not fail), 1 otherwise.

dir=${LIBTESTS_DIR:-$(dirname "$0")}
[ -x "$dir/libshmdev_test" ] || dir=/libtests
if [ ! -x "$dir/libshmdev_test" ]; then
	echo "Bail out! libshmdev_test not found (set LIBTESTS_DIR)"
	exit 1
fi
dir=$(cd "$dir" && pwd)
export LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
rc=0

section() {
	ret=$1
	if [ "$ret" -ne 0 ] && [ "$ret" -ne 4 ]; then
		rc=1
	fi
}

echo "# libtests: libshmdev_test as $(id -un 2>/dev/null || id -u)"
"$dir/libshmdev_test"
section $?

if [ "$(id -u)" -eq 0 ] && id tester >/dev/null 2>&1; then
	echo "# libtests: libshmdev_test as tester"
	su -s /bin/sh tester -c "cd /tmp && '$dir/libshmdev_test'"
	section $?
fi

echo "# libtests: ctl_test.sh"
CTL="$dir/shmdev-ctl" sh "$dir/ctl_test.sh"
section $?

exit $rc
