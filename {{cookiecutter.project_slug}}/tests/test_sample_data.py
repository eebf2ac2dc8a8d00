"""The shipped sample CSV equals what data/make_sample.py writes from scikit-learn."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((PROJECT / "data" / "sample").glob("*.csv"))


def load_make_sample():
    path = PROJECT / "data" / "make_sample.py"
    spec = importlib.util.spec_from_file_location("make_sample", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_sample = load_make_sample()


def test_one_sample_file_per_task_at_most():
    assert SAMPLES, "data/sample/ holds no CSV file"
    assert {path.name for path in SAMPLES} <= set(make_sample.DATASETS.values())


@pytest.mark.parametrize("path", SAMPLES, ids=[path.name for path in SAMPLES])
def test_shipped_sample_equals_what_sklearn_produces(path):
    task = {name: task for task, name in make_sample.DATASETS.items()}[path.name]
    assert path.read_text(encoding="utf-8") == make_sample.sample_csv(task)


@pytest.mark.parametrize("path", SAMPLES, ids=[path.name for path in SAMPLES])
def test_sample_has_a_target_column(path):
    header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header[-1] == "target"


def test_make_sample_writes_the_requested_task(tmp_path):
    assert make_sample.main(["--task", "regression", "--output-dir", str(tmp_path)]) == 0
    assert [path.name for path in tmp_path.iterdir()] == ["diabetes.csv"]
    assert (tmp_path / "diabetes.csv").read_text() == make_sample.sample_csv("regression")
