"""What a check reports: one type for every finding of validate, check-infra and check-workflows;
and the one line an operating-system failure is reported as (`os_problem`).

Printed as ``file[:line[:column]]: [field: ][warning: ]message``: a Bicep or workflow finding
names its line, a YAML finding names the key (``jobs.train.inputs.x``) it is about.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    file: str
    message: str
    line: int | None = None
    column: int | None = None
    field: str | None = None  # the YAML key the problem is about, when there is one
    severity: str = "error"  # "error", "warning" or "note" (what offline checks cannot know)

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        if self.field:
            where += f": {self.field}"
        label = f"{self.severity}: " if self.severity in ("warning", "note") else ""
        return f"{where}: {label}{self.message}"


def os_problem(exc: OSError) -> str:
    """One line for an operating-system failure, naming the path and what to do."""
    import errno

    where = exc.filename or "a file"
    advice = {
        errno.ENOSPC: "no space left on the device: free space there (old runs in .runs/ "
        "can go: they are caches) and run again",
        errno.EDQUOT: "disk quota exceeded: free space there and run again",
        errno.EROFS: "the file system is read-only: run from a writable copy",
        errno.EACCES: "permission denied: make it writable for this user, or run elsewhere",
        errno.EPERM: "operation not permitted: make it writable for this user, or run elsewhere",
    }
    reason = advice.get(exc.errno or -1, exc.strerror or str(exc) or type(exc).__name__)
    return f"{where}: {reason}"


DISK_FULL_WORDS = ("No space left on device", "Disk quota exceeded")


def disk_full(exc: BaseException, log: Path | None = None) -> bool:
    """Whether ``exc`` (or the end of a step's ``log``) says the disk filled up."""
    import errno

    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if log is None:
        return False
    try:
        with open(log, "rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(0, handle.tell() - 65536))
            end = handle.read().decode("utf-8", "replace")
    except OSError:
        return False
    return any(words in end for words in DISK_FULL_WORDS)
