"""provision against a loopback ARM fake: real HTTP requests from the real ARM clients."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from fakes.http import FakeCredential, PlainHttpBearer, ScriptedServer
from fakes.project import SUBSCRIPTION, fake_bicep, path_with

from amlctl.cli import guarded
from amlctl.cloud import clients, provision
from amlctl.cloud.config import load_settings

RG = "rg-fixture-dev"
RG_PATH = rf"/subscriptions/{SUBSCRIPTION}/resourcegroups/{RG}\?"
DEPLOYMENTS = rf"/resourcegroups/{RG}/providers/Microsoft\.Resources/deployments/main-dev-\d+"
OPERATIONS = rf"/resourcegroups/{RG}/deployments/main-dev-\d+/operations"
NO_WAIT = {"Retry-After": "0"}
RG_BODY = {
    "id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RG}",
    "name": RG,
    "location": "westeurope",
    "properties": {"provisioningState": "Succeeded"},
}


@pytest.fixture
def project(project, tmp_path, monkeypatch):
    root = project
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_bicep(bin_dir, {"$schema": "x", "resources": [{"type": "Microsoft.Storage"}]})
    monkeypatch.setenv("PATH", path_with(bin_dir))
    return root


@pytest.fixture
def arm():
    with ScriptedServer() as server:
        yield server


def arm_clients(server, settings):
    credential = FakeCredential()
    options = {
        "base_url": server.url,
        "authentication_policy": PlainHttpBearer(
            credential, "https://management.azure.com/.default"
        ),
        "polling_interval": 0,
        "retry_backoff_factor": 0.01,
    }
    return (
        clients.resource_client(settings, credential, **options),
        clients.deployments_client(settings, credential, **options),
    )


def run(project, server, *argv):
    settings = load_settings("dev", project)
    rm_client, dep_client = arm_clients(server, settings)
    args = SimpleNamespace(env="dev", what_if="--what-if" in argv)
    return guarded(provision.main, args, rm_client=rm_client, dep_client=dep_client)


def test_what_if_reads_group_and_prints_table(project, arm, capsys):
    arm.add("GET", RG_PATH, (200, RG_BODY))
    arm.add(
        "POST", DEPLOYMENTS + "/whatIf", (202, None, {"Location": "{base}/whatif-op", **NO_WAIT})
    )
    base = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RG}/providers"
    result = {
        "status": "Succeeded",
        "properties": {
            "changes": [
                {
                    "resourceId": f"{base}/Microsoft.Storage/storageAccounts/stfixdev",
                    "changeType": "Create",
                },
                {
                    "resourceId": f"{base}/Microsoft.KeyVault/vaults/kv-fix-dev",
                    "changeType": "Modify",
                    "delta": [
                        {
                            "path": "properties.enableRbacAuthorization",
                            "propertyChangeType": "Modify",
                        }
                    ],
                },
                {
                    "resourceId": f"{base}/Microsoft.Insights/components/appi-old",
                    "changeType": "Delete",
                },
                {
                    "resourceId": f"{base}/Microsoft.MachineLearningServices/workspaces/mlw-fix",
                    "changeType": "NoChange",
                },
            ]
        },
    }
    arm.add(
        "GET", "/whatif-op", (202, None, {"Location": "{base}/whatif-op", **NO_WAIT}), (200, result)
    )

    assert run(project, arm, "--what-if") == 0

    out = capsys.readouterr().out
    assert "1 to create, 1 to modify, 1 to delete, 1 unchanged" in out
    lines = [line.split() for line in out.splitlines()]
    assert ["create", "Microsoft.Storage/storageAccounts", "stfixdev"] in lines
    assert [
        "modify",
        "Microsoft.KeyVault/vaults",
        "kv-fix-dev",
        "properties.enableRbacAuthorization",
    ] in lines
    assert ["delete", "Microsoft.Insights/components", "appi-old"] in lines
    (group_get,) = arm.sent("GET", RG_PATH)
    assert group_get.headers["Authorization"] == "Bearer fake-token"
    assert not arm.sent("PUT", RG_PATH)  # the read-only what-if identity writes nothing
    (what_if,) = arm.sent("POST", "/whatIf")
    assert what_if.body["properties"]["mode"] == "Incremental"
    assert what_if.body["properties"]["whatIfSettings"] == {"resultFormat": "FullResourcePayloads"}
    assert what_if.body["properties"]["validationLevel"] == "ProviderNoRbac"
    assert what_if.body["properties"]["template"]["resources"] == [{"type": "Microsoft.Storage"}]
    assert what_if.body["properties"]["parameters"] == {"environmentName": {"value": "dev"}}
    assert len(arm.sent("GET", "/whatif-op")) == 2  # polled until done
    assert not arm.sent("PUT", "/deployments/")  # what-if deploys nothing
    assert not (project / ".azure").exists()


def deployment(state, outputs=None, error=None):
    properties = {"provisioningState": state, "mode": "Incremental"}
    if outputs is not None:
        properties["outputs"] = outputs
    if error is not None:
        properties["error"] = error
    return {"id": "/deployments/main-dev", "name": "main-dev", "properties": properties}


def operation(resource, state, error=None):
    properties = {
        "provisioningState": state,
        "targetResource": {
            "resourceType": resource.split(":")[0],
            "resourceName": resource.split(":")[1],
        },
    }
    if error:
        properties["statusMessage"] = {"status": "Failed", "error": error}
    return {"id": "op", "operationId": resource, "properties": properties}


def test_deployment_polls_reports_progress_and_saves_outputs(project, arm, capsys):
    arm.add("PUT", RG_PATH, (200, RG_BODY))
    arm.add(
        "PUT",
        DEPLOYMENTS + r"\?",
        (201, deployment("Accepted"), {"Azure-AsyncOperation": "{base}/deploy-op", **NO_WAIT}),
    )
    arm.add(
        "GET",
        "/deploy-op",
        (200, {"status": "Running"}, NO_WAIT),
        (200, {"status": "Running"}, NO_WAIT),
        (200, {"status": "Succeeded"}),
    )
    outputs = {
        "workspaceName": {"type": "String", "value": "mlw-fixture-dev"},
        "cpuClusterName": {"type": "String", "value": "fixture-cpu"},
    }
    arm.add("GET", DEPLOYMENTS + r"\?", (200, deployment("Succeeded", outputs)))
    arm.add(
        "GET",
        OPERATIONS,
        (200, {"value": [operation("Microsoft.Storage/storageAccounts:stfixdev", "Running")]}),
        (200, {"value": [operation("Microsoft.Storage/storageAccounts:stfixdev", "Succeeded")]}),
    )

    assert run(project, arm) == 0

    saved = json.loads((project / ".azure" / "dev" / "outputs.json").read_text())
    assert saved == {"cpuClusterName": "fixture-cpu", "workspaceName": "mlw-fixture-dev"}
    out = capsys.readouterr().out
    assert "Running    Microsoft.Storage/storageAccounts/stfixdev" in out
    assert "Succeeded  Microsoft.Storage/storageAccounts/stfixdev" in out
    assert "workspaceName = mlw-fixture-dev" in out
    (put,) = arm.sent("PUT", DEPLOYMENTS)
    assert put.body["properties"]["parameters"] == {"environmentName": {"value": "dev"}}
    assert len(arm.sent("GET", "/deploy-op")) == 3


def test_failed_deployment_prints_arm_error_details_and_exits_non_zero(project, arm, capsys):
    arm.add("PUT", RG_PATH, (200, RG_BODY))
    arm.add(
        "PUT",
        DEPLOYMENTS + r"\?",
        (201, deployment("Accepted"), {"Azure-AsyncOperation": "{base}/deploy-op", **NO_WAIT}),
    )
    error = {
        "code": "DeploymentFailed",
        "message": "At least one resource deployment operation failed.",
        "details": [
            {
                "code": "Conflict",
                "message": "Workspace update failed.",
                "details": [
                    {
                        "code": "StorageAccountAlreadyTaken",
                        "message": "The storage account named stfixdev is already taken.",
                    }
                ],
            }
        ],
    }
    arm.add(
        "GET",
        "/deploy-op",
        (200, {"status": "Running"}, NO_WAIT),
        (200, {"status": "Failed", "error": error}),
    )
    arm.add("GET", DEPLOYMENTS + r"\?", (200, deployment("Failed", error=error)))
    op_error = {
        "code": "StorageAccountAlreadyTaken",
        "message": "The storage account named stfixdev is already taken.",
    }
    arm.add(
        "GET",
        OPERATIONS,
        (
            200,
            {
                "value": [
                    operation("Microsoft.Storage/storageAccounts:stfixdev", "Failed", op_error)
                ]
            },
        ),
    )

    code = run(project, arm)

    assert code != 0
    err = capsys.readouterr().err
    assert "DeploymentFailed: At least one resource deployment operation failed." in err
    assert (
        "    StorageAccountAlreadyTaken: The storage account named stfixdev is already taken."
        in err
    )
    assert "Microsoft.Storage/storageAccounts/stfixdev:" in err
    assert not (project / ".azure" / "dev" / "outputs.json").exists()


def test_what_if_without_the_group_fails_cleanly(project, arm, capsys):
    missing = {
        "error": {
            "code": "ResourceGroupNotFound",
            "message": f"Resource group '{RG}' could not be found.",
        }
    }
    arm.add("GET", RG_PATH, (404, missing))

    assert run(project, arm, "--what-if") != 0

    err = capsys.readouterr().err
    assert f"resource group {RG} does not exist; what-if only reads" in err
    assert "Traceback" not in err
    assert not arm.sent("PUT", RG_PATH)
    assert not arm.sent("POST", "/whatIf")


def test_throttled_request_is_retried_after_retry_after(project, arm, capsys):
    throttled = {"error": {"code": "TooManyRequests", "message": "Rate limit exceeded."}}
    arm.add("GET", RG_PATH, (429, throttled, {"Retry-After": "0"}), (200, RG_BODY))
    arm.add(
        "POST",
        DEPLOYMENTS + "/whatIf",
        (200, {"status": "Succeeded", "properties": {"changes": []}}),
    )

    assert run(project, arm, "--what-if") == 0

    assert len(arm.sent("GET", RG_PATH)) == 2
    assert "0 to create, 0 to modify, 0 to delete" in capsys.readouterr().out


def test_forbidden_names_identity_and_action(project, arm, capsys):
    message = (
        "The client 'ci@example.com' with object id 'aaaa-bbbb' does not have authorization to "
        "perform action 'Microsoft.Resources/subscriptions/resourcegroups/write' over scope "
        f"'/subscriptions/{SUBSCRIPTION}/resourcegroups/{RG}' or the scope is invalid."
    )
    arm.add("PUT", RG_PATH, (403, {"error": {"code": "AuthorizationFailed", "message": message}}))

    assert run(project, arm) == 1

    err = capsys.readouterr().err
    assert "identity ci@example.com (object id aaaa-bbbb)" in err
    assert "Microsoft.Resources/subscriptions/resourcegroups/write" in err
    assert len(arm.sent("PUT", RG_PATH)) == 1  # a 403 is not retried
    assert not arm.sent("POST", "/whatIf")


def test_missing_compiler_is_a_clear_error_before_any_request(project, arm, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(project / "no-such-bin"))

    assert run(project, arm, "--what-if") == 2

    assert "neither `bicep` nor `az` is on PATH" in capsys.readouterr().err
    assert arm.requests == []


def test_compile_error_is_reported(project, arm, tmp_path, monkeypatch, capsys):
    bin_dir = tmp_path / "badbin"
    bin_dir.mkdir()
    fake_bicep(
        bin_dir, fail="main.bicep(3,1) : Error BCP007: This declaration type is not recognized."
    )
    monkeypatch.setenv("PATH", path_with(bin_dir))

    assert run(project, arm) == 2

    assert "BCP007" in capsys.readouterr().err
    assert arm.requests == []


def registry_parameters(project, promoter):
    path = project / "infra" / "params" / "dev.parameters.json"
    data = json.loads(path.read_text())
    data["parameters"]["deployPromotionSource"] = {"value": True}
    data["parameters"]["promoterPrincipalId"] = {"value": promoter}
    path.write_text(json.dumps(data))


def what_if_answers(arm):
    arm.add("GET", RG_PATH, (200, RG_BODY))
    arm.add(
        "POST",
        DEPLOYMENTS + r"/whatIf",
        (200, {"status": "Succeeded", "properties": {"changes": []}}),
    )


def test_a_promotion_source_nobody_may_read_is_named_before_it_deploys(project, arm, capsys):
    registry_parameters(project, "")
    what_if_answers(arm)

    assert run(project, arm, "--what-if") == 0

    err = capsys.readouterr().err
    assert "infra/params/dev.parameters.json: promoterPrincipalId is empty" in err
    assert "AZURE_PRINCIPAL_ID" in err


def test_a_promoter_id_that_is_no_object_id_stops_before_any_request(project, arm, capsys):
    registry_parameters(project, "ci-dev")  # a name, where ARM wants an object id

    assert run(project, arm) == 2

    err = capsys.readouterr().err
    assert "promoterPrincipalId must be an object id" in err
    assert "'ci-dev'" in err
    assert arm.requests == []


def test_a_filled_in_promoter_deploys_without_a_word(project, arm, capsys):
    registry_parameters(project, "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f")
    what_if_answers(arm)

    assert run(project, arm, "--what-if") == 0

    assert "promoterPrincipalId" not in capsys.readouterr().err
