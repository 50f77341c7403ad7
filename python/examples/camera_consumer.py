#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Receive the frames of userspace/examples/camera-producer as numpy arrays
that are views of the shared memory, check each, and hand it back.

usage: camera_consumer.py [-t SECONDS] [-n FRAMES] [-q] NAME

The producer makes two segments (see the comment at the top of
camera-producer.c): ``NAME.frames``, its frame buffers, which this program
attaches read-only and views, slot by slot, as numpy arrays without
copying a pixel; and ``NAME.ctl``, a header describing the frames followed
by two rings: "ready" brings a descriptor (slot, sequence number,
timestamp) for each frame written, "free" takes the slot back once the
frame has been checked, and only then may the producer write it again.

Every pixel of every frame is compared with what the producer wrote,
(x + 7 * y + 31 * seq) modulo 65536, in one vectorised numpy operation per
frame. The stream ends when the producer has detached and the ring is
empty. A one-line summary follows; the exit status is 0 only if every
frame arrived, in order, intact (and, with -n, if there were that many).
"""

from __future__ import annotations

import argparse
import struct
import sys
import time
from typing import Optional

import numpy as np

import shmdev

PROG = "camera_consumer"

# struct cam_ctl of camera-producer.c, up to its reserved words.
CTL = struct.Struct("=8I6Q")
CTL_FIELDS = ("magic", "version", "width", "height", "stride", "fourcc",
              "nr_slots", "reserved0", "slot_size", "nr_frames",
              "ready_off", "ready_len", "free_off", "free_len")
CAM_MAGIC = 0x4d414353
CAM_VERSION = 1
FOURCC_Y16 = int.from_bytes(b"Y16 ", "little")
# struct cam_frame (producer to consumer) and struct cam_slot (back).
FRAME = struct.Struct("=I4xQQ")
SLOT = struct.Struct("=I4xQ")

# The most mismatching frames reported one by one.
MAX_REPORTS = 5


def fail(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr)


def wait_for_ctl(name: str, deadline: float) -> shmdev.Segment:
    """Attaches NAME.ctl read-write (the rings need it) once the producer
    has created it and published its header, waiting until *deadline*."""
    while True:
        try:
            seg = shmdev.Segment.attach(name + ".ctl")
            break
        except FileNotFoundError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no segment {name}.ctl: is the "
                                   f"producer running?") from None
            time.sleep(0.01)
    # The producer stores the magic number last (with a release store):
    # once it is there, so is the rest of the header and both rings.
    while struct.unpack_from("=I", seg.buf)[0] != CAM_MAGIC:
        if time.monotonic() > deadline:
            seg.close()
            raise TimeoutError(f"{name}.ctl never got a valid header")
        time.sleep(0.001)
    return seg


class Checker:
    """Compares frames with the producer's pattern, reusing its arrays."""

    def __init__(self, height: int, width: int) -> None:
        y = np.arange(height, dtype=np.uint32)[:, np.newaxis]
        x = np.arange(width, dtype=np.uint32)[np.newaxis, :]
        # Pixel (x, y) of frame 0; frame seq adds 31 * seq, wrapping.
        self.base = ((x + 7 * y) & 0xffff).astype(np.uint16)
        self.expected = np.empty_like(self.base)
        self.diff = np.empty(self.base.shape, dtype=bool)

    def bad_pixels(self, frame: np.ndarray, seq: int) -> int:
        """How many pixels of *frame* are not those of frame *seq*."""
        np.add(self.base, np.uint16((31 * seq) & 0xffff), out=self.expected)
        np.not_equal(frame, self.expected, out=self.diff)
        return int(np.count_nonzero(self.diff))

    def first_bad(self) -> tuple[int, int]:
        """(x, y) of the first bad pixel of the last frame checked."""
        y, x = np.argwhere(self.diff)[0]
        return int(x), int(y)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Check the frames of camera-producer, "
        "viewed in shared memory as numpy arrays.")
    parser.add_argument("name", help="NAME given to camera-producer")
    parser.add_argument("-t", "--timeout", type=float, default=30.0,
                        help="seconds to wait for the producer to start "
                        "and then for each frame (default 30)")
    parser.add_argument("-n", "--frames", type=int, default=None,
                        help="frames expected (default: as many as the "
                        "producer announces)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print only the summary and errors")
    args = parser.parse_args(argv)

    try:
        ctl_seg = wait_for_ctl(args.name, time.monotonic() + args.timeout)
    except TimeoutError as exc:
        fail(str(exc))
        return 1
    except OSError as exc:  # DeviceNotAvailableError says what to do
        fail(str(exc))
        return 1

    hdr = dict(zip(CTL_FIELDS, CTL.unpack_from(ctl_seg.buf)))
    if hdr["version"] != CAM_VERSION or hdr["fourcc"] != FOURCC_Y16:
        fail(f"{args.name}.ctl: version {hdr['version']}, format "
             f"{hdr['fourcc']:#x}: not what this program reads")
        ctl_seg.close()
        return 1
    width, height, stride = hdr["width"], hdr["height"], hdr["stride"]
    nr_slots, slot_size = hdr["nr_slots"], hdr["slot_size"]
    expected = args.frames if args.frames is not None else hdr["nr_frames"]

    try:
        frames_seg = shmdev.Segment.attach(args.name + ".frames",
                                           readonly=True)
    except OSError as exc:
        fail(f"{args.name}.frames: {exc}")
        ctl_seg.close()
        return 1
    if frames_seg.size < nr_slots * slot_size or stride < 2 * width or \
            slot_size < stride * height:
        fail(f"{args.name}.frames: {frames_seg.size} bytes do not hold "
             f"{nr_slots} slots of {slot_size} bytes")
        frames_seg.close()
        ctl_seg.close()
        return 1

    # One array per slot, made once: each is a view of the segment's
    # memory (strides skip the padding at the end of the lines), read-only
    # because the segment is attached read-only.
    views = [np.ndarray((height, width), dtype=np.uint16,
                        buffer=frames_seg.buf, offset=slot * slot_size,
                        strides=(stride, 2))
             for slot in range(nr_slots)]
    ready = shmdev.Ring(ctl_seg.buf, hdr["ready_off"], hdr["ready_len"])
    free = shmdev.Ring(ctl_seg.buf, hdr["free_off"], hdr["free_len"])
    if not args.quiet:
        print(f"{PROG}: attached {args.name}: {nr_slots} slots of "
              f"{width}x{height} Y16, expecting "
              f"{expected if expected else 'frames until the end'}",
              flush=True)

    checker = Checker(height, width)
    frames = errors = 0
    next_seq = 0
    latency_sum = latency_max = 0
    first = last = 0.0
    interrupted = False
    try:
        while True:
            try:
                raw = ready.recv(timeout=args.timeout)
            except BrokenPipeError:
                break           # the producer is done and we read it all
            except TimeoutError:
                fail(f"no frame for {args.timeout:g} s after {frames}")
                errors += 1
                break
            except OSError as exc:  # EBUSY: another consumer, say
                fail(f"{args.name}.ctl: {exc}")
                errors += 1
                break
            now_ns = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            last = time.monotonic()
            if not frames:
                first = last
            if len(raw) != FRAME.size:
                fail(f"a descriptor of {len(raw)} bytes")
                errors += 1
                break
            slot, seq, stamp = FRAME.unpack(raw)
            if slot >= nr_slots:
                fail(f"frame {seq} in slot {slot} of {nr_slots}")
                errors += 1
                break
            if seq != next_seq:
                if errors < MAX_REPORTS:
                    fail(f"expected frame {next_seq}, got {seq}")
                errors += 1
            next_seq = seq + 1
            bad = checker.bad_pixels(views[slot], seq)
            if bad:
                if errors < MAX_REPORTS:
                    x, y = checker.first_bad()
                    fail(f"frame {seq} (slot {slot}): {bad} bad pixels, "
                         f"the first at ({x}, {y}): "
                         f"{views[slot][y, x]:#06x}, not "
                         f"{checker.expected[y, x]:#06x}")
                errors += 1
            frames += 1
            latency = max(now_ns - stamp, 0)
            latency_sum += latency
            latency_max = max(latency_max, latency)
            # Done with the pixels: the slot is the producer's again.
            free.send(SLOT.pack(slot, seq))
    except KeyboardInterrupt:
        interrupted = True
        fail("interrupted")
    finally:
        del views
        ready.close()
        free.close()
        frames_seg.close()
        ctl_seg.close()

    if expected and frames != expected and not interrupted:
        fail(f"{frames} frames received, {expected} expected")
        errors += 1
    secs = last - first
    fps = (frames - 1) / secs if frames > 1 and secs > 0 else 0.0
    mean_ms = latency_sum / frames / 1e6 if frames else 0.0
    print(f"{PROG}: {frames} frames {width}x{height}, {errors} errors, "
          f"{fps:.1f} fps, latency {mean_ms:.2f} ms mean, "
          f"{latency_max / 1e6:.2f} ms max", flush=True)
    if errors:
        return 1
    return 130 if interrupted else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:   # before the stream started
        fail("interrupted")
        sys.exit(130)
