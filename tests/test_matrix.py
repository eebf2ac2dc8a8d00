"""Meta-tests: the bake matrix covers every option value, and only known keys."""

from __future__ import annotations

import pytest

from .conftest import TEMPLATE_KEYS, defaults
from .matrix import MATRIX


def _value_sets() -> dict[str, set]:
    """Every value each choice and boolean question can take."""
    values: dict[str, set] = {}
    for key, default in TEMPLATE_KEYS.items():
        if key.startswith("_"):
            continue
        if isinstance(default, list):
            values[key] = set(default)
        elif isinstance(default, bool):
            values[key] = {True, False}
    return values


def test_matrix_covers_every_choice_and_boolean_value():
    seen: dict[str, set] = {key: set() for key in _value_sets()}
    for answers in MATRIX.values():
        resolved = {**defaults(), **answers}
        for key in seen:
            seen[key].add(resolved[key])
    missing = {key: sorted(map(str, values - seen[key])) for key, values in _value_sets().items()}
    missing = {key: values for key, values in missing.items() if values}
    assert not missing, f"values never baked by tests/matrix.py: {missing}"


def test_matrix_has_a_plain_defaults_entry():
    assert MATRIX["defaults"] == {}


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_matrix_uses_only_template_keys(name):
    unknown = set(MATRIX[name]) - set(TEMPLATE_KEYS)
    assert not unknown, f"{name}: keys cookiecutter would silently ignore: {sorted(unknown)}"


def test_there_are_choice_and_boolean_questions_to_cover():
    # Guards the meta-test itself: if parsing broke, it would pass vacuously.
    values = _value_sets()
    assert {"environments", "ml_task", "python_version", "gpu_cluster"} <= set(values)
