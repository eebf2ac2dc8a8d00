"""`deploy`: blue/green rollout of the registered model to the managed online endpoint.

Reads <online>/endpoint.yml, deployment.yml, monitor.yml and sample-request.json
(deploy/online by default, as `[tool.amlctl]` places it) and the online_* settings of
config/<env>.yml, all before the first write. Then:

1. registers the deployment's environment at its content version (if missing);
2. creates the endpoint if it does not exist;
3. creates the deployment ``model-v<version>-<content>`` (content: a hash of the deployment
   and its scoring code) at 0 % traffic;
4. smoke-tests it with the sample request, addressed to that deployment only;
5. shifts traffic in steps (10 %, then 100 %), smoke-testing after each;
6. deletes the previous deployment(s);
7. creates or updates the model monitor, pointed at the new deployment and at the
   registered (content) versions of the project's data assets it compares with.

A failure in 3-5 rolls back: traffic goes back to the previous deployment and the new one is
deleted; the command then fails naming the step. When the endpoint already sends all its
traffic to that model version (and the monitor is current), nothing is written.

In an environment that reads from an Azure ML registry (prod, `registry` in its config), the
model is the version promoted into the registry last (or --model-version, a registry
version) and the environment the registry's copy; neither is registered in the workspace.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..project import ProjectError, layout, project_root
from .errors import describing, report
from .register import (
    CREATED,
    UNCHANGED,
    Outcome,
    ensure_asset,
    format_table,
    get_or_none,
    in_registry,
    wait,
)
from .registry import RegistryAccess, environment_registry

TRAFFIC_STEPS = (10, 100)
ONLINE_ENDPOINT = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,30}[A-Za-z0-9]$")
INSTANCE_TYPE = re.compile(r"^Standard_[A-Za-z0-9_]+$", re.IGNORECASE)
ENDPOINT_VARIABLE = "AZUREML_ONLINE_ENDPOINT"
DELETED, SHIFTED, ROLLED_BACK = "deleted", "traffic", "rolled back"


class RolloutFailed(ProjectError):
    """The new deployment failed a step and was rolled back."""

    exit_code = 1


@dataclass(frozen=True)
class OnlineSettings:
    endpoint: str
    instance_type: str | None
    instance_count: int | None


def online_settings(env: str, root: Path, environ: dict[str, str] | None = None) -> OnlineSettings:
    """online_endpoint, online_instance_type and online_instance_count of config/<env>.yml."""
    from .config import read_config

    environ = dict(os.environ if environ is None else environ)
    path = layout(root).config / f"{env}.yml"
    data = read_config(path, root) if path.is_file() else {}
    where = f"{path.relative_to(root)}"
    endpoint = environ.get(ENDPOINT_VARIABLE, "").strip() or str(data.get("online_endpoint") or "")
    source = (
        f"environment variable {ENDPOINT_VARIABLE}" if environ.get(ENDPOINT_VARIABLE) else where
    )
    if not endpoint:
        raise ProjectError(f"{where} has no online_endpoint (the endpoint to deploy to)")
    if not ONLINE_ENDPOINT.match(endpoint):
        raise ProjectError(
            f"setting online_endpoint = {endpoint!r} from {source} is not an online endpoint "
            "name (3-32 letters, digits and hyphens, starting with a letter)"
        )
    instance_type = data.get("online_instance_type")
    if instance_type is not None and not INSTANCE_TYPE.match(str(instance_type)):
        raise ProjectError(
            f"setting online_instance_type = {instance_type!r} from {where} is not a VM size "
            "such as Standard_DS3_v2"
        )
    count = data.get("online_instance_count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ProjectError(
            f"setting online_instance_count = {count!r} from {where} must be a whole number >= 1"
        )
    return OnlineSettings(endpoint, str(instance_type) if instance_type else None, count)


def deployment_name(version: str, content: str) -> str:
    """``model-v<version>-<content>``: one name per model version and deployment content, so
    a rollout always creates a new deployment beside the live one (3-32 letters, digits, -)."""
    stem = re.sub(r"[^A-Za-z0-9-]", "-", f"model-v{version}")[:23].rstrip("-")
    return f"{stem}-{content[:8]}"


@dataclass
class Rollout:
    """Everything `deploy` writes, read and loaded (so validated) before the first write."""

    root: Path
    endpoint: Any
    model_name: str
    deployment_definition: dict[str, Any]
    deployment_origin: Path
    monitor_definition: dict[str, Any] | None
    monitor_origin: Path | None
    sample_request: Path
    environment: Any  # Asset of the deployment's environment, or None for a remote reference
    outcomes: list[Outcome] = field(default_factory=list)


def _model_name(reference: Any, origin: Path) -> str:
    if not isinstance(reference, str) or not reference.startswith("azureml:"):
        raise ProjectError(
            f"{origin}: model must be a registered model reference (azureml:<name>:<version>)"
        )
    return reference.removeprefix("azureml:").split("@")[0].split(":")[0]


def read_rollout(root: Path, online: OnlineSettings, registry: str = "") -> Rollout:
    from .assets import discover_environments, load_entity, read_yaml
    from .publish import _tagged
    from .versions import content_version

    folder = layout(root).online
    paths = {
        name: folder / name
        for name in ("endpoint.yml", "deployment.yml", "sample-request.json", "monitor.yml")
    }
    for name in ("endpoint.yml", "deployment.yml", "sample-request.json"):
        if not paths[name].is_file():
            raise ProjectError(f"{paths[name].relative_to(root)} is missing: nothing to deploy")
    try:
        sample = json.loads(paths["sample-request.json"].read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ProjectError(f"{paths['sample-request.json']}: not valid JSON: {exc}") from None
    if not isinstance(sample, dict) or not sample.get("data"):
        raise ProjectError(f'{paths["sample-request.json"]}: needs a non-empty "data" list')

    endpoint_definition = {**read_yaml(paths["endpoint.yml"]), "name": online.endpoint}
    endpoint_definition.pop("traffic", None)  # traffic is the rollout's business
    endpoint_definition = _tagged(endpoint_definition, content_version(endpoint_definition))
    endpoint = load_entity("online_endpoint", paths["endpoint.yml"], endpoint_definition)

    deployment = read_yaml(paths["deployment.yml"])
    deployment["endpoint_name"] = online.endpoint
    if online.instance_type:
        deployment["instance_type"] = online.instance_type
    if online.instance_count:
        deployment["instance_count"] = online.instance_count
    model_name = _model_name(deployment.get("model"), paths["deployment.yml"])
    environment = None
    reference = deployment.get("environment")
    if isinstance(reference, str) and reference.startswith("azureml:"):
        wanted = reference.removeprefix("azureml:").split("@")[0].split(":")[0]
        environment = next(
            (asset for asset in discover_environments(root) if asset.name == wanted), None
        )
        if environment is not None:
            deployment["environment"] = environment.used_from(registry)
    load_entity("online_deployment", paths["deployment.yml"], deployment)  # validates it

    monitor = None
    if paths["monitor.yml"].is_file():
        monitor = read_yaml(paths["monitor.yml"])
        load_entity("schedule", paths["monitor.yml"], monitor)
    return Rollout(
        root=root,
        endpoint=endpoint,
        model_name=model_name,
        deployment_definition=deployment,
        deployment_origin=paths["deployment.yml"],
        monitor_definition=monitor,
        monitor_origin=paths["monitor.yml"] if monitor is not None else None,
        sample_request=paths["sample-request.json"],
        environment=environment,
    )


def latest_model_version(ml_client: Any, name: str, wanted: str | None = None) -> str:
    """The newest registered version of the model, or `wanted` once it is known to exist."""
    versions = [str(model.version) for model in ml_client.models.list(name=name)]
    if not versions:
        raise ProjectError(
            f"model {name!r} has no registered version in the workspace: run the training "
            "pipeline (submit or the run-training workflow) until it registers one"
        )
    if wanted is not None:
        if wanted not in versions:
            raise ProjectError(
                f"model {name!r} has no version {wanted!r} (registered: {', '.join(versions)})"
            )
        return wanted
    return max(versions, key=lambda v: (v.isdigit(), int(v) if v.isdigit() else 0, v))


def promoted_model_version(registry: RegistryAccess, name: str, wanted: str | None = None) -> str:
    """The version of the model promoted into the registry last, or `wanted` once it is there."""
    from azure.ai.ml.exceptions import ValidationException

    models = registry.client.models
    with registry.errors():
        try:
            if wanted is not None:
                found = get_or_none(lambda: models.get(name=name, version=wanted))
            else:
                found = get_or_none(lambda: models.get(name=name, label="latest"))
        except ValidationException as exc:  # the SDK's answer for a model with no version
            if "does not exist" not in str(exc):
                raise
            found = None
    if found is None:
        which = f"version {wanted!r} of model {name!r}" if wanted else f"model {name!r}"
        raise ProjectError(
            f"{which} is not in Azure ML registry {registry.name!r}: promote it from dev first "
            "(`amlctl promote`, or the promote workflow)"
        )
    return str(found.version)


def smoke_test(ml_client: Any, endpoint: str, deployment: str, request: Path) -> None:
    """POST the sample request to one deployment; raise unless it answers with predictions."""
    rows = len(json.loads(request.read_text(encoding="utf-8"))["data"])
    answer = ml_client.online_endpoints.invoke(
        endpoint_name=endpoint, deployment_name=deployment, request_file=str(request)
    )
    try:
        body = json.loads(answer) if isinstance(answer, (str, bytes)) else answer
    except ValueError:
        raise RuntimeError(f"answer is not JSON: {str(answer)[:200]}") from None
    predictions = body.get("predictions") if isinstance(body, dict) else None
    if not isinstance(predictions, list) or len(predictions) != rows:
        raise RuntimeError(f"expected {rows} predictions, got {str(answer)[:200]}")


def deploy(
    root: Path,
    ml_client: Any,
    online: OnlineSettings,
    model_version: str | None = None,
    echo: Callable[[str], None] = print,
    registry: RegistryAccess | None = None,
) -> list[Outcome]:
    rollout = read_rollout(root, online, registry.name if registry else "")
    from .publish import UPDATED, _current_tag, _tagged
    from .versions import content_version

    name = online.endpoint
    if registry is not None:
        version = promoted_model_version(registry, rollout.model_name, model_version)
        model = registry.reference("model", rollout.model_name, version)
    else:
        version = latest_model_version(ml_client, rollout.model_name, model_version)
        model = f"azureml:{rollout.model_name}:{version}"
    definition = {**rollout.deployment_definition, "model": model}
    definition.pop("name", None)
    content = content_version(definition, [rollout.deployment_origin.parent / "scoring"])
    new = deployment_name(version, content)
    deployment_definition = _tagged({**definition, "name": new}, content)
    outcomes: list[Outcome] = []
    if rollout.environment is not None and registry is not None:
        outcomes.append(in_registry(registry, rollout.environment))
    elif rollout.environment is not None:
        outcomes.append(ensure_asset(ml_client, rollout.environment))
        if outcomes[-1].status != UNCHANGED:
            echo(f"  {outcomes[-1].status}: environment {rollout.environment.reference}")

    endpoint = get_or_none(lambda: ml_client.online_endpoints.get(name=name))
    if endpoint is None:
        echo(f"  created: online endpoint {name}")
        endpoint = wait(ml_client.online_endpoints.begin_create_or_update(rollout.endpoint))
        outcomes.append(Outcome("online endpoint", name, "-", CREATED))
    elif _current_tag(endpoint) != _current_tag(rollout.endpoint):
        echo(f"  updated: online endpoint {name}")
        rollout.endpoint.traffic = getattr(endpoint, "traffic", None) or {}
        endpoint = wait(ml_client.online_endpoints.begin_create_or_update(rollout.endpoint))
        outcomes.append(Outcome("online endpoint", name, "-", UPDATED))
    traffic = {key: int(value) for key, value in (getattr(endpoint, "traffic", None) or {}).items()}
    existing = get_or_none(lambda: ml_client.online_deployments.get(name=new, endpoint_name=name))
    if existing is not None and traffic.get(new) == 100:
        outcomes.append(Outcome("online deployment", new, version, UNCHANGED))
    else:
        outcomes += _roll_out(
            ml_client, rollout, deployment_definition, endpoint, traffic, version, echo
        )
    if rollout.monitor_definition is not None:
        outcomes += _ensure_monitor(ml_client, rollout, name, new, echo)
    return outcomes


def _roll_out(
    ml_client: Any,
    rollout: Rollout,
    definition: dict[str, Any],
    endpoint: Any,
    traffic: dict[str, int],
    version: str,
    echo: Callable[[str], None],
) -> list[Outcome]:
    from .assets import load_entity

    name, new = endpoint.name, definition["name"]
    previous = [
        deployment for deployment, share in traffic.items() if share > 0 and deployment != new
    ]
    old = max(previous, key=lambda deployment: traffic[deployment]) if previous else None
    outcomes: list[Outcome] = []
    step = "create deployment"
    try:
        echo(f"  creating deployment {new} ({rollout.model_name}:{version}) at 0 % traffic")
        deployment = load_entity("online_deployment", rollout.deployment_origin, definition)
        wait(ml_client.online_deployments.begin_create_or_update(deployment))
        outcomes.append(Outcome("online deployment", new, version, CREATED))
        step = "smoke test"
        smoke_test(ml_client, name, new, rollout.sample_request)
        echo(f"  smoke test of {new}: passed")
        for share in TRAFFIC_STEPS if old else (100,):
            step = f"traffic {share} %"
            split = {new: share}
            if old and share < 100:
                split[old] = 100 - share
            for other in traffic:
                split.setdefault(other, 0)
            endpoint.traffic = split
            wait(ml_client.online_endpoints.begin_create_or_update(endpoint))
            echo(f"  traffic: {', '.join(f'{k} {v} %' for k, v in split.items())}")
            outcomes.append(Outcome("traffic", name, f"{new} {share} %", SHIFTED))
            smoke_test(ml_client, name, new, rollout.sample_request)
    except Exception as exc:
        _roll_back(ml_client, endpoint, new, old, traffic, echo)
        raise RolloutFailed(
            f"rollout of {rollout.model_name}:{version} to {name} failed at {step}: "
            f"{_reason(exc)}; rolled back ({'traffic back to ' + old if old else 'no traffic'}, "
            f"{new} deleted)"
        ) from exc
    for deployment in traffic:
        if deployment != new:
            echo(f"  deleting previous deployment {deployment}")
            wait(ml_client.online_deployments.begin_delete(name=deployment, endpoint_name=name))
            outcomes.append(Outcome("online deployment", deployment, "-", DELETED))
    return outcomes


def _reason(exc: Exception) -> str:
    from azure.core.exceptions import HttpResponseError

    if isinstance(exc, HttpResponseError):
        from .errors import describe_azure_error

        return describe_azure_error(exc)
    return str(exc) or type(exc).__name__


def _roll_back(
    ml_client: Any,
    endpoint: Any,
    new: str,
    old: str | None,
    traffic: dict[str, int],
    echo: Callable[[str], None],
) -> None:
    """Traffic back as it was, then the new deployment deleted."""
    echo(f"  rolling back: traffic to {old or 'none'}, deleting {new}")
    restored = {deployment: share for deployment, share in traffic.items() if deployment != new}
    current = ml_client.online_endpoints.get(name=endpoint.name)
    live = {k: int(v) for k, v in (getattr(current, "traffic", None) or {}).items() if int(v)}
    if live != {k: v for k, v in restored.items() if v}:
        current.traffic = restored
        wait(ml_client.online_endpoints.begin_create_or_update(current))
    deployed = get_or_none(
        lambda: ml_client.online_deployments.get(name=new, endpoint_name=endpoint.name)
    )
    if deployed is not None:
        wait(ml_client.online_deployments.begin_delete(name=new, endpoint_name=endpoint.name))


def _ensure_monitor(
    ml_client: Any,
    rollout: Rollout,
    endpoint: str,
    deployment: str,
    echo: Callable[[str], None],
) -> list[Outcome]:
    """The monitor, pointed at the deployment and at the registered versions of the project's
    data assets it names (registered first when missing)."""
    from .assets import discover_data, load_entity
    from .publish import _tagged, ensure_tagged
    from .versions import content_version

    definition = json.loads(json.dumps(rollout.monitor_definition))
    target = definition.setdefault("create_monitor", {}).setdefault("monitoring_target", {})
    target["endpoint_deployment_id"] = f"azureml:{endpoint}:{deployment}"
    data = {asset.name: asset for asset in discover_data(rollout.root)}
    used: dict[str, Any] = {}

    def point_at_data(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: point_at_data(value) for key, value in node.items()}
        if isinstance(node, list):
            return [point_at_data(value) for value in node]
        if isinstance(node, str) and node.startswith("azureml:"):
            name = node.removeprefix("azureml:").split("@")[0].split(":")[0]
            if name in data:
                used[name] = data[name]
                return data[name].reference
        return node

    definition = point_at_data(definition)
    outcomes = []
    for asset in used.values():
        outcomes.append(ensure_asset(ml_client, asset))
        if outcomes[-1].status != UNCHANGED:
            echo(f"  {outcomes[-1].status}: data {asset.reference}")
    definition = _tagged(definition, content_version(definition))
    monitor = load_entity("schedule", rollout.monitor_origin, definition)
    outcomes.append(
        ensure_tagged(
            "model monitor",
            monitor,
            lambda: ml_client.schedules.get(name=monitor.name),
            ml_client.schedules.begin_create_or_update,
            echo,
        )
    )
    return outcomes


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", default="dev", help="environment (config/<env>.yml), default dev")
    parser.add_argument(
        "--model-version",
        default=None,
        help="registered model version to roll out (default: the latest; with a registry, "
        "the registry's version promoted last)",
    )


@report
def main(args: argparse.Namespace, ml_client: Any = None, registry_client: Any = None) -> int:
    from . import clients
    from .config import load_settings

    root = project_root()
    settings = load_settings(args.env, root)
    online = online_settings(args.env, root)
    with describing(settings):
        ml_client = ml_client or clients.ml_client(settings)
        outcomes = deploy(
            root,
            ml_client,
            online,
            model_version=args.model_version,
            registry=environment_registry(settings, registry_client),
        )
    print(format_table(outcomes))
    return 0
