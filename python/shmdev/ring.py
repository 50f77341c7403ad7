# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Message rings that live in shared memory (libshmdev's ``shmdev_ring_*``).

A ring is a region of a writable shared buffer (``Segment.buf``, an mmap of
a memfd, any ``MAP_SHARED`` mapping) that one process formats with
:meth:`Ring.create` and every process, at whatever address it maps it,
opens with :class:`Ring`. Two kinds: single producer and single consumer
(the default; variable-size messages) and multi-producer, multi-consumer
(``mpmc=True``; messages of up to ``msg_max`` bytes each in fixed slots).

Blocking calls take a timeout in seconds: None waits without limit, 0
never waits (``BlockingIOError``), a positive value waits at most that
long (``TimeoutError``). Once every process of the other side has exited
or detached, a call that would wait raises ``BrokenPipeError`` instead.

Zero copy: :meth:`Ring.reserve` gives a writable memoryview into the ring
to fill, published by ``commit()``; :meth:`Ring.peek` a read-only view of
the next message, removed by ``release()``. Both views are released when
the reservation or message ends, so no stale access is possible through
them.

Event loops: a ring in a shmdev segment wakes waiters through the
segment's doorbells (:meth:`Ring.set_doorbell`), and :meth:`Ring.recv_async`,
:meth:`Ring.send_async` and ``async for`` wait for it in asyncio with no
thread, on :meth:`Ring.fileno`. Without a doorbell (a ring in a memfd, or
a module without doorbells) they poll, backing off to every
``LIVENESS_MS`` milliseconds.

A Ring is used by one thread at a time (threads open one each), and a
child process opens the ring again after ``fork()``: the parent's Ring
objects refuse to work in the child.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import os
import select
import threading
import time
import weakref
from dataclasses import dataclass
from types import TracebackType
from typing import (Any, AsyncIterator, Callable, Optional, Type, TypeVar,
                    Union)

from . import _lib
from ._lib import check, lib, timeout_ns

__all__ = ["Ring", "RingInfo", "Reservation", "Message"]

_T = TypeVar("_T")

# Polling of rings without a doorbell in the async methods, in seconds.
_POLL_FIRST = 0.0005
_POLL_MAX = _lib.RING_LIVENESS_MS / 1000.0

_live_rings: "weakref.WeakSet[Ring]" = weakref.WeakSet()


def _forget_rings_after_fork() -> None:
    for ring in list(_live_rings):
        ring._forked = True


os.register_at_fork(after_in_child=_forget_rings_after_fork)


@dataclass(frozen=True)
class RingInfo:
    """What :meth:`Ring.info` reports; ``used`` and ``dropped`` are
    snapshots that other processes change at any time."""

    flags: int
    msg_max: int        #: largest message, in bytes
    capacity: int       #: data bytes (SPSC) or slots (MPMC)
    used: int           #: bytes (SPSC) or slots (MPMC) now in use
    dropped: int        #: messages lost to processes that died

    @property
    def mpmc(self) -> bool:
        """Whether the ring is multi-producer, multi-consumer."""
        return bool(self.flags & _lib.RING_MPMC)


class Reservation:
    """Room for one message, from :meth:`Ring.reserve`. Write into
    :attr:`buf`, then :meth:`commit` (or :meth:`abort`). As a context
    manager it commits the whole reservation, or what :attr:`length` was
    set to, when the block ends normally and aborts on an exception."""

    def __init__(self, ring: "Ring", buf: memoryview) -> None:
        self._ring: Optional[Ring] = ring
        self.buf = buf          #: writable view of the reserved bytes
        self.length = len(buf)  #: what the context manager commits

    @property
    def done(self) -> bool:
        """Whether the reservation was committed or aborted."""
        return self._ring is None

    def _finish(self) -> "Ring":
        ring = self._ring
        if ring is None:
            raise ValueError("the reservation was already committed or "
                             "aborted")
        self._ring = None
        return ring

    def commit(self, length: Optional[int] = None) -> None:
        """Publishes the first *length* bytes (default: all) of
        :attr:`buf` as a message. The view is released."""
        if length is None:
            length = self.length
        if not 0 <= length <= len(self.buf):
            raise ValueError(f"cannot commit {length} bytes of a "
                             f"{len(self.buf)}-byte reservation")
        ring = self._finish()
        _release_view(self.buf)
        ring._commit(length)

    def abort(self) -> None:
        """Drops the reservation. The view is released."""
        ring = self._finish()
        _release_view(self.buf)
        ring._abort()

    def __enter__(self) -> "Reservation":
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]],
                 exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        if self.done:
            return
        if exc_type is None:
            self.commit()
        else:
            self.abort()


class Message:
    """The next message of a ring, taken by :meth:`Ring.peek` and still in
    the ring: :attr:`buf` is a read-only view of it until :meth:`release`
    removes it. As a context manager it releases it when the block ends.
    ``bytes(message)`` copies it."""

    def __init__(self, ring: "Ring", buf: memoryview) -> None:
        self._ring: Optional[Ring] = ring
        self.buf = buf  #: read-only view of the message in the ring

    def __len__(self) -> int:
        return self.buf.nbytes

    def __bytes__(self) -> bytes:
        return self.buf.tobytes()

    @property
    def released(self) -> bool:
        """Whether :meth:`release` was called."""
        return self._ring is None

    def release(self) -> None:
        """Removes the message from the ring. The view is released."""
        ring = self._ring
        if ring is None:
            raise ValueError("the message was already released")
        self._ring = None
        _release_view(self.buf)
        ring._release()

    def __enter__(self) -> "Message":
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]],
                 exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        if not self.released:
            self.release()


def _release_view(view: memoryview) -> None:
    """Releases a view handed out into the ring, unless something (a numpy
    array, a nested memoryview) still exports it: then it stays valid
    memory, and only its contents are no longer the caller's."""
    try:
        view.release()
    except BufferError:
        pass


class Ring:
    """A handle of the ring in the *length* bytes (default: to the end) at
    *offset* of the writable *buffer*, formatted before by
    :meth:`create`. Pins the buffer until :meth:`close`."""

    HEADER_SIZE = _lib.RING_HDR_SIZE
    LIVENESS_MS = _lib.RING_LIVENESS_MS
    MAX_PEERS = _lib.RING_MAX_PEERS

    def __init__(self, buffer: Any, offset: int = 0,
                 length: Optional[int] = None) -> None:
        view, holder, addr, length = self._pin(buffer, offset, length)
        handle = _lib.shmdev_ring()
        ret = lib().shmdev_ring_attach(addr, length, ctypes.byref(handle))
        if ret < 0:
            del holder
            view.release()
            check(ret)
        self._view: Optional[memoryview] = view
        self._holder: Any = holder
        self._base = ctypes.addressof(holder)
        self._handle = handle
        self._bell_fd: Optional[int] = None
        self._own_bell_fd = False
        self._hup = False
        self._forked = False
        self._busy = threading.Lock()
        self._reservation: Optional[Reservation] = None
        self._message: Optional[Message] = None
        # The fast paths of send(), recv() and recv_into(): one C call,
        # with what it needs looked up once.
        self._ref = ctypes.byref(handle)
        self._c_send = lib().shmdev_ring_send
        self._c_recv = lib().shmdev_ring_recv
        self._length = ctypes.c_size_t()
        self._length_ref = ctypes.byref(self._length)
        self._scratch: Any = None
        self.msg_max = self.info().msg_max
        _live_rings.add(self)

    @staticmethod
    def _pin(buffer: Any, offset: int,
             length: Optional[int]) -> tuple[memoryview, Any, int, int]:
        total = memoryview(buffer).nbytes
        if length is None:
            length = total - offset
        view, holder, addr = _lib.buffer_address(buffer, offset, length,
                                                 "Ring")
        return view, holder, addr, length

    @classmethod
    def create(cls, buffer: Any, offset: int = 0,
               length: Optional[int] = None, *, msg_max: int = 0,
               mpmc: bool = False) -> "Ring":
        """Formats the region as an empty ring, once, before any process
        opens it, and returns a handle of it. *msg_max* is the largest
        message (0: as large as an SPSC ring allows; an MPMC ring needs
        one). Formatting a ring in use loses its messages."""
        view, holder, addr, length = cls._pin(buffer, offset, length)
        try:
            flags = _lib.RING_MPMC if mpmc else 0
            check(lib().shmdev_ring_init(addr, length, msg_max, flags))
        finally:
            del holder
            view.release()
        return cls(buffer, offset, length)

    # State and checks

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._view is None

    def _handle_ref(self) -> Any:
        if self._view is None:
            raise ValueError("operation on a closed Ring")
        if self._forked:
            raise RuntimeError("this Ring was opened before fork(): open "
                               "the ring again in the child")
        return ctypes.byref(self._handle)

    def _locked(self, call: Callable[[Any], _T]) -> _T:
        ref = self._handle_ref()
        if not self._busy.acquire(blocking=False):
            raise RuntimeError("a Ring is used by one thread at a time: "
                               "open one Ring per thread")
        try:
            return call(ref)
        finally:
            self._busy.release()

    def _view_at(self, address: int, length: int, readonly: bool
                 ) -> memoryview:
        assert self._view is not None
        start = address - self._base
        if start < 0 or start + length > self._view.nbytes:
            raise OSError(errno.EPROTO, "the ring pointed outside its "
                          "buffer")
        view = self._view[start:start + length]
        return view.toreadonly() if readonly else view

    def _fast(self, func: Any, timeout: Optional[float], *args: Any
              ) -> None:
        """Calls libshmdev's *func* (send or receive) with *args* and the
        timeout in nanoseconds, the handle taken (see :meth:`_locked`):
        one C call, no closure, in the common case; again, through
        :meth:`_with_timeout`, only when a signal interrupted it."""
        if self._view is None or self._forked:
            self._handle_ref()  # raises the error that says why
        if not self._busy.acquire(False):
            raise RuntimeError("a Ring is used by one thread at a time: "
                               "open one Ring per thread")
        try:
            ret = func(*args, -1 if timeout is None else timeout_ns(timeout))
            if ret == -errno.EINTR:
                self._with_timeout(timeout, lambda ns: func(*args, ns))
            elif ret < 0:
                check(ret)
        finally:
            self._busy.release()

    def _with_timeout(self, timeout: Optional[float],
                      call: Callable[[int], int]) -> None:
        """Calls *call* with the nanoseconds left until it does not fail
        with EINTR (after which Python has run the signal's handlers);
        raises for an error."""
        deadline = None
        if timeout is not None and timeout > 0:
            deadline = time.monotonic() + timeout
        ns = timeout_ns(timeout)
        while True:
            ret = call(ns)
            if ret != -errno.EINTR:
                check(ret)
                return
            if deadline is not None:
                ns = max(int((deadline - time.monotonic()) * 1e9), 1)

    def info(self) -> RingInfo:
        """The ring's geometry and counters."""
        info = _lib.shmdev_ring_info()
        check(lib().shmdev_ring_info(self._handle_ref(), ctypes.byref(info)))
        return RingInfo(info.flags, info.msg_max, info.capacity, info.used,
                        info.dropped)

    # Producing

    def send(self, data: Any, timeout: Optional[float] = None) -> None:
        """Copies the bytes-like *data* into the ring as one message,
        waiting for room. OSError EMSGSIZE if it exceeds :attr:`msg_max`."""
        if type(data) is bytes:
            source: Any = data
            nbytes = len(data)
        else:
            view = memoryview(data)
            if not view.c_contiguous:
                raise ValueError("send needs a contiguous buffer")
            view = view.cast("B")
            nbytes = view.nbytes
            if not view.readonly and nbytes:
                source = (ctypes.c_char * nbytes).from_buffer(view)
            else:
                source = view.tobytes()
        self._fast(self._c_send, timeout, self._ref, source, nbytes)

    def reserve(self, size: int, timeout: Optional[float] = None
                ) -> Reservation:
        """Reserves room for a message of up to *size* bytes, waiting for
        it; returns a :class:`Reservation` whose ``buf`` to fill in place.
        A handle holds one reservation at a time."""
        if size < 0:
            raise ValueError("size must not be negative")
        ptr = ctypes.c_void_p()

        def call(ref: Any) -> Reservation:
            self._with_timeout(timeout, lambda ns: lib().shmdev_ring_reserve(
                ref, size, ctypes.byref(ptr), ns))
            return Reservation(self, self._view_at(ptr.value or 0, size,
                                                   False))

        self._reservation = self._locked(call)
        return self._reservation

    def _commit(self, length: int) -> None:
        self._reservation = None
        self._locked(lambda ref: check(lib().shmdev_ring_commit(ref, length)))

    def _abort(self) -> None:
        self._reservation = None
        self._locked(lambda ref: check(lib().shmdev_ring_abort(ref)))

    # Consuming

    def peek(self, timeout: Optional[float] = None) -> Message:
        """Takes the next message, waiting for one, and returns it as a
        :class:`Message` whose read-only ``buf`` is the message in the
        ring; it stays there until ``release()``. Peeking again before
        that returns the same message."""
        ptr = ctypes.c_void_p()
        size = ctypes.c_size_t()

        def call(ref: Any) -> Message:
            self._with_timeout(timeout, lambda ns: lib().shmdev_ring_peek(
                ref, ctypes.byref(ptr), ctypes.byref(size), ns))
            return Message(self, self._view_at(ptr.value or 0, size.value,
                                               True))

        if self._message is not None and not self._message.released:
            _release_view(self._message.buf)
        self._message = self._locked(call)
        return self._message

    def _release(self) -> None:
        self._message = None
        self._locked(lambda ref: check(lib().shmdev_ring_release(ref)))

    # Largest msg_max for which recv() copies through a buffer of the
    # handle's own (one C call) rather than peek() and release().
    _SCRATCH_MAX = 1 << 20

    def recv(self, timeout: Optional[float] = None) -> bytes:
        """The next message, copied out of the ring, waiting for one."""
        if self._message is not None or self.msg_max > self._SCRATCH_MAX:
            with self.peek(timeout) as message:
                return message.buf.tobytes()
        scratch = self._scratch
        if scratch is None:
            scratch = self._scratch = ctypes.create_string_buffer(
                max(self.msg_max, 1))
        self._fast(self._c_recv, timeout, self._ref, scratch, len(scratch),
                   self._length_ref)
        return ctypes.string_at(scratch, self._length.value)

    def recv_into(self, buffer: Any, timeout: Optional[float] = None) -> int:
        """Copies the next message into the writable *buffer*, waiting for
        one, and returns its length. If it does not fit, nothing is
        copied, OSError EMSGSIZE is raised and the message stays next."""
        if type(buffer) is bytearray:
            view = None
            size = len(buffer)
            target: Any = (ctypes.c_char * size).from_buffer(buffer) \
                if size else None
        else:
            view = memoryview(buffer)
            if not view.c_contiguous or view.readonly:
                raise TypeError("recv_into needs a writable contiguous "
                                "buffer")
            view = view.cast("B")
            size = view.nbytes
            target = (ctypes.c_char * size).from_buffer(view) if size \
                else None
        length = self._length
        try:
            self._fast(self._c_recv, timeout, self._ref, target, size,
                       self._length_ref)
        except OSError as exc:
            if exc.errno == errno.EMSGSIZE:
                raise OSError(errno.EMSGSIZE,
                              f"the message is {length.value} bytes, the "
                              f"buffer {size}") from None
            raise
        finally:
            del target
            if view is not None:
                view.release()
        return length.value

    # Event loops

    def set_doorbell(self, target: Union[int, Any], bell: int = 0) -> None:
        """Lets the ring wake and be woken through doorbells *bell* and
        *bell* + 1 of a shmdev segment, so that :meth:`fileno` can be
        waited on. Every process of the ring does this, with the same
        *bell*. *target* is a :class:`~shmdev.Segment` bound read-write (the
        ring then attaches a file of its own to it, closed with the ring),
        or the descriptor of such a file, which the caller keeps open until
        the ring is closed and which no other waiter shares."""
        if self._view is None:
            raise ValueError("operation on a closed Ring")
        if isinstance(target, int):
            fd, own = target, False
        else:
            fd, own = target.reattach_fd(), True
        try:
            self._locked(lambda ref: check(
                lib().shmdev_ring_set_doorbell(ref, fd, bell)))
        except BaseException:
            if own:
                os.close(fd)
            raise
        self._drop_bell_fd()
        self._bell_fd, self._own_bell_fd, self._hup = fd, own, False

    def _drop_bell_fd(self) -> None:
        if self._bell_fd is not None and self._own_bell_fd:
            os.close(self._bell_fd)
        self._bell_fd = None
        self._own_bell_fd = False

    @property
    def has_doorbell(self) -> bool:
        """Whether :meth:`set_doorbell` gave the ring a doorbell."""
        return self._bell_fd is not None

    def fileno(self) -> int:
        """The doorbell's descriptor: wait for it to become readable after
        :meth:`poll_prepare` returned False. OSError ENOTCONN without a
        doorbell."""
        return self._locked(lambda ref: check(lib().shmdev_ring_fd(ref)))

    def poll_prepare(self, readable: bool = True,
                     writable: bool = False) -> bool:
        """Prepares a wait on :meth:`fileno`, after a non-blocking call
        (timeout 0) raised BlockingIOError: for a message (*readable*), for
        room for the last refused send or reserve (*writable*), or both.
        True if the ring is ready now (try again at once); False if the
        caller should wait, with a timeout of :attr:`LIVENESS_MS`, for the
        descriptor to become readable. BrokenPipeError once the other side
        is gone."""
        events = (_lib.RING_POLLIN if readable else 0) | \
            (_lib.RING_POLLOUT if writable else 0)
        if not events:
            raise ValueError("wait for readable, writable or both")
        return bool(self._locked(lambda ref: check(
            lib().shmdev_ring_poll_prepare(ref, events))))

    async def _wait(self, events: int, deadline: Optional[float],
                    state: dict[str, float]) -> None:
        """Waits in the running event loop until the ring may be ready or
        *deadline* passes; raises BrokenPipeError once the other side is
        gone."""
        left = None if deadline is None else deadline - time.monotonic()
        if self._bell_fd is None or self._hup:
            delay = state.get("delay", _POLL_FIRST)
            state["delay"] = min(delay * 2, _POLL_MAX)
            if left is not None:
                delay = min(delay, max(left, 0.0))
            await asyncio.sleep(delay)
            return
        ready = self._locked(lambda ref: check(
            lib().shmdev_ring_poll_prepare(ref, events)))
        if ready:
            return
        fd = self._bell_fd
        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()

        def on_readable() -> None:
            if not woken.done():
                woken.set_result(None)

        wait = _lib.RING_LIVENESS_MS / 1000.0
        if left is not None:
            wait = min(wait, max(left, 0.0))
        loop.add_reader(fd, on_readable)
        try:
            await asyncio.wait_for(woken, wait)
        except asyncio.TimeoutError:
            return
        finally:
            loop.remove_reader(fd)
        # A hang-up stays reported: stop waiting on the descriptor then.
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if any(ev & select.POLLHUP for _, ev in poller.poll(0)):
            self._hup = True

    async def _async_op(self, events: int, timeout: Optional[float],
                        attempt: Callable[[int], _T]) -> _T:
        """Runs *attempt* (a ring call given a timeout in ns) without
        waiting, and between attempts waits in the event loop."""
        deadline = None
        if timeout is not None:
            if timeout < 0:
                raise ValueError("timeout must be None or non-negative")
            deadline = time.monotonic() + timeout
        state: dict[str, float] = {}
        while True:
            try:
                # Without a doorbell, a 1 ns wait also looks at the peers,
                # as a non-blocking call does not: BrokenPipeError then.
                return attempt(1 if self._bell_fd is None or self._hup
                               else 0)
            except (BlockingIOError, TimeoutError):
                pass
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(errno.ETIMEDOUT,
                                   os.strerror(errno.ETIMEDOUT))
            await self._wait(events, deadline, state)

    async def recv_async(self, timeout: Optional[float] = None) -> bytes:
        """As :meth:`recv`, waiting in the running asyncio loop."""
        def attempt(ns: int) -> bytes:
            with self.peek(ns / 1e9) as message:
                return message.buf.tobytes()
        return await self._async_op(_lib.RING_POLLIN, timeout, attempt)

    async def recv_into_async(self, buffer: Any,
                              timeout: Optional[float] = None) -> int:
        """As :meth:`recv_into`, waiting in the running asyncio loop."""
        return await self._async_op(
            _lib.RING_POLLIN, timeout,
            lambda ns: self.recv_into(buffer, ns / 1e9))

    async def send_async(self, data: Any,
                         timeout: Optional[float] = None) -> None:
        """As :meth:`send`, waiting for room in the running asyncio loop."""
        await self._async_op(_lib.RING_POLLOUT, timeout,
                             lambda ns: self.send(data, ns / 1e9))

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """Yields the messages as they come, until the producers are gone
        and the ring is empty."""
        while True:
            try:
                yield await self.recv_async()
            except BrokenPipeError:
                return

    # Life

    def close(self) -> None:
        """Detaches the handle (aborting a pending reservation, releasing a
        peeked message of an MPMC ring, and telling the other side, whose
        waiters get BrokenPipeError once this side's processes are all
        gone), closes the doorbell file the ring owns and lets go of the
        buffer. In a child after fork() it only lets go."""
        if self._view is None:
            return
        for pending in (self._reservation, self._message):
            if pending is not None:
                pending._ring = None
                _release_view(pending.buf)
        self._reservation = self._message = None
        try:
            if not self._forked:
                check(lib().shmdev_ring_detach(ctypes.byref(self._handle)))
        finally:
            self._drop_bell_fd()
            self._holder = None
            self._view.release()
            self._view = None
            _live_rings.discard(self)

    detach = close

    def __enter__(self) -> "Ring":
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]],
                 exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        if self.closed:
            return "<shmdev.Ring closed>"
        return f"<shmdev.Ring msg_max={self.msg_max}>"
