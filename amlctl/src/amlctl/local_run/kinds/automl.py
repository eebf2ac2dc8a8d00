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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...pipeline.automl import DATA_INPUTS
from ...project import ProjectError
from ..mltable_env import is_table, key_part
from ..steps import StepFailed, run_process
from .parallel import read_table

if TYPE_CHECKING:
    from ...pipeline.graph import Pipeline, Step
    from ..cache import Hasher
    from ..context import StepContext, StepResult

STANDIN = Path(__file__).resolve().parent.parent / "standins" / "automl_search.py"
SUMMARY_FILE = "automl_standin.json"  # written beside the MLflow model in best_model


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


def key_parts(step: Step, hasher: Hasher) -> dict[str, Any]:
    """The stand-in's code and the MLTable reader are part of what produced its outputs."""
    return {"driver": hasher.file(STANDIN), **key_part(step, hasher)}


def run(step: Step, ctx: StepContext) -> None:
    data = {key: ctx.inputs.get(key) for key in DATA_INPUTS}
    tables = {
        key: read_table(ctx, path, ctx.step_dir / f"{key}.json")
        for key, path in data.items()
        if is_table(path)
    }
    spec = {
        **step.automl,
        "step": step.name,
        "data": data,
        "tables": tables,
        "best_model": ctx.outputs["best_model"],
        "summary_file": SUMMARY_FILE,
    }
    spec_file = ctx.step_dir / "automl.json"
    spec_file.write_text(json.dumps(spec, indent=2))
    ctx.console.line(
        f"[{step.name}] LOCAL STAND-IN for Azure AutoML: a scikit-learn model search, "
        "not AutoML (submit the pipeline to run AutoML in Azure ML)"
    )
    argv = [sys.executable, str(STANDIN), str(spec_file)]
    log_file = ctx.step_dir / "log.txt"
    code = run_process(argv, STANDIN.parent, ctx.env(step), log_file, step.name, ctx.console)
    if code == 0:  # the tables' copies handed to the stand-in (kept when the step failed)
        for table in tables.values():
            if table:
                Path(table).unlink(missing_ok=True)
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
