"""The scoring script behind Azure ML's real inference server, over real HTTP on loopback.

`amlctl serve` starts the server the same way (azmlinfsrv bound to 127.0.0.1, with the
environment variables of deploy/online/deployment.yml, as Azure ML sets them in the
deployment's container); these tests send what clients will send, slow, silent and hostile
clients included, and check the answers, predictions against the model's own.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import mlflow.pyfunc
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

SCORING = Path(__file__).resolve().parents[1]
DEPLOYMENT = SCORING.parent / "deployment.yml"
SETTINGS = yaml.safe_load(DEPLOYMENT.read_text(encoding="utf-8"))["environment_variables"]
MAX_BODY_BYTES = int(SETTINGS["SCORING_MAX_BODY_BYTES"])
READ_TIMEOUT_S = float(SETTINGS["SCORING_READ_TIMEOUT_S"])
DRAIN_LIMIT_BYTES = 16 * MAX_BODY_BYTES  # score.py's bound on reading an oversized body
FLOAT32_MAX = 3.4028234663852886e38


@pytest.fixture(scope="module")
def server(trained_model, tmp_path_factory):
    from amlctl import running_server

    log = tmp_path_factory.mktemp("server") / "server.log"
    with running_server(
        SCORING / "score.py", trained_model, log=log, deployment=DEPLOYMENT
    ) as running:
        yield running


def post(
    server, body: bytes, content_type: str = "application/json", timeout: float = 30
) -> tuple[int, dict]:
    headers = {"Content-Type": content_type}
    request = urllib.request.Request(server.url, data=body, method="POST", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 (loopback)
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def connect(server) -> socket.socket:
    """A raw client connection, for what urllib will not send."""
    return socket.create_connection(("127.0.0.1", server.port), timeout=30)


def head(content_length: int | None = None, chunked: bool = False) -> bytes:
    lines = ["POST /score HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    if content_length is not None:
        lines.append(f"Content-Length: {content_length}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def status_of(connection: socket.socket) -> int:
    """The status code of the answer on a raw connection."""
    answer = b""
    while b"\r\n" not in answer:
        chunk = connection.recv(4096)
        if not chunk:
            break
        answer += chunk
    return int(answer.split(b" ", 2)[1])


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
    padding = " " * MAX_BODY_BYTES  # valid JSON, one byte too many after the rows
    body = json.dumps({"data": rows_of(features, 1), "note": padding}).encode()
    status, answer = post(server, body)
    assert status == 413
    assert "limit" in answer["message"]
    assert "Traceback" not in json.dumps(answer)


def test_an_announced_huge_body_gets_413_before_it_is_sent(server):
    with connect(server) as client:
        client.sendall(head(content_length=10**12) + b'{"data": [')
        assert status_of(client) == 413


def test_an_endless_body_is_read_no_further_than_the_drain_limit(server):
    """The scoring script once read 9.3 GB of an endless chunked body in 12 s."""
    payload = b" " * (64 * 1024)
    chunk = b"%x\r\n%s\r\n" % (len(payload), payload)
    sent = 0
    with connect(server) as client:
        client.settimeout(READ_TIMEOUT_S + 5)
        client.sendall(head(chunked=True) + b'a\r\n{"data": [\r\n')
        started = time.monotonic()
        try:
            while sent < 8 * DRAIN_LIMIT_BYTES:
                client.sendall(chunk)
                sent += len(chunk)
        except OSError:  # the server stopped reading: its answer is sent, then it closes
            pass
        elapsed = time.monotonic() - started
    # what the server read, and what the two sockets' buffers took in on top of it
    assert sent < DRAIN_LIMIT_BYTES + 16 * 1024 * 1024, sent
    assert elapsed < READ_TIMEOUT_S + 10


def test_a_malformed_chunked_body_gets_400(server):
    with connect(server) as client:
        client.sendall(head(chunked=True) + b'{"data": []}\r\n0\r\n\r\n')
        assert status_of(client) == 400


def test_an_idle_connection_holds_up_no_other_client(server, features):
    """The sync worker served one connection at a time: a silent client stalled everyone."""
    body = json.dumps({"data": rows_of(features, 1)}).encode()
    with connect(server):  # connected, sending nothing
        started = time.monotonic()
        status, _ = post(server, body, timeout=10)
        assert status == 200
        assert time.monotonic() - started < 2


def test_a_body_shorter_than_its_length_gets_408_and_holds_up_no_one(server, features):
    body = json.dumps({"data": rows_of(features, 1)}).encode()
    with connect(server) as slow:
        slow.sendall(head(content_length=len(body)) + body[:10])
        started = time.monotonic()
        status, _ = post(server, body, timeout=10)
        assert status == 200
        assert time.monotonic() - started < 2
        assert status_of(slow) == 408
        assert time.monotonic() - started < READ_TIMEOUT_S + 3


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded",  # what an HTML form POSTs
        "multipart/form-data; boundary=x",
        "text/plain",
        "application/xml",
    ],
)
def test_a_body_that_is_not_json_gets_415(server, sample_request, content_type):
    status, body = post(server, json.dumps(sample_request).encode(), content_type)
    assert status == 415
    assert "application/json" in body["message"]


def test_a_body_without_a_content_type_gets_415(server, sample_request):
    body = json.dumps(sample_request).encode()
    with connect(server) as client:
        request = head(content_length=len(body)).replace(b"Content-Type: application/json\r\n", b"")
        client.sendall(request + body)
        assert status_of(client) == 415


def object_of(names: list[str], literals: list[str]) -> str:
    pairs = zip(names, literals, strict=True)
    return "{" + ", ".join(f"{json.dumps(name)}: {literal}" for name, literal in pairs) + "}"


def request_of(names: list[str], rows: list[list[str]]) -> bytes:
    """A scoring request as JSON text, each row's values given as JSON literals."""
    return ('{"data": [' + ", ".join(object_of(names, row) for row in rows) + "]}").encode()


def row_with(features: pd.DataFrame, literal: str) -> bytes:
    """A request of one real row whose first column is `literal`."""
    literals = [json.dumps(value) for value in rows_of(features, 1)[0].values()]
    return request_of(list(features.columns), [[literal, *literals[1:]]])


@pytest.mark.parametrize(
    "literal",
    [
        pytest.param("1" * 401, id="401-digit-integer"),  # was an OverflowError, a 500
        pytest.param("1" * 5001, id="5001-digit-integer"),  # was a ValueError, a 500
        pytest.param("1" * 401 + ".5", id="401-digit-float"),
        pytest.param("1e400", id="1e400"),
        pytest.param("-1e39", id="beyond-float32"),  # a float64, but no float32: was a 500
        pytest.param("NaN", id="NaN"),
        pytest.param("-Infinity", id="-Infinity"),
    ],
)
def test_a_number_out_of_range_gets_422_naming_the_column(server, features, literal):
    status, body = post(server, row_with(features, literal))
    assert status == 422
    assert repr(features.columns[0]) in body["message"]
    assert "finite number" in body["message"]


@pytest.mark.parametrize(
    "nesting",
    [
        pytest.param("[" * 100_000, id="100000-lists"),  # was a RecursionError, a 500
        pytest.param('{"data": [{"a": ' + "[" * 100_000, id="in-a-row"),
    ],
)
def test_deep_nesting_gets_422(server, nesting):
    status, body = post(server, nesting.encode())
    assert status == 422
    assert "nests" in body["message"]


def test_the_largest_float32_is_scored(server, features):
    status, body = post(server, row_with(features, repr(FLOAT32_MAX)))
    assert status == 200
    assert len(body["predictions"]) == 1


def number_literals() -> st.SearchStrategy[str]:
    """JSON numbers of any size and precision, and the constants Python's json reads."""
    return st.one_of(
        st.floats().map(json.dumps),  # NaN and Infinity included
        st.integers().map(str),
        st.from_regex(
            r"-?(0|[1-9][0-9]{0,450})(\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?", fullmatch=True
        ),
    )


def json_values() -> st.SearchStrategy:
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=5)
            | st.dictionaries(st.text(max_size=10), children, max_size=5)
        ),
        max_leaves=25,
    )


def test_no_request_body_gets_a_500_and_predictions_stay_right(server, trained_model, features):
    """Generated JSON and bytes at the real server: every answer is 200 or a 4xx with a
    message, rows of numbers get exactly the status their values call for, and afterwards
    the model still predicts as before."""
    names = list(features.columns)
    ruled = {"max_examples": 100, "deadline": None, "database": None}

    def answer_of(body: bytes, content_type: str = "application/json") -> tuple[int, dict]:
        status, answer = post(server, body, content_type)
        assert status != 500, (body[:300], answer)
        assert status == 200 or set(answer) == {"message"}, (status, answer)
        return status, answer

    @settings(**ruled)
    @given(
        literals=st.lists(
            st.lists(number_literals(), min_size=len(names), max_size=len(names)),
            min_size=1,
            max_size=3,
        )
    )
    def rows_of_numbers(literals):
        in_range = all(abs(float(value)) <= FLOAT32_MAX for row in literals for value in row)
        status, answer = answer_of(request_of(names, literals))
        assert status == (200 if in_range else 422), answer
        if in_range:
            assert len(answer["predictions"]) == len(literals)

    @settings(**ruled)
    @given(
        payload=st.one_of(
            json_values(),
            st.fixed_dictionaries({"data": json_values()}),
            st.fixed_dictionaries(
                {
                    "data": st.lists(
                        st.dictionaries(
                            st.sampled_from(names) | st.text(max_size=8),
                            json_values(),
                            max_size=len(names) + 2,
                        ),
                        min_size=1,
                        max_size=3,
                    )
                }
            ),
        )
    )
    def any_json(payload):
        status, _ = answer_of(json.dumps(payload).encode())
        assert status in (200, 400, 422)

    content_types = st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/octet-stream",
        ]
    )

    @settings(**ruled)
    @given(body=st.binary(max_size=2000), content_type=content_types)
    def any_bytes(body, content_type):
        status, _ = answer_of(body, content_type)
        assert status in (200, 400, 415, 422)

    rows_of_numbers()
    any_json()
    any_bytes()

    rows = rows_of(features, 20)
    status, answer = post(server, json.dumps({"data": rows}).encode())
    assert status == 200
    assert answer["predictions"] == pytest.approx(expected(trained_model, rows))
    assert " 500 " not in server.log.read_text(errors="replace")
