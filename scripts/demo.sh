#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# demo.sh - two processes share a named segment through /dev/shmdev.
#
# The producer creates the segment, writes a message and exits; the segment
# outlives it. The consumer, a separate process started afterwards,
# attaches it by name read-only, verifies the message, shows the segment as
# the kernel reports it and removes it. Runs inside the test VM (make demo)
# or on the running kernel (make demo HOST=1); DEMO_BIN names the directory
# of the example programs (default /opt, where make demo puts them).
set -e

bin=${DEMO_BIN:-/opt}
name=demo-frames

echo "\$ demo-producer $name 'hello through shared memory'"
"$bin/demo-producer" "$name" 'hello through shared memory'
echo
echo "\$ demo-consumer $name"
"$bin/demo-consumer" "$name"
echo
echo "pages held by shmdev now: $(cat /sys/module/shmdev/parameters/nr_pages)"
