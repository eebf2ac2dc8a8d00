"""In-memory fakes of MLClient's operation groups that keep workspace state.

Code and data uploads make a loopback Azure ML service impractical, so these stand in for
`ml_client.<group>` with the same method names and keep what was "created": tests assert on the
resulting state and on the recorded calls (each call is one service request, or the first
request of a long-running operation).
"""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

# `share` is a write to the registry, made from the workspace's client (the registry copies)
WRITES = {"create_or_update", "begin_create_or_update", "begin_delete", "share"}


@dataclass
class Call:
    group: str
    method: str
    name: str
    version: str | None = None


@dataclass
class Done:
    """What begin_* returns: an already finished poller."""

    value: Any

    def result(self, timeout: float | None = None) -> Any:
        return self.value

    def done(self) -> bool:
        return True


@dataclass
class Ledger:
    calls: list[Call] = field(default_factory=list)
    fail_once: set[tuple[str, str]] = field(default_factory=set)  # (group, name) -> one 500

    def record(self, call: Call) -> None:
        self.calls.append(call)
        key = (call.group, call.name)
        if call.method in WRITES and key in self.fail_once:
            self.fail_once.discard(key)
            raise HttpResponseError(message=f"injected failure creating {call.group} {call.name}")


def _share(source: Any, registries: dict[str, Any], group: str, name: str, version: str, **kw):
    """What `<group>.share(...)` does: the registry copies a workspace's asset version into
    itself, under `share_with_name`/`share_with_version`; a version it has already is refused."""
    registry = registries.get(kw["registry_name"])
    if registry is None:
        raise ResourceNotFoundError(f"registry {kw['registry_name']} not found")
    entity = copy.deepcopy(source.get_quietly(name, version))
    target = getattr(registry, group)
    if target.has(kw["share_with_name"], kw["share_with_version"]):
        raise HttpResponseError(message="A model with this name and version already exists")
    entity.name, entity.version = kw["share_with_name"], kw["share_with_version"]
    target.keep(entity)
    return entity


class VersionedAssets:
    """environments / data / components: name -> {version: entity}."""

    def __init__(self, group: str, ledger: Ledger, registries: dict[str, Any] | None = None):
        self.group, self.ledger = group, ledger
        self.store: dict[str, dict[str, Any]] = {}
        self.registries = registries if registries is not None else {}

    def has(self, name: str, version: str) -> bool:
        return version in self.store.get(name, {})

    def keep(self, entity: Any) -> None:
        self.store.setdefault(entity.name, {})[str(entity.version)] = entity

    def get_quietly(self, name: str, version: str) -> Any:
        if not self.has(name, version):
            raise ResourceNotFoundError(f"{self.group} {name}:{version} not found")
        return self.store[name][version]

    def share(self, name: str, version: str, **kwargs: Any) -> Any:
        self.ledger.record(Call(self.group, "share", name, version))
        return _share(self, self.registries, self.group, name, version, **kwargs)

    def get(self, name: str, version: str | None = None, label: str | None = None) -> Any:
        self.ledger.record(Call(self.group, "get", name, version))
        versions = self.store.get(name, {})
        if version is None and versions:
            return versions[list(versions)[-1]]
        if version not in versions:
            raise ResourceNotFoundError(f"{self.group} {name}:{version} not found")
        return versions[version]

    def create_or_update(self, entity: Any, **kwargs: Any) -> Any:
        self.ledger.record(Call(self.group, "create_or_update", entity.name, str(entity.version)))
        self.store.setdefault(entity.name, {})[str(entity.version)] = entity
        return entity


class NamedResources:
    """batch_endpoints / schedules: name -> entity."""

    def __init__(self, group: str, ledger: Ledger) -> None:
        self.group, self.ledger = group, ledger
        self.store: dict[str, Any] = {}

    def get(self, name: str, **kwargs: Any) -> Any:
        self.ledger.record(Call(self.group, "get", name))
        if name not in self.store:
            raise ResourceNotFoundError(f"{self.group} {name} not found")
        return self.store[name]

    def begin_create_or_update(self, entity: Any, **kwargs: Any) -> Done:
        self.ledger.record(Call(self.group, "begin_create_or_update", entity.name))
        self.store[entity.name] = entity
        return Done(entity)


class BatchDeployments:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.store: dict[tuple[str, str], Any] = {}

    def get(self, name: str, endpoint_name: str) -> Any:
        self.ledger.record(Call("batch_deployments", "get", name))
        if (endpoint_name, name) not in self.store:
            raise ResourceNotFoundError(f"deployment {endpoint_name}/{name} not found")
        return self.store[(endpoint_name, name)]

    def begin_create_or_update(self, deployment: Any, **kwargs: Any) -> Done:
        self.ledger.record(Call("batch_deployments", "begin_create_or_update", deployment.name))
        self.store[(deployment.endpoint_name, deployment.name)] = deployment
        return Done(deployment)


class Jobs:
    """Submitted jobs get a name; `get` walks through the scripted statuses."""

    def __init__(self, ledger: Ledger, statuses: list[str]) -> None:
        self.ledger, self.statuses = ledger, statuses
        self.submitted: dict[str, Any] = {}
        self._progress: dict[str, Any] = {}
        self._names = (f"job-{n}" for n in itertools.count(1))

    def create_or_update(self, job: Any, **kwargs: Any) -> Any:
        name = next(self._names)
        self.ledger.record(Call("jobs", "create_or_update", name))
        self.submitted[name] = SimpleNamespace(job=job, kwargs=kwargs)
        self._progress[name] = iter(self.statuses)
        return SimpleNamespace(name=name, studio_url=f"https://ml.azure.com/runs/{name}")

    def get(self, name: str) -> Any:
        self.ledger.record(Call("jobs", "get", name))
        status = next(self._progress[name], self.statuses[-1])
        return SimpleNamespace(name=name, status=status)


class Models:
    """Registered models: name -> versions, oldest first (what `deploy` rolls out, `promote`
    copies). A version without an entity of its own is an MLflow model at a path of its run."""

    def __init__(self, ledger: Ledger, registries: dict[str, Any] | None = None) -> None:
        self.ledger = ledger
        self.store: dict[str, list[str]] = {}
        self.entities: dict[tuple[str, str], Any] = {}
        self.registries = registries if registries is not None else {}

    def has(self, name: str, version: str) -> bool:
        return version in self.store.get(name, [])

    def keep(self, entity: Any) -> None:
        self.store.setdefault(entity.name, []).append(str(entity.version))
        self.entities[(entity.name, str(entity.version))] = entity

    def get_quietly(self, name: str, version: str) -> Any:
        if not self.has(name, version):
            raise ResourceNotFoundError(f"model {name}:{version} not found")
        default = SimpleNamespace(
            name=name,
            version=version,
            type="mlflow_model",
            path=f"azureml://datastores/workspaceartifactstore/paths/ExperimentRun/{name}-{version}",
        )
        return self.entities.get((name, version), default)

    def list(self, name: str, **kwargs: Any) -> list[Any]:
        self.ledger.record(Call("models", "list", name))
        return [SimpleNamespace(name=name, version=v) for v in self.store.get(name, [])]

    def get(self, name: str, version: str | None = None, label: str | None = None) -> Any:
        self.ledger.record(Call("models", "get", name, version))
        if label == "latest":
            if not self.store.get(name):  # what the SDK raises for a model with no version
                from azure.ai.ml.exceptions import ValidationException

                message = f"Asset {name} does not exist in registry."
                raise ValidationException(message=message, no_personal_data_message=message)
            version = self.store[name][-1]
        return self.get_quietly(name, str(version))

    def share(self, name: str, version: str, **kwargs: Any) -> Any:
        self.ledger.record(Call("models", "share", name, version))
        return _share(self, self.registries, "models", name, version, **kwargs)


class OnlineEndpoints(NamedResources):
    """Online endpoints with traffic, and `invoke` routed to the deployment it names.

    `scorers` maps a deployment name to what it answers (a callable taking the request
    file's text); a deployment without one answers with one prediction per row, like the
    project's scoring script. A deployment that does not exist answers 404.
    """

    def __init__(self, ledger: Ledger, deployments: OnlineDeployments) -> None:
        super().__init__("online_endpoints", ledger)
        self.deployments = deployments
        self.scorers: dict[str, Any] = {}
        self.invocations: list[tuple[str, str | None]] = []
        self.fail_traffic: dict[str, int] = {}  # deployment -> share whose update fails

    def begin_create_or_update(self, entity: Any, **kwargs: Any) -> Done:
        for deployment, share in (getattr(entity, "traffic", None) or {}).items():
            if self.fail_traffic.get(deployment) == share:
                self.ledger.record(Call(self.group, "begin_create_or_update", entity.name))
                raise HttpResponseError(message=f"injected failure: {deployment} at {share} %")
            if share and (entity.name, deployment) not in self.deployments.store:
                raise HttpResponseError(message=f"traffic to missing deployment {deployment}")
        # what Azure stores is a copy; the caller's object is not the service's state
        stored = copy.deepcopy(entity)
        result = super().begin_create_or_update(stored)
        return result

    def invoke(
        self,
        endpoint_name: str,
        request_file: str,
        deployment_name: str | None = None,
        **kwargs: Any,
    ) -> str:
        self.ledger.record(Call(self.group, "invoke", endpoint_name))
        self.invocations.append((endpoint_name, deployment_name))
        if endpoint_name not in self.store:
            raise ResourceNotFoundError(f"endpoint {endpoint_name} not found")
        if deployment_name is None:  # routed by traffic: the largest share answers here
            traffic = self.store[endpoint_name].traffic or {}
            deployment_name = max(traffic, key=traffic.get) if traffic else None
        if (endpoint_name, deployment_name) not in self.deployments.store:
            raise ResourceNotFoundError(f"deployment {deployment_name} not found")
        text = Path(request_file).read_text(encoding="utf-8")
        scorer = self.scorers.get(deployment_name)
        if scorer is not None:
            return scorer(text)
        return json.dumps({"predictions": [0] * len(json.loads(text)["data"])})


class OnlineDeployments:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.store: dict[tuple[str, str], Any] = {}
        self.endpoints: dict[str, Any] = {}  # the endpoints' store, to refuse deleting live ones

    def get(self, name: str, endpoint_name: str, **kwargs: Any) -> Any:
        self.ledger.record(Call("online_deployments", "get", name))
        if (endpoint_name, name) not in self.store:
            raise ResourceNotFoundError(f"deployment {endpoint_name}/{name} not found")
        return self.store[(endpoint_name, name)]

    def list(self, endpoint_name: str, **kwargs: Any) -> list[Any]:
        self.ledger.record(Call("online_deployments", "list", endpoint_name))
        return [d for (endpoint, _), d in self.store.items() if endpoint == endpoint_name]

    def begin_create_or_update(self, deployment: Any, **kwargs: Any) -> Done:
        self.ledger.record(Call("online_deployments", "begin_create_or_update", deployment.name))
        self.store[(deployment.endpoint_name, deployment.name)] = deployment
        return Done(deployment)

    def begin_delete(self, name: str, endpoint_name: str, **kwargs: Any) -> Done:
        self.ledger.record(Call("online_deployments", "begin_delete", name))
        if (endpoint_name, name) not in self.store:
            raise ResourceNotFoundError(f"deployment {endpoint_name}/{name} not found")
        endpoint = self.endpoints.get(endpoint_name)
        if endpoint is not None and (endpoint.traffic or {}).get(name, 0) > 0:
            raise HttpResponseError(message=f"{name} still receives traffic; cannot delete it")
        del self.store[(endpoint_name, name)]
        return Done(None)


class FakeMLClient:
    """A workspace; or, made by `registry()`, an Azure ML registry its `share` copies into."""

    def __init__(self, job_statuses: list[str] | None = None) -> None:
        self.ledger = Ledger()
        self.registries: dict[str, FakeMLClient] = {}
        self.environments = VersionedAssets("environments", self.ledger, self.registries)
        self.data = VersionedAssets("data", self.ledger, self.registries)
        self.components = VersionedAssets("components", self.ledger, self.registries)
        self.batch_endpoints = NamedResources("batch_endpoints", self.ledger)
        self.batch_deployments = BatchDeployments(self.ledger)
        self.schedules = NamedResources("schedules", self.ledger)
        self.models = Models(self.ledger, self.registries)
        self.online_deployments = OnlineDeployments(self.ledger)
        self.online_endpoints = OnlineEndpoints(self.ledger, self.online_deployments)
        self.online_deployments.endpoints = self.online_endpoints.store
        self.jobs = Jobs(self.ledger, job_statuses or ["Queued", "Running", "Completed"])

    def registry(self, name: str) -> FakeMLClient:
        """A registry this workspace's `share` can copy into (its own client and calls)."""
        self.registries[name] = FakeMLClient()
        return self.registries[name]

    @property
    def calls(self) -> list[Call]:
        return self.ledger.calls

    @property
    def writes(self) -> list[Call]:
        return [call for call in self.ledger.calls if call.method in WRITES]

    def reset_calls(self) -> None:
        self.ledger.calls.clear()
