"""Run the whole test suite: `python scripts/test.py [pytest arguments]`.

Creates `.venv` at the repository's top (once), installs the pinned
requirements-dev.txt into it (the template's tooling, and the `amlctl` package from
this checkout, editable) and runs pytest there: the template's tests (`tests/`) and the
tool's (`amlctl/tests/`), once each. Needs only Python 3.11+ and pip.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from venvs import ensure_venv, install

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    os.chdir(ROOT)  # requirements-dev.txt names the tool by its relative path, ./amlctl
    python = ensure_venv(ROOT / ".venv")
    install(ROOT / ".venv", "-r", str(ROOT / "requirements-dev.txt"))
    return subprocess.run([str(python), "-m", "pytest", *argv], cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
