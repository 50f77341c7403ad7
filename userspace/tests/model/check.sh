#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check.sh - model-check the SPSC ring's ordering (ring.pml) with Spin, as
# TAP.
#
# Usage: bash check.sh [-q] [-k]
#   -q  no counterexample trails in the output
#   -k  keep the work directory (pan sources, trails) and say where
#
# The faithful model must verify: "errors: 0" over the full state space
# (no depth limit hit, no search cut short), both with the fixed message
# sizes and with every size chosen by the producer. Each mutant must fail
# the way it should: an assertion (a stale or overwritten message) or an
# invalid end state (a lost wake-up: a thread asleep in futex_wait() with
# nobody left to wake it). Mutants are searched breadth-first, so their
# trails are the shortest ones; the trail is printed as diagnostics, the
# model's printf lines with the locations named.
#
# Environment: SPIN (default spin), CC (default cc), MODEL_MEMLIM (MB,
# default 4096), PAN_OPT (default -O0: pan.c takes longer to optimise
# than the searches gain from it). One pan runs at a time. Exit status 0
# if no test failed; without spin every test is skipped and the status
# is 0.

HERE=$(cd "$(dirname "$0")" && pwd)
SPIN=${SPIN:-spin}
CC=${CC:-cc}
MEMLIM=${MODEL_MEMLIM:-4096}
PAN_OPT=${PAN_OPT:--O0}
QUIET=0
KEEP=0

while getopts qk opt; do
	case $opt in
	q) QUIET=1 ;;
	k) KEEP=1 ;;
	*) echo "usage: $0 [-q] [-k]" >&2; exit 2 ;;
	esac
done

# name | spin -D options | pan build options | pan run options | expected
# expected: "verify", "assert" (assertion violated) or "deadlock" (invalid
# end state).
TESTS=(
	"faithful, sizes 2 3 2 3|-DM=4||-w24|verify"
	"faithful, any sizes|-DNONDET_SIZES -DM=3||-w25|verify"
	"mutant RELAXED_PUBLISH: stale payload|-DMUTANT_RELAXED_PUBLISH|-DBFS||assert"
	"mutant RELAXED_ACQUIRE: stale payload|-DMUTANT_RELAXED_ACQUIRE|-DBFS||assert"
	"mutant RELAXED_RELEASE: overwrite before read (-E)|-DMUTANT_RELAXED_RELEASE|-DBFS|-E|assert"
	"mutant RELAXED_RELEASE: lost wake-up|-DMUTANT_RELAXED_RELEASE|-DBFS||deadlock"
	"mutant RELAXED_SLEEPERS: lost wake-up|-DMUTANT_RELAXED_SLEEPERS|-DBFS||deadlock"
	"mutant NO_SLEEPER_RECHECK=CONS: lost wake-up|-DMUTANT_NO_SLEEPER_RECHECK=CONS|-DBFS||deadlock"
	"mutant NO_SLEEPER_RECHECK=PROD: lost wake-up|-DMUTANT_NO_SLEEPER_RECHECK=PROD|-DBFS||deadlock"
	"mutant EV_AFTER_TRY=CONS: lost wake-up|-DMUTANT_EV_AFTER_TRY=CONS|-DBFS||deadlock"
	"mutant EV_AFTER_TRY=PROD: lost wake-up|-DMUTANT_EV_AFTER_TRY=PROD|-DBFS||deadlock"
)

n=0 pass=0 fail=0 skip=0

echo "TAP version 13"
echo "1..${#TESTS[@]}"

totals() {
	echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
}

if ! command -v "$SPIN" >/dev/null 2>&1; then
	for t in "${TESTS[@]}"; do
		n=$((n + 1)) skip=$((skip + 1))
		echo "ok $n - ${t%%|*} # SKIP spin not installed (apt-get install spin)"
	done
	totals
	exit 0
fi
if ! command -v "$CC" >/dev/null 2>&1; then
	for t in "${TESTS[@]}"; do
		n=$((n + 1)) skip=$((skip + 1))
		echo "ok $n - ${t%%|*} # SKIP no C compiler ($CC) for pan"
	done
	totals
	exit 0
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ring-model.XXXXXX") || exit 1
if [ "$KEEP" = 1 ]; then
	trap 'echo "# work directory: $WORK"' EXIT
else
	trap 'rm -rf "$WORK"' EXIT
fi
trap 'exit 130' INT TERM
cp "$HERE/ring.pml" "$HERE/ring_block.pml" "$WORK/" || exit 1
cd "$WORK" || exit 1

echo "# $("$SPIN" -V 2>&1 | head -n 1)"

# Location numbers of the model (N = 4 cells) to names, for the trails.
names() {
	sed -e 's/loc 4\b/prod_pos/g; s/loc 5\b/cons_pos/g' \
	    -e 's/loc 6\b/prod_ev/g; s/loc 7\b/cons_ev/g' \
	    -e 's/loc 8\b/cons_sleepers/g; s/loc 9\b/prod_sleepers/g' \
	    -e 's/loc \([0-3]\)\b/cell \1/g' \
	    -e 's/(kind 0,/(relaxed,/; s/(kind 2,/(seq_cst,/' \
	    -e 's/\bT0 /producer /; s/\bT1 /consumer /'
}

# trail SPINOPTS: the last counterexample as diagnostics.
trail() {
	[ "$QUIET" = 1 ] && return
	# shellcheck disable=SC2086
	"$SPIN" $1 -t ring.pml 2>&1 |
		grep -E '^ *T[01] |assertion violated|^spin: text of failed' |
		sed -e 's/^ *//' | names | sed 's/^/#     /'
	echo "#     (end: $(grep -E '^pan:1: ' pan.out | head -n 1 |
		sed 's/^pan:1: //'))"
}

i=0
for t in "${TESTS[@]}"; do
	i=$((i + 1))
	IFS='|' read -r name sopts bopts ropts want <<<"$t"
	n=$((n + 1))
	rm -f pan pan.* ring.pml.trail _spin_nvr.tmp
	start=$(date +%s.%N)
	# shellcheck disable=SC2086
	if ! "$SPIN" $sopts -a ring.pml >spin.out 2>&1; then
		fail=$((fail + 1))
		echo "not ok $n - $name"
		echo "# spin -a failed:"
		sed 's/^/#   /' spin.out
		continue
	fi
	# shellcheck disable=SC2086
	if ! "$CC" $PAN_OPT -w -DSAFETY -DCOLLAPSE -DMEMLIM="$MEMLIM" $bopts \
		-o pan pan.c >cc.out 2>&1; then
		fail=$((fail + 1))
		echo "not ok $n - $name"
		echo "# building pan failed:"
		sed 's/^/#   /' cc.out
		continue
	fi
	# shellcheck disable=SC2086
	./pan -m1000000 $ropts >pan.out 2>&1
	end=$(date +%s.%N)
	secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.out | head -n 1)
	stored=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' pan.out |
		head -n 1)
	trans=$(sed -n 's/^ *\([0-9.e+]*\) transitions.*/\1/p' pan.out |
		head -n 1)
	vec=$(sed -n 's/^State-vector \([0-9]*\) byte.*/\1/p' pan.out)
	summary="states stored: ${stored:-?}, transitions: ${trans:-?}"
	summary="$summary, state vector: ${vec:-?} bytes"
	summary="$summary, errors: ${errors:-?}, ${secs}s"
	why=
	case $want in
	verify)
		if [ "$errors" != 0 ]; then
			why="the faithful model has a counterexample"
		elif ! grep -q '^Full statespace search' pan.out; then
			why="not a full state space search"
		elif grep -qE 'max search depth too small|Search not completed|out of memory' \
			pan.out; then
			why="the search was cut short"
		fi
		;;
	assert)
		if [ "${errors:-0}" = 0 ]; then
			why="no counterexample found"
		elif ! grep -q '^pan:1: assertion violated' pan.out; then
			why="expected an assertion violation, got: $(grep '^pan:1:' pan.out)"
		fi
		;;
	deadlock)
		if [ "${errors:-0}" = 0 ]; then
			why="no counterexample found"
		elif ! grep -q '^pan:1: invalid end state' pan.out; then
			why="expected an invalid end state, got: $(grep '^pan:1:' pan.out)"
		fi
		;;
	esac
	if [ -z "$why" ]; then
		pass=$((pass + 1))
		echo "ok $n - $name"
		echo "# $summary"
		[ "$want" != verify ] && trail "$sopts"
	else
		fail=$((fail + 1))
		echo "not ok $n - $name"
		echo "# $why; $summary"
		grep -E '^pan:|^Warning|error' pan.out | sed 's/^/#   /'
		[ -f ring.pml.trail ] && QUIET=0 trail "$sopts"
	fi
done

totals
[ "$fail" -eq 0 ]
