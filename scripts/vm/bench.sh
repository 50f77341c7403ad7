#!/bin/sh
# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0
#
# Payload of bench.sh, run by /init as root after insmod: shmdev_bench all,
# then, where the VM has Python (lib.sh's build_python_stage put
# /usr/bin/python3 and /python there), python/bench/pybench.py.
# Every line they print on stdout (JSON Lines) goes to the console prefixed
# with "SHMDEV-BENCH <nonce> ", so that the host takes exactly those lines
# and never boot noise, kernel messages or the programs' progress on stderr.
# Their options (--quick, --rounds N, which both take) come from
# /etc/shmdev-bench.env (SHMDEV_BENCH_ARGS). Exits with shmdev_bench's
# status, or pybench.py's if that alone failed.

nonce=${SHMDEV_NONCE:-none}
bench=/opt/shmdev_bench
pybench=/python/bench/pybench.py
python=/usr/bin/python3
SHMDEV_BENCH_ARGS=
# shellcheck disable=SC1091 # written by bench.sh into the initramfs
[ ! -r /etc/shmdev-bench.env ] || . /etc/shmdev-bench.env

# tagged NAME CMD...: run CMD with its stdout tagged for the host; its
# status goes through a file (a pipeline's is the last command's, and
# busybox sh may lack pipefail) and is printed.
tagged() {
	name=$1
	shift
	rm -f /tmp/bench.rc
	{
		"$@"
		echo $? >/tmp/bench.rc
	} | sed "s/^/SHMDEV-BENCH $nonce /"
	rc=$(cat /tmp/bench.rc 2>/dev/null || echo 1)
	echo "# bench: $name exited with status $rc"
	return "$rc"
}

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

# shellcheck disable=SC2086 # the options are words on purpose
tagged shmdev_bench $bench $SHMDEV_BENCH_ARGS all
status=$?

# pybench.py: shmdev.Ring against multiprocessing and sockets, numpy arrays
# in shmdev.SharedMemory against multiprocessing.shared_memory. The
# standard library's shared memory and multiprocessing's locks need a
# tmpfs on /dev/shm (shmdev_bench removed the one it mounted, if any).
if [ ! -x $python ] || [ ! -f $pybench ]; then
	echo "# bench: no $python or $pybench in this VM (lib.sh: build_python_stage): pybench.py not run"
	exit "$status"
fi
if ! grep -q ' /dev/shm ' /proc/mounts; then
	mkdir -p /dev/shm && mount -t tmpfs -o mode=1777 tmpfs /dev/shm ||
		echo "# bench: cannot mount a tmpfs on /dev/shm"
fi
echo "# bench: $python $pybench $SHMDEV_BENCH_ARGS"
export PYTHONPATH=/python SHMDEV_LIBRARY=/libtests/libshmdev.so.1
export PYTHONDONTWRITEBYTECODE=1
# shellcheck disable=SC2086 # the options are words on purpose
tagged pybench.py $python $pybench $SHMDEV_BENCH_ARGS
pystatus=$?
[ "$status" -ne 0 ] || status=$pystatus
exit "$status"
