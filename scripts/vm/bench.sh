#!/bin/sh
# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0
#
# Payload of bench.sh, run by /init as root after insmod: shmdev_bench all.
# Every line it prints on stdout (JSON Lines) goes to the console prefixed
# with "SHMDEV-BENCH <nonce> ", so that the host takes exactly those lines
# and never boot noise, kernel messages or the program's progress on stderr.
# Its options (--quick, --rounds N) come from /etc/shmdev-bench.env
# (SHMDEV_BENCH_ARGS). Exits with the program's status.

nonce=${SHMDEV_NONCE:-none}
bench=/opt/shmdev_bench
SHMDEV_BENCH_ARGS=
# shellcheck disable=SC1091 # written by bench.sh into the initramfs
[ ! -r /etc/shmdev-bench.env ] || . /etc/shmdev-bench.env

# The program mounts a tmpfs on /dev/shm for shm_open() if there is none,
# and switches shmem THP for its memfd-thp case (restoring it after).
thp=/sys/kernel/mm/transparent_hugepage/shmem_enabled
echo "# bench: $(nproc) CPUs, $(sed -n 's/^MemTotal: *//p' /proc/meminfo) memory"
[ ! -r $thp ] || echo "# bench: shmem THP: $(cat $thp)"
echo "# bench: $bench $SHMDEV_BENCH_ARGS all"
[ -x $bench ] || {
	echo "SHMDEV-VM-ERROR $nonce $bench missing"
	exit 1
}

# The program's status goes through a file: a pipeline's is the last
# command's, and busybox sh may lack pipefail.
rm -f /tmp/bench.rc
{
	# shellcheck disable=SC2086 # the options are words on purpose
	$bench $SHMDEV_BENCH_ARGS all
	echo $? >/tmp/bench.rc
} | sed "s/^/SHMDEV-BENCH $nonce /"
rc=$(cat /tmp/bench.rc 2>/dev/null || echo 1)
echo "# bench: shmdev_bench exited with status $rc"
exit "$rc"
