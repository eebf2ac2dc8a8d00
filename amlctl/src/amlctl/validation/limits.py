"""Declared limits of component inputs (``min``, ``max``, ``enum``) and finite numbers.

Shared by ``validate`` (literals in the YAML) and ``run --local`` (values when they are
bound, after ``--set``), so both reject a value for the same reason in the same words.
"""

from __future__ import annotations

import math
from typing import Any


def _get(spec: Any, name: str) -> Any:
    return spec.get(name) if isinstance(spec, dict) else getattr(spec, name, None)


def limit_problem(name: str, spec: Any, value: Any) -> str | None:
    """Why ``value`` breaks a declared limit of input ``name``; None when it keeps them.

    ``spec`` is the SDK's ``Input`` or a mapping with ``type``, ``min``, ``max``, ``enum``.
    Values of another type are left to the type check.
    """
    if value is None or isinstance(value, bool):
        return None
    kind = str(_get(spec, "type") or "").lower()
    if kind in ("number", "integer") and isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return f"{value} is not a finite number (input '{name}')"
        low, high = _get(spec, "min"), _get(spec, "max")
        if low is not None and value < low:
            return f"{value} is below the minimum {low} of input '{name}'"
        if high is not None and value > high:
            return f"{value} is above the maximum {high} of input '{name}'"
    enum = _get(spec, "enum")
    if enum and str(value) not in {str(item) for item in enum}:
        allowed = ", ".join(str(item) for item in enum)
        return f"{value!r} is not one of the values of input '{name}': {allowed}"
    return None
