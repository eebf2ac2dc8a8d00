"""Fixtures of the scoring tests: a model trained by the project's own train step."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest

PROJECT = Path(__file__).resolve().parents[4]
SCORING = Path(__file__).resolve().parents[1]
SAMPLE_REQUEST = SCORING.parent / "sample-request.json"


def load_module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def training_table() -> pd.DataFrame:
    [csv] = sorted((PROJECT / "data" / "sample").glob("*.csv"))
    return pd.read_csv(csv)


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory) -> Path:
    """An MLflow model folder written by components/train on the sample data (small and fast)."""
    train = load_module("train_for_scoring", PROJECT / "components/train/src/train.py")
    folder = tmp_path_factory.mktemp("model")
    table = training_table()
    table.to_csv(folder / "train.csv", index=False)
    task = "classification" if table["target"].nunique() <= 10 else "regression"
    model = folder / "model"
    args = ["--train_data", str(folder), "--model", str(model), "--task", task]
    assert train.main([*args, "--n_estimators", "20"]) == 0
    return model


@pytest.fixture(scope="session")
def features() -> pd.DataFrame:
    """The training schema's feature columns, with real rows."""
    return training_table().drop(columns=["target"])


@pytest.fixture(scope="session")
def sample_request() -> dict:
    return json.loads(SAMPLE_REQUEST.read_text(encoding="utf-8"))
