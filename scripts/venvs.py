"""Create virtual environments and install into them, with nothing but Python and pip.

uv does the installs, several times faster than pip. It is fetched once with pip into
`build/uv` (one small wheel from PyPI), and makes the environments itself, which skips
installing pip into each (``seed`` adds pip, for environments a person will use). If uv
cannot be fetched, the standard library's venv and pip do everything.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UV_HOME = ROOT / "build" / "uv"
LOCK = ROOT / "requirements-dev.txt"  # pins the uv that does the installs, with the dev tools


def bin_dir(root: Path) -> Path:
    return root / ("Scripts" if os.name == "nt" else "bin")


def python_of(root: Path) -> Path:
    return bin_dir(root) / ("python.exe" if os.name == "nt" else "python")


def run(*command: object, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    print("$", " ".join(str(part) for part in command), flush=True)
    subprocess.run([str(part) for part in command], cwd=cwd, env=env, check=True)


def uv_version(lock: Path = LOCK) -> str:
    """The uv version the dev lock file pins (one pin for the bootstrap and the dev tools)."""
    for line in lock.read_text().splitlines():
        if line.startswith("uv=="):
            return line.split("==", 1)[1].split()[0]
    raise SystemExit(f"{lock.name}: no uv==VERSION pin (the installs need one)")


def uv() -> Path | None:
    """uv, fetched into build/uv with this Python's pip the first time; None if it cannot be.

    A build/uv of another version than the lock file pins is replaced.
    """
    version = uv_version()
    binary = bin_dir(UV_HOME) / ("uv.exe" if os.name == "nt" else "uv")
    if not (UV_HOME / f"uv-{version}.dist-info").is_dir():
        fetch = [sys.executable, "-m", "pip", "install", "-q", "--upgrade", "--target"]
        subprocess.run([*fetch, str(UV_HOME), f"uv=={version}"], check=False)
    return binary if binary.exists() else None


def ensure_venv(root: Path, seed: bool = True) -> Path:
    """A virtual environment at `root` (with pip when `seed`); returns its python."""
    python = python_of(root)
    if python.exists():
        return python
    tool = uv()
    if tool is not None:
        run(tool, "venv", "-q", *(["--seed"] if seed else []), "-p", sys.executable, root)
    else:
        venv.EnvBuilder(with_pip=True, clear=True).create(root)
    return python


def install(root: Path, *requirements: str, compile_bytecode: bool = True) -> None:
    """Install `requirements` (arguments as pip takes them) into the environment at `root`.

    ``compile_bytecode`` compiles every installed module now, as pip does by default (imports
    stay fast even where PYTHONDONTWRITEBYTECODE is set); without it Python compiles, and
    caches, only what is imported, when it is first imported.
    """
    run(*install_command(root, *requirements, compile_bytecode=compile_bytecode))


def install_command(root: Path, *requirements: str, compile_bytecode: bool = True) -> list[str]:
    """The command `install` runs: uv's, else pip's."""
    python = python_of(root)
    tool = uv()
    if tool is not None:
        compiled = ["--compile-bytecode"] if compile_bytecode else []
        return [str(tool), "pip", "install", "-q", *compiled, "-p", str(python), *requirements]
    compiled = [] if compile_bytecode else ["--no-compile"]
    return [str(python), "-m", "pip", "install", "-q", *compiled, *requirements]
