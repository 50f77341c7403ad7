# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Named, permissioned shared-memory segments behind ``/dev/shmdev``.

:class:`Segment` is a file bound to one segment plus, unless asked not to,
a shared mapping of all of it, whose bytes :attr:`Segment.buf` exposes as
a memoryview (writable only when the segment is attached read-write)::

    with shmdev.Segment.create("frames", 1 << 20, 0o640) as seg:
        frame = numpy.ndarray((512, 512), numpy.uint32, buffer=seg.buf)

The module functions act on names: :func:`unlink`, :func:`chmod`,
:func:`chown`, :func:`list_segments`, and report on the module:
:func:`version`, :func:`limits`.
"""

from __future__ import annotations

import ctypes
import enum
import mmap
import os
import sys
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Optional, Type

from . import _lib
from ._lib import check, check_device, encode_name, lib

__all__ = [
    "Segment", "SegmentInfo", "SegmentStat", "Seal", "Version", "Limits",
    "version", "limits", "list_segments", "list_stat", "unlink", "chmod",
    "chown", "check_name", "parse_size", "lib_version", "huge_granule",
    "HUGE_ALIGN", "NAME_MAX",
]

NAME_MAX = _lib.NAME_MAX
HUGE_ALIGN = _lib.HUGE_ALIGN


class Seal(enum.IntFlag):
    """Seals, with the meaning and values of memfd's ``F_SEAL_*``."""

    SEAL = _lib.SEAL_SEAL                  #: no more seals
    SHRINK = _lib.SEAL_SHRINK              #: no resize smaller
    GROW = _lib.SEAL_GROW                  #: no resize larger
    WRITE = _lib.SEAL_WRITE                #: contents frozen
    FUTURE_WRITE = _lib.SEAL_FUTURE_WRITE  #: no new writable mapping


def _name_of(raw: bytes) -> Optional[str]:
    return raw.decode("ascii", "replace") or None


@dataclass(frozen=True)
class SegmentInfo:
    """A segment as ``SHMDEV_IOC_INFO`` describes it."""

    id: int
    size: int
    flags: int
    mode: int
    uid: int
    gid: int
    nr_files: int        #: /dev/shmdev files bound to it
    nr_maps: int         #: mappings of it, in all processes
    nr_pages: int        #: pages in memory
    name: Optional[str]  #: None for an anonymous segment
    seals: Seal
    nr_huge_pages: int
    nr_swapped: int      #: pages in swap

    @classmethod
    def _from_c(cls, c: _lib.shmdev_info) -> "SegmentInfo":
        return cls(c.id, c.size, c.flags, c.mode, c.uid, c.gid, c.nr_files,
                   c.nr_maps, c.nr_pages, _name_of(c.name), Seal(c.seals),
                   c.nr_huge_pages, c.nr_swapped)

    @property
    def anonymous(self) -> bool:
        return bool(self.flags & _lib.INFO_ANON)

    @property
    def unlinked(self) -> bool:
        return bool(self.flags & _lib.INFO_UNLINKED)

    @property
    def readonly(self) -> bool:
        """Whether the file asked about is attached read-only."""
        return bool(self.flags & _lib.INFO_RDONLY)

    @property
    def huge(self) -> bool:
        return bool(self.flags & _lib.INFO_HUGE)

    @property
    def premap(self) -> bool:
        return bool(self.flags & _lib.INFO_PREMAP)

    @property
    def locked(self) -> bool:
        return bool(self.flags & _lib.INFO_LOCKED)


@dataclass(frozen=True)
class SegmentStat:
    """SysV's bookkeeping of a segment (``SHMDEV_IOC_STAT``); times in
    seconds since the Epoch, pids as seen from the caller's namespace."""

    id: int
    cpid: int
    lpid: int
    crtime: int
    atime: int
    dtime: int
    chtime: int
    uid: int
    gid: int
    nr_files: int
    nr_maps: int
    name: Optional[str]
    ino: int
    dev_major: int
    dev_minor: int

    @classmethod
    def _from_c(cls, c: _lib.shmdev_stat) -> "SegmentStat":
        return cls(c.id, c.cpid, c.lpid, c.crtime, c.atime, c.dtime,
                   c.chtime, c.uid, c.gid, c.nr_files, c.nr_maps,
                   _name_of(c.name), c.ino, c.dev_major, c.dev_minor)


@dataclass(frozen=True)
class Version:
    """The running module's interface (``SHMDEV_IOC_VERSION``)."""

    api_version: int
    features: int
    max_segment_size: int
    max_total_bytes: int
    max_segments: int
    huge_page_size: int


@dataclass(frozen=True)
class Limits:
    """The limits in force in the caller's IPC namespace, and its usage."""

    max_segment_size: int
    max_total_bytes: int
    max_segments: int
    nr_segments: int
    total_bytes: int


class Segment:
    """A file bound to a shmdev segment and, with *map* true, a shared
    mapping of the whole segment (:attr:`buf`).

    Made by :meth:`create`, :meth:`attach`, :meth:`open_or_create`,
    :meth:`from_fd` or :meth:`reattach`; the constructor takes over *fd*,
    a descriptor already bound to a segment. Closing the segment unmaps it
    and closes the file; a named segment lives on until :meth:`unlink`.
    """

    def __init__(self, fd: int, *, map: bool = True) -> None:
        self._fd = fd
        self._mmap: Optional[mmap.mmap] = None
        self._buf: Optional[memoryview] = None
        self.created = False  #: whether open_or_create() created it
        try:
            info = self.info()
            self._name = info.name
            self._readonly = info.readonly
            if map:
                self._map(info.size)
        except BaseException:
            os.close(fd)
            self._fd = -1
            raise

    # Construction

    @classmethod
    def create(cls, name: Optional[str], size: int, mode: int = 0o600, *,
               huge: bool = False, premap: bool = False,
               locked: bool = False, map: bool = True) -> "Segment":
        """Creates a segment of *size* bytes and permission bits *mode*,
        attached read-write. *name* None creates an anonymous segment,
        which lives as long as files and mappings of it. FileExistsError if
        the name exists. *huge*: built from huge pages (*size* a multiple
        of :func:`huge_granule`); *premap*: mappings are populated at once;
        *locked*: never swapped (charged to RLIMIT_MEMLOCK)."""
        flags = ((_lib.CREATE_HUGE if huge else 0) |
                 (_lib.CREATE_PREMAP if premap else 0) |
                 (_lib.CREATE_LOCKED if locked else 0))
        raw = encode_name(name) if name else None
        fd = check_device(lib().shmdev_create(raw, size, mode, flags), name)
        return cls(fd, map=map)

    @classmethod
    def attach(cls, name: str, *, readonly: bool = False,
               premap: bool = False, map: bool = True) -> "Segment":
        """Attaches the named segment, read-write or *readonly*.
        FileNotFoundError if it does not exist, PermissionError if its mode
        refuses the access."""
        flags = ((_lib.ATTACH_RDONLY if readonly else 0) |
                 (_lib.ATTACH_PREMAP if premap else 0))
        fd = check_device(lib().shmdev_attach(encode_name(name), flags),
                          name)
        return cls(fd, map=map)

    @classmethod
    def open_or_create(cls, name: str, size: int, mode: int = 0o600, *,
                       map: bool = True) -> "Segment":
        """Attaches *name* read-write, creating it with *size* and *mode*
        if it does not exist; :attr:`created` tells which. An existing
        segment keeps its size."""
        created = ctypes.c_int(0)
        fd = check_device(lib().shmdev_open_or_create(
            encode_name(name), size, mode, ctypes.byref(created)), name)
        seg = cls(fd, map=map)
        seg.created = bool(created.value)
        return seg

    @classmethod
    def from_fd(cls, fd: int, *, map: bool = True) -> "Segment":
        """A Segment on a duplicate of *fd*, a descriptor bound to a
        segment (received with ``socket.recv_fds()``, say); *fd* stays the
        caller's. The duplicate shares *fd*'s open file (and its doorbell
        counts)."""
        return cls(os.dup(fd), map=map)

    def reattach_fd(self, *, readonly: bool = False,
                    premap: bool = False) -> int:
        """A new descriptor, an open file of its own, bound to this
        segment (named, anonymous or unlinked), with no more access than
        this one. For waiters on doorbells, which need a file each."""
        flags = ((_lib.ATTACH_RDONLY if readonly else 0) |
                 (_lib.ATTACH_PREMAP if premap else 0))
        return check(lib().shmdev_reattach(self.fileno(), flags))

    def reattach(self, *, readonly: bool = False, premap: bool = False,
                 map: bool = True) -> "Segment":
        """A new Segment on a file of its own (see :meth:`reattach_fd`)."""
        return type(self)(self.reattach_fd(readonly=readonly,
                                           premap=premap), map=map)

    # Mapping

    def _map(self, size: int) -> None:
        prot = mmap.PROT_READ | (0 if self._readonly else mmap.PROT_WRITE)
        self._mmap = mmap.mmap(self._fd, size, flags=mmap.MAP_SHARED,
                               prot=prot)
        self._buf = memoryview(self._mmap)

    def _unmap(self) -> None:
        """Unmaps, or raises BufferError (mapping kept) while views of
        :attr:`buf` exist."""
        if self._mmap is None:
            return
        assert self._buf is not None
        self._buf.release()
        try:
            # A numpy array made on buf keeps a reference to the mmap
            # object, not a buffer export, so mmap.close() would not see
            # it: any reference but ours (and getrefcount's) is a view.
            if sys.getrefcount(self._mmap) > 2:
                raise BufferError
            self._mmap.close()
        except BufferError:
            self._buf = memoryview(self._mmap)
            raise BufferError("views of Segment.buf still exist (numpy "
                              "arrays, slices): release them first") \
                from None
        self._mmap = None
        self._buf = None

    @property
    def buf(self) -> memoryview:
        """The segment's bytes, shared with every process that maps it;
        read-only if the segment is attached read-only."""
        if self._buf is None:
            if self._fd < 0:
                raise ValueError("operation on a closed Segment")
            raise ValueError("this Segment was opened with map=False")
        return self._buf

    # Properties and operations

    def fileno(self) -> int:
        """The bound /dev/shmdev descriptor (poll it for doorbells)."""
        if self._fd < 0:
            raise ValueError("operation on a closed Segment")
        return self._fd

    @property
    def fd(self) -> int:
        return self.fileno()

    @property
    def name(self) -> Optional[str]:
        """The name it was opened by; None for an anonymous segment."""
        return self._name

    @property
    def readonly(self) -> bool:
        return self._readonly

    @property
    def size(self) -> int:
        """The size of the mapping (of the segment, with ``map=False``)."""
        if self._mmap is not None:
            return len(self._mmap)
        return self.info().size

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def info(self) -> SegmentInfo:
        """The segment's size, flags, mode, owner, use and seals."""
        info = _lib.shmdev_info()
        check(lib().shmdev_info(self.fileno(), ctypes.byref(info)))
        return SegmentInfo._from_c(info)

    def stat(self) -> SegmentStat:
        """SysV's bookkeeping of the segment."""
        st = _lib.shmdev_stat()
        check(lib().shmdev_stat(self.fileno(), ctypes.byref(st)))
        return SegmentStat._from_c(st)

    def resize(self, size: int) -> None:
        """Resizes the segment (attached read-write) and maps it again at
        the new size. Shrinking removes the pages beyond the end from every
        process's mappings. BufferError, before anything changes, while
        views of :attr:`buf` exist."""
        fd = self.fileno()
        mapped = self._mmap is not None
        old = len(self._mmap) if self._mmap is not None else 0
        self._unmap()
        try:
            check(lib().shmdev_resize(fd, size))
        except BaseException:
            if mapped:
                self._map(old)
            raise
        if mapped:
            self._map(size)

    @property
    def seals(self) -> Seal:
        """The seals in force."""
        return Seal(check(lib().shmdev_get_seals(self.fileno())))

    def add_seals(self, seals: int) -> None:
        """Adds :class:`Seal` bits (needs a read-write attach). Sealing
        WRITE fails (OSError EBUSY) while a writable mapping exists: open
        the segment with ``map=False`` or attach it read-only for that."""
        check(lib().shmdev_add_seals(self.fileno(), int(seals)))

    def _named(self) -> str:
        if self._name is None:
            raise ValueError("an anonymous segment has no name")
        return self._name

    def chmod(self, mode: int) -> None:
        """Changes the segment's permission bits (by name)."""
        chmod(self._named(), mode)

    def chown(self, uid: int = -1, gid: int = -1) -> None:
        """Changes the segment's owner and group (by name; -1 keeps one)."""
        chown(self._named(), uid, gid)

    def unlink(self, *, if_unused: bool = False) -> None:
        """Removes the segment's name; this and other mappings and files
        keep the memory."""
        unlink(self._named(), if_unused=if_unused)

    @staticmethod
    def list() -> "list[SegmentInfo]":
        """Every named segment the caller may see (:func:`list_segments`)."""
        return list_segments()

    def close(self) -> None:
        """Unmaps the segment and closes the file. BufferError (nothing
        closed) while views of :attr:`buf` exist."""
        if self._fd < 0:
            return
        self._unmap()
        os.close(self._fd)
        self._fd = -1

    def __enter__(self) -> "Segment":
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
            return "<shmdev.Segment closed>"
        what = repr(self._name) if self._name else "anonymous"
        mode = "ro" if self._readonly else "rw"
        return f"<shmdev.Segment {what} {mode} fd={self._fd}>"


# Names

def unlink(name: str, *, if_unused: bool = False) -> None:
    """Removes the segment's name; mappings and files keep its memory.
    With *if_unused*, only if nothing is bound to it or maps it (OSError
    EBUSY otherwise)."""
    raw = encode_name(name)
    if if_unused:
        check_device(lib().shmdev_unlink_flags(raw, _lib.UNLINK_IF_UNUSED),
                     name)
    else:
        check_device(lib().shmdev_unlink(raw), name)


def chmod(name: str, mode: int) -> None:
    """Changes the permission bits of the named segment."""
    check_device(lib().shmdev_chmod(encode_name(name), mode), name)


def chown(name: str, uid: int = -1, gid: int = -1) -> None:
    """Changes owner and group of the named segment; -1 keeps one."""
    check_device(lib().shmdev_chown(encode_name(name), uid & 0xffffffff,
                                    gid & 0xffffffff), name)


def list_segments() -> list[SegmentInfo]:
    """Every named segment the caller may see, in id order."""
    entries = ctypes.POINTER(_lib.shmdev_info)()
    count = ctypes.c_size_t()
    L = lib()
    check_device(L.shmdev_list(ctypes.byref(entries), ctypes.byref(count)))
    try:
        return [SegmentInfo._from_c(entries[i]) for i in range(count.value)]
    finally:
        if entries:
            L.free(ctypes.cast(entries, ctypes.c_void_p))


def list_stat() -> list[SegmentStat]:
    """SysV's bookkeeping of every named segment the caller may see."""
    entries = ctypes.POINTER(_lib.shmdev_stat)()
    count = ctypes.c_size_t()
    L = lib()
    check_device(L.shmdev_list_stat(ctypes.byref(entries),
                                    ctypes.byref(count)))
    try:
        return [SegmentStat._from_c(entries[i]) for i in range(count.value)]
    finally:
        if entries:
            L.free(ctypes.cast(entries, ctypes.c_void_p))


# The module and the library

def version() -> Version:
    """API version, features and limits of the loaded module."""
    v = _lib.shmdev_version()
    check_device(lib().shmdev_version(ctypes.byref(v)))
    return Version(v.api_version, v.features, v.max_segment_size,
                   v.max_total_bytes, v.max_segments, v.huge_page_size)


def huge_granule() -> int:
    """What a huge segment's size must be a multiple of: the module's huge
    page size (the PMD size: 2 MiB on x86-64 and on arm64 with 4 KiB
    pages, 32 MiB with 16 KiB pages), or :data:`HUGE_ALIGN` where the
    kernel has no huge pages."""
    return version().huge_page_size or HUGE_ALIGN


def limits() -> Limits:
    """The limits of the caller's IPC namespace and its usage."""
    lim = _lib.shmdev_limits()
    check_device(lib().shmdev_limits(ctypes.byref(lim)))
    return Limits(lim.max_segment_size, lim.max_total_bytes,
                  lim.max_segments, lim.nr_segments, lim.total_bytes)


def check_name(name: str) -> None:
    """Raises OSError (EINVAL, ENAMETOOLONG) unless *name* is a valid
    segment name: 1 to 63 bytes of graphic ASCII other than '/'."""
    check(lib().shmdev_check_name(encode_name(name)), name)


def parse_size(text: str) -> int:
    """A size such as ``"64M"`` or ``"1GiB"`` (powers of 1024) in bytes."""
    out = ctypes.c_uint64()
    check(lib().shmdev_parse_size(text.encode("ascii"), ctypes.byref(out)),
          text)
    return out.value


def lib_version() -> str:
    """The version of the loaded libshmdev."""
    return lib().shmdev_lib_version().decode("ascii")
