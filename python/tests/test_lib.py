# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""The binding layer: structures and constants against the C headers,
loading the library, errors."""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import shmdev
from shmdev import _lib
from shmdev.errors import error_from_code

ROOT = Path(__file__).resolve().parents[2]
HEADERS = {
    "uapi": ROOT / "include" / "uapi" / "linux" / "shmdev.h",
    "ring": ROOT / "userspace" / "include" / "libshmdev" / "ring.h",
    "sync": ROOT / "userspace" / "include" / "libshmdev" / "sync.h",
}
in_tree = pytest.mark.skipif(
    not all(path.exists() for path in HEADERS.values()),
    reason="the C headers of the source tree are not here")

# C names of fields the Python structures spell differently.
_C_FIELD = {("shmdev_ring", "opaque"): "__opaque"}


@in_tree
@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_structures_match_the_c_compiler(tmp_path):
    lines = ["#include <stdio.h>", "#include <stddef.h>",
             "#include <libshmdev.h>", "int main(void) {"]
    for struct in _lib.STRUCT_SIZES:
        name = struct.__name__
        lines.append(f'printf("{name} %zu\\n", sizeof(struct {name}));')
        for field, *_ in struct._fields_:
            cfield = _C_FIELD.get((name, field), field)
            lines.append(f'printf("{name}.{field} %zu\\n", '
                         f'offsetof(struct {name}, {cfield}));')
    for name in ("mutex", "cond", "sem"):
        lines.append(f'printf("{name} %zu\\n", sizeof(struct shmdev_{name}));')
        lines.append(f'printf("{name}.align %zu\\n", '
                     f'_Alignof(struct shmdev_{name}));')
    lines += ["return 0;", "}"]
    source = tmp_path / "layout.c"
    source.write_text("\n".join(lines))
    exe = tmp_path / "layout"
    subprocess.run(["cc", "-I", str(ROOT / "userspace" / "include"),
                    "-I", str(ROOT / "include" / "uapi"), "-o", str(exe),
                    str(source)], check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True,
                         text=True).stdout.split("\n")
    c_layout = dict(line.split() for line in out if line)
    py_layout = {}
    for struct in _lib.STRUCT_SIZES:
        py_layout[struct.__name__] = str(ctypes.sizeof(struct))
        for field, *_ in struct._fields_:
            offset = getattr(struct, field).offset
            py_layout[f"{struct.__name__}.{field}"] = str(offset)
    for name in ("mutex", "cond", "sem"):
        py_layout[name] = str(getattr(_lib, f"{name.upper()}_SIZE"))
        py_layout[f"{name}.align"] = str(_lib.SYNC_ALIGN)
    assert py_layout == c_layout
    assert shmdev.Mutex.SIZE == int(c_layout["mutex"])
    assert shmdev.Condition.SIZE == int(c_layout["cond"])
    assert shmdev.Semaphore.SIZE == int(c_layout["sem"])


def _defines(path: Path) -> dict[str, int]:
    """The #defines of plain integer values of a header."""
    found = {}
    pattern = re.compile(r"#define\s+(SHMDEV_\w+)\s+\(?(0x[0-9a-fA-F]+|\d+)"
                         r"U?(?:LL|ULL)?\)?\s*(?:/\*.*)?$")
    shift = re.compile(r"#define\s+(SHMDEV_\w+)\s+\((\d+)U?(?:LL|ULL)?\s*"
                       r"<<\s*(\d+)\)")
    for line in path.read_text().splitlines():
        m = pattern.match(line)
        if m:
            found[m.group(1)] = int(m.group(2), 0)
            continue
        m = shift.match(line)
        if m:
            found[m.group(1)] = int(m.group(2)) << int(m.group(3))
    return found


@in_tree
def test_constants_match_the_headers():
    c = {}
    for path in HEADERS.values():
        c.update(_defines(path))
    # Every constant _lib mirrors is a #define of the headers, but the
    # sizes sync.h states in a comment and static assertions.
    from_comments = {"MUTEX_SIZE", "COND_SIZE", "SEM_SIZE", "SYNC_ALIGN"}
    mirrored = [name for name in dir(_lib) if name.isupper()
                and isinstance(getattr(_lib, name), int)
                and name not in from_comments]
    for name in mirrored:
        assert f"SHMDEV_{name}" in c, name
        assert getattr(_lib, name) == c[f"SHMDEV_{name}"], name
    assert len(mirrored) >= 38
    for name in ("CREATE_HUGE", "ATTACH_RDONLY", "SEAL_WRITE", "RING_MPMC",
                 "RING_POLLOUT", "NR_BELLS", "HUGE_ALIGN", "RING_HDR_SIZE",
                 "MUTEX_PRIO_INHERIT", "SEM_VALUE_MAX", "UNLINK_IF_UNUSED"):
        assert f"SHMDEV_{name}" in c, name


def test_library_loads_and_names_its_version():
    version = shmdev.lib_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    if os.environ.get("SHMDEV_LIBRARY"):
        assert _lib.lib().path == os.environ["SHMDEV_LIBRARY"]


def test_missing_library_is_a_clear_error(tmp_path):
    missing = tmp_path / "libshmdev.so.1"
    code = ("import shmdev\n"
            "try:\n"
            "    shmdev.parse_size('1K')\n"
            "except shmdev.LibraryNotFoundError as exc:\n"
            "    print(exc)\n")
    env = dict(os.environ, SHMDEV_LIBRARY=str(missing),
               PYTHONPATH=str(ROOT / "python"))
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                         capture_output=True, text=True).stdout
    assert str(missing) in out and "SHMDEV_LIBRARY" in out


def test_helpers():
    shmdev.check_name("frames.0")
    with pytest.raises(OSError) as info:
        shmdev.check_name("a/b")
    assert info.value.errno == errno.EINVAL and info.value.filename == "a/b"
    with pytest.raises(OSError) as info:
        shmdev.check_name("n" * shmdev.NAME_MAX)
    assert info.value.errno == errno.ENAMETOOLONG
    with pytest.raises(OSError) as info:
        shmdev.check_name("caf\u00e9")
    assert info.value.errno == errno.EINVAL
    assert shmdev.parse_size("64M") == 64 << 20
    assert shmdev.parse_size("1GiB") == 1 << 30
    assert shmdev.parse_size("4096") == 4096
    with pytest.raises(OSError) as info:
        shmdev.parse_size("12Q")
    assert info.value.errno == errno.EINVAL


@pytest.mark.parametrize("code, cls", [
    (errno.EEXIST, FileExistsError),
    (errno.ENOENT, FileNotFoundError),
    (errno.EACCES, PermissionError),
    (errno.EPERM, PermissionError),
    (errno.EAGAIN, BlockingIOError),
    (errno.ETIMEDOUT, TimeoutError),
    (errno.EPIPE, BrokenPipeError),
    (errno.ENOTRECOVERABLE, shmdev.NotRecoverableError),
])
def test_errors_are_oserrors_with_errno(code, cls):
    exc = error_from_code(-code, "frames")
    assert isinstance(exc, cls) and isinstance(exc, OSError)
    assert exc.errno == code


@pytest.mark.skipif(os.path.exists("/dev/shmdev"),
                    reason="/dev/shmdev exists here")
def test_missing_device_is_a_clear_error():
    calls = [lambda: shmdev.Segment.create("frames", 4096),
             lambda: shmdev.Segment.attach("frames"),
             lambda: shmdev.Segment.open_or_create("frames", 4096),
             lambda: shmdev.SharedMemory(create=True, size=4096),
             lambda: shmdev.unlink("frames"),
             shmdev.list_segments, shmdev.version]
    for call in calls:
        with pytest.raises(shmdev.DeviceNotAvailableError) as info:
            call()
        assert info.value.errno == errno.ENODEV
        assert "modprobe shmdev" in str(info.value)
