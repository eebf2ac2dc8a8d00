"""Unit tests of components/register_model/src/register_model.py against a local MLflow store."""

import importlib.util
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

SRC = Path(__file__).resolve().parents[1] / "src"


def load_script():
    spec = importlib.util.spec_from_file_location("register_under_test", SRC / "register_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


register_model = load_script()
FEATURES = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})


@pytest.fixture
def model(tmp_path):
    import mlflow.sklearn

    path = tmp_path / "model"
    estimator = LogisticRegression().fit(FEATURES, [0, 0, 1, 1])
    mlflow.sklearn.save_model(
        estimator, str(path), serialization_format="pickle", pip_requirements=["scikit-learn"]
    )
    return path


def retrained(model: Path, folder: Path) -> Path:
    """Another model folder: the same model with different bytes, as a re-training makes."""
    shutil.copytree(model, folder)
    (folder / "MLmodel").write_text((folder / "MLmodel").read_text() + "\n# retrained\n")
    return folder


def write_decision(folder: Path, promote, score: float = 0.93) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    decision = {"promote": promote, "reason": "because", "score": score}
    (folder / "decision.json").write_text(json.dumps(decision))
    return folder


def run_register(tmp_path: Path, model: Path, evaluation: Path, *extra: str) -> int:
    return register_model.main(
        [
            *("--model", str(model), "--evaluation", str(evaluation), "--model_name", "demo"),
            *("--registration", str(tmp_path / "registration"), *extra),
        ]
    )


def read_registration(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "registration" / "registration.json").read_text())


def test_promoted_model_is_registered_in_the_local_store(tmp_path, model, mlflow_store):
    import mlflow.pyfunc

    client, _ = mlflow_store
    assert run_register(tmp_path, model, write_decision(tmp_path / "first", True, 0.93)) == 0
    better = retrained(model, tmp_path / "better")
    assert run_register(tmp_path, better, write_decision(tmp_path / "second", True, 0.95)) == 0

    result = read_registration(tmp_path)
    assert result["registered"] is True
    assert (result["name"], result["version"]) == ("demo", "2")
    versions = client.search_model_versions("name='demo'")
    assert sorted(str(v.version) for v in versions) == ["1", "2"]
    assert client.get_model_version("demo", "1").tags["score"] == "0.93"
    loaded = mlflow.pyfunc.load_model("models:/demo/1")
    assert list(loaded.predict(FEATURES)) == [0, 0, 1, 1]


def test_not_promoted_model_is_not_registered(tmp_path, model, mlflow_store):
    client, _ = mlflow_store
    evaluation = write_decision(tmp_path / "evaluation", False)

    assert run_register(tmp_path, model, evaluation) == 0

    assert read_registration(tmp_path) == {
        "registered": False,
        "name": "demo",
        "reason": "because",
    }
    assert client.search_registered_models() == []


def test_promotion_without_a_tracking_store_fails_clearly(
    tmp_path, model, no_mlflow_tracking, capsys
):
    evaluation = write_decision(tmp_path / "evaluation", True)
    assert run_register(tmp_path, model, evaluation) == 2
    assert "MLFLOW_TRACKING_URI is not set" in capsys.readouterr().err
    assert not (tmp_path / "registration").exists()


def test_does_not_replace_a_better_registered_model(tmp_path, model, mlflow_store):
    client, _ = mlflow_store
    assert run_register(tmp_path, model, write_decision(tmp_path / "first", True, 0.93)) == 0

    worse = write_decision(tmp_path / "worse", True, 0.90)
    assert run_register(tmp_path, retrained(model, tmp_path / "worse-model"), worse) == 0
    result = read_registration(tmp_path)
    assert result["registered"] is False
    assert "does not beat 0.9300 of registered demo version 1" in result["reason"]
    assert len(client.search_model_versions("name='demo'")) == 1

    assert run_register(tmp_path, model, worse, "--must_beat_registered", "False") == 0
    result = read_registration(tmp_path)  # the same model is never registered twice
    assert result["registered"] is False
    assert result["reason"] == "unchanged: demo version 1 holds this model already"

    other = retrained(model, tmp_path / "other")
    assert run_register(tmp_path, other, worse, "--must_beat_registered", "False") == 0
    assert read_registration(tmp_path)["version"] == "2"
    versions = client.search_model_versions("name='demo'")
    digests = {str(v.version): v.tags["model_sha256"] for v in versions}
    assert digests["1"] == register_model.model_digest(model) != digests["2"]


def test_model_digest_covers_names_and_content(tmp_path, model):
    digest = register_model.model_digest(model)
    copy = tmp_path / "copy"
    shutil.copytree(model, copy)
    assert register_model.model_digest(copy) == digest  # where the folder is does not count
    (copy / "MLmodel").rename(copy / "MLmodel.renamed")
    assert register_model.model_digest(copy) != digest


@pytest.mark.parametrize(
    ("text", "value"), [("True", True), ("false", False), ("1", True), ("no", False)]
)
def test_boolean_flag_spellings(text, value):
    assert register_model.parse_bool(text) is value
    with pytest.raises(Exception, match="true or false"):
        register_model.parse_bool("maybe")


@pytest.mark.parametrize("promote", ["true", 1, None])
def test_decision_must_hold_a_boolean(tmp_path, model, no_mlflow_tracking, promote):
    evaluation = write_decision(tmp_path / "evaluation", promote)
    with pytest.raises(ValueError, match="promote"):
        run_register(tmp_path, model, evaluation)


def test_missing_decision_file_is_reported(tmp_path, model, no_mlflow_tracking):
    (tmp_path / "evaluation").mkdir()
    with pytest.raises(FileNotFoundError, match=r"decision\.json"):
        run_register(tmp_path, model, tmp_path / "evaluation")
