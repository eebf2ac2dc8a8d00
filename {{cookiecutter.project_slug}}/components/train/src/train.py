"""Train a gradient boosting model, log it to MLflow and write it as an MLflow model folder."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split

TASKS = ("classification", "regression")
# The primary metric ("score", higher is better) of each task; a sweep maximises val_score.
PRIMARY_METRIC = {"classification": "accuracy", "regression": "r2"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train_data", type=Path, required=True)
    parser.add_argument("--target_column", default="target")
    parser.add_argument("--task", choices=TASKS, default="classification")
    parser.add_argument("--n_estimators", type=int, default=100)
    parser.add_argument("--max_depth", type=int, default=3)
    parser.add_argument("--learning_rate", type=float, default=0.1)
    parser.add_argument("--validation_fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--model", type=Path, required=True, help="output MLflow model folder")
    return parser.parse_args(argv)


def read_table(folder: Path, name: str) -> pd.DataFrame:
    path = folder / name if folder.is_dir() else folder
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    return pd.read_csv(path)


def build_model(task: str, n_estimators: int, max_depth: int, learning_rate: float, seed: int):
    estimator = (
        GradientBoostingClassifier if task == "classification" else GradientBoostingRegressor
    )
    return estimator(
        n_estimators=n_estimators,
        max_depth=max_depth,
        learning_rate=learning_rate,
        random_state=seed,
    )


def score_model(model, features: pd.DataFrame, target: pd.Series, task: str) -> dict[str, float]:
    """Metrics of `model` on a labelled set; "score" is the task's primary metric."""
    predicted = model.predict(features)
    if task == "classification":
        metrics = {
            "accuracy": accuracy_score(target, predicted),
            "f1": f1_score(target, predicted, average="weighted"),
        }
        if hasattr(model, "predict_proba") and target.nunique() == 2:
            metrics["roc_auc"] = roc_auc_score(target, model.predict_proba(features)[:, 1])
    else:
        metrics = {
            "r2": r2_score(target, predicted),
            "rmse": float(np.sqrt(mean_squared_error(target, predicted))),
            "mae": mean_absolute_error(target, predicted),
        }
    metrics["score"] = metrics[PRIMARY_METRIC[task]]
    return {name: float(value) for name, value in metrics.items()}


@contextlib.contextmanager
def tracking_run() -> Iterator[object | None]:
    """The MLflow run of this step when tracking is configured (Azure ML or local runner)."""
    if not (os.environ.get("MLFLOW_TRACKING_URI") or os.environ.get("MLFLOW_RUN_ID")):
        yield None
        return
    import mlflow

    with mlflow.start_run() as run:
        yield run


def save_mlflow_model(model, features: pd.DataFrame, path: Path) -> None:
    """Write `model` as an MLflow sklearn model folder with a signature and pinned requirements."""
    import mlflow
    import mlflow.sklearn
    import sklearn
    from mlflow.models import infer_signature

    sample = features.head(5)
    # The pickle format is chosen on purpose (see below): silence MLflow's warning about it.
    logging.getLogger("mlflow.sklearn").setLevel(logging.ERROR)
    mlflow.sklearn.save_model(
        model,
        str(path),
        signature=infer_signature(sample, model.predict(sample)),
        # Pinned here so MLflow does not spend seconds inferring them from the interpreter.
        pip_requirements=[
            f"mlflow-skinny=={mlflow.__version__}",
            f"scikit-learn=={sklearn.__version__}",
            f"pandas=={pd.__version__}",
        ],
        # The model is only read by this project's own steps; skops would add a dependency.
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_PICKLE,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    frame = read_table(args.train_data, "train.csv")
    if args.target_column not in frame.columns:
        raise ValueError(f"target column {args.target_column!r} not in {list(frame.columns)}")
    features = frame.drop(columns=[args.target_column])
    target = frame[args.target_column]
    fit_x, val_x, fit_y, val_y = train_test_split(
        features,
        target,
        test_size=args.validation_fraction,
        random_state=args.seed,
        stratify=target if args.task == "classification" else None,
    )
    model = build_model(args.task, args.n_estimators, args.max_depth, args.learning_rate, args.seed)
    model.fit(fit_x, fit_y)
    metrics = score_model(model, val_x, val_y, args.task)
    save_mlflow_model(model, features, args.model)

    with tracking_run() as run:
        if run is not None:
            import mlflow

            mlflow.set_tag("task", args.task)
            mlflow.log_params(
                {
                    "task": args.task,
                    "n_estimators": args.n_estimators,
                    "max_depth": args.max_depth,
                    "learning_rate": args.learning_rate,
                    "validation_fraction": args.validation_fraction,
                    "seed": args.seed,
                    "train_rows": len(fit_x),
                }
            )
            mlflow.log_metrics({f"val_{name}": value for name, value in metrics.items()})
            mlflow.log_artifacts(str(args.model), artifact_path="model")
    print(" ".join(f"val_{name}={value:.4f}" for name, value in sorted(metrics.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
