"""Tests of `run PIPELINE --local` on small fixture pipelines built in tmp_path."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import textwrap
import time
from pathlib import Path

import pytest
from fakes.template import template_project

from amlctl import cli
from amlctl.local_run import command as run_command
from amlctl.local_run.kinds.sweep import trial_parameters
from amlctl.local_run.resolve import resolve_command, shell_argv, to_argv
from amlctl.local_run.tracking import Tracker
from amlctl.pipeline.loader import load_pipeline
from amlctl.project import ProjectError

PROJECT = template_project()


STEP_SCRIPT = """
import argparse, json, os, pathlib, sys, time

parser = argparse.ArgumentParser()
parser.add_argument("--name")
parser.add_argument("--data", action="append", default=[])
parser.add_argument("--factor", type=float, default=1.0)
parser.add_argument("--label")
parser.add_argument("--sleep", type=float, default=0.0)
parser.add_argument("--out")
args = parser.parse_args()
started = time.time()
with open(os.environ["CALLS_LOG"], "a") as log:
    log.write(json.dumps({"step": args.name, "event": "start", "t": started}) + "\\n")
total = args.factor
for folder in args.data:
    total += float((pathlib.Path(folder) / "value.txt").read_text())
out = pathlib.Path(args.out)
(out / "partial.txt").write_text("written before a possible failure")
time.sleep(args.sleep)
if os.environ.get("FAIL_STEP") == args.name:
    print("about to fail: boom")
    sys.exit(3)
(out / "partial.txt").unlink()
(out / "value.txt").write_text(str(total))
(out / "metrics.json").write_text(json.dumps({"total": total, "label": args.label}))
print(f"{args.name} total={total} label={args.label} python={sys.executable}")
with open(os.environ["CALLS_LOG"], "a") as log:
    log.write(json.dumps({"step": args.name, "event": "end", "t": time.time()}) + "\\n")
"""

COMPONENT = """
type: command
name: {name}
is_deterministic: {deterministic}
inputs:
  data: {{type: uri_folder, optional: true}}
  more: {{type: uri_folder, optional: true}}
  factor: {{type: number, default: 1}}
  label: {{type: string, optional: true}}
  sleep: {{type: number, default: 0}}
outputs:
  out: {{type: uri_folder}}
code: ./src
environment: {{image: "python:3.11"}}
command: >-
  python step.py --name {name} --factor ${{{{inputs.factor}}}} --sleep ${{{{inputs.sleep}}}}
  $[[--data ${{{{inputs.data}}}}]] $[[--data ${{{{inputs.more}}}}]]
  $[[--label "${{{{inputs.label}}}}"]] --out ${{{{outputs.out}}}}
"""

CHAIN = """
type: pipeline
display_name: chain
inputs:
  raw: {type: uri_folder, path: ../data/raw}
  factor: 2.0
  threshold: 0.5
  label: first
jobs:
  a:
    component: ../components/a/component.yml
    inputs:
      data: ${{parent.inputs.raw}}
      factor: ${{parent.inputs.factor}}
  b:
    component: ../components/b/component.yml
    inputs:
      data: ${{parent.jobs.a.outputs.out}}
      label: ${{parent.inputs.label}}
  c:
    component: ../components/c/component.yml
    inputs:
      data: ${{parent.jobs.b.outputs.out}}
      factor: ${{parent.inputs.threshold}}
"""


def make_project(root: Path, components: dict[str, bool], pipelines: dict[str, str]) -> Path:
    """A minimal project: components/<name> (deterministic or not) and pipelines/<file>."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'fixture'\n")
    (root / "data" / "raw").mkdir(parents=True)
    (root / "components").mkdir()
    (root / "data" / "raw" / "value.txt").write_text("1")
    for name, deterministic in components.items():
        folder = root / "components" / name
        (folder / "src").mkdir(parents=True)
        (folder / "src" / "step.py").write_text(STEP_SCRIPT)
        (folder / "component.yml").write_text(
            COMPONENT.format(name=name, deterministic=str(deterministic).lower())
        )
    (root / "pipelines").mkdir()
    for file, text in pipelines.items():
        (root / "pipelines" / file).write_text(textwrap.dedent(text))
    return root


@pytest.fixture(autouse=True)
def shared_tracking(tmp_path_factory, monkeypatch, tmp_path):
    """One MLflow store for the session (creating one costs seconds); a calls log per test."""
    store = tmp_path_factory.getbasetemp() / "mlflow-store"
    store.mkdir(exist_ok=True)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
    monkeypatch.setenv("AMLCTL_TRACKING_IDLE_SECONDS", "120")  # the store's server stops soon
    monkeypatch.setenv("CALLS_LOG", str(tmp_path / "calls.log"))
    monkeypatch.delenv("FAIL_STEP", raising=False)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)


@pytest.fixture
def chain(tmp_path) -> Path:
    return make_project(
        tmp_path / "project", {"a": True, "b": True, "c": True}, {"chain.yml": CHAIN}
    )


def run(project: Path, pipeline: str = "chain.yml", *overrides: str, force: bool = False):
    stream = io.StringIO()
    code = run_command.run_pipeline(
        project / "pipelines" / pipeline, list(overrides), force=force, stream=stream
    )
    return code, stream.getvalue()


def calls(tmp_path: Path, event: str = "start") -> list[str]:
    log = tmp_path / "calls.log"
    if not log.exists():
        return []
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    return [e["step"] for e in entries if e["event"] == event]


def reset_calls(tmp_path: Path) -> None:
    (tmp_path / "calls.log").unlink(missing_ok=True)


def cache_entries(project: Path) -> list[Path]:
    cache = project / ".runs" / "cache"
    return sorted(cache.iterdir()) if cache.is_dir() else []


# -- command resolution ---------------------------------------------------------------------


def test_resolve_fills_inputs_outputs_and_optional_blocks():
    template = (
        "python t.py --x ${{inputs.x}} $[[--opt ${{inputs.opt}}]] "
        "$[[--flag ${{inputs.flag}}]] --out ${{outputs.out}}"
    )
    line = resolve_command(
        template,
        {"x": "a b", "opt": None, "flag": False},
        {"out": "/tmp/my o"},
        "jobs.t",
    )
    # values are pasted as Azure ML does; local paths are quoted when they need it
    assert line == "python t.py --x a b --flag False --out '/tmp/my o'"
    data = resolve_command("cat ${{inputs.d}}", {"d": "/a b"}, {}, "jobs.t", paths={"d"})
    assert data == "cat '/a b'"


def test_resolve_requires_bound_inputs_outside_optional_blocks():
    with pytest.raises(ProjectError, match="needs input 'x'"):
        resolve_command("python t.py ${{inputs.x}}", {"x": None}, {}, "jobs.t")


def test_python_is_replaced_by_this_interpreter():
    import sys

    assert to_argv("python t.py --a 1") == [sys.executable, "t.py", "--a", "1"]
    assert shell_argv("echo hi && echo there")[1:] == ["-c", "echo hi && echo there"]


# -- DAG, order, concurrency ----------------------------------------------------------------


def test_graph_is_built_from_the_loaded_job(chain):
    pipeline = load_pipeline(chain / "pipelines" / "chain.yml")
    assert pipeline.order() == ["a", "b", "c"]
    b = pipeline.steps["b"]
    assert (b.inputs["data"].kind, b.inputs["data"].ref) == ("step", "a.out")
    assert b.inputs["label"].ref == "label"
    assert pipeline.inputs["factor"] == {"type": "number", "value": 2.0}
    assert pipeline.inputs["raw"]["value"] == str(chain / "data" / "raw")
    assert b.component.code_dir == str(chain / "components" / "b" / "src")
    assert pipeline.downstream("a") == {"b", "c"}


def test_steps_run_in_dependency_order_with_values_passed_on(chain, tmp_path):
    code, out = run(chain)
    assert code == 0, out
    assert calls(tmp_path) == ["a", "b", "c"]
    # a: factor 2 + raw 1 = 3; b: 1 + 3 = 4; c: 0.5 + 4 = 4.5 -> printed as the final metrics
    assert "metrics of c:" in out
    assert "total                    4.5000" in out
    assert "[b] b total=4.0 label=first" in out
    logs = chain / ".runs" / "latest"
    assert "b total=4.0" in (logs / "b" / "log.txt").read_text()
    assert (logs / "b" / "outputs" / "out" / "value.txt").read_text() == "4.0"


def test_independent_steps_run_concurrently(tmp_path):
    pipeline = """
    type: pipeline
    jobs:
      left:
        component: ../components/left/component.yml
        inputs: {sleep: 1.5}
      right:
        component: ../components/right/component.yml
        inputs: {sleep: 1.5}
    """
    project = make_project(tmp_path / "p", {"left": True, "right": True}, {"two.yml": pipeline})
    code, out = run(project, "two.yml")
    assert code == 0, out
    log = [json.loads(line) for line in (tmp_path / "calls.log").read_text().splitlines()]
    start = {e["step"]: e["t"] for e in log if e["event"] == "start"}
    end = {e["step"]: e["t"] for e in log if e["event"] == "end"}
    assert start["left"] < end["right"] and start["right"] < end["left"]  # they overlapped


# -- reuse ----------------------------------------------------------------------------------


def test_second_run_reuses_every_step(chain, tmp_path):
    assert run(chain)[0] == 0
    reset_calls(tmp_path)
    code, out = run(chain)
    assert code == 0
    assert calls(tmp_path) == []
    assert out.count("-- cached") == 3
    assert "total                    4.5000" in out  # metrics still printed from the cache


def test_code_change_reruns_the_step_and_its_downstream_only(chain, tmp_path):
    assert run(chain)[0] == 0
    reset_calls(tmp_path)
    script = chain / "components" / "b" / "src" / "step.py"
    script.write_text(
        script.read_text().replace("total = args.factor", "total = args.factor + 100")
    )
    assert run(chain)[0] == 0
    assert calls(tmp_path) == ["b", "c"]


def test_code_change_that_keeps_the_outputs_does_not_rerun_downstream(chain, tmp_path):
    """Downstream steps are keyed on the content of their inputs, not on who produced them."""
    assert run(chain)[0] == 0
    reset_calls(tmp_path)
    script = chain / "components" / "b" / "src" / "step.py"
    script.write_text(script.read_text() + "\n# a comment changes the code hash only\n")
    assert run(chain)[0] == 0
    assert calls(tmp_path) == ["b"]


def test_input_data_change_reruns_everything_downstream(chain, tmp_path):
    assert run(chain)[0] == 0
    reset_calls(tmp_path)
    (chain / "data" / "raw" / "value.txt").write_text("10")
    code, out = run(chain)
    assert code == 0
    assert calls(tmp_path) == ["a", "b", "c"]
    assert "total                    13.5000" in out


def test_parameter_change_reruns_only_the_affected_step(chain, tmp_path):
    assert run(chain)[0] == 0
    reset_calls(tmp_path)
    assert run(chain, "chain.yml", "threshold=1.5")[0] == 0
    assert calls(tmp_path) == ["c"]
    reset_calls(tmp_path)
    assert run(chain, "chain.yml", "label=second")[0] == 0
    assert calls(tmp_path) == ["b", "c"]


def test_component_definition_change_reruns_the_step(chain, tmp_path):
    assert run(chain)[0] == 0
    reset_calls(tmp_path)
    yml = chain / "components" / "c" / "component.yml"
    yml.write_text(
        yml.read_text().replace(
            "sleep: {type: number, default: 0}", "sleep: {type: number, default: 0.01}"
        )
    )
    assert run(chain)[0] == 0
    assert calls(tmp_path) == ["c"]


def test_non_deterministic_steps_always_rerun(tmp_path):
    project = make_project(tmp_path / "p", {"a": True, "b": False, "c": True}, {"chain.yml": CHAIN})
    assert run(project)[0] == 0
    reset_calls(tmp_path)
    assert run(project)[0] == 0
    # b reruns; its output content is the same, so c (deterministic) is reused
    assert calls(tmp_path) == ["b"]


def test_force_rerun_runs_every_step(chain, tmp_path):
    assert run(chain)[0] == 0
    reset_calls(tmp_path)
    assert run(chain, force=True)[0] == 0
    assert calls(tmp_path) == ["a", "b", "c"]


def test_pipeline_setting_force_rerun_is_honoured(chain, tmp_path):
    file = chain / "pipelines" / "chain.yml"
    file.write_text(
        file.read_text().replace("display_name: chain", "settings:\n  force_rerun: true")
    )
    assert run(chain)[0] == 0
    reset_calls(tmp_path)
    assert run(chain)[0] == 0
    assert calls(tmp_path) == ["a", "b", "c"]


# -- failures and resume --------------------------------------------------------------------


def test_failing_step_stops_downstream_keeps_upstream_and_caches_nothing_partial(
    chain, tmp_path, monkeypatch
):
    monkeypatch.setenv("FAIL_STEP", "b")
    code, out = run(chain)
    assert code == 1
    assert calls(tmp_path) == ["a", "b"]  # c never started
    assert "-- skipped  c" in out
    assert "about to fail: boom" in out.split("last lines of")[1]  # the log tail
    assert "rerun this step alone: cd " in out
    rerun_line = next(line for line in out.splitlines() if "rerun this step alone" in line)
    assert "step.py --name b" in rerun_line and "failed-outputs" in rerun_line
    assert "resume the pipeline:" in out and "run pipelines/chain.yml --local" in out
    entries = cache_entries(chain)
    assert len(entries) == 1  # only a's outputs
    assert json.loads((entries[0] / "meta.json").read_text())["step"] == "a"
    assert not list((chain / ".runs" / "cache").rglob("partial.txt"))
    assert not any((chain / ".runs" / "tmp").iterdir())  # no leftovers in the work area
    failed = chain / ".runs" / "latest" / "b" / "failed-outputs" / "out" / "partial.txt"
    assert failed.is_file()  # kept for debugging, outside the cache

    monkeypatch.delenv("FAIL_STEP")
    reset_calls(tmp_path)
    code, out = run(chain)
    assert code == 0, out
    assert calls(tmp_path) == ["b", "c"]  # resumed from the failed step
    assert "-- cached   a" in out


def test_cli_exit_code_is_non_zero_on_failure(chain, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FAIL_STEP", "a")
    monkeypatch.chdir(chain)
    assert cli.main(["run", "pipelines/chain.yml", "--local"]) == 1
    assert "failed" in capsys.readouterr().out


# -- inputs ---------------------------------------------------------------------------------


def test_set_overrides_are_typed_per_pipeline_input(chain, tmp_path):
    code, out = run(chain, "chain.yml", "factor=5", "label=x y")
    assert code == 0, out
    assert "[b] b total=7.0 label=x y" in out
    pipeline = load_pipeline(chain / "pipelines" / "chain.yml")
    values = run_command.pipeline_values(pipeline.inputs, ["factor=3"])
    assert values["factor"] == 3.0 and isinstance(values["factor"], float)
    with pytest.raises(ProjectError, match="expected a number"):
        run_command.pipeline_values(pipeline.inputs, ["factor=fast"])


def test_unknown_set_name_lists_the_valid_names(chain, capsys, monkeypatch):
    monkeypatch.chdir(chain)
    code = cli.main(["run", "pipelines/chain.yml", "--local", "--set", "nope=1"])
    assert code == 2
    err = capsys.readouterr().err
    assert "error: --set nope: not an input of the pipeline" in err
    assert "(inputs: factor, label, raw, threshold)" in err
    assert "Traceback" not in err


def test_required_input_left_unbound_is_reported_before_running(tmp_path):
    component = COMPONENT.replace(
        "data: {{type: uri_folder, optional: true}}", "data: {{type: uri_folder}}"
    )
    project = make_project(
        tmp_path / "p",
        {},
        {
            "one.yml": """
    type: pipeline
    jobs:
      a:
        component: ../components/a/component.yml
    """
        },
    )
    (project / "components" / "a" / "src").mkdir(parents=True)
    (project / "components" / "a" / "src" / "step.py").write_text(STEP_SCRIPT)
    (project / "components" / "a" / "component.yml").write_text(
        component.format(name="a", deterministic="true")
    )
    with pytest.raises(ProjectError, match=r"jobs\.a\.inputs\.data: required input is not bound"):
        run(project, "one.yml")
    assert calls(tmp_path) == []


# -- tracking -------------------------------------------------------------------------------

LOGGING_SCRIPT = """
import os, pathlib, sys
import mlflow

print("MLFLOW_RUN_ID given:", os.environ.get("MLFLOW_RUN_ID") is not None)
with mlflow.start_run():
    mlflow.log_metric("value", 42)
(pathlib.Path(sys.argv[1]) / "done.txt").write_text("ok")
"""

LOGGING_COMPONENT = """
type: command
name: logged
outputs:
  out: {type: uri_folder}
code: ./src
environment: {image: "python:3.11"}
command: python log.py ${{outputs.out}}
"""


def child_runs(output: str) -> dict[str, dict[str, float]]:
    """Step name -> metrics of the child runs of the MLflow run printed in ``output``."""
    from mlflow.tracking import MlflowClient

    parent = re.search(r"MLflow run (\w+) at", output).group(1)
    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    experiment = client.get_run(parent).info.experiment_id
    children = client.search_runs(
        [experiment], filter_string=f"tags.mlflow.parentRunId = '{parent}'"
    )
    return {r.data.tags["local_run.step"]: r.data.metrics for r in children}


def test_each_step_logs_to_a_child_run_of_the_pipeline_run(tmp_path, monkeypatch):
    pipeline = (
        "type: pipeline\njobs:\n  logged:\n    component: ../components/logged/component.yml\n"
    )
    project = make_project(tmp_path / "p", {}, {"logged.yml": pipeline})
    folder = project / "components" / "logged"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "log.py").write_text(LOGGING_SCRIPT)
    (folder / "component.yml").write_text(LOGGING_COMPONENT)
    from amlctl.local_run.tracking_server import ensure_server

    server_url = ensure_server(os.environ["MLFLOW_TRACKING_URI"], project / ".runs")  # open
    # MLflow ready before the step starts (on a loaded machine the background connection may
    # still be going when the step starts, which the second half covers): connect in the
    # foreground, so which path is taken does not depend on the machine's speed
    prefetch = Tracker.prefetch

    def connected_prefetch(self):
        prefetch(self)
        self._thread.join()

    monkeypatch.setattr(Tracker, "prefetch", connected_prefetch)
    code, out = run(project, "logged.yml")
    assert code == 0, out
    assert "MLFLOW_RUN_ID given: True" in out  # the runner created the child run first
    assert child_runs(out) == {"logged": {"value": 42.0}}
    monkeypatch.setattr(Tracker, "prefetch", prefetch)

    # MLflow still loading when the step starts: the step creates its run, the runner links it.
    # The connection waits for the step to have started (its first line in its log), so a
    # loaded machine that starts processes slowly cannot reverse the order
    connect = Tracker._connect
    runs_before = set((project / ".runs").glob("*/logged/log.txt"))

    def slow_connect(self):
        self._listening(server_url)  # the server listens; the store is still "opening"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            logs = set((project / ".runs").glob("*/logged/log.txt")) - runs_before
            if any("MLFLOW_RUN_ID given" in log.read_text() for log in logs):
                break
            time.sleep(0.05)
        connect(self)

    monkeypatch.setattr(Tracker, "_connect", slow_connect)
    code, out = run(project, "logged.yml", force=True)
    assert code == 0, out
    assert "MLFLOW_RUN_ID given: False" in out
    assert child_runs(out) == {"logged": {"value": 42.0}}


MODEL_SCRIPT = """
import pathlib, sys
import mlflow


class Answer(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return [42]


with mlflow.start_run():
    info = mlflow.pyfunc.log_model(name="model", python_model=Answer())
    print("logged model", info.model_id)
print("prediction", mlflow.pyfunc.load_model(info.model_uri).predict([21]))
print("found", [m.model_id for m in mlflow.search_logged_models(output_format="list")])
(pathlib.Path(sys.argv[1]) / "done.txt").write_text("ok")
"""


def test_a_step_logs_an_mlflow_3_logged_model(tmp_path):
    """MLflow 3's logged-model calls (create, finalize, search, load by models:/ URI), which
    log_model and autologging make, are answered by MLflow's own handlers over the store."""
    pipeline = (
        "type: pipeline\njobs:\n  logged:\n    component: ../components/logged/component.yml\n"
    )
    project = make_project(tmp_path / "p", {}, {"logged.yml": pipeline})
    folder = project / "components" / "logged"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "log.py").write_text(MODEL_SCRIPT)
    (folder / "component.yml").write_text(LOGGING_COMPONENT)
    code, out = run(project, "logged.yml")
    assert code == 0, out
    model_id = re.search(r"\[logged\] logged model (m-\w+)", out).group(1)
    assert "[logged] prediction [42]" in out, out
    assert f"[logged] found ['{model_id}']" in out
    assert "logged-models" not in out and "ENDPOINT_NOT_FOUND" not in out, out
    from mlflow.tracking import MlflowClient

    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])  # the store itself
    model = client.get_logged_model(model_id)
    assert str(model.status) == "READY"
    step_run = client.get_run(model.source_run_id)
    assert step_run.data.tags["local_run.step"] == "logged"


# -- sweep ----------------------------------------------------------------------------------

TRIAL_SCRIPT = """
import argparse, pathlib
import mlflow

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float)
parser.add_argument("--depth", type=int)
parser.add_argument("--out")
args = parser.parse_args()
score = -((args.lr - 0.3) ** 2) + args.depth / 100
with mlflow.start_run():
    mlflow.log_metric("score", score)
(pathlib.Path(args.out) / "params.txt").write_text(f"{args.lr} {args.depth} {score}")
(pathlib.Path(args.out) / "value.txt").write_text(str(score))
print(f"lr={args.lr} depth={args.depth} score={score}")
"""

SWEEP_COMPONENT = """
type: command
name: trial
inputs:
  lr: {type: number, default: 0.1}
  depth: {type: integer, default: 1}
outputs:
  out: {type: uri_folder}
code: ./src
environment: {image: "python:3.11"}
command: python trial.py --lr ${{inputs.lr}} --depth ${{inputs.depth}} --out ${{outputs.out}}
"""

SWEEP_PIPELINE = """
type: pipeline
jobs:
  tune:
    type: sweep
    trial: ../components/trial/component.yml
    search_space:
      lr: {type: uniform, min_value: 0.0, max_value: 1.0}
      depth: {type: choice, values: [1, 2, 3]}
    objective: {primary_metric: score, goal: maximize}
    sampling_algorithm: random
    limits: {max_total_trials: 3, max_concurrent_trials: 2, timeout: 600}
  report:
    component: ../components/a/component.yml
    inputs:
      data: ${{parent.jobs.tune.outputs.out}}
"""


def test_sweep_runs_trials_and_exposes_the_best_trial_outputs(tmp_path):
    project = make_project(tmp_path / "p", {"a": True}, {"sweep.yml": SWEEP_PIPELINE})
    folder = project / "components" / "trial"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "trial.py").write_text(TRIAL_SCRIPT)
    (folder / "component.yml").write_text(SWEEP_COMPONENT)
    code, out = run(project, "sweep.yml")
    assert code == 0, out
    scores = {}
    for line in out.splitlines():
        if "] lr=" in line:
            fields = dict(part.split("=") for part in line.split("] ", 1)[1].split())
            scores[float(fields["score"])] = fields
    assert len(scores) == 3  # max_total_trials
    best = max(scores)
    stored = project / ".runs" / "latest" / "tune" / "outputs" / "out" / "params.txt"
    assert float(stored.read_text().split()[2]) == pytest.approx(best)
    assert "best trial" in out
    expected = trial_parameters(
        {
            "search_space": {
                "lr": {"type": "uniform", "min_value": 0.0, "max_value": 1.0},
                "depth": {"type": "choice", "values": [1, 2, 3]},
            },
            "max_total_trials": 3,
        }
    )
    assert sorted(round(p["lr"], 6) for p in expected) == sorted(
        round(float(f["lr"]), 6) for f in scores.values()
    )


# -- parallel -------------------------------------------------------------------------------

ENTRY_SCRIPT = """
import argparse, pathlib, sys

state = {}

def init():
    parser = argparse.ArgumentParser()
    parser.add_argument("--prefix")
    parser.add_argument("--marker_dir")
    state["args"] = parser.parse_args()

def run(mini_batch):
    rows = []
    for file in mini_batch:
        text = pathlib.Path(file).read_text().strip()
        if text == "bad":
            raise ValueError(f"cannot score {file}")
        if text == "flaky":
            marker = pathlib.Path(state["args"].marker_dir) / pathlib.Path(file).name
            if not marker.exists():
                marker.write_text("failed once")
                raise RuntimeError("transient")
        rows.append(f"{state['args'].prefix},{pathlib.Path(file).name},{text}")
    return rows
"""

PARALLEL_COMPONENT = """
type: parallel
name: scorer
inputs:
  data: {type: uri_folder}
  marker_dir: {type: string}
outputs:
  scores: {type: uri_folder}
input_data: ${{inputs.data}}
mini_batch_size: "1"
error_threshold: 1
retry_settings: {max_retries: 1, timeout: 60}
max_concurrency_per_instance: 2
output_action: append_row
append_row_to: ${{outputs.scores}}
task:
  type: run_function
  code: ./src
  entry_script: score.py
  program_arguments: --prefix local --marker_dir ${{inputs.marker_dir}}
  environment: {image: "python:3.11"}
"""


def parallel_project(tmp_path: Path, files: dict[str, str], error_threshold: int) -> Path:
    pipeline = f"""
    type: pipeline
    inputs:
      items: {{type: uri_folder, path: ../data/items}}
    jobs:
      score:
        type: parallel
        component: ../components/scorer/component.yml
        inputs:
          data: ${{{{parent.inputs.items}}}}
          marker_dir: {tmp_path}
        error_threshold: {error_threshold}
    """
    project = make_project(tmp_path / "p", {}, {"score.yml": pipeline})
    items = project / "data" / "items"
    items.mkdir()
    for name, text in files.items():
        (items / name).write_text(text)
    folder = project / "components" / "scorer"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "score.py").write_text(ENTRY_SCRIPT)
    (folder / "component.yml").write_text(PARALLEL_COMPONENT)
    return project


def test_parallel_appends_rows_within_the_error_threshold_and_retries(tmp_path):
    files = {"1.txt": "one", "2.txt": "two", "3.txt": "bad", "4.txt": "flaky", "5.txt": "five"}
    project = parallel_project(tmp_path, files, error_threshold=1)
    code, out = run(project, "score.yml")
    assert code == 0, out
    rows = (
        (project / ".runs" / "latest" / "score" / "outputs" / "scores" / "parallel_run_step.txt")
        .read_text()
        .splitlines()
    )
    # bad fails (1 item <= error_threshold 1); flaky succeeds on its retry
    assert rows == ["local,1.txt,one", "local,2.txt,two", "local,4.txt,flaky", "local,5.txt,five"]
    assert "4 of 5 items succeeded" in out


def test_parallel_fails_beyond_the_error_threshold(tmp_path):
    files = {"1.txt": "one", "2.txt": "bad", "3.txt": "bad"}
    project = parallel_project(tmp_path, files, error_threshold=1)
    code, out = run(project, "score.yml")
    assert code == 1
    assert "exceed error_threshold=1" in out
    assert cache_entries(project) == []


def test_parallel_error_threshold_minus_one_ignores_failures(tmp_path):
    files = {"1.txt": "bad", "2.txt": "bad", "3.txt": "ok"}
    project = parallel_project(tmp_path, files, error_threshold=-1)
    code, out = run(project, "score.yml")
    assert code == 0, out
    rows = project / ".runs" / "latest" / "score" / "outputs" / "scores" / "parallel_run_step.txt"
    assert rows.read_text().splitlines() == ["local,3.txt,ok"]


# -- the real training pipeline (end to end; takes up to a minute) --------------------------


def test_end_to_end_training_pipeline(tmp_path, monkeypatch):
    """Runs pipelines/training.yml of this project on a copy, then again from the cache."""
    from mlflow import MlflowClient
    from mlflow.pyfunc import load_model

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"  # its own registry: version 1 is this run's
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    if not (PROJECT / "pipelines" / "training.yml").is_file():
        pytest.skip("pipelines/training.yml is not part of this project")
    project = tmp_path / "project"
    for name in ("components", "pipelines", "data", "environments"):
        if (PROJECT / name).exists():
            shutil.copytree(
                PROJECT / name,
                project / name,
                ignore=shutil.ignore_patterns(".runs", "__pycache__"),
            )
    shutil.copy(PROJECT / "pyproject.toml", project / "pyproject.toml")
    started = time.monotonic()
    code, out = run(project, "training.yml")
    first = time.monotonic() - started
    assert code == 0, out
    assert "metrics of evaluate:" in out
    started = time.monotonic()
    code, again = run(project, "training.yml")
    assert code == 0, again
    # only steps that are not deterministic (e.g. register_model) run again
    pipeline = load_pipeline(project / "pipelines" / "training.yml")
    not_reusable = {n for n, s in pipeline.steps.items() if not s.component.deterministic}
    ran_again = {line.split()[2] for line in again.splitlines() if line.startswith("-- running")}
    assert ran_again == not_reusable
    assert again.count("-- cached") == len(pipeline.steps) - len(not_reusable) >= 3
    assert time.monotonic() - started < first / 2
    assert os.path.isdir(project / ".runs" / "latest" / "evaluate" / "outputs" / "evaluation")
    # registered once, over MLflow's REST API; the unchanged model is not registered again
    name = re.search(r"\[register_model\] registered (\S+) version 1$", out, re.M).group(1)
    unchanged = f"not registered: unchanged: {name} version 1 holds this model already"
    assert f"[register_model] {unchanged}" in again
    versions = MlflowClient(store, registry_uri=store).search_model_versions(f"name='{name}'")
    assert [str(v.version) for v in versions] == ["1"]
    assert set(versions[0].tags) >= {"score", "reason", "model_sha256"}
    assert len(load_model(f"models:/{name}/1").metadata.signature.inputs.inputs) > 0
