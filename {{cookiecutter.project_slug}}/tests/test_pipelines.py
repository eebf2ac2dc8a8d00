"""The training pipeline in Python (pipelines/training.py) is the training pipeline in YAML.

Both files are read the way every amlctl command reads them; the graph the local runner
builds from each (steps, components, commands, code, environments, bindings, inputs and
outputs) must be the same, so `run --local`, `submit` and `publish` treat them alike and a
run of one reuses the cached steps of the other.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
PIPELINES = PROJECT / "pipelines"


class OfflineCredential:
    """Any object with get_token will do: validation never calls Azure."""

    def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken

        return AccessToken("offline", 4102444800)


def graph_of(path: Path) -> dict:
    """The local runner's graph of a pipeline file, without what names the file itself."""
    import yaml
    from amlctl import load_pipeline

    graph = load_pipeline(path).to_json()
    for key in ("path", "sources"):
        graph.pop(key)
    for step in graph["steps"].values():
        component = step["component"]
        component.pop("source")
        # an environment names its conda file (YAML) or holds its content (built in Python)
        build = component.get("environment_build") or {}
        if isinstance(build.get("conda_file"), str):
            conda = yaml.safe_load(Path(build.pop("conda_file")).read_text(encoding="utf-8"))
            build["conda"] = conda
    return graph


@pytest.fixture(scope="module")
def graphs() -> tuple[dict, dict]:
    logging.getLogger("azure").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=r".*experimental.*")
    return graph_of(PIPELINES / "training.yml"), graph_of(PIPELINES / "training.py")


def test_python_and_yaml_training_pipelines_build_the_same_graph(graphs):
    by_yaml, by_python = graphs
    assert list(by_python["steps"]) == list(by_yaml["steps"])
    for name, step in by_yaml["steps"].items():
        assert by_python["steps"][name] == step, name
    assert by_python == by_yaml


def test_the_data_quality_gate_sits_between_prep_data_and_train(graphs):
    by_yaml, _ = graphs
    steps = by_yaml["steps"]
    assert list(steps) == [
{%- if cookiecutter.spark_step %}
        "spark_features",
{%- endif %}
        "prep_data",
        "data_quality_gate",
        "train",
        "evaluate",
        "register_model",
    ]
    gate = steps["data_quality_gate"]
    assert gate["component"]["command"].startswith("bash check_data.sh ")
    assert {binding["ref"] for binding in gate["inputs"].values() if binding["kind"] == "step"} == {
        "prep_data.train_data",
        "prep_data.test_data",
    }
    assert steps["train"]["inputs"]["train_data"]["ref"] == "data_quality_gate.train_data_checked"
    assert steps["evaluate"]["inputs"]["test_data"]["ref"] == "data_quality_gate.test_data_checked"


def test_python_pipeline_job_validates_offline():
    from amlctl import load_pipeline_job
    from azure.ai.ml import MLClient

    job, sources = load_pipeline_job(PIPELINES / "training.py")
    client = MLClient(OfflineCredential(), "00000000-0000-0000-0000-000000000000", "rg", "ws")
    result = client.jobs.validate(job)
    assert result.passed, result.error_messages
    assert job.settings.default_compute
    assert job.settings.force_rerun is False
    assert str(PIPELINES / "training.py") in sources
