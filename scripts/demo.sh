#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# demo.sh - libshmdev's example programs (userspace/examples), run the way
# applications would run them.
#
# 1. ring: ring-consumer starts first, in the background, and waits for
#    its segment; ring-producer then creates it and streams DEMO_COUNT
#    (default 100000) messages of varying size through a message ring; the
#    consumer checks every message and removes the segment.
# 2. table: four table-writer processes update a table of counters under a
#    robust mutex in a shared segment while a fifth crashes holding the
#    mutex; the next process to lock it repairs the table; table-reader
#    checks that the total is exact.
# 3. fdpass: fdpass-demo sends an anonymous segment and a read-only attach
#    of a named one to a child over a Unix socket.
# 4. epoll: ring-epoll serves two rings and a TCP connection from one
#    epoll loop in one thread, waiting on the rings' doorbells; forked
#    producers send DEMO_LOOP_COUNT (default 10000) messages to each ring
#    in bursts, a forked client 1000 lines over 127.0.0.1 (the loopback
#    interface is brought up first if it is down, as it is in the VM).
# 5. io_uring: ring-uring consumes a ring fed by a forked producer, waiting
#    on its doorbell with a multishot io_uring poll. Skipped, not passed,
#    where io_uring is not available (the program exits with status 77).
#
# Runs inside the test VM (make demo) or on the running kernel (make demo
# HOST=1); DEMO_BIN names the directory of the example programs (default
# /opt, where make demo puts them). Exits with status 1 if any step fails;
# skipped steps are listed at the end.

bin=${DEMO_BIN:-/opt}
count=${DEMO_COUNT:-100000}
loop_count=${DEMO_LOOP_COUNT:-10000}	# messages per ring, steps 4 and 5
rounds=50000		# updates per table writer
die_rounds=100		# updates the crashing writer makes before it crashes
failed=
skipped=
log=$(mktemp) || exit 1
trap 'rm -f "$log" "$log.reader"' EXIT

step() {
	echo
	echo "=== $*"
}

fail() {
	echo "demo: FAILED: $*"
	failed="$failed
  $*"
}

# Shows a command as if typed, then runs it.
run() {
	echo "\$ $*" | sed "s|$bin/||"
	"$@"
}

# The same for a command run in the background.
run_bg() {
	echo "\$ $* &" | sed "s|$bin/||"
	"$@" &
}

step "ring: a producer streams $count messages to a consumer started before it"
ring=demo-ring.$$
run_bg "$bin/ring-consumer" "$ring" "$count"
consumer=$!
sleep 1			# the consumer now waits for the segment to appear
if ! run "$bin/ring-producer" "$ring" "$count"; then
	fail "ring-producer"
fi
if ! wait $consumer; then
	fail "ring-consumer"
fi

step "table: 4 writers x $rounds updates under a robust mutex, a 5th crashes holding it"
table=demo-table.$$
# The writers' output goes to a file: the crash message must be found in it.
writers=
for _ in 1 2 3 4; do
	run_bg "$bin/table-writer" --rounds $rounds "$table" >>"$log"
	writers="$writers $!"
done
run_bg "$bin/table-writer" --rounds $die_rounds --die-holding "$table" >>"$log"
crasher=$!
for pid in $writers; do
	wait "$pid" || fail "table-writer (pid $pid)"
done
wait $crasher
rc=$?
cat "$log"
# 128 + SIGKILL: it died as it meant to, holding the mutex.
[ $rc -eq 137 ] || fail "table-writer --die-holding: exit status $rc, not 137"
# The reader locks the mutex too: if the crash came last, it repairs.
run "$bin/table-reader" --expect $((4 * rounds + die_rounds)) --unlink \
	"$table" >"$log.reader" || fail "table-reader"
cat "$log.reader"
cat "$log.reader" >>"$log"
grep -q 'previous holder died; table repaired' "$log" ||
	fail "nobody repaired the table after the crash"

step "fdpass: segments handed to another process over a Unix socket"
run "$bin/fdpass-demo" || fail "fdpass-demo"

step "epoll: one thread serves 2 rings x $loop_count messages and a TCP connection"
# Bit 0 of the flags is IFF_UP. The VM's init leaves lo down.
lo=/sys/class/net/lo/flags
if [ -r $lo ] && [ $(($(cat $lo) & 1)) -eq 0 ]; then
	run ip link set lo up || fail "ip link set lo up"
fi
run "$bin/ring-epoll" demo-epoll.$$ "$loop_count" || fail "ring-epoll"

step "io_uring: a consumer waits for $loop_count messages with io_uring"
run "$bin/ring-uring" demo-uring.$$ "$loop_count"
rc=$?
# 77: io_uring is not available here; the program said why.
if [ $rc -eq 77 ]; then
	skipped="$skipped
  ring-uring (no io_uring)"
elif [ $rc -ne 0 ]; then
	fail "ring-uring"
fi

echo
if [ -r /sys/module/shmdev/parameters/nr_pages ]; then
	echo "pages held by shmdev now: $(cat /sys/module/shmdev/parameters/nr_pages)"
fi
if [ -n "$skipped" ]; then
	echo "demo: skipped:$skipped"
fi
if [ -n "$failed" ]; then
	echo "demo: FAILED:$failed"
	exit 1
fi
if [ -n "$skipped" ]; then
	echo "demo: all others passed"
else
	echo "demo: all passed"
fi
