#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vm-check.sh - test shmdev on each kernel of the matrix in a QEMU VM.
#
# For each kernel of the matrix (lib.sh's KERNEL_MATRIX: Debian bookworm's
# 6.1, 6.12 and 6.12 PREEMPT_RT, sid's newest kernel and its PREEMPT_RT
# flavour, experimental's release candidate, sid's arm64 kernels with 4 KiB
# and with 16 KiB pages (lib-cross.sh), each resolved from the archive at
# run time) and the debug kernel (lib-debug.sh): build the module with
# W=1 and sparse against the kernel's headers (any warning fails; sid's and
# experimental's in a sid chroot, lib-sid.sh), boot the kernel under QEMU
# TCG with an initramfs holding the module and the tests, run the selftests
# as root and as an unprivileged user, the library, ring and sync tests,
# the demo, the Python package's tests, stress, fuzz and the rig's
# lifecycle tests (rmmod/insmod), and
# check the kernel log for splats. Installs what it needs with apt and
# caches kernels under $SHMDEV_CACHE, so a second run downloads nothing.
# The kernel sources must also pass checkpatch --strict (one more test).
#
# The last line printed is "N passed, N failed, N skipped" over all kernels;
# the exit status is 1 if anything failed.
#
# Environment:
#   KERNELS="name ..."  entries of the matrix to test (6.1 6.12 6.12-rt sid
#                       sid-rt rc arm64 arm64-16k debug; bookworm kernel
#                       releases also work), default: all of them
#   SHMDEV_CACHE        cache directory (default /var/cache/shmdev-vm)
#   SHMDEV_BUILD        build directory (default <repo>/build)
#   VM_TIMEOUT          seconds one VM may run (default 900)
#   VM_BOOT_TIMEOUT     seconds to /init's first line (default 240)
#   VM_MEM, VM_SMP      VM memory and CPUs (default 2G, 2)
#   SHMDEV_DEBUG_KERNEL 0 leaves out the debug-kernel lane (lib-debug.sh)
#   DEBUG_VM_TIMEOUT    seconds the debug kernel's VM may run (default 2700)
set -euo pipefail

PROG=vm-check
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/lib-debug.sh
. "$SHMDEV_SCRIPTS/lib-debug.sh"

# Sections of vm/check.sh that must each print kselftest totals.
CHECK_SECTIONS="selftests-root selftests-tester libtests ringsync demo python selftests-m32 libtests-m32 demo-m32 bench stress fuzz faults lifecycle rig"

TOTAL_PASS=0
TOTAL_FAIL=0
TOTAL_SKIP=0
SUMMARY=()
# What failed, repeated after the timings so that the end of the output
# (all a CI log may keep) says why: first lines of each failing kernel.
FINDINGS=()

# count_kernel KVER PASS FAIL SKIP: add to the totals and the summary table.
count_kernel() {
	TOTAL_PASS=$((TOTAL_PASS + $2))
	TOTAL_FAIL=$((TOTAL_FAIL + $3))
	TOTAL_SKIP=$((TOTAL_SKIP + $4))
	SUMMARY+=("$(printf '%-28s %4d passed, %4d failed, %4d skipped' "$1" "$2" "$3" "$4")")
}

# section_line "NAME PASS FAIL SKIP": one line of a kernel's summary.
section_line() {
	local name pass fail skip

	read -r name pass fail skip <<<"$1"
	printf '%-18s %4d passed, %4d failed, %4d skipped' "$name" "$pass" "$fail" "$skip"
}

# test_kernel KVER: boot KVER with the module, parse and report its results.
test_kernel() {
	local kver=$1 work kind text pass=0 fail=0 skip=0 progs
	local sections=() failed=() problems=() dmesg=()

	work=$SHMDEV_BUILD/$kver/check
	# The programs of the kernel's architecture (lib-cross.sh).
	progs=$(programs_root "$kver")
	run_vm "$kver" "$work" "$SHMDEV_SCRIPTS/vm/check.sh" \
		"$progs/examples/ring-producer:/opt/ring-producer" \
		"$progs/examples/ring-consumer:/opt/ring-consumer" \
		"$progs/examples/table-writer:/opt/table-writer" \
		"$progs/examples/table-reader:/opt/table-reader" \
		"$progs/examples/fdpass-demo:/opt/fdpass-demo" \
		"$progs/examples/ring-epoll:/opt/ring-epoll" \
		"$progs/examples/ring-uring:/opt/ring-uring" \
		"$progs/examples/camera-producer:/opt/camera-producer" \
		"$SHMDEV_SCRIPTS/demo.sh:/opt/demo.sh" \
		"$progs/libtests:/libtests" \
		"$progs/hosttests/vm:/ringsync" \
		"$progs/benchprog/shmdev_bench:/opt/shmdev_bench"

	while read -r kind text; do
		case $kind in
		TOTALS) read -r pass fail skip <<<"$text" ;;
		SECTION) sections+=("$(section_line "$text")") ;;
		FAILED) failed+=("$text") ;;
		DETAIL) failed+=("    $text") ;;
		PROBLEM) problems+=("$text") ;;
		DMESG) dmesg+=("$text") ;;
		esac
	done < <(parse_console "$work/console.log" "$VM_NONCE" "$CHECK_SECTIONS")

	echo
	echo "=== $(kernel_label "$kver"): $pass passed, $fail failed, $skip skipped"
	printf '  %s\n' "${sections[@]}"
	print_list "failing tests:" "${failed[@]}"
	print_list "problems:" "${problems[@]}"
	print_list "offending kernel log lines:" "${dmesg[@]}"
	if vm_unfinished "$work/console.log"; then
		echo "the last lines of the console log:"
		console_tail "$work/console.log"
	fi
	echo "console log: $work/console.log"
	count_kernel "$(kernel_label "$kver")" "$pass" "$fail" "$skip"
	if ((fail)); then
		add_findings "$(kernel_label "$kver")" "${failed[@]}" \
			"${problems[@]}" "${dmesg[@]}"
		if vm_unfinished "$work/console.log"; then
			mapfile -t -O "${#FINDINGS[@]}" FINDINGS < <(console_tail "$work/console.log" | tail -n 12)
		fi
	fi
}

# add_findings LABEL LINE...: a failing kernel's first lines for the end.
add_findings() {
	local label=$1

	shift
	FINDINGS+=("$label:")
	while (($#)) && ((${#FINDINGS[@]} < 60)); do
		FINDINGS+=("  $1")
		shift
	done
}

# test_packaging: DKMS, make install, the Debian packages and the udev
# rule (scripts/pkg-check.sh, TAP), as one more summary row.
test_packaging() {
	local log=$SHMDEV_BUILD/pkg-check.log rc=0 pass fail skip kver names=()
	local lines=()

	# Debian's packages are tested for the host's architecture.
	for kver in "${KVERS[@]}"; do
		kernel_foreign "$kver" || names+=("${KERNEL_ENTRY[$kver]}")
	done
	# An empty KERNELS would mean the whole matrix to pkg-check.sh.
	if ((${#names[@]} == 0)); then
		echo "=== packaging: skipped: no Debian kernel selected (the debug kernel has no packages)"
		count_kernel "packaging (skipped: see above)" 0 0 1
		return 0
	fi
	phase_begin "packaging (pkg-check.sh)"
	KERNELS="${names[*]}" "$SHMDEV_SCRIPTS/pkg-check.sh" >"$log" 2>&1 || rc=$?
	pass=$(grep -E '^ok [0-9]+ ' "$log" | grep -c -v '# SKIP' || true)
	skip=$(grep -c -E '^ok [0-9]+ .*# SKIP' "$log" || true)
	fail=$(grep -c -E '^not ok [0-9]+ ' "$log" || true)
	if ((rc != 0 && fail == 0)); then
		fail=1
	fi
	echo
	echo "=== packaging: $pass passed, $fail failed, $skip skipped"
	if ((fail)); then
		grep -E -A 20 '^not ok ' "$log" | head -n 80
		tail -n 20 "$log"
		mapfile -t lines < <(grep -E '^not ok ' "$log"; tail -n 5 "$log")
		add_findings packaging "${lines[@]}"
	fi
	echo "log: $log"
	count_kernel "packaging (DKMS, install, deb)" "$pass" "$fail" "$skip"
	phase_end
}

# build_and_count_module KVER: build the module for KVER; a failure counts.
build_and_count_module() {
	phase_begin "build module ($1)"
	if ! build_module "$1"; then
		echo "=== $(kernel_label "$1"): module build failed or warned (log above)"
		count_kernel "$(kernel_label "$1")" 0 1 0
		phase_end
		return 1
	fi
	phase_end
}

debug_kernel_failed() {
	echo "=== debug kernel: build failed (log above)"
	count_kernel "debug kernel ($DEBUG_KERNEL_TAG)" 0 1 0
}

main() {
	local kver built=() pass fail skip hostlog entry arch

	require_root
	require_module_sources
	[[ -f $SELFTESTS_DIR/Makefile ]] ||
		die "$SELFTESTS_DIR/Makefile missing: the selftests are not there yet"

	phase_begin "resolve kernels"
	resolve_kernels
	phase_end
	for entry in "${SKIPPED_ENTRIES[@]}"; do
		echo "=== ${entry%%:*}: skipped:${entry#*:}"
		count_kernel "${entry%%:*} (skipped: see above)" 0 0 1
	done

	prepare_host_packages
	# The debug-kernel lane: one more kernel, built here (in the
	# background, while the rest of the run goes on) or cached, that is
	# not part of KVERS (packaging tests only Debian's kernels).
	if debug_kernel_enabled; then
		phase_begin "debug kernel (cache, or start its build)"
		debug_kernel_begin || debug_kernel_failed
		phase_end
	fi
	prepare_host_files

	phase_begin "build selftests, examples and library tests"
	build_selftests
	build_examples
	build_libtests
	build_ringsync
	build_benchprog
	build_m32
	build_python_stage
	for arch in $(cross_arches); do
		build_cross "$arch"
	done
	phase_end

	phase_begin "ring and sync tests on the host"
	hostlog=$SHMDEV_BUILD/hosttests.log
	read -r pass fail skip < <(run_host_tests "$hostlog")
	if ((fail)); then
		grep -E '^(# )*not ok|Totals:|error:' "$hostlog" | tail -n 40
		echo "=== host tests failed: $hostlog"
	fi
	count_kernel "host: ring, sync (plain, ASan, TSan, 32-bit)" "$pass" "$fail" "$skip"
	phase_end

	phase_begin "Python package tests on the host"
	hostlog=$SHMDEV_BUILD/python-host.log
	read -r pass fail skip < <(run_host_python "$hostlog")
	if ((fail)); then
		tail -n 40 "$hostlog"
		echo "=== host Python tests failed: $hostlog"
	fi
	count_kernel "host: Python package (memfd)" "$pass" "$fail" "$skip"
	phase_end

	phase_begin "model check of the ring's memory ordering (Spin)"
	hostlog=$SHMDEV_BUILD/ring-model.log
	read -r pass fail skip < <(run_host_model "$hostlog")
	if ((fail)); then
		grep -E '^(not ok|ok )|errors:' "$hostlog" | tail -n 40
		echo "=== ring model check failed: $hostlog"
	fi
	count_kernel "host: ring ordering model (Spin)" "$pass" "$fail" "$skip"
	phase_end

	phase_begin "libFuzzer on the host (size and name parsing, ring header)"
	hostlog=$SHMDEV_BUILD/hostfuzz.log
	read -r pass fail skip < <(run_host_fuzz "$hostlog")
	if ((fail)); then
		grep -E '^(# |not ok|ok )|error:' "$hostlog" | tail -n 40
		echo "=== host fuzzing failed: $hostlog"
	fi
	count_kernel "host: libFuzzer (parse, ring)" "$pass" "$fail" "$skip"
	phase_end

	for kver in "${KVERS[@]}"; do
		build_and_count_module "$kver" && built+=("$kver")
	done

	phase_begin "checkpatch --strict"
	if check_style; then
		count_kernel "checkpatch --strict" 1 0 0
	else
		echo "=== checkpatch --strict: the report above fails the run"
		count_kernel "checkpatch --strict" 0 1 0
	fi
	phase_end

	for kver in "${built[@]}"; do
		test_kernel "$kver"
	done

	test_packaging

	if debug_kernel_enabled && [[ -n $DEBUG_KERNEL_DIR ]]; then
		phase_begin "debug kernel (the rest of its build)"
		debug_kernel_end || debug_kernel_failed
		phase_end
		for kver in "${DEBUG_KVERS[@]}"; do
			build_and_count_module "$kver" && test_kernel "$kver"
		done
	fi

	echo
	echo "=== summary"
	printf '%s\n' "${SUMMARY[@]}"
	phase_report
	if ((${#FINDINGS[@]})); then
		echo "=== what failed (details above)"
		printf '%s\n' "${FINDINGS[@]}"
	fi
	echo "$TOTAL_PASS passed, $TOTAL_FAIL failed, $TOTAL_SKIP skipped"
	if ((TOTAL_FAIL)); then
		exit 1
	fi
}

main "$@"
