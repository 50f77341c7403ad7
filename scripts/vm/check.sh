#!/bin/sh
# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0
#
# Payload of vm-check.sh, run by /init as root after insmod: the selftests
# as root and as an unprivileged user, then the rig's own lifecycle tests.
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

echo "# shmdev-vm: rig tests"
sh /rig/rig-tests.sh
status rig $?
