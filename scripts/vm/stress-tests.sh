#!/bin/sh
# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0
#
# stress-tests.sh stress|fuzz: run /selftests/shmdev_stress or
# /selftests/shmdev_fuzz as root in the VM for the time knobs.sh sets
# (SHMDEV_STRESS_SECS, SHMDEV_FUZZ_SECS), under a timeout. Each program
# prints TAP with kselftest totals and its seed; this adds the kernel kind
# and, if the program did not print totals (it crashed or hung), a failing
# totals line of its own.

# shellcheck source=scripts/vm/knobs.sh
. "$(dirname "$0")/knobs.sh"

what=${1:-stress}
case $what in
stress)
	prog=/selftests/shmdev_stress
	secs=$SHMDEV_STRESS_SECS
	set -- --secs "$secs" --procs "$SHMDEV_STRESS_PROCS"
	;;
fuzz)
	prog=/selftests/shmdev_fuzz
	secs=$SHMDEV_FUZZ_SECS
	set -- --secs "$secs" --threads "$SHMDEV_FUZZ_THREADS"
	;;
*)
	echo "usage: $0 stress|fuzz" >&2
	exit 2
	;;
esac

echo "# $what on a $SHMDEV_KERNEL_KIND kernel ($(uname -r)) for $secs s"
if [ ! -x "$prog" ]; then
	echo "TAP version 13"
	echo "1..1"
	echo "not ok 1 - $what # $prog is not built"
	echo "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0"
	exit 1
fi
start=$(date +%s)
export SHMDEV_FUZZ_SETTLE_SECS=$SHMDEV_SETTLE_SECS
export SHMDEV_STRESS_SETTLE_SECS=$SHMDEV_SETTLE_SECS
# The run, the wait for its workers and the page count to settle, and slack.
timeout $((secs + SHMDEV_SETTLE_SECS + 120)) "$prog" "$@" >"/tmp/$what.out" 2>&1
rc=$?
cat "/tmp/$what.out"
echo "# $what: exit status $rc after $(($(date +%s) - start)) s"
if ! grep -q '# Totals:' "/tmp/$what.out"; then
	echo "not ok 1 - $what # no result (timeout or crash, status $rc)"
	echo "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0"
	exit 1
fi
exit "$rc"
