"""`--set NAME=VALUE`: one option and one parser for run, submit and invoke.

Each value is checked against the inputs the pipeline declares and typed by the declared
type, so `--set label=007` stays the string "007" for a string input, `--set epochs=3` is
the integer 3, and `--set rate=fast` for a number input is an error naming the input.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from .inputs import literal_type
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
    return literal_type(spec)


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


NODE_INPUT = re.compile(r"^jobs\.(?P<node>[\w-]+(?:\.jobs\.[\w-]+)*)\.inputs\.(?P<input>[\w-]+)$")


def split_node_overrides(pairs: list[str] | tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(pipeline input overrides `name=value`, node overrides `jobs.NODE.inputs.NAME=value`)."""
    pipeline_pairs, node_pairs = [], []
    for pair in pairs:
        (node_pairs if pair.strip().startswith("jobs.") else pipeline_pairs).append(pair)
    return pipeline_pairs, node_pairs


def apply_node_overrides(pipeline: Any, pairs: list[str], typed: Any) -> None:
    """Replace the binding of a node input (`jobs.NODE.inputs.NAME=VALUE`), in place.

    NODE is the node's key in the YAML: `train`, or `outer.jobs.inner` inside a pipeline
    component; overriding an input of a pipeline-component node replaces it for every
    inner step it is bound through. ``typed(where, kind, text)`` converts the value.
    """
    from .pipeline.expand import step_path, yaml_key
    from .pipeline.graph import PATH_TYPES_GRAPH, Binding

    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        match = NODE_INPUT.match(key)
        if not sep or not match:
            raise ProjectError(f"--set {pair}: expected jobs.NODE.inputs.NAME=VALUE")
        node, name = step_path(match.group("node")), match.group("input")
        targets = []
        step = pipeline.steps.get(node)
        if step is not None:
            if name not in step.component.inputs:
                known = ", ".join(sorted(step.component.inputs)) or "none"
                raise ProjectError(
                    f"--set {key}: {yaml_key(node)} has no input '{name}' (inputs: {known})"
                )
            targets.append((step, name))
        else:
            for candidate in pipeline.steps.values():
                for input_name, binding in candidate.inputs.items():
                    if key in binding.keys:
                        targets.append((candidate, input_name))
        if not targets:
            nodes = sorted({yaml_key(n) for n in pipeline.steps})
            raise ProjectError(
                f"--set {key}: no node input {key} is bound in the pipeline "
                f"(steps: {', '.join(nodes)})"
            )
        for target, input_name in targets:
            kind = target.component.inputs.get(input_name, {}).get("type", "string")
            value = typed(key, kind, text)
            binding_kind = "path" if kind in PATH_TYPES_GRAPH else "literal"
            target.inputs[input_name] = Binding(binding_kind, value=value, keys=[key])
