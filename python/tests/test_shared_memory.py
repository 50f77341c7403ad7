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
