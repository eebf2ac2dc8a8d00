"""register and publish against in-memory operation groups that keep workspace state."""

from __future__ import annotations

from types import SimpleNamespace

from fakes.ml import FakeMLClient

from amlctl.cli import guarded
from amlctl.cloud import publish, register
from amlctl.cloud.assets import discover
from amlctl.cloud.register import register_project


def versions(ml_client, group):
    return {name: sorted(found) for name, found in getattr(ml_client, group).store.items()}


def register_dev(ml_client, dry_run: bool = False) -> int:
    return guarded(register.main, SimpleNamespace(env="dev", dry_run=dry_run), ml_client=ml_client)


def test_first_register_creates_everything_with_content_versions(project, capsys):
    ml_client = FakeMLClient()

    assert register_dev(ml_client) == 0

    expected = {asset.name: asset.version for asset in discover(project)}
    assert {(c.group, c.name, c.version) for c in ml_client.writes} == {
        ("environments", "fixture-sklearn", expected["fixture-sklearn"]),
        ("data", "fixture-raw", expected["fixture-raw"]),
        ("components", "prep", expected["prep"]),
        ("components", "train", expected["train"]),
    }
    assert all(len(version) == 12 for version in expected.values())
    out = capsys.readouterr().out
    assert "4 created" in out


def test_component_uses_the_content_versioned_environment(project):
    ml_client = FakeMLClient()
    register_project(project, ml_client)

    (env_version,) = versions(ml_client, "environments")["fixture-sklearn"]
    (train,) = ml_client.components.store["train"].values()
    assert train.environment in (
        f"azureml:fixture-sklearn:{env_version}",
        f"fixture-sklearn:{env_version}",
    )


def test_second_register_of_unchanged_project_writes_nothing(project, capsys):
    ml_client = FakeMLClient()
    register_project(project, ml_client)
    ml_client.reset_calls()

    assert register_dev(ml_client) == 0

    assert ml_client.writes == []
    assert "4 unchanged" in capsys.readouterr().out


def test_changing_one_components_code_creates_exactly_one_version(project):
    ml_client = FakeMLClient()
    register_project(project, ml_client)
    before = versions(ml_client, "components")
    ml_client.reset_calls()

    (project / "components" / "train" / "src" / "train.py").write_text("print('better')\n")
    register_project(project, ml_client)

    assert [(c.group, c.name) for c in ml_client.writes] == [("components", "train")]
    after = versions(ml_client, "components")
    assert after["prep"] == before["prep"]
    assert len(after["train"]) == 2


def test_ignored_files_and_formatting_do_not_change_versions(project):
    first = {asset.name: asset.version for asset in discover(project)}

    (project / "components" / "prep" / "src" / "scratch").mkdir()
    (project / "components" / "prep" / "src" / "scratch" / "notes.txt").write_text("x")
    (project / "components" / "prep" / "src" / "run.tmp").write_text("x")
    (project / "components" / "prep" / "src" / "__pycache__").mkdir()
    (project / "components" / "prep" / "src" / "__pycache__" / "prep.pyc").write_bytes(b"x")
    definition = project / "components" / "prep" / "component.yml"
    definition.write_text(
        "# a comment\n" + definition.read_text().replace('version: "1"', 'version: "7"')
    )

    assert {asset.name: asset.version for asset in discover(project)} == first


def test_environment_change_gives_components_new_versions(project):
    first = {asset.name: asset.version for asset in discover(project)}
    conda = project / "environments" / "sklearn" / "conda.yml"
    conda.write_text(conda.read_text() + "    - pandas\n")

    second = {asset.name: asset.version for asset in discover(project)}

    assert second["fixture-raw"] == first["fixture-raw"]
    for name in ("fixture-sklearn", "prep", "train"):
        assert second[name] != first[name]


def test_dry_run_reports_without_creating(project, capsys):
    ml_client = FakeMLClient()

    assert register_dev(ml_client, dry_run=True) == 0

    assert ml_client.writes == []
    assert ml_client.components.store == {}
    assert "4 would create" in capsys.readouterr().out


def test_failure_half_way_is_finished_by_a_rerun(project, capsys):
    ml_client = FakeMLClient()
    ml_client.ledger.fail_once.add(("components", "train"))

    assert register_dev(ml_client) == 1
    assert "injected failure creating components train" in capsys.readouterr().err
    assert "train" not in ml_client.components.store
    ml_client.reset_calls()

    assert register_dev(ml_client) == 0

    assert [(c.group, c.name) for c in ml_client.writes] == [("components", "train")]


def test_publish_creates_pipeline_endpoint_deployment_and_schedule(project):
    ml_client = FakeMLClient()

    assert guarded(publish.main, SimpleNamespace(env="dev"), ml_client=ml_client) == 0

    (pipeline_version,) = versions(ml_client, "components")["training_pipeline"]
    (pipeline,) = ml_client.components.store["training_pipeline"].values()
    steps = {name: str(node.component) for name, node in pipeline.jobs.items()}
    registered = {asset.name: asset.version for asset in discover(project)}
    assert steps == {
        "prep": f"prep:{registered['prep']}",
        "train": f"train:{registered['train']}",
    }
    # config/dev.yml names the environment's endpoint (names are unique per Azure region)
    deployment = ml_client.batch_deployments.store[("fixture-training-dev", "training")]
    assert str(deployment.component).endswith(f"training_pipeline:{pipeline_version}")
    assert set(ml_client.batch_endpoints.store) == {"fixture-training-dev"}
    endpoint = ml_client.batch_endpoints.store["fixture-training-dev"]
    assert publish.default_deployment(endpoint) == "training"
    schedule = ml_client.schedules.store["training-weekly"]
    assert schedule.trigger.expression == "0 2 * * 1"


def test_publish_twice_changes_nothing_the_second_time(project, capsys):
    ml_client = FakeMLClient()
    guarded(publish.main, SimpleNamespace(env="dev"), ml_client=ml_client)
    ml_client.reset_calls()

    assert guarded(publish.main, SimpleNamespace(env="dev"), ml_client=ml_client) == 0

    assert ml_client.writes == []
    assert "updated" not in capsys.readouterr().out.split("KIND")[-1]


def test_changed_step_updates_pipeline_and_deployment_only(project):
    ml_client = FakeMLClient()
    guarded(publish.main, SimpleNamespace(env="dev"), ml_client=ml_client)
    ml_client.reset_calls()

    (project / "components" / "prep" / "src" / "prep.py").write_text("print('v2')\n")
    assert guarded(publish.main, SimpleNamespace(env="dev"), ml_client=ml_client) == 0

    assert [(c.group, c.name) for c in ml_client.writes] == [
        ("components", "prep"),
        ("components", "training_pipeline"),
        ("batch_deployments", "training"),
        ("schedules", "training-weekly"),  # its job runs the changed component
    ]
    assert len(versions(ml_client, "components")["training_pipeline"]) == 2


def test_changed_schedule_is_the_only_write(project):
    ml_client = FakeMLClient()
    guarded(publish.main, SimpleNamespace(env="dev"), ml_client=ml_client)
    ml_client.reset_calls()

    schedule_file = project / "pipelines" / "schedules" / "training-cron.yml"
    schedule_file.write_text(schedule_file.read_text().replace("0 2 * * 1", "0 3 * * 1"))
    assert guarded(publish.main, SimpleNamespace(env="dev"), ml_client=ml_client) == 0

    assert [(c.group, c.name) for c in ml_client.writes] == [("schedules", "training-weekly")]
    assert ml_client.schedules.store["training-weekly"].trigger.expression == "0 3 * * 1"


def test_step_that_is_not_a_project_component_fails_before_any_write(project, capsys):
    pipeline = project / "pipelines" / "publish" / "training-component.yml"
    pipeline.write_text(pipeline.read_text().replace("components/train/", "components/nope/"))
    ml_client = FakeMLClient()

    assert guarded(publish.main, SimpleNamespace(env="dev"), ml_client=ml_client) == 2

    assert "not a component under components/" in capsys.readouterr().err
    assert ml_client.calls == []


def test_deployment_runs_on_the_cluster_that_provision_created(project):
    ml_client = FakeMLClient()

    publish.publish_project(project, ml_client, echo=lambda _: None, cpu_cluster="cpu-renamed")

    deployment = ml_client.batch_deployments.store[("fixture-training", "training")]
    assert deployment.settings["default_compute"] == "cpu-renamed"
