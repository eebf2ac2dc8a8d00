"""`publish`: the training pipeline as a registered pipeline component behind a batch endpoint.

This is the SDK v2 form of publishing a pipeline (v1 `pipeline.publish()` + REST endpoint):
- <publish>/training-component.yml -> pipeline component at its content version,
  its steps pointing at the registered component versions (or, with `publish PIPELINE`,
  a pipeline job file, YAML or Python, published as that pipeline component);
- <publish>/batch-endpoint.yml -> batch endpoint;
- <publish>/training-deployment.yml -> pipeline-component deployment, made default;
- <schedules>/*.yml -> schedules
(<publish> and <schedules> as `[tool.amlctl]` places them; pipelines/publish and
pipelines/schedules by default). In an environment that reads from an Azure ML registry
(prod, `registry` in its config) the steps and the schedules' jobs use the components
promoted into the registry, which must be there, instead of registering the workspace's
own. `read_publication` reads and validates all of it before `write_publication` makes the
first write.
Each object carries a `content_version` tag; it is written only when the desired content
differs from what the workspace has, so publishing twice changes nothing the second time.
"""

from __future__ import annotations

import argparse
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
    wait,
)
from .registry import RegistryAccess, environment_registry

UPDATED = "updated"


def _tagged(definition: dict[str, Any], version: str) -> dict[str, Any]:
    from .assets import CONTENT_TAG

    return {**definition, "tags": {**(definition.get("tags") or {}), CONTENT_TAG: version}}


def _current_tag(entity: Any) -> str | None:
    from .assets import CONTENT_TAG

    return (getattr(entity, "tags", None) or {}).get(CONTENT_TAG)


def default_deployment(endpoint: Any) -> str | None:
    """The endpoint's default deployment (defaults is a dict or a REST model)."""
    defaults = getattr(endpoint, "defaults", None)
    if isinstance(defaults, dict):
        return defaults.get("deployment_name") or defaults.get("deploymentName")
    return getattr(defaults, "deployment_name", None)


@dataclass
class Publication:
    """Everything `publish` writes, read and loaded (so validated) before the first write."""

    pipeline: Any  # the pipeline component, an Asset
    pipeline_entity: Any
    endpoint: Any
    deployment: Any
    schedules: list[Any] = field(default_factory=list)


def publish_project(
    root: Path,
    ml_client: Any,
    echo: Callable[[str], None] = print,
    cpu_cluster: str | None = None,
    endpoint_name: str | None = None,
    pipeline: Path | None = None,
    registry: RegistryAccess | None = None,
) -> list[Outcome]:
    """Read every definition first (a mistake in any file changes nothing), then write."""
    publication = read_publication(
        root,
        cpu_cluster=cpu_cluster,
        endpoint_name=endpoint_name,
        pipeline=pipeline,
        registry=registry.name if registry else "",
    )
    return write_publication(root, ml_client, publication, echo, registry=registry)


def read_publication(
    root: Path,
    cpu_cluster: str | None = None,
    endpoint_name: str | None = None,
    pipeline: Path | None = None,
    registry: str = "",
) -> Publication:
    """Phase 1: the pipeline component, endpoint, deployment and schedules, with their tags.

    ``pipeline`` publishes another pipeline file (a YAML or Python pipeline job) as the
    pipeline component, under the name training-component.yml gives it. With a ``registry``
    the steps and the schedules' jobs refer to the components promoted into it.
    """
    from ..pipeline.source import pipeline_component_definition, sdk_origin
    from .assets import Asset, discover, load_entity, point_jobs_at_components, read_yaml
    from .versions import content_version

    where = layout(root)
    paths = {
        "component": where.publish / "training-component.yml",
        "endpoint": where.publish / "batch-endpoint.yml",
        "deployment": where.publish / "training-deployment.yml",
    }
    required = [paths["endpoint"], paths["deployment"]]
    if pipeline is None:
        required.insert(0, paths["component"])
    for path in required:
        if not path.is_file():
            raise ProjectError(f"{path.relative_to(root)} is missing: nothing to publish")
    assets = discover(root)
    components = [asset for asset in assets if asset.kind == "component"]
    code_folders: list[Path] = []
    if pipeline is None:
        raw, origin = read_yaml(paths["component"]), paths["component"]
    else:
        name = read_yaml(paths["component"]).get("name") if paths["component"].is_file() else None
        raw, origin, code_folders = pipeline_component_definition(pipeline, name)
    pipeline_definition = point_jobs_at_components(raw, origin, components, registry)
    pipeline_version = content_version(pipeline_definition, code_folders)
    pipeline_asset = Asset(
        "component",
        pipeline_definition.get("name") or "training_pipeline",
        pipeline_version,
        sdk_origin(origin),
        {**pipeline_definition, "version": pipeline_version},
    )
    endpoint_definition = read_yaml(paths["endpoint"])
    endpoint_definition.pop("defaults", None)  # set by the write phase, once the deployment exists
    if endpoint_name:  # the environment's own name: batch endpoint names are unique per region
        endpoint_definition["name"] = endpoint_name
    endpoint_definition = _tagged(endpoint_definition, content_version(endpoint_definition))
    deployment_definition = read_yaml(paths["deployment"])
    deployment_definition["component"] = pipeline_asset.reference
    deployment_definition["endpoint_name"] = endpoint_definition.get("name")
    deployment_settings = deployment_definition.get("settings") or {}
    if cpu_cluster and deployment_settings.get("default_compute"):
        # The cluster the last `provision` created, should infra/ name it differently.
        deployment_definition["settings"] = {**deployment_settings, "default_compute": cpu_cluster}
    deployment_definition = _tagged(deployment_definition, content_version(deployment_definition))
    schedules = []
    for path in sorted(where.schedules.glob("*.yml")):
        definition = read_yaml(path)
        job = definition.get("create_job")
        job_file = (
            path.parent / job if isinstance(job, str) and not job.startswith("azureml:") else None
        )
        extra = [asset.used_from(registry) for asset in assets]
        folders = [job_file] if job_file and job_file.is_file() else []
        definition = _tagged(definition, content_version(definition, folders, extra))
        schedule = load_entity("schedule", path, definition)
        if registry and job_file is not None and job_file.is_file():
            schedule.create_job = registry_job(job_file, assets, registry)
        schedules.append(schedule)
    return Publication(
        pipeline=pipeline_asset,
        pipeline_entity=pipeline_asset.load(),
        endpoint=load_entity("batch_endpoint", paths["endpoint"], endpoint_definition),
        deployment=load_entity("batch_deployment", paths["deployment"], deployment_definition),
        schedules=schedules,
    )


def registry_job(job_file: Path, assets: list[Any], registry: str) -> Any:
    """A schedule's pipeline job with its steps on the registry's components and its inputs on
    the workspace's registered data (the SDK would otherwise upload the local components)."""
    from .assets import point_inputs_at_data, point_jobs_at_components, read_yaml
    from .submit import load_job_entity

    definition = point_jobs_at_components(
        read_yaml(job_file), job_file, [a for a in assets if a.kind == "component"], registry
    )
    definition = point_inputs_at_data(definition, job_file, [a for a in assets if a.kind == "data"])
    return load_job_entity(job_file, definition)


def write_publication(
    root: Path,
    ml_client: Any,
    publication: Publication,
    echo: Callable[[str], None] = print,
    registry: RegistryAccess | None = None,
) -> list[Outcome]:
    """Phase 2: register the components (or find them in the registry), then write only what
    differs from the workspace."""
    from .register import register_project

    pipeline, endpoint, deployment = (
        publication.pipeline,
        publication.endpoint,
        publication.deployment,
    )
    outcomes = register_project(root, ml_client, echo=echo, registry=registry)
    outcomes.append(ensure_asset(ml_client, pipeline, loaded=publication.pipeline_entity))
    if outcomes[-1].status != UNCHANGED:
        echo(f"  {outcomes[-1].status}: pipeline component {pipeline.name}:{pipeline.version}")
    endpoint_name = endpoint.name

    def keep_default_deployment(existing: Any) -> None:
        if existing is not None and getattr(existing, "defaults", None):
            endpoint.defaults = existing.defaults

    outcomes.append(
        ensure_tagged(
            "batch endpoint",
            endpoint,
            lambda: ml_client.batch_endpoints.get(name=endpoint_name),
            ml_client.batch_endpoints.begin_create_or_update,
            echo,
            before_write=keep_default_deployment,
        )
    )
    outcomes.append(
        ensure_tagged(
            "batch deployment",
            deployment,
            lambda: ml_client.batch_deployments.get(
                name=deployment.name, endpoint_name=endpoint_name
            ),
            ml_client.batch_deployments.begin_create_or_update,
            echo,
        )
    )
    current = ml_client.batch_endpoints.get(name=endpoint_name)
    if default_deployment(current) != deployment.name:
        current.defaults = {"deployment_name": deployment.name}
        echo(f"  default deployment of {endpoint_name}: {deployment.name}")
        wait(ml_client.batch_endpoints.begin_create_or_update(current))
        outcomes.append(Outcome("default deployment", endpoint_name, deployment.name, UPDATED))

    for schedule in publication.schedules:
        outcomes.append(
            ensure_tagged(
                "schedule",
                schedule,
                lambda name=schedule.name: ml_client.schedules.get(name=name),
                ml_client.schedules.begin_create_or_update,
                echo,
            )
        )
    return outcomes


def ensure_tagged(
    kind: str,
    desired: Any,
    get: Callable[[], Any],
    begin_create_or_update: Callable[[Any], Any],
    echo: Callable[[str], None],
    before_write: Callable[[Any], None] | None = None,
) -> Outcome:
    """Write `desired` only if the workspace lacks it or holds other content (its tag differs)."""
    wanted = _current_tag(desired)
    existing = get_or_none(get)
    if existing is not None and _current_tag(existing) == wanted:
        return Outcome(kind, desired.name, wanted, UNCHANGED)
    status = CREATED if existing is None else UPDATED
    if before_write is not None:
        before_write(existing)
    echo(f"  {status}: {kind} {desired.name} ({wanted})")
    wait(begin_create_or_update(desired))
    return Outcome(kind, desired.name, wanted, status)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "pipeline",
        nargs="?",
        type=Path,
        help="pipeline to publish instead of <publish>/training-component.yml: a pipeline job "
        "file, YAML or Python (FILE.py[:NAME]), e.g. pipelines/training.py",
    )
    parser.add_argument("--env", default="dev", help="environment (config/<env>.yml), default dev")


@report
def main(args: argparse.Namespace, ml_client: Any = None, registry_client: Any = None) -> int:
    from . import clients
    from .config import load_settings

    root = project_root()
    settings = load_settings(args.env, root)
    with describing(settings):
        ml_client = ml_client or clients.ml_client(settings)
        outcomes = publish_project(
            root,
            ml_client,
            cpu_cluster=settings.cpu_cluster,
            endpoint_name=settings.batch_endpoint,
            pipeline=getattr(args, "pipeline", None),
            registry=environment_registry(settings, registry_client),
        )
    print(format_table(outcomes))
    return 0
