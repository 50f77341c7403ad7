#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
#
# run-examples.sh - run the Python examples with their producers, as TAP.
#
# Usage: [EXAMPLES_BIN=DIR] PYTHONPATH=... sh run-examples.sh
#
# Each pair runs with the producer in the background and the consumer in
# the foreground; a test passes when both exit as they should and print
# what they should:
#
#   camera-producer (C, in $EXAMPLES_BIN, default /opt) with
#   camera_consumer.py (numpy), intact frames then one corrupted frame;
#   asyncio_consumer.py produce with asyncio_consumer.py consume, intact
#   messages then one corrupted message;
#   and at the end, that none of them left a segment behind.
#
# python3 is the one in PATH; the caller makes the shmdev package
# importable (PYTHONPATH) and its library loadable (SHMDEV_LIBRARY). The
# numpy tests skip if numpy cannot be imported, all of them if /dev/shmdev
# is absent. Plain POSIX sh: it runs under busybox sh in the test VM.
# Exit status 0 if no test failed.

HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${EXAMPLES_BIN:-/opt}
PREFIX=pyex$$
# Seconds the programs wait for each other, and a bound on each of them.
WAIT=30
LIMIT=300

TMP=${TMPDIR:-/tmp}/run-examples.$$
mkdir -p "$TMP" || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

NTESTS=5
n=0 pass=0 fail=0 skip=0

echo "TAP version 13"
echo "1..$NTESTS"

ok() {
	n=$((n + 1)) pass=$((pass + 1))
	echo "ok $n - $1"
}

skip() {
	n=$((n + 1)) skip=$((skip + 1))
	echo "ok $n - $1 # SKIP $2"
}

# not_ok NAME WHY [FILE...]: a failure, with the reasons and the programs'
# output as diagnostics.
not_ok() {
	n=$((n + 1)) fail=$((fail + 1))
	echo "not ok $n - $1"
	echo "# $2"
	shift 2
	for f; do
		echo "# --- $(basename "$f"):"
		sed 's/^/#   /' "$f"
	done
}

totals() {
	echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
}

# bounded COMMAND...: runs COMMAND, killed after LIMIT seconds if timeout(1)
# is there to do it (a hung program would otherwise hang the tests).
if command -v timeout >/dev/null 2>&1; then
	bounded() { timeout "$LIMIT" "$@"; }
else
	bounded() { "$@"; }
fi

# expect WHAT COMMAND...: runs the check COMMAND; if it fails, adds WHAT to
# the problems of the current test.
problems=
expect() {
	what=$1
	shift
	"$@" || problems="$problems${problems:+; }$what"
}

# verdict NAME: ok, or not ok with the problems found and the outputs.
verdict() {
	if [ -z "$problems" ]; then
		ok "$1"
	else
		not_ok "$1" "$problems" "$TMP/producer.out" "$TMP/consumer.out"
	fi
	problems=
}

# pair PRODUCER... -- CONSUMER...: runs the producer in the background and
# the consumer in the foreground; their exit statuses in $pst and $cst,
# their outputs (stdout and stderr) in $TMP/producer.out and consumer.out.
pair() {
	: >"$TMP/producer.cmd"
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		printf '%s\n' "$1" >>"$TMP/producer.cmd"
		shift
	done
	shift
	(
		set --
		while IFS= read -r arg; do
			set -- "$@" "$arg"
		done <"$TMP/producer.cmd"
		bounded "$@"
	) >"$TMP/producer.out" 2>&1 &
	ppid=$!
	bounded "$@" >"$TMP/consumer.out" 2>&1
	cst=$?
	wait "$ppid"
	pst=$?
}

has() {
	grep -q -E "$1" "$TMP/$2"
}

if [ ! -e /dev/shmdev ]; then
	for t in "camera: numpy consumer checks every frame" \
		"camera: numpy consumer rejects a corrupted frame" \
		"asyncio: consumer awaits and checks every message" \
		"asyncio: consumer rejects a corrupted message" \
		"examples leave no segment behind"; do
		skip "$t" "no /dev/shmdev: the shmdev module is not loaded"
	done
	totals
	exit 0
fi

if ! python3 -c 'import shmdev' >"$TMP/import.out" 2>&1; then
	echo "# python3 cannot import shmdev (PYTHONPATH, SHMDEV_LIBRARY?):"
	sed 's/^/#   /' "$TMP/import.out"
fi

# 1, 2: camera-producer and the numpy consumer.
name="camera: numpy consumer checks every frame"
bad="camera: numpy consumer rejects a corrupted frame"
if ! python3 -c 'import numpy' >"$TMP/numpy.out" 2>&1; then
	why="numpy cannot be imported: $(tail -n 1 "$TMP/numpy.out")"
	skip "$name" "$why"
	skip "$bad" "$why"
elif [ ! -x "$BIN/camera-producer" ]; then
	not_ok "$name" "no $BIN/camera-producer (EXAMPLES_BIN=$BIN)"
	not_ok "$bad" "no $BIN/camera-producer (EXAMPLES_BIN=$BIN)"
else
	cam=$PREFIX-cam
	pair "$BIN/camera-producer" -W 320 -H 240 -n 120 -s 4 -t "$WAIT" \
		"$cam" -- python3 "$HERE/camera_consumer.py" -t "$WAIT" "$cam"
	expect "producer exit status $pst, not 0" [ "$pst" -eq 0 ]
	expect "consumer exit status $cst, not 0" [ "$cst" -eq 0 ]
	expect "producer did not send 120 frames" \
		has '^camera-producer: sent 120 frames in ' producer.out
	expect "consumer did not report 120 good frames" \
		has '^camera_consumer: 120 frames 320x240, 0 errors, [0-9.]+ fps' \
		consumer.out
	verdict "$name"

	pair "$BIN/camera-producer" -W 64 -H 48 -n 60 -s 3 -c 37 -t "$WAIT" \
		"$cam" -- python3 "$HERE/camera_consumer.py" -t "$WAIT" "$cam"
	expect "producer exit status $pst, not 0" [ "$pst" -eq 0 ]
	expect "consumer exit status $cst, not 1" [ "$cst" -eq 1 ]
	expect "consumer did not name frame 37" \
		has '^camera_consumer: frame 37 \(slot [0-9]+\): 1 bad pixels' \
		consumer.out
	expect "consumer did not count exactly 1 error in 60 frames" \
		has '^camera_consumer: 60 frames 64x48, 1 errors,' consumer.out
	verdict "$bad"
fi

# 3, 4: the asyncio pair.
aio=$PREFIX-aio
pair python3 "$HERE/asyncio_consumer.py" produce -n 5000 -t "$WAIT" "$aio" \
	-- python3 "$HERE/asyncio_consumer.py" consume -n 5000 -t "$WAIT" "$aio"
expect "producer exit status $pst, not 0" [ "$pst" -eq 0 ]
expect "consumer exit status $cst, not 0" [ "$cst" -eq 0 ]
expect "producer did not send 5000 messages" \
	has '^asyncio_consumer: sent 5000 messages' producer.out
expect "consumer did not report 5000 good messages in one thread" \
	has '^asyncio_consumer: received 5000 messages, [0-9]+ bytes, 0 errors .* 1 thread,' \
	consumer.out
verdict "asyncio: consumer awaits and checks every message"

pair python3 "$HERE/asyncio_consumer.py" produce -n 500 -c 123 -t "$WAIT" \
	"$aio" -- python3 "$HERE/asyncio_consumer.py" consume -n 500 \
	-t "$WAIT" "$aio"
expect "producer exit status $pst, not 0" [ "$pst" -eq 0 ]
expect "consumer exit status $cst, not 1" [ "$cst" -eq 1 ]
expect "consumer did not name message 123" \
	has '^asyncio_consumer: message 123: bad length or checksum' consumer.out
expect "consumer did not count exactly 1 error in 500 messages" \
	has '^asyncio_consumer: received 500 messages, [0-9]+ bytes, 1 errors ' \
	consumer.out
verdict "asyncio: consumer rejects a corrupted message"

# 5: every name the examples made is gone.
: >"$TMP/producer.out"
python3 - "$PREFIX" >"$TMP/consumer.out" 2>&1 <<'EOF'
import sys

import shmdev

left = [seg.name for seg in shmdev.list_segments()
        if seg.name and seg.name.startswith(sys.argv[1])]
if left:
    print("left behind:", " ".join(left))
sys.exit(1 if left else 0)
EOF
expect "segments left behind (or none could be listed)" [ $? -eq 0 ]
verdict "examples leave no segment behind"

totals
[ "$fail" -eq 0 ]
