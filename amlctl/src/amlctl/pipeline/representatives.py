"""One node per kind of node: what azure-ai-ml must load and validate of a large pipeline.

azure-ai-ml loads and schema-validates every node of a pipeline on its own, with its
component (about 15 ms a node: 84 s for 1,000 steps). Generated pipelines repeat a few
components many times, with nodes that differ only in the literal values and the step
outputs they are given. Nodes that differ only there get the same answer from the SDK:

- it does not look at which job a ``${{parent.jobs.<job>.outputs.<out>}}`` names (a job
  that does not exist, or a cycle, passes it); ``validation.bindings`` checks that for
  every node;
- it takes a literal for an input of a primitive type (string, number, integer, boolean)
  without reading it (``epochs: many`` passes it); ``pipeline.literals`` checks those.

So the SDK gets one *representative* per signature (the node with those two things
abstracted: everything else, its component, compute, settings, other inputs and outputs,
as written), and what it says of a representative is said of each node it stands for.
Node names the SDK would check while loading are checked here with its own rule.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

PRIMITIVE_TYPES = {"string", "number", "integer", "boolean"}
STEP_OUTPUT_JOB = re.compile(r"(\$\{\{\s*parent\.jobs\.)[^.\s}]+(\.)")
REFERENCE_KEYS = ("component", "trial")


def _component_inputs(
    node: dict[str, Any], base: Path, read: Callable[[Path], Any]
) -> dict[str, Any] | None:
    """The inputs a node's component declares, when it is inline or a local file."""
    for key in REFERENCE_KEYS:
        value = node.get(key)
        if isinstance(value, dict):
            inputs = value.get("inputs")
            return inputs if isinstance(inputs, dict) else {}
        if isinstance(value, str):
            text = value.strip().removeprefix("file:")
            if text.startswith("azureml:") or "://" in text:
                return None
            try:
                spec = read((base / text).resolve())
            except Exception:  # unreadable: the node stands for itself, the SDK says why
                return None
            if not isinstance(spec, dict):
                return None
            inputs = spec.get("inputs")
            return inputs if isinstance(inputs, dict) else {}
    return None


def _shape(value: Any, declared: Any) -> Any:
    """A node input's value as far as the SDK's verdict depends on it."""
    if isinstance(value, str) and "${{" in value:
        return ["binding", STEP_OUTPUT_JOB.sub(r"\1*\2", value)]
    kind = declared.get("type") if isinstance(declared, dict) else None
    primitive = isinstance(kind, str) and kind.lower() in PRIMITIVE_TYPES
    if primitive and isinstance(value, bool | int | float | str):
        return ["literal", type(value).__name__]
    return ["as written", value]


def signature(node: Any, base: Path, read: Callable[[Path], Any]) -> str | None:
    """What the SDK's answer about ``node`` depends on; None: the node stands for itself."""
    if not isinstance(node, dict):
        return None
    declared = _component_inputs(node, base, read)
    shaped = dict(node)
    inputs = node.get("inputs")
    if isinstance(inputs, dict) and declared is not None:
        shaped["inputs"] = {
            name: _shape(value, declared.get(name)) for name, value in inputs.items()
        }
    elif isinstance(inputs, dict):  # a registry component: only step outputs abstracted
        shaped["inputs"] = {
            name: _shape(value, None) if isinstance(value, str) else ["as written", value]
            for name, value in inputs.items()
        }
    try:
        return json.dumps(shaped, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        return None


def representatives(
    spec: dict[str, Any],
    base: Path,
    read: Callable[[Path], Any],
    valid_name: Callable[[str], bool] = lambda name: True,
) -> tuple[dict[str, Any], dict[str, str]]:
    """(``spec`` with only the first node of each signature, {node: its representative}).

    ``read`` parses a component file (called once per file: pass a caching one); a node
    whose name is not ``valid_name`` stands for itself, so the SDK names it.
    """
    jobs = spec.get("jobs")
    if not isinstance(jobs, dict):
        return spec, {}
    first: dict[str, str] = {}
    standing: dict[str, str] = {}
    kept: dict[str, Any] = {}
    for name, node in jobs.items():
        key = signature(node, base, read) if valid_name(name) else None
        if key is None or key not in first:
            if key is not None:
                first[key] = name
            kept[name] = node
            standing[name] = name
        else:
            standing[name] = first[key]
    if len(kept) == len(jobs):
        return spec, standing
    return {**spec, "jobs": kept}, standing


class NodeView:
    """A node as the SDK would have loaded it: its representative's object, with the
    node's own literal and binding values (the only things in which the two differ)."""

    def __init__(self, representative: Any, name: str, raw: dict[str, Any]) -> None:
        self._representative = representative
        self.name = name
        inputs = dict(getattr(representative, "_job_inputs", None) or {})
        for key, value in (raw.get("inputs") or {}).items():
            if value is None or isinstance(value, bool | int | float | str):
                inputs[key] = value
        self._job_inputs = inputs

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._representative, attribute)


class PipelineView:
    """A loaded (reduced) pipeline with every node of the file, for binding checks."""

    def __init__(self, loaded: Any, jobs: dict[str, Any]) -> None:
        self._loaded = loaded
        self.jobs = jobs

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._loaded, attribute)


def full_view(loaded: Any, spec: dict[str, Any], standing: dict[str, str]) -> Any:
    """``loaded`` (from the reduced spec) seen with every node of ``spec``, in its order."""
    if all(name == rep for name, rep in standing.items()):
        return loaded
    loaded_jobs = dict(getattr(loaded, "jobs", None) or {})
    jobs: dict[str, Any] = {}
    for name, node in (spec.get("jobs") or {}).items():
        rep = standing.get(name, name)
        if rep not in loaded_jobs:
            continue
        jobs[name] = loaded_jobs[rep] if rep == name else NodeView(loaded_jobs[rep], name, node)
    return PipelineView(loaded, jobs)


def members(standing: dict[str, str]) -> dict[str, list[str]]:
    """{representative: the other nodes it stands for}, in the file's order."""
    found: dict[str, list[str]] = {}
    for name, rep in standing.items():
        if name != rep:
            found.setdefault(rep, []).append(name)
    return found


def spread(field: str, stands_for: dict[str, list[str]]) -> list[str]:
    """A problem's field for the representative and for each node it stands for."""
    match = re.match(r"jobs\.([^.]+)(.*)$", field)
    if not match or match.group(1) not in stands_for:
        return [field]
    rep, rest = match.groups()
    return [field] + [f"jobs.{name}{rest}" for name in stands_for[rep]]
