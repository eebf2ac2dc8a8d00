"""The one `--set` parser of run, submit and invoke: checked and typed by the declared inputs."""

from __future__ import annotations

import pytest

from amlctl.overrides import input_type, parse_overrides
from amlctl.project import ProjectError

DECLARED = {
    "label": {"type": "string", "default": "a"},
    "epochs": {"type": "integer", "default": 1},
    "rate": {"type": "number", "default": 0.1},
    "shuffle": {"type": "boolean", "default": True},
    "raw": {"type": "uri_folder", "path": "./data"},
    "literal_int": 5,
    "literal_text": "x",
}


def test_values_take_the_declared_type():
    values = parse_overrides(
        ["label=007", "epochs=3", "rate=1e-3", "shuffle=FALSE", "raw=azureml:raw:2"],
        DECLARED,
        "p.yml",
    )
    assert values == {
        "label": "007",  # a string input keeps what was typed, leading zeros included
        "epochs": 3,
        "rate": 0.001,
        "shuffle": False,
        "raw": "azureml:raw:2",
    }
    assert type(values["epochs"]) is int


def test_a_literal_default_declares_its_type():
    assert input_type(5) == "integer"
    assert input_type(0.5) == "number"
    assert input_type(True) == "boolean"
    assert input_type({"path": "./x"}) == "uri_folder"
    assert parse_overrides(["literal_int=7", "literal_text=7"], DECLARED, "p") == {
        "literal_int": 7,
        "literal_text": "7",
    }


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("epochs=3.5", "--set epochs=3.5: expected an integer"),
        ("rate=fast", "--set rate=fast: expected a number"),
        ("rate=nan", "--set rate=nan: expected a finite number"),
        ("rate=inf", "--set rate=inf: expected a finite number"),
        ("shuffle=yes", "--set shuffle=yes: expected boolean (true or false)"),
        ("raw=", "--set raw=: expected a path or an azureml: reference"),
        ("nope=1", "--set nope: not an input of p.yml (inputs: epochs, label, literal_int"),
        ("no-equals-sign", "--set 'no-equals-sign': expected NAME=VALUE"),
        ("=1", "--set '=1': expected NAME=VALUE"),
    ],
)
def test_bad_values_name_the_input_and_the_rule(pair, message):
    with pytest.raises(ProjectError) as caught:
        parse_overrides([pair], DECLARED, "p.yml")
    assert str(caught.value).startswith(message)
