"""Faults in what `run --local` keeps under .runs/, in its processes, and in runs started together.

Whatever is damaged, a run gives one warning per damaged file and goes on: it rebuilds what it
needs, never reuses outputs that changed after they were stored, and never loses a completed
step's result. Two runs of one project started at once both succeed, and a runner killed with
SIGKILL takes its step processes with it; the next run removes what it left behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from amlctl import cli

STEP = """
import argparse, os, pathlib, subprocess, sys, time
parser = argparse.ArgumentParser()
parser.add_argument("--name")
parser.add_argument("--data")
parser.add_argument("--out")
args = parser.parse_args()
with open(os.environ["CALLS_LOG"], "a") as log:
    log.write(args.name + "\\n")
total = 1.0
if args.data:
    total += float((pathlib.Path(args.data) / "value.txt").read_text())
if os.environ.get("HANG_STEP") == args.name:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    pathlib.Path(os.environ["PID_FILE"]).write_text(f"{os.getpid()} {child.pid}")
    time.sleep(120)
out = pathlib.Path(args.out)
if os.environ.get("FILL_DISK_STEP") == args.name:  # writes until the disk is full
    with open(out / "filler.bin", "wb") as filler:
        while True:
            filler.write(b"x" * 65536)
            filler.flush()
(out / "value.txt").write_text(str(total))
(out / "notes.txt").write_text("x" * 100)
print(f"{args.name} total={total}")
"""

COMPONENT = """
type: command
name: {name}
inputs:
  data: {{type: uri_folder, optional: true}}
outputs:
  out: {{type: uri_folder}}
code: ./src
environment: {{image: "python:3.11"}}
command: >-
  python step.py --name {name} $[[--data ${{{{inputs.data}}}}]] --out ${{{{outputs.out}}}}
"""

PIPELINE = """
type: pipeline
display_name: pair
inputs:
  raw: {type: uri_folder, path: ../data/raw}
jobs:
  first:
    component: ../components/first/component.yml
    inputs:
      data: ${{parent.inputs.raw}}
  second:
    component: ../components/second/component.yml
    inputs:
      data: ${{parent.jobs.first.outputs.out}}
"""


def make_project(root: Path) -> Path:
    (root / "data" / "raw").mkdir(parents=True)
    (root / "data" / "raw" / "value.txt").write_text("1")
    (root / "pyproject.toml").write_text("[project]\nname = 'faults'\n")
    for name in ("first", "second"):
        folder = root / "components" / name
        (folder / "src").mkdir(parents=True)
        (folder / "src" / "step.py").write_text(STEP)
        (folder / "component.yml").write_text(COMPONENT.format(name=name))
    (root / "pipelines").mkdir()
    (root / "pipelines" / "pair.yml").write_text(textwrap.dedent(PIPELINE))
    return root


def run(project: Path, capsys, *args: str) -> tuple[int, str, str]:
    """`amlctl run pipelines/pair.yml --local` in-process: an exception fails the test."""
    cwd = os.getcwd()
    os.chdir(project)
    try:
        code = cli.main(["run", "pipelines/pair.yml", "--local", *args])
    finally:
        os.chdir(cwd)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def calls(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


@pytest.fixture(autouse=True)
def environment(tmp_path_factory, monkeypatch, tmp_path):
    store = tmp_path_factory.getbasetemp() / "faults-mlflow"
    store.mkdir(exist_ok=True)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
    monkeypatch.setenv("CALLS_LOG", str(tmp_path / "calls.log"))
    for name in ("HANG_STEP", "MLFLOW_RUN_ID", "FILL_DISK_STEP"):
        monkeypatch.delenv(name, raising=False)
    from amlctl import state

    state._warned.clear()  # one warning per file and process: each test is a new process


@pytest.fixture(scope="module")
def completed(tmp_path_factory) -> Path:
    """A project whose pipeline ran once: every step's outputs are in the cache."""
    root = make_project(tmp_path_factory.mktemp("completed") / "project")
    store = tmp_path_factory.getbasetemp() / "faults-mlflow"
    store.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{store / 'mlflow.db'}",
        "CALLS_LOG": str(root / "calls.log"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "amlctl", "run", "pipelines/pair.yml", "--local"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return root


@pytest.fixture
def project(completed, tmp_path) -> Path:
    """A copy of the completed project (times kept, so its cache is valid as it was)."""
    copy = tmp_path / "project"
    shutil.copytree(completed, copy, symlinks=True)
    return copy


def entry_of(project: Path, step: str) -> Path:
    for meta in (project / ".runs" / "cache").glob("*/meta.json"):
        if json.loads(meta.read_text())["step"] == step:
            return meta.parent
    raise AssertionError(f"no cache entry of {step}")


# -- damaged outputs in the cache -------------------------------------------------------------


def truncate(file: Path) -> None:
    file.write_text(file.read_text()[:1])


def same_size_other_content(file: Path) -> None:
    stat = file.stat()
    file.write_text("y" * stat.st_size)


def delete(file: Path) -> None:
    file.unlink()


def add_beside(file: Path) -> None:
    (file.parent / "stray.txt").write_text("added by hand")


DAMAGE = {
    "truncated": truncate,
    "same size, other content": same_size_other_content,
    "deleted": delete,
    "file added": add_beside,
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_cached_outputs_are_not_reused(project, tmp_path, capsys, damage):
    entry = entry_of(project, "first")
    DAMAGE[damage](entry / "out" / "notes.txt")
    code, out, err = run(project, capsys)
    assert code == 0, out + err
    assert calls(tmp_path / "calls.log") == ["first"]  # second's input is the same again
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, err
    assert "cached outputs of step first were changed" in warnings[0]
    assert "the step runs again" in warnings[0]
    assert (entry / "out" / "notes.txt").read_text() == "x" * 100  # the entry is whole again
    code, out, err = run(project, capsys)
    assert code == 0 and out.count("-- cached") == 2 and "warning" not in err


def test_a_touched_but_unchanged_output_is_hashed_not_rerun(project, tmp_path, capsys):
    file = entry_of(project, "first") / "out" / "value.txt"
    os.utime(file, ns=(time.time_ns(), time.time_ns()))
    code, out, err = run(project, capsys)
    assert code == 0, out + err
    assert calls(tmp_path / "calls.log") == []
    assert out.count("-- cached") == 2 and "warning" not in err


def keep_size_and_times(file: Path, content: str) -> None:
    """An edit a user's tools can hide from size and mtime: same size, times put back."""
    stat = file.stat()
    assert len(content.encode()) == stat.st_size
    file.write_text(content)
    os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # `touch -r` to the old times
    assert (file.stat().st_size, file.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)


@pytest.fixture
def no_racy_window(monkeypatch):
    """Files just copied are 'racy' (changed within RACY_NS of their record) and always
    read; without the window the tests below reach the path that trusts stat data."""
    from amlctl.local_run import cache

    monkeypatch.setattr(cache, "RACY_NS", 0, raising=False)


def test_an_input_edited_with_its_size_and_mtime_kept_is_not_stale(
    project, tmp_path, capsys, no_racy_window
):
    code, out, err = run(project, capsys)  # this copy's hashes remembered, steps cached
    assert code == 0 and out.count("-- cached") == 2, out + err
    keep_size_and_times(project / "data" / "raw" / "value.txt", "5")
    code, out, err = run(project, capsys)
    assert code == 0, out + err
    assert calls(tmp_path / "calls.log") == ["first", "second"]  # both ran on the new input
    second = entry_of_latest(project, "second")
    assert (second / "out" / "value.txt").read_text() == "7.0"  # 1 + (1 + 5)


def entry_of_latest(project: Path, step: str) -> Path:
    metas = [m for m in (project / ".runs" / "cache").glob("*/meta.json")]
    metas = [m for m in metas if json.loads(m.read_text())["step"] == step]
    return max(metas, key=lambda m: m.stat().st_mtime_ns).parent


def test_a_cached_output_edited_with_its_size_and_mtime_kept_is_not_reused(
    project, tmp_path, capsys, no_racy_window
):
    code, out, err = run(project, capsys)  # the entries' records hold this copy's stat data
    assert code == 0 and out.count("-- cached") == 2, out + err
    keep_size_and_times(entry_of(project, "first") / "out" / "notes.txt", "z" * 100)
    code, out, err = run(project, capsys)
    assert code == 0, out + err
    assert calls(tmp_path / "calls.log") == ["first"]
    assert "cached outputs of step first were changed" in err
    assert (entry_of(project, "first") / "out" / "notes.txt").read_text() == "x" * 100


def test_the_hash_memo_trusts_stat_data_only_outside_the_racy_window(tmp_path):
    from amlctl.local_run import cache

    file = tmp_path / "data.csv"
    file.write_text("a,b\n1,2\n")
    hasher = cache.Hasher()
    real = hasher.file(file)
    key = str(file.resolve())
    signature = hasher._memo[key][0]
    changed = file.stat().st_ctime_ns
    # recorded within the window of the file's last change: read again, whatever it says
    hasher._memo[key] = [signature, "bogus", str(changed + 1)]
    assert hasher.file(file) == real
    # recorded well after it: stat data as recorded is trusted without a read
    hasher._memo[key] = [signature, "bogus", str(changed + cache.RACY_NS + 1)]
    assert hasher.file(file) == "bogus"
    # an older amlctl's memo (signature and digest only) is never trusted
    hasher._memo[key] = ["9:1", "bogus"]
    assert hasher.file(file) == real


# -- damaged state files ----------------------------------------------------------------------

JUNK = {
    "list": b"[1, 2, 3]",
    "wrong map": b'{"a": 1, "b": [1, 2, 3]}',
    "string": b'"text"',
    "null": b"null",
    "binary": bytes(range(256)) * 4,
    "empty": b"",
    "truncated": b'{"outputs": {"out": ',
    "pointing outside": json.dumps(
        {"outputs": {"out": "../../elsewhere"}, "output_hashes": {"out": "x"}, "files": {}}
    ).encode(),
}


def state_file(project: Path, which: str) -> Path:
    runs = project / ".runs"
    if which == "graph":  # the file this copy's pipeline is kept in (named by its path)
        pipeline = str((project / "pipelines" / "pair.yml").resolve())
        return runs / "graphs" / f"{hashlib.sha256(pipeline.encode()).hexdigest()[:16]}.json"
    if which == "meta":
        return entry_of(project, "second") / "meta.json"
    return runs / which


@pytest.mark.parametrize("junk", list(JUNK))
@pytest.mark.parametrize("which", ["hashes.json", "tracking.json", "graph", "meta"])
def test_damaged_state_file_gives_one_warning_and_the_run_succeeds(
    project, tmp_path, capsys, which, junk
):
    target = state_file(project, which)
    target.write_bytes(JUNK[junk])
    code, out, err = run(project, capsys)
    assert code == 0, out + err
    assert "Traceback" not in err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) <= 1, err
    assert len(warnings) == 1 and str(target.name) in warnings[0], err
    if which == "meta":  # its step ran again; the other one's result was kept
        assert calls(tmp_path / "calls.log") == ["second"]
    else:
        assert calls(tmp_path / "calls.log") == []
    code, out, err = run(project, capsys)  # rebuilt: the next run is quiet
    assert code == 0 and "warning" not in err, err


@pytest.mark.parametrize("which", ["hashes.json", "tracking.json", "graph", "meta", "latest"])
def test_a_folder_where_a_state_file_belongs(project, capsys, which):
    target = state_file(project, which)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.is_file():
        target.unlink()
    target.mkdir()
    (target / "inside.txt").write_text("x")
    code, out, err = run(project, capsys)
    assert code == 0, out + err
    assert len([line for line in err.splitlines() if line.startswith("warning:")]) == 1, err


def test_latest_as_a_dangling_link_or_file(project, capsys):
    latest = project / ".runs" / "latest"
    latest.unlink()
    latest.write_text("not a link")
    code, out, err = run(project, capsys)
    assert code == 0, out + err
    assert latest.is_symlink()


@pytest.mark.parametrize("junk", ["binary", "text", "folder"])
def test_damaged_mlflow_store_is_set_aside_and_made_anew(project, capsys, monkeypatch, junk):
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    store = project / ".runs" / "mlflow.db"
    if junk == "folder":
        store.mkdir()
    else:
        store.write_bytes(JUNK["binary"] if junk == "binary" else b"this is not sqlite\n" * 10)
    code, out, err = run(project, capsys, "--force-rerun")
    assert code == 0, out + err
    assert "MLflow run " in out  # tracking works again, in a new store
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "mlflow.db" in warnings[0], err
    assert list((project / ".runs").glob("mlflow.db.damaged-*"))  # kept for inspection


def test_leftovers_in_the_work_area_are_removed(project, capsys):
    tmp = project / ".runs" / "tmp"
    (tmp / "0123456789ab" / "abc" / "out").mkdir(parents=True)  # a dead run's workspace
    (tmp / "0123456789ab.lock").write_text("")
    (tmp / "deadbeefcafe").mkdir()  # no lock at all
    code, out, err = run(project, capsys)
    assert code == 0, out + err
    assert list(tmp.iterdir()) == []


# -- processes -----------------------------------------------------------------------------------


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc")
def test_sigkill_of_the_runner_kills_its_steps_and_the_next_run_cleans_up(tmp_path):
    project = make_project(tmp_path / "p")
    pid_file = tmp_path / "pids"
    env = {
        **os.environ,
        "HANG_STEP": "second",  # first completes and is stored; second hangs
        "PID_FILE": str(pid_file),
        "CALLS_LOG": str(tmp_path / "calls.log"),
    }
    runner = subprocess.Popen(
        [sys.executable, "-m", "amlctl", "run", "pipelines/pair.yml", "--local"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not pid_file.exists() and time.monotonic() < deadline:
        assert runner.poll() is None, "the runner ended before its step started"
        time.sleep(0.1)
    step, grandchild = map(int, pid_file.read_text().split())
    assert alive(step) and alive(grandchild)
    leftovers = list((project / ".runs" / "tmp").iterdir())
    assert leftovers  # the step's workspace, under the run's session folder
    (session,) = {entry.name.removesuffix(".lock") for entry in leftovers}
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    deadline = time.monotonic() + 10
    while (alive(step) or alive(grandchild)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(step), "the step outlived the runner"
    assert not alive(grandchild), "the step's own child outlived the runner"

    del env["HANG_STEP"]
    done = subprocess.run(
        [sys.executable, "-m", "amlctl", "run", "pipelines/pair.yml", "--local"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert list((project / ".runs" / "tmp").iterdir()) == []
    assert "-- cached   first" in done.stdout  # the completed step's result was kept
    assert calls(tmp_path / "calls.log") == ["first", "second", "second"]
    from mlflow.tracking import MlflowClient

    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    experiments = [e.experiment_id for e in client.search_experiments()]
    left = client.search_runs(experiments, filter_string=f"tags.`local_run.session` = '{session}'")
    statuses = sorted(run.info.status for run in left)  # the pipeline run and its two steps
    assert statuses == ["FINISHED", "KILLED", "KILLED"], statuses  # none is left RUNNING


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc")
def test_an_interrupted_runner_stops_its_steps_and_exits(tmp_path):
    project = make_project(tmp_path / "p")
    pid_file = tmp_path / "pids"
    env = {**os.environ, "HANG_STEP": "first", "PID_FILE": str(pid_file)}
    env["CALLS_LOG"] = str(tmp_path / "calls.log")
    runner = subprocess.Popen(
        [sys.executable, "-m", "amlctl", "run", "pipelines/pair.yml", "--local"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    step, grandchild = map(int, pid_file.read_text().split())
    runner.send_signal(signal.SIGINT)  # what Ctrl-C sends the runner
    assert runner.wait(timeout=30) == 130
    assert "interrupted" in runner.stderr.read()
    deadline = time.monotonic() + 10
    while (alive(step) or alive(grandchild)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(step) and not alive(grandchild)
    assert list((project / ".runs" / "cache").glob("*")) == []  # nothing half-stored


def test_two_runs_started_together_both_succeed(tmp_path):
    """A fresh project, its own MLflow store: both runs create it, both must succeed."""
    project = make_project(tmp_path / "p")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["CALLS_LOG"] = str(tmp_path / "calls.log")
    command = [sys.executable, "-m", "amlctl", "run", "pipelines/pair.yml", "--local"]
    runs = [
        subprocess.Popen(
            command,
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [r.communicate(timeout=300)[0] for r in runs]
    assert [r.returncode for r in runs] == [0, 0], "\n=====\n".join(outputs)
    for output in outputs:
        assert "Traceback" not in output and "warning" not in output, output
        assert "MLflow run " in output  # both were tracked
    run_dirs = [p for p in (project / ".runs").iterdir() if p.name[:2] == "20"]
    assert len(run_dirs) == 2  # separate folders for their steps
    assert len(list((project / ".runs" / "cache").iterdir())) == 2  # one entry per step
    assert list((project / ".runs" / "tmp").iterdir()) == []


# -- what validate and run know before the first step ------------------------------------------

LIMITED = """
type: command
name: limited
inputs:
  lr: {type: number, min: 0, max: 1, default: 0.1}
  n: {type: integer, min: 1, max: 10, default: 2}
  mode: {type: string, enum: [fast, slow], default: fast}
outputs:
  out: {type: uri_folder}
code: ./src
environment: {image: "python:3.11"}
command: python step.py --name limited --out ${{outputs.out}}
"""

BAD_PIPELINES = {
    "cycle": (
        """
        jobs:
          first:
            component: ../components/first/component.yml
            inputs: {data: "${{parent.jobs.second.outputs.out}}"}
          second:
            component: ../components/second/component.yml
            inputs: {data: "${{parent.jobs.first.outputs.out}}"}
        """,
        "jobs: jobs form a cycle: first -> second -> first",
        "jobs form a cycle",
    ),
    "missing pipeline data": (
        """
        inputs:
          raw: {type: uri_folder, path: ../data/nope}
        jobs:
          first:
            component: ../components/first/component.yml
            inputs: {data: "${{parent.inputs.raw}}"}
        """,
        "inputs.raw: local path ../data/nope does not exist",
        "jobs.first.inputs.data: local path",
    ),
    "missing job data": (
        """
        jobs:
          first:
            component: ../components/first/component.yml
            inputs: {data: {type: uri_folder, path: ../data/gone}}
        """,
        "jobs.first.inputs.data: local path ../data/gone does not exist",
        "jobs.first.inputs.data: local path",
    ),
    "missing component file": (
        """
        jobs:
          first:
            component: ../components/nothere/component.yml
        """,
        "jobs.first.component: component file not found: ../components/nothere/component.yml",
        "jobs.first.component: component file not found: ../components/nothere/component.yml",
    ),
    "missing sweep trial": (
        """
        jobs:
          tune:
            type: sweep
            trial: ../components/nothere.yml
            search_space: {lr: {type: uniform, min_value: 0, max_value: 1}}
            objective: {primary_metric: score, goal: maximize}
            limits: {max_total_trials: 2}
        """,
        "jobs.tune.trial: component file not found: ../components/nothere.yml",
        "jobs.tune.trial: component file not found",
    ),
    "jobs not a mapping": (
        """
        jobs: [first, second]
        """,
        "jobs: expected a mapping of job names to jobs",
        "jobs: expected a mapping of job names to jobs",
    ),
    "job not a mapping": (
        """
        jobs:
          first: 3
        """,
        "jobs.first: expected a mapping (type, component, inputs)",
        "jobs.first: expected a mapping (type, component, inputs)",
    ),
    "component a number": (
        """
        jobs:
          first:
            component: 7
        """,
        "jobs.first.component: expected a component file, an azureml: reference or an inline "
        "component",
        "jobs.first.component: expected a component file",
    ),
    "unknown input": (
        """
        jobs:
          first:
            component: ../components/first/component.yml
            inputs: {nope: 3}
        """,
        "jobs.first.inputs.nope: no input of component first 'nope' (known: data)",
        "jobs.first.inputs.nope: the component of job first has no input 'nope' (known: data)",
    ),
    "above max": (
        """
        jobs:
          a:
            component: ../components/limited/component.yml
            inputs: {n: 11}
        """,
        "jobs.a.inputs.n: 11 is above the maximum 10 of input 'n'",
        "jobs.a.inputs.n: 11 is above the maximum 10 of input 'n'",
    ),
    "below min": (
        """
        jobs:
          a:
            component: ../components/limited/component.yml
            inputs: {lr: -0.5}
        """,
        "jobs.a.inputs.lr: -0.5 is below the minimum 0.0 of input 'lr'",
        "jobs.a.inputs.lr: -0.5 is below the minimum 0.0 of input 'lr'",
    ),
    "not in enum": (
        """
        jobs:
          a:
            component: ../components/limited/component.yml
            inputs: {mode: medium}
        """,
        "jobs.a.inputs.mode: 'medium' is not one of fast, slow",
        "jobs.a.inputs.mode: 'medium' is not one of the values of input 'mode': fast, slow",
    ),
    "pipeline input above max": (
        """
        inputs:
          lr: 5
        jobs:
          a:
            component: ../components/limited/component.yml
            inputs: {lr: "${{parent.inputs.lr}}"}
        """,
        "inputs.lr: 5 is above the maximum 1.0 of input 'lr' (bound to jobs.a.inputs.lr)",
        "jobs.a.inputs.lr: 5 is above the maximum 1.0 of input 'lr' (pipeline input lr)",
    ),
}


def bad_pipeline(project: Path, case: str) -> str:
    folder = project / "components" / "limited"
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "src" / "step.py").write_text(STEP)
    (folder / "component.yml").write_text(LIMITED)
    text = "type: pipeline\nsettings: {default_compute: azureml:cpu}\n"
    (project / "pipelines" / "bad.yml").write_text(text + textwrap.dedent(BAD_PIPELINES[case][0]))
    return "pipelines/bad.yml"


@pytest.mark.parametrize("case", list(BAD_PIPELINES))
def test_validate_catches_what_run_would_reject(tmp_path, capsys, monkeypatch, case):
    project = make_project(tmp_path / "p")
    file = bad_pipeline(project, case)
    monkeypatch.chdir(project)
    assert cli.main(["validate", file]) == 1
    out = capsys.readouterr().out
    problems = [line for line in out.splitlines() if line.startswith(file)]
    assert f"{file}: {BAD_PIPELINES[case][1]}" in problems, out
    assert all(len(line) < 300 for line in problems), out  # one readable line each


@pytest.mark.parametrize("case", list(BAD_PIPELINES))
def test_run_rejects_before_the_first_step(tmp_path, capsys, monkeypatch, case):
    project = make_project(tmp_path / "p")
    file = bad_pipeline(project, case)
    monkeypatch.chdir(project)
    assert cli.main(["run", file, "--local"]) == 2
    captured = capsys.readouterr()
    assert BAD_PIPELINES[case][2] in captured.err, captured.err
    assert "azureml_anonymous" not in captured.err
    assert not (tmp_path / "calls.log").exists()  # no step started


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nan", "--set lr=nan: expected a finite number"),
        ("inf", "--set lr=inf: expected a finite number"),
        ("-inf", "--set lr=-inf: expected a finite number"),
        ("1.5", "jobs.a.inputs.lr: 1.5 is above the maximum 1.0 of input 'lr' (pipeline input lr)"),
        ("-1", "jobs.a.inputs.lr: -1.0 is below the minimum 0.0 of input 'lr' (pipeline input lr)"),
    ],
)
def test_set_values_outside_the_limits_are_rejected_when_binding(
    tmp_path, capsys, monkeypatch, value, message
):
    project = make_project(tmp_path / "p")
    file = bad_pipeline(project, "pipeline input above max")
    (project / file).write_text((project / file).read_text().replace("lr: 5", "lr: 0.5"))
    monkeypatch.chdir(project)
    assert cli.main(["run", file, "--local", "--set", f"lr={value}"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {message}\n", err
    assert not (tmp_path / "calls.log").exists()


def test_a_run_keeps_the_entry_another_run_stored_first(tmp_path):
    """Two runs that computed one step store one entry, and both go on with what it holds."""
    from amlctl.local_run.cache import Store

    store = Store(tmp_path / ".runs")
    metas = []
    for content in ("first run", "second run"):
        workspace = store.new_workspace()
        (workspace / "out").mkdir()
        (workspace / "out" / "model.txt").write_text(content)
        meta = {"step": "train", "outputs": {"out": "out"}, "output_hashes": {"out": content}}
        metas.append(store.commit(workspace, store.cache_dir / "key", meta))
    assert metas[1]["output_hashes"] == {"out": "first run"}  # what is stored, not its own
    assert (store.cache_dir / "key" / "out" / "model.txt").read_text() == "first run"
    assert store.lookup("key")["output_hashes"] == {"out": "first run"}
    store.end()


# -- step output of any shape -----------------------------------------------------------------


@pytest.mark.parametrize("newline", [False, True])
def test_a_long_line_costs_bounded_memory_and_the_log_keeps_it_whole(tmp_path, newline):
    """50 MB on one line (a progress bar without newlines): the runner's peak stays small."""
    import io
    import tracemalloc

    from amlctl.local_run.steps import Console, run_process, tail

    size = 50_000_000
    code = f"import sys; sys.stdout.write('x' * {size}" + (" + '\\n'" if newline else "") + ")"
    stream = io.StringIO()
    log = tmp_path / "log.txt"
    tracemalloc.start()
    try:
        exit_code = run_process(
            [sys.executable, "-c", code], tmp_path, dict(os.environ), log, "big", Console(stream)
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert exit_code == 0
    assert peak < 8_000_000, f"peak {peak / 1e6:.1f} MB while reading a {size / 1e6:.0f} MB line"
    header = log.read_text().splitlines()[0]
    assert log.stat().st_size == len(header) + 1 + size + (1 if newline else 0)
    printed = stream.getvalue().splitlines()
    assert len(printed) == 1 and printed[0].startswith("[big] xxx")
    assert printed[0].endswith(f"... (a long line: whole in {log})")
    assert len(printed[0]) < 3000
    last = tail(log)
    assert len(last[-1]) < 3000 and last[-1].startswith("xxx")


# -- a project that cannot be written ---------------------------------------------------------


@pytest.mark.parametrize("folder", ["locks", "tmp", "cache"])
def test_a_file_where_runs_keeps_a_folder_is_one_line(project, capsys, folder):
    target = project / ".runs" / folder
    shutil.rmtree(target, ignore_errors=True)
    target.write_text("not a folder")
    code, _out, err = run(project, capsys)
    assert code == 2
    assert err == (
        f"error: {target} is a file, but amlctl keeps a folder there: move it away "
        "(nothing else reads it) and run again\n"
    )
    assert target.read_text() == "not a folder"  # nothing of the user's is touched


def test_a_read_only_project_is_one_line(project, capsys, monkeypatch):
    """EROFS, as a read-only mount gives it (root here writes through chmod, so the file
    system's answer is what is simulated, at the call that meets it first)."""
    import errno
    import tempfile

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(project / ".runs"))

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", read_only)
    code, _out, err = run(project, capsys)
    assert code == 2
    assert err.splitlines() == [
        f"error: {project / '.runs'} cannot be written (Read-only file system): a local run "
        "keeps its outputs there; run from a writable copy of the project"
    ]


def test_a_full_disk_anywhere_is_one_line_naming_the_path(capsys):
    import errno

    from amlctl import cli as amlctl_cli

    def fills_the_disk():
        raise OSError(errno.ENOSPC, "No space left on device", "/data/.runs/cache/x")

    assert amlctl_cli.guarded(fills_the_disk) == 1
    assert capsys.readouterr().err == (
        "error: /data/.runs/cache/x: no space left on the device: free space there (old runs "
        "in .runs/ can go: they are caches) and run again\n"
    )


# -- one tracking server per store -------------------------------------------------------------


def test_a_damaged_state_file_does_not_start_a_second_tracking_server(tmp_path, monkeypatch):
    """The live server holds the store's serving lock: whatever the state file says, the
    runner finds that server again (and repairs the file) instead of starting another."""
    from amlctl.local_run import tracking_server

    monkeypatch.setenv("AMLCTL_TRACKING_IDLE_SECONDS", "60")
    runs = tmp_path / ".runs"
    runs.mkdir()
    uri = f"sqlite:///{runs / 'mlflow.db'}"
    first = tracking_server.ensure_server(uri, runs)
    state_file = tracking_server.state_file_for(uri, runs)
    pid = json.loads(state_file.read_text())["pid"]
    try:
        for junk in (b"", b"{", b'{"pid": 1, "port": 9}', bytes(range(256))):
            state_file.write_bytes(junk)
            assert tracking_server.ensure_server(uri, runs) == first, junk
            assert json.loads(state_file.read_text())["pid"] == pid  # repaired, same server
        assert not list(runs.glob("*.server.json.[0-9]*"))  # no other server wrote its state
    finally:
        os.kill(pid, signal.SIGTERM)


# -- a store that cannot record ----------------------------------------------------------------


def test_a_store_truncated_while_its_server_runs_is_set_aside_and_records_the_run(
    project, capsys, monkeypatch
):
    """mlflow.db emptied behind the back of the server that has it open: the next run
    stops that server, keeps the file aside and records into a new store (it exited 0 with
    a warning and recorded nothing, run after run)."""
    from amlctl.local_run import tracking_server

    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.setenv("AMLCTL_TRACKING_IDLE_SECONDS", "60")
    runs = project / ".runs"
    store = runs / "mlflow.db"
    uri = f"sqlite:///{store}"
    try:
        code, out, err = run(project, capsys, "--force-rerun")
        assert code == 0 and "MLflow run " in out, out + err
        old = json.loads(tracking_server.state_file_for(uri, runs).read_text())["pid"]
        with store.open("r+b") as handle:
            handle.truncate(0)
        code, out, err = run(project, capsys, "--force-rerun")
        assert code == 0, out + err
        assert "MLflow run " in out, out + err  # recorded, in the new store
        warnings = [line for line in err.splitlines() if line.startswith("warning:")]
        assert len(warnings) == 1 and "mlflow.db" in warnings[0], err
        assert "cannot record" in warnings[0] and "Traceback" not in err
        assert list(runs.glob("mlflow.db.damaged-*"))  # kept for inspection
        with pytest.raises(OSError):  # the old server is gone: one server per store
            os.kill(old, 0)
        url = tracking_server.running_server(tracking_server.state_file_for(uri, runs))
        assert url is not None
        found = tracking_server.RestClient(url).search_runs(["1"], "", 50)
        assert len(found) == 3  # the pipeline's run and its two steps' runs
    finally:
        tracking_server.stop_server(uri, runs)


def test_a_store_that_cannot_record_fails_the_run_in_one_line(project, capsys, monkeypatch):
    """Whatever keeps the store from recording, the run does not pass as succeeded."""
    from amlctl.local_run import tracking_server

    def broken(self, route, body=None, method="POST"):
        raise tracking_server.TrackingError(
            f'{route}: HTTP 503 {{"error_code": "TEMPORARILY_UNAVAILABLE", "message": '
            '"(sqlite3.OperationalError) disk I/O error\\n[SQL: SELECT"',
            503,
        )

    runs = project / ".runs"
    uri = f"sqlite:///{runs / 'own.db'}"  # not the suite's shared store: it is set aside
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("AMLCTL_TRACKING_IDLE_SECONDS", "60")
    monkeypatch.setattr(tracking_server.RestClient, "call", broken)
    try:
        code, out, err = run(project, capsys, "--force-rerun")
    finally:
        tracking_server.stop_server(uri, runs)
    assert code == 1, out + err
    assert "succeeded" not in out and "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: the MLflow store {uri} cannot record "
        "((sqlite3.OperationalError) disk I/O error): this run's steps are cached but their "
        "MLflow runs were not kept; fix the store (or move it away) and run again with "
        "--force-rerun"
    ], err


# -- a full disk -------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A project whose .runs/ is a real 8 MiB file system (tmpfs), so a step meets ENOSPC."""
    root = make_project(tmp_path / "project")
    runs = root / ".runs"
    runs.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(runs)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode:
        pytest.fail(f"the full-disk tests mount a tmpfs (as root): {mounted.stderr.strip()}")
    try:
        yield root
    finally:
        subprocess.run(["umount", "-l", str(runs)], check=False)


def test_a_step_that_fills_the_disk_leaves_nothing_behind_and_says_so(
    small_disk, capsys, monkeypatch
):
    monkeypatch.setenv("FILL_DISK_STEP", "second")
    code, out, err = run(small_disk, capsys)
    assert code == 1
    assert " succeeded in " not in out
    failed = [line for line in out.splitlines() if "second" in line and "failed" in line]
    assert failed and "ran out of disk space" in failed[0], out
    assert "free space" in failed[0] and "partial outputs were removed" in failed[0]
    assert "Traceback" not in err
    runs = small_disk / ".runs"
    assert not list(runs.glob("*/second/failed-outputs"))
    assert not list(runs.rglob("filler.bin"))
    assert shutil.disk_usage(runs).used < 2 * 2**20  # the space is given back
    monkeypatch.delenv("FILL_DISK_STEP")  # space freed: the next run goes on from `first`
    code, out, _ = run(small_disk, capsys)
    assert code == 0 and " succeeded in " in out
    assert calls(small_disk.parent / "calls.log") == ["first", "second", "second"]


def test_the_disk_filling_while_outputs_are_stored_removes_them(project, capsys, monkeypatch):
    import errno

    from amlctl.local_run import cache

    target = project / ".runs" / "cache" / "x"

    def fills_the_disk(self, workspace, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    monkeypatch.setattr(cache.Store, "commit", fills_the_disk)
    code, out, err = run(project, capsys, "--force")
    assert code == 1
    assert " succeeded in " not in out
    assert (
        f"{target}: no space left on the device: free space there (old runs in .runs/ can go: "
        "they are caches) and run again; the step's outputs were removed" in out
    )
    assert "Traceback" not in err
    session = project / ".runs" / "tmp"
    assert not [p for p in session.rglob("*") if p.is_file() and p.name == "value.txt"]


def test_a_run_is_called_succeeded_only_once_its_record_is_written(project, capsys, monkeypatch):
    import errno

    from amlctl.runs import record

    def fills_the_disk(folder, run):
        raise OSError(errno.ENOSPC, "No space left on device", str(folder / "run.json"))

    monkeypatch.setattr(record, "write", fills_the_disk)
    code, out, err = run(project, capsys)
    assert code == 1
    assert " succeeded in " not in out
    assert [line for line in out.splitlines() if line.startswith("run ") and " failed in " in line]
    assert err.splitlines() == [
        f"error: {err.split('error: ')[1].split(': ')[0]}: no space left on the device: free "
        "space there (old runs in .runs/ can go: they are caches) and run again"
    ]
    assert err.split("error: ")[1].split(": ")[0].endswith("run.json")
