"""Literal input values against their declared types: shared by `validate` and `run`.

A literal of the wrong type (``epochs: many`` for an integer input) is refused by both
before any step runs, with the same words; `validate` reads azure-ai-ml's objects, `run`
the pipeline graph (``check``), after ``--set`` overrides.
"""

from __future__ import annotations

from typing import Any

from ..expressions import ANY_BINDING
from .expand import yaml_key
from .graph import Pipeline


def describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {value}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {value!r}"
    return f"{type(value).__name__} {value!r}"


def type_error(expected: str, value: Any, enum: list[Any] | None = None) -> str | None:
    """Why ``value`` (a literal from YAML) does not fit an input of type ``expected``."""
    if value is None or (isinstance(value, str) and ANY_BINDING.search(value)):
        return None
    expected = (expected or "").lower()
    fits = True
    if expected == "number":
        fits = isinstance(value, int | float) and not isinstance(value, bool)
    elif expected == "integer":
        fits = isinstance(value, int) and not isinstance(value, bool)
    elif expected == "boolean":
        fits = isinstance(value, bool)
    elif expected == "string":
        fits = isinstance(value, str | int | float) and not isinstance(value, bool)
    if not fits:
        return f"expected {expected}, got {describe(value)}"
    if enum and str(value) not in {str(e) for e in enum}:
        return f"{value!r} is not one of {', '.join(map(str, enum))}"
    return None


def check(pipeline: Pipeline) -> list[str]:
    """One line per literal input (of a step, or of the pipeline) that does not fit its type.

    Its declared limits (enum, min, max) are the runner's next check, in its own words."""
    problems = []
    for name, spec in pipeline.inputs.items():
        why = type_error(str(spec.get("type") or ""), spec.get("value"))
        if why:
            problems.append(f"inputs.{name}: {why}")
    for step in pipeline.steps.values():
        for name, binding in step.inputs.items():
            spec = step.component.inputs.get(name) or {}
            if binding.kind != "literal" or not spec:
                continue
            why = type_error(str(spec.get("type") or ""), binding.value)
            if why:
                where = (
                    binding.keys[-1]
                    if binding.keys
                    else f"jobs.{yaml_key(step.name)}.inputs.{name}"
                )
                problems.append(f"{where}: {why}")
    return problems
