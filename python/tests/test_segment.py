# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Segments on /dev/shmdev; every test here needs the module loaded."""

from __future__ import annotations

import asyncio
import errno
import os
import secrets
import socket
import time

import pytest

import shmdev
from conftest import needs_device

pytestmark = needs_device


@pytest.fixture
def name():
    """A fresh segment name, unlinked at the end if it still exists."""
    value = "pytest." + secrets.token_hex(6)
    yield value
    try:
        shmdev.unlink(value)
    except FileNotFoundError:
        pass


def test_create_attach_share_bytes(name):
    with shmdev.Segment.create(name, 1 << 20, 0o640) as seg:
        assert seg.name == name and seg.size == 1 << 20
        assert not seg.readonly and not seg.buf.readonly
        seg.buf[:5] = b"hello"
        with shmdev.Segment.attach(name) as rw:
            assert rw.buf[:5] == b"hello"
            rw.buf[5:6] = b"!"
        assert seg.buf[:6] == b"hello!"
        with shmdev.Segment.attach(name, readonly=True) as ro:
            assert ro.readonly and ro.buf.readonly
            assert ro.buf[:6] == b"hello!"
            with pytest.raises(TypeError):
                ro.buf[0] = 1
    assert seg.closed
    with pytest.raises(ValueError):
        seg.buf


def test_errors_arise_as_python_exceptions(name):
    with shmdev.Segment.create(name, 4096):
        with pytest.raises(FileExistsError) as info:
            shmdev.Segment.create(name, 4096)
        assert info.value.filename == name
    shmdev.unlink(name)
    with pytest.raises(FileNotFoundError):
        shmdev.Segment.attach(name)
    with pytest.raises(FileNotFoundError):
        shmdev.unlink(name)
    with pytest.raises(OSError) as info:
        shmdev.Segment.create(name, 0)
    assert info.value.errno == errno.EINVAL


def test_numpy_shares_memory_without_copy(name):
    numpy = pytest.importorskip("numpy")
    with shmdev.Segment.create(name, 1 << 16) as seg, \
            shmdev.Segment.attach(name, readonly=True) as ro:
        a = numpy.ndarray((64, 64), numpy.uint32, buffer=seg.buf)
        b = numpy.ndarray((64, 64), numpy.uint32, buffer=ro.buf)
        a[:] = numpy.arange(64 * 64).reshape(64, 64)
        assert (b == a).all() and not b.flags.writeable
        # numpy keeps the mmap object, not a buffer export: still caught
        with pytest.raises(BufferError):
            seg.close()
        with pytest.raises(BufferError):
            seg.resize(1 << 17)
        assert a[1, 1] == 65 and seg.size == 1 << 16  # mapping kept
        del a
        with pytest.raises(BufferError):
            ro.close()  # b views ro's mapping
        c = numpy.frombuffer(seg.buf[4096:], numpy.uint8)
        with pytest.raises(BufferError):
            seg.close()
        del b, c


def test_info_stat_list(name):
    with shmdev.Segment.create(name, 8192, 0o640) as seg:
        info = seg.info()
        assert (info.name, info.size, info.mode) == (name, 8192, 0o640)
        assert info.uid == os.geteuid() and info.nr_files >= 1
        assert info.nr_maps >= 1 and not info.anonymous
        st = seg.stat()
        assert st.cpid == os.getpid() and st.name == name
        assert name in [entry.name for entry in shmdev.list_segments()]
        assert name in [entry.name for entry in shmdev.Segment.list()]
        assert name in [entry.name for entry in shmdev.list_stat()]
    version = shmdev.version()
    assert version.api_version >= 3
    assert shmdev.limits().nr_segments >= 1


def test_anonymous_segment_passed_over_a_socket():
    with shmdev.Segment.create(None, 4096) as seg:
        assert seg.name is None and seg.info().anonymous
        seg.buf[:3] = b"abc"
        left, right = socket.socketpair()
        with left, right:
            socket.send_fds(left, [b"x"], [seg.fileno()])
            _, fds, _, _ = socket.recv_fds(right, 1, 1)
        try:
            with shmdev.Segment.from_fd(fds[0]) as other:
                assert other.buf[:3] == b"abc"
        finally:
            os.close(fds[0])
        with pytest.raises(ValueError):
            seg.unlink()


def test_resize_remaps(name):
    with shmdev.Segment.create(name, 4096) as seg:
        seg.buf[:4] = b"keep"
        view = seg.buf[:4]
        with pytest.raises(BufferError):
            seg.resize(8192)  # a view exists: nothing changes
        assert seg.info().size == 4096
        view.release()
        seg.resize(3 * 4096)
        assert seg.size == 3 * 4096 and seg.info().size == 3 * 4096
        assert seg.buf[:4] == b"keep" and seg.buf[-1] == 0
        seg.resize(4096)
        assert len(seg.buf) == 4096


def test_seals(name):
    with shmdev.Segment.create(name, 4096) as seg:
        assert seg.seals == 0
        seg.add_seals(shmdev.Seal.GROW)
        assert seg.seals == shmdev.Seal.GROW
        with pytest.raises(PermissionError):
            seg.resize(8192)
        with pytest.raises(OSError) as info:
            seg.add_seals(shmdev.Seal.WRITE)  # writable mapping exists
        assert info.value.errno == errno.EBUSY
    with shmdev.Segment.attach(name, map=False) as seg:
        seg.add_seals(shmdev.Seal.WRITE | shmdev.Seal.SEAL)
        with pytest.raises(PermissionError):
            seg.add_seals(shmdev.Seal.SHRINK)
    with pytest.raises(PermissionError):
        shmdev.Segment.attach(name)  # writable mapping of a sealed one
    with shmdev.Segment.attach(name, readonly=True) as ro:
        assert ro.info().seals & shmdev.Seal.WRITE


def test_chmod_chown_unlink(name):
    with shmdev.Segment.create(name, 4096, 0o600) as seg:
        seg.chmod(0o644)
        assert seg.info().mode == 0o644
        shmdev.chmod(name, 0o640)
        assert seg.info().mode == 0o640
        seg.chown(os.geteuid(), os.getegid())  # to oneself: allowed
        assert seg.info().uid == os.geteuid()
        seg.unlink()
        assert seg.info().unlinked
        seg.buf[0] = 1  # the memory stays with the mapping
    with pytest.raises(FileNotFoundError):
        shmdev.Segment.attach(name)


def test_open_or_create_and_unlink_if_unused(name):
    with shmdev.Segment.open_or_create(name, 4096) as first:
        assert first.created
        with shmdev.Segment.open_or_create(name, 8192) as second:
            assert not second.created and second.size == 4096
        with pytest.raises(OSError) as info:
            shmdev.unlink(name, if_unused=True)
        assert info.value.errno == errno.EBUSY
    shmdev.unlink(name, if_unused=True)


def test_huge_and_premap(name):
    if not shmdev.version().huge_page_size:
        pytest.skip("this kernel maps no huge pages")
    granule = shmdev.huge_granule()
    assert granule == shmdev.version().huge_page_size
    with shmdev.Segment.create(name, granule, huge=True,
                               premap=True) as seg:
        info = seg.info()
        assert info.huge and info.premap
        assert info.nr_pages > 0  # populated by mmap
    with pytest.raises(OSError) as info:
        shmdev.Segment.create(name + "x", granule // 2, huge=True)
    assert info.value.errno == errno.EINVAL


def test_reattach_gives_a_file_of_its_own(name):
    with shmdev.Segment.create(name, 4096) as seg:
        files = seg.info().nr_files
        with seg.reattach(readonly=True) as other:
            assert other.readonly
            assert seg.info().nr_files == files + 1


def _produce_through_doorbells(name, count):
    with shmdev.Segment.attach(name) as seg:
        ring = shmdev.Ring(seg.buf)
        ring.set_doorbell(seg, 0)
        for i in range(count):
            time.sleep(0.02)
            ring.send(str(i).encode(), timeout=10)
        ring.close()


def test_asyncio_waits_on_the_doorbell(name, fork):
    count = 5
    with shmdev.Segment.create(name, 1 << 16) as seg:
        ring = shmdev.Ring.create(seg.buf)
        ring.set_doorbell(seg, 0)
        assert ring.has_doorbell and ring.fileno() >= 0
        child = fork(_produce_through_doorbells, name, count)

        async def main():
            return [msg async for msg in ring]

        got = asyncio.run(main())
        assert got == [str(i).encode() for i in range(count)]
        assert child.wait() == 0
        ring.close()
