#!/bin/sh
# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0
#
# Payload of vm-check.sh, run by /init as root after insmod: the selftests
# as root and as an unprivileged user, the library and shmdev-ctl tests,
# the ring and sync tests on shmdev segments, the demo, stress, fuzzing,
# lifecycle and exhaustion tests, then the rig's own lifecycle tests.
# Each section ends with "SHMDEV-VM-STATUS <nonce> <section> <exit status>".

nonce=${SHMDEV_NONCE:-none}

status() {
	echo "SHMDEV-VM-STATUS $nonce $1 $2"
}

echo "# shmdev-vm: make -C /selftests run_tests as root"
make -C /selftests run_tests
status selftests-root $?

echo "# shmdev-vm: make -C /selftests run_tests as tester (uid 1000)"
su -s /bin/sh tester -c 'make -C /selftests run_tests'
status selftests-tester $?

echo "# shmdev-vm: libshmdev and shmdev-ctl tests"
sh /libtests/run.sh
status libtests $?

echo "# shmdev-vm: ring and sync tests on shmdev segments"
(
	# shellcheck source=knobs.sh
	. /rig/knobs.sh
	[ -z "${SHMDEV_TEST_MESSAGES:-}" ] || export SHMDEV_TEST_MESSAGES
	export SHMDEV_TEST_BACKEND=shmdev
	rc=0
	for prog in sync_test ring_test; do
		"/ringsync/$prog" || rc=1
	done
	exit $rc
)
status ringsync $?

# The README's demo (make demo), as one TAP test.
demo() {
	local out

	echo "TAP version 13"
	echo "1..1"
	if out=$(sh /opt/demo.sh 2>&1); then
		printf '%s\n' "$out" | sed 's/^/# /'
		echo "ok 1 - demo_ring_table_fdpass"
		echo "# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0"
		return 0
	fi
	printf '%s\n' "$out" | sed 's/^/# /'
	echo "not ok 1 - demo_ring_table_fdpass"
	echo "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0"
	return 1
}

echo "# shmdev-vm: the demo"
demo
status demo $?

# Stress, fuzzing, lifecycle and exhaustion (issue 6); durations and
# debug-kernel scaling in vm/knobs.sh. Before the rig tests, which end
# with the module unloaded.
echo "# shmdev-vm: stress"
sh /rig/stress-tests.sh stress
status stress $?

echo "# shmdev-vm: ioctl and mmap fuzzing"
sh /rig/stress-tests.sh fuzz
status fuzz $?

echo "# shmdev-vm: lifecycle and exhaustion"
sh /rig/lifecycle-tests.sh
status lifecycle $?

echo "# shmdev-vm: rig tests"
sh /rig/rig-tests.sh
status rig $?
