"""Create a virtual environment and install into it, with nothing but Python and pip.

uv is installed into the new environment first (one small wheel from PyPI) and then
does the heavy installs, several times faster than pip; if it cannot be installed,
pip does everything.
"""

from __future__ import annotations

import os
import subprocess
import venv
from pathlib import Path


def bin_dir(root: Path) -> Path:
    return root / ("Scripts" if os.name == "nt" else "bin")


def python_of(root: Path) -> Path:
    return bin_dir(root) / ("python.exe" if os.name == "nt" else "python")


def run(*command: object, cwd: Path | None = None) -> None:
    print("$", " ".join(str(part) for part in command), flush=True)
    subprocess.run([str(part) for part in command], cwd=cwd, check=True)


def ensure_venv(root: Path) -> Path:
    """A virtual environment at `root` with uv in it (when PyPI has it); returns its python."""
    python = python_of(root)
    if not python.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(root)
    if not (bin_dir(root) / "uv").exists():
        subprocess.run([str(python), "-m", "pip", "install", "-q", "uv==0.13.9"], check=False)
    return python


def install(root: Path, *requirements: str) -> None:
    """pip-install `requirements` (arguments as pip takes them) into the environment at `root`."""
    python = python_of(root)
    uv = bin_dir(root) / ("uv.exe" if os.name == "nt" else "uv")
    if uv.exists():
        # --compile-bytecode: what pip does by default; imports stay fast even where
        # PYTHONDONTWRITEBYTECODE is set
        run(uv, "pip", "install", "-q", "--compile-bytecode", "-p", python, *requirements)
    else:
        run(python, "-m", "pip", "install", "-q", *requirements)
