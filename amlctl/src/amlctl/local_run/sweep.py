"""Sweep nodes run locally: sample the search space, run trials, keep the best one's outputs."""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..project import ProjectError

if TYPE_CHECKING:
    from .executor import Runner
    from .graph import Step


def sample(distribution: dict[str, Any], rng: random.Random) -> Any:
    """One value from an azure.ai.ml.sweep distribution (as loaded from the YAML)."""
    kind = str(distribution.get("type", "")).lower()
    low, high = distribution.get("min_value"), distribution.get("max_value")
    q = distribution.get("q") or 1
    mu, sigma = distribution.get("mu", 0), distribution.get("sigma", 1)
    if kind == "choice":
        return rng.choice(list(distribution["values"]))
    if kind == "randint":
        return rng.randrange(int(distribution["upper"]))
    if kind == "uniform":
        return rng.uniform(low, high)
    if kind == "quniform":
        return round(rng.uniform(low, high) / q) * q
    if kind == "loguniform":
        return math.exp(rng.uniform(low, high))
    if kind == "qloguniform":
        return round(math.exp(rng.uniform(low, high)) / q) * q
    if kind == "normal":
        return rng.gauss(mu, sigma)
    if kind == "qnormal":
        return round(rng.gauss(mu, sigma) / q) * q
    if kind == "lognormal":
        return math.exp(rng.gauss(mu, sigma))
    if kind == "qlognormal":
        return round(math.exp(rng.gauss(mu, sigma)) / q) * q
    raise ProjectError(f"search space type '{kind}' is not supported locally")


def trial_parameters(settings: dict[str, Any], seed: int = 0) -> list[dict[str, Any]]:
    """Parameter sets for every trial, honouring max_total_trials (grid: every combination)."""
    space: dict[str, dict[str, Any]] = settings["search_space"]
    limit = int(settings.get("max_total_trials") or 10)
    if settings.get("sampling_algorithm") == "grid":
        if any(str(d.get("type")).lower() != "choice" for d in space.values()):
            raise ProjectError("grid sampling needs choice() for every search space entry")
        names = list(space)
        combos = itertools.product(*(space[n]["values"] for n in names))
        return [dict(zip(names, values, strict=True)) for values in combos][:limit]
    # fixed seed: the same sweep samples the same trials, so its result can be reused
    rng = random.Random(seed)  # noqa: S311 - sampling, not security
    return [{name: sample(d, rng) for name, d in space.items()} for _ in range(limit)]


def _typed(value: Any, kind: str | None) -> Any:
    if kind == "integer":
        return round(value)
    return value


def run_sweep(
    runner: Runner,
    step: Step,
    inputs: dict[str, Any],
    outputs: dict[str, str],
    step_dir: Path,
    run_id: str | None,
    workspace: Path,
) -> None:
    """Run the trials; the best trial's outputs are moved to ``outputs`` (in ``workspace``)."""
    from .executor import StepFailed

    settings = step.sweep
    metric = settings.get("primary_metric")
    if not metric:
        raise ProjectError(f"jobs.{step.name}: objective.primary_metric is required")
    maximize = settings.get("goal", "maximize") != "minimize"
    trials = trial_parameters(settings)
    algorithm = settings.get("sampling_algorithm", "random")
    if algorithm not in ("random", "grid"):
        runner.console.line(f"[{step.name}] {algorithm} sampling runs as random sampling locally")
    if settings.get("early_termination"):
        runner.console.line(f"[{step.name}] early termination is not applied locally")
    concurrent = max(1, int(settings.get("max_concurrent_trials") or 1))
    deadline = time.monotonic() + float(settings["timeout"]) if settings.get("timeout") else None
    trial_timeout = settings.get("trial_timeout")
    results: list[tuple[int, dict[str, Any], float | None, Path]] = []
    lock = threading.Lock()

    def one(index: int, parameters: dict[str, Any]) -> None:
        if deadline and time.monotonic() > deadline:
            runner.console.line(f"[{step.name}] trial {index}: skipped (sweep timeout reached)")
            return
        trial_dir = workspace / f".trial-{index}"
        trial_outputs = {}
        for name, spec in step.component.outputs.items():
            folder = trial_dir / name
            folder.mkdir(parents=True)
            trial_outputs[name] = (
                str(folder / name) if spec.get("type") == "uri_file" else str(folder)
            )
        values = dict(inputs)
        for name, value in parameters.items():
            values[name] = _typed(value, step.component.inputs.get(name, {}).get("type"))
        shown = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in values.items()
            if k in parameters
        )
        trial_run = runner.tracker.start_child(
            f"{step.name}-trial-{index}", parent_id=run_id, **{"local_run.trial": str(index)}
        )
        if trial_run:
            runner.tracker.log_params(trial_run, {k: values[k] for k in parameters})
        runner.console.line(f"[{step.name}] trial {index}: {shown}")
        remaining = deadline - time.monotonic() if deadline else None
        limits = [x for x in (trial_timeout, remaining) if x]
        limit = min(limits) if limits else None
        try:
            runner.run_command(
                step,
                values,
                trial_outputs,
                step_dir,
                runner.tracker.env(trial_run),
                trial_dir,
                log_name=f"trial-{index}.log",
                prefix=f"{step.name}/{index}",
                timeout=limit,
            )
        except StepFailed as exc:
            runner.tracker.end(trial_run, ok=False)
            runner.console.line(f"[{step.name}] trial {index}: failed ({exc})")
            with lock:
                results.append((index, values, None, trial_dir))
            return
        runner.tracker.end(trial_run, ok=True)
        value = runner.tracker.metrics(trial_run).get(metric) if trial_run else None
        runner.console.line(f"[{step.name}] trial {index}: {metric}={value}")
        with lock:
            results.append((index, values, value, trial_dir))

    with ThreadPoolExecutor(concurrent, thread_name_prefix=f"{step.name}-trial") as pool:
        list(pool.map(lambda pair: one(*pair), enumerate(trials)))
    scored = [r for r in results if r[2] is not None]
    if not scored:
        for _, _, _, folder in results:
            shutil.rmtree(folder, ignore_errors=True)
        raise StepFailed(
            f"no trial reported the primary metric '{metric}' to MLflow "
            f"({len(results)} trials ran)",
            log=step_dir / "trial-0.log",
        )
    best = (max if maximize else min)(scored, key=lambda r: r[2])
    index, values, value, best_dir = best
    runner.console.line(f"[{step.name}] best trial {index}: {metric}={value}")
    for name in step.component.outputs:
        target = workspace / name
        shutil.rmtree(target, ignore_errors=True)
        os.replace(best_dir / name, target)
    (workspace / "best_trial.json").write_text(
        json.dumps(
            {"trial": index, "metric": metric, "value": value, "inputs": values}, default=str
        )
    )
    for _, _, _, folder in results:
        shutil.rmtree(folder, ignore_errors=True)
    if run_id:
        runner.tracker.log_metrics(run_id, {metric: float(value)})
        best_parameters = {k: v for k, v in values.items() if k in settings["search_space"]}
        runner.tracker.log_params(run_id, {f"best.{k}": v for k, v in best_parameters.items()})
