"""Scoring script of the managed online endpoint, run by Azure ML's inference server.

The server (azureml-inference-server-http, the one Azure ML runs in its containers and
`amlctl serve` runs on this machine) calls `init()` once per worker and `run()` for every
POST /score. The request body is JSON:

    {"data": [{"<feature>": <number>, ...}, ...]}

one object per row, with exactly the feature columns the model was trained on (its MLflow
signature, which train.py infers from the training data), sent with
``Content-Type: application/json``. The answer is ``{"predictions": [...]}``, one per row, in
order. A request that does not fit gets a 4xx with ``{"message": "..."}`` naming what is
wrong; it never reaches the model, so nothing in a request body can cause a 500:

- 405 for a method other than POST; 415 for a body that is not declared JSON (a web page
  cannot make a browser send that to a server without asking it first, CORS's preflight);
- 413 for a body over SCORING_MAX_BODY_BYTES or more than SCORING_MAX_ROWS rows; 408 for a
  body that has not arrived within SCORING_READ_TIMEOUT_S seconds;
- 400 for a body that is not JSON; 422 for JSON that is not rows of finite numbers within the
  model's float32 range, numbers of any length and nesting of any depth included.

The body is read with a deadline, so a slow or stalled client holds only its own thread of
the server (deployment.yml runs gunicorn's threaded worker), and at most 16 times the body
limit of an oversized body is read and dropped (so that its sender still gets the 413).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from azureml_inference_server_http.api.aml_request import AMLRequest, rawhttp
from azureml_inference_server_http.api.aml_response import AMLResponse

# Limits of one request (environment variables of the deployment override them).
MAX_BODY_BYTES = int(os.environ.get("SCORING_MAX_BODY_BYTES", str(1024 * 1024)))
MAX_ROWS = int(os.environ.get("SCORING_MAX_ROWS", "1000"))
READ_TIMEOUT_S = float(os.environ.get("SCORING_READ_TIMEOUT_S", "5"))
# What is read and dropped of an oversized body; past it the connection is closed.
DRAIN_LIMIT_BYTES = 16 * MAX_BODY_BYTES
# scikit-learn's trees compute in float32: a larger magnitude cannot be scored.
MAX_MAGNITUDE = 3.4028234663852886e38
JSON_TYPE = "application/json"

logger = logging.getLogger("score")
model: Any = None
features: list[str] = []
collectors: dict[str, Any] = {}


class BadRequest(Exception):
    """A request the model cannot answer; `status` is the HTTP status it gets."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def find_model_folder(root: Path) -> Path:
    """The MLflow model folder under AZUREML_MODEL_DIR (Azure ML nests it one level down)."""
    if (root / "MLmodel").is_file():
        return root
    found = sorted(path.parent for path in root.rglob("MLmodel"))
    if not found:
        raise FileNotFoundError(f"no MLflow model (MLmodel file) under {root}")
    return found[0]


def init() -> None:
    global model, features
    import mlflow.pyfunc

    folder = find_model_folder(Path(os.environ.get("AZUREML_MODEL_DIR", ".")))
    model = mlflow.pyfunc.load_model(str(folder))
    signature = model.metadata.get_input_schema()
    if signature is None or not signature.has_input_names():
        raise ValueError(f"{folder}: the model has no input signature with column names")
    features = list(signature.input_names())
    collectors.update(_data_collectors())
    logger.info("model %s loaded with %d features", folder, len(features))


def _data_collectors() -> dict[str, Any]:
    """Azure ML data collection of model inputs and outputs, for model monitoring.

    azureml-ai-monitoring is in the Azure ML environment (environments/sklearn/conda.yml);
    where it is not installed (tests, `amlctl serve`) nothing is collected. On a deployment
    without `data_collector` its collectors do nothing.
    """
    try:
        from azureml.ai.monitoring import Collector
    except ImportError:
        return {}
    return {
        "inputs": Collector(name="model_inputs", on_error=_log_collection_error),
        "outputs": Collector(name="model_outputs", on_error=_log_collection_error),
    }


def _log_collection_error(exc: Exception) -> None:
    logger.warning("data collection failed: %s", exc)


def parse_rows(body: bytes) -> list[dict[str, float]]:
    """The rows of a request body, checked against the training schema; BadRequest if not."""
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest(413, f"request body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
    if not body.strip():
        raise BadRequest(400, 'request body is empty; send {"data": [{...}, ...]}')
    try:
        payload = json.loads(body, parse_int=parse_integer)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(400, f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadRequest(
            422, "request body nests lists or objects too deeply: send rows of numbers"
        ) from None
    if not isinstance(payload, dict) or "data" not in payload:
        raise BadRequest(400, 'request body must be a JSON object with a "data" list of rows')
    rows = payload["data"]
    if not isinstance(rows, list) or not rows:
        raise BadRequest(400, '"data" must be a non-empty list of rows')
    if len(rows) > MAX_ROWS:
        raise BadRequest(413, f'"data" has {len(rows)} rows; the limit is {MAX_ROWS}')
    expected = set(features)
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise BadRequest(422, f"row {index} must be an object of column: value")
        missing = [name for name in features if name not in row]
        unknown = sorted(set(row) - expected)
        if missing or unknown:
            parts = []
            if missing:
                parts.append(f"missing column(s) {names_of(missing)}")
            if unknown:
                parts.append(f"unknown column(s) {names_of(unknown)}")
            raise BadRequest(422, f"row {index}: {'; '.join(parts)}")
        for name in features:
            value = row[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise BadRequest(
                    422, f"row {index}: column {name!r} must be a number, got {shown(value)}"
                )
            if not (math.isfinite(value) and abs(value) <= MAX_MAGNITUDE):
                raise BadRequest(
                    422,
                    f"row {index}: column {name!r} must be a finite number within "
                    f"±{MAX_MAGNITUDE:.1e}, got {value:.4g}",
                )
    return rows


def parse_integer(literal: str) -> int | float:
    """A JSON integer: exact when short; a float when long (int() of a long one is slow and
    refused past 4300 digits, and the model reads floats anyway)."""
    return int(literal) if len(literal) <= 18 else float(literal)


def shown(value: Any, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else f"{text[: width - 3]}..."


def names_of(names: list[str], count: int = 5) -> str:
    listed = ", ".join(shown(name, 40).strip("'") for name in names[:count])
    return listed if len(names) <= count else f"{listed} and {len(names) - count} more"


def predict(rows: list[dict[str, float]]) -> list[Any]:
    import pandas as pd

    frame = pd.DataFrame(rows, columns=features).astype("float64")
    if "inputs" in collectors:
        context = collectors["inputs"].collect(frame)
        predictions = model.predict(frame)
        collectors["outputs"].collect(pd.DataFrame({"prediction": predictions}), context)
    else:
        predictions = model.predict(frame)
    return [value.item() if hasattr(value, "item") else value for value in predictions]


def body_chunks(request: AMLRequest, limit: int, deadline: float) -> Iterator[bytes]:
    """The body's chunks, `limit` bytes at most, each read before `deadline` or TimeoutError.

    Gunicorn has no time limit of its own on reading a body: the time left is set on the
    connection's socket before each read, and the socket's own timeout restored after.
    """
    connection = request.environ.get("gunicorn.socket")  # none under Windows' waitress
    previous = connection.gettimeout() if connection is not None else None
    size = 0
    try:
        while size < limit:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if connection is not None:
                connection.settimeout(left)
            chunk = request.stream.read(min(64 * 1024, limit - size))
            if not chunk:
                return
            size += len(chunk)
            yield chunk
    finally:
        if connection is not None:
            connection.settimeout(previous)


def drain(request: AMLRequest, limit: int, deadline: float) -> None:
    """Read and drop up to `limit` more bytes of the body, so that its sender gets the answer."""
    try:
        for _ in body_chunks(request, limit, deadline):
            pass
    except Exception:  # noqa: S110 (slow, gone or malformed: the connection closes after the answer)
        pass


def read_body(request: AMLRequest) -> bytes:
    """The JSON body of a scoring request, read within the limits; BadRequest if not."""
    if request.method != "POST":
        raise BadRequest(405, "use POST with a JSON body")
    if request.mimetype != JSON_TYPE:
        got = request.mimetype or "none"
        raise BadRequest(415, f"Content-Type must be {JSON_TYPE}, got {shown(got)}")
    deadline = time.monotonic() + READ_TIMEOUT_S
    declared = request.content_length
    limit = f"the limit is {MAX_BODY_BYTES}"
    if declared is not None and declared > MAX_BODY_BYTES:
        if declared <= DRAIN_LIMIT_BYTES:
            drain(request, declared, deadline)
        raise BadRequest(413, f"request body is {declared} bytes; {limit}")
    try:
        body = b"".join(body_chunks(request, MAX_BODY_BYTES + 1, deadline))
    except TimeoutError:
        message = f"request body did not arrive within {READ_TIMEOUT_S:g} s"
        raise BadRequest(408, message) from None
    except Exception as exc:  # the server's reader refused the client's bytes (bad chunking)
        raise BadRequest(400, f"request body cannot be read: {shown(str(exc), 120)}") from None
    if len(body) > MAX_BODY_BYTES:
        drain(request, DRAIN_LIMIT_BYTES, deadline)
        raise BadRequest(413, f"request body is over {MAX_BODY_BYTES} bytes; {limit}")
    return body


@rawhttp
def run(request: AMLRequest) -> AMLResponse:
    try:
        rows = parse_rows(read_body(request))
    except BadRequest as exc:
        return AMLResponse({"message": str(exc)}, exc.status, json_str=True)
    return AMLResponse({"predictions": predict(rows)}, 200, json_str=True)
