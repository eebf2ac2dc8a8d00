"""`provision --env ENV [--what-if]`: deploy infra/main.bicep into the environment's resource group.

Compiles the Bicep with `bicep build` (or `az bicep build`), creates or updates the resource
group (what-if only reads it: it runs as a read-only identity), then shows a what-if table or
runs the deployment with the parameters of infra/params/<env>.parameters.json, printing each
resource operation as it progresses, and saves the deployment outputs to
.azure/<env>/outputs.json for the other commands.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..project import ProjectError, layout, project_root
from .errors import AzureFailure, describing, format_error_tree, report

POLL_SECONDS = 10.0
GUID = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
CHANGE_ORDER = ["Create", "Modify", "Delete", "Deploy", "NoChange", "Ignore", "Unsupported"]


def wire(value: Any) -> Any:
    """SDK models (mappings of their JSON) as plain JSON data with the service's key names."""
    if isinstance(value, Mapping):
        return {key: wire(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [wire(item) for item in value]
    return value


def bicep_command(main_bicep: Path) -> list[str]:
    bicep = shutil.which("bicep")
    if bicep:
        return [bicep, "build", str(main_bicep), "--stdout"]
    az = shutil.which("az")
    if az:
        return [az, "bicep", "build", "--file", str(main_bicep), "--stdout"]
    raise ProjectError(
        "cannot compile infra/main.bicep: neither `bicep` nor `az` is on PATH. Install the Bicep "
        "CLI (https://aka.ms/bicep-install) or the Azure CLI and run `az bicep install`."
    )


def compile_bicep(root: Path) -> dict[str, Any]:
    main_bicep = layout(root).infra / "main.bicep"
    if not main_bicep.is_file():
        raise ProjectError(f"{main_bicep.relative_to(root)} is missing")
    command = bicep_command(main_bicep)
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=root)
    if result.returncode != 0:
        raise ProjectError(f"`{' '.join(command[:3])}` failed:\n{result.stderr.strip()}")
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise ProjectError(f"the Bicep compiler did not print an ARM template: {exc}") from exc


def read_parameters(root: Path, env: str) -> dict[str, Any]:
    path = layout(root).infra / "params" / f"{env}.parameters.json"
    if not path.is_file():
        raise ProjectError(f"{path.relative_to(root)} is missing (parameters of env {env!r})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ProjectError(f"{path.relative_to(root)} is not valid JSON: {exc}") from exc
    parameters = data.get("parameters") if isinstance(data, dict) else None
    if not isinstance(parameters, dict):
        raise ProjectError(f"{path.relative_to(root)} needs a `parameters` object")
    return parameters


def check_registry_promoter(parameters: dict[str, Any], where: str) -> str | None:
    """What to say of promotion's source before deploying it (prod's id is pasted by hand).

    With deployPromotionSource (dev), prod's CI identity is granted read on this workspace.
    Empty: nobody may promote from it yet (a warning). Not an object id: the role
    assignment would fail late in the deployment (an error, now).
    """

    def value(name: str) -> Any:
        entry = parameters.get(name)
        return entry.get("value") if isinstance(entry, dict) else None

    if value("deployPromotionSource") is not True:
        return None
    promoter = value("promoterPrincipalId")
    if promoter in (None, ""):
        return (
            f"warning: {where}: promoterPrincipalId is empty, so prod's CI identity may not "
            "read this workspace yet and promote.yml cannot copy from it; put prod's "
            "AZURE_PRINCIPAL_ID there (infra/README.md)"
        )
    if not isinstance(promoter, str) or not GUID.fullmatch(promoter):
        raise ProjectError(
            f"{where}: promoterPrincipalId must be an object id "
            f"(00000000-0000-0000-0000-000000000000), not {promoter!r}: prod's "
            "AZURE_PRINCIPAL_ID, printed by its bootstrap"
        )
    return None


def ensure_resource_group(rm_client: Any, settings: Any) -> str:
    group = rm_client.resource_groups.create_or_update(
        settings.resource_group, {"location": settings.location}
    )
    return str(wire(group).get("properties", {}).get("provisioningState", "Succeeded"))


def read_resource_group(rm_client: Any, settings: Any) -> str:
    """What-if runs as a read-only identity: it reads the group and creates nothing."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        group = rm_client.resource_groups.get(settings.resource_group)
    except ResourceNotFoundError as exc:
        raise ProjectError(
            f"resource group {settings.resource_group} does not exist; what-if only reads. "
            f"Create it (`provision --env {settings.env}` or `az group create`) first."
        ) from exc
    return str(wire(group).get("properties", {}).get("provisioningState", "Succeeded"))


def _split_resource_id(resource_id: str) -> tuple[str, str]:
    """`.../providers/Microsoft.X/a/n1/b/n2` -> (`Microsoft.X/a/b`, `n1/n2`)."""
    _, _, tail = resource_id.rpartition("/providers/")
    parts = tail.split("/")
    if len(parts) < 3:
        return "", resource_id
    types, names = [parts[0], parts[1]], [parts[2]]
    for index in range(3, len(parts) - 1, 2):
        types.append(parts[index])
        names.append(parts[index + 1])
    return "/".join(types), "/".join(names)


def format_what_if(result: Any) -> str:
    data = wire(result)
    changes = data.get("changes") or data.get("properties", {}).get("changes") or []
    rows = [("CHANGE", "RESOURCE TYPE", "NAME", "PROPERTIES")]
    counts: dict[str, int] = {}
    ordered = sorted(
        changes,
        key=lambda c: (
            CHANGE_ORDER.index(c.get("changeType"))
            if c.get("changeType") in CHANGE_ORDER
            else len(CHANGE_ORDER)
        ),
    )
    for change in ordered:
        kind = str(change.get("changeType", "Unknown"))
        counts[kind] = counts.get(kind, 0) + 1
        resource_type, name = _split_resource_id(str(change.get("resourceId", "")))
        delta = ", ".join(
            str(item.get("path")) for item in change.get("delta") or [] if item.get("path")
        )
        rows.append((kind.lower(), resource_type, name, delta))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    summary = (
        f"{counts.get('Create', 0)} to create, {counts.get('Modify', 0)} to modify, "
        f"{counts.get('Delete', 0)} to delete, {counts.get('NoChange', 0)} unchanged"
    )
    if counts.get("Ignore"):
        summary += f", {counts['Ignore']} ignored"
    return "\n".join([*lines, summary])


def deployment_body(template: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    return {"properties": {"mode": "Incremental", "template": template, "parameters": parameters}}


def what_if(dep_client: Any, settings: Any, name: str, body: dict[str, Any]) -> str:
    what_if_body = {
        "properties": {
            **body["properties"],
            "whatIfSettings": {"resultFormat": "FullResourcePayloads"},
            # check read rights, not write rights: pull requests run what-if as an identity
            # that can read and run what-if but never write
            "validationLevel": "ProviderNoRbac",
        }
    }
    poller = dep_client.deployments.begin_what_if(settings.resource_group, name, what_if_body)
    result = wire(poller.result())
    if result.get("error"):
        raise AzureFailure("what-if failed:\n" + "\n".join(format_error_tree(result["error"])))
    return format_what_if(result)


def _operation_lines(dep_client: Any, settings: Any, name: str) -> list[tuple[str, str]]:
    found = []
    for operation in dep_client.deployment_operations.list(settings.resource_group, name):
        data = wire(operation)
        properties = data.get("properties") or {}
        target = properties.get("targetResource") or {}
        if not target:
            continue
        resource = f"{target.get('resourceType', '?')}/{target.get('resourceName', '?')}"
        found.append((resource, str(properties.get("provisioningState", ""))))
    return found


def _failure_details(dep_client: Any, settings: Any, name: str) -> list[str]:
    """The deployment's error and each failed operation's error, recursively."""
    lines: list[str] = []
    try:
        deployment = wire(dep_client.deployments.get(settings.resource_group, name))
        lines += format_error_tree((deployment.get("properties") or {}).get("error"))
        for operation in dep_client.deployment_operations.list(settings.resource_group, name):
            properties = wire(operation).get("properties") or {}
            if properties.get("provisioningState") != "Failed":
                continue
            target = properties.get("targetResource") or {}
            status = properties.get("statusMessage") or {}
            error = status.get("error") if isinstance(status, dict) else None
            lines.append(f"{target.get('resourceType', '?')}/{target.get('resourceName', '?')}:")
            lines += ["  " + line for line in format_error_tree(error or status)]
    except Exception as exc:  # the details are a bonus: keep the original failure
        lines.append(f"(could not read the deployment's error details: {exc})")
    return lines


def deploy(
    dep_client: Any,
    settings: Any,
    name: str,
    body: dict[str, Any],
    echo: Callable[[str], None] = print,
    poll_seconds: float = POLL_SECONDS,
) -> dict[str, Any]:
    """Run the deployment, echoing resource operations as they change; return its outputs."""
    from azure.core.exceptions import HttpResponseError

    poller = dep_client.deployments.begin_create_or_update(settings.resource_group, name, body)
    seen: dict[str, str] = {}

    def progress() -> None:
        try:
            operations = _operation_lines(dep_client, settings, name)
        except HttpResponseError:
            return  # operations are listed once the deployment has started
        for resource, state in operations:
            if seen.get(resource) != state:
                seen[resource] = state
                echo(f"  {state:<10} {resource}")

    try:
        while not poller.done():
            progress()
            poller.wait(poll_seconds)
        result = wire(poller.result())
    except HttpResponseError as exc:
        details = _failure_details(dep_client, settings, name) or format_error_tree(
            getattr(exc, "error", None)
        )
        raise AzureFailure(
            f"deployment {name} to resource group {settings.resource_group} failed:\n"
            + "\n".join(details or [str(exc)])
        ) from exc
    progress()
    properties = result.get("properties") or {}
    if properties.get("provisioningState") not in (None, "Succeeded"):
        details = _failure_details(dep_client, settings, name)
        raise AzureFailure(
            f"deployment {name} ended {properties['provisioningState']}:\n" + "\n".join(details)
        )
    outputs = properties.get("outputs") or {}
    return {
        key: value.get("value") if isinstance(value, dict) else value
        for key, value in outputs.items()
    }


def save_outputs(settings: Any, outputs: dict[str, Any]) -> Path:
    path = settings.outputs_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(outputs, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def provision(
    root: Path,
    settings: Any,
    rm_client: Any,
    dep_client: Any,
    what_if_only: bool,
    poll_seconds: float = POLL_SECONDS,
) -> int:
    template = compile_bicep(root)  # local checks first: nothing is created if they fail
    parameters = read_parameters(root, settings.env)
    where = layout(root).infra / "params" / f"{settings.env}.parameters.json"
    warning = check_registry_promoter(parameters, str(where.relative_to(root)))
    if warning:
        print(warning, file=sys.stderr)
    name = f"main-{settings.env}-{datetime.now(UTC):%Y%m%d%H%M%S}"
    body = deployment_body(template, parameters)
    if what_if_only:
        state = read_resource_group(rm_client, settings)
    else:
        state = ensure_resource_group(rm_client, settings)
    print(f"resource group {settings.resource_group} ({settings.location}): {state}")
    if what_if_only:
        print(f"what-if of {name}:")
        print(what_if(dep_client, settings, name, body))
        return 0
    print(f"deploying {name} to {settings.resource_group}...")
    started = time.monotonic()
    outputs = deploy(dep_client, settings, name, body, poll_seconds=poll_seconds)
    path = save_outputs(settings, outputs)
    print(f"deployment {name} succeeded in {time.monotonic() - started:.0f}s")
    for key, value in sorted(outputs.items()):
        print(f"  {key} = {value}")
    print(f"outputs saved to {path.relative_to(root)}")
    return 0


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True, help="environment to provision (config/<env>.yml)")
    parser.add_argument(
        "--what-if", action="store_true", help="show what would change; deploy nothing"
    )


@report
def main(args: argparse.Namespace, rm_client: Any = None, dep_client: Any = None) -> int:
    from . import clients
    from .config import load_settings

    root = project_root()
    settings = load_settings(args.env, root)
    with describing(settings):
        if rm_client is None or dep_client is None:
            cred = clients.credential()
            rm_client = rm_client or clients.resource_client(settings, cred)
            dep_client = dep_client or clients.deployments_client(settings, cred)
        return provision(root, settings, rm_client, dep_client, args.what_if)
