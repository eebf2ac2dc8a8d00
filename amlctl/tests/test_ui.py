"""`amlctl ui`: MLflow's own server and UI over a project's local store, on loopback.

A real local run makes the store; `amlctl ui` starts MLflow's server (at the store's
MLflow version, from uv's tool environment), whose page answers and whose REST API lists
the run; the link the run printed opens. The project's own packages are not touched.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest

from amlctl.local_run import command as run_command
from amlctl.serving.local import free_port

PIPELINE = """
type: pipeline
display_name: shown
jobs:
  hello:
    type: command
    outputs:
      out: {type: uri_folder}
    environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
    command: >-
      python -c "import mlflow; mlflow.log_metric('score', 0.5)"
      && echo hi > ${{outputs.out}}/hi.txt
"""


def get(url: str, data: bytes | None = None) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"} if data else {}
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 (loopback)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
        return response.status, response.read()


def test_ui_serves_mlflows_own_ui_over_the_local_runs(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "pipeline.yml").write_text(textwrap.dedent(PIPELINE).lstrip())
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # the project's own .runs store
    monkeypatch.setenv("AMLCTL_TRACKING_IDLE_SECONDS", "60")
    stream = io.StringIO()
    assert run_command.run_pipeline(root / "pipeline.yml", [], stream=stream) == 0
    out = stream.getvalue()
    assert "View run" not in out  # no link to the runner's tracking API, which has no UI
    link = re.search(r"in MLflow's UI: `amlctl ui`, then (http://127\.0\.0\.1:5000/\S+)", out)
    assert link, out
    parent = re.search(r"MLflow run (\w+) at", out).group(1)

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "amlctl", "ui", "--port", str(port)],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # the first start downloads MLflow with uv
        while True:
            try:
                status, page = get(base + "/")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    output = server.stdout.read().decode(errors="replace") if server.stdout else ""
                    pytest.fail(
                        f"amlctl ui did not answer (exit {server.poll()}): {output[-3000:]}"
                    )
                time.sleep(0.5)
        assert status == 200 and b"<html" in page.lower()
        # the printed link opens MLflow's page on this server (its fragment is the UI's route)
        status, _ = get(link.group(1).replace("http://127.0.0.1:5000", base).split("#")[0])
        assert status == 200
        _, body = get(base + "/api/2.0/mlflow/experiments/search", b'{"max_results": 50}')
        ids = [e["experiment_id"] for e in json.loads(body)["experiments"]]
        query = json.dumps({"experiment_ids": ids, "max_results": 50}).encode()
        status, body = get(base + "/api/2.0/mlflow/runs/search", query)
        runs = {run["info"]["run_id"] for run in json.loads(body).get("runs", [])}
        assert parent in runs, body[:2000]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    assert os.path.exists(root / ".runs" / "mlflow.db")
