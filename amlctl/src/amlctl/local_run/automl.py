"""AutoML nodes run locally by a stand-in: a small scikit-learn model search.

Azure AutoML does not run outside Azure ML. So that a pipeline with an AutoML node still
runs end to end here, ``run --local`` replaces the node with a clearly labelled stand-in
(``standins/automl_search.py``) that reads the node's MLTable data, tries scikit-learn
models for the node's task (its allowed and blocked algorithms, where scikit-learn has
them) under its primary metric, validation settings and limits (``max_trials``,
``max_concurrent_trials``, ``timeout_minutes``, ``trial_timeout_minutes``, ``exit_score``),
and writes what the node writes: the best model as an MLflow model in ``best_model``, and
its metrics to MLflow. The run summary says that a stand-in ran and what it found.
"""

from __future__ import annotations

import importlib.util
import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..expressions import PARENT_OUTPUT
from ..project import ProjectError

if TYPE_CHECKING:
    from .executor import Runner, StepResult
    from .graph import Binding, Pipeline, Step

STANDIN = Path(__file__).resolve().parent / "standins" / "automl_search.py"
SUMMARY_FILE = "automl_standin.json"  # written beside the MLflow model in best_model
DATA_INPUTS = ("training_data", "validation_data", "test_data")
LOCAL_TASKS = ("classification", "regression")


def _text(value: Any) -> str | None:
    """'Accuracy' from ClassificationPrimaryMetrics.ACCURACY, 'auto' from 'auto'."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


def automl_settings(name: str, node: Any) -> dict[str, Any]:
    """What the stand-in honours of a loaded AutoML node, as JSON-friendly values."""
    task = _text(getattr(node, "task_type", None)) or ""
    task = task.lower()
    if task not in LOCAL_TASKS:
        raise ProjectError(
            f"jobs.{name}: AutoML {task or '?'} has no local stand-in (only "
            f"{' and '.join(LOCAL_TASKS)}); submit the pipeline to run it in Azure ML"
        )
    limits = getattr(node, "limits", None)
    training = getattr(node, "training", None)
    featurization = getattr(node, "featurization", None)

    def limit(key: str) -> Any:
        return getattr(limits, key, None) if limits is not None else None

    def algorithms(key: str) -> list[str] | None:
        values = getattr(training, key, None) if training is not None else None
        return [str(_text(v)) for v in values] if values else None

    column_types = getattr(featurization, "column_name_and_types", None) if featurization else None
    return {
        "task": task,
        "primary_metric": _text(getattr(node, "primary_metric", None)),
        "target_column_name": getattr(node, "target_column_name", None),
        "validation_data_size": getattr(node, "validation_data_size", None),
        "n_cross_validations": _text(getattr(node, "n_cross_validations", None)),
        "limits": {
            "max_trials": limit("max_trials"),
            "max_concurrent_trials": limit("max_concurrent_trials"),
            "timeout_minutes": limit("timeout_minutes"),
            "trial_timeout_minutes": limit("trial_timeout_minutes"),
            "exit_score": limit("exit_score"),
        },
        "allowed_training_algorithms": algorithms("allowed_training_algorithms"),
        "blocked_training_algorithms": algorithms("blocked_training_algorithms"),
        "featurization": {
            "mode": _text(getattr(featurization, "mode", None)) if featurization else "auto",
            "column_name_and_types": dict(column_types or {}),
        },
    }


def automl_step(name: str, node: Any, bind: Callable[[Any], Binding | None]) -> Step:
    """The graph step of an AutoML node: its data inputs, its outputs, its settings."""
    from .graph import Component, Step

    settings = automl_settings(name, node)
    if not settings["target_column_name"]:
        raise ProjectError(f"jobs.{name}: the AutoML node has no target_column_name")
    inputs = {}
    for key in DATA_INPUTS:
        binding = bind(getattr(node, key, None))
        if binding is not None:
            inputs[key] = binding
    if "training_data" not in inputs:
        raise ProjectError(f"jobs.{name}: the AutoML node has no training_data")
    outputs: dict[str, str | None] = {}
    for output_name, raw in (getattr(node, "outputs", None) or {}).items():
        target = getattr(raw, "_data", raw)
        match = PARENT_OUTPUT.fullmatch(str(target)) if isinstance(target, str) else None
        outputs[output_name] = match.group(1) if match else None
    outputs.setdefault("best_model", None)
    component = Component(
        name=f"automl-{settings['task']}-local-stand-in",
        kind="automl",
        command="",
        code_dir=str(STANDIN.parent),  # its code is part of the cache key
        environment="",
        inputs={
            key: {"type": "mltable", "optional": key != "training_data", "default": None}
            for key in DATA_INPUTS
        },
        outputs={key: {"type": "mlflow_model"} for key in outputs},
        source=f"automl node {name}",
    )
    return Step(name, "automl", component, inputs, outputs, automl=settings)


def preflight(steps: list[Step]) -> None:
    """The stand-in needs scikit-learn and MLflow in the project's environment."""
    if not any(step.type == "automl" for step in steps):
        return
    missing = [m for m in ("sklearn", "mlflow", "pandas") if importlib.util.find_spec(m) is None]
    if missing:
        names = {"sklearn": "scikit-learn", "mlflow": "mlflow-skinny"}
        wanted = " ".join(names.get(m, m) for m in missing)
        raise ProjectError(
            f"the local AutoML stand-in needs {wanted}: pip install {wanted} "
            "(a generated project's dependencies have them: pip install -e '.[dev]')"
        )


def run_automl(
    runner: Runner,
    step: Step,
    inputs: dict[str, Any],
    outputs: dict[str, str],
    step_dir: Path,
    tracking: dict[str, str],
) -> None:
    from .steps import StepFailed, run_process

    spec = {
        **step.automl,
        "step": step.name,
        "data": {key: inputs.get(key) for key in DATA_INPUTS},
        "best_model": outputs["best_model"],
        "summary_file": SUMMARY_FILE,
    }
    spec_file = step_dir / "automl.json"
    spec_file.write_text(json.dumps(spec, indent=2))
    runner.console.line(
        f"[{step.name}] LOCAL STAND-IN for Azure AutoML: a scikit-learn model search, "
        "not AutoML (submit the pipeline to run AutoML in Azure ML)"
    )
    argv = [sys.executable, str(STANDIN), str(spec_file)]
    log_file = step_dir / "log.txt"
    code = run_process(
        argv, STANDIN.parent, runner.step_env(step, tracking), log_file, step.name, runner.console
    )
    if code != 0:
        raise StepFailed(
            f"exit code {code}",
            rerun=" ".join(shlex.quote(part) for part in argv),
            log=log_file,
        )


def summary_lines(pipeline: Pipeline, results: dict[str, StepResult]) -> list[str]:
    """For the run summary: which steps were stand-ins, and the best model each found."""
    lines = []
    for name, step in pipeline.steps.items():
        result = results.get(name)
        if step.type != "automl" or result is None:
            continue
        found = _summary(result.outputs.get("best_model"))
        if found is None:
            lines.append(f"{name}: AutoML ran as a LOCAL STAND-IN (scikit-learn), {result.state}")
            continue
        lines.append(
            f"{name}: AutoML ran as a LOCAL STAND-IN (scikit-learn search, not Azure AutoML): "
            f"best model {found['best']['algorithm']} ({found['best']['estimator']}), "
            f"{found['primary_metric']} {found['best']['score']:.4f} ({found['validation']}), "
            f"{found['trials_run']} of {found['max_trials']} trials"
            + (f"; stopped: {found['stopped']}" if found.get("stopped") else "")
        )
    return lines


def _summary(best_model: str | None) -> dict[str, Any] | None:
    if not best_model:
        return None
    try:
        return json.loads((Path(best_model) / SUMMARY_FILE).read_text())
    except (OSError, ValueError):
        return None
