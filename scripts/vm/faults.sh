#!/bin/sh
# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0
#
# faults.sh: the fault-injection lane, on a kernel with fault injection
# (the debug kernel; elsewhere one skipped test says why). Two parts:
#
#  1. shmdev_faults check: every failure point of every call, one at a
#     time (fail-nth); each failed call must return a documented errno and
#     leave no trace, each call that succeeded must have had its effect.
#  2. The selftests (as root), the library tests, the stress program and
#     the fuzzer with allocations and user copies in the module's call
#     chains failing at random, at each probability of
#     SHMDEV_FAULTS_PROBS. The fuzzer, in its --faults mode, must pass
#     (every errno documented or ENOMEM or EFAULT, its pages back); the
#     others' verdicts are not counted (an injected ENOMEM fails an
#     assertion by design) but printed. What counts for all is that each
#     program ends, that no process it forked is stuck, that afterwards no
#     segment and no page is left once the names are removed, and the
#     kernel log (KASAN, lockdep, kmemleak, WARNING), which the rig checks
#     for the whole run.
# Knobs (knobs.sh): SHMDEV_FAULTS_SECS, SHMDEV_FAULTS_PROBS.

# shellcheck source=scripts/vm/knobs.sh
. "$(dirname "$0")/knobs.sh"

faults=/selftests/shmdev_faults

if [ ! -d /sys/kernel/debug/failslab ] || [ ! -d /sys/kernel/debug/fail_usercopy ]; then
	echo "TAP version 13"
	echo "1..1"
	echo "ok 1 - fault_injection # SKIP $(uname -r) has no CONFIG_FAILSLAB/CONFIG_FAULT_INJECTION_USERCOPY (the debug kernel runs this lane)"
	echo "# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0"
	exit 0
fi

rc=0
echo "# fault injection: every failure point, $SHMDEV_FAULTS_SECS s"
timeout $((SHMDEV_FAULTS_SECS + 600)) "$faults" check --secs "$SHMDEV_FAULTS_SECS" || rc=1

# The module's limits: a test that lowers one and fails before its
# teardown restores it leaves it lowered; put them back after each program.
params=/sys/module/shmdev/parameters
limits=""
for p in max_segment_size max_total_bytes max_segments; do
	limits="$limits $p=$(cat "$params/$p")"
done
restore_limits() {
	local kv
	for kv in $limits; do
		echo "${kv#*=}" >"$params/${kv%%=*}"
	done
}

# Processes that were forked under injection and outlived the program (a
# test's helper whose parent failed): say what they wait in and kill them.
# Sets $stuck to the number that would not die (a task stuck in the
# kernel).
reap() {
	local f pid i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		stuck=0
		for f in /proc/[0-9]*/make-it-fail; do
			[ "$(cat "$f" 2>/dev/null)" = 1 ] || continue
			pid=${f#/proc/}
			pid=${pid%/make-it-fail}
			[ "$pid" != $$ ] || continue
			stuck=$((stuck + 1))
			[ "$i" -gt 1 ] ||
				echo "# $name at $pct%: left running: $pid $(cat "/proc/$pid/comm"), $(grep '^State' "/proc/$pid/status"), in $(cat "/proc/$pid/wchan")"
			kill -9 "$pid"
		done 2>/dev/null
		[ "$stuck" -eq 0 ] && return
		sleep 1
	done
}

# under PERCENT NAME JUDGED CMD...: CMD with injection at PERCENT; prints
# one TAP line for it (numbered by $n) and a summary of its own verdicts,
# which count if JUDGED is 1 (a program that expects injected faults).
under() {
	local pct=$1 name=$2 judged=$3 out=/tmp/faults-load.out st ok bad
	shift 3
	n=$((n + 1))
	"$faults" arm "$pct" || return 1
	# make-it-fail is inherited by the children the command forks.
	timeout 900 sh -c 'echo 1 >/proc/self/make-it-fail && exec "$@"' sh "$@" \
		>"$out" 2>&1
	st=$?
	reap
	restore_limits
	"$faults" disarm | sed "s/^# /# $name at $pct%: /"
	ok=$(grep -cE '^(# )*ok ' "$out")
	bad=$(grep -cE '^(# )*not ok ' "$out")
	echo "# $name at $pct%: exit status $st; its own tests: $ok ok, $bad not ok"
	# A program may die of an injected fault (SIGBUS on a page that
	# could not be allocated); only a hang fails the test (busybox's
	# timeout ends the command with SIGTERM: status 143), or a process
	# that cannot be killed.
	if "$faults" settle "$SHMDEV_SETTLE_SECS" && [ "$st" -ne 143 ] &&
		[ "$stuck" -eq 0 ] && { [ "$judged" = 0 ] || [ "$st" -eq 0 ]; }; then
		echo "ok $n - ${name}_under_${pct}pct_faults_ends_clean"
	else
		tail -n 20 "$out" | sed 's/^/#   /'
		echo "not ok $n - ${name}_under_${pct}pct_faults_ends_clean"
		fail=$((fail + 1))
	fi
}

n=0 fail=0
echo "TAP version 13"
for pct in $SHMDEV_FAULTS_PROBS; do
	under "$pct" selftests 0 make -C /selftests run_tests
	[ ! -f /libtests/run.sh ] || under "$pct" libtests 0 sh /libtests/run.sh
	under "$pct" stress 0 /selftests/shmdev_stress --secs 20 --procs 4
	# The fuzzer knows injected faults (--faults): its verdict counts.
	under "$pct" fuzz 1 /selftests/shmdev_fuzz --faults --secs 20 --threads 4
done
echo "1..$n"
echo "# Totals: pass:$((n - fail)) fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ "$fail" -eq 0 ] || rc=1
exit $rc
