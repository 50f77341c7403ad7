#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench.sh - run shmdev_bench on each kernel of the matrix in a QEMU VM.
#
# Usage: bench.sh [-q] [-r N] [-n] [-b PATH]
#
# For each kernel (Debian bookworm's 6.1 and 6.12 lines, resolved from the
# archive as vm-check.sh does; never the debug kernel, whose timings mean
# nothing): build the module and userspace/bench, boot the kernel under
# QEMU TCG with the module loaded, run "shmdev_bench all", then the Python
# benchmark python/bench/pybench.py (the host's python3 and numpy, the
# shmdev package and the library tests' libshmdev, staged by lib.sh's
# build_python_stage), and write the JSON Lines they print to
# build/bench/<kver>/results.jsonl. Then bench-report.py
# prints the report (also build/bench/report.md, and a plot per kernel,
# build/bench/<kver>/sweep.png): shmdev against its peers, the Python
# section, the performance targets (MET or GAP) and regressions against
# the baselines. Last, each
# kernel's results become its new baseline, bench/results/<kver>.jsonl
# (meant to be committed).
#
#   -q       quick run (shmdev_bench --quick: sizes and counts divided by 16;
#            pybench.py --quick: smaller counts, a 16 MiB array)
#   -r N     rounds per measurement, 1 to 99 (--rounds N of both programs;
#            default 5)
#   -n       leave the baselines in bench/results/ as they are
#   -b PATH  compare with these results instead of bench/results/ (a
#            <kver>.jsonl file, or a directory of them)
#
# Environment:
#   KERNELS="name ..."  entries of the kernel matrix (lib.sh) or bookworm
#                       kernel releases to run (default: 6.1 6.12)
#   SHMDEV_CACHE        cache directory (default /var/cache/shmdev-vm)
#   SHMDEV_BUILD        build directory (default <repo>/build)
#   VM_TIMEOUT          seconds one VM may run (default 3600, 1800 with -q)
#   VM_MEM, VM_SMP      VM memory and CPUs (default 4G, 2)
#
# Exit status: 0 when every VM ran to the end and produced results (missed
# targets and regressions are reported, not failures); 1 if a build or a VM
# failed, a VM timed out, shmdev_bench or pybench.py exited non-zero, or the
# kernel log shows a splat.
set -euo pipefail

# Before lib.sh sets its defaults: benchmarks get more memory, and a
# longer timeout unless the user chose one.
VM_MEM=${VM_MEM:-4G}
BENCH_VM_TIMEOUT=${VM_TIMEOUT:-}

PROG=bench
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BENCH_DIR=$SHMDEV_ROOT/userspace/bench
BENCH_OUT=$SHMDEV_BUILD/bench
BENCH_PROG=shmdev_bench
BASELINE_DIR=$SHMDEV_ROOT/bench/results
REPORT=$SHMDEV_SCRIPTS/bench-report.py
# run_vm's extras for pybench.py (build_pybench).
BENCH_EXTRAS=()
# Debian's, which the packages below install (not another one on PATH).
PYTHON=/usr/bin/python3
# Python and gnuplot for the report; installed with the rig's packages.
RIG_EXTRA_PACKAGES+=(python3 gnuplot-nox)

usage() {
	sed -n '3,/^set -e/{/^set -e/d; s/^# \{0,1\}//; p}' "${BASH_SOURCE[0]}" >&2
	exit 2
}

# build_bench: make -C userspace/bench (a warning fails, as for the rig's
# other programs); sets BENCH_BIN to the static binary it built.
build_bench() {
	local cand

	[[ -f $BENCH_DIR/Makefile ]] ||
		die "$BENCH_DIR/Makefile missing: the benchmark program is not there yet"
	build_programs bench "$BENCH_DIR" "$BENCH_OUT/bin"
	BENCH_BIN=
	for cand in "$BENCH_OUT/bin/$BENCH_PROG" "$BENCH_DIR/$BENCH_PROG"; do
		if [[ -x $cand ]]; then
			BENCH_BIN=$cand
			break
		fi
	done
	[[ -n $BENCH_BIN ]] || die "make -C $BENCH_DIR produced no $BENCH_PROG"
	log "built $BENCH_BIN"
}

# build_pybench: what pybench.py needs in the VM: the library tests'
# directory (its libshmdev.so.1, at /libtests) and the staged Python, which
# make_initramfs then copies in. Sets BENCH_EXTRAS to run_vm's extras.
build_pybench() {
	BENCH_EXTRAS=()
	if [[ ! -f $PYTHON_DIR/bench/pybench.py ]]; then
		log "no $PYTHON_DIR/bench/pybench.py: the Python benchmark is left out"
		return
	fi
	build_libtests
	build_python_stage
	BENCH_EXTRAS=("$LIBTESTS_OUT:/libtests")
}

# extract_results LOG NONCE OUT: the JSON lines the payload tagged, each
# checked to be one JSON object (a kernel message that cut into a line
# spoils it); prints the number of lines left out.
extract_results() {
	awk -v tag="SHMDEV-BENCH $2 " '
		{ sub(/\r+$/, "") }
		(i = index($0, tag)) { print substr($0, i + length(tag)) }
	' "$1" | "$PYTHON" -c '
import json, sys
bad = 0
with open(sys.argv[1], "w", encoding="utf-8") as out:
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            ok = isinstance(json.loads(line), dict)
        except ValueError:
            ok = False
        if ok:
            out.write(line.strip() + "\n")
        else:
            bad += 1
print(bad)
' "$3"
}

# bench_kernel KVER ARGS: boot KVER, run the benchmarks with ARGS and write
# $BENCH_OUT/KVER/results.jsonl. Returns 1 if the run failed (results may
# still be there, partial).
bench_kernel() {
	local kver=$1 args=$2 work results status='' bad
	local problems=() dmesg=() failing=()

	work=$BENCH_OUT/$kver
	results=$work/results.jsonl
	mkdir -p "$work"
	rm -f "$results"
	printf 'SHMDEV_BENCH_ARGS=%q\n' "$args" >"$work/bench.env"
	run_vm "$kver" "$work" "$SHMDEV_SCRIPTS/vm/bench.sh" \
		"$BENCH_BIN:/opt/$BENCH_PROG" "$work/bench.env:/etc/shmdev-bench.env" \
		"${BENCH_EXTRAS[@]}"

	read_payload_findings "$work/console.log" "$VM_NONCE"
	status=$VM_PAYLOAD_STATUS
	problems=("${VM_PROBLEMS[@]}")
	dmesg=("${VM_DMESG[@]}")

	bad=$(extract_results "$work/console.log" "$VM_NONCE" "$results")
	if ((bad)); then
		log "$kver: $bad result line(s) were not JSON (cut by kernel messages?), left out"
	fi
	if [[ -z $status ]]; then
		problems+=("the benchmark payload did not finish")
	elif ((status != 0)); then
		# The payload says which program failed ("# bench: NAME exited
		# with status N").
		mapfile -t failing < <(console_output "$work/console.log" "$VM_NONCE" |
			sed -n 's/^# bench: \(.* exited with status [1-9][0-9]*\)$/\1/p')
		((${#failing[@]})) || failing=("the benchmark payload exited with status $status")
		problems+=("${failing[@]}")
	fi
	# shmdev_bench's meta record (pybench.py's says "program": "pybench").
	if ! awk '/"bench": *"meta"/ && !/"program": *"pybench"/ { found = 1 }
		END { exit !found }' "$results"; then
		problems+=("no results (no meta record) in the console log")
	fi

	echo
	echo "=== $kver: $(grep -c -v '"bench": *"meta"' "$results" || true) records in $results"
	print_list "problems:" "${problems[@]}"
	print_list "offending kernel log lines:" "${dmesg[@]}"
	if vm_unfinished "$work/console.log"; then
		echo "the last lines of the console log:"
		console_tail "$work/console.log"
	elif ((${#problems[@]})); then
		echo "the last lines the payload printed (not results):"
		console_output "$work/console.log" "$VM_NONCE" |
			grep -v "^SHMDEV-BENCH $VM_NONCE " | tail -n 30 | sed 's/^/  | /'
	fi
	echo "console log: $work/console.log"
	((VM_STATUS == 0 && ${#problems[@]} == 0))
}

main() {
	local quick=0 rounds='' update=1 baseline='' opt kver args=''
	local ok=() failed=() results=() report_args=() rc=0

	while getopts 'qr:nb:h' opt; do
		case $opt in
		q) quick=1 ;;
		r) rounds=$OPTARG ;;
		n) update=0 ;;
		b) baseline=$OPTARG ;;
		*) usage ;;
		esac
	done
	shift $((OPTIND - 1))
	(($# == 0)) || usage
	if [[ -n $rounds && ! $rounds =~ ^[1-9][0-9]?$ ]]; then
		die "-r: rounds must be a number from 1 to 99, not \"$rounds\""
	fi
	[[ -z $baseline || -e $baseline ]] || die "-b: $baseline does not exist"
	if ((quick)); then
		args+=" --quick"
	fi
	[[ -z $rounds ]] || args+=" --rounds $rounds"
	args=${args# }
	if ((quick)); then
		VM_TIMEOUT=${BENCH_VM_TIMEOUT:-1800}
	else
		VM_TIMEOUT=${BENCH_VM_TIMEOUT:-3600}
	fi

	require_root
	require_module_sources
	[[ -f $BENCH_DIR/Makefile ]] ||
		die "$BENCH_DIR/Makefile missing: the benchmark program is not there yet"

	phase_begin "resolve kernels"
	# Benchmarks take long: bookworm's two lines unless KERNELS says more.
	KERNELS=${KERNELS:-6.1 6.12}
	resolve_kernels
	for kver in "${KVERS[@]}"; do
		if [[ $kver == *debug* ]]; then
			log "leaving out $kver: no benchmarks on a debug kernel"
		elif kernel_foreign "$kver"; then
			log "leaving out $kver: no benchmarks under whole-machine emulation of $(kernel_arch "$kver")"
		else
			ok+=("$kver")
		fi
	done
	((${#ok[@]})) || die "no Debian kernel to benchmark"
	KVERS=("${ok[@]}")
	ok=()
	phase_end

	prepare_host

	phase_begin "build the benchmark program"
	build_bench
	phase_end

	phase_begin "library tests and Python for pybench.py"
	build_pybench
	phase_end

	for kver in "${KVERS[@]}"; do
		phase_begin "build module ($kver)"
		if ! build_module "$kver"; then
			phase_end
			echo "=== $kver: module build failed or warned (log above)"
			failed+=("$kver")
			continue
		fi
		phase_end
		log "$kver: shmdev_bench ${args:+$args }all${BENCH_EXTRAS[*]:+, pybench.py${args:+ $args}} (VM timeout $VM_TIMEOUT s, $VM_MEM)"
		if bench_kernel "$kver" "$args"; then
			ok+=("$kver")
		else
			failed+=("$kver")
		fi
		[[ ! -s $BENCH_OUT/$kver/results.jsonl ]] ||
			results+=("$BENCH_OUT/$kver/results.jsonl")
	done

	if ((${#results[@]})); then
		phase_begin "report"
		[[ -z $baseline ]] || report_args+=(--baseline "$baseline")
		echo
		if ! "$PYTHON" "$REPORT" --out-dir "$BENCH_OUT" "${report_args[@]}" \
			"${results[@]}"; then
			log "bench-report.py failed"
			rc=1
		fi
		phase_end
		log "report: $BENCH_OUT/report.md"
	fi

	# The new baselines: only complete runs, and only after the report
	# has compared them with the old ones.
	if ((update && rc == 0 && ${#ok[@]})); then
		mkdir -p "$BASELINE_DIR"
		for kver in "${ok[@]}"; do
			cp "$BENCH_OUT/$kver/results.jsonl" "$BASELINE_DIR/$kver.jsonl"
			log "new baseline: $BASELINE_DIR/$kver.jsonl"
		done
	fi

	phase_report
	if ((${#failed[@]})); then
		log "failed: ${failed[*]}"
		rc=1
	fi
	exit "$rc"
}

main "$@"
