"""The scoring script behind Azure ML's real inference server, over real HTTP on loopback.

`amlctl serve` starts the server the same way (azmlinfsrv bound to 127.0.0.1); these tests
send what clients will send and check the answers, predictions against the model's own.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import mlflow.pyfunc
import pandas as pd
import pytest

SCORING = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def server(trained_model, tmp_path_factory):
    from amlctl import running_server

    log = tmp_path_factory.mktemp("server") / "server.log"
    with running_server(SCORING / "score.py", trained_model, log=log) as running:
        yield running


def post(server, body: bytes, content_type: str = "application/json") -> tuple[int, dict]:
    headers = {"Content-Type": content_type}
    request = urllib.request.Request(server.url, data=body, method="POST", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 (loopback)
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def rows_of(features: pd.DataFrame, count: int) -> list[dict]:
    return features.head(count).to_dict(orient="records")


def expected(trained_model: Path, rows: list[dict]) -> list:
    return list(mlflow.pyfunc.load_model(str(trained_model)).predict(pd.DataFrame(rows)))


def test_health_probe_answers(server):
    with urllib.request.urlopen(server.health_url, timeout=10) as answer:  # noqa: S310
        assert answer.status == 200


def test_one_row_is_predicted_as_the_model_predicts_it(server, trained_model, features):
    rows = rows_of(features, 1)
    status, body = post(server, json.dumps({"data": rows}).encode())
    assert status == 200
    assert body["predictions"] == pytest.approx(expected(trained_model, rows))


def test_a_batch_is_predicted_in_order(server, trained_model, features):
    rows = rows_of(features, 50)
    status, body = post(server, json.dumps({"data": rows}).encode())
    assert status == 200
    assert len(body["predictions"]) == 50
    assert body["predictions"] == pytest.approx(expected(trained_model, rows))


def test_a_large_batch_is_read_whole(server, trained_model, features):
    """Hundreds of kilobytes arrive in many reads; every row must reach the model."""
    rows = (features.to_dict(orient="records") * 3)[:900]
    body = json.dumps({"data": rows}).encode()
    assert len(body) > 100_000
    status, answer = post(server, body)
    assert status == 200
    assert answer["predictions"] == pytest.approx(expected(trained_model, rows))


def test_the_sample_request_is_answered(server, sample_request):
    status, body = post(server, json.dumps(sample_request).encode())
    assert status == 200
    assert len(body["predictions"]) == len(sample_request["data"])


def test_wrong_columns_get_422_naming_them(server, features):
    row = rows_of(features, 1)[0]
    row["not_a_feature"] = row.pop(features.columns[0])
    status, body = post(server, json.dumps({"data": [row]}).encode())
    assert status == 422
    assert features.columns[0] in body["message"]
    assert "not_a_feature" in body["message"]


def test_wrong_types_get_422_naming_the_column(server, features):
    row = rows_of(features, 1)[0]
    row[features.columns[2]] = "high"
    status, body = post(server, json.dumps({"data": [row]}).encode())
    assert status == 422
    assert repr(features.columns[2]) in body["message"]


def test_an_empty_body_gets_400(server):
    status, body = post(server, b"")
    assert status == 400
    assert "empty" in body["message"]


def test_an_oversized_body_gets_413_not_a_500(server, features):
    row = rows_of(features, 1)[0]
    status, body = post(server, json.dumps({"data": [row] * 20_000}).encode())
    assert status == 413
    assert "limit" in body["message"]
    assert "Traceback" not in json.dumps(body)
