"""`deploy`: blue/green rollout against in-memory online endpoint and deployment fakes.

The fakes keep state (endpoints with traffic, deployments, schedules) and refuse what Azure
refuses (traffic to a missing deployment, deleting a deployment that still gets traffic), so
the tests assert on the state the rollout leaves behind and on the writes it made.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from fakes.ml import FakeMLClient
from fakes.project import make_online

from amlctl.cli import guarded
from amlctl.cloud import deploy

ENDPOINT = "fixture-online-dev"


@pytest.fixture
def online(project, monkeypatch):
    monkeypatch.delenv(deploy.ENDPOINT_VARIABLE, raising=False)
    return make_online(project)


def run_deploy(ml_client, version: str | None = None) -> int:
    return guarded(
        deploy.main, SimpleNamespace(env="dev", model_version=version), ml_client=ml_client
    )


def with_model(*versions: str) -> FakeMLClient:
    ml_client = FakeMLClient()
    ml_client.models.store["fixture-model"] = list(versions)
    return ml_client


def live(ml_client) -> dict[str, int]:
    traffic = ml_client.online_endpoints.store[ENDPOINT].traffic or {}
    return {name: share for name, share in traffic.items() if share}


def deployments(ml_client) -> dict[str, object]:
    return {name: d for (endpoint, name), d in ml_client.online_deployments.store.items()}


def test_first_deploy_creates_the_endpoint_and_sends_all_traffic_to_the_latest_model(
    online, capsys
):
    ml_client = with_model("1", "2")

    assert run_deploy(ml_client) == 0

    (name,) = deployments(ml_client)
    assert name.startswith("model-v2-")
    assert live(ml_client) == {name: 100}
    deployed = deployments(ml_client)[name]
    assert deployed.model.removeprefix("azureml:") == "fixture-model:2"
    assert (deployed.instance_type, deployed.instance_count) == ("Standard_DS2_v2", 3)
    assert deployed.environment.removeprefix("azureml:").startswith("fixture-sklearn:")
    assert deployed.request_settings.request_timeout_ms == 5000
    assert ml_client.online_endpoints.store[ENDPOINT].auth_mode == "key"
    # smoke-tested through the endpoint, addressed to the new deployment only
    assert (ENDPOINT, name) in ml_client.online_endpoints.invocations
    monitor = ml_client.schedules.store["fixture-monitor"]
    target = monitor.create_monitor.monitoring_target.endpoint_deployment_id
    assert target == f"azureml:{ENDPOINT}:{name}"
    # the reference data is the project's data asset at its registered (content) version
    (data_version,) = ml_client.data.store["fixture-raw"]
    reference = monitor.create_monitor.monitoring_signals["data_drift"].reference_data
    assert reference.input_data.path.removeprefix("azureml:") == f"fixture-raw:{data_version}"
    assert "created: online endpoint" in capsys.readouterr().out


def test_a_new_version_goes_blue_green_in_steps_and_the_old_deployment_is_deleted(online):
    ml_client = with_model("1")
    assert run_deploy(ml_client) == 0
    (old,) = deployments(ml_client)
    ml_client.models.store["fixture-model"].append("2")
    shares: list[dict[str, int]] = []
    store = ml_client.online_endpoints.begin_create_or_update

    def recording(endpoint):
        shares.append({k: v for k, v in (endpoint.traffic or {}).items()})
        return store(endpoint)

    ml_client.online_endpoints.begin_create_or_update = recording
    ml_client.reset_calls()

    assert run_deploy(ml_client) == 0

    (new,) = deployments(ml_client)
    assert new.startswith("model-v2-") and new != old
    assert shares == [{new: 10, old: 90}, {new: 100, old: 0}]
    assert live(ml_client) == {new: 100}
    created = [c.name for c in ml_client.writes if c.group == "online_deployments"]
    assert created == [new, old]  # created, then the previous one deleted
    methods = [c.method for c in ml_client.writes if c.group == "online_deployments"]
    assert methods == ["begin_create_or_update", "begin_delete"]
    # the new deployment was smoke-tested before it got any traffic, then after each step
    assert ml_client.online_endpoints.invocations[-3:] == [(ENDPOINT, new)] * 3


def test_an_unchanged_model_version_writes_nothing(online, capsys):
    ml_client = with_model("1")
    assert run_deploy(ml_client) == 0
    ml_client.reset_calls()

    assert run_deploy(ml_client) == 0

    assert ml_client.writes == []
    assert [c.method for c in ml_client.calls if c.method == "invoke"] == []
    assert "unchanged" in capsys.readouterr().out


def test_a_failing_smoke_test_rolls_back_to_the_old_deployment(online, capsys):
    ml_client = with_model("1")
    assert run_deploy(ml_client) == 0
    (old,) = deployments(ml_client)
    ml_client.models.store["fixture-model"].append("2")
    broken = deploy.deployment_name("2", "")[:-1]  # every name for version 2 starts so
    ml_client.online_endpoints.scorers = _failing_for(broken)

    assert run_deploy(ml_client) == 1

    assert set(deployments(ml_client)) == {old}
    assert live(ml_client) == {old: 100}
    err = capsys.readouterr().err
    assert "failed at smoke test" in err
    assert f"traffic back to {old}" in err
    assert "Traceback" not in err


def test_a_failing_traffic_step_rolls_back_the_traffic_too(online, capsys):
    ml_client = with_model("1")
    assert run_deploy(ml_client) == 0
    (old,) = deployments(ml_client)
    ml_client.models.store["fixture-model"].append("2")
    # the 10 % step succeeds, the smoke test after it fails: traffic must go back to old
    calls = {"n": 0}

    def flaky(text: str) -> str:
        calls["n"] += 1
        rows = len(json.loads(text)["data"])
        return json.dumps({"predictions": [0] * rows}) if calls["n"] == 1 else "upstream error"

    ml_client.online_endpoints.scorers = _scorer_for_prefix("model-v2-", flaky)

    assert run_deploy(ml_client) == 1

    assert set(deployments(ml_client)) == {old}
    assert live(ml_client) == {old: 100}
    assert "failed at traffic 10 %" in capsys.readouterr().err


def test_a_first_deploy_that_fails_its_smoke_test_leaves_no_deployment(online, capsys):
    ml_client = with_model("1")
    ml_client.online_endpoints.scorers = _scorer_for_prefix("model-v1-", lambda text: "{}")

    assert run_deploy(ml_client) == 1

    assert deployments(ml_client) == {}
    assert live(ml_client) == {}
    assert "expected 2 predictions" in capsys.readouterr().err


def test_no_registered_model_is_one_clear_error(online, capsys):
    assert run_deploy(with_model()) == 2
    err = capsys.readouterr().err
    assert "model 'fixture-model' has no registered version" in err


def test_a_bad_online_setting_is_refused_before_any_call(online, capsys):
    config = online / "config" / "dev.yml"
    config.write_text(
        config.read_text().replace("online_instance_count: 3", "online_instance_count: 0")
    )
    ml_client = with_model("1")

    assert run_deploy(ml_client) == 2

    assert ml_client.calls == []
    assert "online_instance_count = 0" in capsys.readouterr().err


def test_a_broken_deployment_file_is_refused_before_any_write(online, capsys):
    path = online / "deploy" / "online" / "deployment.yml"
    path.write_text(
        path.read_text().replace("request_timeout_ms: 5000", "request_timeout_ms: soon")
    )
    ml_client = with_model("1")

    assert run_deploy(ml_client) == 2

    assert ml_client.writes == []
    assert "deployment.yml" in capsys.readouterr().err


class _failing_for(dict):
    """scorers: every deployment whose name starts with a prefix answers garbage."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def get(self, name, default=None):
        return (lambda text: "<html>502</html>") if name.startswith(self.prefix) else default


def _scorer_for_prefix(prefix: str, scorer):
    class Scorers(dict):
        def get(self, name, default=None):
            return scorer if name.startswith(prefix) else default

    return Scorers()


def test_a_changed_endpoint_definition_updates_it_and_keeps_the_traffic(online):
    ml_client = with_model("1")
    assert run_deploy(ml_client) == 0
    (name,) = deployments(ml_client)
    path = online / "deploy" / "online" / "endpoint.yml"
    path.write_text(path.read_text() + "description: Scores fixture rows.\n")
    ml_client.reset_calls()

    assert run_deploy(ml_client) == 0

    assert [(c.group, c.method) for c in ml_client.writes] == [
        ("online_endpoints", "begin_create_or_update")
    ]
    stored = ml_client.online_endpoints.store[ENDPOINT]
    assert stored.description == "Scores fixture rows."
    assert live(ml_client) == {name: 100}


def test_an_explicit_model_version_is_rolled_out(online):
    ml_client = with_model("1", "2", "3")

    assert run_deploy(ml_client, version="2") == 0

    (name,) = deployments(ml_client)
    assert deployments(ml_client)[name].model.removeprefix("azureml:") == "fixture-model:2"


def test_an_unknown_model_version_is_refused_before_any_write(online, capsys):
    ml_client = with_model("1", "2")

    assert run_deploy(ml_client, version="7") == 2

    assert ml_client.writes == []
    assert "has no version '7' (registered: 1, 2)" in capsys.readouterr().err
