"""`serve`: which model it serves, and one clear line for each thing that is missing.

The server itself is exercised by the generated project's deploy/online/scoring/tests
(real azmlinfsrv over loopback HTTP); here the tool's side: the local registry lookup, the
command's checks, and the loopback launcher.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from amlctl.cli import guarded
from amlctl.serving import local


def register_versions(project, name: str, count: int) -> list[str]:
    """`count` versions of a small sklearn model in the project's local MLflow registry."""
    import mlflow
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    store = project / ".runs" / "mlflow.db"
    store.parent.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{store}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.MlflowClient(uri).create_experiment(
        "serve-test", artifact_location=str(project / ".runs" / "artifacts")
    )
    runs = []
    for n in range(count):
        with mlflow.start_run(experiment_id=experiment) as run:
            model = LogisticRegression().fit([[0.0, n], [1.0, n + 1]], [0, 1])
            mlflow.sklearn.log_model(
                model,
                name="model",
                registered_model_name=name,
                serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_PICKLE,
            )
            runs.append(run.info.run_id)
    return runs


def test_the_latest_registered_version_is_served(project):
    register_versions(project, "fixture.model_v-1", 3)  # dots, dashes: Azure ML allows them

    version, folder = local.latest_local_model(project, "fixture.model_v-1")

    assert version == "3"
    assert (folder / "MLmodel").is_file()


def test_no_local_registry_is_one_clear_error(project, capsys):
    args = SimpleNamespace(port=5001, workers=1, model=None, model_name="fixture-model")
    assert guarded(local.main, args) == 2
    err = capsys.readouterr().err
    assert "no local model registry" in err and "run --local" in err
    assert "Traceback" not in err


def test_a_model_never_registered_is_named(project, capsys):
    register_versions(project, "other-model", 1)
    args = SimpleNamespace(port=5001, workers=1, model=None, model_name="fixture-model")
    assert guarded(local.main, args) == 2
    assert "model 'fixture-model' has no registered version" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"port": 0}, "--port 0 is not a TCP port"), ({"workers": 0}, "--workers 0")],
)
def test_bad_arguments_are_refused(project, capsys, changes, message):
    args = SimpleNamespace(port=5001, workers=1, model=None, model_name="x", **{})
    for key, value in changes.items():
        setattr(args, key, value)
    assert guarded(local.main, args) == 2
    assert message in capsys.readouterr().err


def test_a_folder_that_is_no_model_is_refused(project, tmp_path, capsys):
    args = SimpleNamespace(port=5001, workers=1, model=tmp_path, model_name=None)
    assert guarded(local.main, args) == 2
    assert "is not an MLflow model folder" in capsys.readouterr().err


def test_the_model_name_comes_from_the_training_pipeline(project):
    training = project / "pipelines" / "training.yml"
    training.write_text(
        training.read_text().replace("inputs:\n", "inputs:\n  model_name: fixture-model\n", 1)
    )
    assert local.default_model_name(project) == "fixture-model"


def test_the_server_is_started_through_the_loopback_launcher():
    command = local.server_command(local.Path("score.py"), local.Path("model"), 5009, 2)
    assert command[1:3] == ["-m", "amlctl.serving._launch"]
    assert command[command.index("--port") + 1] == "5009"
    assert command[command.index("--worker_count") + 1] == "2"


def test_a_busy_port_is_refused_before_anything_is_printed(project, capsys):
    """It used to print a scoring URL (someone else's server) for 9 s, then fail."""
    with local.socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = SimpleNamespace(port=port, workers=1, model=None, model_name="fixture-model")
        assert guarded(local.main, args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert (
        err
        == f"error: port {port} on 127.0.0.1 is in use: stop what holds it or pick another --port\n"
    )


def test_a_model_name_in_mlflow_filter_syntax_is_one_clear_line(project, capsys):
    """A quote in the name reached MLflow's filter syntax: a traceback."""
    register_versions(project, "fixture-model", 1)
    capsys.readouterr()  # MLflow's own lines while registering
    args = SimpleNamespace(port=local.free_port(), workers=1, model=None, model_name="a'b")
    assert guarded(local.main, args) == 2
    assert capsys.readouterr().err == (
        "error: --model-name \"a'b\" is not a model name: letters, digits, '-', '_' and '.', "
        "starting with a letter or digit, at most 255 characters (Azure ML's rule)\n"
    )


@pytest.mark.parametrize(
    "name",
    ['a"b', "a' OR name LIKE '%", "-leading-dash", pytest.param("x" * 256, id="256-chars")],
)
def test_a_model_name_outside_azure_mls_rule_is_refused(project, capsys, name):
    args = SimpleNamespace(port=local.free_port(), workers=1, model=None, model_name=name)
    assert guarded(local.main, args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"--model-name {name!r} is not a model name" in err


def test_the_server_gets_the_deployments_variables_over_a_threaded_default(tmp_path):
    deployment = tmp_path / "deployment.yml"
    deployment.write_text("environment_variables:\n  SCORING_MAX_ROWS: 10\n  WORKER_COUNT: '2'\n")
    env = local.server_environment({"WORKER_COUNT": "3"}, deployment)
    assert env["SCORING_MAX_ROWS"] == "10"
    assert env["WORKER_COUNT"] == "3"  # explicit settings win
    assert env["GUNICORN_CMD_ARGS"] == local.THREADED_WORKER
    deployment.write_text("environment_variables:\n  GUNICORN_CMD_ARGS: --threads 8\n")
    assert local.server_environment(None, deployment)["GUNICORN_CMD_ARGS"] == "--threads 8"


def test_a_deployment_whose_variables_are_no_mapping_is_one_clear_error(tmp_path):
    deployment = tmp_path / "deployment.yml"
    deployment.write_text("environment_variables: [A, B]\n")
    with pytest.raises(local.ProjectError, match="environment_variables must be a mapping"):
        local.deployment_environment(deployment)
