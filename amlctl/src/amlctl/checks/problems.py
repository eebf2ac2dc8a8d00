"""How checks find the command-line tools they run, and where a finding is (see ..problems)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from ..problems import Problem

__all__ = ["Problem", "find_tool", "line_of", "relative"]


def find_tool(name: str) -> str | None:
    """The executable ``name`` next to the running Python (its virtualenv), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    return shutil.which(name)


def relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def line_of(text: str, offset: int) -> int:
    """1-based line number of a character offset."""
    return text.count("\n", 0, offset) + 1
