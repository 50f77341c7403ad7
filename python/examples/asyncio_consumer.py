#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Stream messages through a ring in a shmdev segment and receive them in
asyncio, with no thread: the event loop waits on the segment's doorbell.

usage: asyncio_consumer.py produce NAME [-n COUNT] [-t SECONDS] [-c SEQ]
       asyncio_consumer.py consume NAME [-n COUNT] [-t SECONDS] [-q]

``produce`` creates the segment NAME (mode 0600), formats a
single-producer, single-consumer ring in it and sends COUNT (default 20000)
messages with ``await ring.send_async()``; ``consume`` waits for the
segment and the ring to appear, receives the messages with
``await ring.recv_async()``, checks each one, prints a summary and removes
the name. Start the two in either order, as two processes.

Both sides call ``ring.set_doorbell(seg, 0)``: the consumer then waits for
the ring's descriptor to become readable in the event loop, and the
producer rings it when it sends to a waiting consumer (and the consumer
rings the producer when it makes room in a full ring). A side that sets no
doorbell never rings, which is why this file has its own producer rather
than using userspace/examples/ring-producer: the consumer would then wake
only every ``Ring.LIVENESS_MS`` milliseconds to look. (Where the module
has no doorbells, both sides say so and the async calls poll instead.)

While it waits, the consumer's loop runs another task, a ticker, whose
longest gap between ticks the summary reports: the loop stays free.

A message is a header, sequence number (0, 1, ...), payload length and
CRC-32 of the payload, then a payload whose length and bytes follow from
the sequence number, so that the consumer checks each message on its own.
The exit status is 0 only if all COUNT arrived, in order and intact.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import struct
import sys
import threading
import time
import zlib
from typing import Optional

import shmdev

PROG = "asyncio_consumer"

SEG_SIZE = shmdev.Ring.HEADER_SIZE + 64 * 1024
MSG_MAX = 1024
HEADER = struct.Struct("=QII")          # seq, payload length, CRC-32
PAYLOAD_MAX = MSG_MAX - HEADER.size
# Payload of message seq: PATTERN[start:start + length], start < 256.
PATTERN = bytes(range(256)) * (PAYLOAD_MAX // 256 + 2)
DEFAULT_COUNT = 20000
MAX_REPORTS = 5
TICK = 0.005
YIELD_EVERY = 64


def fail(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr)


def payload(seq: int) -> bytes:
    """The payload of message *seq*: 0 to PAYLOAD_MAX bytes."""
    length = ((seq * 0x9E3779B1) >> 16) % (PAYLOAD_MAX + 1)
    start = (seq * 7) & 0xff
    return PATTERN[start:start + length]


def make_message(seq: int) -> bytes:
    data = payload(seq)
    return HEADER.pack(seq, len(data), zlib.crc32(data)) + data


def check_message(message: bytes, seq: int) -> Optional[str]:
    """What is wrong with *message* as message *seq*, or None."""
    if len(message) < HEADER.size:
        return f"message {seq}: {len(message)} bytes, shorter than a header"
    got_seq, length, crc = HEADER.unpack_from(message)
    if got_seq != seq:
        return f"expected message {seq}, got {got_seq}"
    data = message[HEADER.size:]
    if length != len(data) or crc != zlib.crc32(data):
        return f"message {seq}: bad length or checksum"
    if data != payload(seq):
        return f"message {seq}: wrong payload"
    return None


def ring_doorbell(ring: shmdev.Ring, seg: shmdev.Segment) -> bool:
    """Gives *ring* doorbell 0 of *seg*; False (the async calls will poll)
    if the module cannot."""
    try:
        ring.set_doorbell(seg, 0)
        return True
    except OSError as exc:
        fail(f"no doorbell ({exc.strerror}): polling instead")
        return False


async def produce(args: argparse.Namespace) -> int:
    try:
        seg = shmdev.Segment.create(args.name, SEG_SIZE, 0o600)
    except FileExistsError:
        fail(f"segment {args.name} exists (left over? remove it with: "
             f"shmdev-ctl rm {args.name})")
        return 1
    except OSError as exc:
        fail(str(exc))
        return 1
    rc, seq = 1, 0
    ring = None
    try:
        ring = shmdev.Ring.create(seg.buf, msg_max=MSG_MAX)
        ring_doorbell(ring, seg)
        start = time.monotonic()
        for seq in range(args.count):
            message = make_message(seq)
            if seq == args.corrupt:     # flip a bit of the last byte
                message = message[:-1] + bytes([message[-1] ^ 1])
            await ring.send_async(message, timeout=args.timeout)
        secs = time.monotonic() - start
        print(f"{PROG}: sent {args.count} messages in {secs:.2f} s",
              flush=True)
        rc = 0
    except BrokenPipeError:
        fail(f"the consumer went away after {seq} messages")
    except TimeoutError:
        fail(f"no room in the ring for {args.timeout:g} s after {seq} "
             f"messages: is a consumer running?")
    finally:
        # The consumer reads what is left, then sees the end of the
        # stream. It removes the name; after a failure nobody will.
        if ring is not None:
            ring.close()
        if rc:
            seg.unlink()
        seg.close()
    return rc


async def open_ring(name: str, deadline: float
                    ) -> tuple[shmdev.Segment, shmdev.Ring]:
    """Attaches *name* read-write and the ring in it, waiting (in the
    loop) until *deadline* for the producer to create and format them."""
    while True:
        try:
            seg = shmdev.Segment.attach(name)
            break
        except FileNotFoundError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no segment {name}: is the producer "
                                   "running?") from None
            await asyncio.sleep(0.01)
    while True:
        try:
            return seg, shmdev.Ring(seg.buf)
        except OSError as exc:
            # EPROTO: still zeroes, the producer has not formatted it.
            if exc.errno != errno.EPROTO or time.monotonic() > deadline:
                seg.close()
                raise
            await asyncio.sleep(0.001)


async def ticker(gaps: list[float]) -> None:
    """Ticks every TICK seconds, keeping the longest gap in gaps[0]."""
    last = time.monotonic()
    while True:
        await asyncio.sleep(TICK)
        now = time.monotonic()
        gaps[0] = max(gaps[0], now - last)
        gaps[1] += 1
        last = now


async def consume(args: argparse.Namespace) -> int:
    try:
        seg, ring = await open_ring(args.name,
                                    time.monotonic() + args.timeout)
    except OSError as exc:  # TimeoutError, DeviceNotAvailableError ...
        fail(str(exc))
        return 1
    bell = ring_doorbell(ring, seg)
    if not args.quiet:
        print(f"{PROG}: attached {args.name}, expecting {args.count} "
              f"messages", flush=True)

    gaps = [0.0, 0]
    tick_task = asyncio.create_task(ticker(gaps))
    count = errors = nbytes = 0
    start = time.monotonic()
    try:
        while True:
            # As "async for message in ring:", with a timeout.
            try:
                message = await ring.recv_async(timeout=args.timeout)
            except BrokenPipeError:
                break       # the producer is gone and the ring is empty
            except TimeoutError:
                fail(f"nothing arrived for {args.timeout:g} s after "
                     f"{count} messages")
                errors += 1
                break
            problem = check_message(message, count)
            if problem:
                if errors < MAX_REPORTS:
                    fail(problem)
                errors += 1
            count += 1
            nbytes += len(message)
            # recv_async() returns at once, without yielding to the loop,
            # when a message is waiting: while the producer keeps ahead,
            # let the other tasks run now and then.
            if count % YIELD_EVERY == 0:
                await asyncio.sleep(0)
    except OSError as exc:  # EBUSY: another consumer on the ring, say
        fail(str(exc))
        errors += 1
    finally:
        secs = time.monotonic() - start
        tick_task.cancel()
        threads = threading.active_count()
        ring.close()
        seg.unlink()
        seg.close()

    if count != args.count:
        fail(f"{count} messages received, {args.count} expected")
        errors += 1
    print(f"{PROG}: received {count} messages, {nbytes} bytes, "
          f"{errors} errors in {secs:.2f} s "
          f"({count / secs if secs > 0 else 0.0:.0f} msg/s), "
          f"{'doorbell' if bell else 'polling'}, {threads} thread, "
          f"{gaps[1]} ticks, longest gap {gaps[0] * 1000:.1f} ms",
          flush=True)
    return 1 if errors else 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Send and receive ring messages in asyncio, "
        "woken by a shmdev doorbell.")
    sub = parser.add_subparsers(dest="command", required=True)
    for command, text in (("produce", "create NAME and send"),
                          ("consume", "receive, check, remove NAME")):
        p = sub.add_parser(command, help=text)
        p.add_argument("name", help="segment name")
        p.add_argument("-n", "--count", type=int, default=DEFAULT_COUNT,
                       help=f"messages (default {DEFAULT_COUNT})")
        p.add_argument("-t", "--timeout", type=float, default=30.0,
                       help="seconds to wait for the other side "
                       "(default 30)")
        if command == "produce":
            p.add_argument("-c", "--corrupt", type=int, default=-1,
                           metavar="SEQ", help="damage message SEQ (tests "
                           "a consumer)")
        if command == "consume":
            p.add_argument("-q", "--quiet", action="store_true",
                           help="print only the summary and errors")
    args = parser.parse_args(argv)
    run = produce if args.command == "produce" else consume
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        fail("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
