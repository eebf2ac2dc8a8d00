"""Unit tests of components/evaluate/src/evaluate.py on small generated data."""

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score

SRC = Path(__file__).resolve().parents[1] / "src"


def load_script():
    spec = importlib.util.spec_from_file_location("evaluate_under_test", SRC / "evaluate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


evaluate = load_script()


def make_data(task: str) -> pd.DataFrame:
    if task == "classification":
        x, y = make_classification(n_samples=80, n_features=4, class_sep=2.0, random_state=1)
    else:
        x, y = make_regression(n_samples=80, n_features=4, noise=5.0, random_state=1)
    return pd.DataFrame(x, columns=["a", "b", "c", "d"]).assign(target=y)


def save_model(estimator, frame: pd.DataFrame, path: Path) -> Path:
    import mlflow.sklearn

    estimator.fit(frame.drop(columns=["target"]), frame["target"])
    mlflow.sklearn.save_model(
        estimator, str(path), serialization_format="pickle", pip_requirements=["scikit-learn"]
    )
    return path


@pytest.fixture
def workspace(tmp_path, no_mlflow_tracking):
    frame = make_data("classification")
    (tmp_path / "test").mkdir()
    frame.to_csv(tmp_path / "test" / "test.csv", index=False)
    good = save_model(LogisticRegression(), frame, tmp_path / "good")
    weak = save_model(DummyClassifier(strategy="most_frequent"), frame, tmp_path / "weak")
    return tmp_path, frame, good, weak


def run_evaluate(folder: Path, model: Path, *extra: str) -> tuple[dict, dict]:
    out = folder / "evaluation"
    code = evaluate.main(
        [
            "--model",
            str(model),
            "--test_data",
            str(folder / "test"),
            "--evaluation",
            str(out),
            *extra,
        ]
    )
    assert code == 0
    return (
        json.loads((out / "metrics.json").read_text()),
        json.loads((out / "decision.json").read_text()),
    )


def test_metrics_are_computed_on_the_test_set(workspace):
    folder, frame, good, _ = workspace
    metrics, decision = run_evaluate(folder, good)
    import mlflow.sklearn

    model = mlflow.sklearn.load_model(str(good))
    expected = accuracy_score(frame["target"], model.predict(frame.drop(columns=["target"])))
    assert metrics["metrics"]["accuracy"] == pytest.approx(expected)
    assert metrics["primary_metric"] == "accuracy"
    assert metrics["test_rows"] == 80
    assert decision["score"] == metrics["metrics"]["score"]
    assert decision["promote"] is True


def test_below_threshold_is_not_promoted(workspace):
    folder, _, _, weak = workspace
    _, decision = run_evaluate(folder, weak, "--promotion_threshold", "0.8")
    assert decision["promote"] is False
    assert "below the promotion threshold" in decision["reason"]


def test_must_beat_the_baseline_model(workspace):
    folder, _, good, weak = workspace
    _, beats = run_evaluate(folder, good, "--baseline_model", str(weak))
    assert beats["promote"] is True
    assert beats["baseline_score"] == pytest.approx(0.5, abs=0.05)

    _, tie = run_evaluate(folder, good, "--baseline_model", str(good))
    assert tie["promote"] is False
    assert "does not beat the baseline" in tie["reason"]


def test_must_beat_the_baseline_score(workspace):
    folder, _, good, _ = workspace
    _, decision = run_evaluate(folder, good, "--baseline_score", "1.01")
    assert decision["promote"] is False
    assert decision["baseline_score"] == 1.01


@pytest.mark.parametrize(
    ("score", "threshold", "baseline", "promote"),
    [
        (0.9, 0.8, None, True),
        (0.8, 0.8, None, True),
        (0.79, 0.8, None, False),
        (0.9, 0.8, 0.85, True),
        (0.9, 0.8, 0.9, False),
        (0.9, 0.95, 0.5, False),
    ],
)
def test_decide(score, threshold, baseline, promote):
    assert evaluate.decide(score, threshold, baseline)[0] is promote


def test_regression_uses_r2(tmp_path, no_mlflow_tracking):
    frame = make_data("regression")
    (tmp_path / "test").mkdir()
    frame.to_csv(tmp_path / "test" / "test.csv", index=False)
    model = save_model(LinearRegression(), frame, tmp_path / "model")
    metrics, decision = run_evaluate(
        tmp_path, model, "--task", "regression", "--promotion_threshold", "0.9"
    )
    assert metrics["primary_metric"] == "r2"
    assert set(metrics["metrics"]) == {"r2", "rmse", "mae", "score"}
    assert decision["promote"] is (metrics["metrics"]["r2"] >= 0.9)
    assert metrics["metrics"]["r2"] > 0.9


def test_not_an_mlflow_model_is_reported(workspace):
    folder, *_ = workspace
    (folder / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="MLmodel"):
        run_evaluate(folder, folder / "empty")


def test_logs_test_metrics_and_decision(workspace, mlflow_store):
    client, experiment_id = mlflow_store
    folder, _, good, _ = workspace
    run_evaluate(folder, good)
    [run] = client.search_runs([experiment_id])
    assert run.data.metrics["promote"] == 1.0
    assert run.data.tags["promote"] == "true"
    assert "test_accuracy" in run.data.metrics


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def plots_of(folder: Path) -> dict[str, bytes]:
    """Every PNG in the evaluation folder, checked to be an image that decodes."""
    import matplotlib.image

    found = {}
    for file in sorted((folder / "evaluation").glob("*.png")):
        data = file.read_bytes()
        assert data.startswith(PNG_SIGNATURE), file
        height, width = matplotlib.image.imread(file).shape[:2]
        assert height > 100 and width > 100, file
        found[file.name] = data
    return found


def test_classification_writes_its_plots_and_predictions(workspace):
    folder, frame, good, weak = workspace
    run_evaluate(folder, good)
    good_plots = plots_of(folder)
    assert set(good_plots) == {
        "confusion_matrix.png",
        "roc_curve.png",
        "pr_curve.png",
        "feature_importances.png",  # a logistic regression's coefficients
    }
    predicted = pd.read_csv(folder / "evaluation" / "predictions.csv")
    assert list(predicted.columns) == ["actual", "predicted", "probability"]
    assert predicted["actual"].tolist() == frame["target"].tolist()
    run_evaluate(folder, weak)  # another model: other pictures
    weak_plots = plots_of(folder)
    assert "feature_importances.png" not in weak_plots  # a dummy model has none
    assert weak_plots["confusion_matrix.png"] != good_plots["confusion_matrix.png"]
    assert weak_plots["roc_curve.png"] != good_plots["roc_curve.png"]


def test_regression_writes_its_plots(tmp_path, no_mlflow_tracking):
    frame = make_data("regression")
    (tmp_path / "test").mkdir()
    frame.to_csv(tmp_path / "test" / "test.csv", index=False)
    model = save_model(LinearRegression(), frame, tmp_path / "model")
    run_evaluate(tmp_path, model, "--task", "regression")
    first = plots_of(tmp_path)
    assert set(first) == {"predicted_vs_actual.png", "residuals.png", "feature_importances.png"}
    other = save_model(
        LinearRegression(), frame.assign(target=frame["target"] ** 2), tmp_path / "o"
    )
    run_evaluate(tmp_path, other, "--task", "regression")
    assert plots_of(tmp_path)["residuals.png"] != first["residuals.png"]


def test_plots_and_predictions_are_logged_to_the_run(tmp_path, mlflow_store):
    client, experiment_id = mlflow_store
    frame = make_data("classification")
    (tmp_path / "test").mkdir()
    frame.to_csv(tmp_path / "test" / "test.csv", index=False)
    good = save_model(LogisticRegression(), frame, tmp_path / "good")
    run_evaluate(tmp_path, good)
    (run,) = client.search_runs([experiment_id])
    logged = {item.path for item in client.list_artifacts(run.info.run_id, "evaluation")}
    assert {
        "evaluation/confusion_matrix.png",
        "evaluation/roc_curve.png",
        "evaluation/predictions.csv",
    } <= logged
