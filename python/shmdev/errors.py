# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Exceptions of the shmdev package.

Failures of the C library arrive as :class:`OSError` built from the errno
it returned, so Python picks the usual subclass: ``FileExistsError`` for
``EEXIST``, ``FileNotFoundError`` for ``ENOENT``, ``PermissionError`` for
``EACCES`` and ``EPERM``, ``BlockingIOError`` for ``EAGAIN``,
``TimeoutError`` for ``ETIMEDOUT``, ``BrokenPipeError`` for ``EPIPE``. The
classes below cover what has no such subclass.
"""

from __future__ import annotations

import errno
import os

__all__ = [
    "LibraryNotFoundError",
    "DeviceNotAvailableError",
    "NotRecoverableError",
    "error_from_code",
]


class LibraryNotFoundError(ImportError):
    """libshmdev could not be loaded (not installed, or too old)."""


class DeviceNotAvailableError(OSError):
    """``/dev/shmdev`` is missing or has no driver: the module is not loaded."""

    def __init__(self, detail: str | None = None) -> None:
        message = ("/dev/shmdev is not available: the shmdev kernel module "
                   "is not loaded (modprobe shmdev)")
        if detail:
            message = f"{message}; {detail}"
        super().__init__(errno.ENODEV, message)


class NotRecoverableError(OSError):
    """A robust mutex was unlocked after its owner died without being made
    consistent: it can no longer be locked (``ENOTRECOVERABLE``)."""

    def __init__(self) -> None:
        super().__init__(errno.ENOTRECOVERABLE,
                         os.strerror(errno.ENOTRECOVERABLE))


def error_from_code(code: int, filename: str | None = None) -> OSError:
    """The exception for a negative errno *code* returned by libshmdev."""
    err = -code
    if err == errno.ENOTRECOVERABLE:
        return NotRecoverableError()
    if filename is None:
        return OSError(err, os.strerror(err))
    return OSError(err, os.strerror(err), filename)
