# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Rings in memfd memory: copying and zero-copy calls, timeouts, peers in
other processes, a dead peer, MPMC."""

from __future__ import annotations

import errno
import hashlib
import os
import signal
import struct
import time

import pytest

import shmdev


def message(i: int) -> bytes:
    """Message i of a stream: its number and a length that varies."""
    body = hashlib.sha256(struct.pack("Q", i)).digest() * (i % 7)
    return struct.pack("Q", i) + body


@pytest.fixture
def pair(shared_memory):
    """A producer and a consumer handle of one SPSC ring."""
    mem = shared_memory()
    producer = shmdev.Ring.create(mem, msg_max=4096)
    consumer = shmdev.Ring(mem)
    yield producer, consumer
    producer.close()
    consumer.close()


def test_info_and_geometry(shared_memory):
    mem = shared_memory(1 << 16)
    with shmdev.Ring.create(mem, msg_max=1000) as ring:
        info = ring.info()
        assert (info.msg_max, info.mpmc, info.used) == (1000, False, 0)
        # The largest power of two that fits after the 1024-byte header.
        assert info.capacity == 1 << 15
        assert ring.msg_max == 1000
    with shmdev.Ring.create(mem, msg_max=100, mpmc=True) as ring:
        info = ring.info()
        assert info.mpmc and info.msg_max == 100
        assert info.capacity & (info.capacity - 1) == 0  # slots: 2^n


def test_send_recv_keeps_order_and_bytes(pair):
    producer, consumer = pair
    payloads = [b"", b"a", bytearray(b"bytearray"), memoryview(b"view"),
                b"x" * 4096, memoryview(bytearray(b"rw view"))]
    for data in payloads:
        producer.send(data)
    assert consumer.info().used > 0
    for data in payloads:
        assert consumer.recv(timeout=0) == bytes(data)
    assert consumer.info().used == 0


def test_send_refuses_what_cannot_fit(pair):
    producer, _ = pair
    with pytest.raises(OSError) as info:
        producer.send(b"y" * 4097)
    assert info.value.errno == errno.EMSGSIZE


def test_timeouts(pair):
    _, consumer = pair
    with pytest.raises(BlockingIOError):
        consumer.recv(timeout=0)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        consumer.recv(timeout=0.05)
    assert time.monotonic() - start >= 0.045


def test_full_ring_refuses_then_has_room(shared_memory):
    mem = shared_memory(4096)
    producer = shmdev.Ring.create(mem, msg_max=256)
    consumer = shmdev.Ring(mem)
    sent = 0
    with pytest.raises(BlockingIOError):
        while True:
            producer.send(bytes([sent % 256]) * 200, timeout=0)
            sent += 1
    assert sent >= 2
    assert consumer.recv(timeout=0)[0] == 0
    producer.send(b"more", timeout=0)
    for i in range(1, sent):
        assert consumer.recv(timeout=0)[0] == i % 256
    assert consumer.recv(timeout=0) == b"more"


def test_reserve_commit_abort(pair):
    producer, consumer = pair
    with producer.reserve(100) as res:
        assert len(res.buf) == 100 and not res.buf.readonly
        res.buf[:5] = b"hello"
        res.length = 5
    assert res.done
    with pytest.raises(ValueError):
        res.buf[0]  # released with the reservation
    assert consumer.recv(timeout=0) == b"hello"

    res = producer.reserve(10)
    res.buf[:2] = b"no"
    res.abort()
    with pytest.raises(ValueError):
        res.commit()
    with pytest.raises(RuntimeError):
        with producer.reserve(10) as res:
            res.buf[:4] = b"lost"
            raise RuntimeError("the block failed")
    assert res.done
    with pytest.raises(BlockingIOError):
        consumer.recv(timeout=0)

    res = producer.reserve(8)
    with pytest.raises(ValueError):
        res.commit(9)
    res.buf[:] = b"12345678"
    res.commit()
    assert consumer.recv(timeout=0) == b"12345678"


def test_one_reservation_per_handle(pair):
    producer, _ = pair
    res = producer.reserve(8)
    with pytest.raises(OSError) as info:
        producer.reserve(8)
    assert info.value.errno == errno.EBUSY
    res.abort()


def test_peek_release(pair):
    producer, consumer = pair
    producer.send(b"first")
    producer.send(b"second")
    msg = consumer.peek(timeout=0)
    assert msg.buf.readonly and len(msg) == 5 and bytes(msg) == b"first"
    again = consumer.peek(timeout=0)  # the same message until released
    assert bytes(again) == b"first"
    again.release()
    with pytest.raises(ValueError):
        again.buf.tobytes()
    with consumer.peek(timeout=0) as msg:
        assert msg.buf.tobytes() == b"second"
    assert msg.released
    with pytest.raises(BlockingIOError):
        consumer.peek(timeout=0)


def test_recv_into(pair):
    producer, consumer = pair
    producer.send(b"0123456789")
    small = bytearray(4)
    with pytest.raises(OSError) as info:
        consumer.recv_into(small, timeout=0)
    assert info.value.errno == errno.EMSGSIZE
    assert small == bytearray(4)  # nothing copied
    big = bytearray(64)
    assert consumer.recv_into(big, timeout=0) == 10  # still the next one
    assert big[:10] == b"0123456789"
    with pytest.raises(TypeError):
        consumer.recv_into(b"read-only", timeout=0)


def test_zero_copy_with_numpy(pair):
    numpy = pytest.importorskip("numpy")
    producer, consumer = pair
    with producer.reserve(8 * 16) as res:
        out = numpy.ndarray((16,), numpy.float64, buffer=res.buf)
        out[:] = numpy.arange(16) * 0.5
        del out
    with consumer.peek(timeout=0) as msg:
        got = numpy.frombuffer(msg.buf, numpy.float64)
        assert not got.flags.writeable
        assert (got == numpy.arange(16) * 0.5).all()
        del got


def test_ring_checks_its_memory(shared_memory):
    mem = shared_memory(4096)
    with pytest.raises(OSError) as info:
        shmdev.Ring(mem)  # never formatted
    assert info.value.errno == errno.EPROTO
    with pytest.raises(TypeError):
        shmdev.Ring(bytes(4096))
    with pytest.raises(OSError) as info:
        shmdev.Ring.create(mem, 0, 512)  # no room past the header
    assert info.value.errno == errno.EINVAL
    ring = shmdev.Ring.create(mem, 0, 2048)  # a part of the buffer
    with pytest.raises(BufferError):
        mem.close()  # pinned by the handle until it is closed
    ring.close()
    with pytest.raises(ValueError, match="closed"):
        ring.send(b"x")
    ring = shmdev.Ring(mem, 0, 2048)
    del ring  # the finaliser detaches and lets go
    mem.close()


def _produce(mem, count, close=True):
    ring = shmdev.Ring(mem)
    for i in range(count):
        ring.send(message(i), timeout=10)
    if close:
        ring.close()


def test_stream_between_processes_then_epipe(shared_memory, fork):
    mem = shared_memory(1 << 14)  # small: the producer waits for room
    consumer = shmdev.Ring.create(mem, msg_max=1024)
    count = 3000
    child = fork(_produce, mem, count)
    for i in range(count):
        assert consumer.recv(timeout=10) == message(i)
    with pytest.raises(BrokenPipeError):
        consumer.recv(timeout=10)
    assert child.wait() == 0


def test_dead_producer_is_noticed(shared_memory, fork):
    mem = shared_memory()
    consumer = shmdev.Ring.create(mem, msg_max=1024)

    def send_and_die():
        _produce(mem, 3, close=False)
        os._exit(0)  # no detach

    fork(send_and_die).wait()
    assert [consumer.recv(timeout=5) for _ in range(3)] == \
        [message(i) for i in range(3)]
    start = time.monotonic()
    with pytest.raises(BrokenPipeError):
        consumer.recv(timeout=5)
    assert time.monotonic() - start < 2.0


def test_spsc_has_one_consumer(shared_memory, fork):
    mem = shared_memory()
    ring = shmdev.Ring.create(mem)
    ring.send(b"taken")
    assert ring.peek(timeout=0)  # this process is the consumer now

    def second_consumer():
        other = shmdev.Ring(mem)
        with pytest.raises(OSError) as info:
            other.recv(timeout=0)
        assert info.value.errno == errno.EBUSY

    assert fork(second_consumer).wait() == 0


def test_mpmc_many_producers(shared_memory, fork):
    mem = shared_memory(1 << 15)
    consumer = shmdev.Ring.create(mem, msg_max=64, mpmc=True)
    count = 500

    def produce(tag):
        ring = shmdev.Ring(mem)
        for i in range(count):
            ring.send(struct.pack("II", tag, i), timeout=10)
        ring.close()

    # The producer side ends when every producer that sent has gone: one
    # child may finish before the other has sent at all (it happened
    # under emulation), so a producer of the parent's keeps the side open
    # until both children are done.
    keeper = shmdev.Ring(mem)
    keeper.send(struct.pack("II", 0, 0))
    children = [fork(produce, tag) for tag in (1, 2)]
    seen = {0: [], 1: [], 2: []}
    for _ in range(2 * count + 1):
        tag, i = struct.unpack("II", consumer.recv(timeout=10))
        seen[tag].append(i)
    assert seen == {0: [0], 1: list(range(count)), 2: list(range(count))}
    assert [child.wait() for child in children] == [0, 0]
    keeper.close()
    with pytest.raises(BrokenPipeError):
        consumer.recv(timeout=10)
    assert consumer.info().dropped == 0


def test_parent_handle_refused_after_fork(pair, fork):
    producer, _ = pair

    def child():
        with pytest.raises(RuntimeError, match="fork"):
            producer.send(b"x")
        producer.close()  # lets go without detaching the parent's handle

    assert fork(child).wait() == 0
    producer.send(b"still works here")


def test_blocking_call_survives_signals(shared_memory, fork):
    mem = shared_memory()
    consumer = shmdev.Ring.create(mem)
    alarms = []

    def on_alarm(signum, frame):
        alarms.append(signum)

    def send_late():
        time.sleep(0.3)
        ring = shmdev.Ring(mem)
        ring.send(b"late")
        time.sleep(1)  # stays a live producer while the parent reads
        ring.close()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
        child = fork(send_late)
        assert consumer.recv(timeout=10) == b"late"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert len(alarms) >= 2
    assert child.wait() == 0
