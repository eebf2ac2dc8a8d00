"""invoke: a real HTTPS POST (loopback, self-signed certificate) with a bearer token."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fakes.http import FakeCredential, ScriptedServer, self_signed_cert
from fakes.ml import FakeMLClient

from amlctl.cli import guarded
from amlctl.cloud import invoke

INVOKE_PATH = "/batchEndpoints/fixture-training-dev/jobs"


@pytest.fixture
def endpoint_server(tmp_path, monkeypatch):
    cert, key = self_signed_cert(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    with ScriptedServer(tls_files=(cert, key)) as server:
        yield server


def published(server):
    ml_client = FakeMLClient()
    ml_client.batch_endpoints.store["fixture-training-dev"] = SimpleNamespace(
        name="fixture-training-dev", scoring_uri=server.url + INVOKE_PATH
    )
    return ml_client


def args(*overrides, deployment=None):
    return SimpleNamespace(
        env="dev", overrides=list(overrides), deployment=deployment, experiment=None
    )


def invoke_with(server, *pairs: str) -> int:
    return guarded(invoke.main, args(*pairs), ml_client=published(server), cred=FakeCredential())


def test_invoke_posts_inputs_with_bearer_token_and_prints_job(project, endpoint_server, capsys):
    endpoint_server.add(
        "POST", INVOKE_PATH, (200, {"id": "/jobs/batchjob-42", "name": "batchjob-42"})
    )
    credential = FakeCredential("ml-token")

    code = guarded(
        invoke.main,
        args("n_estimators=50", "raw_data=azureml:other-data:3"),
        ml_client=published(endpoint_server),
        cred=credential,
    )

    assert code == 0
    (request,) = endpoint_server.sent("POST", INVOKE_PATH)
    assert request.headers["Authorization"] == "Bearer ml-token"
    assert ("https://ml.azure.com/.default",) in credential.scopes
    assert request.headers["Repeatability-Request-ID"]
    assert request.body == {
        "properties": {
            "inputData": {
                "n_estimators": {"jobInputType": "Literal", "value": 50},
                "raw_data": {"jobInputType": "UriFolder", "uri": "azureml:other-data:3"},
            }
        }
    }
    out = capsys.readouterr().out
    assert "started batchjob-42" in out
    assert "https://ml.azure.com/runs/batchjob-42?wsid=/subscriptions/" in out


def test_required_data_input_defaults_to_the_registered_data_asset(project, endpoint_server):
    from amlctl.cloud.assets import discover_data

    endpoint_server.add("POST", INVOKE_PATH, (200, {"name": "batchjob-1"}))

    assert invoke_with(endpoint_server) == 0

    (data,) = discover_data(project)
    (request,) = endpoint_server.sent("POST", INVOKE_PATH)
    assert request.body["properties"]["inputData"] == {
        "raw_data": {"jobInputType": "UriFolder", "uri": data.reference}
    }


def test_throttled_invocation_is_retried_once_safely(project, endpoint_server):
    endpoint_server.add(
        "POST",
        INVOKE_PATH,
        (429, {"error": {"code": "TooManyRequests", "message": "slow down"}}, {"Retry-After": "0"}),
        (200, {"name": "batchjob-7"}),
    )

    assert invoke_with(endpoint_server) == 0

    first, second = endpoint_server.sent("POST", INVOKE_PATH)
    assert first.headers["Repeatability-Request-ID"] == second.headers["Repeatability-Request-ID"]


def test_forbidden_invocation_names_the_missing_permission(project, endpoint_server, capsys):
    message = (
        "The client 'pipeline-caller' with object id 'cccc-dddd' does not have authorization to "
        "perform action 'Microsoft.MachineLearningServices/workspaces/batchEndpoints/jobs/write'"
        " over scope '/subscriptions/x/resourceGroups/rg-fixture-dev'."
    )
    endpoint_server.add(
        "POST", INVOKE_PATH, (403, {"error": {"code": "AuthorizationFailed", "message": message}})
    )

    assert invoke_with(endpoint_server) == 1

    err = capsys.readouterr().err
    assert "identity pipeline-caller (object id cccc-dddd)" in err
    assert "batchEndpoints/jobs/write" in err


def test_unknown_input_is_refused_before_any_request(project, endpoint_server, capsys):
    assert (
        guarded(
            invoke.main, args("nope=1"), ml_client=published(endpoint_server), cred=FakeCredential()
        )
        == 2
    )

    assert "--set nope: not an input of the published pipeline" in capsys.readouterr().err
    assert endpoint_server.requests == []
