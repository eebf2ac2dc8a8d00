"""Unit tests of components/train/src/train.py on small generated data."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression

SRC = Path(__file__).resolve().parents[1] / "src"


def load_script():
    spec = importlib.util.spec_from_file_location("train_under_test", SRC / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


train = load_script()


def write_train_data(folder: Path, task: str, rows: int = 120) -> pd.DataFrame:
    if task == "classification":
        x, y = make_classification(n_samples=rows, n_features=5, random_state=0)
    else:
        x, y = make_regression(n_samples=rows, n_features=5, noise=1.0, random_state=0)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(5)]).assign(target=y)
    folder.mkdir(parents=True)
    frame.to_csv(folder / "train.csv", index=False)
    return frame


def run_main(data: Path, model: Path, *extra: str) -> int:
    return train.main(["--train_data", str(data), "--model", str(model), *extra])


def test_classification_writes_an_mlflow_model_with_the_given_hyperparameters(
    tmp_path, no_mlflow_tracking
):
    import mlflow.sklearn

    frame = write_train_data(tmp_path / "data", "classification")
    code = run_main(
        tmp_path / "data",
        tmp_path / "model",
        "--task", "classification",
        "--n_estimators", "7",
        "--max_depth", "2",
        "--learning_rate", "0.3",
    )  # fmt: skip

    assert code == 0
    assert (tmp_path / "model" / "MLmodel").is_file()
    model = mlflow.sklearn.load_model(str(tmp_path / "model"))
    assert type(model).__name__ == "GradientBoostingClassifier"
    assert (model.n_estimators, model.max_depth, model.learning_rate) == (7, 2, 0.3)
    predictions = model.predict(frame.drop(columns=["target"]))
    assert set(np.unique(predictions)) <= {0, 1}
    requirements = (tmp_path / "model" / "requirements.txt").read_text()
    assert "scikit-learn==" in requirements


def test_regression_trains_a_regressor(tmp_path, no_mlflow_tracking):
    import mlflow.pyfunc

    frame = write_train_data(tmp_path / "data", "regression")
    assert run_main(tmp_path / "data", tmp_path / "model", "--task", "regression") == 0
    model = mlflow.pyfunc.load_model(str(tmp_path / "model"))
    predicted = model.predict(frame.drop(columns=["target"]).head(10))
    assert predicted.dtype.kind == "f"
    assert len(np.unique(predicted)) > 2


def test_model_output_folder_may_exist_but_must_be_empty(tmp_path, no_mlflow_tracking):
    write_train_data(tmp_path / "data", "classification")
    (tmp_path / "model").mkdir()
    assert run_main(tmp_path / "data", tmp_path / "model", "--n_estimators", "3") == 0
    with pytest.raises(Exception, match="not empty"):
        run_main(tmp_path / "data", tmp_path / "model", "--n_estimators", "3")


def test_missing_target_column_is_reported(tmp_path, no_mlflow_tracking):
    write_train_data(tmp_path / "data", "classification")
    with pytest.raises(ValueError, match="label"):
        run_main(tmp_path / "data", tmp_path / "model", "--target_column", "label")


def test_logs_params_metrics_and_model_to_the_active_tracking_store(tmp_path, mlflow_store):
    client, experiment_id = mlflow_store
    write_train_data(tmp_path / "data", "classification")
    assert run_main(tmp_path / "data", tmp_path / "model", "--n_estimators", "9") == 0

    [run] = client.search_runs([experiment_id])
    assert run.data.params["n_estimators"] == "9"
    assert run.data.params["task"] == "classification"
    assert run.data.metrics["val_score"] == run.data.metrics["val_accuracy"]
    assert 0.5 < run.data.metrics["val_score"] <= 1.0
    assert "model/MLmodel" in {
        f"model/{item.path.split('/')[-1]}"
        for item in client.list_artifacts(run.info.run_id, "model")
    }


@pytest.mark.parametrize(
    ("task", "primary"),
    [("classification", "accuracy"), ("regression", "r2")],
)
def test_score_is_the_primary_metric_and_perfect_predictions_score_one(task, primary):
    class Echo:
        def predict(self, features):
            return features["truth"].to_numpy()

    truth = pd.Series([0, 1, 1, 0, 1, 0] if task == "classification" else [1.5, 2.0, 3.5, 4.0])
    metrics = train.score_model(Echo(), pd.DataFrame({"truth": truth}), truth, task)
    assert metrics["score"] == metrics[primary] == 1.0
    json.dumps(metrics)  # plain floats only, ready for MLflow and JSON
