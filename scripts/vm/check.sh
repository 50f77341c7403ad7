#!/bin/sh
# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0
#
# Payload of vm-check.sh, run by /init as root after insmod: the selftests
# as root and as an unprivileged user, the library and shmdev-ctl tests,
# the ring and sync tests on shmdev segments, the demo, the Python
# package's tests and examples, stress, fuzzing, fault injection,
# lifecycle and exhaustion tests, then the rig's own lifecycle tests.
# Each section ends with "SHMDEV-VM-STATUS <nonce> <section> <exit status>".

nonce=${SHMDEV_NONCE:-none}
# The rig's settings for this kernel: test knobs and the sections it leaves
# out (SHMDEV_SKIP_SECTIONS, with SHMDEV_SKIP_REASON; lib-cross.sh).
# shellcheck disable=SC1091
[ -r /etc/shmdev-test.env ] && . /etc/shmdev-test.env

# status SECTION RC: the end of a section, with the time it took.
started=$(date +%s)
status() {
	local now

	now=$(date +%s)
	echo "# shmdev-vm: $1 took $((now - started)) s"
	started=$now
	echo "SHMDEV-VM-STATUS $nonce $1 $2"
}

# left_out SECTION: if the rig leaves SECTION out on this kernel, report it
# as one skipped test and succeed.
left_out() {
	case " ${SHMDEV_SKIP_SECTIONS:-} " in
	*" $1 "*) ;;
	*) return 1 ;;
	esac
	echo "TAP version 13"
	echo "1..1"
	echo "ok 1 - $1 # SKIP ${SHMDEV_SKIP_REASON:-left out on this kernel}"
	echo "# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0"
	status "$1" 0
}

echo "# shmdev-vm: make -C /selftests run_tests as root"
make -C /selftests run_tests
status selftests-root $?

echo "# shmdev-vm: make -C /selftests run_tests as tester (uid 1000)"
left_out selftests-tester || {
	su -s /bin/sh tester -c 'make -C /selftests run_tests'
	status selftests-tester $?
}

echo "# shmdev-vm: libshmdev and shmdev-ctl tests"
left_out libtests || {
	sh /libtests/run.sh
	status libtests $?
}

# The ring and sync tests in directory $1, on shmdev segments.
ringsync() {
	(
		# shellcheck source=knobs.sh
		. /rig/knobs.sh
		[ -z "${SHMDEV_TEST_MESSAGES:-}" ] || export SHMDEV_TEST_MESSAGES
		export SHMDEV_TEST_BACKEND=shmdev
		rc=0
		for prog in sync_test ring_test; do
			"$1/$prog" || rc=1
		done
		exit $rc
	)
}

echo "# shmdev-vm: ring and sync tests on shmdev segments"
ringsync /ringsync
status ringsync $?

# The README's demo (make demo), as one TAP test; DEMO_BIN names the
# programs' directory (default /opt; /m32/examples for the 32-bit ones).
demo() {
	local out name=demo_ring_table_fdpass_epoll_uring${1:+_$1}

	echo "TAP version 13"
	echo "1..1"
	if out=$(sh /opt/demo.sh 2>&1); then
		printf '%s\n' "$out" | sed 's/^/# /'
		echo "ok 1 - $name"
		echo "# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0"
		return 0
	fi
	printf '%s\n' "$out" | sed 's/^/# /'
	echo "not ok 1 - $name"
	echo "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0"
	return 1
}

echo "# shmdev-vm: the demo"
demo
status demo $?

# The Python package (python/, issue 15) on the real module: its pytest
# suite, then its examples (C producers, Python consumers). The
# interpreter, the standard library, pytest and numpy are the host's, laid
# into the initramfs by lib.sh's build_python_stage; libshmdev is the one
# of /libtests.
python_tests() {
	local rc=0

	if [ ! -x /usr/bin/python3 ] || [ ! -d /python/shmdev ]; then
		echo "TAP version 13"
		echo "1..1"
		echo "ok 1 - python # SKIP no Python in this VM (lib.sh: build_python_stage)"
		echo "# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0"
		return 0
	fi
	export SHMDEV_LIBRARY=/libtests/libshmdev.so.1 PYTHONDONTWRITEBYTECODE=1
	# multiprocessing.shared_memory, which the tests compare with, needs
	# POSIX shared memory.
	if ! grep -q ' /dev/shm ' /proc/mounts; then
		mkdir -p /dev/shm && mount -t tmpfs -o mode=1777 tmpfs /dev/shm
	fi
	rm -f /tmp/python.tap
	(cd /python && python3 -m pytest -p no:cacheprovider -q -rfEs \
		--tap=/tmp/python.tap) 2>&1 | sed 's/^/# /'
	if [ -s /tmp/python.tap ]; then
		cat /tmp/python.tap
		grep -q '^# Totals: pass:[0-9]* fail:0 .* error:0' /tmp/python.tap || rc=1
	else
		echo "not ok 1 - pytest wrote no results"
		echo "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0"
		rc=1
	fi
	if [ -f /python/examples/run-examples.sh ]; then
		PYTHONPATH=/python EXAMPLES_BIN=/opt \
			sh /python/examples/run-examples.sh || rc=1
	fi
	return $rc
}

echo "# shmdev-vm: the Python package"
left_out python || {
	python_tests
	status python $?
}

# 32-bit callers: the same programs built -m32 (lib.sh's build_m32), whose
# ioctls go through compat_ioctl; the selftests as root only.
echo "# shmdev-vm: 32-bit selftests as root"
left_out selftests-m32 || {
	make -C /m32/selftests run_tests
	status selftests-m32 $?
}

echo "# shmdev-vm: 32-bit libshmdev and shmdev-ctl tests"
left_out libtests-m32 || {
	LIBTESTS_DIR=/m32/libtests sh /m32/libtests/run.sh
	status libtests-m32 $?
}

echo "# shmdev-vm: the 32-bit demo"
left_out demo-m32 || {
	DEMO_BIN=/m32/examples demo m32
	status demo-m32 $?
}

# make bench's program, briefly (quick sizes, one round): each record it
# prints is a TAP test, failed if it is an error record, skipped if it
# says the kernel cannot run that case (no THP), and the program
# must exit 0. The figures mean nothing here; make bench measures.
bench_smoke() {
	local n=0 fail=0 skip=0 rc=0 line what err

	echo "TAP version 13"
	/opt/shmdev_bench --quick --rounds 1 populate attach lifecycle swapread scale \
		>/tmp/bench.jsonl 2>/tmp/bench.err || rc=$?
	while read -r line; do
		case $line in
		*'"bench":"meta"'*) continue ;;
		esac
		n=$((n + 1))
		what=$(printf '%s\n' "$line" | sed -n \
			's/^{"bench":"\([^"]*\)","variant":"\([^"]*\)","peer":"\([^"]*\)".*/\1_\2_\3/p')
		case $line in
		*'"skipped":'*)
			err=$(printf '%s\n' "$line" | sed -n 's/.*"skipped":"\([^"]*\)".*/\1/p')
			echo "ok $n - bench_${what:-record} # SKIP $err"
			skip=$((skip + 1))
			;;
		*'"error":'*)
			err=$(printf '%s\n' "$line" | sed -n 's/.*"error":"\([^"]*\)".*/\1/p')
			echo "not ok $n - bench_${what:-record} # $err"
			fail=$((fail + 1))
			;;
		*) echo "ok $n - bench_${what:-record}" ;;
		esac
	done </tmp/bench.jsonl
	n=$((n + 1))
	if [ "$rc" -eq 0 ] && [ "$n" -gt 1 ]; then
		echo "ok $n - bench_program_exits_0_with_records"
	else
		sed 's/^/# /' /tmp/bench.err | tail -n 20
		echo "not ok $n - bench_program_exits_0_with_records # status $rc"
		fail=$((fail + 1))
	fi
	echo "1..$n"
	echo "# Totals: pass:$((n - fail - skip)) fail:$fail xfail:0 xpass:0 skip:$skip error:0"
	[ "$fail" -eq 0 ]
}

echo "# shmdev-vm: benchmark program smoke test"
left_out bench || {
	bench_smoke
	status bench $?
}

# Stress, fuzzing, lifecycle and exhaustion (issue 6); durations and
# debug-kernel scaling in vm/knobs.sh. Before the rig tests, which end
# with the module unloaded.
echo "# shmdev-vm: stress"
sh /rig/stress-tests.sh stress
status stress $?

echo "# shmdev-vm: ioctl and mmap fuzzing"
sh /rig/stress-tests.sh fuzz
status fuzz $?

echo "# shmdev-vm: fault injection"
sh /rig/faults.sh
status faults $?

echo "# shmdev-vm: lifecycle and exhaustion"
left_out lifecycle || {
	sh /rig/lifecycle-tests.sh
	status lifecycle $?
}

echo "# shmdev-vm: rig tests"
sh /rig/rig-tests.sh
status rig $?
