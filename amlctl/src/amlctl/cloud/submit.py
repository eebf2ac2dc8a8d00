"""`submit PIPELINE`: run a pipeline job in the workspace and follow it.

The job's steps use the registered content versions of the project's components (registering
what is missing first, a no-op when nothing changed); in an environment that reads from an
Azure ML registry (prod), the versions promoted into it, and the project's model at the
registry's latest version where the pipeline asks for the latest. The job is tagged with the
git commit and the CI run, the studio URL is printed, and with --wait the exit code is the
job's outcome.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from ..overrides import add_set_option, parse_overrides
from ..project import ProjectError, layout, project_root
from .errors import describing, report
from .registry import RegistryAccess, environment_registry

TERMINAL = {"Completed": 0, "Failed": 1, "Canceled": 1, "NotResponding": 1}
POLL_SECONDS = 15.0


def pipeline_file(root: Path, pipeline: str) -> Path:
    """The pipeline file (YAML, or Python as FILE.py[:NAME]) a name or path stands for."""
    from ..pipeline.source import parse

    candidates = [
        Path.cwd() / pipeline,
        root / pipeline,
        layout(root).pipelines / pipeline,
        layout(root).pipelines / f"{pipeline}.yml",
    ]
    for path in candidates:
        if parse(path).path.is_file():
            return path
    folder = layout(root).pipelines
    names = [path.stem for path in folder.glob("*.yml")]
    names += [path.name for path in folder.glob("*.py")]  # Python pipelines by file name
    known = ", ".join(sorted(names))
    raise ProjectError(f"no pipeline {pipeline!r} in pipelines/ (pipelines: {known or 'none'})")


def build_job(
    root: Path,
    path: Path,
    set_pairs: list[str],
    experiment: str | None,
    cpu_cluster: str | None = None,
    registry: str = "",
) -> Any:
    from ..pipeline.source import pipeline_definition, sdk_origin
    from ..source import run_tags
    from .assets import discover, point_inputs_at_data, point_jobs_at_components

    assets = discover(root)
    components = [asset for asset in assets if asset.kind == "component"]
    raw, path = pipeline_definition(path)  # a Python pipeline is built into its definition
    definition = point_jobs_at_components(raw, path, components, registry)
    definition = point_inputs_at_data(definition, path, [a for a in assets if a.kind == "data"])
    if registry:
        definition = point_inputs_at_promoted_model(definition, root, registry)
    inputs = dict(definition.get("inputs") or {})
    overrides = parse_overrides(set_pairs, inputs, str(path.relative_to(root)))
    for name, value in overrides.items():
        current = inputs[name]
        if isinstance(current, dict) and ("path" in current or "type" in current):
            inputs[name] = (
                {**current, "path": value} if "path" in current else {**current, "default": value}
            )
        else:
            inputs[name] = value
    definition["inputs"] = inputs
    job_settings = definition.get("settings") or {}
    if cpu_cluster and job_settings.get("default_compute"):
        # The cluster the last `provision` created, should infra/ name it differently.
        definition["settings"] = {**job_settings, "default_compute": f"azureml:{cpu_cluster}"}
    definition["experiment_name"] = experiment or definition.get("experiment_name") or path.stem
    definition["tags"] = {**(definition.get("tags") or {}), **run_tags(root)}
    return load_job_entity(path, definition, sdk_origin(path))


def point_inputs_at_promoted_model(
    definition: dict[str, Any], root: Path, registry: str
) -> dict[str, Any]:
    """Inputs that ask for the latest version of the project's model (`azureml:<model>@latest`)
    get the latest version promoted into the registry: prod scores with what was promoted."""
    from .assets import default_model_name

    try:
        model = default_model_name(root)
    except ProjectError:
        return definition  # no model of the project's own to point at
    wanted = f"azureml:{model}@latest"
    inputs = {}
    for name, spec in (definition.get("inputs") or {}).items():
        if isinstance(spec, dict) and spec.get("path") == wanted:
            spec = {**spec, "path": f"azureml://registries/{registry}/models/{model}/labels/latest"}
        inputs[name] = spec
    return {**definition, "inputs": inputs}


def load_job_entity(path: Path, definition: dict[str, Any], origin: Path | None = None) -> Any:
    import io

    import yaml
    from azure.ai.ml import load_job

    from ..project import quiet_azure_ml

    quiet_azure_ml()
    try:
        text = io.StringIO(yaml.safe_dump(definition))
        return load_job(source=text, relative_origin=str(origin or path))
    except Exception as exc:
        if type(exc).__module__.startswith(("azure.", "marshmallow")):
            raise ProjectError(f"{path}: {exc}") from exc
        raise


def follow(ml_client: Any, name: str, poll_seconds: float | None = None) -> str:
    """Poll the job until it ends, printing each status change; return the final status."""
    poll_seconds = POLL_SECONDS if poll_seconds is None else poll_seconds
    last = None
    while True:
        job = ml_client.jobs.get(name)
        status = str(job.status)
        if status != last:
            print(f"  {time.strftime('%H:%M:%S')} {name}: {status}", flush=True)
            last = status
        if status in TERMINAL:
            return status
        time.sleep(poll_seconds)


def submit(
    root: Path,
    settings: Any,
    ml_client: Any,
    pipeline: str,
    set_pairs: list[str],
    wait: bool,
    experiment: str | None = None,
    poll_seconds: float | None = None,
    registry: RegistryAccess | None = None,
) -> int:
    from .register import register_project

    path = pipeline_file(root, pipeline)
    # checks the files and the --set values before any write
    job = build_job(
        root, path, set_pairs, experiment, settings.cpu_cluster, registry.name if registry else ""
    )
    register_project(root, ml_client, registry=registry)
    created = ml_client.jobs.create_or_update(job, experiment_name=job.experiment_name)
    print(f"submitted {created.name} (experiment {job.experiment_name})")
    url = getattr(created, "studio_url", None) or settings.studio_url(created.name)
    print(f"studio: {url}")
    if not wait:
        return 0
    status = follow(ml_client, created.name, poll_seconds)
    if TERMINAL[status] != 0:
        print(f"error: job {created.name} ended {status}: {url}", file=sys.stderr)
    return TERMINAL[status]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pipeline", help="pipeline name in pipelines/ (e.g. training) or a path")
    parser.add_argument("--env", default="dev", help="environment (config/<env>.yml), default dev")
    add_set_option(parser, "override a pipeline input (repeatable)")
    parser.add_argument("--wait", action="store_true", help="follow the job; exit with its outcome")
    parser.add_argument("--experiment", help="experiment name (default: the pipeline's)")


@report
def main(args: argparse.Namespace, ml_client: Any = None, registry_client: Any = None) -> int:
    from . import clients
    from .config import load_settings

    root = project_root()
    settings = load_settings(args.env, root)
    with describing(settings):
        ml_client = ml_client or clients.ml_client(settings)
        return submit(
            root,
            settings,
            ml_client,
            args.pipeline,
            args.overrides,
            args.wait,
            args.experiment,
            registry=environment_registry(settings, registry_client),
        )
