# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Mutex, Condition and Semaphore in memfd memory, across processes."""

from __future__ import annotations

import errno
import os
import signal
import struct
import time

import pytest

import shmdev

COUNTER = 128  # offset of a counter beside the objects


def test_mutex_lock_unlock_and_context(shared_memory):
    mem = shared_memory()
    mutex = shmdev.Mutex.create(mem)
    assert mutex.acquire() is True
    assert mutex.owner_died is False
    mutex.release()
    with mutex as held:
        assert held is mutex
    # Released by the with block: a non-blocking acquire succeeds.
    assert mutex.acquire(blocking=False) is True
    mutex.release()
    mutex.close()


def test_mutex_error_checking(shared_memory):
    mem = shared_memory()
    mutex = shmdev.Mutex.create(mem)
    with pytest.raises(PermissionError):
        mutex.release()  # not held
    mutex.acquire()
    with pytest.raises(OSError) as info:
        mutex.acquire()  # relock from the holder
    assert info.value.errno == errno.EDEADLK
    mutex.release()


def test_mutex_placement_is_checked(shared_memory):
    mem = shared_memory(4096)
    with pytest.raises(ValueError, match="aligned"):
        shmdev.Mutex(mem, 4)
    with pytest.raises(ValueError, match="bytes at offset"):
        shmdev.Mutex(mem, 4096 - 32)
    with pytest.raises(TypeError, match="writable"):
        shmdev.Mutex(bytes(64))
    with pytest.raises(ValueError, match="closed"):
        mutex = shmdev.Mutex.create(mem, 64)
        mutex.close()
        mutex.acquire()


def test_mutex_uninitialised_is_einval(shared_memory):
    mem = shared_memory()
    with pytest.raises(OSError) as info:
        shmdev.Mutex(mem).acquire()
    assert info.value.errno == errno.EINVAL


def test_mutex_held_by_another_process(shared_memory, fork):
    mem = shared_memory()
    mutex = shmdev.Mutex.create(mem)
    mutex.acquire()

    def child():
        other = shmdev.Mutex(mem)
        assert other.acquire(blocking=False) is False
        start = time.monotonic()
        assert other.acquire(timeout=0.1) is False
        assert time.monotonic() - start >= 0.09

    assert fork(child).wait() == 0
    mutex.release()


def test_mutex_excludes_across_processes(shared_memory, fork):
    mem = shared_memory()
    shmdev.Mutex.create(mem).close()
    rounds = 2000

    def add():
        mutex = shmdev.Mutex(mem)
        for _ in range(rounds):
            with mutex:
                (value,) = struct.unpack_from("Q", mem, COUNTER)
                struct.pack_into("Q", mem, COUNTER, value + 1)

    children = [fork(add) for _ in range(2)]
    add()
    assert [child.wait() for child in children] == [0, 0]
    assert struct.unpack_from("Q", mem, COUNTER)[0] == 3 * rounds


def _die_holding(mem):
    shmdev.Mutex(mem).acquire()
    struct.pack_into("Q", mem, COUNTER, 0xdead)  # half an update
    os._exit(0)


def test_mutex_dead_owner_is_reported_and_recovered(shared_memory, fork):
    mem = shared_memory()
    mutex = shmdev.Mutex.create(mem)
    assert fork(_die_holding, mem).wait() == 0

    assert mutex.acquire(timeout=5) is True
    assert mutex.owner_died is True
    assert struct.unpack_from("Q", mem, COUNTER)[0] == 0xdead
    struct.pack_into("Q", mem, COUNTER, 0)  # repaired
    mutex.consistent()
    assert mutex.owner_died is False
    mutex.release()

    assert mutex.acquire(timeout=5) is True
    assert mutex.owner_died is False
    mutex.release()


def test_mutex_not_made_consistent_is_not_recoverable(shared_memory, fork):
    mem = shared_memory()
    mutex = shmdev.Mutex.create(mem)
    assert fork(_die_holding, mem).wait() == 0
    with mutex:
        assert mutex.owner_died is True
    # Released without consistent(): unusable from now on.
    with pytest.raises(shmdev.NotRecoverableError) as info:
        mutex.acquire(timeout=1)
    assert info.value.errno == errno.ENOTRECOVERABLE
    with pytest.raises(shmdev.NotRecoverableError):
        mutex.acquire(blocking=False)
    # destroy() and create() make it usable again.
    mutex.destroy()
    mutex = shmdev.Mutex.create(mem)
    assert mutex.acquire(blocking=False) is True
    mutex.release()


class _Interrupted(Exception):
    pass


def test_mutex_wait_is_interruptible_by_signals(shared_memory, fork):
    mem = shared_memory()
    mutex = shmdev.Mutex.create(mem)

    def hold():
        shmdev.Mutex(mem).acquire()
        time.sleep(30)

    child = fork(hold)
    while mutex.acquire(blocking=False):  # until the child holds it
        mutex.release()
        time.sleep(0.005)

    def on_alarm(signum, frame):
        raise _Interrupted()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        start = time.monotonic()
        with pytest.raises(_Interrupted):
            mutex.acquire()
        assert time.monotonic() - start < 2.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        child.kill()


def test_condition_across_processes(shared_memory, fork):
    mem = shared_memory()
    mutex = shmdev.Mutex.create(mem, 0)
    cond = shmdev.Condition.create(mem, 64, mutex)

    def set_flag():
        m = shmdev.Mutex(mem, 0)
        c = shmdev.Condition(mem, 64, m)
        time.sleep(0.05)
        with c:
            struct.pack_into("Q", mem, COUNTER, 42)
            c.notify_all()

    child = fork(set_flag)
    with cond:
        value = cond.wait_for(
            lambda: struct.unpack_from("Q", mem, COUNTER)[0], timeout=10)
    assert value == 42
    assert child.wait() == 0

    with cond:
        start = time.monotonic()
        assert cond.wait(0.05) is False  # nobody notifies
        assert time.monotonic() - start >= 0.04
        assert cond.wait_for(lambda: False, timeout=0.02) is False


def test_semaphore_counts_and_wakes(shared_memory, fork):
    mem = shared_memory()
    sem = shmdev.Semaphore.create(mem, 0, value=2)
    assert sem.value == 2
    assert sem.acquire() and sem.acquire(blocking=False)
    assert sem.value == 0
    assert sem.acquire(blocking=False) is False
    start = time.monotonic()
    assert sem.acquire(timeout=0.05) is False
    assert time.monotonic() - start >= 0.04

    def post_later():
        time.sleep(0.05)
        shmdev.Semaphore(mem, 0).release(3)

    child = fork(post_later)
    assert sem.acquire(timeout=10) is True
    assert child.wait() == 0
    assert sem.value == 2
    with sem:
        assert sem.value == 1
    assert sem.value == 2
    with pytest.raises(ValueError):
        shmdev.Semaphore.create(mem, 16, value=-1)
