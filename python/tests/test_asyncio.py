# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Rings in asyncio. In memfd memory a ring has no doorbell and the async
calls poll; the doorbell path, on /dev/shmdev, is in test_segment.py."""

from __future__ import annotations

import asyncio
import errno
import time

import pytest

import shmdev


def _send_slowly(mem, payloads, delay):
    ring = shmdev.Ring(mem)
    for data in payloads:
        time.sleep(delay)
        ring.send(data, timeout=10)
    ring.close()


def test_recv_async_does_not_block_the_loop(shared_memory, fork):
    mem = shared_memory()
    consumer = shmdev.Ring.create(mem)
    payloads = [b"one", b"two", b"three"]
    child = fork(_send_slowly, mem, payloads, 0.1)
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def main():
        task = asyncio.create_task(ticker())
        got = [await consumer.recv_async(timeout=10) for _ in payloads]
        task.cancel()
        return got

    assert asyncio.run(main()) == payloads
    # The loop ran the ticker while the consumer waited 0.3 s.
    assert ticks >= 10
    assert child.wait() == 0


def test_async_iteration_ends_when_producer_leaves(shared_memory, fork):
    mem = shared_memory()
    consumer = shmdev.Ring.create(mem)
    payloads = [bytes([i]) * i for i in range(1, 20)]
    child = fork(_send_slowly, mem, payloads, 0.001)

    async def main():
        return [msg async for msg in consumer]

    assert asyncio.run(main()) == payloads
    assert child.wait() == 0


def test_recv_async_timeout_and_recv_into(shared_memory):
    mem = shared_memory()
    producer = shmdev.Ring.create(mem)
    consumer = shmdev.Ring(mem)

    async def main():
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            await consumer.recv_async(timeout=0.05)
        assert time.monotonic() - start >= 0.045
        producer.send(b"into")
        buf = bytearray(16)
        n = await consumer.recv_into_async(buf, timeout=1)
        return bytes(buf[:n])

    assert asyncio.run(main()) == b"into"


def test_send_async_waits_for_room(shared_memory, fork):
    mem = shared_memory(4096)
    producer = shmdev.Ring.create(mem, msg_max=512)
    filled = 0
    while True:
        try:
            producer.send(b"f" * 500, timeout=0)
        except BlockingIOError:
            break
        filled += 1

    def drain():
        time.sleep(0.1)
        ring = shmdev.Ring(mem)
        for _ in range(filled + 1):
            ring.recv(timeout=10)
        ring.close()

    child = fork(drain)

    async def main():
        start = time.monotonic()
        await producer.send_async(b"last" * 100, timeout=10)
        return time.monotonic() - start

    assert asyncio.run(main()) >= 0.05
    assert child.wait() == 0


def test_async_needs_no_doorbell_but_fileno_does(shared_memory):
    mem = shared_memory()
    ring = shmdev.Ring.create(mem)
    assert not ring.has_doorbell
    with pytest.raises(OSError) as info:
        ring.fileno()
    assert info.value.errno == errno.ENOTCONN
    with pytest.raises(OSError):
        ring.poll_prepare()
    with pytest.raises(ValueError):
        ring.poll_prepare(readable=False)
