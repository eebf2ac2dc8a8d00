"""A project's first local run: no hidden cost, and where its time goes is written down.

A new MLflow store is made from MLflow's own schema kept as SQL; the store's server tells
its address before the store is open, so the first step starts at once; every run writes
timings.json; the program exits without tearing down azure-ai-ml's modules.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_local_run import (  # noqa: F401 (shared_tracking: the autouse MLflow fixture)
    LOGGING_COMPONENT,
    LOGGING_SCRIPT,
    child_runs,
    make_project,
    run,
    shared_tracking,
)

from amlctl.local_run import mlflow_schema
from amlctl.local_run import tracking_server as server


def test_kept_schema_is_what_mlflows_migrations_make():
    script = mlflow_schema.schema_file(mlflow_schema.head_revision())
    assert script.is_file(), "run: python -m amlctl.local_run.mlflow_schema --write"
    assert mlflow_schema.same_as_migrated(script)


@pytest.mark.parametrize(
    "damage",
    [
        lambda sql: sql.replace("CREATE INDEX index_latest_metrics_run_uuid", "-- ", 1),
        lambda sql: sql.replace("lifecycle_stage IN ('active', 'deleted')", "1", 1),
        lambda sql: sql.replace('INSERT INTO "workspaces"', "-- ", 1),
    ],
    ids=["index dropped", "check constraint changed", "seeded row dropped"],
)
def test_a_kept_schema_that_differs_from_the_migrations_is_caught(tmp_path, damage):
    kept = mlflow_schema.schema_file(mlflow_schema.head_revision()).read_text()
    damaged = damage(kept)
    assert damaged != kept
    script = tmp_path / "damaged.sql"
    script.write_text(damaged)
    assert not mlflow_schema.same_as_migrated(script)


def test_new_store_from_the_kept_schema_opens_in_mlflow(tmp_path):
    from mlflow import MlflowClient

    store = tmp_path / "deep" / "mlflow.db"
    assert mlflow_schema.create_store(store)
    assert not mlflow_schema.create_store(store)  # an existing store is left as it is
    assert [p.name for p in store.parent.iterdir()] == ["mlflow.db"]  # no temporary file left
    client = MlflowClient(f"sqlite:///{store}")
    assert [e.name for e in client.search_experiments()] == ["Default"]
    experiment = client.create_experiment("x", artifact_location=(tmp_path / "a").as_uri())
    assert client.create_run(experiment).info.status == "RUNNING"


def test_without_a_kept_schema_mlflow_makes_the_store(tmp_path, monkeypatch):
    monkeypatch.setattr(mlflow_schema, "DATA", tmp_path / "none")
    assert not mlflow_schema.create_store(tmp_path / "mlflow.db")
    assert not (tmp_path / "mlflow.db").exists()


def test_server_parses_mlflows_migrations_once_for_all_its_stores(tmp_path, monkeypatch):
    """Picking the kept schema and opening the stores ask MLflow for its head revision more
    than once; the server works it out once (each costs a parse of every migration script)."""
    from alembic.script import ScriptDirectory

    parses = []
    original = ScriptDirectory.from_config.__func__
    monkeypatch.setattr(
        ScriptDirectory,
        "from_config",
        classmethod(lambda cls, config: parses.append(1) or original(cls, config)),
    )
    import mlflow.store.db.utils as db_utils

    found = db_utils._get_latest_schema_revision  # as in a new server: nothing remembered yet
    monkeypatch.setattr(
        db_utils, "_get_latest_schema_revision", getattr(found, "__wrapped__", found)
    )
    store = tmp_path / "mlflow.db"
    routes, *_ = server._routes(f"sqlite:///{store}", (tmp_path / "artifacts").as_uri())
    routes["registered-models/search"]({})  # the registry store is open too
    assert len(parses) == 1
    assert mlflow_schema.signature(store)  # the store was made, from the kept schema
    assert db_utils._get_latest_schema_revision() == mlflow_schema.head_revision()


def test_server_answers_requests_sent_before_its_store_is_open(tmp_path, monkeypatch):
    """Its address comes first; a request sent at once waits for the store and is answered."""
    monkeypatch.setenv("AMLCTL_TRACKING_IDLE_SECONDS", "20")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    early: dict[str, object] = {}

    def send(url: str) -> None:
        early["ready"] = server.server_status(server.state_file_for(uri, tmp_path))[1]
        client = server.RestClient(url)
        early["experiment"] = client.call("experiments/create", {"name": "early"})

    def on_address(url: str) -> None:
        early["url"] = url
        sender = threading.Thread(target=send, args=(url,))
        sender.start()
        early["sender"] = sender

    url = server.ensure_server(uri, tmp_path, on_address)
    early["sender"].join(60)
    assert early["url"] == url
    assert early["ready"] is False  # the address was known before the store was open
    experiment = early["experiment"]["experiment_id"]
    # creating the run's experiment twice (the runner and a step at once) gives one experiment
    again = server.RestClient(url).call("experiments/create", {"name": "early"})
    assert again["experiment_id"] == experiment
    assert mlflow_schema.signature(tmp_path / "mlflow.db")  # made from the kept schema


def test_first_step_of_a_new_store_starts_before_the_store_is_open(tmp_path, monkeypatch):
    """On a new store no experiment id is known yet: the step gets the experiment's name."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'new' / 'mlflow.db'}")
    monkeypatch.setenv("AMLCTL_TRACKING_IDLE_SECONDS", "20")
    real = server.ensure_server

    def slow_to_open(uri, runs_dir, on_address=None):  # the store opens 1.5 s after it listens
        url = real(uri, runs_dir, on_address)
        time.sleep(1.5)
        return url

    monkeypatch.setattr(server, "ensure_server", slow_to_open)
    pipeline = (
        "type: pipeline\njobs:\n  logged:\n    component: ../components/logged/component.yml\n"
    )
    project = make_project(tmp_path / "p", {}, {"logged.yml": pipeline})
    folder = project / "components" / "logged"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "log.py").write_text(
        LOGGING_SCRIPT.replace(
            'print("MLFLOW_RUN_ID',
            'print("experiment:", os.environ.get("MLFLOW_EXPERIMENT_NAME"))\nprint("MLFLOW_RUN_ID',
        )
    )
    (folder / "component.yml").write_text(LOGGING_COMPONENT)
    code, out = run(project, "logged.yml")
    assert code == 0, out
    assert "MLFLOW_RUN_ID given: False" in out  # the step made its own run ...
    assert "experiment: logged" in out  # ... in the pipeline's experiment, found by name
    assert child_runs(out) == {"logged": {"value": 42.0}}  # ... linked to the pipeline's run
    from mlflow import MlflowClient

    made_by_the_step = MlflowClient(os.environ["MLFLOW_TRACKING_URI"]).get_experiment_by_name(
        "logged"
    )
    artifacts = (project / ".runs" / "mlartifacts").as_uri()
    assert made_by_the_step.artifact_location.startswith(artifacts)  # not ./mlruns of the cwd

    # its server stopped (idle), the store is known: the step starts at once again, by id
    state = server.state_file_for(os.environ["MLFLOW_TRACKING_URI"], project / ".runs")
    pid = json.loads(state.read_text())["pid"]
    os.kill(pid, 15)
    deadline = time.monotonic() + 30
    while server.server_status(state) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    code, out = run(project, "logged.yml", force=True)
    assert code == 0, out
    assert "MLFLOW_RUN_ID given: False" in out and "experiment: None" in out
    assert child_runs(out) == {"logged": {"value": 42.0}}


def test_every_run_writes_where_its_time_went(tmp_path):
    pipeline = """
    type: pipeline
    jobs:
      first:
        component: ../components/first/component.yml
      second:
        component: ../components/second/component.yml
        inputs:
          data: ${{parent.jobs.first.outputs.out}}
    """
    project = make_project(tmp_path / "p", {"first": True, "second": True}, {"two.yml": pipeline})
    code, out = run(project, "two.yml")
    assert code == 0, out
    timings = json.loads((project / ".runs" / "latest" / "timings.json").read_text())
    phases = {p["name"].strip(): p for p in timings["phases"]}
    assert phases["graph load"]["note"] == "built through azure-ai-ml"
    assert phases["first"]["note"] == phases["second"]["note"] == "done"
    assert phases["tracking store"]["background"] is True
    assert "steps waited" in phases["tracking store"]["note"]
    foreground = sum(p["seconds"] for p in timings["phases"] if not p["background"])
    assert foreground == pytest.approx(timings["total"], abs=0.05)

    import io

    from amlctl.local_run import command

    stream = io.StringIO()
    code = command.run_pipeline(project / "pipelines" / "two.yml", stream=stream, show_timings=True)
    assert code == 0
    printed = stream.getvalue()
    assert "where the time went" in printed
    assert "graph load" in printed and "from .runs/graphs" in printed
    assert "cached" in printed.split("where the time went", 1)[1]


def test_program_exits_with_the_commands_code_and_its_output_complete(tmp_path):
    """`amlctl` skips the interpreter's teardown; output and exit code must not suffer."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    missing = subprocess.run(
        [sys.executable, "-m", "amlctl", "run", str(tmp_path / "none.yml"), "--local"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert missing.returncode == 2
    assert missing.stderr.strip().endswith(f"pipeline file not found: {tmp_path / 'none.yml'}")
    pipeline = tmp_path / "echo.yml"
    pipeline.write_text(
        "type: pipeline\njobs:\n  hello:\n    command: echo hello from the step\n"
        "    environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "amlctl", "run", str(pipeline), "--local", "--timings"],
        capture_output=True,
        text=True,
        env={**env, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"},
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[hello] hello from the step" in done.stdout
    assert done.stdout.rstrip().splitlines()[-1].startswith("total")  # the last line came out
    with sqlite3.connect(tmp_path / "mlflow.db") as connection:  # the store is whole
        assert connection.execute("SELECT count(*) FROM runs").fetchone()[0] == 2
    state = Path(f"{tmp_path / 'mlflow.db'}.server.json")
    if state.exists():  # stop the server this test started
        os.kill(json.loads(state.read_text())["pid"], 15)


REGISTER = """
import runpy, sys
sys.argv = ["register_model.py", *sys.argv[1:]]
try:
    runpy.run_path("register_model.py", run_name="__main__")
except SystemExit as exit:
    print("exit", exit.code)
print("imported mlflow:", "mlflow" in sys.modules)
"""


def test_local_registration_of_an_unchanged_model_does_not_import_mlflow(tmp_path, monkeypatch):
    """The template's register_model over amlctl's tracking server: MLflow's REST API only."""
    from fakes.template import template_project
    from mlflow import MlflowClient
    from mlflow.pyfunc import load_model

    component = template_project() / "components" / "register_model" / "src"
    model = tmp_path / "model"
    _save_model(model)
    evaluation = tmp_path / "evaluation"
    evaluation.mkdir()
    (evaluation / "decision.json").write_text(
        json.dumps({"promote": True, "reason": "first", "score": 0.9})
    )
    monkeypatch.setenv("AMLCTL_TRACKING_IDLE_SECONDS", "20")
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    url = server.ensure_server(store, tmp_path)
    client = server.RestClient(url)
    experiment = client.experiment_id("registering", (tmp_path / "artifacts").as_uri())

    def register() -> str:
        run_id = client.create_run(experiment, "register_model", {})
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        env |= {"MLFLOW_TRACKING_URI": url, "MLFLOW_RUN_ID": run_id}
        argv = ["--model", str(model), "--evaluation", str(evaluation)]
        argv += ["--model_name", "demo", "--registration", str(tmp_path / f"out-{run_id}")]
        done = subprocess.run(
            [sys.executable, "-c", REGISTER, *argv],
            cwd=component,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "exit 0" in done.stdout, done.stdout + done.stderr
        return done.stdout

    first = register()
    assert "registered demo version 1" in first
    assert "imported mlflow: False" in first
    again = register()
    assert "not registered: unchanged: demo version 1 holds this model already" in again
    assert "imported mlflow: False" in again
    registry = MlflowClient(store, registry_uri=store)
    (version,) = registry.search_model_versions("name='demo'")
    assert version.tags["model_sha256"] and version.tags["score"] == "0.9"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    assert list(load_model("models:/demo/1").predict(_FEATURES)) == [0, 0, 1, 1]


def _save_model(path: Path) -> None:
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    estimator = LogisticRegression().fit(_FEATURES, [0, 0, 1, 1])
    mlflow.sklearn.save_model(estimator, str(path), serialization_format="pickle")


def _features():
    import pandas as pd

    return pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})


_FEATURES = _features()
