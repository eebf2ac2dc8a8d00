"""AutoML nodes in the graph: the settings a local stand-in honours, and the step they make.

An AutoML node has no component; ``automl_step`` turns the node itself into a step whose
inputs are its data and whose output is ``best_model`` (see ``local_run/kinds/automl.py``
for how it runs on this machine).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..expressions import PARENT_OUTPUT
from ..project import ProjectError
from .graph import Binding, Component, Step

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
    task = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", task).lower()  # ImageClassification, as written
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
        code_dir="",  # the runner's stand-in: its code is part of its cache key there
        environment="",
        inputs={
            key: {"type": "mltable", "optional": key != "training_data", "default": None}
            for key in DATA_INPUTS
        },
        outputs={key: {"type": "mlflow_model"} for key in outputs},
        source=f"automl node {name}",
    )
    return Step(name, "automl", component, inputs, outputs, automl=settings)
