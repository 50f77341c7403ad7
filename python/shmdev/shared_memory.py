# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""``multiprocessing.shared_memory`` on shmdev segments.

:class:`SharedMemory` has the interface of
``multiprocessing.shared_memory.SharedMemory`` (``name``, ``create``,
``size``, ``buf``, ``close()``, ``unlink()``, pickling by name), so code
switches by changing an import::

    from shmdev import SharedMemory, ShareableList

Differences: names are shmdev names (1 to 63 bytes of graphic ASCII, no
'/'); the segment's permission bits are *mode* (default 0600); and no
resource tracker runs: a segment lives until ``unlink()``, whoever exits,
as named shmdev segments do (*track* is accepted and has no effect).
"""

from __future__ import annotations

import errno
import secrets
import types
from multiprocessing import shared_memory as _stdlib
from typing import Any, Optional

from .segment import Segment, unlink as _unlink

__all__ = ["SharedMemory", "ShareableList"]

# Prefix of generated names, as the standard library's.
_NAME_PREFIX = "psm_"
_NAME_TRIES = 100


class SharedMemory:
    """Creates a new shmdev segment (*create* true; *name* None picks a
    free random name) or attaches an existing one, and maps it read-write.

    *size* is needed to create and ignored to attach (the segment's size
    is used)."""

    def __init__(self, name: Optional[str] = None, create: bool = False,
                 size: int = 0, *, mode: int = 0o600,
                 track: bool = True) -> None:
        if not size >= 0:
            raise ValueError("'size' must be a positive integer")
        if create:
            if size == 0:
                raise ValueError("'size' must be a positive number "
                                 "different from zero")
            self._segment = self._create(name, size, mode)
        else:
            if name is None:
                raise ValueError("'name' can only be None if create=True")
            self._segment = Segment.attach(name)
        self._name: str = self._segment.name or ""
        self._size = self._segment.size

    @staticmethod
    def _create(name: Optional[str], size: int, mode: int) -> Segment:
        if name is not None:
            return Segment.create(name, size, mode)
        for _ in range(_NAME_TRIES):
            try:
                return Segment.create(
                    _NAME_PREFIX + secrets.token_hex(8), size, mode)
            except FileExistsError:
                continue
        raise FileExistsError(errno.EEXIST, "no free random name found")

    @property
    def name(self) -> str:
        """Unique name that identifies the shared memory block."""
        return self._name

    @property
    def size(self) -> int:
        """Size in bytes."""
        return self._size

    @property
    def buf(self) -> Optional[memoryview]:
        """A memoryview of the contents of the shared memory block; None
        once closed, as the standard library's."""
        if self._segment.closed:
            return None
        return self._segment.buf

    @property
    def segment(self) -> Segment:
        """The :class:`~shmdev.Segment` underneath (info, seals...)."""
        return self._segment

    def close(self) -> None:
        """Closes access to the shared memory from this instance; the
        block stays, for other processes, until :meth:`unlink`."""
        self._segment.close()

    def unlink(self) -> None:
        """Removes the block's name; the memory goes when the last process
        that maps it closes it. Call once, from one process."""
        _unlink(self._name)

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.name, False, self.size))

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.name!r}, size={self.size})"

    def __enter__(self) -> "SharedMemory":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


def _init_on_shmdev() -> Any:
    """The standard library's ShareableList.__init__, with the global name
    SharedMemory it creates and attaches through bound to the class above:
    the same code, on shmdev segments, without changing the standard
    library's module."""
    base = _stdlib.ShareableList.__init__
    if "SharedMemory" not in base.__code__.co_names:
        raise ImportError("this Python's ShareableList does not create its "
                          "memory through SharedMemory")
    namespace = dict(base.__globals__)
    namespace["SharedMemory"] = SharedMemory
    init = types.FunctionType(base.__code__, namespace, base.__name__,
                              base.__defaults__, base.__closure__)
    init.__kwdefaults__ = base.__kwdefaults__
    init.__doc__ = base.__doc__
    return init


class ShareableList(_stdlib.ShareableList):
    """``multiprocessing.shared_memory.ShareableList`` stored in a shmdev
    segment (its :attr:`shm` is a :class:`SharedMemory`)."""

    __init__ = _init_on_shmdev()
