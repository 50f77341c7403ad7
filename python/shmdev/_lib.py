# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Loading libshmdev with ctypes, its prototypes, and the C structures.

The library is loaded on first use, not at import, so that ``import
shmdev`` works anywhere (documentation, type checking) and the error about
a missing library comes from the call that needed it. ``SHMDEV_LIBRARY``
names the file to load instead of ``libshmdev.so.1`` (a build tree, say).

Every structure mirrors its C declaration field for field, in
``<linux/shmdev.h>`` and ``<libshmdev/ring.h>``; the sizes are checked
below when this module is imported, and the tests compare every offset
with what a C compiler says.
"""

from __future__ import annotations

import ctypes
import errno
import os
import threading
import time
from ctypes import (POINTER, Structure, c_char, c_char_p, c_int, c_int32,
                    c_int64, c_size_t, c_uint, c_uint32, c_uint64, c_void_p)
from typing import Any, Optional

from .errors import DeviceNotAvailableError, LibraryNotFoundError, \
    error_from_code

LIBRARY_ENV = "SHMDEV_LIBRARY"
LIBRARY_SONAME = "libshmdev.so.1"
DEVICE_PATH = "/dev/shmdev"

# <linux/shmdev.h>
NAME_MAX = 64
NR_BELLS = 8
HUGE_ALIGN = 2 << 20

CREATE_HUGE = 1 << 0
CREATE_PREMAP = 1 << 1
CREATE_NEWFD = 1 << 2
CREATE_LOCKED = 1 << 3

ATTACH_RDONLY = 1 << 0
ATTACH_PREMAP = 1 << 1
ATTACH_NEWFD = 1 << 2

INFO_ANON = 1 << 0
INFO_UNLINKED = 1 << 1
INFO_RDONLY = 1 << 2
INFO_HUGE = 1 << 3
INFO_PREMAP = 1 << 4
INFO_LOCKED = 1 << 5

SEAL_SEAL = 0x0001
SEAL_SHRINK = 0x0002
SEAL_GROW = 0x0004
SEAL_WRITE = 0x0008
SEAL_FUTURE_WRITE = 0x0010
SEAL_MASK = 0x001f

SETPERM_MODE = 1 << 0
SETPERM_UID = 1 << 1
SETPERM_GID = 1 << 2

UNLINK_IF_UNUSED = 1 << 0

LIMITS_SEGMENTS = 1 << 0
LIMITS_SEGMENT_SIZE = 1 << 1
LIMITS_TOTAL_BYTES = 1 << 2

# <libshmdev/ring.h>
RING_HDR_SIZE = 1024
RING_MPMC = 1 << 0
RING_BELLS = 2
RING_POLLIN = 1 << 0
RING_POLLOUT = 1 << 1
RING_MAX_PEERS = 32
RING_LIVENESS_MS = 20

# <libshmdev/sync.h>
MUTEX_SIZE = 64
COND_SIZE = 16
SEM_SIZE = 16
SYNC_ALIGN = 8
MUTEX_PRIO_INHERIT = 1 << 0
SEM_VALUE_MAX = 0x7fffffff


class shmdev_version(Structure):
    _fields_ = [
        ("api_version", c_uint32),
        ("pad", c_uint32),
        ("features", c_uint64),
        ("max_segment_size", c_uint64),
        ("max_total_bytes", c_uint64),
        ("max_segments", c_uint32),
        ("pad2", c_uint32),
        ("huge_page_size", c_uint64),
        ("reserved", c_uint64 * 2),
    ]


class shmdev_info(Structure):
    _fields_ = [
        ("id", c_uint64),
        ("size", c_uint64),
        ("flags", c_uint32),
        ("mode", c_uint32),
        ("uid", c_uint32),
        ("gid", c_uint32),
        ("nr_files", c_uint32),
        ("nr_maps", c_uint32),
        ("nr_pages", c_uint64),
        ("name", c_char * NAME_MAX),
        ("seals", c_uint32),
        ("pad", c_uint32),
        ("nr_huge_pages", c_uint64),
        ("nr_swapped", c_uint64),
        ("reserved", c_uint32 * 2),
    ]


class shmdev_stat(Structure):
    _fields_ = [
        ("id", c_uint64),
        ("cpid", c_int32),
        ("lpid", c_int32),
        ("crtime", c_int64),
        ("atime", c_int64),
        ("dtime", c_int64),
        ("chtime", c_int64),
        ("uid", c_uint32),
        ("gid", c_uint32),
        ("nr_files", c_uint32),
        ("nr_maps", c_uint32),
        ("name", c_char * NAME_MAX),
        ("ino", c_uint64),
        ("dev_major", c_uint32),
        ("dev_minor", c_uint32),
        ("reserved", c_uint64 * 2),
    ]


class shmdev_limits(Structure):
    _fields_ = [
        ("max_segment_size", c_uint64),
        ("max_total_bytes", c_uint64),
        ("max_segments", c_uint32),
        ("flags", c_uint32),
        ("nr_segments", c_uint64),
        ("total_bytes", c_uint64),
        ("reserved", c_uint64 * 3),
    ]


class shmdev_ring(Structure):
    """A process's handle of an attached ring: 128 opaque bytes."""
    _fields_ = [("opaque", c_uint64 * 16)]


class shmdev_ring_info(Structure):
    _fields_ = [
        ("flags", c_uint32),
        ("msg_max", c_uint32),
        ("capacity", c_uint64),
        ("used", c_uint64),
        ("dropped", c_uint64),
        ("reserved", c_uint64 * 4),
    ]


class timespec(Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


# Sizes the C headers give (checked by the tests against a compiler too).
STRUCT_SIZES = {
    shmdev_version: 64,
    shmdev_info: 144,
    shmdev_stat: 160,
    shmdev_limits: 64,
    shmdev_ring: 128,
    shmdev_ring_info: 64,
}
for _struct, _size in STRUCT_SIZES.items():
    if ctypes.sizeof(_struct) != _size:
        raise ImportError(f"struct {_struct.__name__} is "
                          f"{ctypes.sizeof(_struct)} bytes here, "
                          f"{_size} in the C headers")

_RING_P = POINTER(shmdev_ring)
_TS_P = POINTER(timespec)
_uid_t = c_uint32
_gid_t = c_uint32

# name: (restype, argtypes); void pointers to shared memory are c_void_p.
PROTOTYPES: dict[str, tuple[Any, list[Any]]] = {
    "shmdev_lib_version": (c_char_p, []),
    "shmdev_open_device": (c_int, []),
    "shmdev_version": (c_int, [POINTER(shmdev_version)]),
    "shmdev_create": (c_int, [c_char_p, c_uint64, c_uint, c_uint]),
    "shmdev_attach": (c_int, [c_char_p, c_uint]),
    "shmdev_create_at": (c_int, [c_int, c_char_p, c_uint64, c_uint, c_uint]),
    "shmdev_attach_at": (c_int, [c_int, c_char_p, c_uint]),
    "shmdev_reattach": (c_int, [c_int, c_uint]),
    "shmdev_open_or_create": (c_int, [c_char_p, c_uint64, c_uint,
                                      POINTER(c_int)]),
    "shmdev_info": (c_int, [c_int, POINTER(shmdev_info)]),
    "shmdev_resize": (c_int, [c_int, c_uint64]),
    "shmdev_add_seals": (c_int, [c_int, c_uint]),
    "shmdev_get_seals": (c_int, [c_int]),
    "shmdev_setperm": (c_int, [c_char_p, c_uint, c_uint, _uid_t, _gid_t]),
    "shmdev_chmod": (c_int, [c_char_p, c_uint]),
    "shmdev_chown": (c_int, [c_char_p, _uid_t, _gid_t]),
    "shmdev_unlink": (c_int, [c_char_p]),
    "shmdev_unlink_flags": (c_int, [c_char_p, c_uint]),
    "shmdev_list": (c_int, [POINTER(POINTER(shmdev_info)),
                            POINTER(c_size_t)]),
    "shmdev_list_stat": (c_int, [POINTER(POINTER(shmdev_stat)),
                                 POINTER(c_size_t)]),
    "shmdev_stat": (c_int, [c_int, POINTER(shmdev_stat)]),
    "shmdev_limits": (c_int, [POINTER(shmdev_limits)]),
    "shmdev_check_name": (c_int, [c_char_p]),
    "shmdev_parse_size": (c_int, [c_char_p, POINTER(c_uint64)]),
    "shmdev_ring_init": (c_int, [c_void_p, c_size_t, c_uint32, c_uint]),
    "shmdev_ring_attach": (c_int, [c_void_p, c_size_t, _RING_P]),
    "shmdev_ring_detach": (c_int, [_RING_P]),
    "shmdev_ring_info": (c_int, [_RING_P, POINTER(shmdev_ring_info)]),
    "shmdev_ring_reserve": (c_int, [_RING_P, c_size_t, POINTER(c_void_p),
                                    c_int64]),
    "shmdev_ring_commit": (c_int, [_RING_P, c_size_t]),
    "shmdev_ring_abort": (c_int, [_RING_P]),
    "shmdev_ring_send": (c_int, [_RING_P, c_void_p, c_size_t, c_int64]),
    "shmdev_ring_peek": (c_int, [_RING_P, POINTER(c_void_p),
                                 POINTER(c_size_t), c_int64]),
    "shmdev_ring_release": (c_int, [_RING_P]),
    "shmdev_ring_recv": (c_int, [_RING_P, c_void_p, c_size_t,
                                 POINTER(c_size_t), c_int64]),
    "shmdev_ring_set_doorbell": (c_int, [_RING_P, c_int, c_uint]),
    "shmdev_ring_fd": (c_int, [_RING_P]),
    "shmdev_ring_poll_prepare": (c_int, [_RING_P, c_uint]),
    "shmdev_mutex_init": (c_int, [c_void_p, c_uint]),
    "shmdev_mutex_destroy": (c_int, [c_void_p]),
    "shmdev_mutex_lock": (c_int, [c_void_p]),
    "shmdev_mutex_trylock": (c_int, [c_void_p]),
    "shmdev_mutex_timedlock": (c_int, [c_void_p, _TS_P]),
    "shmdev_mutex_unlock": (c_int, [c_void_p]),
    "shmdev_mutex_consistent": (c_int, [c_void_p]),
    "shmdev_cond_init": (c_int, [c_void_p, c_uint]),
    "shmdev_cond_destroy": (c_int, [c_void_p]),
    "shmdev_cond_wait": (c_int, [c_void_p, c_void_p]),
    "shmdev_cond_timedwait": (c_int, [c_void_p, c_void_p, _TS_P]),
    "shmdev_cond_signal": (c_int, [c_void_p]),
    "shmdev_cond_broadcast": (c_int, [c_void_p]),
    "shmdev_sem_init": (c_int, [c_void_p, c_uint, c_uint]),
    "shmdev_sem_destroy": (c_int, [c_void_p]),
    "shmdev_sem_wait": (c_int, [c_void_p]),
    "shmdev_sem_trywait": (c_int, [c_void_p]),
    "shmdev_sem_timedwait": (c_int, [c_void_p, _TS_P]),
    "shmdev_sem_post": (c_int, [c_void_p]),
    "shmdev_sem_getvalue": (c_int, [c_void_p]),
}


class _Library:
    """libshmdev's functions, prototyped; a missing one raises on use."""

    def __init__(self, path: str) -> None:
        try:
            self._cdll = ctypes.CDLL(path)
        except OSError as exc:
            hint = (f"set {LIBRARY_ENV} to the path of libshmdev.so.1, or "
                    "install libshmdev (package libshmdev1, or make "
                    "install-userspace)")
            raise LibraryNotFoundError(
                f"cannot load libshmdev from {path!r}: {exc}; {hint}",
                path=path) from exc
        self.path = path
        for name, (restype, argtypes) in PROTOTYPES.items():
            try:
                func = getattr(self._cdll, name)
            except AttributeError:
                continue
            func.restype = restype
            func.argtypes = argtypes
            setattr(self, name, func)
        # free() for the arrays shmdev_list() and shmdev_list_stat() return.
        libc = ctypes.CDLL(None)
        self.free = libc.free
        self.free.restype = None
        self.free.argtypes = [c_void_p]

    def __getattr__(self, name: str) -> Any:
        # Only reached for a prototype the library does not export.
        if name in PROTOTYPES:
            raise LibraryNotFoundError(
                f"the libshmdev at {self.path!r} lacks {name}(): it is "
                "older than this package needs")
        raise AttributeError(name)


_library: Optional[_Library] = None
_library_lock = threading.Lock()


def library_path() -> str:
    """What :func:`lib` loads: ``$SHMDEV_LIBRARY`` or ``libshmdev.so.1``."""
    return os.environ.get(LIBRARY_ENV) or LIBRARY_SONAME


def lib() -> _Library:
    """libshmdev, loaded on the first call."""
    global _library
    if _library is None:
        with _library_lock:
            if _library is None:
                _library = _Library(library_path())
    return _library


def encode_name(name: str) -> bytes:
    """A segment name as the C library takes it (ASCII, no NUL)."""
    if not isinstance(name, str):
        raise TypeError(f"a segment name is a str, not "
                        f"{type(name).__name__}")
    try:
        raw = name.encode("ascii")
    except UnicodeEncodeError:
        raise OSError(errno.EINVAL, "segment names are graphic ASCII",
                      name) from None
    if b"\0" in raw:
        raise OSError(errno.EINVAL, "segment names hold no NUL", name)
    return raw


def check(ret: int, filename: str | None = None) -> int:
    """*ret* if it is not negative; the matching OSError otherwise."""
    if ret < 0:
        raise error_from_code(ret, filename)
    return ret


def check_device(ret: int, filename: str | None = None) -> int:
    """As :func:`check`, for calls that open ``/dev/shmdev``: ENODEV there
    means the device is missing and says so."""
    if ret == -errno.ENODEV:
        if not os.path.exists(DEVICE_PATH):
            raise DeviceNotAvailableError(f"{DEVICE_PATH} does not exist")
        raise DeviceNotAvailableError()
    return check(ret, filename)


def timeout_ns(timeout: float | None) -> int:
    """A timeout in seconds (None: no limit) as libshmdev's ring takes it."""
    if timeout is None:
        return -1
    if timeout < 0:
        raise ValueError("timeout must be None or non-negative")
    return int(timeout * 1_000_000_000)


def buffer_address(buffer: Any, offset: int, size: int,
                   what: str) -> tuple[memoryview, Any, int]:
    """Pins the writable buffer *buffer* and returns (view, holder, address
    of byte *offset*), checking that *size* bytes fit there. The holder is
    a ctypes array over the whole buffer; keep it, and the view, as long as
    the address is used (the buffer cannot be closed or resized meanwhile).
    """
    view = memoryview(buffer)
    if not view.c_contiguous:
        view.release()
        raise ValueError(f"{what} needs a contiguous buffer")
    view = view.cast("B")
    if view.readonly:
        view.release()
        raise TypeError(f"{what} needs a writable buffer (it writes to the "
                        "shared memory even to read)")
    if offset < 0 or size < 0 or offset + size > view.nbytes:
        nbytes = view.nbytes
        view.release()
        raise ValueError(f"{what} needs {size} bytes at offset {offset}; "
                         f"the buffer has {nbytes}")
    holder = (c_char * view.nbytes).from_buffer(view)
    return view, holder, ctypes.addressof(holder) + offset


def abs_monotonic(timeout: float) -> timespec:
    """The CLOCK_MONOTONIC time *timeout* seconds from now."""
    now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    deadline = now + int(max(timeout, 0.0) * 1_000_000_000)
    return timespec(deadline // 1_000_000_000, deadline % 1_000_000_000)
