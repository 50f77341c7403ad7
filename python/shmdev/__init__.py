# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Python bindings of libshmdev: named, permissioned shared memory through
``/dev/shmdev``, and the process-shared mutexes, condition variables,
semaphores and message rings that live in it (or in any shared mapping).

- :class:`Segment`: create, attach, map (``.buf``), resize, seal, chmod,
  chown, unlink, list;
- :class:`SharedMemory`, :class:`ShareableList`: the interface of
  ``multiprocessing.shared_memory`` on shmdev segments;
- :class:`Ring`: message rings, copying or zero-copy, blocking or asyncio;
- :class:`Mutex`, :class:`Condition`, :class:`Semaphore`: synchronisation
  in shared memory, the mutex robust against a holder that dies.

libshmdev (``libshmdev.so.1``, or the file ``$SHMDEV_LIBRARY`` names) is
loaded on first use; :class:`LibraryNotFoundError` says when it cannot be,
:class:`DeviceNotAvailableError` when ``/dev/shmdev`` is missing. Other
failures are ``OSError`` with the errno of the C library.
"""

from .errors import (DeviceNotAvailableError, LibraryNotFoundError,
                     NotRecoverableError)
from .ring import Message, Reservation, Ring, RingInfo
from .segment import (HUGE_ALIGN, NAME_MAX, Limits, Seal, Segment,
                      SegmentInfo, SegmentStat, Version, check_name, chmod,
                      chown, huge_granule, lib_version, limits,
                      list_segments, list_stat, parse_size, unlink, version)
from .shared_memory import ShareableList, SharedMemory
from .sync import Condition, Mutex, Semaphore

__version__ = "0.3.0"

DEVICE_PATH = "/dev/shmdev"


def device_available() -> bool:
    """Whether ``/dev/shmdev`` exists (the module is loaded)."""
    import os
    return os.path.exists(DEVICE_PATH)


__all__ = [
    "Condition", "DeviceNotAvailableError", "DEVICE_PATH", "HUGE_ALIGN",
    "LibraryNotFoundError", "Limits", "Message", "Mutex", "NAME_MAX",
    "NotRecoverableError", "Reservation", "Ring", "RingInfo", "Seal",
    "Segment", "SegmentInfo", "SegmentStat", "Semaphore", "ShareableList",
    "SharedMemory", "Version", "check_name", "chmod", "chown",
    "device_available", "huge_granule", "lib_version", "limits",
    "list_segments",
    "list_stat", "parse_size", "unlink", "version",
]
