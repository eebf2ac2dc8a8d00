"""Scoring script of the managed online endpoint, run by Azure ML's inference server.

The server (azureml-inference-server-http, the one Azure ML runs in its containers and
`amlctl serve` runs on this machine) calls `init()` once per worker and `run()` for every
POST /score. The request body is JSON:

    {"data": [{"<feature>": <number>, ...}, ...]}

one object per row, with exactly the feature columns the model was trained on (its MLflow
signature, which train.py infers from the training data). The answer is
``{"predictions": [...]}``, one per row, in order. A request that does not fit gets a 4xx
with ``{"message": "..."}`` naming what is wrong; it never reaches the model, so a bad
payload cannot cause a 500 with a traceback.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import Any

from azureml_inference_server_http.api.aml_request import AMLRequest, rawhttp
from azureml_inference_server_http.api.aml_response import AMLResponse

# Limits of one request (environment variables of the deployment override them).
MAX_BODY_BYTES = int(os.environ.get("SCORING_MAX_BODY_BYTES", str(1024 * 1024)))
MAX_ROWS = int(os.environ.get("SCORING_MAX_ROWS", "1000"))

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
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(400, f"request body is not valid JSON: {exc}") from None
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
                parts.append(f"missing column(s) {', '.join(missing)}")
            if unknown:
                parts.append(f"unknown column(s) {', '.join(unknown)}")
            raise BadRequest(422, f"row {index}: {'; '.join(parts)}")
        for name in features:
            value = row[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise BadRequest(
                    422, f"row {index}: column {name!r} must be a number, got {value!r}"
                )
            if not math.isfinite(value):
                raise BadRequest(422, f"row {index}: column {name!r} must be finite, got {value}")
    return rows


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


def read_at_most(stream: Any, limit: int) -> bytes:
    """Up to `limit` bytes of the body, whatever Content-Length says (or if it is absent)."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = stream.read(min(64 * 1024, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


@rawhttp
def run(request: AMLRequest) -> AMLResponse:
    if request.method != "POST":
        return AMLResponse({"message": "use POST with a JSON body"}, 405, json_str=True)
    body = read_at_most(request.stream, MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        # Read and drop the rest without keeping it, so the client gets the answer instead
        # of a connection reset.
        while request.stream.read(64 * 1024):
            pass
        size = request.content_length or f"over {MAX_BODY_BYTES}"
        message = f"request body is {size} bytes; the limit is {MAX_BODY_BYTES}"
        return AMLResponse({"message": message}, 413, json_str=True)
    try:
        rows = parse_rows(body)
    except BadRequest as exc:
        return AMLResponse({"message": str(exc)}, exc.status, json_str=True)
    return AMLResponse({"predictions": predict(rows)}, 200, json_str=True)
