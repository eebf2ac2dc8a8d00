"""The local stand-in for an Azure AutoML node: a small scikit-learn model search.

Run by amlctl's runner as ``python automl_search.py SPEC.json`` in the project's
environment (scikit-learn, pandas, MLflow). It is NOT Azure AutoML: it tries a few
scikit-learn pipelines (featurization, then one estimator per AutoML algorithm name) in
the node's limits and writes the best one, refitted on the training data, as an MLflow
model, plus ``automl_standin.json`` that says what it did. Standalone on purpose: it
imports nothing of amlctl, and its file is part of the step's cache key.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

STAND_IN = "local stand-in for Azure AutoML (scikit-learn search)"
DEFAULT_MAX_TRIALS = 1000  # AutoML's default; the timeouts end a search long before
# AutoML's validation when none is given: cross-validation for small data, else a holdout
SMALL_DATA_ROWS, MEDIUM_DATA_ROWS = 1_000, 20_000


class Problem(Exception):
    """A user-fixable problem: printed as one line, exit code 2."""


# -- data ---------------------------------------------------------------------------------------
def read_mltable(folder: str, table: str | None = None) -> Any:
    """A pandas frame of a local MLTable folder (what the node's MLTable inputs point to):
    the mltable package's reading (``table``, its table JSON, made by the runner in the
    package's environment), else amlctl's own reader (``mltable_read.py`` beside this file)."""
    import mltable_read

    try:
        return mltable_read.from_json(table) if table else mltable_read.read_own(folder)
    except mltable_read.Problem as exc:
        raise Problem(str(exc)) from None


# -- models -------------------------------------------------------------------------------------
def catalogue(task: str) -> dict[str, tuple[Any, dict[str, list[Any]]]]:
    """AutoML algorithm name -> (scikit-learn estimator class, a small search space).

    LightGBM and XGBoost are not installed here; scikit-learn's histogram gradient
    boosting (the same family of model) stands in for both.
    """
    from sklearn import ensemble, linear_model, neighbors, tree

    if task == "classification":
        return {
            "LogisticRegression": (
                linear_model.LogisticRegression,
                {"C": [0.01, 0.1, 1.0, 10.0], "max_iter": [2000]},
            ),
            "SGD": (
                linear_model.SGDClassifier,
                {"alpha": [1e-5, 1e-4, 1e-3], "loss": ["log_loss"]},
            ),
            "KNN": (neighbors.KNeighborsClassifier, {"n_neighbors": [3, 5, 9, 15]}),
            "DecisionTree": (tree.DecisionTreeClassifier, {"max_depth": [3, 5, 8, None]}),
            "RandomForest": (
                ensemble.RandomForestClassifier,
                {"n_estimators": [100, 200], "max_features": ["sqrt", 0.5], "max_depth": [None, 8]},
            ),
            "ExtremeRandomTrees": (
                ensemble.ExtraTreesClassifier,
                {"n_estimators": [100, 200], "max_features": ["sqrt", 0.5]},
            ),
            "GradientBoosting": (
                ensemble.GradientBoostingClassifier,
                {"n_estimators": [100, 200], "learning_rate": [0.05, 0.1], "max_depth": [2, 3]},
            ),
            "LightGBM": (
                ensemble.HistGradientBoostingClassifier,
                {"learning_rate": [0.05, 0.1, 0.2], "max_leaf_nodes": [15, 31]},
            ),
            "XGBoostClassifier": (
                ensemble.HistGradientBoostingClassifier,
                {"learning_rate": [0.05, 0.1], "max_depth": [3, 6]},
            ),
        }
    return {
        "ElasticNet": (
            linear_model.ElasticNet,
            {"alpha": [0.001, 0.01, 0.1, 1.0], "l1_ratio": [0.1, 0.5, 0.9]},
        ),
        "LassoLars": (linear_model.LassoLars, {"alpha": [0.001, 0.01, 0.1]}),
        "SGD": (linear_model.SGDRegressor, {"alpha": [1e-5, 1e-4, 1e-3]}),
        "KNN": (neighbors.KNeighborsRegressor, {"n_neighbors": [3, 5, 9, 15]}),
        "DecisionTree": (tree.DecisionTreeRegressor, {"max_depth": [3, 5, 8, None]}),
        "RandomForest": (
            ensemble.RandomForestRegressor,
            {"n_estimators": [100, 200], "max_features": [1.0, 0.5], "max_depth": [None, 8]},
        ),
        "ExtremeRandomTrees": (
            ensemble.ExtraTreesRegressor,
            {"n_estimators": [100, 200], "max_features": [1.0, 0.5]},
        ),
        "GradientBoosting": (
            ensemble.GradientBoostingRegressor,
            {"n_estimators": [100, 200], "learning_rate": [0.05, 0.1], "max_depth": [2, 3]},
        ),
        "LightGBM": (
            ensemble.HistGradientBoostingRegressor,
            {"learning_rate": [0.05, 0.1, 0.2], "max_leaf_nodes": [15, 31]},
        ),
        "XGBoostRegressor": (
            ensemble.HistGradientBoostingRegressor,
            {"learning_rate": [0.05, 0.1], "max_depth": [3, 6]},
        ),
    }


def algorithms(task: str, allowed: list[str] | None, blocked: list[str] | None) -> list[str]:
    """The catalogue's algorithms the node allows, in catalogue order."""
    known = catalogue(task)

    def canonical(name: str) -> str:
        key = name.replace("_", "").lower()
        for candidate in known:
            if candidate.lower() == key:
                return candidate
        return name

    chosen = [canonical(a) for a in allowed] if allowed else list(known)
    no_stand_in = [a for a in chosen if a not in known]
    chosen = [a for a in known if a in chosen and a not in {canonical(b) for b in blocked or []}]
    if no_stand_in:
        print(f"no scikit-learn stand-in for {', '.join(no_stand_in)}; not tried locally")
    if not chosen:
        raise Problem("no algorithm left to try locally (allowed minus blocked is empty)")
    return chosen


def trial_plan(task: str, names: list[str], max_trials: int, seed: int) -> list[tuple[str, dict]]:
    """Each algorithm with its defaults first, then random settings from its space."""
    known = catalogue(task)
    rng = random.Random(seed)  # noqa: S311 - sampling, not security
    plan: list[tuple[str, dict]] = [(name, {}) for name in names]
    seen = {(name, "{}") for name in names}
    attempts = 0
    while len(plan) < max_trials and attempts < max_trials * 20:
        attempts += 1
        name = names[len(plan) % len(names)]
        params = {key: rng.choice(values) for key, values in known[name][1].items()}
        fingerprint = (name, json.dumps(params, sort_keys=True, default=str))
        if fingerprint not in seen:
            seen.add(fingerprint)
            plan.append((name, params))
    return plan[:max_trials]


def build_pipeline(task: str, name: str, params: dict, features: Any, settings: dict, seed: int):
    """Featurization (per the node's featurization mode) followed by the estimator."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    estimator_class, _ = catalogue(task)[name]
    arguments = dict(params)
    if "random_state" in estimator_class().get_params():
        arguments["random_state"] = seed
    estimator = estimator_class(**arguments)
    featurization = settings.get("featurization") or {}
    mode = str(featurization.get("mode") or "auto").lower()
    numeric, categorical = column_kinds(features, featurization.get("column_name_and_types") or {})
    if mode == "off":
        return Pipeline([("estimator", estimator)])
    transformers = []
    if numeric:
        transformers.append(("numeric", make_pipeline(SimpleImputer(), StandardScaler()), numeric))
    if categorical:
        transformers.append(
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                categorical,
            )
        )
    featurize = ColumnTransformer(transformers, remainder="drop")
    return Pipeline([("featurization", featurize), ("estimator", estimator)])


def column_kinds(features: Any, declared: dict[str, str]) -> tuple[list[str], list[str]]:
    numeric, categorical = [], []
    for column in features.columns:
        kind = str(declared.get(column, "")).lower()
        if kind == "ignore":
            continue
        if kind in ("categorical", "categoricalhash"):
            categorical.append(column)
        elif kind == "numeric" or (not kind and features[column].dtype.kind in "biuf"):
            numeric.append(column)
        elif not kind:
            categorical.append(column)
        else:
            raise Problem(
                f"column {column}: feature type {declared[column]} is not supported locally"
            )
    return numeric, categorical


# -- metrics ------------------------------------------------------------------------------------
# normalised AutoML metric name -> (goal, what it is)
METRICS = {
    "accuracy": "maximize",
    "aucweighted": "maximize",
    "averageprecisionscoreweighted": "maximize",
    "normmacrorecall": "maximize",
    "precisionscoreweighted": "maximize",
    "spearmancorrelation": "maximize",
    "r2score": "maximize",
    "normalizedrootmeansquarederror": "minimize",
    "normalizedmeanabsoluteerror": "minimize",
}


def metric_key(name: str | None, task: str) -> str:
    key = (name or ("accuracy" if task == "classification" else "spearmancorrelation")).lower()
    key = key.replace("_", "")
    if key not in METRICS:
        raise Problem(f"primary metric {name} has no local implementation")
    return key


def score(key: str, model: Any, features: Any, target: Any, target_range: float) -> float:
    import numpy as np
    from sklearn import metrics

    if key in ("aucweighted", "averageprecisionscoreweighted"):
        if not hasattr(model, "predict_proba"):
            return float("nan")
        probabilities = model.predict_proba(features)
        classes = list(model.classes_)
        if len(classes) == 2:
            positive = probabilities[:, 1]
            if key == "aucweighted":
                return float(metrics.roc_auc_score(target, positive))
            return float(metrics.average_precision_score(target, positive, pos_label=classes[1]))
        if key == "aucweighted":
            return float(
                metrics.roc_auc_score(
                    target, probabilities, multi_class="ovr", average="weighted", labels=classes
                )
            )
        onehot = np.array([[value == c for c in classes] for value in target], dtype=int)
        return float(metrics.average_precision_score(onehot, probabilities, average="weighted"))
    predicted = model.predict(features)
    if key == "accuracy":
        return float(metrics.accuracy_score(target, predicted))
    if key == "precisionscoreweighted":
        return float(
            metrics.precision_score(target, predicted, average="weighted", zero_division=0)
        )
    if key == "normmacrorecall":
        chance = 1.0 / max(1, len(set(target)))
        recall = metrics.recall_score(target, predicted, average="macro", zero_division=0)
        return float(max(0.0, (recall - chance) / (1 - chance)))
    if key == "r2score":
        return float(metrics.r2_score(target, predicted))
    if key == "spearmancorrelation":
        ranks = [np.argsort(np.argsort(np.asarray(v, dtype=float))) for v in (target, predicted)]
        return float(np.corrcoef(ranks[0], ranks[1])[0, 1])
    span = target_range or 1.0
    if key == "normalizedrootmeansquarederror":
        return float(math.sqrt(metrics.mean_squared_error(target, predicted)) / span)
    return float(metrics.mean_absolute_error(target, predicted) / span)


# -- the search ---------------------------------------------------------------------------------
def validation_plan(settings: dict, rows: int, has_validation_data: bool) -> tuple[str, Any]:
    """('data', None) | ('cv', folds) | ('holdout', fraction), as AutoML chooses them."""
    if has_validation_data:
        return "data", None
    folds = settings.get("n_cross_validations")
    if folds is not None and str(folds).lower() != "auto":
        return "cv", int(folds)
    if settings.get("validation_data_size"):
        return "holdout", float(settings["validation_data_size"])
    if rows < SMALL_DATA_ROWS:
        return "cv", 10
    if rows < MEDIUM_DATA_ROWS:
        return "cv", 3
    return "holdout", 0.1


def evaluate_trial(job: dict) -> dict:
    """Fit and score one trial (runs in its own process, so a trial timeout can stop it)."""
    import numpy as np
    from sklearn.base import clone
    from sklearn.model_selection import KFold, StratifiedKFold

    data = job["data"]
    features, target = data["features"], data["target"]
    pipeline = build_pipeline(
        job["task"], job["algorithm"], job["params"], features, job["settings"], job["seed"]
    )
    kind, value = job["validation"]
    scores = []
    if kind == "data":
        model = clone(pipeline).fit(features, target)
        scores.append(
            score(job["metric"], model, data["valid_features"], data["valid_target"], data["range"])
        )
    elif kind == "cv":
        splitter = (
            StratifiedKFold(value, shuffle=True, random_state=job["seed"])
            if job["task"] == "classification"
            else KFold(value, shuffle=True, random_state=job["seed"])
        )
        for train_rows, valid_rows in splitter.split(features, target):
            model = clone(pipeline).fit(features.iloc[train_rows], target.iloc[train_rows])
            scores.append(
                score(
                    job["metric"],
                    model,
                    features.iloc[valid_rows],
                    target.iloc[valid_rows],
                    data["range"],
                )
            )
    else:
        from sklearn.model_selection import train_test_split

        stratify = target if job["task"] == "classification" else None
        fit_x, valid_x, fit_y, valid_y = train_test_split(
            features, target, test_size=value, random_state=job["seed"], stratify=stratify
        )
        model = clone(pipeline).fit(fit_x, fit_y)
        scores.append(score(job["metric"], model, valid_x, valid_y, data["range"]))
    return {"score": float(np.mean(scores))}


def _trial_process(job: dict, connection: Any) -> None:
    try:
        connection.send(evaluate_trial(job))
    except Exception as exc:  # a failing trial is recorded, the search goes on
        connection.send({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        connection.close()


def search(spec: dict, data: dict) -> dict:
    """Run the trials within the limits; returns the trial records and why it stopped."""
    task = spec["task"]
    limits = spec.get("limits") or {}
    key = metric_key(spec.get("primary_metric"), task)
    goal = METRICS[key]
    names = algorithms(
        task, spec.get("allowed_training_algorithms"), spec.get("blocked_training_algorithms")
    )
    max_trials = int(limits.get("max_trials") or DEFAULT_MAX_TRIALS)
    plan = trial_plan(task, names, max_trials, spec.get("seed", 0))
    concurrent = max(1, min(int(limits.get("max_concurrent_trials") or 1), os.cpu_count() or 1))
    timeout = float(limits["timeout_minutes"]) * 60 if limits.get("timeout_minutes") else None
    trial_timeout = (
        float(limits["trial_timeout_minutes"]) * 60 if limits.get("trial_timeout_minutes") else None
    )
    exit_score = limits.get("exit_score")
    validation = validation_plan(spec, len(data["target"]), data.get("valid_target") is not None)
    context = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn")
    started = time.monotonic()
    trials: list[dict] = []
    running: list[tuple[Any, Any, dict, float]] = []
    stopped = ""

    def best_score() -> float | None:
        scored = [t["score"] for t in trials if t.get("score") is not None]
        scored = [s for s in scored if not math.isnan(s)]
        if not scored:
            return None
        return max(scored) if goal == "maximize" else min(scored)

    def reached_exit() -> bool:
        best = best_score()
        if exit_score is None or best is None:
            return False
        return best >= exit_score if goal == "maximize" else best <= exit_score

    pending = list(enumerate(plan))
    while pending or running:
        now = time.monotonic()
        if timeout and now - started > timeout and not stopped:
            stopped = f"timeout_minutes ({limits['timeout_minutes']}) reached"
        if reached_exit() and not stopped:
            stopped = f"exit_score {exit_score} reached"
        if stopped:
            for process, _, record, _ in running:
                process.terminate()
                record["error"] = f"cancelled: {stopped}"
                trials.append(record)
            running = []
            break
        while pending and len(running) < concurrent:
            index, (name, params) = pending.pop(0)
            record = {"trial": index, "algorithm": name, "params": params}
            job = {
                "task": task,
                "algorithm": name,
                "params": params,
                "settings": spec,
                "seed": spec.get("seed", 0),
                "metric": key,
                "validation": validation,
                "data": data,
            }
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=_trial_process, args=(job, send), daemon=True)
            process.start()
            send.close()
            running.append((process, receive, record, time.monotonic()))
        still = []
        for process, receive, record, began in running:
            if receive.poll():
                try:
                    record.update(receive.recv())
                except EOFError:
                    record["error"] = "the trial's process ended without a result"
                process.join()
            elif not process.is_alive():
                record["error"] = f"the trial's process died (exit code {process.exitcode})"
            elif trial_timeout and time.monotonic() - began > trial_timeout:
                process.terminate()
                process.join()
                record["error"] = f"trial_timeout_minutes ({limits['trial_timeout_minutes']}) hit"
            else:
                still.append((process, receive, record, began))
                continue
            record["seconds"] = round(time.monotonic() - began, 2)
            shown = f"{record['score']:.4f}" if "score" in record else record.get("error")
            print(f"trial {record['trial']:>3} {record['algorithm']:<20} {key}={shown}", flush=True)
            trials.append(record)
        running = still
        if running:
            time.sleep(0.05)
    trials.sort(key=lambda t: t["trial"])
    return {
        "trials": trials,
        "metric": key,
        "goal": goal,
        "validation": validation,
        "stopped": stopped,
        "max_trials": max_trials,
    }


def describe_validation(validation: tuple[str, Any]) -> str:
    kind, value = validation
    if kind == "cv":
        return f"{value}-fold cross-validation"
    if kind == "holdout":
        return f"{value:.0%} holdout"
    return "validation_data"


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    target_column = spec["target_column_name"]
    tables = spec.get("tables") or {}
    frame = read_mltable(spec["data"]["training_data"], tables.get("training_data"))
    if target_column not in frame.columns:
        raise Problem(f"target_column_name {target_column!r} is not a column of training_data")
    frame = frame.dropna(subset=[target_column]).reset_index(drop=True)
    features, target = frame.drop(columns=[target_column]), frame[target_column]
    data: dict[str, Any] = {
        "features": features,
        "target": target,
        "range": float(target.max() - target.min()) if spec["task"] == "regression" else 1.0,
    }
    if spec["data"].get("validation_data"):
        valid = read_mltable(spec["data"]["validation_data"], tables.get("validation_data")).dropna(
            subset=[target_column]
        )
        data["valid_features"] = valid.drop(columns=[target_column])
        data["valid_target"] = valid[target_column]
    print(f"{STAND_IN}: {spec['task']}, {len(frame)} rows, {features.shape[1]} features")
    result = search(spec, data)
    scored = [t for t in result["trials"] if "score" in t and not math.isnan(t["score"])]
    if not scored:
        errors = {t.get("error") for t in result["trials"]}
        raise Problem(f"no trial succeeded ({'; '.join(sorted(str(e) for e in errors))})")
    pick = max if result["goal"] == "maximize" else min
    best = pick(scored, key=lambda t: t["score"])
    model = build_pipeline(
        spec["task"], best["algorithm"], best["params"], features, spec, spec.get("seed", 0)
    ).fit(features, target)  # refit on all the training data, as AutoML does
    save_model(model, features, Path(spec["best_model"]))
    summary = {
        "stand_in": STAND_IN,
        "task": spec["task"],
        "primary_metric": spec.get("primary_metric") or result["metric"],
        "goal": result["goal"],
        "validation": describe_validation(result["validation"]),
        "max_trials": result["max_trials"],
        "trials_run": len([t for t in result["trials"] if "score" in t]),
        "stopped": result["stopped"],
        "best": {
            "trial": best["trial"],
            "algorithm": best["algorithm"],
            "estimator": type(model.named_steps["estimator"]).__name__,
            "params": best["params"],
            "score": best["score"],
        },
        "trials": result["trials"],
    }
    (Path(spec["best_model"]) / spec["summary_file"]).write_text(
        json.dumps(summary, indent=2, default=str)
    )
    log_to_mlflow(summary)
    print(
        f"best: trial {best['trial']} {best['algorithm']} "
        f"{summary['primary_metric']}={best['score']:.4f} ({summary['validation']})"
    )
    return 0


def save_model(model: Any, features: Any, path: Path) -> None:
    import logging

    import mlflow
    import mlflow.sklearn
    import pandas as pd
    import sklearn
    from mlflow.models import infer_signature

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    mlflow.sklearn.save_model(
        model,
        str(path),
        signature=infer_signature(features, model.predict(features.head(20))),
        pip_requirements=[
            f"scikit-learn=={sklearn.__version__}",
            f"pandas=={pd.__version__}",
            f"mlflow-skinny=={mlflow.__version__}",
        ],
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_PICKLE,
    )


def log_to_mlflow(summary: dict) -> None:
    """The best model's metric and the trials, when tracking is configured (as every step)."""
    if not (os.environ.get("MLFLOW_TRACKING_URI") or os.environ.get("MLFLOW_RUN_ID")):
        return
    import mlflow

    metric = str(summary["primary_metric"])
    with mlflow.start_run():
        mlflow.set_tag("local_run.stand_in", "automl")
        mlflow.log_params(
            {
                "best_algorithm": summary["best"]["algorithm"],
                "validation": summary["validation"],
                "trials_run": summary["trials_run"],
            }
        )
        for trial in summary["trials"]:
            if "score" in trial and not math.isnan(trial["score"]):
                mlflow.log_metric(f"trial_{metric}", trial["score"], step=trial["trial"])
        mlflow.log_metric(f"best_{metric}", summary["best"]["score"])


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Problem as problem:
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(2)
