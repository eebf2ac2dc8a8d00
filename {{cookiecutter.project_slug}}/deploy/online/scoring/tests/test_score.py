"""Unit tests of deploy/online/scoring/score.py: init(), run() and its input validation."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import mlflow.pyfunc
import pytest
from werkzeug.test import EnvironBuilder

SCORING = Path(__file__).resolve().parents[1]


def load_module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def score(trained_model, monkeypatch_module):
    monkeypatch_module.setenv("AZUREML_MODEL_DIR", str(trained_model.parent))
    module = load_module("score_under_test", SCORING / "score.py")
    module.init()
    return module


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def call(score, body: bytes | str, content_type: str = "application/json", method: str = "POST"):
    from flask import Request  # what the server hands a @rawhttp run()

    environ = EnvironBuilder(
        path="/score", method=method, data=body, content_type=content_type
    ).get_environ()
    response = score.run(Request(environ))
    return response.status_code, json.loads(response.get_data())


def test_init_reads_the_training_schema_from_the_model(score, features):
    assert score.features == list(features.columns)


def test_sample_request_is_answered_like_the_model_itself(score, trained_model, sample_request):
    import pandas as pd

    status, body = call(score, json.dumps(sample_request))
    assert status == 200
    frame = pd.DataFrame(sample_request["data"])
    expected = mlflow.pyfunc.load_model(str(trained_model)).predict(frame)
    assert body["predictions"] == pytest.approx(list(expected))


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"", 400, "empty"),
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, '"data" list'),
        (b'{"data": []}', 400, "non-empty"),
        (b'{"data": [1]}', 422, "row 0 must be an object"),
    ],
)
def test_malformed_bodies_get_a_4xx_with_a_message(score, body, status, message):
    got_status, got = call(score, body)
    assert got_status == status
    assert message in got["message"]


def test_missing_and_unknown_columns_are_named(score, features):
    row = features.iloc[0].to_dict()
    dropped = features.columns[0]
    del row[dropped]
    row["colour"] = 1.0
    status, body = call(score, json.dumps({"data": [row]}))
    assert status == 422
    assert f"missing column(s) {dropped}" in body["message"]
    assert "unknown column(s) colour" in body["message"]


@pytest.mark.parametrize("value", ["12.5", None, True, [1.0]])
def test_a_value_that_is_not_a_number_is_refused(score, features, value):
    row = features.iloc[0].to_dict()
    column = features.columns[1]
    row[column] = value
    status, body = call(score, json.dumps({"data": [row]}))
    assert status == 422
    assert f"column {column!r} must be a number" in body["message"]


def test_too_many_rows_and_too_large_bodies_get_413(score, features):
    row = features.iloc[0].to_dict()
    status, body = call(score, json.dumps({"data": [row] * (score.MAX_ROWS + 1)}))
    assert status == 413
    assert f"{score.MAX_ROWS + 1} rows" in body["message"]
    status, body = call(score, b" " * (score.MAX_BODY_BYTES + 1))
    assert status == 413
    assert "bytes" in body["message"]


def test_only_post_is_scored(score):
    status, body = call(score, b"", method="GET")
    assert status == 405
    assert "POST" in body["message"]
