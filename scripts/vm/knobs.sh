# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0
#
# Sourced by the VM's stress and lifecycle tests: the duration knobs, with
# smaller defaults on a debug kernel, where everything runs 5-10 times
# slower.
#
# Values come from the environment or from /etc/shmdev-test.env, which the
# rig writes into the initramfs from the host's environment (lib.sh,
# make_initramfs), so that e.g. "SHMDEV_STRESS_SECS=10 make check" works.
#
# A debug kernel is one whose release contains "debug" (the rig's debug
# lane names its kernel ...-shmdev-debug), or that has kmemleak
# (/sys/kernel/debug/kmemleak) or KASAN ("KernelAddressSanitizer
# initialized" in the kernel log). SHMDEV_SCALE_DEBUG=0 or 1 overrides.
#
#   knob                      default   debug   what
#   SHMDEV_STRESS_SECS        60        60      shmdev_stress run time
#   SHMDEV_STRESS_PROCS       8         8       shmdev_stress processes
#   SHMDEV_FUZZ_SECS          30        30      shmdev_fuzz run time
#   SHMDEV_FUZZ_THREADS       4         4       shmdev_fuzz threads
#   SHMDEV_LIFECYCLE_CYCLES   200       50      insmod/rmmod cycles
#   SHMDEV_RMMOD_ATTEMPTS     50        20      rmmod attempts per holder
#   SHMDEV_EXHAUST            1         0       global memory exhaustion
#                                               (kmemleak and KASAN lose
#                                               track under it; 1 forces)
#   SHMDEV_EXHAUST_SECS       120       300     timeout of the exhaustion
#   SHMDEV_SETTLE_SECS        10        30      wait for nr_pages to settle
#   SHMDEV_TEST_MESSAGES      10^6      10^5    ring and sync tests' size
#   SHMDEV_FAULTS_SECS        60        60      systematic fault injection
#   SHMDEV_FAULTS_PROBS       "5"       "5"     random injection, percent
#                                               (make soak: "5 50";
#                                               faults.sh; only kernels
#                                               with fault injection)
# Stress and fuzz runs are bounded by time, not operations: on a slow
# kernel they do fewer operations in the same time.

# shellcheck disable=SC1091
[ -r /etc/shmdev-test.env ] && . /etc/shmdev-test.env

shmdev_debug_kernel() {
	case ${SHMDEV_SCALE_DEBUG:-} in
	0) return 1 ;;
	1) return 0 ;;
	esac
	case $(uname -r) in
	*debug*) return 0 ;;
	esac
	[ -e /sys/kernel/debug/kmemleak ] && return 0
	dmesg 2>/dev/null | grep -q 'KernelAddressSanitizer initialized'
}

if shmdev_debug_kernel; then
	SHMDEV_KERNEL_KIND=debug
	: "${SHMDEV_LIFECYCLE_CYCLES:=50}"
	: "${SHMDEV_RMMOD_ATTEMPTS:=20}"
	: "${SHMDEV_EXHAUST:=0}"
	: "${SHMDEV_EXHAUST_SECS:=300}"
	: "${SHMDEV_SETTLE_SECS:=30}"
	: "${SHMDEV_TEST_MESSAGES:=100000}"
else
	SHMDEV_KERNEL_KIND=distribution
fi
: "${SHMDEV_STRESS_SECS:=60}"
: "${SHMDEV_STRESS_PROCS:=8}"
: "${SHMDEV_FUZZ_SECS:=30}"
: "${SHMDEV_FUZZ_THREADS:=4}"
: "${SHMDEV_LIFECYCLE_CYCLES:=200}"
: "${SHMDEV_RMMOD_ATTEMPTS:=50}"
: "${SHMDEV_EXHAUST:=1}"
: "${SHMDEV_EXHAUST_SECS:=120}"
: "${SHMDEV_SETTLE_SECS:=10}"
: "${SHMDEV_FAULTS_SECS:=60}"
: "${SHMDEV_FAULTS_PROBS:=5}"
export SHMDEV_STRESS_SECS SHMDEV_STRESS_PROCS SHMDEV_FUZZ_SECS \
	SHMDEV_FUZZ_THREADS SHMDEV_LIFECYCLE_CYCLES SHMDEV_RMMOD_ATTEMPTS \
	SHMDEV_EXHAUST SHMDEV_EXHAUST_SECS SHMDEV_SETTLE_SECS \
	SHMDEV_FAULTS_SECS SHMDEV_FAULTS_PROBS SHMDEV_KERNEL_KIND
export SHMDEV_STRESS_SETTLE_SECS="$SHMDEV_SETTLE_SECS"
export SHMDEV_FUZZ_SETTLE_SECS="$SHMDEV_SETTLE_SECS"
