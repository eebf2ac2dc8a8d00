"""The project's Azure ML assets as they should exist in a workspace, with content versions.

Definitions are read from the project's YAML, rewritten (version, registered environment and
component references, content tags) and loaded with the SDK from the rewritten text, with the
original file as origin so relative paths such as `code:` still resolve.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..project import ProjectError, layout
from .versions import content_version

CONTENT_TAG = "content_version"
REMOTE_PREFIXES = ("azureml:", "http://", "https://", "wasbs://", "abfss://", "adl://", "gs://")
# kind -> the plural an Azure ML registry names it by in asset ids
REGISTRY_PLURALS = {"environment": "environments", "component": "components", "model": "models"}


def registry_reference(registry: str, kind: str, name: str, version: str) -> str:
    """The id of an asset version in an Azure ML registry, as jobs and deployments refer to it."""
    return f"azureml://registries/{registry}/{REGISTRY_PLURALS[kind]}/{name}/versions/{version}"


@dataclass
class Asset:
    kind: str  # environment | data | component
    name: str
    version: str
    path: Path
    definition: dict[str, Any] = field(repr=False)

    @property
    def reference(self) -> str:
        return f"azureml:{self.name}:{self.version}"

    def in_registry(self, registry: str) -> str:
        """Its reference in the Azure ML registry, where `promote` copies it (same version)."""
        return registry_reference(registry, self.kind, self.name, self.version)

    def used_from(self, registry: str = "") -> str:
        """How an environment refers to it: in the Azure ML registry it reads from, if any, for
        environments and components; in its own workspace otherwise (data always)."""
        return self.in_registry(registry) if registry and self.kind != "data" else self.reference

    def load(self) -> Any:
        """The SDK entity built from the rewritten definition."""
        return load_entity(self.kind, self.path, self.definition)


def read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ProjectError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ProjectError(f"{path} must be a YAML mapping")
    return data


def _loader(kind: str) -> Callable[..., Any]:
    from azure.ai.ml import (
        load_batch_endpoint,
        load_component,
        load_data,
        load_environment,
        load_online_deployment,
        load_online_endpoint,
    )
    from azure.ai.ml.entities._load_functions import (
        load_pipeline_component_batch_deployment,
        load_schedule,
    )

    return {
        "environment": load_environment,
        "data": load_data,
        "component": load_component,
        "batch_endpoint": load_batch_endpoint,
        "batch_deployment": load_pipeline_component_batch_deployment,
        "schedule": load_schedule,
        "online_endpoint": load_online_endpoint,
        "online_deployment": load_online_deployment,
    }[kind]


def load_entity(kind: str, origin: Path, definition: dict[str, Any]) -> Any:
    import yaml

    from ..project import quiet_azure_ml

    loader = _loader(kind)
    quiet_azure_ml()  # after the import: importing azure.ai.ml resets its logger's level
    text = yaml.safe_dump(definition, sort_keys=False)
    try:
        return loader(source=io.StringIO(text), relative_origin=str(origin))
    except Exception as exc:
        # Marshmallow and SDK validation errors: name the file that holds the mistake.
        if type(exc).__module__.startswith(("azure.", "marshmallow")):
            raise ProjectError(f"{origin}: {exc}") from exc
        raise


def default_model_name(root: Path) -> str:
    """The model the training pipeline registers: its `model_name` input's default."""
    path = layout(root).publish / "training-component.yml"
    inputs = read_yaml(path).get("inputs") if path.is_file() else None
    spec = (inputs or {}).get("model_name") if isinstance(inputs, dict) else None
    name = spec.get("default") if isinstance(spec, dict) else None
    if not isinstance(name, str) or not name:
        raise ProjectError(
            f"no model to promote: {path.relative_to(root)} has no `model_name` input with a "
            "default; name it with --model"
        )
    return name


def _is_local(reference: Any) -> bool:
    return isinstance(reference, str) and not reference.startswith(REMOTE_PREFIXES)


def _azureml_name(reference: str) -> str:
    body = reference.removeprefix("azureml:")
    return body.split("@")[0].split(":")[0]


def _require_name(path: Path, data: dict[str, Any]) -> str:
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ProjectError(f"{path}: needs a `name`")
    return name


def discover_environments(root: Path) -> list[Asset]:
    assets = []
    for path in sorted(layout(root).environments.glob("*/environment.yml")):
        data = read_yaml(path)
        name = _require_name(path, data)
        folders = []
        if _is_local(data.get("conda_file")):
            folders.append(path.parent / data["conda_file"])
        build = data.get("build")
        if isinstance(build, dict) and _is_local(build.get("path")):
            folders.append(path.parent / build["path"])
        version = content_version(data, [f for f in folders if f.exists()])
        assets.append(Asset("environment", name, version, path, {**data, "version": version}))
    return assets


def discover_data(root: Path) -> list[Asset]:
    assets = []
    for path in sorted(layout(root).data.glob("*.yml")):
        data = read_yaml(path)
        name = _require_name(path, data)
        folders = []
        if _is_local(data.get("path")):
            local = path.parent / data["path"]
            if not local.exists():
                raise ProjectError(f"{path}: path {data['path']!r} does not exist")
            folders.append(local)
        version = content_version(data, folders)
        assets.append(Asset("data", name, version, path, {**data, "version": version}))
    return assets


def _environment_for(
    reference: Any, origin: Path, environments: list[Asset]
) -> tuple[Asset | None, Any]:
    """The project environment a component refers to (local path or azureml name), if any."""
    if isinstance(reference, str):
        if reference.startswith("azureml:"):
            wanted = _azureml_name(reference)
            return next((env for env in environments if env.name == wanted), None), reference
        if _is_local(reference):
            target = (origin.parent / reference).resolve()
            for env in environments:
                if env.path.resolve() in (target, target / "environment.yml"):
                    return env, reference
            raise ProjectError(f"{origin}: environment {reference!r} is not a project environment")
    if isinstance(reference, dict) and _is_local(reference.get("conda_file")):
        # An inline environment built from a project environment's conda file is that
        # environment: use its registered content version instead of an anonymous copy.
        conda = (origin.parent / reference["conda_file"]).resolve()
        for env in environments:
            env_conda = env.definition.get("conda_file")
            same_image = reference.get("image") in (None, env.definition.get("image"))
            if (
                same_image
                and _is_local(env_conda)
                and (env.path.parent / env_conda).resolve() == conda
            ):
                return env, reference
    return None, reference


def discover_components(root: Path, environments: list[Asset]) -> list[Asset]:
    """Components with a content version; their environment points at its content version."""
    assets = []
    for path in sorted(layout(root).components.glob("*/component.yml")):
        data = read_yaml(path)
        name = _require_name(path, data)
        holder = data["task"] if isinstance(data.get("task"), dict) else data  # parallel: task
        env, _ = _environment_for(holder.get("environment"), path, environments)
        if env is not None:
            holder["environment"] = env.reference
        code = holder.get("code")
        folders = [path.parent / code] if _is_local(code) else []
        extra = [env.reference] if env is not None else []
        version = content_version(data, folders, extra)
        assets.append(Asset("component", name, version, path, {**data, "version": version}))
    return assets


def registry_component(component: Asset, registry: str, environments: list[Asset]) -> Asset:
    """The component as the registry holds it: the same content version, its environment the
    registry's copy (a registry component can only use the registry's environments)."""
    definition = copy.deepcopy(component.definition)
    holder = definition["task"] if isinstance(definition.get("task"), dict) else definition
    by_reference = {env.reference: env for env in environments}
    env = by_reference.get(holder.get("environment"))
    if env is not None:
        holder["environment"] = env.in_registry(registry)
    return replace(component, definition=definition)


def discover(root: Path) -> list[Asset]:
    """Every registrable asset, in the order they must be created."""
    environments = discover_environments(root)
    return environments + discover_data(root) + discover_components(root, environments)


def point_jobs_at_components(
    definition: dict[str, Any], origin: Path, components: list[Asset], registry: str = ""
) -> dict[str, Any]:
    """Rewrite `jobs.<node>.component: ../x/component.yml` to the registered content version
    (in the Azure ML ``registry``, when the environment takes its components from one).

    A sweep node names its component under `trial`; both are rewritten.
    """

    by_path = {asset.path.resolve(): asset for asset in components}
    by_name = {asset.name: asset for asset in components}
    jobs = {}
    for node_name, node in (definition.get("jobs") or {}).items():
        node = dict(node)
        key = "trial" if node.get("type") == "sweep" else "component"
        reference = node.get(key)
        if _is_local(reference):
            target = (origin.parent / reference).resolve()
            asset = by_path.get(target) or by_path.get(target / "component.yml")
            if asset is None:
                raise ProjectError(
                    f"{origin}: job {node_name!r} refers to {reference!r}, which is not a "
                    "component under components/"
                )
            node[key] = asset.used_from(registry)
        elif isinstance(reference, str) and reference.startswith("azureml:"):
            asset = by_name.get(_azureml_name(reference))
            if asset is not None:
                node[key] = asset.used_from(registry)
        jobs[node_name] = node
    return {**definition, "jobs": jobs}


def point_inputs_at_data(
    definition: dict[str, Any], origin: Path, data_assets: list[Asset]
) -> dict[str, Any]:
    """Rewrite inputs whose local `path` is a data asset's folder to its registered version."""
    by_path = {}
    for asset in data_assets:
        local = asset.definition.get("path")
        if _is_local(local):
            by_path[(asset.path.parent / local).resolve()] = asset
    inputs = {}
    for name, spec in (definition.get("inputs") or {}).items():
        if isinstance(spec, dict) and _is_local(spec.get("path")):
            asset = by_path.get((origin.parent / spec["path"]).resolve())
            if asset is not None:
                spec = {**spec, "path": asset.reference}
        inputs[name] = spec
    return {**definition, "inputs": inputs}
