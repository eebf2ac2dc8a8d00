"""Azure ML's curated environments, as their published definitions say.

A job on ``azureml://registries/azureml/environments/sklearn-1.5/labels/latest``,
``.../versions/<n>`` or a workspace's copy ``azureml:AzureML-sklearn-1.5@latest`` (``:<n>``)
runs in Azure ML in a container built from that environment's definition in the public
repository Azure/azureml-assets. ``data/curated_environments.json`` is a pruned copy of
those definitions at one commit (``scripts/update_curated_environments.py`` regenerates
it; MIT licence in ``data/LICENSE-azureml-assets``): per environment its Python version, its
base image and the conda and pip installs of its Dockerfile in order. The local runner builds
a step's environment from it with uv, one install after the other, as the Dockerfile does.

The repository holds each environment's current definition, not every version Azure ML
published: a version pin is run on the definition at the data's commit (and says so).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data" / "curated_environments.json"
CURATED_REGISTRY = "azureml"  # the registry Azure ML publishes its curated environments in
WORKSPACE_PREFIX = "AzureML-"  # a workspace's copies of them are named AzureML-<name>
REGISTRY_ENVIRONMENT = re.compile(
    r"^azureml://registries/(?P<registry>[^/]+)/environments/(?P<name>[^/]+)"
    r"(?:/(?P<kind>versions|labels)/(?P<ref>[^/]+))?/?$"
)
# azure-ai-ml hands a component's `azureml:AzureML-x@latest` over without its `azureml:`
WORKSPACE_ENVIRONMENT = re.compile(
    r"^(?:azureml:(?!//))?(?P<name>[^:@/]+)(?:(?P<sep>[:@])(?P<ref>.+))?$"
)


@dataclass(frozen=True)
class Reference:
    """A reference to a curated environment: its name and version or label."""

    name: str
    version: str | None = None  # a version number, when pinned
    label: str | None = None


@functools.lru_cache(maxsize=1)
def data() -> dict[str, Any]:
    return json.loads(DATA.read_text(encoding="utf-8"))


def reference(environment: str) -> Reference | None:
    """The curated environment a component's ``environment:`` string names, or None when it
    names another environment (the workspace's own, another registry's)."""
    text = environment.strip()
    match = REGISTRY_ENVIRONMENT.match(text)
    if match:
        if match["registry"] != CURATED_REGISTRY:
            return None
        if match["kind"] == "versions":
            return Reference(match["name"], version=match["ref"])
        return Reference(match["name"], label=match["ref"] or "latest")
    match = WORKSPACE_ENVIRONMENT.match(text)
    if not match or not match["name"].lower().startswith(WORKSPACE_PREFIX.lower()):
        return None
    name = match["name"][len(WORKSPACE_PREFIX) :]
    if match["ref"] is None or match["sep"] == "@":
        return Reference(name, label=match["ref"] or "latest")
    return Reference(name, version=match["ref"])


def definition(ref: Reference) -> dict[str, Any] | None:
    """The published definition of a curated environment, None for a name Azure ML does
    not offer (any more)."""
    return data()["environments"].get(ref.name)


def successor(ref: Reference) -> str | None:
    """The curated environment a retired name became, if one does (``sklearn-1.0`` for
    ``sklearn-1.0-ubuntu20.04-py38-cpu``): named to the user, not used in its place."""
    names = [n for n in data()["environments"] if ref.name.lower().startswith(n.lower() + "-")]
    return max(names, key=len, default=None)


def commit() -> str:
    return str(data()["commit"])
