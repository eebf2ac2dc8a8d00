"""Turn a component's command template into a command line for this machine."""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import sys
import threading
from collections.abc import Collection
from pathlib import Path
from typing import Any

from ..project import ProjectError

OPTIONAL_BLOCK = re.compile(r"\$\[\[(.*?)\]\]", re.DOTALL)
REFERENCE = re.compile(r"\$\{\{\s*(inputs|outputs)\.([\w-]+)\s*\}\}")
SHELL_SYNTAX = {"&&", "||", "|", ";", ">", ">>", "<", "2>&1"}


def format_value(value: Any) -> str:
    """How Azure ML renders a value on the command line (Python str: booleans as True/False)."""
    return str(value)


def resolve_command(
    template: str,
    inputs: dict[str, Any],
    outputs: dict[str, str],
    where: str = "",
    paths: Collection[str] = (),
) -> str:
    """Fill input and output references; keep ``$[[...]]`` blocks only if their inputs are bound.

    ``inputs`` maps every declared input to its value, ``None`` when unbound. Values are
    pasted as they are, as Azure ML does (a command may quote them itself); local paths
    (outputs, and the inputs named in ``paths``) are quoted when they need it.
    """

    def bound(block: str) -> bool:
        return all(
            (inputs.get(name) is not None) if kind == "inputs" else name in outputs
            for kind, name in REFERENCE.findall(block)
        )

    text = OPTIONAL_BLOCK.sub(lambda m: m.group(1) if bound(m.group(1)) else "", template)

    def substitute(match: re.Match[str]) -> str:
        kind, name = match.groups()
        if kind == "outputs":
            if name not in outputs:
                raise ProjectError(f"{where}: command uses undeclared output '{name}'")
            return shlex.quote(outputs[name])
        if inputs.get(name) is None:
            raise ProjectError(f"{where}: command needs input '{name}', which is not bound")
        if name in paths:
            return shlex.quote(format_value(inputs[name]))
        return format_value(inputs[name])

    text = REFERENCE.sub(substitute, text)
    return "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())


def shell_argv(command: str) -> list[str]:
    """How Azure ML runs a command: through bash (variables, &&, pipes, redirections)."""
    shell = shutil.which("bash") or "/bin/sh"
    return [shell, "-c", command]


def shim_dir(runs_dir: Path, bin_dir: str) -> Path:
    """A folder whose ``python``, ``python3``, ``pip`` and ``pip3`` are the step environment's.

    Put first on PATH, it makes ``python`` and ``pip`` anywhere in a command (also after
    ``&&`` or in a script the command calls) mean the step's environment. Wrapper
    scripts, not symlinks: a venv's interpreter finds its pyvenv.cfg only from its own path.
    """
    python = Path(bin_dir) / ("python.exe" if os.name == "nt" else "python")
    if not python.exists():
        python = Path(sys.executable) if Path(bin_dir) == Path(sys.executable).parent else python
    folder = runs_dir / "shims" / hashlib.sha256(str(python).encode()).hexdigest()[:12]
    if (folder / "pip").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    quoted = shlex.quote(str(python))
    scripts = {
        "python": f'exec {quoted} "$@"',
        "python3": f'exec {quoted} "$@"',
        "pip": f'exec {quoted} -m pip "$@"',
        "pip3": f'exec {quoted} -m pip "$@"',
    }
    for name, body in scripts.items():  # pip last: its presence marks a complete folder
        # unique per writer: two steps of one run (threads of one process) may write at once
        tmp = folder / f".{name}.{os.getpid()}.{threading.get_ident()}"
        tmp.write_text(f"#!/bin/sh\n{body}\n")
        tmp.chmod(0o755)
        tmp.replace(folder / name)
    return folder


def to_argv(command: str) -> list[str]:
    """Arguments of a one-line command (parallel tasks); ``python`` is this interpreter."""
    argv = shlex.split(command)
    if argv and argv[0] in ("python", "python3"):
        argv[0] = sys.executable
    if SHELL_SYNTAX & set(argv):
        return ["/bin/sh", "-c", shlex.join(argv[:1]) + command[len(command.split()[0]) :]]
    return argv


def display(argv: list[str]) -> str:
    return shlex.join(argv)
