"""Fixtures shared by the component tests: a throw-away MLflow tracking store."""

import shutil

import pytest


@pytest.fixture(scope="session")
def _empty_mlflow_db(tmp_path_factory):
    """An sqlite MLflow store with its tables created once (creating them takes seconds)."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch, _empty_mlflow_db):
    """Point MLflow at a fresh sqlite store whose artifacts stay under tmp_path.

    Returns (client, experiment_id); the steps log into that experiment.
    """
    from mlflow import MlflowClient

    db = tmp_path / "mlflow.db"
    shutil.copyfile(_empty_mlflow_db, db)
    uri = f"sqlite:///{db}"
    client = MlflowClient(uri)
    experiment_id = client.create_experiment("test", artifact_location=str(tmp_path / "artifacts"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", experiment_id)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    return client, experiment_id


@pytest.fixture
def no_mlflow_tracking(monkeypatch):
    """No tracking configured: the steps must not log anywhere."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
