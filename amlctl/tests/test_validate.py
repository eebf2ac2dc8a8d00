"""Tests of `validate`: the project's own YAML passes; each kind of problem is caught."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from fakes.template import template_project

from amlctl.cli import guarded
from amlctl.validation.command import main, validate_project

PROJECT = template_project()


TRAIN_COMPONENT = """
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
type: command
name: train
version: "1"
inputs:
  data: {type: uri_folder}
  learning_rate: {type: number, default: 0.1}
  epochs: {type: integer, default: 3}
  early_stop: {type: boolean, default: false}
  mode: {type: string, default: fast, enum: [fast, slow]}
outputs:
  model: {type: uri_folder}
code: ./src
environment: {image: "python:3.11"}
command: >-
  python train.py --data ${{inputs.data}} --lr ${{inputs.learning_rate}}
  --epochs ${{inputs.epochs}} --early_stop ${{inputs.early_stop}} --mode ${{inputs.mode}}
  --model ${{outputs.model}}
"""

SCORE_COMPONENT = """
type: command
name: score
inputs:
  model: {type: uri_folder}
  data: {type: uri_folder}
outputs:
  metrics: {type: uri_folder}
code: ./src
environment: {image: "python:3.11"}
command: python score.py ${{inputs.model}} ${{inputs.data}} ${{outputs.metrics}}
"""

TRAINING = """
$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
settings:
  default_compute: azureml:cpu-cluster
inputs:
  raw: {type: uri_folder, path: ../data/raw}
  learning_rate: 0.05
outputs:
  metrics: {type: uri_folder}
jobs:
  train:
    type: command
    component: ../components/train/component.yml
    inputs:
      data: ${{parent.inputs.raw}}
      learning_rate: ${{parent.inputs.learning_rate}}
      epochs: 5
      early_stop: true
      mode: slow
  score:
    type: command
    component: ../components/score/component.yml
    inputs:
      model: ${{parent.jobs.train.outputs.model}}
      data: ${{parent.inputs.raw}}
    outputs:
      metrics: ${{parent.outputs.metrics}}
"""

SWEEP = """
type: pipeline
settings:
  default_compute: azureml:cpu-cluster
inputs:
  raw: {type: uri_folder, path: ../data/raw}
jobs:
  tune:
    type: sweep
    trial: ../components/train/component.yml
    inputs:
      data: ${{parent.inputs.raw}}
    search_space:
      learning_rate: {type: loguniform, min_value: -4, max_value: -1}
      epochs: {type: choice, values: [1, 2, 4]}
    objective: {primary_metric: val_score, goal: maximize}
    sampling_algorithm: random
    limits: {max_total_trials: 4, max_concurrent_trials: 2}
"""

SCHEDULE = """
$schema: https://azuremlschemas.azureedge.net/latest/schedule.schema.json
name: nightly
trigger:
  type: cron
  expression: "0 2 * * 1"
create_job: ../training.yml
"""


@pytest.fixture
def project(tmp_path) -> Path:
    """A small valid project: two components, a pipeline, a sweep pipeline and a schedule."""
    root = tmp_path / "project"
    for name, text in (("train", TRAIN_COMPONENT), ("score", SCORE_COMPONENT)):
        (root / "components" / name / "src").mkdir(parents=True)
        (root / "components" / name / "src" / f"{name}.py").write_text("print('hi')\n")
        (root / "components" / name / "component.yml").write_text(text)
    (root / "data" / "raw").mkdir(parents=True)
    (root / "data" / "raw" / "a.csv").write_text("x\n1\n")
    (root / "pipelines" / "schedules").mkdir(parents=True)
    (root / "pipelines" / "training.yml").write_text(TRAINING)
    (root / "pipelines" / "sweep.yml").write_text(SWEEP)
    (root / "pipelines" / "schedules" / "nightly.yml").write_text(SCHEDULE)
    (root / "pyproject.toml").write_text("[project]\nname = 'fixture'\n")
    return root


def edit(project: Path, file: str, old: str, new: str) -> None:
    path = project / file
    text = path.read_text()
    assert old in text, f"fixture text not found: {old}"
    path.write_text(text.replace(old, new, 1))


def reported(project: Path) -> list[str]:
    problems, _ = validate_project(project)
    return [str(p) for p in problems]


def errors(project: Path) -> list[str]:
    problems, _ = validate_project(project)
    return [str(p) for p in problems if p.severity == "error"]


def test_valid_fixture_passes(project, capsys):
    assert reported(project) == []
    assert guarded(main, argparse.Namespace(root=project, files=[])) == 0
    assert "5 files checked" in capsys.readouterr().out


def test_this_project_passes():
    problems, checked = validate_project(PROJECT)
    assert [str(p) for p in problems if p.severity == "error"] == []
    assert checked >= 3


def test_binding_to_a_missing_pipeline_input(project):
    edit(
        project,
        "pipelines/training.yml",
        "${{parent.inputs.learning_rate}}",
        "${{parent.inputs.nope}}",
    )
    found = errors(project)
    assert len(found) == 1
    assert found[0].startswith(
        "pipelines/training.yml: jobs.train.inputs.learning_rate: no pipeline input 'nope'"
    )


def test_binding_to_a_missing_step_output(project):
    edit(project, "pipelines/training.yml", "train.outputs.model", "train.outputs.nope")
    assert errors(project) == [
        "pipelines/training.yml: jobs.score.inputs.model: "
        "no output of job train 'nope' (known: model)"
    ]


def test_binding_to_a_missing_step(project):
    edit(
        project, "pipelines/training.yml", "parent.jobs.train.outputs", "parent.jobs.trian.outputs"
    )
    found = errors(project)
    assert found == [
        "pipelines/training.yml: jobs.score.inputs.model: no job 'trian' (known: score, train)"
    ]


def test_node_input_the_component_does_not_declare(project):
    edit(project, "pipelines/training.yml", "      epochs: 5", "      epochs: 5\n      batch: 32")
    assert errors(project) == [
        "pipelines/training.yml: jobs.train.inputs.batch: no input of component train 'batch' "
        "(known: data, early_stop, epochs, learning_rate, mode)"
    ]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "epochs: 5",
            "epochs: many",
            "jobs.train.inputs.epochs: expected integer, got string 'many'",
        ),
        ("epochs: 5", "epochs: 2.5", "jobs.train.inputs.epochs: expected integer, got number 2.5"),
        (
            "early_stop: true",
            "early_stop: 'yes'",
            "jobs.train.inputs.early_stop: expected boolean, got string 'yes'",
        ),
        ("mode: slow", "mode: medium", "jobs.train.inputs.mode: 'medium' is not one of fast, slow"),
    ],
)
def test_literal_of_the_wrong_type(project, old, new, message):
    edit(project, "pipelines/training.yml", old, new)
    assert errors(project) == [f"pipelines/training.yml: {message}"]


def test_string_where_a_number_is_expected_through_a_pipeline_input(project):
    edit(project, "pipelines/training.yml", "learning_rate: 0.05", "learning_rate: fast")
    assert errors(project) == [
        "pipelines/training.yml: inputs.learning_rate: expected number, got string 'fast' "
        "(bound to jobs.train.inputs.learning_rate)"
    ]


def test_string_in_a_sweep_search_space(project):
    edit(project, "pipelines/sweep.yml", "values: [1, 2, 4]", "values: [1, two, 4]")
    assert errors(project) == [
        "pipelines/sweep.yml: jobs.tune.search_space.epochs.values[1]: "
        "expected integer, got string 'two'"
    ]


def test_search_space_over_an_input_the_component_lacks(project):
    edit(project, "pipelines/sweep.yml", "epochs: {type: choice", "epoch: {type: choice")
    found = errors(project)
    assert found == [
        "pipelines/sweep.yml: jobs.tune.search_space.epoch: no input of component train 'epoch' "
        "(known: data, early_stop, epochs, learning_rate, mode)"
    ]


def test_required_component_input_left_unbound(project):
    edit(
        project,
        "pipelines/training.yml",
        "      data: ${{parent.inputs.raw}}\n    outputs",
        "    outputs",
    )
    found = errors(project)
    assert len(found) == 1
    assert found[0].startswith("pipelines/training.yml: jobs.score.inputs.data: ")
    assert "'data'" in found[0] and "not" in found[0]


def test_unused_pipeline_input_is_a_warning_only(project, capsys):
    edit(
        project,
        "pipelines/training.yml",
        "  learning_rate: 0.05",
        "  learning_rate: 0.05\n  spare: 1",
    )
    assert reported(project) == [
        "pipelines/training.yml: inputs.spare: warning: pipeline input is not used by any job"
    ]
    assert guarded(main, argparse.Namespace(root=project, files=[])) == 0
    assert "0 errors, 1 warnings" in capsys.readouterr().out


SCORE_FROM_REGISTRY = """
type: pipeline
settings:
  default_compute: azureml:cpu-cluster
inputs:
  model:
    type: mlflow_model
    path: azureml://registries/mlr-shared/models/churn-model/labels/latest
  raw: {type: uri_folder, path: azureml://registries/mlr-shared/data/raw/versions/3}
jobs:
  score:
    type: command
    component: azureml://registries/mlr-shared/components/score/versions/0a1b2c3d4e5f
    inputs:
      model: ${{parent.inputs.model}}
      data: ${{parent.inputs.raw}}
"""


def test_registry_references_are_accepted(project):
    """What prod runs: components, models and data of an Azure ML registry (promote)."""
    (project / "pipelines" / "score.yml").write_text(SCORE_FROM_REGISTRY)
    assert errors(project) == []


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        (
            "registries/mlr-shared/components",
            "registry/mlr-shared/components",
            "jobs.score.component",
        ),
        ("components/score/versions/0a1b2c3d4e5f", "components/score", "jobs.score.component"),
        ("mlr-shared/components/score", "mlr-shared/models/score", "jobs.score.component"),
        ("models/churn-model/labels/latest", "models/churn-model", "inputs.model"),
        ("mlr-shared/data/raw", "m/data/raw", "inputs.raw"),
    ],
)
def test_a_malformed_registry_reference_is_named(project, old, new, field):
    (project / "pipelines" / "score.yml").write_text(SCORE_FROM_REGISTRY.replace(old, new))
    found = errors(project)
    assert len(found) == 1, found
    assert found[0].startswith(f"pipelines/score.yml: {field}: ")
    assert "is not a registry reference of the form azureml://registries/<registry>/" in found[0]


def test_yaml_syntax_error_is_a_problem_not_a_traceback(project, capsys):
    (project / "components" / "score" / "component.yml").write_text("type: command\ninputs: [\n")
    found = errors(project)
    assert any(
        f.startswith("components/score/component.yml: line 3: YAML syntax error") for f in found
    )
    assert guarded(main, argparse.Namespace(root=project, files=[])) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err


def test_schema_error_is_reported_with_its_field(project):
    edit(
        project, "components/train/component.yml", "epochs: {type: integer", "epochs: {type: integr"
    )
    found = errors(project)
    assert any(f.startswith("components/train/component.yml: inputs.epochs") for f in found), found


def test_schedule_pointing_at_a_broken_pipeline_is_reported(project):
    edit(
        project,
        "pipelines/schedules/nightly.yml",
        "create_job: ../training.yml",
        "create_job: ../nope.yml",
    )
    found = errors(project)
    assert len(found) == 1 and found[0].startswith("pipelines/schedules/nightly.yml: ")


def test_every_problem_is_reported_at_once(project, capsys):
    edit(project, "pipelines/training.yml", "epochs: 5", "epochs: many")
    edit(project, "pipelines/training.yml", "train.outputs.model", "train.outputs.nope")
    edit(project, "pipelines/sweep.yml", "values: [1, 2, 4]", "values: [1, two, 4]")
    (project / "components" / "extra").mkdir()
    (project / "components" / "extra" / "component.yml").write_text("inputs: [\n")
    assert guarded(main, argparse.Namespace(root=project, files=[])) == 1
    out = capsys.readouterr().out
    for expected in (
        "pipelines/training.yml: jobs.train.inputs.epochs: expected integer, got string 'many'",
        "pipelines/training.yml: jobs.score.inputs.model: no output of job train 'nope'",
        "pipelines/sweep.yml: jobs.tune.search_space.epochs.values[1]: expected integer",
        "components/extra/component.yml: line 2: YAML syntax error",
    ):
        assert expected in out
    assert "errors" in out.splitlines()[-1]


def online_copy(tmp_path: Path) -> Path:
    """The baked template's project (it has deploy/online), copied so a test may break it."""
    import shutil

    copy = tmp_path / "online"
    shutil.copytree(PROJECT, copy, ignore=shutil.ignore_patterns(".venv", ".runs", ".git"))
    return copy


def test_online_endpoint_deployment_and_monitor_are_validated(tmp_path):
    project = online_copy(tmp_path)
    problems, _ = validate_project(project)
    assert [str(p) for p in problems if p.severity == "error"] == []
    from amlctl.validation.command import project_files

    kinds = {path.name: kind for kind, path in project_files(project) if "deploy" in path.parts}
    assert kinds == {
        "endpoint.yml": "online_endpoint",
        "deployment.yml": "online_deployment",
        "monitor.yml": "schedule",
    }


@pytest.mark.parametrize(
    ("file", "old", "new", "field"),
    [
        ("endpoint.yml", "\nauth_mode: key", "\nauth_mode: password", "auth_mode"),
        (
            "deployment.yml",
            "request_timeout_ms: 5000",
            "request_timeout_ms: soon",
            "request_settings",
        ),
        ("deployment.yml", "  period: 10\n", "  period: often\n", "liveness_probe"),
        ("monitor.yml", "type: prediction_drift", "type: prediction_drfit", "create_monitor"),
    ],
)
def test_a_broken_online_file_is_reported_with_its_field(tmp_path, file, old, new, field):
    project = online_copy(tmp_path)
    path = project / "deploy" / "online" / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    found = errors(project)
    assert len(found) >= 1, found
    assert all(f.startswith(f"deploy/online/{file}: ") for f in found), found
    assert any(field in f for f in found), found


def repeated_nodes(count: int, extra: dict[int, list[str]]) -> str:
    """A pipeline of ``count`` train steps in a chain; ``extra[i]`` adds lines to node i
    (-1: to every node)."""
    lines = [
        "type: pipeline",
        "settings:",
        "  default_compute: azureml:cpu-cluster",
        "inputs:",
        "  raw: {type: uri_folder, path: ../data/raw}",
        "jobs:",
    ]
    for index in range(count):
        data = (
            "${{parent.inputs.raw}}"
            if index == 0
            else f"${{{{parent.jobs.t{index - 1}.outputs.model}}}}"
        )
        lines += [
            f"  t{index}:",
            "    type: command",
            "    component: ../components/train/component.yml",
            "    inputs:",
            f"      data: {data}",
            f"      epochs: {index + 1}",
        ]
        lines += ["    " + line for line in extra.get(index, []) + extra.get(-1, [])]
    return "\n".join(lines) + "\n"


def each_node_on_its_own(spec, base, read, valid_name=None):
    return spec, {name: name for name in spec.get("jobs") or {}}


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {-1: ["resources: {instance_count: x}"]},  # the SDK's schema, on every node
        {-1: ["outputs: {model: {type: uri_folder, mode: bogus}}"]},
        {4: ["compute: 5"], 9: ["limits: {timeout: abc}"]},  # the SDK's, on one node each
        {3: ["  mode: medium"], 7: ["  early_stop: 'yes'"]},  # literals, on one node each
        {6: ["  learning_rate: ${{parent.jobs.nowhere.outputs.model}}"]},  # a binding
        {8: ["  batch: 32"]},  # an input the component lacks
    ],
    ids=[
        "valid",
        "sdk-all",
        "sdk-output-all",
        "sdk-one",
        "literal-one",
        "binding-one",
        "input-one",
    ],
)
def test_nodes_checked_once_per_kind_report_what_checking_each_reports(project, monkeypatch, extra):
    """validate hands azure-ai-ml one node per kind (pipeline/representatives.py): what it
    reports must be exactly what handing it every node reports, node by node."""
    (project / "pipelines" / "many.yml").write_text(repeated_nodes(12, extra))
    once_per_kind = reported(project)
    monkeypatch.setattr("amlctl.pipeline.representatives.representatives", each_node_on_its_own)
    assert once_per_kind == reported(project)
    assert bool(extra) == any("many.yml" in line for line in once_per_kind)


AUTOML_IMAGE = """
type: pipeline
settings: {default_compute: azureml:gpu-cluster}
inputs:
  train: {type: mltable, path: ../data/raw}
  valid: {type: mltable, path: ../data/raw}
jobs:
  images:
    type: automl
    task: image_object_detection
    primary_metric: mean_average_precision
    target_column_name: label
    training_data: ${{parent.inputs.train}}
    validation_data: ${{parent.inputs.valid}}
    limits: {max_trials: 4}
    sweep: {sampling_algorithm: random}
    search_space:
      - model_name: {type: choice, values: [yolov5]}
        learning_rate: {type: uniform, min_value: 0.0001, max_value: 0.01}
      - model_name: {type: choice, values: [fasterrcnn_resnet50_fpn]}
        optimizer: {type: choice, values: [sgd, adam]}
    outputs:
      best_model: {type: mlflow_model}
"""


def test_automl_search_space_list_and_data_bindings(project):
    """An AutoML image node's search_space is a list of spaces (no TypeError); its data
    fields bind pipeline inputs: they count as used, and a missing one is an error."""
    (project / "pipelines" / "images.yml").write_text(AUTOML_IMAGE)
    assert reported(project) == []
    edit(project, "pipelines/images.yml", "parent.inputs.valid", "parent.inputs.validation")
    assert reported(project) == [
        "pipelines/images.yml: jobs.images.validation_data: no pipeline input 'validation' "
        "(known: train, valid)",
        "pipelines/images.yml: inputs.valid: warning: pipeline input is not used by any job",
    ]
