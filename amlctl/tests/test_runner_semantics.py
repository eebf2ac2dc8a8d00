"""Azure ML job semantics of `run --local` that the corpus does not show by itself.

Unsupported constructs stop before any step with one line per node; node overrides and
their errors; environments (conda-only packages, the env manager); sweeps with no
completed trial; parallel retry timeouts; early-termination policies; working folders.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from fakes.project import write_repository as write

from amlctl import cli
from amlctl.local_run import command as run_command
from amlctl.local_run.early_termination import should_stop
from amlctl.local_run.envs import requirements
from amlctl.local_run.workdir import snapshot_files
from amlctl.project import ProjectError

CORPUS = Path(__file__).parent / "corpus"


@pytest.fixture(autouse=True)
def shared_tracking(tmp_path_factory, monkeypatch):
    store = tmp_path_factory.getbasetemp() / "semantics-mlflow"
    store.mkdir(exist_ok=True)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
    monkeypatch.setenv("AMLCTL_TRACKING_IDLE_SECONDS", "120")  # the store's server stops soon
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)


def run(pipeline: Path, *overrides: str, **options):
    stream = io.StringIO()
    code = run_command.run_pipeline(pipeline, list(overrides), stream=stream, **options)
    return code, stream.getvalue()


HELLO = """
type: command
name: hello
outputs:
  out: {type: uri_folder}
environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
command: echo hello > ${{outputs.out}}/hello.txt
"""

UNSUPPORTED = """
type: pipeline
inputs:
  table: {type: mltable, path: ./data}
jobs:
  fine:
    type: command
    component: ./hello.yml
  copy_files:
    type: data_transfer
    task: copy_data
    inputs:
      folder1: ${{parent.inputs.table}}
    outputs:
      output_folder: {type: uri_folder}
  from_sql:
    type: import
    source: {type: azuresqldb, query: select * from sales, connection: azureml:my_sql}
    output: {type: mltable}
  registered:
    type: command
    component: azureml:my_component:1
  automl_node:
    type: automl
    task: forecasting
    primary_metric: normalized_root_mean_squared_error
    target_column_name: y
    training_data: ${{parent.inputs.table}}
    forecasting:
      time_column_name: t
      forecast_horizon: 2
"""


def test_unsupported_nodes_stop_before_any_step_with_one_line_each(tmp_path, capsys):
    root = write(
        tmp_path / "repo",
        {
            "pipeline.yml": UNSUPPORTED,
            "hello.yml": HELLO,
            "data/MLTable": "paths: []\n",
        },
    )
    code = cli.main(["run", str(root / "pipeline.yml"), "--local"])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 4, err
    expected = [
        ("jobs.copy_files:", "data transfer node"),
        ("jobs.from_sql:", "import node"),
        ("jobs.registered:", "registered component azureml:my_component:1"),
        ("jobs.automl_node:", "AutoML forecasting has no local stand-in"),
    ]
    for line, (key, what) in zip(lines, expected, strict=True):
        assert key in line and what in line, line
    assert "Traceback" not in err
    assert not (root / ".runs" / "latest").exists()  # nothing ran, not even `fine`


def test_node_override_errors_name_the_node_and_its_inputs(tmp_path):
    folder = tmp_path / "nested"
    shutil.copytree(CORPUS / "pipeline-component-nested", folder)
    (folder / ".git").mkdir()
    pipeline = folder / "pipeline.yml"
    with pytest.raises(ProjectError, match=r"jobs\.last has no input 'nope' \(inputs: add, "):
        run(pipeline, "jobs.last.inputs.nope=1")
    with pytest.raises(ProjectError, match=r"no node input jobs\.ghost\.inputs\.add"):
        run(pipeline, "jobs.ghost.inputs.add=1")
    with pytest.raises(ProjectError, match=r"expected an integer"):
        run(pipeline, "jobs.last.inputs.add=many")
    with pytest.raises(ProjectError, match=r"expected jobs\.NODE\.inputs\.NAME=VALUE"):
        run(pipeline, "jobs.last.add=1")
    assert not (folder / ".runs" / "latest").exists()


def test_conda_only_packages_are_named_in_one_line(tmp_path):
    root = write(
        tmp_path / "repo",
        {
            "conda.yml": """
            name: gpu
            dependencies:
              - python=3.11
              - cudatoolkit=11.8
              - nccl
              - numpy=1.26
              - pip:
                  - torch==2.3.0
            """,
            "pipeline.yml": """
            type: pipeline
            jobs:
              train:
                command: python -c "print(1)"
                environment:
                  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest
                  conda_file: ./conda.yml
            """,
        },
    )
    pip, python, conda_only = requirements({"conda_file": str(root / "conda.yml")})
    assert pip == ["numpy==1.26.*", "torch==2.3.0"] and python == "3.11"
    assert conda_only == ["cudatoolkit", "nccl"]
    code, out = run(root / "pipeline.yml")
    assert code == 1
    assert (
        "jobs.train: conda packages with no PyPI distribution: cudatoolkit, nccl; install them "
        "into this environment and run with --env-manager local" in out
    )
    # --env-manager local runs it in this environment instead
    code, out = run(root / "pipeline.yml", env_manager="local")
    assert code == 0, out


def test_env_manager_is_part_of_the_cache_key(tmp_path):
    folder = tmp_path / "conda-env"
    shutil.copytree(CORPUS / "conda-env", folder)
    (folder / ".git").mkdir()
    code, out = run(folder / "pipeline.yml", env_manager="local")
    assert code == 1 and "No module named 'tabulate'" in out  # the runner's own environment
    code, out = run(folder / "pipeline.yml", env_manager="uv")
    assert code == 0 and "-- done     report" in out, out


def test_sweep_fails_when_no_trial_completes(tmp_path):
    root = write(
        tmp_path / "repo",
        {
            "pipeline.yml": """
            type: pipeline
            jobs:
              tune:
                type: sweep
                trial:
                  type: command
                  command: echo "out of memory with ${{inputs.size}}" && exit 3
                  environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
                  inputs:
                    size: {type: integer, default: 1}
                sampling_algorithm: grid
                search_space:
                  size: {type: choice, values: [1, 2]}
                objective: {primary_metric: loss, goal: minimize}
                limits: {max_total_trials: 2}
            """
        },
    )
    code, out = run(root / "pipeline.yml")
    assert code == 1
    assert "[tune] 2 trials: 2 failed" in out
    assert "no trial completed (2 failed)" in out
    assert "| out of memory with 1" in out


def test_parallel_mini_batch_timeout_is_retried_then_counted(tmp_path):
    root = write(
        tmp_path / "repo",
        {
            "data/a.txt": "fast",
            "data/b.txt": "slow",
            "src/entry.py": """
            import pathlib, time

            def run(mini_batch):
                for file in mini_batch:
                    if pathlib.Path(file).read_text() == "slow":
                        time.sleep(30)
                return [pathlib.Path(f).name for f in mini_batch]
            """,
            "pipeline.yml": """
            type: pipeline
            jobs:
              score:
                type: parallel
                inputs:
                  data: {type: uri_folder, path: ./data}
                outputs:
                  rows: {type: uri_file}
                input_data: ${{inputs.data}}
                mini_batch_size: "1"
                mini_batch_error_threshold: 1
                retry_settings: {max_retries: 1, timeout: 1}
                task:
                  type: run_function
                  code: ./src
                  entry_script: entry.py
                  environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
                  append_row_to: ${{outputs.rows}}
            """,
        },
    )
    code, out = run(root / "pipeline.yml")
    assert code == 0, out
    assert "mini-batch 1 failed: " in out and "retry_settings.timeout=1 s" in out
    rows = root / ".runs" / "latest" / "score" / "outputs" / "rows"
    assert rows.read_text() == "a.txt\n"


def test_failed_job_keeps_its_working_directory_for_the_rerun_hint(tmp_path):
    root = write(
        tmp_path / "repo",
        {
            "src/fail.py": "open('partial.txt', 'w').write('x'); raise SystemExit(4)\n",
            "pipeline.yml": """
            type: pipeline
            jobs:
              broken:
                code: ./src
                command: python fail.py
                environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
            """,
        },
    )
    code, out = run(root / "pipeline.yml")
    assert code == 1
    workdir = (root / ".runs" / "latest").resolve() / "broken" / "wd-log"
    assert (workdir / "partial.txt").read_text() == "x"
    assert f"rerun this step alone: cd {workdir} && python fail.py" in out
    assert not (root / "src" / "partial.txt").exists()


@pytest.mark.parametrize(
    ("policy", "histories", "stops"),
    [
        ({"type": "bandit", "slack_factor": 0.1}, {0: [0.9], 1: [0.5]}, True),
        ({"type": "bandit", "slack_factor": 0.1}, {0: [0.9], 1: [0.85]}, False),
        ({"type": "bandit", "slack_amount": 0.2}, {0: [0.9], 1: [0.65]}, True),
        (
            {"type": "bandit", "slack_factor": 0.1, "delay_evaluation": 1},
            {0: [0.9], 1: [0.1]},
            False,
        ),
        ({"type": "median_stopping"}, {0: [0.9], 1: [0.8], 2: [0.1]}, True),
        ({"type": "median_stopping"}, {0: [0.9], 1: [0.8], 2: [0.86]}, False),
        (
            {"type": "truncation_selection", "truncation_percentage": 50},
            {0: [0.9], 1: [0.8], 2: [0.1], 3: [0.7]},
            True,
        ),
        (
            {"type": "truncation_selection", "truncation_percentage": 20},
            {0: [0.9], 1: [0.8], 2: [0.1], 3: [0.7]},
            False,
        ),
    ],
)
def test_early_termination_policies(policy, histories, stops):
    trial = max(histories)
    if policy["type"] == "truncation_selection" or policy["type"] == "median_stopping":
        trial = 2
    assert bool(should_stop(policy, trial, histories, maximize=True)) is stops
    # the same comparison with the goal reversed
    negated = {t: [-v for v in h] for t, h in histories.items()}
    assert bool(should_stop(policy, trial, negated, maximize=False)) is stops


def test_snapshot_honours_amlignore_then_gitignore_in_every_folder(tmp_path):
    write(
        tmp_path / "code",
        {
            ".gitignore": "*.log\nbuild/\n",
            "train.py": "",
            "run.log": "",
            "build/x.py": "",
            "pkg/.amlignore": "secret.txt\n/local_only/\n",
            "pkg/secret.txt": "",
            "pkg/mod.py": "",
            "pkg/debug.log": "",
            "pkg/local_only/a.py": "",
            "pkg/sub/local_only/b.py": "",
        },
    )
    shutil.rmtree(tmp_path / "code" / ".git")
    files = [p.as_posix() for p in snapshot_files(tmp_path / "code")]
    # pkg/.amlignore adds to the rules above it; anchored patterns are relative to its folder
    assert files == [
        ".gitignore",
        "pkg/.amlignore",
        "pkg/mod.py",
        "pkg/sub/local_only/b.py",
        "train.py",
    ]


def test_tracking_server_serves_the_store_is_reused_and_stops_when_idle(tmp_path, monkeypatch):
    import time

    from mlflow.tracking import MlflowClient

    from amlctl.local_run.tracking_server import (
        RestClient,
        TrackingError,
        ensure_server,
        state_file_for,
    )

    monkeypatch.setenv("AMLCTL_TRACKING_IDLE_SECONDS", "2")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    url = ensure_server(uri, tmp_path)
    assert url.startswith("http://127.0.0.1:")
    client = RestClient(url)
    experiment = client.experiment_id("served", None)
    run_id = client.create_run(experiment, "r", {"local_run.step": "s"})
    client.log_batch(run_id, metrics={"loss": 0.5}, params={"lr": 0.1})
    assert client.run_metrics(run_id) == {"loss": 0.5}
    assert ensure_server(uri, tmp_path) == url  # a second run finds the same server
    # the file holds what was sent over REST, readable by MLflow directly
    stored = MlflowClient(uri).get_run(run_id)
    assert stored.data.params == {"lr": "0.1"} and stored.data.metrics == {"loss": 0.5}
    state = state_file_for(uri, tmp_path)
    deadline = time.monotonic() + 30
    while state.exists() and time.monotonic() < deadline:  # removed by the server as it stops
        time.sleep(0.5)
    assert not state.exists(), "the tracking server did not stop after 2 idle seconds"
    with pytest.raises(TrackingError):
        client.call("experiments/search", {"max_results": 1})


def test_steps_send_no_mlflow_telemetry_unless_told_to(tmp_path, monkeypatch):
    """MLflow 3's telemetry thread races a step's requests offline; local runs turn it off."""
    pipeline = """
    type: pipeline
    jobs:
      quiet:
        command: echo "telemetry off=$MLFLOW_DISABLE_TELEMETRY"
        environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
      told:
        command: echo "telemetry off=$MLFLOW_DISABLE_TELEMETRY"
        environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
        environment_variables:
          MLFLOW_DISABLE_TELEMETRY: "false"
    """
    monkeypatch.delenv("MLFLOW_DISABLE_TELEMETRY", raising=False)
    root = write(tmp_path / "repo", {"telemetry.yml": pipeline})
    code, out = run(root / "telemetry.yml")
    assert code == 0, out
    assert "[quiet] telemetry off=true" in out
    assert "[told] telemetry off=false" in out


def test_a_conda_python_pin_is_found_by_its_major_minor_prefix(tmp_path, monkeypatch):
    """`python=3.7.6` in a conda file wants a 3.7 interpreter (`python3.7`, not `python3.7.6`),
    one that answers as 3.7: a pyenv shim for a version pyenv does not have active fails, so
    pyenv's versions folder is looked in too."""
    from amlctl.local_run import envs

    bin_dir, pyenv = tmp_path / "bin", tmp_path / "pyenv"
    bin_dir.mkdir()
    for name, script in {
        "python3.7": "#!/bin/sh\necho 3.7\n",
        "python3.8": "#!/bin/sh\necho 'pyenv: python3.8: command not found' >&2; exit 127\n",
        "python3.6": "#!/bin/sh\necho 'pyenv: python3.6: command not found' >&2; exit 127\n",
    }.items():
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    installed = pyenv / "versions" / "3.6.15" / "bin" / "python3.6"
    installed.parent.mkdir(parents=True)
    installed.write_text("#!/bin/sh\necho 3.6\n")
    installed.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("PYENV_ROOT", str(pyenv))
    assert envs.python_prefix("3.7.6") == "3.7"
    assert envs.python_prefix("3.10.*") == "3.10"
    assert envs.find_python("3.7.6", None, None) == str(bin_dir / "python3.7")
    assert envs.find_python("3.6", None, None) == str(installed)  # the shim fails, pyenv's not
    assert not envs._python_available("3.8.1")


def test_uv_comes_with_amlctl():
    """A conda-file environment builds with nothing but amlctl installed."""
    from importlib.metadata import requires

    from amlctl.local_run import envs

    assert any(r.startswith("uv") for r in requires("amlctl") or [])
    uv = envs.uv_binary()
    assert uv is not None and Path(uv).is_file()


def fake_wheel(folder: Path, version: str) -> Path:
    """A pure-Python wheel of a fake `pycep-parser` (module `pycep`, which amlctl's own
    environment holds at another version) at ``version``, built offline."""
    import base64
    import hashlib
    import zipfile

    dist = f"pycep_parser-{version}"
    files = {
        "pycep/__init__.py": f"__version__ = {version + '-fake'!r}\n",
        f"{dist}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: pycep-parser\nVersion: {version}\n"
        ),
        f"{dist}.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{dist}.dist-info/RECORD,,")
    files[f"{dist}.dist-info/RECORD"] = "\n".join(record) + "\n"
    path = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def tool_freeze() -> str:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--all"], capture_output=True, text=True, check=True
    )
    return done.stdout


def test_a_steps_pip_install_changes_neither_amlctl_nor_a_concurrent_trial(tmp_path):
    """Each trial installs its own pycep-parser version and reads it back; amlctl's stays."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for version in ("0.0.1", "0.0.2", "0.0.3"):
        fake_wheel(wheels, version)
    root = write(
        tmp_path / "repo",
        {
            "pipeline.yml": f"""
            type: pipeline
            jobs:
              tune:
                type: sweep
                trial:
                  type: command
                  command: >-
                    pip install -q --no-index --find-links {wheels}
                    pycep-parser==0.0.${{{{inputs.v}}}}
                    && python -c "import pycep; print('installed', pycep.__version__)"
                    && touch ${{{{outputs.out}}}}/done
                    && python -c "import mlflow; mlflow.log_metric('loss', ${{{{inputs.v}}}})"
                  environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
                  inputs:
                    v: {{type: integer, default: 1}}
                  outputs:
                    out: {{type: uri_folder}}
                sampling_algorithm: grid
                search_space:
                  v: {{type: choice, values: [1, 2, 3]}}
                objective: {{primary_metric: loss, goal: minimize}}
                limits: {{max_total_trials: 3, max_concurrent_trials: 3}}
            """
        },
    )
    import pycep

    before = tool_freeze()
    code, out = run(root / "pipeline.yml")
    assert code == 0, out
    assert "3 trials: 3 completed" in out or "3 completed" in out, out
    for v in (1, 2, 3):  # each trial saw the version it installed, not another trial's
        assert f"[tune/{v - 1}] installed 0.0.{v}-fake" in out, out
    assert tool_freeze() == before  # amlctl's environment is byte-for-byte what it was
    assert "-fake" not in str(getattr(pycep, "__version__", ""))
    assert "pycep-parser==0.7" in before
    assert not list((root / ".runs").rglob("env-trial-*"))  # each layer went with its trial


def test_run_refuses_a_literal_of_the_wrong_type_as_validate_does(tmp_path, capsys):
    root = write(
        tmp_path / "repo",
        {
            "pipeline.yml": """
            type: pipeline
            jobs:
              fit:
                type: command
                inputs:
                  epochs: many
                component:
                  type: command
                  inputs:
                    epochs: {type: integer, default: 3}
                  environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
                  command: echo ${{inputs.epochs}}
            """
        },
    )
    assert cli.main(["validate", str(root / "pipeline.yml")]) != 0
    said_by_validate = capsys.readouterr()
    code = cli.main(["run", str(root / "pipeline.yml"), "--local"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == "error: jobs.fit.inputs.epochs: expected integer, got string 'many'\n"
    assert "expected integer, got string 'many'" in said_by_validate.out + said_by_validate.err
    assert not (root / ".runs" / "latest").exists()  # no step ran
    # and an override is checked the same way
    code = cli.main(
        ["run", str(root / "pipeline.yml"), "--local", "--set", "jobs.fit.inputs.epochs=2"]
    )
    assert code == 0, capsys.readouterr()
