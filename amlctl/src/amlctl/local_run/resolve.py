"""Turn a component's command template into a command line for this machine."""

from __future__ import annotations

import re
import shlex
import sys
from typing import Any

from ..project import ProjectError

OPTIONAL_BLOCK = re.compile(r"\$\[\[(.*?)\]\]", re.DOTALL)
REFERENCE = re.compile(r"\$\{\{\s*(inputs|outputs)\.([\w-]+)\s*\}\}")
SHELL_SYNTAX = {"&&", "||", "|", ";", ">", ">>", "<", "2>&1"}


def format_value(value: Any) -> str:
    """How Azure ML renders a value on the command line (Python str: booleans as True/False)."""
    return str(value)


def resolve_command(
    template: str, inputs: dict[str, Any], outputs: dict[str, str], where: str = ""
) -> str:
    """Fill input and output references; keep ``$[[...]]`` blocks only if their inputs are bound.

    ``inputs`` maps every declared input to its value, ``None`` when unbound.
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
        return shlex.quote(format_value(inputs[name]))

    text = REFERENCE.sub(substitute, text)
    return " ".join(text.split())


def to_argv(command: str) -> list[str]:
    """Arguments to execute; ``python`` is this interpreter; shell syntax goes through sh."""
    argv = shlex.split(command)
    if argv and argv[0] in ("python", "python3"):
        argv[0] = sys.executable
    if SHELL_SYNTAX & set(argv):
        return ["/bin/sh", "-c", shlex.join(argv[:1]) + command[len(command.split()[0]) :]]
    return argv


def display(argv: list[str]) -> str:
    return shlex.join(argv)
