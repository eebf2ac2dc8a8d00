"""Step processes that die with the runner, however the runner ends.

Each step runs in its own process group (so a step's own children go with it). A small
watchdog process, started with the first step, holds the read end of a pipe whose write
end only the runner has; the runner tells it which groups are running. When the runner
ends in any way, SIGKILL included, the kernel closes the pipe and the watchdog
terminates every group still listed: SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from typing import Any

GRACE_SECONDS = 3.0

WATCHDOG = r"""
import os, signal, sys, time
fd, grace = int(sys.argv[1]), float(sys.argv[2])
signal.signal(signal.SIGINT, signal.SIG_IGN)
groups, pending = set(), b""
while True:
    chunk = os.read(fd, 4096)
    if not chunk:
        break
    pending += chunk
    *lines, pending = pending.split(b"\n")
    for line in lines:
        if line[:1] == b"+":
            groups.add(int(line[1:]))
        elif line[:1] == b"-":
            groups.discard(int(line[1:]))
def alive(group):
    try:
        os.killpg(group, 0)
        return True
    except OSError:
        return False
for group in groups:
    try:
        os.killpg(group, signal.SIGTERM)
    except OSError:
        pass
deadline = time.monotonic() + grace
while any(alive(g) for g in groups) and time.monotonic() < deadline:
    time.sleep(0.05)
for group in groups:
    try:
        os.killpg(group, signal.SIGKILL)
    except OSError:
        pass
"""


class Reaper:
    """The watchdog of this runner's step processes (one per runner process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._write_fd: int | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self.groups: set[int] = set()

    def _ensure(self) -> None:
        if self._write_fd is not None or os.name != "posix":
            return
        read_fd, write_fd = os.pipe()  # not inheritable: steps never hold the write end
        try:
            self._watchdog = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", WATCHDOG, str(read_fd), str(GRACE_SECONDS)],
                pass_fds=(read_fd,),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C in the terminal is for the runner
            )
        finally:
            os.close(read_fd)
        self._write_fd = write_fd

    def _tell(self, message: str) -> None:
        if self._write_fd is not None:
            with contextlib.suppress(OSError):  # the watchdog is gone: nothing it can do
                os.write(self._write_fd, message.encode())

    def start(self, argv: list[str], **popen: Any) -> subprocess.Popen[Any]:
        """Popen(argv) in a new process group that the watchdog knows about."""
        with self._lock:
            self._ensure()
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                start_new_session=os.name == "posix",
                **popen,
            )
            self.groups.add(process.pid)
            self._tell(f"+{process.pid}\n")
        return process

    def finished(self, process: subprocess.Popen[Any]) -> None:
        """The step process has exited: kill what it left in its group, forget the group."""
        with self._lock:
            if process.pid in self.groups:
                _kill_group(process.pid, signal.SIGKILL)
                self.groups.discard(process.pid)
                self._tell(f"-{process.pid}\n")

    def kill(self, process: subprocess.Popen[Any]) -> None:
        """Kill a step and everything it started (a timeout, or the run is interrupted)."""
        if os.name == "posix":
            _kill_group(process.pid, signal.SIGKILL)
        else:  # pragma: no cover
            process.kill()

    def stop_all(self) -> None:
        """Kill every step still running (the run is being interrupted)."""
        with self._lock:
            groups = list(self.groups)
        for group in groups:
            _kill_group(group, signal.SIGTERM)
        for group in groups:
            _kill_group(group, signal.SIGKILL)


def _kill_group(group: int, sig: int) -> None:
    if os.name != "posix":  # pragma: no cover - no process groups: the step alone is killed
        return
    with contextlib.suppress(OSError):  # the group has already gone
        os.killpg(group, sig)


REAPER = Reaper()
