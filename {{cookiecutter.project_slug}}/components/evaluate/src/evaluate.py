"""Score a model on the test set and decide whether it is promoted over the baseline.

Besides metrics.json and decision.json, the evaluation folder holds predictions.csv (each
test row's actual and predicted value, and the predicted probability of a binary
classifier) and PNG plots: a confusion matrix, ROC and precision-recall curves for
classification; predicted against actual and residuals for regression; the feature
importances where the model has them. All are logged to the step's MLflow run, so Azure
ML studio shows them with the run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)

TASKS = ("classification", "regression")
PREDICTIONS_FILE = "predictions.csv"
PRIMARY_METRIC = {"classification": "accuracy", "regression": "r2"}
METRICS_FILE = "metrics.json"
DECISION_FILE = "decision.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--test_data", type=Path, required=True)
    parser.add_argument("--target_column", default="target")
    parser.add_argument("--task", choices=TASKS, default="classification")
    parser.add_argument("--promotion_threshold", type=float, default=0.0)
    parser.add_argument("--baseline_model", type=Path)
    parser.add_argument("--baseline_score", type=float)
    parser.add_argument("--evaluation", type=Path, required=True, help="output folder")
    return parser.parse_args(argv)


def load_model(path: Path):
    import mlflow.sklearn

    if not (path / "MLmodel").is_file():
        raise FileNotFoundError(f"{path} is not an MLflow model folder (no MLmodel file)")
    return mlflow.sklearn.load_model(str(path))


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


def decide(score: float, threshold: float, baseline: float | None) -> tuple[bool, str]:
    """Promote when the score reaches the threshold and beats the baseline, if there is one."""
    if score < threshold:
        return False, f"score {score:.4f} is below the promotion threshold {threshold:.4f}"
    if baseline is not None and score <= baseline:
        return False, f"score {score:.4f} does not beat the baseline {baseline:.4f}"
    against = "no baseline" if baseline is None else f"baseline {baseline:.4f}"
    return True, f"score {score:.4f} reaches threshold {threshold:.4f} and beats {against}"


def predictions(model, features: pd.DataFrame, target: pd.Series, task: str) -> pd.DataFrame:
    """Each test row's actual and predicted value (and the positive class's probability)."""
    frame = pd.DataFrame({"actual": target.to_numpy(), "predicted": model.predict(features)})
    if task == "classification" and hasattr(model, "predict_proba") and target.nunique() == 2:
        frame["probability"] = model.predict_proba(features)[:, 1]
    return frame


def feature_importances(model, columns: list[str]) -> pd.Series | None:
    """Importances of a tree model, or absolute coefficients of a linear one (last step of a
    pipeline); None when the model has neither."""
    estimator = model.steps[-1][1] if hasattr(model, "steps") else model
    values = getattr(estimator, "feature_importances_", None)
    if values is None and getattr(estimator, "coef_", None) is not None:
        values = np.abs(np.atleast_2d(estimator.coef_)).mean(axis=0)
    if values is None or len(values) != len(columns):
        return None
    return pd.Series(values, index=columns).sort_values()


def write_plots(frame: pd.DataFrame, importances: pd.Series | None, task: str, folder: Path):
    """PNG plots of the predictions into `folder`; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, here or in a job
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay

    for stale in folder.glob("*.png"):  # an earlier evaluation's plots into this folder
        stale.unlink()
    written = []

    def save(name: str, figure) -> None:
        figure.tight_layout()
        figure.savefig(folder / name, dpi=100)
        plt.close(figure)
        written.append(folder / name)

    if task == "classification":
        display = ConfusionMatrixDisplay.from_predictions(frame["actual"], frame["predicted"])
        display.ax_.set_title("Confusion matrix (test set)")
        save("confusion_matrix.png", display.figure_)
        if "probability" in frame:
            for name, kind in (
                ("roc_curve.png", RocCurveDisplay),
                ("pr_curve.png", PrecisionRecallDisplay),
            ):
                display = kind.from_predictions(frame["actual"], frame["probability"])
                save(name, display.figure_)
    else:
        figure, axes = plt.subplots(figsize=(5, 5))
        axes.scatter(frame["actual"], frame["predicted"], s=12, alpha=0.7)
        low = min(frame["actual"].min(), frame["predicted"].min())
        high = max(frame["actual"].max(), frame["predicted"].max())
        axes.plot([low, high], [low, high], color="grey", linestyle="--", linewidth=1)
        axes.set(xlabel="actual", ylabel="predicted", title="Predicted against actual (test set)")
        save("predicted_vs_actual.png", figure)
        figure, axes = plt.subplots(figsize=(6, 4))
        axes.scatter(frame["predicted"], frame["actual"] - frame["predicted"], s=12, alpha=0.7)
        axes.axhline(0, color="grey", linestyle="--", linewidth=1)
        axes.set(xlabel="predicted", ylabel="actual - predicted", title="Residuals (test set)")
        save("residuals.png", figure)
    if importances is not None:
        figure, axes = plt.subplots(figsize=(6, max(2.5, 0.3 * len(importances))))
        axes.barh(importances.index, importances.to_numpy())
        axes.set(xlabel="importance", title="Feature importances")
        save("feature_importances.png", figure)
    return written


@contextlib.contextmanager
def tracking_run() -> Iterator[object | None]:
    """The MLflow run of this step when tracking is configured (Azure ML or local runner)."""
    if not (os.environ.get("MLFLOW_TRACKING_URI") or os.environ.get("MLFLOW_RUN_ID")):
        yield None
        return
    import mlflow

    with mlflow.start_run() as run:
        yield run


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    test_path = args.test_data / "test.csv" if args.test_data.is_dir() else args.test_data
    test = pd.read_csv(test_path)
    features = test.drop(columns=[args.target_column])
    target = test[args.target_column]

    model = load_model(args.model)
    metrics = score_model(model, features, target, args.task)
    baselines = [] if args.baseline_score is None else [args.baseline_score]
    baseline_metrics = None
    if args.baseline_model is not None:
        baseline_metrics = score_model(load_model(args.baseline_model), features, target, args.task)
        baselines.append(baseline_metrics["score"])
    baseline = max(baselines) if baselines else None
    promote, reason = decide(metrics["score"], args.promotion_threshold, baseline)

    args.evaluation.mkdir(parents=True, exist_ok=True)
    report = {
        "task": args.task,
        "primary_metric": PRIMARY_METRIC[args.task],
        "test_rows": len(test),
        "metrics": metrics,
        "baseline_metrics": baseline_metrics,
    }
    decision = {
        "promote": promote,
        "reason": reason,
        "score": metrics["score"],
        "baseline_score": baseline,
        "promotion_threshold": args.promotion_threshold,
    }
    (args.evaluation / METRICS_FILE).write_text(json.dumps(report, indent=2) + "\n")
    (args.evaluation / DECISION_FILE).write_text(json.dumps(decision, indent=2) + "\n")
    predicted = predictions(model, features, target, args.task)
    predicted.to_csv(args.evaluation / PREDICTIONS_FILE, index=False)
    importances = feature_importances(model, list(features.columns))
    plots = write_plots(predicted, importances, args.task, args.evaluation)

    with tracking_run() as run:
        if run is not None:
            import mlflow

            mlflow.log_metrics({f"test_{name}": value for name, value in metrics.items()})
            mlflow.log_metric("promote", int(promote))
            mlflow.set_tag("promote", str(promote).lower())
            for file in [*plots, args.evaluation / PREDICTIONS_FILE]:
                mlflow.log_artifact(str(file), artifact_path="evaluation")
    print(f"promote={str(promote).lower()}: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
