"""The Azure ML type of a literal input value, for every place that reads one from YAML."""

from __future__ import annotations

from typing import Any


def literal_type(value: Any) -> str:
    """``integer``, ``number``, ``boolean`` or ``string``: what Azure ML reads ``value`` as."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"
