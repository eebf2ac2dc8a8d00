"""`--set name=value` overrides of pipeline inputs, shared by run, submit and invoke."""

from __future__ import annotations

import argparse
import re
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
    from .local_run.expand import step_path, yaml_key
    from .local_run.graph import PATH_TYPES_GRAPH, Binding

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
