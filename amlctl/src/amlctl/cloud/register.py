"""`register`: environments, data assets and components, each at its content version.

A version that already exists is left alone (one lookup, no write); a missing one is created.
Environments come first, since components refer to their environment's content version, so a
run that failed half-way finishes the rest when repeated.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..project import ProjectError, project_root
from .errors import describing, report
from .registry import RegistryAccess, environment_registry

CREATED, UNCHANGED, WOULD_CREATE = "created", "unchanged", "would create"
IN_REGISTRY = "in registry"
OPERATIONS = {"environment": "environments", "data": "data", "component": "components"}


@dataclass
class Outcome:
    kind: str
    name: str
    version: str
    status: str


def is_not_found(exc: Exception) -> bool:
    from azure.core.exceptions import ResourceNotFoundError

    if isinstance(exc, ResourceNotFoundError) or getattr(exc, "status_code", None) == 404:
        return True
    # The SDK wraps some lookups in its own exception that keeps the 404 inside.
    inner = getattr(exc, "inner_exception", None) or exc.__cause__
    return inner is not None and inner is not exc and is_not_found(inner)


def get_or_none(get: Callable[[], Any]) -> Any:
    """What ``get()`` returns, or None when the workspace answers 404."""
    try:
        return get()
    except Exception as exc:
        if is_not_found(exc):
            return None
        raise


def wait(poller: Any) -> Any:
    """The result of a long-running operation (the fakes return the entity itself)."""
    return poller.result() if hasattr(poller, "result") else poller


def exists(get: Callable[[], Any]) -> bool:
    try:
        get()
    except Exception as exc:
        if is_not_found(exc):
            return False
        raise
    return True


def ensure_asset(ml_client: Any, asset: Any, dry_run: bool = False, loaded: Any = None) -> Outcome:
    """Create the asset's content version unless the workspace has it already."""
    operations = getattr(ml_client, OPERATIONS[asset.kind])
    if exists(lambda: operations.get(name=asset.name, version=asset.version)):
        return Outcome(asset.kind, asset.name, asset.version, UNCHANGED)
    if dry_run:
        return Outcome(asset.kind, asset.name, asset.version, WOULD_CREATE)
    operations.create_or_update(loaded if loaded is not None else asset.load())
    return Outcome(asset.kind, asset.name, asset.version, CREATED)


def in_registry(registry: RegistryAccess, asset: Any) -> Outcome:
    """An environment or component the registry must hold (promoted from dev), or why not."""
    operations = getattr(registry.client, OPERATIONS[asset.kind])
    with registry.errors():
        found = get_or_none(lambda: operations.get(name=asset.name, version=asset.version))
    if found is None:
        raise ProjectError(
            f"{asset.kind} {asset.name}:{asset.version} is not in Azure ML registry "
            f"{registry.name!r}: promote it from dev first (`amlctl promote`, or the promote "
            "workflow)"
        )
    return Outcome(asset.kind, asset.name, asset.version, IN_REGISTRY)


def register_project(
    root: Path,
    ml_client: Any,
    dry_run: bool = False,
    echo: Callable[[str], None] = print,
    registry: RegistryAccess | None = None,
) -> list[Outcome]:
    """Each asset at its content version. With a ``registry`` the environment takes its
    environments and components from it (promoted there from dev): they are looked up there,
    never registered in the workspace; data assets are the workspace's own either way."""
    from .assets import discover

    outcomes = []
    for asset in discover(root):
        if registry is not None and asset.kind != "data":
            outcome = in_registry(registry, asset)
        else:
            outcome = ensure_asset(ml_client, asset, dry_run)
        if outcome.status not in (UNCHANGED, IN_REGISTRY):
            echo(f"  {outcome.status}: {asset.kind} {asset.name}:{asset.version}")
        outcomes.append(outcome)
    return outcomes


def format_table(outcomes: list[Any]) -> str:
    rows = [("KIND", "NAME", "VERSION", "STATUS")]
    rows += [(o.kind, o.name, o.version, o.status) for o in outcomes]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    summary = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    return "\n".join([*(line.rstrip() for line in lines), summary or "nothing to register"])


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", default="dev", help="environment (config/<env>.yml), default dev")
    parser.add_argument(
        "--dry-run", action="store_true", help="look up what exists; create nothing"
    )


@report
def main(args: argparse.Namespace, ml_client: Any = None, registry_client: Any = None) -> int:
    from . import clients
    from .config import load_settings

    root = project_root()
    settings = load_settings(args.env, root)
    with describing(settings):
        ml_client = ml_client or clients.ml_client(settings)
        registry = environment_registry(settings, registry_client)
        outcomes = register_project(root, ml_client, dry_run=args.dry_run, registry=registry)
    print(format_table(outcomes))
    return 0
