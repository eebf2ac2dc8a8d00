"""Every Azure ML YAML of the project loads and validates offline with azure-ai-ml.

Parametrized over the files present, so a project generated without an option (whose files
were removed) tests what it has. Also checks what the SDK does not: component command lines
against declared inputs and against the scripts' own argument parsers, and the environment
against the versions pinned in pyproject.toml.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import shlex
import warnings
from pathlib import Path

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[1]
COMPONENTS = sorted(PROJECT.glob("components/*/component.yml"))
COMMAND_COMPONENTS = [
    path for path in COMPONENTS if "type: command" in path.read_text(encoding="utf-8")
]
SPARK_COMPONENTS = [
    path for path in COMPONENTS if "type: spark" in path.read_text(encoding="utf-8")
]
# Components whose command runs a Python script with argparse (not a shell script, and not a
# Python function run by `mldesigner execute`, which tests/test_component.py covers).
SCRIPT_COMPONENTS = [
    path
    for path in COMMAND_COMPONENTS
    if yaml.safe_load(path.read_text())["command"].startswith("python ")
]
PIPELINE_JOBS = sorted(PROJECT.glob("pipelines/*.yml"))
SCHEDULES = sorted(PROJECT.glob("pipelines/schedules/*.yml"))
PUBLISH = PROJECT / "pipelines" / "publish"
ENVIRONMENT = PROJECT / "environments" / "sklearn" / "environment.yml"
CONDA = PROJECT / "environments" / "sklearn" / "conda.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(inputs|outputs)\.(\w+)\s*\}\}")
OPTIONAL_BLOCK = re.compile(r"\$\[\[(.*?)\]\]", re.DOTALL)
PARENT_BINDING = re.compile(r"\$\{\{\s*parent\.(inputs|outputs)\.(\w+)\s*\}\}")
JOB_OUTPUT = re.compile(r"\$\{\{\s*parent\.jobs\.(\w+)\.outputs\.(\w+)\s*\}\}")


def ids(paths: list[Path]) -> list[str]:
    return [str(path.relative_to(PROJECT)) for path in paths]


class OfflineCredential:
    """Any object with get_token will do: validation never calls Azure."""

    def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken

        return AccessToken("offline", 4102444800)


@pytest.fixture(scope="module")
def ml_client():
    from azure.ai.ml import MLClient

    logging.getLogger("azure").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=r".*experimental.*")
    return MLClient(OfflineCredential(), "00000000-0000-0000-0000-000000000000", "rg", "ws")


def read_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_the_training_definitions_are_present():
    """The files every project has, whatever its options."""
    names = {path.parent.name for path in COMPONENTS}
    assert {"prep_data", "data_quality_gate", "train", "evaluate", "register_model"} <= names
    assert PROJECT / "pipelines" / "training.yml" in PIPELINE_JOBS
    assert (PROJECT / "pipelines" / "training.py").is_file()
    for name in ("training-component.yml", "batch-endpoint.yml", "training-deployment.yml"):
        assert (PUBLISH / name).is_file()


@pytest.mark.parametrize("path", COMPONENTS, ids=ids(COMPONENTS))
def test_component_loads_and_validates(path, ml_client):
    from azure.ai.ml import load_component

    component = load_component(source=path)
    result = ml_client.components.validate(component)
    assert result.passed, result.error_messages
    assert component.name == path.parent.name
    expected_deterministic = path.parent.name != "register_model"
    assert component.is_deterministic is expected_deterministic


def program_of(command: str) -> str:
    """The file of src/ a command runs: `python x.py`, `bash x.sh`, `mldesigner --source x.py`."""
    argv = shlex.split(command)
    if argv[0] == "mldesigner":
        return argv[argv.index("--source") + 1]
    assert argv[0] in ("python", "bash"), argv[0]
    return argv[1]


@pytest.mark.parametrize("path", COMPONENTS, ids=ids(COMPONENTS))
def test_component_folder_is_complete(path):
    name = path.parent.name
    spec = read_yaml(path)
    if spec["type"] == "parallel":
        program = spec["task"]["entry_script"]
    elif spec["type"] == "spark":
        program = spec["entry"]["file"]
    else:
        program = program_of(spec["command"])
    assert (path.parent / "src" / program).is_file(), program
    assert (path.parent / "tests" / f"test_{name}.py").is_file()
    for ignore in (path.parent / ".amlignore", path.parent / "src" / ".amlignore"):
        assert "tests/" in ignore.read_text().splitlines()


ENVIRONMENT_COMPONENTS = [path for path in COMPONENTS if path not in SPARK_COMPONENTS]


@pytest.mark.parametrize("path", ENVIRONMENT_COMPONENTS, ids=ids(ENVIRONMENT_COMPONENTS))
def test_component_uses_the_project_environment(path):
    spec = read_yaml(path)
    environment = spec["task"]["environment"] if spec["type"] == "parallel" else spec["environment"]
    assert environment["image"] == read_yaml(ENVIRONMENT)["image"]
    assert (path.parent / environment["conda_file"]).resolve() == CONDA


def command_of(spec: dict) -> str:
    if spec["type"] == "spark":
        return spec["args"]
    if spec["type"] == "parallel":
        return spec["task"]["program_arguments"]
    return spec["command"]


@pytest.mark.parametrize("path", COMPONENTS, ids=ids(COMPONENTS))
def test_command_uses_every_input_and_output_as_declared(path):
    spec = read_yaml(path)
    command = command_of(spec)
    optional_part = " ".join(OPTIONAL_BLOCK.findall(command))
    required_part = OPTIONAL_BLOCK.sub(" ", command)
    inputs, outputs = spec.get("inputs", {}), spec.get("outputs", {})
    if spec["type"] == "parallel":
        required_part += " " + spec["input_data"] + " " + spec["task"]["append_row_to"]

    used = {(kind, name) for kind, name in EXPRESSION.findall(required_part + optional_part)}
    declared = {("inputs", name) for name in inputs} | {("outputs", name) for name in outputs}
    assert used == declared
    for name, declaration in inputs.items():
        in_optional = f"inputs.{name}" in optional_part
        assert in_optional is bool(declaration.get("optional")), name


PLACEHOLDERS = {"integer": "1", "number": "0.5", "boolean": "true", "string": "text"}


def placeholder(kind: str, name: str, spec: dict) -> str:
    """A value the script must accept for an input or output: its default or one of its type."""
    if kind == "outputs":
        return f"/outputs/{name}"
    declaration = spec["inputs"][name]
    if "default" in declaration:
        return str(declaration["default"])
    return PLACEHOLDERS.get(declaration["type"], f"/inputs/{name}")


@pytest.mark.parametrize("path", SCRIPT_COMPONENTS, ids=ids(SCRIPT_COMPONENTS))
def test_command_line_is_accepted_by_the_script(path):
    """Fill every input and output expression with a placeholder; the script must parse it."""
    spec = read_yaml(path)
    argv = shlex.split(OPTIONAL_BLOCK.sub(r"\1", spec["command"]))
    assert argv[:2] == ["python", f"{path.parent.name}.py"]
    filled = [
        EXPRESSION.sub(lambda match: placeholder(match[1], match[2], spec), arg) for arg in argv[2:]
    ]
    module_spec = importlib.util.spec_from_file_location(
        f"{path.parent.name}_cli_check", path.parent / "src" / f"{path.parent.name}.py"
    )
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    args = module.parse_args(filled)
    for flag in (arg for arg in filled if arg.startswith("--")):
        assert getattr(args, flag[2:]) is not None, flag


@pytest.mark.parametrize("path", PIPELINE_JOBS, ids=ids(PIPELINE_JOBS))
def test_pipeline_job_loads_and_validates(path, ml_client):
    from azure.ai.ml import load_job

    job = load_job(source=path)
    result = ml_client.jobs.validate(job)
    assert result.passed, result.error_messages
    assert job.type == "pipeline"
    assert job.settings.default_compute
    assert job.settings.force_rerun is False


@pytest.mark.parametrize("path", PIPELINE_JOBS, ids=ids(PIPELINE_JOBS))
def test_pipeline_bindings_name_existing_inputs_and_components(path):
    """What azure-ai-ml does not check offline: parent input, output and job references."""
    spec = read_yaml(path)
    parent_inputs, parent_outputs = set(spec.get("inputs", {})), set(spec.get("outputs", {}))
    for node_name, node in spec["jobs"].items():
        if node["type"] == "automl":  # no component: its data inputs are node fields
            node = {
                "inputs": {k: v for k, v in node.items() if k.endswith("_data")},
                "outputs": node.get("outputs", {}),
            }
            component = {"inputs": node["inputs"], "outputs": {"best_model": {}}}
        else:
            source = node.get("component") or node["trial"]
            component = read_yaml((path.parent / source).resolve())
        assert set(node.get("inputs", {})) <= set(component["inputs"]), node_name
        assert set(node.get("outputs", {})) <= set(component["outputs"]), node_name
        for value in [*node.get("inputs", {}).values(), *node.get("outputs", {}).values()]:
            for kind, name in re.findall(PARENT_BINDING, str(value)):
                assert name in (parent_inputs if kind == "inputs" else parent_outputs), value
            for job, name in re.findall(JOB_OUTPUT, str(value)):
                upstream = spec["jobs"][job]
                if upstream["type"] == "automl":
                    assert name == "best_model", value
                    continue
                upstream_component = read_yaml(
                    (path.parent / (upstream.get("component") or upstream["trial"])).resolve()
                )
                assert name in upstream_component["outputs"], value


def test_schedules_load():
    from azure.ai.ml.entities._load_functions import load_schedule

    # The project was generated {{ "with" if cookiecutter.schedule else "without" }} schedules.
    expected = {{ '["training-cron.yml"]' if cookiecutter.schedule else "[]" }}
    assert [path.name for path in SCHEDULES] == expected
    for path in SCHEDULES:
        schedule = load_schedule(source=path)
        assert schedule.create_job.type == "pipeline", path.name
        assert schedule.trigger.time_zone == "UTC", path.name


def test_publish_definitions_load(ml_client):
    from azure.ai.ml import load_batch_endpoint, load_component
    from azure.ai.ml.entities._load_functions import load_pipeline_component_batch_deployment

    component = load_component(source=PUBLISH / "training-component.yml")
    assert ml_client.components.validate(component).passed
    assert component.type == "pipeline"
    endpoint = load_batch_endpoint(source=PUBLISH / "batch-endpoint.yml")
    deployment = load_pipeline_component_batch_deployment(
        source=PUBLISH / "training-deployment.yml"
    )
    assert deployment.endpoint_name == endpoint.name
    assert endpoint.auth_mode == "aad_token"
    assert deployment.component.type == "pipeline"
    assert deployment.settings["continue_on_step_failure"] is False{%- if cookiecutter.online_endpoint %}


def test_online_definitions_load_and_agree():
    """The endpoint, its deployment and the model monitor name one another consistently."""
    from azure.ai.ml import load_data, load_online_deployment, load_online_endpoint
    from azure.ai.ml.entities._load_functions import load_schedule

    online = PROJECT / "deploy" / "online"
    endpoint = load_online_endpoint(source=online / "endpoint.yml")
    deployment = load_online_deployment(source=online / "deployment.yml")
    monitor = load_schedule(source=online / "monitor.yml")
    assert endpoint.auth_mode in ("key", "aad_token")
    assert deployment.endpoint_name == endpoint.name
    assert (online / deployment.code_configuration.code / "score.py").is_file()
    model_name = read_yaml(PROJECT / "pipelines" / "training.yml")["inputs"]["model_name"]
    assert deployment.model.removeprefix("azureml:") == f"{model_name}:1"
    environment = deployment.environment.removeprefix("azureml:").split(":")[0]
    assert environment == read_yaml(ENVIRONMENT)["name"]
    assert deployment.liveness_probe.initial_delay > 0
    assert deployment.readiness_probe.initial_delay > 0
    assert deployment.request_settings.request_timeout_ms > 0
    assert deployment.data_collector.collections.keys() == {"model_inputs", "model_outputs"}
    target = monitor.create_monitor.monitoring_target
    assert target.endpoint_deployment_id == f"azureml:{endpoint.name}:{deployment.name}"
    assert set(monitor.create_monitor.monitoring_signals) == {
        "data_drift",
        "prediction_drift",
        "data_quality",
    }
    table = load_data(source=PROJECT / "data" / "sample-table.yml")
    assert table.type == "mltable"
    assert (PROJECT / "data" / "sample" / "MLTable").is_file()


def test_online_server_settings_fit_the_request_settings():
    """A body's read timeout ends before the request's; gunicorn's threaded worker runs
    more threads than requests come at once, so a slow client takes none of their places."""
    deployment = read_yaml(PROJECT / "deploy" / "online" / "deployment.yml")
    variables, requests = deployment["environment_variables"], deployment["request_settings"]
    assert float(variables["SCORING_READ_TIMEOUT_S"]) * 1000 <= requests["request_timeout_ms"]
    gunicorn = variables["GUNICORN_CMD_ARGS"].split()
    assert gunicorn[gunicorn.index("--worker-class") + 1] == "gthread"
    threads = int(variables["WORKER_COUNT"]) * int(gunicorn[gunicorn.index("--threads") + 1])
    assert threads > requests["max_concurrent_requests_per_instance"]
{%- endif %}


def test_published_component_matches_the_training_pipeline():
    """Same steps, components and wiring as pipelines/training.yml."""
    training = read_yaml(PROJECT / "pipelines" / "training.yml")
    published = read_yaml(PUBLISH / "training-component.yml")
    assert set(published["inputs"]) >= set(training["inputs"])
    assert published["outputs"].keys() == training["outputs"].keys()
    assert published["jobs"].keys() == training["jobs"].keys()
    for name, node in training["jobs"].items():
        other = published["jobs"][name]
        assert Path(other["component"]).name == Path(node["component"]).name
        for key, value in node.get("inputs", {}).items():
            assert other["inputs"][key] == value, (name, key)


def test_data_asset_and_environment_load():
    from azure.ai.ml import load_data, load_environment

    data = load_data(source=PROJECT / "data" / "sample-data.yml")
    assert data.type == "uri_folder"
    assert Path(data.path).resolve() == PROJECT / "data" / "sample"
    environment = load_environment(source=ENVIRONMENT)
    assert environment.image.startswith("mcr.microsoft.com/azureml/")


def test_environment_pins_match_pyproject():
    from importlib.metadata import metadata, requires

    # The installed project's metadata is what pip read from pyproject.toml.
    distribution = "{{ cookiecutter.project_slug }}"
    runtime = [req for req in requires(distribution) or [] if "extra ==" not in req]
    pinned = dict(req.split(";")[0].replace(" ", "").split("==") for req in runtime if "==" in req)
    conda = read_yaml(CONDA)
    [pip_section] = [dep for dep in conda["dependencies"] if isinstance(dep, dict)]
    for requirement in pip_section["pip"]:
        name, version = requirement.split("==")
        if name in pinned:
            # mlflow-skinny: azureml-mlflow caps it, so pyproject.toml must pin the same version.
            assert version == pinned[name], f"{name}: conda.yml {version}, pyproject {pinned[name]}"
    assert {"mlflow-skinny", "scikit-learn", "pandas"} <= {
        requirement.split("==")[0] for requirement in pip_section["pip"]
    }
    python = next(dep for dep in conda["dependencies"] if str(dep).startswith("python="))
    minimum = metadata(distribution)["Requires-Python"].removeprefix(">=")

    def as_tuple(version: str) -> tuple[int, ...]:
        return tuple(int(part) for part in version.split("."))

    assert as_tuple(python.split("=")[1]) >= as_tuple(minimum), "environment below requires-python"

{%- if cookiecutter.spark_step %}


@pytest.mark.parametrize("path", SPARK_COMPONENTS, ids=ids(SPARK_COMPONENTS))
def test_spark_component_ships_what_its_entry_imports(path):
    """entry and py_files exist in its code folder; data is read and written directly."""
    spec = read_yaml(path)
    code = (path.parent / spec["code"]).resolve()
    assert (code / spec["entry"]["file"]).is_file()
    for name in spec.get("py_files", []):
        assert (code / name).is_file(), name
    for name, declaration in {**spec["inputs"], **spec["outputs"]}.items():
        if declaration["type"].startswith("uri_"):
            assert declaration.get("mode") == "direct", name


@pytest.mark.parametrize("path", PIPELINE_JOBS, ids=ids(PIPELINE_JOBS))
def test_spark_nodes_run_on_serverless_spark(path):
    for name, node in read_yaml(path)["jobs"].items():
        if node["type"] == "spark":
            assert node["resources"]["instance_type"], name
            assert str(node["resources"]["runtime_version"]), name
            assert node["identity"]["type"] in ("managed", "user_identity"), name
{%- endif %}
