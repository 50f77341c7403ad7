#!/bin/sh
# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0
#
# Lifecycle and exhaustion tests of the module, run as root in the VM with
# the module loaded (before rig-tests.sh, which ends with it unloaded).
# Output is TAP with a kselftest totals line; the tests run in this order
# and leave the module loaded with no segment.
#
#   rmmod_refused_while_only_mapped     rmmod in a loop while a process
#   rmmod_refused_while_file_open       holds only a mapping, then only an
#                                       open file, then a poll() waiting
#                                       for a doorbell: each attempt fails,
#                                       the data stays intact, a ring then
#                                       wakes the poller
#   rmmod_completes_while_a_path_is_held
#                                       a process holds only an O_PATH
#                                       descriptor of a freed segment's
#                                       inode (from /proc/PID/map_files):
#                                       rmmod completes at once, an open
#                                       through the path fails cleanly
#   rmmod_insmod_vs_open_churn          rmmod/insmod in a loop while other
#                                       processes open, create, map, unlink
#   load_unload_cycles                  SHMDEV_LIFECYCLE_CYCLES rmmod+insmod
#                                       cycles with segments created,
#                                       touched, checked and removed (or left
#                                       for rmmod to free) in between; no
#                                       pages left, no shmem pages
#                                       lost, no kmemleak report
#   exhaustion_enomem_or_sigbus_without_oom_killer
#                                       segments touched beyond the VM's RAM
#                                       fail with ENOMEM or SIGBUS, nothing
#                                       is OOM-killed, bystanders live on
#   works_after_exhaustion              a new segment works, nr_pages 0
#
# Knobs (knobs.sh): SHMDEV_LIFECYCLE_CYCLES, SHMDEV_RMMOD_ATTEMPTS,
# SHMDEV_EXHAUST, SHMDEV_EXHAUST_SECS, SHMDEV_SETTLE_SECS.

# shellcheck source=scripts/vm/knobs.sh
. "$(dirname "$0")/knobs.sh"

PEER=/selftests/shmdev_peer
MEMHOG=/selftests/shmdev_memhog
MODULE=/shmdev.ko
PARAMS=/sys/module/shmdev/parameters
NR_PAGES=$PARAMS/nr_pages
KMEMLEAK=/sys/kernel/debug/kmemleak
SIZE=1048576
SLACK_PAGES=512		# per-cpu vmstat deltas and LRU batches
PEER_TIMEOUT=60

# shellcheck source=scripts/vm/rig-lib.sh
. "$(dirname "$0")/rig-lib.sh"

# wait_ready FILE PID: until a shmdev_peer hold prints "ready".
wait_ready() {
	local i=0

	while ! grep -q '^ready' "$1" 2>/dev/null; do
		i=$((i + 1))
		if [ "$i" -gt 300 ] || ! kill -0 "$2" 2>/dev/null; then
			diag "holder not ready: $(cat "$1")"
			return 1
		fi
		usleep 100000
	done
}

# rmmod_refused N WHY: N rmmod attempts, each must fail with the module
# still there and in use. rmmod must not inherit the shell's fd 3.
rmmod_refused() {
	local n=$1 i=0 out first=

	while [ "$i" -lt "$n" ]; do
		i=$((i + 1))
		if out=$(rmmod shmdev 2>&1 3<&-); then
			diag "attempt $i: rmmod succeeded while $2"
			load
			return 1
		fi
		[ -n "$first" ] || first=$out
		if [ ! -d /sys/module/shmdev ]; then
			diag "attempt $i: module gone although rmmod failed: $out"
			load
			return 1
		fi
		case $out in
		*"in use"* | *unavailable* | *busy* | *Busy*) ;;
		*)
			diag "attempt $i: unexpected rmmod failure: $out"
			return 1
			;;
		esac
	done
	diag "$n attempts refused while $2 (refcnt $(cat /sys/module/shmdev/refcnt)): $first"
}

# churn SECONDS NAME: create, fill, check and unlink NAME in a loop (run it
# in the background); tolerates the module coming and going. Ends after
# SECONDS or when churn_stop is called.
churn() {
	local end=$(($(date +%s) + $1)) n=0

	while [ "$(date +%s)" -lt "$end" ] && [ ! -e /tmp/churn.stop ]; do
		"$PEER" create "$2" 65536 0600 >/dev/null 2>&1
		"$PEER" fill "$2" 9 >/dev/null 2>&1
		"$PEER" check "$2" 9 >/dev/null 2>&1
		"$PEER" unlink "$2" >/dev/null 2>&1
		n=$((n + 1))
	done
	echo "$n" >/tmp/churn.count
}

# churn_stop PID: end the loop after its current round, so that no
# shmdev_peer of it is left running.
churn_stop() {
	touch /tmp/churn.stop
	wait "$1"
}

test_rmmod_refused_while_only_mapped() {
	local holder churner ret=0

	ensure_loaded || return 1
	if ! peer create lc_held "$SIZE" 0600 || ! peer fill lc_held 3; then
		diag "cannot create and fill lc_held"
		return 1
	fi
	"$PEER" holdmap lc_held >/tmp/holdmap.out 2>&1 &
	holder=$!
	wait_ready /tmp/holdmap.out "$holder" || {
		stop "$holder"
		return 1
	}
	# Nobody has a file open now (names do not pin the module): only the
	# mapping does.
	rm -f /tmp/churn.stop
	churn 3600 lc_churn &
	churner=$!
	rmmod_refused "$SHMDEV_RMMOD_ATTEMPTS" "only a mapping was left" || ret=1
	churn_stop "$churner"
	peer unlink lc_churn >/dev/null 2>&1
	peer check lc_held 3 || ret=1
	stop "$holder"
	peer unlink lc_held || ret=1
	wait_pages 0 "$SHMDEV_SETTLE_SECS" || ret=1
	return "$ret"
}

test_rmmod_refused_while_file_open() {
	local holder ret=0

	ensure_loaded || return 1
	if ! peer create lc_open "$SIZE" 0600 || ! peer fill lc_open 4; then
		diag "cannot create and fill lc_open"
		return 1
	fi
	# An unbound open file of this shell...
	if ! command exec 3</dev/shmdev; then
		diag "cannot open /dev/shmdev"
		return 1
	fi
	rmmod_refused "$SHMDEV_RMMOD_ATTEMPTS" "an unbound file was open" || ret=1
	exec 3<&-
	# ...and a bound one with a mapping (shmdev_peer hold keeps both).
	"$PEER" hold lc_open >/tmp/hold.out 2>&1 &
	holder=$!
	if wait_ready /tmp/hold.out "$holder"; then
		rmmod_refused "$SHMDEV_RMMOD_ATTEMPTS" "a bound file was open and mapped" || ret=1
	else
		ret=1
	fi
	peer check lc_open 4 || ret=1
	stop "$holder"
	# ...and one waiting in poll() for a doorbell, which a ring from
	# another process then wakes.
	"$PEER" pollwait lc_open >/tmp/pollwait.out 2>&1 &
	holder=$!
	if wait_ready /tmp/pollwait.out "$holder"; then
		rmmod_refused "$SHMDEV_RMMOD_ATTEMPTS" "a process waited in poll()" || ret=1
		peer ring lc_open || ret=1
		if ! exits_within 10 "$holder"; then
			diag "the poller still waits 10 s after the ring"
			stop "$holder"
			ret=1
		elif ! wait "$holder" || ! grep -q '^rung 1$' /tmp/pollwait.out; then
			diag "the poller was not woken by the ring: $(cat /tmp/pollwait.out)"
			ret=1
		fi
	else
		stop "$holder"
		ret=1
	fi
	peer unlink lc_open || ret=1
	wait_pages 0 "$SHMDEV_SETTLE_SECS" || ret=1
	return "$ret"
}

# exits_within SECS PID: 0 once process PID has exited (its status is
# left for wait), 1 if it still runs after SECS.
exits_within() {
	local i=0

	while kill -0 "$2" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -le $(($1 * 10)) ] || return 1
		usleep 100000
	done
}

# rmmod_within SECS: rmmod in the background, which must be done in SECS
# (an unload that waits forever would sit in D state, unkillable).
rmmod_within() {
	local pid

	rmmod shmdev 3<&- >/tmp/rmmod.out 2>&1 &
	pid=$!
	if ! exits_within "$1" "$pid"; then
		diag "rmmod still runs after $1 s: $(cat /proc/$pid/wchan 2>/dev/null)"
		return 1
	fi
	wait "$pid" || {
		diag "rmmod failed: $(cat /tmp/rmmod.out)"
		return 1
	}
}

test_rmmod_completes_while_a_path_is_held() {
	local holder ret=0

	ensure_loaded || return 1
	rm -f /tmp/opath.go
	if ! peer create lc_path "$SIZE" 0600 || ! peer fill lc_path 6; then
		diag "cannot create and fill lc_path"
		return 1
	fi
	"$PEER" opath lc_path /tmp/opath.go >/tmp/opath.out 2>&1 &
	holder=$!
	wait_ready /tmp/opath.out "$holder" || {
		stop "$holder"
		return 1
	}
	# The segment goes: nothing but the path is left of it.
	peer unlink lc_path || ret=1
	if rmmod_within 10; then
		[ ! -d /sys/module/shmdev ] || {
			diag "rmmod returned but the module is still there"
			ret=1
		}
	else
		ret=1
	fi
	touch /tmp/opath.go
	if ! exits_within 10 "$holder"; then
		diag "the path holder is stuck"
		stop "$holder"
		ret=1
	elif ! wait "$holder"; then
		diag "open through the path did not fail: $(cat /tmp/opath.out)"
		ret=1
	else
		diag "after unload, $(tail -1 /tmp/opath.out)"
	fi
	ensure_loaded || return 1
	if ! peer create lc_path2 "$SIZE" 0600 || ! peer fill lc_path2 7 ||
	   ! peer check lc_path2 7 || ! peer unlink lc_path2; then
		ret=1
	fi
	wait_pages 0 "$SHMDEV_SETTLE_SECS" || ret=1
	return "$ret"
}

test_rmmod_insmod_vs_open_churn() {
	local churner end unloads=0 refused=0 out ret=0

	ensure_loaded || return 1
	rm -f /tmp/churn.stop
	churn 5 lc_race &
	churner=$!
	end=$(($(date +%s) + 5))
	while [ "$(date +%s)" -lt "$end" ]; do
		if out=$(rmmod shmdev 2>&1); then
			unloads=$((unloads + 1))
			if ! load; then
				diag "insmod after rmmod $unloads failed"
				ret=1
				break
			fi
		else
			refused=$((refused + 1))
		fi
	done
	wait "$churner"
	ensure_loaded || return 1
	diag "$unloads unloads, $refused refusals against $(cat /tmp/churn.count 2>/dev/null) create-fill-check-unlink rounds"
	"$PEER" unlink lc_race >/dev/null 2>&1
	# Whatever happened, the module works and holds nothing.
	if ! peer create lc_after "$SIZE" 0600 || ! peer fill lc_after 5 ||
	   ! peer check lc_after 5 || ! peer unlink lc_after; then
		ret=1
	fi
	wait_pages 0 "$SHMDEV_SETTLE_SECS" || ret=1
	return "$ret"
}

# kmemleak_objects FILE: scan and list the reported objects' addresses in
# FILE. Nothing is cleared: the rig's final scan (vm/init) must still see
# every report of the run.
kmemleak_objects() {
	# Only objects older than 5 s are reported.
	sleep 6
	echo scan >"$KMEMLEAK"
	echo scan >"$KMEMLEAK"
	sed -n 's/^unreferenced object \(0x[0-9a-f]*\).*/\1/p' "$KMEMLEAK" |
		sort >"$1"
}

test_load_unload_cycles() {
	local i=0 before after t0 out obj ret=0

	ensure_loaded || return 1
	[ ! -w "$KMEMLEAK" ] || kmemleak_objects /tmp/kmemleak.before
	before=$(shmem_pages)
	t0=$(date +%s)
	while [ "$i" -lt "$SHMDEV_LIFECYCLE_CYCLES" ]; do
		i=$((i + 1))
		if ! out=$(rmmod shmdev 2>&1); then
			diag "cycle $i: rmmod failed: $out"
			ret=1
			break
		fi
		if ! load; then
			diag "cycle $i: insmod failed"
			ret=1
			break
		fi
		if [ "$(nr_pages)" != 0 ]; then
			diag "cycle $i: nr_pages $(nr_pages) right after insmod"
			ret=1
		fi
		if ! "$PEER" create lc_cycle "$((SIZE / 4 + i * 4096))" 0600 >/dev/null ||
		   ! "$PEER" fill lc_cycle "$((i % 256))" ||
		   ! "$PEER" check lc_cycle "$((i % 256))"; then
			diag "cycle $i: create, fill or check failed"
			ret=1
			break
		fi
		# Every other cycle rmmod frees the segment; else we do.
		if [ $((i % 2)) = 0 ]; then
			if ! "$PEER" unlink lc_cycle || ! wait_pages 0 "$SHMDEV_SETTLE_SECS"; then
				diag "cycle $i: unlink or page count failed"
				ret=1
				break
			fi
		fi
	done
	after=$(shmem_pages)
	"$PEER" unlink lc_cycle >/dev/null 2>&1
	wait_pages 0 "$SHMDEV_SETTLE_SECS" || ret=1
	diag "$i cycles in $(($(date +%s) - t0)) s; shmem pages $before before, $after after"
	if [ $((after - before)) -gt "$SLACK_PAGES" ]; then
		diag "the cycles left $((after - before)) shmem pages behind"
		ret=1
	fi
	if dmesg | grep -E 'pages leaked|Busy inodes' >/tmp/leak.out; then
		diag "kernel log: $(head -n 3 /tmp/leak.out)"
		ret=1
	fi
	if [ -w "$KMEMLEAK" ]; then
		kmemleak_objects /tmp/kmemleak.after
		# (busybox grep -f with an empty file matches everything)
		if [ -s /tmp/kmemleak.before ]; then
			out=$(grep -v -x -F -f /tmp/kmemleak.before /tmp/kmemleak.after)
		else
			out=$(cat /tmp/kmemleak.after)
		fi
		if [ -n "$out" ]; then
			diag "kmemleak: $(printf '%s\n' "$out" | wc -l) new report(s) during the cycles:"
			for obj in $out; do
				grep -A 12 "^unreferenced object $obj" "$KMEMLEAK"
			done | head -n 80 | sed 's/^/#   /'
			ret=1
		else
			diag "kmemleak: no new reports during the cycles"
		fi
	else
		diag "no kmemleak on this kernel"
	fi
	return "$ret"
}

oom_lines() {
	dmesg | grep -c -E 'invoked oom-killer|Out of memory|Killed process|oom_reaper'
}

param() {
	cat "$PARAMS/$1"
}

test_exhaustion_enomem_or_sigbus_without_oom_killer() {
	local memtotal seg_max total_max holder bystander oom_before oom_after
	local out rc t0 swaps dev ret=0

	if [ "$SHMDEV_EXHAUST" != 1 ]; then
		skip_reason="global memory exhaustion is off on a $SHMDEV_KERNEL_KIND kernel (SHMDEV_EXHAUST=1 runs it)"
		return 4
	fi
	ensure_loaded || return 1
	memtotal=$(($(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo) * 1024))
	seg_max=$(param max_segment_size)
	total_max=$(param max_total_bytes)
	# A bystander that must survive: a segment mapped by another process.
	if ! peer create lc_bystander "$SIZE" 0600 || ! peer fill lc_bystander 6; then
		return 1
	fi
	"$PEER" hold lc_bystander >/tmp/bystander.out 2>&1 &
	holder=$!
	sleep 100000 &
	bystander=$!
	wait_ready /tmp/bystander.out "$holder" || ret=1
	echo $((4 * memtotal)) >"$PARAMS/max_segment_size"
	echo $((4 * memtotal)) >"$PARAMS/max_total_bytes"
	# Without swap: with it, filling RAM and swap also swaps out the
	# processes' own anonymous memory (memhog's stack, as it takes the
	# SIGBUS), and the kernel OOM-kills for its swap-in. Segments under
	# swap are the memcg selftests' (memcg_segment_larger_than_limit_swaps).
	swaps=$(sed -n '2,$s/ .*//p' /proc/swaps)
	for dev in $swaps; do
		swapoff "$dev" || diag "swapoff $dev failed"
	done
	oom_before=$(oom_lines)
	t0=$(date +%s)
	out=$(timeout "$SHMDEV_EXHAUST_SECS" "$MEMHOG" $((2 * memtotal)) 268435456 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed 's/^/# shmdev_memhog: /'
	diag "RAM $((memtotal >> 20)) MiB; memhog exited $rc after $(($(date +%s) - t0)) s"
	echo "$seg_max" >"$PARAMS/max_segment_size"
	echo "$total_max" >"$PARAMS/max_total_bytes"
	for dev in $swaps; do
		swapon "$dev" || diag "swapon $dev failed"
	done
	case $rc in
	0) ;;
	124)
		diag "shmdev_memhog did not finish in $SHMDEV_EXHAUST_SECS s"
		ret=1
		;;
	*)
		diag "shmdev_memhog failed (status $rc)"
		ret=1
		;;
	esac
	oom_after=$(oom_lines)
	if [ "$oom_after" != "$oom_before" ]; then
		diag "the OOM killer ran:"
		dmesg | grep -E -A3 'invoked oom-killer|Killed process' | tail -n 20 | sed 's/^/#   /'
		ret=1
	fi
	for pid in "$holder" "$bystander"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			diag "bystander $pid died"
			ret=1
		fi
	done
	peer check lc_bystander 6 || ret=1
	stop "$holder"
	stop "$bystander"
	peer unlink lc_bystander || ret=1
	wait_pages 0 "$SHMDEV_SETTLE_SECS" || ret=1
	return "$ret"
}

test_works_after_exhaustion() {
	local ret=0

	ensure_loaded || return 1
	if ! peer create lc_final "$((4 * SIZE))" 0600 ||
	   ! peer fill lc_final 8 || ! peer check lc_final 8; then
		ret=1
	fi
	[ "$(nr_pages)" = $((4 * SIZE / PAGE_SIZE)) ] || {
		diag "nr_pages $(nr_pages), want $((4 * SIZE / PAGE_SIZE))"
		ret=1
	}
	peer unlink lc_final || ret=1
	wait_pages 0 "$SHMDEV_SETTLE_SECS" || ret=1
	return "$ret"
}

echo "TAP version 13"
echo "1..7"
diag "$SHMDEV_KERNEL_KIND kernel $(uname -r): $SHMDEV_LIFECYCLE_CYCLES cycles, $SHMDEV_RMMOD_ATTEMPTS rmmod attempts, exhaustion $SHMDEV_EXHAUST"
run_test rmmod_refused_while_only_mapped
run_test rmmod_refused_while_file_open
run_test rmmod_completes_while_a_path_is_held
run_test rmmod_insmod_vs_open_churn
run_test load_unload_cycles
run_test exhaustion_enomem_or_sigbus_without_oom_killer
run_test works_after_exhaustion
ensure_loaded
tap_totals
