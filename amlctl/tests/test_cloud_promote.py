"""`promote`, and prod reading from the registry, against in-memory workspace and registry fakes.

The dev workspace's `share` copies into the registry fake as the service does (refusing a
version the registry has), so the tests assert on what the registry holds afterwards and on
the writes each run made, in the workspace and in the registry.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fakes.http import FakeCredential
from fakes.ml import FakeMLClient
from fakes.project import make_online, make_prod

from amlctl.cli import guarded
from amlctl.cloud import deploy, promote, publish, register, submit
from amlctl.cloud.assets import discover
from amlctl.cloud.register import register_project

REGISTRY = "mlr-fixture"
MODEL = "fixture-model"


@pytest.fixture
def prod(project):
    return make_prod(project)


def dev_with_model(project, *versions: str) -> FakeMLClient:
    """The dev workspace after `register --env dev` and training runs that registered a model."""
    dev = FakeMLClient()
    register_project(project, dev, echo=lambda _: None)
    dev.models.store[MODEL] = list(versions)
    dev.reset_calls()
    return dev


def run_promote(dev, registry, version=None, dry_run=False, **changes) -> int:
    args = SimpleNamespace(
        model=MODEL, model_version=version, source="dev", target="prod", dry_run=dry_run
    )
    for key, value in changes.items():
        setattr(args, key, value)
    return guarded(promote.main, args, ml_client=dev, registry_client=registry)


def writes(*clients) -> list[tuple[str, str, str, str | None]]:
    return [(c.group, c.method, c.name, c.version) for client in clients for c in client.writes]


def expected() -> dict[str, str]:
    from pathlib import Path

    return {asset.name: asset.version for asset in discover(Path.cwd())}


def test_first_promote_copies_the_environment_components_and_model(prod, capsys):
    dev = dev_with_model(prod, "1", "2")
    registry = dev.registry(REGISTRY)

    assert run_promote(dev, registry) == 0

    versions = expected()
    model = promote.model_content_version(dev.models.get_quietly(MODEL, "2"))
    assert writes(dev, registry) == [
        ("environments", "share", "fixture-sklearn", versions["fixture-sklearn"]),
        ("models", "share", MODEL, "2"),  # the registry copies dev's version 2 ...
        ("components", "create_or_update", "prep", versions["prep"]),
        ("components", "create_or_update", "train", versions["train"]),
    ]
    assert registry.models.store == {MODEL: [model]}  # ... under its content version
    assert list(registry.environments.store["fixture-sklearn"]) == [versions["fixture-sklearn"]]
    train = registry.components.store["train"][versions["train"]]
    # a registry component uses the registry's copy of the environment, at the same version
    env = f"azureml://registries/{REGISTRY}/environments/fixture-sklearn/versions/"
    assert str(train.environment) == env + versions["fixture-sklearn"]
    assert "data" not in str(registry.data.store)  # data stays in each workspace
    out = capsys.readouterr().out
    assert f"created: model {MODEL}:{model} (dev version 2) in {REGISTRY}" in out
    assert "4 created" in out


def test_promote_of_an_unchanged_model_writes_nothing(prod, capsys):
    dev = dev_with_model(prod, "1", "2")
    registry = dev.registry(REGISTRY)
    run_promote(dev, registry)
    dev.reset_calls()
    registry.reset_calls()
    capsys.readouterr()

    assert run_promote(dev, registry) == 0

    assert writes(dev, registry) == []
    # one lookup per asset in dev and in the registry, the model's version list and itself
    assert {c.method for c in [*dev.calls, *registry.calls]} == {"get", "list"}
    assert "4 unchanged" in capsys.readouterr().out


def test_a_new_model_version_is_the_only_write(prod):
    dev = dev_with_model(prod, "1")
    registry = dev.registry(REGISTRY)
    run_promote(dev, registry)
    dev.models.store[MODEL].append("2")
    dev.reset_calls()
    registry.reset_calls()

    assert run_promote(dev, registry) == 0

    assert writes(dev, registry) == [("models", "share", MODEL, "2")]
    assert len(registry.models.store[MODEL]) == 2


def test_the_same_artifacts_registered_twice_are_one_registry_version(prod):
    dev = dev_with_model(prod, "1")
    registry = dev.registry(REGISTRY)
    run_promote(dev, registry)
    # dev registers the run's model folder again, as version 2: the same model
    dev.models.keep(SimpleNamespace(**{**vars(dev.models.get_quietly(MODEL, "1")), "version": "2"}))
    dev.reset_calls()
    registry.reset_calls()

    assert run_promote(dev, registry) == 0

    assert writes(dev, registry) == []
    assert len(registry.models.store[MODEL]) == 1


def test_an_older_version_can_be_promoted_by_name(prod):
    dev = dev_with_model(prod, "1", "2")
    registry = dev.registry(REGISTRY)

    assert run_promote(dev, registry, version="1") == 0

    (promoted,) = registry.models.store[MODEL]
    assert promoted == promote.model_content_version(dev.models.get_quietly(MODEL, "1"))


def test_dry_run_looks_up_and_copies_nothing(prod, capsys):
    dev = dev_with_model(prod, "1")
    registry = dev.registry(REGISTRY)

    assert run_promote(dev, registry, dry_run=True) == 0

    assert writes(dev, registry) == []
    assert registry.models.store == {}
    assert "4 would create" in capsys.readouterr().out


def test_a_model_dev_does_not_have_is_refused_before_any_write(prod, capsys):
    dev = dev_with_model(prod)  # no version registered
    registry = dev.registry(REGISTRY)

    assert run_promote(dev, registry) == 2

    err = capsys.readouterr().err
    assert err.startswith("error: model 'fixture-model' has no registered version")
    assert len(err.strip().splitlines()) == 1
    assert writes(dev, registry) == []


def test_a_model_version_dev_does_not_have_is_named(prod, capsys):
    dev = dev_with_model(prod, "1", "2")
    registry = dev.registry(REGISTRY)

    assert run_promote(dev, registry, version="7") == 2

    assert "model 'fixture-model' has no version '7' (registered: 1, 2)" in capsys.readouterr().err
    assert writes(dev, registry) == []


def test_a_component_dev_has_not_registered_is_refused_before_any_write(prod, capsys):
    dev = dev_with_model(prod, "1")
    registry = dev.registry(REGISTRY)
    (prod / "components" / "train" / "src" / "train.py").write_text("print('untested')\n")

    assert run_promote(dev, registry) == 2

    err = capsys.readouterr().err
    train = expected()["train"]
    assert f"not in the dev workspace: component train:{train}" in err
    assert "run `amlctl register --env dev` first" in err
    assert writes(dev, registry) == []


def test_an_environment_without_a_registry_is_refused(project, capsys):
    make_prod(project, registry=None)
    dev = dev_with_model(project, "1")

    assert run_promote(dev, dev.registry(REGISTRY)) == 2

    assert "environment 'prod' names no Azure ML registry" in capsys.readouterr().err


def test_promote_between_one_environment_is_refused(prod, capsys):
    dev = dev_with_model(prod, "1")

    assert run_promote(dev, dev.registry(REGISTRY), target="dev") == 2

    assert "--from and --to are both 'dev'" in capsys.readouterr().err


def test_a_failure_half_way_is_finished_by_a_rerun(prod, capsys):
    dev = dev_with_model(prod, "1")
    registry = dev.registry(REGISTRY)
    registry.ledger.fail_once.add(("components", "train"))

    assert run_promote(dev, registry) == 1
    assert "injected failure creating components train" in capsys.readouterr().err
    dev.reset_calls()
    registry.reset_calls()

    assert run_promote(dev, registry) == 0

    assert writes(dev, registry) == [
        ("models", "share", MODEL, "1"),
        ("components", "create_or_update", "train", expected()["train"]),
    ]


# --- prod reads from the registry -----------------------------------------------------------


def promoted(project, *versions: str) -> tuple[FakeMLClient, FakeMLClient]:
    """A dev workspace whose model versions were all promoted, and the registry."""
    dev = dev_with_model(project, *versions)
    registry = dev.registry(REGISTRY)
    for version in versions:
        run_promote(dev, registry, version=version)
    registry.reset_calls()
    return dev, registry


def test_prod_register_finds_components_in_the_registry_and_registers_only_data(prod, capsys):
    _, registry = promoted(prod, "1")
    workspace = FakeMLClient()
    capsys.readouterr()

    args = SimpleNamespace(env="prod", dry_run=False)
    assert guarded(register.main, args, ml_client=workspace, registry_client=registry) == 0

    assert writes(workspace, registry) == [
        ("data", "create_or_update", "fixture-raw", expected()["fixture-raw"])
    ]
    assert workspace.components.store == {} and workspace.environments.store == {}
    assert "1 created, 3 in registry" in capsys.readouterr().out


def test_prod_register_refuses_a_component_that_was_not_promoted(prod, capsys):
    _, registry = promoted(prod, "1")
    (prod / "components" / "prep" / "src" / "prep.py").write_text("print('changed')\n")
    workspace = FakeMLClient()

    args = SimpleNamespace(env="prod", dry_run=False)
    assert guarded(register.main, args, ml_client=workspace, registry_client=registry) == 2

    err = capsys.readouterr().err
    assert f"component prep:{expected()['prep']} is not in Azure ML registry '{REGISTRY}'" in err
    assert "promote it from dev first" in err
    assert workspace.components.store == {} and workspace.environments.store == {}


def test_prod_publish_runs_the_promoted_components(prod):
    _, registry = promoted(prod, "1")
    workspace = FakeMLClient()

    args = SimpleNamespace(env="prod")
    assert guarded(publish.main, args, ml_client=workspace, registry_client=registry) == 0

    versions = expected()
    (pipeline,) = workspace.components.store["training_pipeline"].values()
    steps = {name: str(node.component) for name, node in pipeline.jobs.items()}
    base = f"azureml://registries/{REGISTRY}/components"
    assert steps == {
        "prep": f"{base}/prep/versions/{versions['prep']}",
        "train": f"{base}/train/versions/{versions['train']}",
    }
    schedule = workspace.schedules.store["training-weekly"]
    job_steps = {name: str(node.component) for name, node in schedule.create_job.jobs.items()}
    assert job_steps == steps  # the schedule's job too: no component of its own in prod
    assert set(workspace.components.store) == {"training_pipeline"}
    assert registry.writes == []


def test_prod_submit_runs_the_promoted_components(prod):
    _, registry = promoted(prod, "1")
    workspace = FakeMLClient()

    args = SimpleNamespace(
        env="prod", pipeline="training", overrides=[], wait=False, experiment=None
    )
    assert guarded(submit.main, args, ml_client=workspace, registry_client=registry) == 0

    (submitted,) = workspace.jobs.submitted.values()
    steps = {str(node.component) for node in submitted.job.jobs.values()}
    assert steps and all(s.startswith(f"azureml://registries/{REGISTRY}/") for s in steps)


def test_prod_deploy_rolls_out_the_model_promoted_last(prod, capsys):
    make_online(prod)
    with (prod / "config" / "prod.yml").open("a") as config:
        config.write("online_endpoint: fixture-online-prod\n")
    dev, registry = promoted(prod, "1", "2")
    workspace = FakeMLClient()

    args = SimpleNamespace(env="prod", model_version=None)
    assert guarded(deploy.main, args, ml_client=workspace, registry_client=registry) == 0

    latest = promote.model_content_version(dev.models.get_quietly(MODEL, "2"))
    ((_, name), deployment), *_ = workspace.online_deployments.store.items()
    assert name.startswith(f"model-v{latest}"[:23])
    assert (
        str(deployment.model) == f"azureml://registries/{REGISTRY}/models/{MODEL}/versions/{latest}"
    )
    environment = expected()["fixture-sklearn"]
    assert str(deployment.environment).endswith(
        f"environments/fixture-sklearn/versions/{environment}"
    )
    assert workspace.environments.store == {}  # the registry's, not a copy of prod's own
    assert registry.writes == []


def test_prod_deploy_without_a_promoted_model_says_to_promote(prod, capsys):
    make_online(prod)
    with (prod / "config" / "prod.yml").open("a") as config:
        config.write("online_endpoint: fixture-online-prod\n")
    dev = dev_with_model(prod)
    registry = dev.registry(REGISTRY)

    args = SimpleNamespace(env="prod", model_version=None)
    assert guarded(deploy.main, args, ml_client=FakeMLClient(), registry_client=registry) == 2

    err = capsys.readouterr().err
    assert f"model 'fixture-model' is not in Azure ML registry '{REGISTRY}'" in err


# --- the real MLClient against a loopback HTTPS fake of Azure ML and its registry ------------

SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
WORKSPACE = "/workspaces/mlw-fixture-dev"
IN_REGISTRY = f"/registries/{REGISTRY}"
WORKSPACE_GUID = "0f0e0d0c-0b0a-0908-0706-050403020100"
MODEL_PATH = "azureml://datastores/workspaceartifactstore/paths/ExperimentRun/dcid.run-1/model"


@pytest.fixture
def service(tmp_path, monkeypatch):
    """A loopback HTTPS server standing in for the workspace's API, ARM, and the registry (its
    discovery and its API): the SDK's real clients reach it through a cloud of its own."""
    from fakes.http import ScriptedServer, self_signed_cert

    from amlctl.cloud import clients

    cert, key = self_signed_cert(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    # MLClient records the cloud it uses in the environment; the test's cloud must not outlive it
    monkeypatch.setenv("AZUREML_CURRENT_CLOUD", "AzureCloud")
    with ScriptedServer(tls_files=(cert, key)) as server:
        monkeypatch.setenv("AZUREML_DEV_URL_MFE", server.url)
        monkeypatch.setattr(clients, "credential", lambda: FakeCredential("ml-token"))
        server.add(
            "GET",
            f"/registrymanagement/v1.0/registries/{REGISTRY}/discovery",
            (
                200,
                {
                    "registryName": REGISTRY,
                    "primaryRegion": "westeurope",
                    "primaryRegionResourceProviderUri": "{base}/",
                    "subscriptionId": SUBSCRIPTION,
                    "resourceGroup": "rg-fixture-prod",
                    "registryFqdns": {"westeurope": "{base}"},
                },
            ),
        )
        yield server


def dev_client(server, project):
    """The dev workspace's real MLClient, in a cloud whose every endpoint is the fake."""
    from amlctl.cloud import clients
    from amlctl.cloud.config import load_settings

    port = server.url.rsplit(":", 1)[1]
    metadata = {
        "azure_portal": f"{server.url}/",
        "resource_manager": f"{server.url}/",
        "active_directory": f"{server.url}/",
        "aml_resource_id": "https://ml.azure.com/",
        "storage_endpoint": "core.windows.net",
        "registry_discovery_endpoint": f"{server.url}/",
    }
    settings = load_settings("dev", project)
    return clients.ml_client(
        settings, FakeCredential("ml-token"), cloud=f"Loopback{port}", cloud_metadata=metadata
    )


def arm_id(scope: str, group: str, name: str, version: str) -> str:
    """An asset version's id as the service gives it: ARM for a workspace's, azureml:// for a
    registry's."""
    if scope == IN_REGISTRY:
        return f"azureml:/{scope}/{group}/{name}/versions/{version}"
    return (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers/"
        f"Microsoft.MachineLearningServices{scope}/{group}/{name}/versions/{version}"
    )


def model_body(scope: str, version: str, path: str = MODEL_PATH) -> dict:
    return {
        "id": arm_id(scope, "models", MODEL, version),
        "name": version,
        "properties": {"modelType": "mlflow_model", "modelUri": path, "flavors": {}},
    }


def environment_body(scope: str, asset) -> dict:
    return {
        "id": arm_id(scope, "environments", asset.name, asset.version),
        "name": asset.version,
        "properties": {"image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"},
    }


def component_body(scope: str, asset) -> dict:
    spec = {
        "name": asset.name,
        "version": asset.version,
        "type": "command",
        "command": "echo",
        "environment": "azureml:fixture-sklearn:1",
    }
    return {
        "id": arm_id(scope, "components", asset.name, asset.version),
        "name": asset.version,
        "properties": {"componentSpec": spec},
    }


def script_assets(server, project, scope: str) -> None:
    """The workspace or registry at ``scope`` holds the project's environment and components."""
    for asset in discover(project):
        if asset.kind == "environment":
            body = environment_body(scope, asset)
        elif asset.kind == "component":
            body = component_body(scope, asset)
        else:
            continue
        where = f"{scope}/{asset.kind}s/{asset.name}/versions/{asset.version}"
        server.add("GET", where, (200, body))


def script_dev(server, project) -> None:
    """Dev has the project's environment and components, and model version 1."""
    script_assets(server, project, WORKSPACE)
    server.add("GET", f"{WORKSPACE}/models/{MODEL}/versions/1", (200, model_body(WORKSPACE, "1")))
    listed = {"value": [model_body(WORKSPACE, "1")]}
    server.add("GET", f"{WORKSPACE}/models/{MODEL}/versions\\?", (200, listed))


def script_registry(server, project, model_responses) -> str:
    """The registry holds the environment and components; the model answers as given."""
    from types import SimpleNamespace as Model

    script_assets(server, project, IN_REGISTRY)
    content = promote.model_content_version(Model(name=MODEL, type="mlflow_model", path=MODEL_PATH))
    server.add("GET", f"{IN_REGISTRY}/models/{MODEL}/versions/{content}", *model_responses)
    return content


WRITE_METHODS = ("PUT", "POST", "PATCH", "DELETE")


def test_promoting_an_unchanged_model_over_http_only_looks(prod, service, capsys):
    script_dev(service, prod)
    content = script_registry(service, prod, [(200, model_body(IN_REGISTRY, "x"))])

    assert run_promote(dev_client(service, prod), None) == 0

    assert [r for r in service.requests if r.method in WRITE_METHODS] == []
    paths = [request.path.split("?")[0] for request in service.requests]
    assert f"/registrymanagement/v1.0/registries/{REGISTRY}/discovery" in paths
    assert any(path.endswith(f"{IN_REGISTRY}/models/{MODEL}/versions/{content}") for path in paths)
    assert all(r.headers["Authorization"] == "Bearer ml-token" for r in service.requests)
    assert "4 unchanged" in capsys.readouterr().out


def test_a_new_model_is_copied_by_the_registry_from_dev(prod, service, capsys):
    script_dev(service, prod)
    not_found = (404, {"error": {"code": "NotFound", "message": "Not found."}})
    # promote looks, the SDK's share looks again, then reads the copy
    content = script_registry(
        service, prod, [not_found, not_found, (200, model_body(IN_REGISTRY, "x"))]
    )
    workspace = {"id": "/ws", "name": "mlw-fixture-dev", "location": "westeurope"}
    workspace["properties"] = {"workspaceId": WORKSPACE_GUID}
    service.add("GET", "/workspaces/mlw-fixture-dev\\?", (200, workspace))
    service.add("POST", f"{IN_REGISTRY}/import", (200, None))
    # the SDK lists the registry's versions of the model before it copies (none yet)
    service.add("GET", f"{IN_REGISTRY}/models/{MODEL}/versions\\?", (200, {"value": []}))

    assert run_promote(dev_client(service, prod), None) == 0

    (posted,) = service.sent("POST", f"{IN_REGISTRY}/import")
    assert posted.body == {
        "properties": {
            "referenceType": "Id",
            "destinationName": MODEL,
            "destinationVersion": content,
            "sourceAssetId": (
                f"azureml://locations/westeurope/workspaces/{WORKSPACE_GUID}/models/{MODEL}"
                "/versions/1"
            ),
        }
    }
    assert [r.method for r in service.requests if r.method in WRITE_METHODS] == ["POST"]
    assert "1 created, 3 unchanged" in capsys.readouterr().out


def test_a_registry_that_does_not_exist_is_named(prod, service, capsys):
    service.routes.clear()  # discovery answers 404 for every registry
    script_dev(service, prod)

    assert run_promote(dev_client(service, prod), None) == 1

    err = capsys.readouterr().err
    assert err.startswith(
        f"error: Azure ML registry '{REGISTRY}' (from config/prod.yml (registry)) was not found"
    )
    assert "amlctl provision --env prod" in err
    assert [r for r in service.requests if r.method in WRITE_METHODS] == []


def test_a_refused_registry_names_the_role_promote_needs(prod, service, capsys):
    script_dev(service, prod)
    message = (
        "The client 'dev-ci' with object id 'aaaa' does not have authorization to perform action "
        "'Microsoft.MachineLearningServices/registries/assets/read' over scope "
        f"'/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-fixture-prod/providers/"
        f"Microsoft.MachineLearningServices{IN_REGISTRY}'"
    )
    forbidden = (403, {"error": {"code": "AuthorizationFailed", "message": message}})
    service.add("GET", f"{IN_REGISTRY}/", forbidden)

    assert run_promote(dev_client(service, prod), None) == 1

    err = capsys.readouterr().err.strip()
    assert err == (
        f"error: permission denied on Azure ML registry '{REGISTRY}': identity dev-ci (object id "
        "aaaa) may not perform Microsoft.MachineLearningServices/registries/assets/read; it "
        "needs AzureML Registry User on the registry"
    )


def test_prod_deploy_rolls_out_a_promoted_version_by_name(prod, capsys):
    make_online(prod)
    with (prod / "config" / "prod.yml").open("a") as config:
        config.write("online_endpoint: fixture-online-prod\n")
    dev, registry = promoted(prod, "1", "2")
    first = promote.model_content_version(dev.models.get_quietly(MODEL, "1"))
    workspace = FakeMLClient()

    args = SimpleNamespace(env="prod", model_version=first)
    assert guarded(deploy.main, args, ml_client=workspace, registry_client=registry) == 0
    (deployment,) = workspace.online_deployments.store.values()
    assert str(deployment.model).endswith(f"/models/{MODEL}/versions/{first}")

    args = SimpleNamespace(env="prod", model_version="1")  # a dev version, not a registry one
    assert guarded(deploy.main, args, ml_client=workspace, registry_client=registry) == 2
    err = capsys.readouterr().err
    assert f"version '1' of model '{MODEL}' is not in Azure ML registry '{REGISTRY}'" in err


def test_a_pipeline_asking_for_the_latest_model_gets_the_registrys_in_prod():
    """batch-scoring.yml reads `azureml:<model>@latest`: in prod, the latest promoted one."""
    from fakes.template import template_project

    root = template_project()
    plain = submit.build_job(root, root / "pipelines" / "batch-scoring.yml", [], None)
    job = submit.build_job(
        root, root / "pipelines" / "batch-scoring.yml", [], None, registry=REGISTRY
    )

    model = "azure-ml-project-model"
    # dev: the latest of its own workspace (the SDK drops the azureml: prefix)
    assert plain.inputs["model"].path in (f"azureml:{model}@latest", f"{model}@latest")
    assert job.inputs["model"].path == (
        f"azureml://registries/{REGISTRY}/models/{model}/labels/latest"
    )
    (score,) = job.jobs.values()
    assert str(score.component).startswith(f"azureml://registries/{REGISTRY}/components/score/")
