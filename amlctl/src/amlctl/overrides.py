"""`--set name=value` overrides of pipeline inputs, shared by run, submit and invoke."""

from __future__ import annotations

import argparse
from typing import Any

from .project import ProjectError


def add_set_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    """The repeatable `--set NAME=VALUE` option; values land in `args.overrides`."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=help_text,
    )


def parse_overrides(pairs: list[str] | None) -> dict[str, Any]:
    """`name=value` pairs; values are read as YAML scalars (3 -> int, 0.5 -> float, true)."""
    import yaml

    values: dict[str, Any] = {}
    for pair in pairs or []:
        name, sep, raw = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ProjectError(f"--set {pair!r}: expected name=value")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        values[name] = raw if isinstance(value, (dict, list)) or value is None else value
    return values


def check_names(values: dict[str, Any], known: list[str], what: str) -> None:
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ProjectError(
            f"--set {', '.join(unknown)}: not an input of {what} "
            f"(inputs: {', '.join(sorted(known)) or 'none'})"
        )
