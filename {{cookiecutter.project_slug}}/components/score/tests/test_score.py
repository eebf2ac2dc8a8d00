"""Unit tests of the parallel entry script components/score/src/score.py."""

import csv
import importlib.util
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

SRC = Path(__file__).resolve().parents[1] / "src"


def load_script():
    """A fresh copy of the module, so the state init() sets does not leak between tests."""
    spec = importlib.util.spec_from_file_location("score_under_test", SRC / "score.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def model(tmp_path):
    import mlflow.sklearn

    frame = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 1.0, 0.0, 0.0]})
    estimator = LinearRegression().fit(frame, 2 * frame["a"] + 1)
    path = tmp_path / "model"
    mlflow.sklearn.save_model(
        estimator, str(path), serialization_format="pickle", pip_requirements=["scikit-learn"]
    )
    return path


def write_inputs(folder: Path) -> list[str]:
    folder.mkdir()
    first = pd.DataFrame({"a": [10.0, 20.0], "b": [0.0, 1.0], "target": [21.0, 41.0]})
    second = pd.DataFrame({"a": [5.0], "b": [3.0]})
    first.to_csv(folder / "one.csv", index=False)
    second.to_csv(folder / "two.csv", index=False)
    return [str(folder / "one.csv"), str(folder / "two.csv")]


def test_run_returns_one_csv_line_per_input_row(tmp_path, model):
    score = load_script()
    files = write_inputs(tmp_path / "inputs")
    # Extra arguments of the parallel runtime must be ignored.
    score.init(["--model", str(model), "--target_column", "target", "--logging_level", "INFO"])

    lines = score.run(files[:1]) + score.run(files[1:])

    rows = list(csv.reader(lines))
    assert [(name, row) for name, row, _ in rows] == [
        ("one.csv", "0"),
        ("one.csv", "1"),
        ("two.csv", "0"),
    ]
    assert [float(value) for *_, value in rows] == pytest.approx([21.0, 41.0, 11.0])


def test_run_before_init_is_an_error():
    score = load_script()
    with pytest.raises(RuntimeError, match="init"):
        score.run([])


def test_init_rejects_a_folder_that_is_not_an_mlflow_model(tmp_path):
    score = load_script()
    with pytest.raises(FileNotFoundError, match="MLmodel"):
        score.init(["--model", str(tmp_path)])


def test_missing_feature_column_fails_the_mini_batch(tmp_path, model):
    score = load_script()
    score.init(["--model", str(model)])
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"a": [1.0]}).to_csv(bad, index=False)
    with pytest.raises(Exception, match="b"):
        score.run([str(bad)])
