"""Run the whole template test suite: `python scripts/test.py [pytest arguments]`.

Creates `.venv` at the repository's top (once), installs the pinned
requirements-dev.txt into it and runs pytest there. Needs only Python 3.11+ and pip.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from venvs import ensure_venv, install

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    python = ensure_venv(ROOT / ".venv")
    install(ROOT / ".venv", "-r", str(ROOT / "requirements-dev.txt"))
    return subprocess.run([str(python), "-m", "pytest", *argv], cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
