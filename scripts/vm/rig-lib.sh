# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0
#
# Sourced by the VM's shell tests that load and unload the module
# (rig-tests.sh, lifecycle-tests.sh): TAP bookkeeping and the helpers they
# share. The caller sets PEER (shmdev_peer), MODULE (shmdev.ko),
# NR_PAGES (the nr_pages parameter) and PEER_TIMEOUT (seconds) first.

# The base page size in bytes (4096 on x86-64, 16384 on arm64 with 16 KiB
# pages), as the kernel reports it for awk's own first mapping.
PAGE_SIZE=$(awk '/^KernelPageSize:/ { print $2 * 1024; exit }' /proc/self/smaps)

ntest=0
npass=0
nfail=0
nskip=0
skip_reason=

diag() {
	echo "# $*"
}

# peer ARGS: run shmdev_peer, its output shown as TAP diagnostics.
peer() {
	local out rc

	out=$(timeout "$PEER_TIMEOUT" "$PEER" "$@" 2>&1)
	rc=$?
	[ -z "$out" ] || printf '%s\n' "$out" | sed "s|^|# shmdev_peer $1: |"
	return "$rc"
}

load() {
	insmod "$MODULE" && chmod 0666 /dev/shmdev
}

ensure_loaded() {
	[ -d /sys/module/shmdev ] || load
}

nr_pages() {
	cat "$NR_PAGES" 2>/dev/null || echo "unreadable"
}

# wait_pages WANT SECS: freed pages may take a moment to be accounted.
wait_pages() {
	local want=$1 i=0

	while [ "$(nr_pages)" != "$want" ]; do
		i=$((i + 1))
		if [ "$i" -gt $(($2 * 10)) ]; then
			diag "nr_pages is $(nr_pages), want $want"
			return 1
		fi
		usleep 100000
	done
}

# Shmem pages in memory, segment pages among them. Unlike nr_pages, which
# counts the pages of the segments that exist, this sees pages that left a
# segment but were never freed.
shmem_pages() {
	sed -n 's/^nr_shmem //p' /proc/vmstat
}

# stop PID: end a background process quietly ("Terminated" is noise here).
stop() {
	{
		kill "$1"
		wait "$1"
	} 2>/dev/null
}

# run_test NAME: run test_NAME; 0 passes, 4 skips (with $skip_reason).
run_test() {
	local rc t0

	ntest=$((ntest + 1))
	skip_reason=
	t0=$(date +%s)
	"test_$1"
	rc=$?
	diag "$1: $(($(date +%s) - t0)) s"
	if [ "$rc" = 0 ]; then
		echo "ok $ntest - $1"
		npass=$((npass + 1))
	elif [ "$rc" = 4 ]; then
		echo "ok $ntest - $1 # SKIP $skip_reason"
		nskip=$((nskip + 1))
	else
		echo "not ok $ntest - $1"
		nfail=$((nfail + 1))
	fi
}

# The kselftest totals line; succeeds if no test failed.
tap_totals() {
	echo "# Totals: pass:$npass fail:$nfail xfail:0 xpass:0 skip:$nskip error:0"
	[ "$nfail" = 0 ]
}
