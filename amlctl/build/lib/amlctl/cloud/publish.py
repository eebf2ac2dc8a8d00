"""`publish`: the training pipeline as a registered pipeline component behind a batch endpoint.

This is the SDK v2 form of publishing a pipeline (v1 `pipeline.publish()` + REST endpoint):
- pipelines/publish/training-component.yml -> pipeline component at its content version,
  its steps pointing at the registered component versions;
- pipelines/publish/batch-endpoint.yml -> batch endpoint;
- pipelines/publish/training-deployment.yml -> pipeline-component deployment, made default;
- pipelines/schedules/*.yml -> schedules.
Each object carries a `content_version` tag; it is written only when the desired content
differs from what the workspace has, so publishing twice changes nothing the second time.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..project import ProjectError, project_root
from .errors import describing, report
from .register import CREATED, UNCHANGED, Outcome, ensure_asset, format_table

PUBLISH_DIR = Path("pipelines/publish")
SCHEDULES_DIR = Path("pipelines/schedules")
UPDATED = "updated"


def _tagged(definition: dict[str, Any], version: str) -> dict[str, Any]:
    from .assets import CONTENT_TAG

    return {**definition, "tags": {**(definition.get("tags") or {}), CONTENT_TAG: version}}


def _current_tag(entity: Any) -> str | None:
    from .assets import CONTENT_TAG

    return (getattr(entity, "tags", None) or {}).get(CONTENT_TAG)


def _get_or_none(get: Callable[[], Any]) -> Any:
    from .register import is_not_found

    try:
        return get()
    except Exception as exc:
        if is_not_found(exc):
            return None
        raise


def default_deployment(endpoint: Any) -> str | None:
    """The endpoint's default deployment (defaults is a dict or a REST model)."""
    defaults = getattr(endpoint, "defaults", None)
    if isinstance(defaults, dict):
        return defaults.get("deployment_name") or defaults.get("deploymentName")
    return getattr(defaults, "deployment_name", None)


def _wait(poller: Any) -> Any:
    return poller.result() if hasattr(poller, "result") else poller


def publish_project(
    root: Path,
    ml_client: Any,
    echo: Callable[[str], None] = print,
    cpu_cluster: str | None = None,
    endpoint_name: str | None = None,
) -> list[Outcome]:
    from .assets import Asset, discover, load_entity, point_jobs_at_components, read_yaml
    from .register import register_project
    from .versions import content_version

    publish_dir = root / PUBLISH_DIR
    paths = {
        "component": publish_dir / "training-component.yml",
        "endpoint": publish_dir / "batch-endpoint.yml",
        "deployment": publish_dir / "training-deployment.yml",
    }
    for path in paths.values():
        if not path.is_file():
            raise ProjectError(f"{path.relative_to(root)} is missing: nothing to publish")
    # Read everything before the first write, so a mistake in a file changes nothing.
    assets = discover(root)
    components = [asset for asset in assets if asset.kind == "component"]
    pipeline_definition = point_jobs_at_components(
        read_yaml(paths["component"]), paths["component"], components
    )
    pipeline_version = content_version(pipeline_definition)
    pipeline = Asset(
        "component",
        pipeline_definition.get("name") or "training_pipeline",
        pipeline_version,
        paths["component"],
        {**pipeline_definition, "version": pipeline_version},
    )
    endpoint_definition = read_yaml(paths["endpoint"])
    endpoint_definition.pop("defaults", None)  # set below, once the deployment exists
    if endpoint_name:  # the environment's own name: batch endpoint names are unique per region
        endpoint_definition["name"] = endpoint_name
    endpoint_definition = _tagged(endpoint_definition, content_version(endpoint_definition))
    deployment_definition = read_yaml(paths["deployment"])
    deployment_definition["component"] = pipeline.reference
    deployment_definition["endpoint_name"] = endpoint_definition.get("name")
    deployment_settings = deployment_definition.get("settings") or {}
    if cpu_cluster and deployment_settings.get("default_compute"):
        # The cluster the last `provision` created, should infra/ name it differently.
        deployment_definition["settings"] = {**deployment_settings, "default_compute": cpu_cluster}
    deployment_definition = _tagged(deployment_definition, content_version(deployment_definition))
    schedules = []
    for path in sorted((root / SCHEDULES_DIR).glob("*.yml")):
        definition = read_yaml(path)
        job = definition.get("create_job")
        job_file = (
            path.parent / job if isinstance(job, str) and not job.startswith("azureml:") else None
        )
        extra = [asset.reference for asset in assets]
        folders = [job_file] if job_file and job_file.is_file() else []
        schedules.append((path, _tagged(definition, content_version(definition, folders, extra))))

    # Load (and so validate) every entity offline before the first write.
    pipeline_entity = pipeline.load()
    endpoint = load_entity("batch_endpoint", paths["endpoint"], endpoint_definition)
    deployment = load_entity("batch_deployment", paths["deployment"], deployment_definition)
    schedule_entities = [(load_entity("schedule", path, d), d) for path, d in schedules]

    outcomes = register_project(root, ml_client, echo=echo)
    outcomes.append(ensure_asset(ml_client, pipeline, loaded=pipeline_entity))
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
        _wait(ml_client.batch_endpoints.begin_create_or_update(current))
        outcomes.append(Outcome("default deployment", endpoint_name, deployment.name, UPDATED))

    for schedule, _ in schedule_entities:
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
    existing = _get_or_none(get)
    if existing is not None and _current_tag(existing) == wanted:
        return Outcome(kind, desired.name, wanted, UNCHANGED)
    status = CREATED if existing is None else UPDATED
    if before_write is not None:
        before_write(existing)
    echo(f"  {status}: {kind} {desired.name} ({wanted})")
    _wait(begin_create_or_update(desired))
    return Outcome(kind, desired.name, wanted, status)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", default="dev", help="environment (config/<env>.yml), default dev")


@report
def main(args: argparse.Namespace, ml_client: Any = None) -> int:
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
        )
    print(format_table(outcomes))
    return 0
