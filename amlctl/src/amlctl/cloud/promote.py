"""`promote`: what dev has tested, into the Azure ML registry prod takes it from.

One Azure ML registry (``registry`` of config/prod.yml) carries, at content versions:

- the project's environments and components, at the versions `register --env dev` gave
  them. Dev must have each one: promote copies what dev has, never something dev has not
  seen. The registry copies an environment from dev itself (``share``); a component is
  created in the registry from the same definition, its environment the registry's copy
  (the SDK offers no component ``share``, and the content version proves it is the same);
- a registered model version of dev (the latest, or ``--model-version``), copied by the
  registry from dev (``share``) under a version that is a hash of what the model is (its
  type and artifacts' path), so one model promoted twice is one registry version.

Every lookup comes before the first write, so a missing asset in dev or a misnamed model
changes nothing; what the registry has already is one lookup and no write, so promoting an
unchanged model writes nothing, and a run that failed half-way finishes when repeated.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..project import ProjectError, project_root
from .errors import describing, report
from .register import (
    CREATED,
    OPERATIONS,
    UNCHANGED,
    WOULD_CREATE,
    Outcome,
    format_table,
    get_or_none,
    wait,
)
from .registry import PROMOTER_ROLE, RegistryAccess, open_registry


@dataclass
class Copy:
    """One asset version to have in the registry, and how to copy it there."""

    kind: str
    name: str
    version: str
    present: bool  # the registry has it already
    write: Callable[[], Any]
    note: str = ""


def model_content_version(model: Any) -> str:
    """The registry version of a dev model: a hash of its name, type and artifacts' location
    (run artifacts are immutable, so the same location is the same model)."""
    from .versions import content_version

    return content_version(
        {"name": model.name, "type": str(getattr(model, "type", "")), "path": str(model.path)}
    )


def plan(
    root: Path,
    dev_client: Any,
    registry: RegistryAccess,
    model_name: str,
    model_version: str | None = None,
    source: str = "dev",
) -> list[Copy]:
    """Phase 1: what the ``source`` workspace has and what the registry lacks, looked up
    before any write."""
    from .assets import discover_components, discover_environments, registry_component
    from .deploy import latest_model_version

    environments = discover_environments(root)
    components = discover_components(root, environments)
    version = latest_model_version(dev_client, model_name, model_version)
    model = dev_client.models.get(name=model_name, version=version)
    missing = [
        f"{asset.kind} {asset.name}:{asset.version}"
        for asset in [*environments, *components]
        if get_or_none(
            lambda a=asset: getattr(dev_client, OPERATIONS[a.kind]).get(
                name=a.name, version=a.version
            )
        )
        is None
    ]
    if missing:
        raise ProjectError(
            f"not in the {source} workspace: {', '.join(missing)}; run `amlctl register --env "
            f"{source}` first (promote copies only what {source} has)"
        )

    def present(group: str, name: str, version: str) -> bool:
        operations = getattr(registry.client, group)
        return get_or_none(lambda: operations.get(name=name, version=version)) is not None

    copies: list[Copy] = []
    with registry.errors():
        for env in environments:
            copies.append(
                Copy(
                    "environment",
                    env.name,
                    env.version,
                    present("environments", env.name, env.version),
                    lambda env=env: dev_client.environments.share(
                        name=env.name,
                        version=env.version,
                        share_with_name=env.name,
                        share_with_version=env.version,
                        registry_name=registry.name,
                    ),
                )
            )
        for component in components:
            copied = registry_component(component, registry.name, environments)
            copies.append(
                Copy(
                    "component",
                    component.name,
                    component.version,
                    present("components", component.name, component.version),
                    lambda copied=copied: wait(
                        registry.client.components.create_or_update(copied.load())
                    ),
                )
            )
        content = model_content_version(model)
        copies.append(
            Copy(
                "model",
                model_name,
                content,
                present("models", model_name, content),
                lambda: dev_client.models.share(
                    name=model_name,
                    version=version,
                    share_with_name=model_name,
                    share_with_version=content,
                    registry_name=registry.name,
                ),
                note=f"{source} version {version}",
            )
        )
    return copies


def promote(
    root: Path,
    dev_client: Any,
    registry: RegistryAccess,
    model_name: str,
    model_version: str | None = None,
    dry_run: bool = False,
    echo: Callable[[str], None] = print,
    source: str = "dev",
) -> list[Outcome]:
    """Copy into the registry what it lacks: environments, then components, then the model."""
    copies = plan(root, dev_client, registry, model_name, model_version, source)
    outcomes = []
    with registry.errors():
        for copy in copies:
            status = UNCHANGED if copy.present else WOULD_CREATE if dry_run else CREATED
            if status == CREATED:
                copy.write()
            if status != UNCHANGED:
                note = f" ({copy.note})" if copy.note else ""
                echo(f"  {status}: {copy.kind} {copy.name}:{copy.version}{note} in {registry.name}")
            outcomes.append(Outcome(copy.kind, copy.name, copy.version, status))
    return outcomes


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        default=None,
        help="registered model to promote (default: the training pipeline's model_name)",
    )
    parser.add_argument(
        "--model-version",
        default=None,
        help="its version in the source workspace (default: the latest)",
    )
    parser.add_argument(
        "--from",
        dest="source",
        default="dev",
        help="environment whose workspace the assets come from (config/<env>.yml), default dev",
    )
    parser.add_argument(
        "--to",
        dest="target",
        default="prod",
        help="environment whose `registry` setting names the registry, default prod",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="look up what the registry lacks; copy nothing"
    )


@report
def main(args: argparse.Namespace, ml_client: Any = None, registry_client: Any = None) -> int:
    from . import clients
    from .assets import default_model_name
    from .config import load_settings, registry_setting

    if args.target == args.source:
        raise ProjectError(f"--from and --to are both {args.source!r}: promote between two")
    root = project_root()
    settings = load_settings(args.source, root)
    registry, source = registry_setting(args.target, root)
    if not registry:
        raise ProjectError(
            f"environment {args.target!r} names no Azure ML registry (setting registry in "
            f"config/{args.target}.yml, or AZUREML_REGISTRY_NAME): nothing to promote into"
        )
    model_name = args.model or default_model_name(root)
    with describing(settings):
        dev_client = ml_client or clients.ml_client(settings)
        access = open_registry(registry, source, PROMOTER_ROLE, client=registry_client)
        outcomes = promote(
            root,
            dev_client,
            access,
            model_name,
            args.model_version,
            dry_run=args.dry_run,
            source=args.source,
        )
    print(format_table(outcomes))
    return 0
