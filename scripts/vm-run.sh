#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vm-run.sh - run a shell script inside a QEMU VM with shmdev loaded.
#
# Usage: vm-run.sh [-k KVER | -d] [-a SRC[:DEST]]... [-v] SCRIPT
#
# Builds the module for one kernel (default: the matrix entry 6.1, Debian
# bookworm's 6.1 line, or the first of $KERNELS), boots it as vm-check.sh
# does, loads the module (/dev/shmdev mode 0666), runs SCRIPT with busybox sh
# as root in /tmp, and prints what the script printed. The selftests, when
# present, are built and put at /selftests, the library tests at /libtests
# (unless -a puts something there), Python with pytest, numpy and the
# shmdev package at /python (PYTHONPATH=/python, and
# SHMDEV_LIBRARY=/libtests/libshmdev.so.1); users tester (1000) and
# tester2 (1001) exist for su. On an arm64 kernel the programs are the
# arm64 builds (build/cross-arm64, lib-cross.sh) and there is no Python;
# -a's executables must then be arm64 programs too.
#
#   -k KVER          kernel to boot: an entry of the matrix in lib.sh (6.1,
#                    6.12, 6.12-rt, sid, sid-rt, rc, arm64, arm64-16k; debug
#                    is -d) or a bookworm kernel release (e.g.
#                    6.12.118+deb12-amd64)
#   -d               boot the debug kernel of vm-check.sh's debug lane (KASAN,
#                    lockdep, kmemleak), building it first if it is not cached
#   -a SRC[:DEST]    also put file or directory SRC at DEST in the VM
#                    (default /opt/<name>); executables bring their shared
#                    libraries along
#   -v               print the whole console log, not only the script's output
#
# Exit status: the script's, or 1 if the VM did not finish or the kernel log
# shows a splat (BUG, WARNING, Oops, KASAN, lockdep, leak ...).
set -euo pipefail

PROG=vm-run
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/lib-debug.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib-debug.sh"

usage() {
	sed -n '3,/^set -e/{/^set -e/d; s/^# \{0,1\}//; p}' "${BASH_SOURCE[0]}" >&2
	exit 2
}

main() {
	local kver='' verbose=0 debug=0 opt script work status=''
	local extras=() dmesg=() problems=()

	while getopts 'k:da:vh' opt; do
		case $opt in
		k) kver=$OPTARG ;;
		d)
			debug=1
			SHMDEV_DEBUG_KERNEL=1
			;;
		a) extras+=("$OPTARG") ;;
		v) verbose=1 ;;
		*) usage ;;
		esac
	done
	shift $((OPTIND - 1))
	(($# == 1)) || usage
	if [[ $kver == debug ]]; then
		kver=''
		debug=1
		SHMDEV_DEBUG_KERNEL=1
	fi
	script=$(realpath "$1")
	[[ -f $script ]] || die "$1: no such file"

	require_root
	require_module_sources

	phase_begin "resolve kernels"
	# One kernel: -k's (an entry of the matrix or a bookworm release), the
	# first of $KERNELS, or the matrix entry 6.1.
	KERNELS=${kver:-${KERNELS:-6.1}}
	KVERS_LIMIT=1
	resolve_kernels
	((debug == 0)) || DEBUG_WANTED=1
	phase_end

	if ((${#KVERS[@]} == 0 && debug == 0)); then
		die "no kernel to boot for '$KERNELS'${SKIPPED_ENTRIES[*]:+: ${SKIPPED_ENTRIES[*]}}"
	fi
	prepare_host
	kver=${KVERS[0]:-}
	if ((debug)); then
		phase_begin "debug kernel"
		debug_kernel_prepare || die "the debug kernel could not be built"
		phase_end
		kver=${DEBUG_KVERS[0]:?SHMDEV_DEBUG_KERNEL is 0}
	fi
	log "kernel: $kver"

	if kernel_foreign "$kver"; then
		# All test programs for its architecture (lib-cross.sh).
		phase_begin "build the test programs for $(kernel_arch "$kver")"
		build_cross "$(kernel_arch "$kver")"
		[[ " ${extras[*]} " == *:/libtests\ * ]] ||
			extras+=("$(programs_root "$kver")/libtests:/libtests")
		phase_end
	fi
	if [[ -f $SELFTESTS_DIR/Makefile ]] && ! kernel_foreign "$kver"; then
		phase_begin "build selftests"
		build_selftests
		phase_end
	fi
	if [[ -f $LIBTESTS_DIR/Makefile && " ${extras[*]} " != *:/libtests\ * ]]; then
		phase_begin "build library tests"
		build_libtests
		extras+=("$LIBTESTS_OUT:/libtests")
		phase_end
	fi

	if [[ -d $PYTHON_DIR/shmdev ]] && ! kernel_foreign "$kver"; then
		phase_begin "stage Python"
		build_python_stage
		phase_end
	fi

	phase_begin "build module ($kver)"
	build_module "$kver" || die "module build failed"
	phase_end

	work=$SHMDEV_BUILD/$kver/run
	run_vm "$kver" "$work" "$script" "${extras[@]}"

	if ((verbose)); then
		tr -d '\r' <"$work/console.log"
	else
		console_output "$work/console.log" "$VM_NONCE"
	fi

	read_payload_findings "$work/console.log" "$VM_NONCE"
	status=$VM_PAYLOAD_STATUS
	problems=("${VM_PROBLEMS[@]}")
	dmesg=("${VM_DMESG[@]}")

	phase_report
	if ((${#dmesg[@]})); then
		log "offending kernel log lines:"
		printf '  %s\n' "${dmesg[@]}" >&2
	fi
	if ((${#problems[@]})); then
		printf '[%s] %s\n' "$PROG" "${problems[@]}" >&2
		log "console log: $work/console.log"
		exit 1
	fi
	if [[ -z $status ]]; then
		log "the script did not run (see $work/console.log)"
		exit 1
	fi
	log "script exit status: $status"
	exit "$status"
}

main "$@"
