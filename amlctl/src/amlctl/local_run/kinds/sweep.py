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

from ...pipeline.expand import yaml_key
from ...project import ProjectError
from ..steps import StepFailed, tail
from . import command

if TYPE_CHECKING:
    from ...pipeline.graph import Step
    from ..context import StepContext


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


def run(step: Step, ctx: StepContext) -> None:
    """Run the trials; the best trial's outputs are moved to ``outputs`` (in ``workspace``).

    Every trial runs in its own working directory with its own outputs. Failed trials are
    recorded (with the tail of their log) and counted; the sweep fails, as in Azure ML,
    when no trial completes. ``early_termination`` stops trials on the metric values they
    log while they run; ``limits`` bound the number, concurrency and duration of trials.
    """

    inputs, step_dir, workspace, run_id = ctx.inputs, ctx.step_dir, ctx.workspace, ctx.run_id
    console, tracker = ctx.console, ctx.tracker
    settings = step.sweep
    metric = settings.get("primary_metric")
    if not metric:
        raise ProjectError(f"{yaml_key(step.name)}: objective.primary_metric is required")
    maximize = settings.get("goal", "maximize") != "minimize"
    trials = trial_parameters(settings)
    algorithm = settings.get("sampling_algorithm", "random")
    if algorithm not in ("random", "grid"):
        console.line(f"[{step.name}] {algorithm} sampling runs as random sampling locally")
    policy = settings.get("early_termination") or {}
    concurrent = max(1, int(settings.get("max_concurrent_trials") or 1))
    deadline = time.monotonic() + float(settings["timeout"]) if settings.get("timeout") else None
    trial_timeout = settings.get("trial_timeout")
    records: dict[int, dict[str, Any]] = {}
    lock = threading.Lock()
    active: dict[int, tuple[Any, str | None]] = {}  # trial -> (process, MLflow run id)
    stopped: dict[int, str] = {}
    histories: dict[int, list[float]] = {}

    def one(index: int, parameters: dict[str, Any]) -> None:
        values = dict(inputs)
        for name, value in parameters.items():
            values[name] = _typed(value, step.component.inputs.get(name, {}).get("type"))
        record: dict[str, Any] = {
            "trial": index,
            "parameters": {k: values[k] for k in parameters},
            "status": "skipped",
            "metric": None,
        }
        records[index] = record
        if deadline and time.monotonic() > deadline:
            console.line(f"[{step.name}] trial {index}: skipped (sweep timeout reached)")
            return
        trial_dir = workspace / f".trial-{index}"
        trial_outputs = {}
        for name in step.outputs:
            spec = step.component.outputs.get(name, {"type": "uri_folder"})
            folder = trial_dir / name
            folder.mkdir(parents=True)
            file = step.output_files.get(name, name)
            trial_outputs[name] = (
                str(folder / file) if spec.get("type") == "uri_file" else str(folder)
            )
        shown = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in record["parameters"].items()
        )
        trial_run = tracker.start_child(
            f"{step.name}-trial-{index}", parent_id=run_id, **{"local_run.trial": str(index)}
        )
        if trial_run:
            tracker.log_params(trial_run, record["parameters"])
        console.line(f"[{step.name}] trial {index}: {shown}")
        remaining = deadline - time.monotonic() if deadline else None
        limits = [x for x in (trial_timeout, remaining) if x]
        limit = min(limits) if limits else None
        log_name = f"trial-{index}.log"

        def started(process: Any) -> None:
            with lock:
                active[index] = (process, trial_run)

        try:
            trial = ctx.derived(
                inputs=values,
                outputs=trial_outputs,
                tracking=tracker.env(trial_run),
                workspace=trial_dir,
            )
            command.run(
                step,
                trial,
                log_name=log_name,
                prefix=f"{step.name}/{index}",
                timeout=limit,
                started=started,
            )
            failure = None
        except StepFailed as exc:
            failure = exc
        finally:
            with lock:
                active.pop(index, None)
        record["log"] = str(step_dir / log_name)
        if trial_run:
            histories[index] = tracker.history(trial_run, metric)
        if index in stopped:
            record["status"] = "early_terminated"
            record["reason"] = stopped[index]
            tracker.end(trial_run, ok=False)
            console.line(f"[{step.name}] trial {index}: stopped early ({stopped[index]})")
            shutil.rmtree(trial_dir, ignore_errors=True)
            return
        if failure is not None:
            record["status"] = "failed"
            record["error"] = str(failure)
            record["log_tail"] = tail(step_dir / log_name, 10)
            tracker.end(trial_run, ok=False)
            console.line(f"[{step.name}] trial {index}: failed ({failure})")
            for line in record["log_tail"][-5:]:
                console.line(f"[{step.name}] trial {index}: | {line}")
            shutil.rmtree(trial_dir, ignore_errors=True)
            return
        tracker.end(trial_run, ok=True)
        value = tracker.metrics(trial_run).get(metric) if trial_run else None
        record.update(status="completed", metric=value, folder=str(trial_dir))
        console.line(f"[{step.name}] trial {index}: {metric}={value}")

    done = threading.Event()

    def monitor() -> None:
        from ..early_termination import should_stop
        from ..processes import REAPER

        while not done.wait(0.3):
            with lock:
                running = dict(active)
            for index, (_, trial_run) in running.items():
                histories[index] = tracker.history(trial_run, metric)
            for index, (process, _) in running.items():
                if index in stopped:
                    continue
                reason = should_stop(policy, index, dict(histories), maximize)
                if reason:
                    stopped[index] = reason
                    REAPER.kill(process)  # the trial and what it started

    watcher = None
    if policy.get("type") and tracker.started:
        watcher = threading.Thread(target=monitor, daemon=True)
        watcher.start()
    try:
        with ThreadPoolExecutor(concurrent, thread_name_prefix=f"{step.name}-trial") as pool:
            list(pool.map(lambda pair: one(*pair), enumerate(trials)))
    finally:
        done.set()
        if watcher:
            watcher.join()
    ordered = [records[i] for i in sorted(records)]
    counts = {
        status: sum(1 for r in ordered if r["status"] == status)
        for status in ("completed", "failed", "early_terminated", "skipped")
    }
    summary = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in counts.items() if n)
    console.line(f"[{step.name}] {len(ordered)} trials: {summary}")
    (step_dir / "trials.json").write_text(json.dumps(ordered, indent=2, default=str))
    if run_id:
        tracker.log_metrics(run_id, {f"trials_{k}": float(v) for k, v in counts.items()})
    completed = [r for r in ordered if r["status"] == "completed"]
    if not completed:
        failed = [r for r in ordered if r["status"] == "failed"]
        raise StepFailed(
            f"no trial completed ({summary}); each trial's record is in {step_dir / 'trials.json'}",
            log=Path(failed[0]["log"]) if failed else None,
        )
    scored = [r for r in completed if r["metric"] is not None]
    if not scored:
        for record in completed:
            shutil.rmtree(record["folder"], ignore_errors=True)
        raise StepFailed(
            f"no trial reported the primary metric '{metric}' to MLflow "
            f"({len(completed)} trials completed)",
            log=Path(completed[0]["log"]),
        )
    best = (max if maximize else min)(scored, key=lambda r: r["metric"])
    index, value, best_dir = best["trial"], best["metric"], Path(best["folder"])
    values = {**inputs, **best["parameters"]}
    console.line(f"[{step.name}] best trial {index}: {metric}={value}")
    for name in step.outputs:
        target = workspace / name
        shutil.rmtree(target, ignore_errors=True)
        os.replace(best_dir / name, target)
    (workspace / "best_trial.json").write_text(
        json.dumps(
            {"trial": index, "metric": metric, "value": value, "inputs": values}, default=str
        )
    )
    for record in completed:
        shutil.rmtree(record["folder"], ignore_errors=True)
    if run_id:
        tracker.log_metrics(run_id, {metric: float(value)})
        tracker.log_params(run_id, {f"best.{k}": v for k, v in best["parameters"].items()})
