"""`--set NAME=VALUE`: one option and one parser for run, submit and invoke.

Each value is checked against the inputs the pipeline declares and typed by the declared
type, so `--set label=007` stays the string "007" for a string input, `--set epochs=3` is
the integer 3, and `--set rate=fast` for a number input is an error naming the input.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterable, Mapping
from typing import Any

from .project import ProjectError

LITERAL_TYPES = ("integer", "number", "boolean", "string")


def add_set_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    """The repeatable `--set NAME=VALUE` option; the raw pairs land in `args.overrides`."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=help_text,
    )


def input_type(spec: Any) -> str:
    """The declared type of a pipeline input: its spec's `type`, else that of its literal."""
    if isinstance(spec, Mapping):
        if spec.get("type"):
            return str(spec["type"])
        return "uri_folder" if "path" in spec else "string"
    if isinstance(spec, bool):
        return "boolean"
    if isinstance(spec, int):
        return "integer"
    if isinstance(spec, float):
        return "number"
    return "string"


def parse_overrides(pairs: Iterable[str] | None, declared: Mapping[str, Any], what: str) -> dict:
    """`name -> value` for each `NAME=VALUE` pair, checked and typed by the declared inputs."""
    values: dict[str, Any] = {}
    for pair in pairs or ():
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ProjectError(f"--set {pair!r}: expected NAME=VALUE")
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise ProjectError(f"--set {name}: not an input of {what} (inputs: {known})")
        values[name] = typed_value(name, input_type(declared[name]), text)
    return values


def typed_value(name: str, kind: str, text: str) -> Any:
    """`text` as a value of the declared `kind`; data inputs keep the path or reference."""
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ProjectError(f"--set {name}={text}: expected an integer") from None
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise ProjectError(f"--set {name}={text}: expected a number") from None
        if not math.isfinite(number):
            raise ProjectError(f"--set {name}={text}: expected a finite number")
        return number
    if kind == "boolean":
        lowered = text.strip().lower()
        if lowered not in ("true", "false"):
            raise ProjectError(f"--set {name}={text}: expected boolean (true or false)")
        return lowered == "true"
    if kind not in LITERAL_TYPES and not text.strip():
        raise ProjectError(f"--set {name}=: expected a path or an azureml: reference")
    return text
