#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# soak.sh - shmdev under load for a long time on one kernel, in QEMU.
#
# Usage: soak.sh [-k KERNEL] [-t SECONDS]
#
# Boots KERNEL (an entry of the matrix as for vm-run.sh -k: 6.1, 6.12,
# 6.12-rt, sid, sid-rt, rc or debug; default sid, the newest stable line)
# with the module loaded and runs, in turns until SECONDS (default 1800)
# have passed, the stress program (8 processes, 5-minute rounds), the
# ioctl and mmap fuzzer (4 threads, 2-minute rounds) and, on a kernel with
# fault injection (-k debug), the fault-injection lane of make check
# (vm/faults.sh: every failure point of every call for 2 minutes, then the
# programs under random faults), each round with a fresh seed, then checks
# that the module holds no page. The kernel log must show no splat (BUG,
# WARNING, KASAN, lockdep, ...), as in make check.
#
# The last line is the summary:
#   soak: KERNEL, S s: N stress rounds, M fuzz rounds, K fault rounds,
#   F failed, pages P
# and the exit status is 0 only if nothing failed. Each round prints its
# seed; shmdev_stress and shmdev_fuzz --seed replay one.
#
# Environment: SOAK_STRESS_SECS, SOAK_FUZZ_SECS and SOAK_FAULTS_SECS (round
# lengths), VM_MEM, VM_SMP as for vm-run.sh.

set -euo pipefail

here=$(dirname "${BASH_SOURCE[0]}")
kernel=sid
secs=1800

usage() {
	sed -n '3,/^set -e/{/^set -e/d; s/^# \{0,1\}//; p}' "${BASH_SOURCE[0]}" >&2
	exit 2
}

while getopts 'k:t:h' opt; do
	case $opt in
	k) kernel=$OPTARG ;;
	t) secs=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
(($# == 0)) || usage
if ! [[ $secs =~ ^[0-9]+$ ]] || ((secs < 60)); then
	echo "soak: SECONDS must be a number, at least 60" >&2
	exit 2
fi

payload=$(mktemp /tmp/soak-payload.XXXXXX)
trap 'rm -f "$payload"' EXIT
cat >"$payload" <<EOF
#!/bin/sh
# The soak's payload, run in the VM by vm-run.sh.
secs=$secs
stress_secs=${SOAK_STRESS_SECS:-300}
fuzz_secs=${SOAK_FUZZ_SECS:-120}
faults_secs=${SOAK_FAULTS_SECS:-120}
EOF
cat >>"$payload" <<'EOF'
start=$(date +%s)
end=$((start + secs))
stress=0 fuzz=0 faults=0 failed=0

# round WHAT SECS: one run of stress-tests.sh, within what is left.
round() {
	left=$((end - $(date +%s)))
	[ "$left" -ge 30 ] || return 1
	[ "$2" -le "$left" ] || set -- "$1" "$left"
	case $1 in
	stress) SHMDEV_STRESS_SECS=$2 sh /rig/stress-tests.sh stress ;;
	fuzz) SHMDEV_FUZZ_SECS=$2 sh /rig/stress-tests.sh fuzz ;;
	faults) SHMDEV_FAULTS_PROBS="${SHMDEV_FAULTS_PROBS:-5 50}" \
		SHMDEV_FAULTS_SECS=$2 sh /rig/faults.sh ;;
	esac >/tmp/round.out 2>&1
	rc=$?
	grep -E 'seed|^ok|^not ok|exit status|injected|fault points' /tmp/round.out |
		sed "s/^/# $1: /"
	if [ "$rc" -ne 0 ]; then
		failed=$((failed + 1))
		tail -n 40 /tmp/round.out | sed 's/^/#   /'
	fi
	return 0
}

while :; do
	round stress "$stress_secs" || break
	stress=$((stress + 1))
	round fuzz "$fuzz_secs" || break
	fuzz=$((fuzz + 1))
	[ -d /sys/kernel/debug/failslab ] || continue
	round faults "$faults_secs" || break
	faults=$((faults + 1))
done
# What the rounds freed is accounted within a few seconds.
i=0
while [ "$(cat /sys/module/shmdev/parameters/nr_pages)" != 0 ] && [ "$i" -lt 60 ]; do
	sleep 1
	i=$((i + 1))
done
pages=$(cat /sys/module/shmdev/parameters/nr_pages)
[ "$pages" = 0 ] || failed=$((failed + 1))
echo "soak: $(uname -r), $(($(date +%s) - start)) s: $stress stress rounds, $fuzz fuzz rounds, $faults fault rounds, $failed failed, pages $pages"
[ "$failed" -eq 0 ]
EOF

# Long enough for the rounds, the settling and the boot.
export VM_TIMEOUT=$((secs + 900)) DEBUG_VM_TIMEOUT=$((secs + 1800))
"$here/vm-run.sh" -k "$kernel" "$payload"
