"""Settings of one deployment environment: config/<env>.yml, overridden by environment variables.

Every value is checked before any call to Azure, and an error names the setting and where
its value came from, so a wrong value is fixed in the right place.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..project import ProjectError, layout

PLACEHOLDER_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
RESOURCE_GROUP = re.compile(r"^[-\w._()]{1,90}$")
WORKSPACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,32}$")
LOCATION = re.compile(r"^[a-z0-9]+$")
BATCH_ENDPOINT = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,30}[A-Za-z0-9]$")
ML_REGISTRY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,32}$")

# setting -> environment variable that overrides it
OVERRIDES = {
    "subscription_id": "AZURE_SUBSCRIPTION_ID",
    "resource_group": "AZURE_RESOURCE_GROUP",
    "workspace_name": "AZUREML_WORKSPACE_NAME",
    "location": "AZURE_LOCATION",
    "batch_endpoint": "AZUREML_BATCH_ENDPOINT",
    "registry": "AZUREML_REGISTRY_NAME",
}
# Settings an environment may leave out. `registry`: the Azure ML registry the environment
# takes its model, components and environments from (promoted into it from dev); without
# one, the environment registers its own.
OPTIONAL = ("registry",)
# every setting a config/<env>.yml may hold: a misspelt one is an error, never ignored
KNOWN = (*OVERRIDES, "online_endpoint", "online_instance_type", "online_instance_count")


@dataclass(frozen=True)
class Settings:
    env: str
    subscription_id: str
    resource_group: str
    workspace_name: str
    location: str
    batch_endpoint: str
    root: Path
    registry: str = ""  # the Azure ML registry this environment reads from ("" for none)
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    # Outputs of the last `provision` of this environment (.azure/<env>/outputs.json), if any.
    outputs: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def cpu_cluster(self) -> str | None:
        """The CPU cluster `provision` created; None before the first provision."""
        return self.outputs.get("cpuClusterName") or None

    @property
    def outputs_file(self) -> Path:
        """Where `provision` saves the deployment outputs for the other commands."""
        return self.root / ".azure" / self.env / "outputs.json"

    @property
    def workspace_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace_name}"
        )

    def studio_url(self, job_name: str) -> str:
        return f"https://ml.azure.com/runs/{job_name}?wsid={self.workspace_id}"


def available_envs(root: Path) -> list[str]:
    return sorted(path.stem for path in layout(root).config.glob("*.yml"))


def _read_values(
    env: str, root: Path, environ: dict[str, str] | None
) -> tuple[dict[str, str], dict[str, str]]:
    """Every setting of config/<env>.yml with its overrides applied, and where each came from."""

    environ = dict(os.environ if environ is None else environ)
    path = layout(root).config / f"{env}.yml"
    if not path.is_file():
        known = ", ".join(available_envs(root)) or "none"
        raise ProjectError(
            f"unknown environment {env!r}: {path.relative_to(root)} does not exist "
            f"(environments with a config file: {known})"
        )
    data = read_config(path, root)
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for name, variable in OVERRIDES.items():
        if environ.get(variable, "").strip():
            values[name] = environ[variable].strip()
            sources[name] = f"environment variable {variable}"
        else:
            raw = data.get(name)
            values[name] = "" if raw is None else str(raw).strip()
            sources[name] = f"{path.relative_to(root)} ({name})"
    return values, sources


def read_config(path: Path, root: Path) -> dict[str, Any]:
    """config/<env>.yml as a mapping of known settings; one line naming what is wrong."""
    import difflib

    import yaml

    where = path.relative_to(root)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProjectError(
            f"{where} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
            f"{exc.start}); save it as UTF-8"
        ) from None
    except OSError as exc:
        raise ProjectError(f"{where} cannot be read: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        first = " ".join(str(exc).split())
        raise ProjectError(f"{where} is not valid YAML: {first}") from None
    except RecursionError:
        raise ProjectError(
            f"{where} nests too deeply to be settings (a flat mapping of name: value)"
        ) from None
    if not isinstance(data, dict):
        raise ProjectError(f"{where} must be a mapping of settings (name: value)")
    for key in data:
        if key not in KNOWN:
            close = difflib.get_close_matches(str(key), KNOWN, n=1)
            hint = f" (did you mean {close[0]}?)" if close else f" (settings: {', '.join(KNOWN)})"
            raise ProjectError(f"{where}: unknown setting {key!r}{hint}")
    return data


def _bad(values: dict[str, str], sources: dict[str, str], name: str, problem: str) -> ProjectError:
    return ProjectError(
        f"setting {name} = {values[name]!r} from {sources[name]} {problem}; "
        f"fix it there or set {OVERRIDES[name]}"
    )


def _checked_registry(values: dict[str, str], sources: dict[str, str]) -> str:
    if values["registry"] and not ML_REGISTRY.match(values["registry"]):
        raise _bad(
            values,
            sources,
            "registry",
            "is not an Azure ML registry name (3-33 letters, digits, - or _)",
        )
    return values["registry"]


def registry_setting(
    env: str, root: Path, environ: dict[str, str] | None = None
) -> tuple[str, str]:
    """The Azure ML registry of one environment ("" for none) and where the name came from,
    without the environment's other settings (promote needs only prod's registry)."""
    values, sources = _read_values(env, root, environ)
    return _checked_registry(values, sources), sources["registry"]


def load_settings(env: str, root: Path, environ: dict[str, str] | None = None) -> Settings:
    """Read config/<env>.yml, apply the environment variable overrides, validate every value."""
    values, sources = _read_values(env, root, environ)

    def bad(name: str, problem: str) -> ProjectError:
        return _bad(values, sources, name, problem)

    for name in OVERRIDES:
        if not values[name] and name not in OPTIONAL:
            raise bad(name, "is missing")
    if values["subscription_id"] == PLACEHOLDER_SUBSCRIPTION:
        raise bad("subscription_id", "is still the placeholder (put your subscription id)")
    if not GUID.match(values["subscription_id"]):
        raise bad("subscription_id", "is not a subscription id (a GUID like 1234abcd-...)")
    if not RESOURCE_GROUP.match(values["resource_group"]) or values["resource_group"].endswith("."):
        raise bad("resource_group", "is not a valid resource group name")
    if not WORKSPACE.match(values["workspace_name"]):
        raise bad("workspace_name", "is not a valid workspace name (3-33 letters, digits, - or _)")
    if not LOCATION.match(values["location"]):
        raise bad("location", "is not an Azure region name such as westeurope")
    if not BATCH_ENDPOINT.match(values["batch_endpoint"]):
        raise bad("batch_endpoint", "is not a batch endpoint name (3-32 letters, digits, -)")
    _checked_registry(values, sources)
    outputs = read_outputs(root / ".azure" / env / "outputs.json", root)
    provisioned = outputs.get("workspaceName")
    if provisioned and provisioned != values["workspace_name"]:
        print(
            f"warning: `provision --env {env}` created workspace {provisioned!r}, but "
            f"workspace_name is {values['workspace_name']!r} (from {sources['workspace_name']})",
            file=sys.stderr,
        )
    return Settings(env=env, root=root, sources=sources, outputs=outputs, **values)


def read_outputs(path: Path, root: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ProjectError(
            f"{path.relative_to(root)} is not valid JSON ({exc}); delete it or run provision again"
        ) from exc
    return data if isinstance(data, dict) else {}
