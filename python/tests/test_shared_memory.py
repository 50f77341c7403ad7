# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""shmdev.SharedMemory and ShareableList, the interface of
multiprocessing.shared_memory on shmdev segments."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import secrets
from multiprocessing import shared_memory as stdlib

import pytest

import shmdev
from conftest import needs_device


def test_arguments_are_checked_as_the_standard_library_does():
    with pytest.raises(ValueError):
        shmdev.SharedMemory(create=True, size=0)
    with pytest.raises(ValueError):
        shmdev.SharedMemory(create=True, size=-1)
    with pytest.raises(ValueError):
        shmdev.SharedMemory()  # no name to attach


def test_shareable_list_is_the_standard_one_on_shmdev():
    assert issubclass(shmdev.ShareableList, stdlib.ShareableList)
    init = shmdev.ShareableList.__init__
    assert init.__code__ is stdlib.ShareableList.__init__.__code__
    assert init.__globals__["SharedMemory"] is shmdev.SharedMemory
    # The standard library's own class is left as it was.
    assert stdlib.ShareableList.__init__.__globals__["SharedMemory"] \
        is stdlib.SharedMemory


@pytest.mark.skipif(os.path.exists("/dev/shmdev"),
                    reason="/dev/shmdev exists here")
def test_shareable_list_goes_through_shmdev():
    with pytest.raises(shmdev.DeviceNotAvailableError):
        shmdev.ShareableList([1, 2, 3])


@pytest.fixture
def name():
    value = "pytest.sm." + secrets.token_hex(6)
    yield value
    try:
        shmdev.unlink(value)
    except FileNotFoundError:
        pass


@needs_device
def test_create_attach_close_unlink(name):
    shm = shmdev.SharedMemory(name, create=True, size=1000)
    assert (shm.name, shm.size) == (name, 1000)
    assert repr(shm) == f"SharedMemory({name!r}, size=1000)"
    shm.buf[:4] = b"data"
    other = shmdev.SharedMemory(name)
    assert other.size == 1000 and bytes(other.buf[:4]) == b"data"
    with pytest.raises(FileExistsError):
        shmdev.SharedMemory(name, create=True, size=10)
    other.close()
    shm.close()
    shm.unlink()
    with pytest.raises(FileNotFoundError):
        shmdev.SharedMemory(name)


@needs_device
def test_random_name_and_pickling():
    shm = shmdev.SharedMemory(create=True, size=64)
    try:
        assert shm.name.startswith("psm_")
        shmdev.check_name(shm.name)
        shm.buf[0] = 7
        clone = pickle.loads(pickle.dumps(shm))
        assert clone.name == shm.name and clone.buf[0] == 7
        clone.close()
    finally:
        shm.close()
        shm.unlink()


def _bump(shm):
    shm.buf[0] += 1
    shm.close()


@needs_device
def test_passed_to_another_process(name):
    shm = shmdev.SharedMemory(name, create=True, size=16)
    ctx = multiprocessing.get_context("fork")
    proc = ctx.Process(target=_bump, args=(shm,))
    proc.start()
    proc.join(30)
    assert proc.exitcode == 0 and shm.buf[0] == 1
    shm.close()
    shm.unlink()


@needs_device
def test_shareable_list(name):
    sl = shmdev.ShareableList([1, 2.5, "three", b"four", None, True],
                              name=name)
    assert isinstance(sl.shm, shmdev.SharedMemory)
    other = shmdev.ShareableList(name=name)
    assert list(other) == [1, 2.5, "three", b"four", None, True]
    other[0] = 42
    assert sl[0] == 42
    clone = pickle.loads(pickle.dumps(sl))
    assert clone[0] == 42 and isinstance(clone, shmdev.ShareableList)
    for each in (clone, other, sl):
        each.shm.close()
    sl.shm.unlink()


# The same steps on the standard library's class and on shmdev's, whose
# observable results must agree: what code written for one relies on.
def _behaviour(cls: type, name: str) -> list:
    seen: list = []

    def outcome(fn):
        try:
            result = fn()
        except Exception as err:  # the type is what must agree
            return type(err).__name__
        return result

    shm = cls(name, create=True, size=1000)
    seen.append(("created", shm.name, shm.size, len(shm.buf) >= 1000,
                 bytes(shm.buf[:8])))
    shm.buf[:5] = b"hello"
    seen.append(("exists", outcome(lambda: cls(name, create=True, size=8))))
    other = cls(name)
    seen.append(("attached", other.name, other.size, bytes(other.buf[:5])))
    other.buf[5:7] = b", "
    seen.append(("seen back", bytes(shm.buf[:7])))
    view = shm.buf[:4]
    seen.append(("close with a view", outcome(shm.close)))
    view.release()
    shm.close()
    seen.append(("closed", shm.buf, outcome(shm.close)))
    clone = pickle.loads(pickle.dumps(other))
    seen.append(("pickled", type(clone) is cls, clone.name,
                 bytes(clone.buf[:7])))
    clone.close()
    other.unlink()
    seen.append(("mapped after unlink", bytes(other.buf[:7])))
    seen.append(("attach after unlink", outcome(lambda: cls(name))))
    seen.append(("unlink twice", outcome(other.unlink)))
    other.close()
    seen.append(("size 0", outcome(lambda: cls(None, create=True, size=0))))
    seen.append(("no name", outcome(lambda: cls())))
    return seen


needs_posix_shm = pytest.mark.skipif(
    not os.path.isdir("/dev/shm"),
    reason="no /dev/shm: multiprocessing.shared_memory cannot work here")


@needs_device
@needs_posix_shm
def test_behaves_as_the_standard_library():
    name = "pytest_sm_" + secrets.token_hex(6)
    theirs = _behaviour(stdlib.SharedMemory, name)
    ours = _behaviour(shmdev.SharedMemory, name)
    assert ours == theirs


@needs_device
@needs_posix_shm
def test_shareable_list_behaves_as_the_standard_library():
    def steps(cls):
        sl = cls([1, -2.5, "three", b"four", None, True])
        other = cls(name=sl.shm.name)
        other[2] = "3"
        seen = [list(sl), sl.format, len(sl), sl.count(True),
                sl.index(b"four")]
        try:
            sl[2] = "longer than the slot it had"
        except ValueError as err:
            seen.append(("too long", type(err).__name__))
        other.shm.close()
        sl.shm.close()
        sl.shm.unlink()
        return seen

    assert steps(shmdev.ShareableList) == steps(stdlib.ShareableList)
