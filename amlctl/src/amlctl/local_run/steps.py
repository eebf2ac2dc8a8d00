"""What running one step needs, shared by the pipeline runner and the sweep runner.

A leaf module: the executor schedules steps and the sweep runs trials, and both use these
without importing each other.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path
from typing import Any

from .processes import REAPER
from .resolve import display

LOG_TAIL_LINES = 20
# A step's output is read in pieces of at most this many characters, so a line of any
# length (a progress bar without newlines, a dumped array) costs bounded memory. The log
# keeps every character; the console shows the start of an over-long line once.
CHUNK_CHARS = 64 * 1024
CONSOLE_CHARS = 2000
TAIL_BYTES = 256 * 1024


class StepFailed(Exception):
    def __init__(self, message: str, rerun: str = "", log: Path | None = None) -> None:
        super().__init__(message)
        self.rerun = rerun
        self.log = log


class Console:
    """Thread-safe printing of step logs and state changes."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stdout
        self.lock = threading.Lock()

    def line(self, text: str) -> None:
        with self.lock:
            self.stream.write(text + "\n")
            self.stream.flush()

    def state(self, step: str, state: str, seconds: float | None = None, note: str = "") -> None:
        took = f" ({seconds:.1f} s)" if seconds is not None else ""
        self.line(f"-- {state:<8} {step}{took}{('  ' + note) if note else ''}")


def run_process(
    argv: list[str],
    cwd: Path,
    env: dict[str, str],
    log_file: Path,
    prefix: str,
    console: Console,
    timeout: float | None = None,
    started: Any = None,
) -> int:
    """Run argv, streaming its output with a prefix to the console and into log_file.

    ``started(process)`` is called once the process runs (sweeps stop trials early).
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("w", encoding="utf-8") as log:
        log.write(f"$ cd {shlex.quote(str(cwd))} && {display(argv)}\n")
        log.flush()
        try:
            process = REAPER.start(
                argv,
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                bufsize=1,
            )
        except OSError as exc:
            log.write(f"cannot start: {exc}\n")
            console.line(f"[{prefix}] cannot start: {exc}")
            return 127
        if started is not None:
            started(process)
        timer = None
        if timeout:
            timer = threading.Timer(timeout, REAPER.kill, (process,))
            timer.start()
        try:
            echo_lines(process.stdout, log, console, prefix, log_file)
            code = process.wait()
        finally:
            if timer:
                timer.cancel()
            REAPER.finished(process)
        return code


def echo_lines(stream: Any, log: Any, console: Console, prefix: str, log_file: Path) -> None:
    """Copy ``stream`` to ``log`` whole and to the console line by line, in bounded pieces."""
    if stream is None:
        return
    within_long_line = False
    while True:
        text = stream.readline(CHUNK_CHARS)
        if not text:
            return
        log.write(text)
        complete = text.endswith("\n")
        if not within_long_line:
            shown = text.rstrip()
            if not complete or len(shown) > CONSOLE_CHARS:
                shown = f"{shown[:CONSOLE_CHARS]} ... (a long line: whole in {log_file})"
            console.line(f"[{prefix}] {shown}")
        within_long_line = not complete


def tail(log_file: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last ``lines`` lines of a log, read from its last TAIL_BYTES, each cut short."""
    try:
        with log_file.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - TAIL_BYTES))
            data = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    kept = deque(data.splitlines(), maxlen=lines)
    return [line if len(line) <= CONSOLE_CHARS else line[:CONSOLE_CHARS] + " ..." for line in kept]
