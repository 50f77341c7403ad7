# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Fixtures of the shmdev tests.

Run from python/ with ``python3 -m pytest``. Without ``SHMDEV_LIBRARY``,
the tests use the libshmdev of this source tree (userspace/libshmdev.so.1)
when it has been built, the installed one otherwise. Tests that need
/dev/shmdev skip without it; rings and mutexes are also tested in memfd
memory, which needs no module.
"""

from __future__ import annotations

import mmap
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

_TREE_LIBRARY = HERE.parent.parent / "userspace" / "libshmdev.so.1"
if not os.environ.get("SHMDEV_LIBRARY") and _TREE_LIBRARY.exists():
    os.environ["SHMDEV_LIBRARY"] = str(_TREE_LIBRARY)

DEVICE = "/dev/shmdev"

needs_device = pytest.mark.skipif(
    not os.path.exists(DEVICE),
    reason="/dev/shmdev is absent: the shmdev module is not loaded here "
           "(these tests run where it is, as in the VM of make check)")


@pytest.fixture
def shared_memory() -> Iterator[Callable[[int], mmap.mmap]]:
    """Makes MAP_SHARED memory of a memfd, shared with children after
    fork(), as a segment would be; unmapped at the end."""
    maps: list[mmap.mmap] = []

    def make(size: int = 1 << 16) -> mmap.mmap:
        fd = os.memfd_create("shmdev-test")
        try:
            os.ftruncate(fd, size)
            mem = mmap.mmap(fd, size, flags=mmap.MAP_SHARED)
        finally:
            os.close(fd)
        maps.append(mem)
        return mem

    yield make
    for mem in maps:
        try:
            mem.close()
        except BufferError:
            pass  # a failed test left a view; the process ends soon


class Child:
    """A forked child running a function; its exit status is 0 if the
    function returned, 1 if it raised (the traceback goes to stderr)."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        self.pid = os.fork()
        if self.pid == 0:
            code = 1
            try:
                fn(*args)
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        self.status: int | None = None

    def wait(self) -> int:
        """The child's exit code (-N if killed by signal N)."""
        if self.status is None:
            _, status = os.waitpid(self.pid, 0)
            self.status = os.waitstatus_to_exitcode(status)
        return self.status

    def kill(self) -> None:
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.wait()


@pytest.fixture
def fork() -> Iterator[Callable[..., Child]]:
    """fork(fn, *args) runs fn in a child; children left are killed."""
    children: list[Child] = []

    def start(fn: Callable[..., Any], *args: Any) -> Child:
        child = Child(fn, *args)
        children.append(child)
        return child

    yield start
    for child in children:
        child.kill()


# --tap=PATH: every test as a TAP line in PATH, with the kselftest totals
# line the VM rig of make check counts (scripts/vm/check.sh, section
# "python"); pytest's own report goes to the terminal as usual.
def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--tap", metavar="PATH", default=None,
                     help="also write the results as TAP to PATH")


class _Tap:
    def __init__(self, path: str) -> None:
        self.path = path
        self.lines: list[str] = []
        self.counts = {"pass": 0, "fail": 0, "skip": 0, "xfail": 0,
                       "xpass": 0, "error": 0}

    def add(self, ok: bool, name: str, directive: str = "") -> None:
        n = len(self.lines) + 1
        line = f"{'ok' if ok else 'not ok'} {n} - {name}"
        self.lines.append(line + (f" # {directive}" if directive else ""))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        name = report.nodeid.replace(" ", "_")
        if report.when == "call" or (report.when == "setup" and
                                     not report.passed):
            if report.skipped and hasattr(report, "wasxfail"):
                self.counts["xfail"] += 1
                self.add(True, name, "XFAIL")
            elif report.skipped:
                reason = report.longrepr[2] if isinstance(
                    report.longrepr, tuple) else str(report.longrepr)
                self.counts["skip"] += 1
                self.add(True, name, "SKIP " + reason.removeprefix(
                    "Skipped: ").replace("\n", " "))
            elif report.passed:
                self.counts["pass"] += 1
                self.add(True, name)
            else:
                self.counts["fail" if report.when == "call" else "error"] += 1
                self.add(False, name)
        elif report.when == "teardown" and report.failed:
            self.counts["error"] += 1
            self.add(False, name + "_teardown")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        c = self.counts
        with open(self.path, "w", encoding="utf-8") as out:
            out.write("TAP version 13\n")
            out.write(f"1..{len(self.lines)}\n")
            out.write("".join(line + "\n" for line in self.lines))
            out.write(f"# Totals: pass:{c['pass']} fail:{c['fail']} "
                      f"xfail:{c['xfail']} xpass:{c['xpass']} "
                      f"skip:{c['skip']} error:{c['error']}\n")


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("--tap")
    if path:
        config.pluginmanager.register(_Tap(path), "shmdev-tap")
