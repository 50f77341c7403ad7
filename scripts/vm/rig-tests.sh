#!/bin/sh
# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0
#
# The rig's own tests of the module's lifecycle: what needs insmod/rmmod and
# therefore cannot live in the selftests. Run as root inside the VM after
# the selftests, with the module loaded. Output is TAP with a kselftest
# harness style totals line; the tests share state and run in this order.

PEER=/selftests/shmdev_peer
MODULE=/shmdev.ko
NR_PAGES=/sys/module/shmdev/parameters/nr_pages
HELD=rig_held		# segment mapped by a holder process
PERSIST=rig_persist	# segment left behind for rmmod to free
SIZE=1048576
BIG_SIZE=33554432	# 8192 pages (2048 of 16 KiB): well above vmstat's per-cpu slack
SLACK_PAGES=512		# per-cpu vmstat deltas and LRU batches
PEER_TIMEOUT=60		# seconds a single shmdev_peer command may take

# shellcheck source=scripts/vm/rig-lib.sh
. "$(dirname "$0")/rig-lib.sh"

# rmmod_must_fail WHY: rmmod shmdev must be refused. If it is not, load the
# module again so that the following tests still have one. rmmod does not
# inherit fd 3, the shell's own open /dev/shmdev.
rmmod_must_fail() {
	local out

	if out=$(rmmod shmdev 2>&1 3<&-); then
		diag "rmmod succeeded while $1"
		load
		return 1
	fi
	diag "refused as expected: $out"
}

test_rmmod_refused_while_mapped() {
	local holder i=0 ret=0

	ensure_loaded || return 1
	if ! peer create "$HELD" "$SIZE" 0600 || ! peer fill "$HELD" 1; then
		diag "cannot create and fill $HELD"
		return 1
	fi
	"$PEER" hold "$HELD" >/tmp/hold.out 2>&1 &
	holder=$!
	while ! grep -q '^ready' /tmp/hold.out; do
		i=$((i + 1))
		if [ "$i" -gt 200 ]; then
			diag "shmdev_peer hold did not print ready in 20 s: $(cat /tmp/hold.out)"
			stop "$holder"
			return 1
		fi
		usleep 100000
	done
	rmmod_must_fail "$HELD was mapped" || ret=1
	stop "$holder"
	return "$ret"
}

test_rmmod_refused_while_open() {
	local ret=0

	ensure_loaded || return 1
	# "command" keeps a failed redirection from ending the shell.
	if ! command exec 3</dev/shmdev; then
		diag "cannot open /dev/shmdev"
		return 1
	fi
	rmmod_must_fail "/dev/shmdev was open" || ret=1
	exec 3<&-
	return "$ret"
}

test_pages_zero_after_tests() {
	local ret=0

	ensure_loaded || return 1
	if ! peer unlink "$HELD"; then
		diag "unlink $HELD failed"
		ret=1
	fi
	wait_pages 0 3 || ret=1
	return "$ret"
}

test_rmmod_frees_persistent_segments() {
	local pages out before filled after want ret=0

	ensure_loaded || return 1
	before=$(shmem_pages)
	if ! peer create "$PERSIST" "$BIG_SIZE" 0600 ||
	   ! peer fill "$PERSIST" 2; then
		diag "cannot create and fill $PERSIST"
		return 1
	fi
	want=$((BIG_SIZE / PAGE_SIZE))
	pages=$(nr_pages)
	if [ "$pages" != "$want" ]; then
		diag "nr_pages is $pages with $PERSIST filled, want $want"
		ret=1
	fi
	filled=$(shmem_pages)
	if [ $((filled - before)) -lt $((want - SLACK_PAGES)) ]; then
		diag "shmem pages grew by $((filled - before)), want about $want"
		ret=1
	fi
	if ! out=$(rmmod shmdev 2>&1); then
		diag "rmmod with only a persistent segment left failed: $out"
		return 1
	fi
	after=$(shmem_pages)
	diag "shmem pages: $before before, $filled filled, $after after rmmod"
	if [ $((after - before)) -gt "$SLACK_PAGES" ]; then
		diag "rmmod left $((after - before)) shmem pages behind"
		ret=1
	fi
	if dmesg | grep -E 'pages leaked|Busy inodes' >/tmp/leak.out; then
		diag "kernel log after rmmod: $(cat /tmp/leak.out)"
		ret=1
	fi
	return "$ret"
}

test_reload_starts_empty() {
	local rc out ret=0

	if [ -d /sys/module/shmdev ] && ! out=$(rmmod shmdev 2>&1); then
		diag "module still loaded and rmmod failed: $out"
		return 1
	fi
	if ! load; then
		diag "insmod again failed"
		return 1
	fi
	peer check "$PERSIST" 2
	rc=$?
	if [ "$rc" != 2 ]; then
		diag "shmdev_peer check $PERSIST exited $rc, want 2 (ENOENT)"
		ret=1
	fi
	if [ "$(nr_pages)" != 0 ]; then
		diag "nr_pages is $(nr_pages) after reload, want 0"
		ret=1
	fi
	if ! out=$(rmmod shmdev 2>&1); then
		diag "rmmod after reload failed: $out"
		ret=1
	fi
	return "$ret"
}

echo "TAP version 13"
echo "1..5"
run_test rmmod_refused_while_mapped
run_test rmmod_refused_while_open
run_test pages_zero_after_tests
run_test rmmod_frees_persistent_segments
run_test reload_starts_empty
tap_totals
