"""Pipelines written in Python (@dsl.pipeline): the same graph, runs, checks and calls as YAML.

Each Python pipeline here is the twin of a YAML fixture pipeline of test_local_run (chain,
sweep, parallel) or of the cloud fixture project (training); the tests compare what the tool
makes of the two, and check the one-line errors for the ways a Python file can be wrong.
"""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
from fakes.ml import FakeMLClient
from test_local_run import (  # noqa: F401 (shared_tracking: the autouse MLflow fixture)
    CHAIN,
    PARALLEL_COMPONENT,
    SWEEP_COMPONENT,
    SWEEP_PIPELINE,
    TRIAL_SCRIPT,
    calls,
    make_project,
    parallel_project,
    reset_calls,
    shared_tracking,
)

from amlctl import cli
from amlctl.cli import guarded
from amlctl.cloud import publish, submit
from amlctl.cloud.assets import discover
from amlctl.local_run import command as run_command
from amlctl.pipeline import source as pipeline_source
from amlctl.pipeline.loader import load_pipeline
from amlctl.project import ProjectError
from amlctl.validation.command import validate_project

HEAD = """
from pathlib import Path

from azure.ai.ml import Input, dsl, load_component

PROJECT = Path(__file__).resolve().parents[1]
COMPONENTS = PROJECT / "components"
"""

CHAIN_PY = (
    HEAD
    + """
a_component = load_component(source=COMPONENTS / "a" / "component.yml")
b_component = load_component(source=COMPONENTS / "b" / "component.yml")
c_component = load_component(source=COMPONENTS / "c" / "component.yml")


@dsl.pipeline(display_name="chain", experiment_name="chain")
def chain(raw: Input, factor: float = 2.0, threshold: float = 0.5, label: str = "first"):
    a = a_component(data=raw, factor=factor)
    b = b_component(data=a.outputs.out, label=label)
    c_component(data=b.outputs.out, factor=threshold).name = "c"


pipeline_job = chain(raw=Input(type="uri_folder", path=str(PROJECT / "data" / "raw")))
"""
)

SWEEP_PY = (
    HEAD
    + """
from azure.ai.ml.sweep import Choice, Uniform

trial = load_component(source=COMPONENTS / "trial" / "component.yml")
a_component = load_component(source=COMPONENTS / "a" / "component.yml")


@dsl.pipeline(display_name="sweep", experiment_name="sweep")
def tuned():
    tune = trial(lr=Uniform(min_value=0.0, max_value=1.0), depth=Choice(values=[1, 2, 3])).sweep(
        primary_metric="score", goal="maximize", sampling_algorithm="random"
    )
    tune.set_limits(max_total_trials=3, max_concurrent_trials=2, timeout=600)
    report = a_component(data=tune.outputs.out)
    report.name = "report"
"""
)


def graph_of(path: Path | str) -> dict:
    """The graph the runner builds, without what names the file it came from."""
    data = load_pipeline(Path(path)).to_json()
    for key in ("path", "sources"):
        data.pop(key)
    for step in data["steps"].values():
        step["component"].pop("source")
    return data


@pytest.fixture
def chain(tmp_path) -> Path:
    return make_project(
        tmp_path / "project",
        {"a": True, "b": True, "c": True},
        {"chain.yml": CHAIN, "chain.py": CHAIN_PY},
    )


def run(project: Path, pipeline: str, *overrides: str) -> tuple[int, str]:
    stream = io.StringIO()
    code = run_command.run_pipeline(
        project / "pipelines" / pipeline, list(overrides), stream=stream
    )
    return code, stream.getvalue()


def metrics_block(out: str) -> str:
    return out[out.index("metrics of") :]


# -- the same graph, the same run -----------------------------------------------------------


def test_python_and_yaml_chain_build_the_same_graph(chain):
    yaml_graph = graph_of(chain / "pipelines" / "chain.yml")
    assert yaml_graph == graph_of(chain / "pipelines" / "chain.py")
    assert list(yaml_graph["steps"]) == ["a", "b", "c"]
    assert graph_of(f"{chain / 'pipelines' / 'chain.py'}:pipeline_job") == yaml_graph


def test_python_pipeline_reuses_the_yaml_runs_cache_and_prints_the_same_metrics(chain, tmp_path):
    code, by_yaml = run(chain, "chain.yml")
    assert code == 0, by_yaml
    reset_calls(tmp_path)

    code, by_python = run(chain, "chain.py")

    assert code == 0, by_python
    assert calls(tmp_path) == []  # every step reused: the same cache keys
    assert by_python.count("-- cached") == 3
    assert metrics_block(by_python) == metrics_block(by_yaml)


def test_python_pipeline_set_overrides_rerun_only_what_changed(chain, tmp_path):
    assert run(chain, "chain.py")[0] == 0
    reset_calls(tmp_path)
    code, out = run(chain, "chain.py", "threshold=0.75")
    assert code == 0, out
    assert calls(tmp_path) == ["c"]


def test_editing_the_python_file_rebuilds_the_graph(chain):
    path = chain / "pipelines" / "chain.py"
    cache = chain / ".runs" / "graphs"
    assert load_pipeline(path, cache).inputs["label"]["value"] == "first"
    path.write_text(path.read_text().replace('label: str = "first"', 'label: str = "second"'))
    assert load_pipeline(path, cache).inputs["label"]["value"] == "second"


def test_python_sweep_builds_the_same_graph_and_runs(tmp_path):
    project = make_project(
        tmp_path / "p", {"a": True}, {"sweep.yml": SWEEP_PIPELINE, "sweep.py": SWEEP_PY}
    )
    folder = project / "components" / "trial"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "trial.py").write_text(TRIAL_SCRIPT)
    (folder / "component.yml").write_text(SWEEP_COMPONENT)
    by_yaml, by_python = (
        graph_of(project / "pipelines" / "sweep.yml"),
        graph_of(project / "pipelines" / "sweep.py"),
    )
    assert by_python["steps"]["tune"]["sweep"] == by_yaml["steps"]["tune"]["sweep"]
    assert by_python["steps"] == by_yaml["steps"]
    code, out = run(project, "sweep.py")
    assert code == 0, out
    assert out.count("] lr=") == 3  # max_total_trials
    assert "best trial" in out


def test_python_parallel_builds_the_same_graph_and_runs(tmp_path):
    project = parallel_project(tmp_path, {"1.txt": "ok", "2.txt": "ok"}, error_threshold=1)
    (project / "pipelines" / "score.py").write_text(
        HEAD
        + textwrap.dedent(
            f"""
            scorer = load_component(source=COMPONENTS / "scorer" / "component.yml")


            @dsl.pipeline()
            def scoring(items: Input):
                score = scorer(data=items, marker_dir={str(tmp_path)!r})
                score.error_threshold = 1


            job = scoring(items=Input(type="uri_folder", path=str(PROJECT / "data" / "items")))
            """
        )
    )
    assert PARALLEL_COMPONENT  # the component both pipelines use
    by_yaml = graph_of(project / "pipelines" / "score.yml")
    assert graph_of(project / "pipelines" / "score.py")["steps"] == by_yaml["steps"]
    code, out = run(project, "score.py")
    assert code == 0, out
    rows = project / ".runs" / "latest" / "score" / "outputs" / "scores" / "parallel_run_step.txt"
    assert sorted(rows.read_text().splitlines()) == ["local,1.txt,ok", "local,2.txt,ok"]


def test_validate_reports_the_same_problems_for_the_python_and_the_yaml_pipeline(chain):
    def problems_of(name: str) -> list[str]:
        problems, _ = validate_project(chain)
        return sorted(
            str(p).removeprefix(f"pipelines/{name}: ")
            for p in problems
            if p.file == f"pipelines/{name}"
        )

    # the fixture sets no compute: the SDK's validation says so for both, and nothing else
    assert problems_of("chain.py") == problems_of("chain.yml") != []
    path = chain / "pipelines" / "chain.py"
    path.write_text(CHAIN_PY.replace("factor=threshold", 'factor="high"'))
    assert set(problems_of("chain.py")) - set(problems_of("chain.yml")) == {
        "jobs.c.inputs.factor: expected number, got string 'high'",
        "inputs.threshold: warning: pipeline input is not used by any job",
    }
    path.write_text(CHAIN_PY.replace("label=label)", "lable=label)"))
    (load_problem,) = set(problems_of("chain.py")) - set(problems_of("chain.yml"))
    assert load_problem.startswith(f"(load): {path}:17: raised on import of")
    assert "got an unexpected keyword argument 'lable'" in load_problem


# -- bad input: one line each ---------------------------------------------------------------


def cli_run(capsys, target: Path | str) -> tuple[int, str]:
    code = cli.main(["run", str(target), "--local"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        (
            "import os\n\nraise RuntimeError('no data in ' + os.sep)\n",
            "bad.py",
            "bad.py:3: raised on import of pipelines/bad.py: RuntimeError: no data in /",
        ),
        (
            CHAIN_PY,
            "bad.py:chian",
            "no pipeline function or job 'chian' (pipeline functions "
            "and jobs: pipeline_job, chain)",
        ),
        (
            CHAIN_PY,
            "bad.py:Path",
            "'Path' is a type, not a @dsl.pipeline function or a pipeline job",
        ),
        ("x = 1\n", "bad.py", "defines no @dsl.pipeline function and no module-level pipeline job"),
        (
            CHAIN_PY,
            "bad.py:chain",
            "pipeline function chain is called without arguments, but raw has no default; give "
            "it one, or name a pipeline job: pipelines/bad.py:pipeline_job",
        ),
        ("def broken(:\n", "bad.py", "SyntaxError: invalid syntax"),
        (
            "from __future__ import annotations\n" + CHAIN_PY,
            "bad.py",
            "Unsupported annotation type 'Input' for parameter 'raw' (annotations are strings "
            "under `from __future__ import annotations`: remove that import from this file)",
        ),
    ],
    ids=[
        "raises",
        "missing-name",
        "not-a-pipeline",
        "no-pipeline",
        "no-default",
        "syntax",
        "future-annotations",
    ],
)
def test_a_bad_python_pipeline_is_one_line(chain, monkeypatch, capsys, source, target, message):
    (chain / "pipelines" / "bad.py").write_text(source)
    monkeypatch.chdir(chain)
    code, err = cli_run(capsys, Path("pipelines") / target)
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: ")
    assert message in err
    assert not (chain / ".runs" / "latest").exists()  # nothing ran


COMPONENT_PY = """
from mldesigner import Input, Output, command_component


@command_component(name="tidy")
def tidy(raw: Input(type="uri_folder"), out: Output(type="uri_folder"), options: dict = None):
    print(raw, out, options)
"""


def test_a_component_function_with_an_unsupported_parameter_type_is_one_line(
    chain, monkeypatch, capsys
):
    pytest.importorskip("mldesigner", reason="mldesigner is in amlctl's test extra")
    (chain / "components" / "tidy").mkdir()
    (chain / "components" / "tidy" / "component.py").write_text(COMPONENT_PY)
    (chain / "pipelines" / "tidy.py").write_text(
        "import sys\nfrom pathlib import Path\n\n"
        "sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'components' / 'tidy'))\n"
        "from component import tidy  # noqa: E402\n"
    )
    monkeypatch.chdir(chain)
    code, err = cli_run(capsys, "pipelines/tidy.py")
    assert code == 2
    assert err.strip() == (
        "error: components/tidy/component.py:5: Unsupported annotation type dict for parameter "
        "'options' (a parameter is one of int, float, bool, str, Input(...) or Output(...))"
    )


def test_a_program_missing_on_this_machine_stops_the_run_before_any_step(chain, tmp_path):
    folder = chain / "components" / "fit"
    (folder / "src").mkdir(parents=True)
    (folder / "component.yml").write_text(
        "type: command\nname: fit\ninputs:\n  data: {type: uri_folder}\n"
        "outputs:\n  model: {type: uri_folder}\ncode: ./src\n"
        "environment: {image: 'rocker/r-ver:4.4'}\n"
        "command: amlctl-test-no-such-program fit.R ${{inputs.data}} ${{outputs.model}}\n"
    )
    (chain / "pipelines" / "fit.py").write_text(
        HEAD
        + textwrap.dedent(
            """
            fit = load_component(source=COMPONENTS / "fit" / "component.yml")
            a_component = load_component(source=COMPONENTS / "a" / "component.yml")


            @dsl.pipeline()
            def fitting(raw: Input):
                a = a_component(data=raw)
                fit(data=a.outputs.out)


            job = fitting(raw=Input(type="uri_folder", path=str(PROJECT / "data" / "raw")))
            """
        )
    )
    with pytest.raises(ProjectError) as raised:
        run(chain, "fit.py")
    assert str(raised.value) == (
        "jobs.fit: program 'amlctl-test-no-such-program' is not installed on this machine "
        "(not found in amlctl's environment or PATH); install it, or run the pipeline in "
        "Azure ML with `submit`"
    )
    assert calls(tmp_path) == []  # not even the step before it ran


def test_a_program_beside_amlctl_is_found_without_the_environment_on_path(tmp_path, monkeypatch):
    """`.venv/bin/amlctl run` with the venv not activated finds `.venv/bin/mldesigner`."""
    from amlctl.local_run import command

    tool_bin = tmp_path / "venv" / "bin"
    tool_bin.mkdir(parents=True)
    program = tool_bin / "amlctl-test-beside-the-tool"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setattr(command.sys, "executable", str(tool_bin / "python"))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert command.find_program("amlctl-test-beside-the-tool") == str(program)
    assert command.find_program("sh") is not None  # PATH still counts
    monkeypatch.setattr(command.sys, "executable", "/usr/bin/python3")
    assert command.find_program("amlctl-test-beside-the-tool") is None


def test_parse_names_a_function_only_in_python_files():
    assert pipeline_source.parse("p/training.py:training") == pipeline_source.PipelineFile(
        Path("p/training.py"), "training"
    )
    assert pipeline_source.parse("p/training.yml").name is None
    assert pipeline_source.parse("C:/p/training.py").name is None  # a drive, not a name


# -- submit and publish ---------------------------------------------------------------------

TRAINING_PY = (
    HEAD
    + """
prep_component = load_component(source=COMPONENTS / "prep" / "component.yml")
train_component = load_component(source=COMPONENTS / "train" / "component.yml")


@dsl.pipeline(experiment_name="training", default_compute="azureml:cpu-cluster")
def training(raw_data: Input, n_estimators: int = 10):
    prep = prep_component(raw_data=raw_data)
    train = train_component(train_data=prep.outputs.out, n_estimators=n_estimators)
    train.name = "train"


pipeline_job = training(raw_data=Input(type="uri_folder", path="azureml:fixture-raw@latest"))
"""
)


def sent_job(project: Path, pipeline: str, *overrides: str) -> object:
    ml_client = FakeMLClient(job_statuses=["Completed"])
    arguments = SimpleNamespace(
        env="dev", pipeline=pipeline, overrides=list(overrides), wait=True, experiment=None
    )
    assert guarded(submit.main, arguments, ml_client=ml_client) == 0
    (sent,) = ml_client.jobs.submitted.values()
    return sent.job


def test_submit_sends_the_same_job_for_the_python_and_the_yaml_pipeline(project):
    (project / "pipelines" / "training.py").write_text(TRAINING_PY)
    by_yaml = sent_job(project, "training", "n_estimators=5")
    by_python = sent_job(project, "training.py", "n_estimators=5")

    registered = {asset.name: asset.reference for asset in discover(project)}
    for job in (by_yaml, by_python):
        assert {name: str(node.component) for name, node in job.jobs.items()} == {
            "prep": registered["prep"].removeprefix("azureml:"),
            "train": registered["train"].removeprefix("azureml:"),
        }
        assert job.experiment_name == "training"
        assert job.settings.default_compute == "cpu-cluster"
    assert json.dumps(by_python._to_dict()["inputs"], sort_keys=True) == json.dumps(
        by_yaml._to_dict()["inputs"], sort_keys=True
    )


@pytest.mark.parametrize("pipeline", ["pipelines/training.py", "pipelines/training.yml"])
def test_publish_publishes_a_pipeline_job_file_as_the_pipeline_component(project, pipeline):
    (project / "pipelines" / "training.py").write_text(TRAINING_PY)
    ml_client = FakeMLClient()
    arguments = SimpleNamespace(env="dev", pipeline=Path(pipeline))

    assert guarded(publish.main, arguments, ml_client=ml_client) == 0

    (pipeline,) = ml_client.components.store["training_pipeline"].values()
    registered = {asset.name: asset.version for asset in discover(project)}
    assert {name: str(node.component) for name, node in pipeline.jobs.items()} == {
        "prep": f"prep:{registered['prep']}",
        "train": f"train:{registered['train']}",
    }
    assert pipeline.inputs["n_estimators"].default == 10
    assert pipeline.inputs["raw_data"].type == "uri_folder"
    deployment = ml_client.batch_deployments.store[("fixture-training-dev", "training")]
    assert str(deployment.component).endswith(f"training_pipeline:{pipeline.version}")


def test_publish_versions_a_command_built_in_python_by_its_code(project, capsys):
    """An inline component (command()) is part of the pipeline component's content version."""
    code = project / "tools" / "check"
    code.mkdir(parents=True)
    (code / "check.sh").write_text("echo ok\n")
    (project / "pipelines" / "checked.py").write_text(
        HEAD
        + textwrap.dedent(
            """
            from azure.ai.ml import command
            from azure.ai.ml.entities import Environment

            prep_component = load_component(source=COMPONENTS / "prep" / "component.yml")
            check = command(
                name="check",
                code=PROJECT / "tools" / "check",
                command="bash check.sh ${{inputs.data}}",
                inputs={"data": Input(type="uri_folder")},
                environment=Environment(image="mcr.microsoft.com/azureml/minimal-ubuntu22.04-py311-cpu-inference:latest"),
            )


            @dsl.pipeline()
            def checked(raw_data: Input):
                prep = prep_component(raw_data=raw_data)
                check(data=prep.outputs.out)


            job = checked(raw_data=Input(type="uri_folder", path="azureml:fixture-raw@latest"))
            """
        )
    )
    ml_client = FakeMLClient()
    arguments = SimpleNamespace(env="dev", pipeline=Path("pipelines/checked.py"))
    assert guarded(publish.main, arguments, ml_client=ml_client) == 0
    ml_client.reset_calls()
    assert guarded(publish.main, arguments, ml_client=ml_client) == 0
    assert ml_client.writes == []  # nothing changed: nothing written

    (code / "check.sh").write_text("echo checked\n")
    assert guarded(publish.main, arguments, ml_client=ml_client) == 0
    assert ("components", "training_pipeline") in {(c.group, c.name) for c in ml_client.writes}
    assert len(ml_client.components.store["training_pipeline"]) == 2
