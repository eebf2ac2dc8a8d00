"""submit: the job sent, its tags and the exit code that follows the job's outcome."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fakes.ml import FakeMLClient

from amlctl.cli import guarded
from amlctl.cloud import submit
from amlctl.cloud.assets import discover


@pytest.fixture
def project(project, monkeypatch):
    root = project
    monkeypatch.setenv("GITHUB_SHA", "0123abcd")
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "my-org/fixture")
    monkeypatch.setenv("GITHUB_RUN_ID", "987")
    monkeypatch.setattr(submit, "POLL_SECONDS", 0)
    return root


def args(pipeline="training", *overrides, wait=True):
    return SimpleNamespace(
        env="dev", pipeline=pipeline, overrides=list(overrides), wait=wait, experiment=None
    )


def test_submit_sends_job_with_overrides_tags_and_registered_steps(project, capsys):
    ml_client = FakeMLClient(job_statuses=["Queued", "Running", "Completed"])

    assert guarded(submit.main, args("training", "n_estimators=5"), ml_client=ml_client) == 0

    (sent,) = ml_client.jobs.submitted.values()
    job = sent.job
    assert job.inputs["n_estimators"]._data == 5 or job.inputs["n_estimators"] == 5
    assert job.experiment_name == "training"
    assert job.tags["git_commit"] == "0123abcd"
    assert job.tags["ci_run_url"] == "https://github.com/my-org/fixture/actions/runs/987"
    registered = {asset.name: asset.reference for asset in discover(project)}
    steps = {name: str(node.component) for name, node in job.jobs.items()}
    assert steps == {
        "prep": registered["prep"].removeprefix("azureml:"),
        "train": registered["train"].removeprefix("azureml:"),
    }
    assert set(ml_client.components.store) == {"prep", "train"}  # registered before the job
    out = capsys.readouterr().out
    assert "studio: https://ml.azure.com/runs/job-1" in out
    assert "job-1: Running" in out
    assert "job-1: Completed" in out


@pytest.mark.parametrize("outcome", ["Failed", "Canceled"])
def test_wait_exits_non_zero_when_the_job_does_not_complete(project, capsys, outcome):
    ml_client = FakeMLClient(job_statuses=["Running", outcome])

    assert guarded(submit.main, args(), ml_client=ml_client) == 1

    assert f"job job-1 ended {outcome}" in capsys.readouterr().err


def test_without_wait_returns_after_submission(project):
    ml_client = FakeMLClient(job_statuses=["Failed"])

    assert guarded(submit.main, args(wait=False), ml_client=ml_client) == 0

    assert [c.method for c in ml_client.calls if c.group == "jobs"] == ["create_or_update"]


def test_unknown_input_and_pipeline_fail_before_any_call(project, capsys):
    ml_client = FakeMLClient()

    assert guarded(submit.main, args("training", "learning_rat=0.1"), ml_client=ml_client) == 2
    assert guarded(submit.main, args("nope"), ml_client=ml_client) == 2

    err = capsys.readouterr().err
    assert "--set learning_rat: not an input of pipelines/training.yml" in err
    assert "no pipeline 'nope' in pipelines/ (pipelines: training)" in err
    assert ml_client.calls == []


def test_compute_follows_the_cluster_that_provision_created(project, capsys):
    outputs = project / ".azure" / "dev" / "outputs.json"
    outputs.parent.mkdir(parents=True)
    outputs.write_text('{"cpuClusterName": "cpu-renamed", "workspaceName": "mlw-other"}')
    ml_client = FakeMLClient()

    assert guarded(submit.main, args(wait=False), ml_client=ml_client) == 0

    (sent,) = ml_client.jobs.submitted.values()
    assert sent.job.settings.default_compute == "cpu-renamed"
    assert "created workspace 'mlw-other', but workspace_name is 'mlw-fixture-dev'" in (
        capsys.readouterr().err
    )
