# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Process-shared synchronisation objects that live in shared memory.

:class:`Mutex`, :class:`Condition` and :class:`Semaphore` wrap libshmdev's
``shmdev_mutex_*``, ``shmdev_cond_*`` and ``shmdev_sem_*``. Each object
lies at an offset of a writable buffer that several processes map
(``Segment.buf``, an ``mmap`` of a memfd, any ``MAP_SHARED`` mapping), at
any address in each process. One process initialises the object once with
``create()``; every other process (or the same one) opens it by
constructing the class on the same bytes.

The mutex is robust: when a process dies holding it, the next locker gets
it with :attr:`Mutex.owner_died` set, repairs the data the mutex protects
and calls :meth:`Mutex.consistent`. Releasing it without that makes it
unusable, and every later lock raises :class:`~shmdev.NotRecoverableError`.
"""

from __future__ import annotations

import errno
import time
from types import TracebackType
from typing import Any, Callable, Optional, Type, TypeVar

from . import _lib
from ._lib import check, lib

__all__ = ["Mutex", "Condition", "Semaphore"]

# Longest single wait of a blocking lock without a deadline: the mutex is a
# glibc robust mutex, whose wait a signal does not interrupt, so waiting in
# slices lets Python run signal handlers (Ctrl-C) in between.
_WAIT_SLICE = 0.1

_T = TypeVar("_T")


class _SharedObject:
    """An object of *size* bytes at *offset* in a writable buffer."""

    _size = 0
    _what = ""

    def __init__(self, buffer: Any, offset: int = 0) -> None:
        view, holder, addr = _lib.buffer_address(buffer, offset, self._size,
                                                 self._what)
        if addr % _lib.SYNC_ALIGN:
            del holder
            view.release()
            raise ValueError(f"a {self._what} must be "
                             f"{_lib.SYNC_ALIGN}-byte aligned; offset "
                             f"{offset} is not")
        self._view: Optional[memoryview] = view
        self._holder: Any = holder
        self._addr = addr
        self.offset = offset

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._view is None

    def _address(self) -> int:
        if self._view is None:
            raise ValueError(f"operation on a closed {self._what}")
        return self._addr

    def close(self) -> None:
        """Lets go of the buffer (which can then be closed); the object in
        shared memory is left as it is, for the other processes."""
        if self._view is not None:
            self._holder = None
            self._view.release()
            self._view = None

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"offset={self.offset}"
        return f"<shmdev.{type(self).__name__} {state}>"


def _wait_slices(timeout: Optional[float],
                 attempt: Callable[[Optional[float]], Optional[_T]]
                 ) -> Optional[_T]:
    """Calls *attempt* with the time left in slices of at most _WAIT_SLICE
    seconds (None: no deadline) until it returns non-None or *timeout*
    passes (then None)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        if deadline is None:
            slice_ = _WAIT_SLICE
        else:
            slice_ = min(_WAIT_SLICE, max(deadline - time.monotonic(), 0.0))
        result = attempt(slice_)
        if result is not None:
            return result
        if deadline is not None and time.monotonic() >= deadline:
            return None


def _lock_timeout(blocking: bool, timeout: Optional[float]
                  ) -> Optional[float]:
    """threading.Lock.acquire()'s arguments as a timeout: None for no
    limit, 0 for a non-blocking attempt."""
    if timeout is None or timeout == -1:
        return None if blocking else 0.0
    if not blocking:
        raise ValueError("can't specify a timeout for a non-blocking call")
    if timeout < 0:
        raise ValueError("timeout value must be a non-negative number")
    return float(timeout)


class Mutex(_SharedObject):
    """A robust, process-shared, error-checking mutex (64 bytes, 8-byte
    aligned) at *offset* of *buffer*, initialised before by
    :meth:`create`.

    Used as ``threading.Lock``: :meth:`acquire`, :meth:`release`, and as a
    context manager. Relocking from the holding thread raises an OSError
    with ``EDEADLK``; releasing from another thread a PermissionError.
    All processes that share a mutex must use the same C library (glibc).
    """

    SIZE = _lib.MUTEX_SIZE
    _size = _lib.MUTEX_SIZE
    _what = "Mutex"

    def __init__(self, buffer: Any, offset: int = 0) -> None:
        super().__init__(buffer, offset)
        self._owner_died = False

    @classmethod
    def create(cls, buffer: Any, offset: int = 0, *,
               priority_inherit: bool = False) -> "Mutex":
        """Initialises a mutex at *offset* of *buffer*, once, before any
        process uses it, and returns it. *priority_inherit* makes it use
        priority inheritance."""
        mutex = cls(buffer, offset)
        flags = _lib.MUTEX_PRIO_INHERIT if priority_inherit else 0
        try:
            check(lib().shmdev_mutex_init(mutex._address(), flags))
        except BaseException:
            mutex.close()
            raise
        return mutex

    @property
    def owner_died(self) -> bool:
        """True after an acquire that found the previous holder dead: the
        data the mutex protects may be inconsistent. Repair them, then call
        :meth:`consistent` before :meth:`release`."""
        return self._owner_died

    def _result(self, ret: int) -> Optional[bool]:
        if ret == 0:
            self._owner_died = False
            return True
        if ret == -errno.EOWNERDEAD:
            self._owner_died = True
            return True
        if ret in (-errno.ETIMEDOUT, -errno.EBUSY, -errno.EINTR):
            return None
        check(ret)
        return None

    def acquire(self, blocking: bool = True,
                timeout: Optional[float] = -1) -> bool:
        """Locks the mutex, waiting at most *timeout* seconds (-1 or None:
        no limit; *blocking* False: not at all). Returns True when the
        caller holds it (check :attr:`owner_died` then), False on timeout.
        Signals are handled while it waits."""
        limit = _lock_timeout(blocking, timeout)
        addr = self._address()
        if limit == 0.0:
            return bool(self._result(lib().shmdev_mutex_trylock(addr)))

        def attempt(slice_: Optional[float]) -> Optional[bool]:
            deadline = _lib.abs_monotonic(slice_ or 0.0)
            return self._result(lib().shmdev_mutex_timedlock(addr, deadline))

        return bool(_wait_slices(limit, attempt))

    def release(self) -> None:
        """Unlocks the mutex, which the calling thread holds. After an
        acquire that reported :attr:`owner_died`, without :meth:`consistent`
        first, the mutex becomes not recoverable."""
        check(lib().shmdev_mutex_unlock(self._address()))
        self._owner_died = False

    def consistent(self) -> None:
        """Marks the data the mutex protects as repaired after an acquire
        that reported :attr:`owner_died`; the mutex then works normally."""
        check(lib().shmdev_mutex_consistent(self._address()))
        self._owner_died = False

    def destroy(self) -> None:
        """Destroys the mutex in shared memory (no process may use it any
        more; :meth:`create` may initialise it again)."""
        check(lib().shmdev_mutex_destroy(self._address()))

    def __enter__(self) -> "Mutex":
        self.acquire()
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]],
                 exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.release()


class Condition(_SharedObject):
    """A process-shared condition variable (16 bytes, 8-byte aligned) at
    *offset* of *buffer*, used with *mutex*; initialised before by
    :meth:`create`. As ``threading.Condition``: the context manager locks
    the mutex, :meth:`wait` and :meth:`wait_for` need it held. Wakeups may
    be spurious; :meth:`wait_for` loops over its predicate."""

    SIZE = _lib.COND_SIZE
    _size = _lib.COND_SIZE
    _what = "Condition"

    def __init__(self, buffer: Any, offset: int, mutex: Mutex) -> None:
        super().__init__(buffer, offset)
        self.mutex = mutex

    @classmethod
    def create(cls, buffer: Any, offset: int, mutex: Mutex) -> "Condition":
        """Initialises a condition variable at *offset* of *buffer*, once,
        and returns it."""
        cond = cls(buffer, offset, mutex)
        try:
            check(lib().shmdev_cond_init(cond._address(), 0))
        except BaseException:
            cond.close()
            raise
        return cond

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Releases the mutex, sleeps until notified or for at most
        *timeout* seconds, and locks the mutex again. False if the timeout
        passed. If the mutex's holder died meanwhile, the mutex's
        :attr:`Mutex.owner_died` is set."""
        mutex_addr = self.mutex._address()
        if timeout is None:
            ret = lib().shmdev_cond_wait(self._address(), mutex_addr)
        else:
            ret = lib().shmdev_cond_timedwait(self._address(), mutex_addr,
                                              _lib.abs_monotonic(timeout))
        if ret == -errno.ETIMEDOUT:
            return False
        if ret == -errno.EOWNERDEAD:
            self.mutex._owner_died = True
            return True
        check(ret)
        return True

    def wait_for(self, predicate: Callable[[], _T],
                 timeout: Optional[float] = None) -> _T:
        """Waits until *predicate* returns a true value (returned), or
        *timeout* seconds pass (the last value is returned)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        result = predicate()
        while not result:
            if deadline is None:
                self.wait()
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.wait(left)
            result = predicate()
        return result

    def notify(self) -> None:
        """Wakes at least one waiter, if any."""
        check(lib().shmdev_cond_signal(self._address()))

    def notify_all(self) -> None:
        """Wakes every waiter."""
        check(lib().shmdev_cond_broadcast(self._address()))

    def destroy(self) -> None:
        """Destroys the condition variable in shared memory."""
        check(lib().shmdev_cond_destroy(self._address()))

    def __enter__(self) -> "Condition":
        self.mutex.acquire()
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]],
                 exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.mutex.release()


class Semaphore(_SharedObject):
    """A process-shared counting semaphore (16 bytes, 8-byte aligned) at
    *offset* of *buffer*, initialised before by :meth:`create`. As
    ``threading.Semaphore``: :meth:`acquire`, :meth:`release`, and a
    context manager."""

    SIZE = _lib.SEM_SIZE
    VALUE_MAX = _lib.SEM_VALUE_MAX
    _size = _lib.SEM_SIZE
    _what = "Semaphore"

    @classmethod
    def create(cls, buffer: Any, offset: int = 0,
               value: int = 0) -> "Semaphore":
        """Initialises a semaphore of *value* at *offset* of *buffer*,
        once, and returns it."""
        if not 0 <= value <= _lib.SEM_VALUE_MAX:
            raise ValueError(f"a semaphore's value is 0 to "
                             f"{_lib.SEM_VALUE_MAX}")
        sem = cls(buffer, offset)
        try:
            check(lib().shmdev_sem_init(sem._address(), value, 0))
        except BaseException:
            sem.close()
            raise
        return sem

    def acquire(self, blocking: bool = True,
                timeout: Optional[float] = None) -> bool:
        """Decrements the value, waiting while it is 0 for at most *timeout*
        seconds (None: no limit; *blocking* False: not at all). False if it
        could not."""
        if not blocking:
            if timeout is not None:
                raise ValueError("can't specify a timeout for a "
                                 "non-blocking call")
            timeout = 0.0
        if timeout is not None and timeout < 0:
            raise ValueError("timeout value must be a non-negative number")
        addr = self._address()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if timeout == 0.0:
                ret = lib().shmdev_sem_trywait(addr)
            elif deadline is None:
                ret = lib().shmdev_sem_wait(addr)
            else:
                left = max(deadline - time.monotonic(), 0.0)
                ret = lib().shmdev_sem_timedwait(addr,
                                                 _lib.abs_monotonic(left))
            if ret == 0:
                return True
            if ret in (-errno.EAGAIN, -errno.ETIMEDOUT):
                return False
            if ret != -errno.EINTR:
                check(ret)
            # EINTR: Python runs the signal's handler; wait again.

    def release(self, n: int = 1) -> None:
        """Increments the value *n* times, waking as many waiters."""
        if n < 1:
            raise ValueError("n must be one or more")
        for _ in range(n):
            check(lib().shmdev_sem_post(self._address()))

    @property
    def value(self) -> int:
        """The current value, which other processes change at any time."""
        return check(lib().shmdev_sem_getvalue(self._address()))

    def destroy(self) -> None:
        """Destroys the semaphore in shared memory."""
        check(lib().shmdev_sem_destroy(self._address()))

    def __enter__(self) -> "Semaphore":
        self.acquire()
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]],
                 exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.release()
