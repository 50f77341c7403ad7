#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""pybench.py - the Python benchmark of shmdev (issue 15).

Usage: pybench.py [--quick] [--rounds N] [--timeout S] [BENCH...]

BENCH is "ring", "array" or both (the default), run in that order.

ring: a producer process sends N messages of 64 B, then N of 64 KiB, to its
parent, which checks each one: its length, and its sequence number, written
in the first and the last 8 bytes, must be the next. Peers:

  shmdev-ring  shmdev.Ring, SPSC, 1 MiB, in an anonymous shmdev segment (in
               a memfd where /dev/shmdev is absent: extra.memory says which);
               send(bytes), recv_into(bytearray)
  mp-queue     multiprocessing.Queue: put(bytes), get()
  mp-pipe      multiprocessing.Pipe(duplex=False): send_bytes(bytes),
               recv_bytes_into(bytearray)
  socketpair   socket.socketpair() (AF_UNIX, SOCK_STREAM): sendall(bytes),
               recv_into(bytearray) until the message is whole

The producer makes each message as a new bytes object, for every peer. The
producer is a multiprocessing Process of the 'fork' context (the ring's
child opens the ring again on the inherited mapping). Timed, in the
parent: from the release of the ready producer to the last message checked.

array: a creator (this process) makes a named 256 MiB block and fills it as
a numpy uint64 array; a reader, a forked process started before the block
exists, attaches it by name, views it with numpy (numpy.ndarray on .buf:
no copy) and sums it, which reads every page, and the sum is checked.
Peers: shmdev (shmdev.SharedMemory) and mp-shared-memory
(multiprocessing.shared_memory.SharedMemory). Variants: create-fill
(creator: create, map, fill), attach-map (reader: attach by name, map,
make the view), first-read (reader: the sum), whole (the three, per round).
Page faults are each side's ru_minflt over its part.

Output: JSON Lines on stdout in the format of shmdev_bench (see
userspace/bench/README.md): a meta record ("bench": "meta", "program":
"pybench"), then one record per case with the median, least and most time
of the rounds (median_ns, min_ns, max_ns), ns_per_op, minflt_per_op (the
median over the rounds; for the ring, producer and consumer added) and
"extra" (ring: msgs_per_s and mb_per_s of the median, MB = 10^6 bytes). A
case that fails gives {"bench", "variant", "peer", "error", "stage"}, and
the run goes on; one that cannot run here (the shmdev side of "array"
without /dev/shmdev) gives "skipped". Progress goes to stderr.

  --quick      5000 small messages instead of 50000, 256 large ones
               instead of 4096 (16 MiB instead of 256), a 16 MiB array
               instead of 256 MiB
  --rounds N   rounds per case, 1 to 99 (default 5)
  --timeout S  seconds one case may take in one round (default 900)

Environment: SHMDEV_LIBRARY, the libshmdev to load; PYTHONPATH must lead to
the shmdev package (the python/ directory of the source tree).

Exit status: 0 when every case ran (or was skipped), 1 if one failed or
could not start, 2 for a usage error.
"""

import argparse
import json
import mmap
import multiprocessing
import os
import platform
import resource
import signal
import socket
import statistics
import struct
import sys
import time
import traceback

# numpy's sum needs no BLAS threads, and the ring half forks a lot.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

PROG = "pybench"
SEQ = struct.Struct("<Q")
SMALL, LARGE = 64, 64 << 10
RING_BYTES = 1 << 20
CONTEXT = "fork"
DEVICE = "/dev/shmdev"


class CaseError(Exception):
    """A case that failed, at STAGE."""

    def __init__(self, stage, text):
        super().__init__(text)
        self.stage = stage


class Timeout(Exception):
    pass


def progress(text):
    print("%s: %s" % (PROG, text), file=sys.stderr, flush=True)


def emit(record):
    sys.stdout.write(json.dumps(record, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def minflt():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def now():
    return time.perf_counter_ns()


def describe(exc):
    if isinstance(exc, OSError) and exc.errno is not None:
        text = exc.strerror or os.strerror(exc.errno)
        if exc.filename:
            text += ": %s" % exc.filename
        return text
    return "%s: %s" % (type(exc).__name__, exc) if str(exc) else type(exc).__name__


class Deadline:
    """SIGALRM after SECONDS raises Timeout in the main thread, also out of
    a blocking read or a ring wait (whose EINTR runs the handler)."""

    def __init__(self, seconds):
        self.seconds = seconds

    @staticmethod
    def _fire(signum, frame):
        raise Timeout("no progress for the case's timeout")

    def __enter__(self):
        self.old = signal.signal(signal.SIGALRM, self._fire)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc):
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self.old)


# ---------------------------------------------------------------------------
# Children: a forked process that reports a JSON object on a pipe


class Child:
    """TARGET(*ARGS) in a process of the fork context. The child reports a
    dict through a pipe (the target's return value, or its error), and
    waits to be released if it calls ready_then_wait()."""

    def __init__(self, target, *args):
        ctx = multiprocessing.get_context(CONTEXT)
        self.ready_r, self.ready_w = os.pipe()
        self.go_r, self.go_w = os.pipe()
        self.res_r, self.res_w = os.pipe()
        self.proc = ctx.Process(target=self._main, args=(target, args),
                                daemon=True)
        self.proc.start()
        for fd in (self.ready_w, self.go_r, self.res_w):
            os.close(fd)

    def _main(self, target, args):
        for fd in (self.ready_r, self.go_w, self.res_r):
            os.close(fd)
        code = 0
        try:
            report = target(self, *args)
        except BaseException as exc:  # reported, then the process ends
            traceback.print_exc()
            report = {"error": describe(exc)}
            code = 1
        with os.fdopen(self.res_w, "w") as out:
            out.write(json.dumps(report))
        os._exit(code)

    # In the child

    def ready_then_wait(self):
        """Says the child is ready, waits for go(); returns go's DATA."""
        os.write(self.ready_w, b"r")
        data = os.read(self.go_r, 4096)
        if data[:1] != b"g":
            raise CaseError("start", "released without a go")
        return data[1:]

    # In the parent

    def wait_ready(self):
        if os.read(self.ready_r, 1) != b"r":
            raise CaseError("start", "the child died before it was ready "
                            "(exit code %s)" % self.finish_code())

    def go(self, data=b""):
        """Releases the child, handing it DATA (one write: atomic)."""
        os.write(self.go_w, b"g" + data)

    def finish_code(self):
        self.proc.join()
        return self.proc.exitcode

    def result(self):
        """The child's report, once it has exited; CaseError if it failed."""
        with os.fdopen(self.res_r, "r") as inp:
            self.res_r = -1
            text = inp.read()
        code = self.finish_code()
        try:
            report = json.loads(text) if text else {}
        except ValueError:
            report = {}
        if report.get("error"):
            raise CaseError(report.get("stage", "child"), report["error"])
        if code != 0:
            raise CaseError("child", "the child exited with code %s" % code)
        return report

    def close(self):
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join()
        for fd in (self.ready_r, self.go_w, self.res_r):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.ready_r = self.go_w = self.res_r = -1


# ---------------------------------------------------------------------------
# Ring: peers


def check_message(buf, length, size, seq):
    if length != size:
        raise CaseError("check", "message %d is %d bytes, not %d" % (seq, length, size))
    if SEQ.unpack_from(buf, 0)[0] != seq or SEQ.unpack_from(buf, size - 8)[0] != seq:
        raise CaseError("check", "message %d out of order: it holds %d and %d" % (
            seq, SEQ.unpack_from(buf, 0)[0], SEQ.unpack_from(buf, size - 8)[0]))


class RingPeer:
    name = "shmdev-ring"

    def __init__(self, shmdev, on_device):
        self.shmdev = shmdev
        self.on_device = on_device
        self.memory = "anonymous shmdev segment" if on_device else "memfd"
        self.transport = "shmdev.Ring (SPSC, %d KiB), memory: %s" % (
            RING_BYTES >> 10, self.memory)
        self.seg = self.mem = self.ring = None

    def setup(self, size):
        if self.on_device:
            self.seg = self.shmdev.Segment.create(None, RING_BYTES)
            buf = self.seg.buf
        else:
            fd = os.memfd_create("pybench-ring")
            try:
                os.ftruncate(fd, RING_BYTES)
                self.mem = mmap.mmap(fd, RING_BYTES, flags=mmap.MAP_SHARED)
            finally:
                os.close(fd)
            buf = self.mem
        self.ring = self.shmdev.Ring.create(buf, msg_max=LARGE)

    def _buffer(self):
        return self.seg.buf if self.seg is not None else self.mem

    def child_open(self):
        # The parent's Ring refuses to work after fork(): a handle of the
        # child's own on the inherited mapping.
        self.ring = self.shmdev.Ring(self._buffer())

    def send(self, msg):
        self.ring.send(msg)

    def child_close(self):
        self.ring.close()

    def receive(self, n, size):
        recv_into = self.ring.recv_into
        buf = bytearray(LARGE)
        unpack = SEQ.unpack_from
        end = size - 8
        for seq in range(n):
            length = recv_into(buf)
            if length != size or unpack(buf, 0)[0] != seq or unpack(buf, end)[0] != seq:
                check_message(buf, length, size, seq)

    def teardown(self):
        if self.ring is not None:
            self.ring.close()
        self.ring = None
        if self.seg is not None:
            self.seg.close()
        if self.mem is not None:
            self.mem.close()
        self.seg = self.mem = None


class QueuePeer:
    name = "mp-queue"
    transport = "multiprocessing.Queue (%s context)" % CONTEXT

    def setup(self, size):
        self.q = multiprocessing.get_context(CONTEXT).Queue()

    def child_open(self):
        pass

    def send(self, msg):
        self.q.put(msg)

    def child_close(self):
        self.q.close()
        self.q.join_thread()

    def receive(self, n, size):
        get = self.q.get
        unpack = SEQ.unpack_from
        end = size - 8
        for seq in range(n):
            msg = get()
            if len(msg) != size or unpack(msg, 0)[0] != seq or unpack(msg, end)[0] != seq:
                check_message(msg, len(msg), size, seq)

    def teardown(self):
        self.q.close()
        self.q.join_thread()


class PipePeer:
    name = "mp-pipe"
    transport = "multiprocessing.Pipe(duplex=False)"

    def setup(self, size):
        self.r, self.w = multiprocessing.get_context(CONTEXT).Pipe(duplex=False)

    def child_open(self):
        self.r.close()

    def send(self, msg):
        self.w.send_bytes(msg)

    def child_close(self):
        self.w.close()

    def receive(self, n, size):
        self.w.close()
        recv_into = self.r.recv_bytes_into
        buf = bytearray(LARGE)
        unpack = SEQ.unpack_from
        end = size - 8
        for seq in range(n):
            length = recv_into(buf)
            if length != size or unpack(buf, 0)[0] != seq or unpack(buf, end)[0] != seq:
                check_message(buf, length, size, seq)

    def teardown(self):
        self.r.close()
        self.w.close()


class SocketPeer:
    name = "socketpair"
    transport = "socket.socketpair() (AF_UNIX, SOCK_STREAM)"

    def setup(self, size):
        self.a, self.b = socket.socketpair()

    def child_open(self):
        self.a.close()

    def send(self, msg):
        self.b.sendall(msg)

    def child_close(self):
        self.b.close()

    def receive(self, n, size):
        self.b.close()
        recv_into = self.a.recv_into
        buf = bytearray(LARGE)
        view = memoryview(buf)
        unpack = SEQ.unpack_from
        end = size - 8
        for seq in range(n):
            got = recv_into(buf, size)
            while got < size:
                more = recv_into(view[got:size], size - got)
                if more == 0:
                    raise CaseError("receive", "the producer closed the socket "
                                    "at message %d" % seq)
                got += more
            if unpack(buf, 0)[0] != seq or unpack(buf, end)[0] != seq:
                check_message(buf, got, size, seq)
        view.release()

    def teardown(self):
        self.a.close()
        self.b.close()


def produce(child, peer, n, size):
    peer.child_open()
    body = bytes(size - 2 * SEQ.size)
    pack = SEQ.pack
    send = peer.send
    child.ready_then_wait()
    f0 = minflt()
    for seq in range(n):
        head = pack(seq)
        send(head + body + head)
    peer.child_close()
    return {"minflt": minflt() - f0}


def ring_round(peer, n, size, timeout):
    """One round: (ns, consumer faults, producer faults)."""
    stage = "setup"
    child = None
    try:
        peer.setup(size)
        stage = "fork"
        child = Child(produce, peer, n, size)
        with Deadline(timeout):
            child.wait_ready()
            stage = "receive"
            f0 = minflt()
            t0 = now()
            child.go()
            peer.receive(n, size)
            t1 = now()
            f1 = minflt()
            stage = "producer"
            report = child.result()
        return t1 - t0, f1 - f0, report.get("minflt", 0)
    except CaseError:
        raise
    except Timeout as exc:
        raise CaseError(stage, "timed out after %g s (%s)" % (timeout, exc)) from None
    except Exception as exc:
        raise CaseError(stage, describe(exc)) from exc
    finally:
        if child is not None:
            child.close()
        try:
            peer.teardown()
        except Exception:
            pass


def summary(bench, variant, peer, size, ops, op, times, faults, extra):
    median = statistics.median(times)
    return {
        "bench": bench, "variant": variant, "peer": peer, "size": size,
        "ops": ops, "op": op, "rounds": len(times), "median_ns": int(median),
        "min_ns": min(times), "max_ns": max(times),
        "ns_per_op": round(median / ops, 3),
        "minflt_per_op": round(statistics.median(faults) / ops, 6),
        "syscalls_per_op": None, "extra": extra,
    }


def bench_ring(opts, shmdev, on_device):
    counts = ((SMALL, 5000 if opts.quick else 50000),
              (LARGE, 256 if opts.quick else 4096))
    peers = [RingPeer(shmdev, on_device), QueuePeer(), PipePeer(), SocketPeer()]
    failed = False
    for size, n in counts:
        variant = "stream-%s" % ("64k" if size == LARGE else "64")
        runs = {p.name: [] for p in peers}
        errors = {}
        for rnd in range(opts.rounds):
            for peer in peers:
                if peer.name in errors:
                    continue
                try:
                    runs[peer.name].append(ring_round(peer, n, size, opts.timeout))
                except CaseError as exc:
                    errors[peer.name] = exc
                    progress("ring %s %s: round %d failed at %s: %s" % (
                        variant, peer.name, rnd + 1, exc.stage, exc))
                    continue
                ns = runs[peer.name][-1][0]
                progress("ring %s round %d/%d: %-11s %9.0f msg/s %8.1f MB/s" % (
                    variant, rnd + 1, opts.rounds, peer.name, n / (ns / 1e9),
                    n * size / (ns / 1e3)))
        for peer in peers:
            if peer.name in errors:
                failed = True
                exc = errors[peer.name]
                emit({"bench": "py-ring", "variant": variant, "peer": peer.name,
                      "size": size, "error": str(exc), "stage": exc.stage})
                continue
            rows = runs[peer.name]
            times = [r[0] for r in rows]
            faults = [r[1] + r[2] for r in rows]
            median_s = statistics.median(times) / 1e9
            extra = {
                "msgs_per_s": round(n / median_s, 1),
                "mb_per_s": round(n * size / median_s / 1e6, 3),
                "transport": peer.transport, "msg_size": size,
                "context": CONTEXT, "verified": n,
                "consumer_minflt": statistics.median(r[1] for r in rows),
                "producer_minflt": statistics.median(r[2] for r in rows),
            }
            if isinstance(peer, RingPeer):
                extra["memory"] = peer.memory
            emit(summary("py-ring", variant, peer.name, size, n, "msg", times,
                         faults, extra))
    return not failed


# ---------------------------------------------------------------------------
# Array


def pattern(rnd):
    """The value the creator fills round RND's array with."""
    return (0x9E3779B97F4A7C15 * (rnd + 1)) & 0x7FFFFFFFFFFFFFFF


def read_array(child, cls_name, count, value):
    """The reader: attach by name, view, sum; reports its figures."""
    import numpy
    cls = array_class(cls_name)
    name = child.ready_then_wait().decode("ascii")
    f0 = minflt()
    t0 = now()
    shm = cls(name=name)
    arr = numpy.ndarray((count,), dtype=numpy.uint64, buffer=shm.buf)
    t1 = now()
    f1 = minflt()
    total = int(arr.sum(dtype=numpy.uint64))
    t2 = now()
    f2 = minflt()
    shares = numpy.shares_memory(arr, numpy.frombuffer(shm.buf, numpy.uint64))
    del arr
    shm.close()
    want = (value * count) & 0xFFFFFFFFFFFFFFFF
    if total != want:
        return {"error": "the reader's sum is %#x, not %#x" % (total, want),
                "stage": "check"}
    if not shares:
        return {"error": "the numpy view is not the shared memory",
                "stage": "check"}
    return {"attach_ns": t1 - t0, "read_ns": t2 - t1,
            "attach_minflt": f1 - f0, "read_minflt": f2 - f1}


def array_class(name):
    if name == "shmdev":
        from shmdev import SharedMemory
        return SharedMemory
    from multiprocessing.shared_memory import SharedMemory
    return SharedMemory


def array_round(peer, size, rnd, timeout):
    """One round: a dict of the phases' times and faults."""
    import numpy
    cls = array_class(peer)
    count = size // 8
    value = pattern(rnd)
    stage = "fork"
    child = shm = arr = None
    try:
        # The reader is forked before the block exists: it inherits no
        # mapping of it and has to attach by name.
        child = Child(read_array, peer, count, value)
        with Deadline(timeout):
            child.wait_ready()
            stage = "create"
            f0 = minflt()
            t0 = now()
            shm = cls(create=True, size=size)
            arr = numpy.ndarray((count,), dtype=numpy.uint64, buffer=shm.buf)
            arr.fill(value)
            t1 = now()
            f1 = minflt()
            stage = "reader"
            child.go(shm.name.encode("ascii"))
            report = child.result()
    except CaseError:
        raise
    except Timeout as exc:
        raise CaseError(stage, "timed out after %g s (%s)" % (timeout, exc)) from None
    except Exception as exc:
        raise CaseError(stage, describe(exc)) from exc
    finally:
        if child is not None:
            child.close()
        del arr
        if shm is not None:
            try:
                shm.close()
            finally:
                shm.unlink()
    return {"create_ns": t1 - t0, "create_minflt": f1 - f0, **report}


def bench_array(opts, on_device):
    import numpy
    size = (16 if opts.quick else 256) << 20
    page = mmap.PAGESIZE
    pages = size // page
    peers = ["shmdev", "mp-shared-memory"]
    classes = {"shmdev": "shmdev.SharedMemory",
               "mp-shared-memory": "multiprocessing.shared_memory.SharedMemory"}
    # The standard library's resource tracker, started before the forks,
    # is the one of every reader: it sees the block registered once and
    # unregistered by unlink(), and has nothing to clean up or warn about.
    from multiprocessing import resource_tracker
    resource_tracker.ensure_running()
    runs = {p: [] for p in peers}
    errors = {}
    if not on_device:
        errors["shmdev"] = None
    for rnd in range(opts.rounds):
        for peer in peers:
            if peer in errors:
                continue
            try:
                runs[peer].append(array_round(peer, size, rnd, opts.timeout))
            except CaseError as exc:
                errors[peer] = exc
                progress("array %s: round %d failed at %s: %s" % (
                    peer, rnd + 1, exc.stage, exc))
                continue
            r = runs[peer][-1]
            progress("array %d MiB round %d/%d: %-16s create+fill %7.1f ms, "
                     "attach+map %6.3f ms, first read %7.1f ms, faults %d + %d" % (
                         size >> 20, rnd + 1, opts.rounds, peer, r["create_ns"] / 1e6,
                         r["attach_ns"] / 1e6, r["read_ns"] / 1e6, r["create_minflt"],
                         r["attach_minflt"] + r["read_minflt"]))
    phases = (
        ("create-fill", "creator", ("create",)),
        ("attach-map", "reader", ("attach",)),
        ("first-read", "reader", ("read",)),
        ("whole", "both", ("create", "attach", "read")),
    )
    failed = False
    for variant, side, parts in phases:
        for peer in peers:
            if peer in errors:
                exc = errors[peer]
                if exc is None:
                    emit({"bench": "py-array", "variant": variant, "peer": peer,
                          "size": size, "skipped": "%s is absent: the shmdev "
                          "module is not loaded" % DEVICE})
                else:
                    failed = True
                    emit({"bench": "py-array", "variant": variant, "peer": peer,
                          "size": size, "error": str(exc), "stage": exc.stage})
                continue
            rows = runs[peer]
            times = [sum(r[p + "_ns"] for p in parts) for r in rows]
            faults = [sum(r[p + "_minflt"] for p in parts) for r in rows]
            extra = {"class": classes[peer], "side": side,
                     "minflt": statistics.median(faults),
                     "dtype": "uint64", "numpy": numpy.__version__,
                     "context": CONTEXT}
            emit(summary("py-array", variant, peer, size, pages, "page", times,
                         faults, extra))
    return not failed


# ---------------------------------------------------------------------------


def meta(opts, shmdev, on_device):
    rec = {
        "bench": "meta", "program": PROG, "kernel": platform.release(),
        "ncpu": os.cpu_count(), "page_size": mmap.PAGESIZE,
        "python": platform.python_version(),
        "python_executable": sys.executable, "rounds": opts.rounds,
        "quick": opts.quick, "mp_context": CONTEXT,
        "device": on_device,
        "ring_memory": "shmdev segment" if on_device else "memfd",
        "benches": opts.benches,
    }
    try:
        import numpy
        rec["numpy"] = numpy.__version__
    except ImportError as exc:
        rec["numpy"] = None
        rec["numpy_error"] = str(exc)
    rec["libshmdev"] = shmdev.lib_version()
    rec["shmdev_python"] = shmdev.__version__
    rec["shmdev_library"] = os.environ.get("SHMDEV_LIBRARY") or "libshmdev.so.1"
    if on_device:
        try:
            rec["shmdev_api"] = shmdev.version().api_version
        except OSError as exc:
            rec["shmdev_error"] = describe(exc)
    return rec


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="pybench.py", description="Python benchmark of shmdev (see the "
        "module docstring): rings against multiprocessing and sockets, "
        "shared numpy arrays against multiprocessing.shared_memory.")
    ap.add_argument("--quick", action="store_true",
                    help="smaller counts and a 16 MiB array (a smoke test)")
    ap.add_argument("--rounds", type=int, default=5, metavar="N",
                    help="rounds per case, 1 to 99 (default 5)")
    ap.add_argument("--timeout", type=float, default=900.0, metavar="S",
                    help="seconds a case may take in one round (default 900)")
    ap.add_argument("benches", nargs="*", metavar="BENCH",
                    help="ring, array (default: both)")
    opts = ap.parse_args(argv)
    if not 1 <= opts.rounds <= 99:
        ap.error("--rounds: a number from 1 to 99")
    if opts.timeout <= 0:
        ap.error("--timeout: a positive number of seconds")
    unknown = [b for b in opts.benches if b not in ("ring", "array")]
    if unknown:
        ap.error("unknown benchmark %s (ring, array)" % ", ".join(unknown))
    opts.benches = [b for b in ("ring", "array") if b in opts.benches] or \
        ["ring", "array"]
    return opts


def main(argv):
    opts = parse_args(argv)
    on_device = os.path.exists(DEVICE)
    try:
        import shmdev
        rec = meta(opts, shmdev, on_device)
    except Exception as exc:  # no package, no library: nothing can run
        emit({"bench": PROG, "error": describe(exc), "stage": "import shmdev"})
        progress("cannot load shmdev: %s" % describe(exc))
        return 1
    emit(rec)
    progress("Python %s, %s context, ring in %s, %d round(s)%s" % (
        rec["python"], CONTEXT, rec["ring_memory"], opts.rounds,
        ", quick" if opts.quick else ""))
    ok = True
    if "ring" in opts.benches:
        ok = bench_ring(opts, shmdev, on_device) and ok
    if "array" in opts.benches:
        try:
            ok = bench_array(opts, on_device) and ok
        except ImportError as exc:
            emit({"bench": "py-array", "error": describe(exc), "stage": "import numpy"})
            ok = False
    progress("done" if ok else "done, with errors (see the error records)")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # a bug of this program: said, not hidden
        emit({"bench": PROG, "error": describe(exc), "stage": "internal"})
        traceback.print_exc()
        sys.exit(1)
