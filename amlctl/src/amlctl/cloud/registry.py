"""The Azure ML registry: `promote` writes dev's assets into it, prod reads them from it.

An environment whose config names a ``registry`` (prod) takes its environments, components and
model from the registry instead of registering its own; the commands reach it through one
``RegistryAccess``, which knows where its name came from and which role the command needs,
so that a missing registry or a refused call is one line saying what to fix.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

# The roles infra/modules/ml-registry.bicep (and the bootstrap) give, named when Azure refuses.
PROMOTER_ROLE = "AzureML Registry User"
READER_ROLE = "Reader (or AzureML Registry User)"


@dataclass(frozen=True)
class RegistryAccess:
    name: str
    source: str  # where the name came from, e.g. "config/prod.yml (registry)"
    role: str  # what the command needs on the registry
    client: Any  # an MLClient for the registry

    def errors(self) -> contextlib.AbstractContextManager[None]:
        from .errors import describing_registry

        return describing_registry(self.name, self.source, self.role)

    def reference(self, kind: str, name: str, version: str) -> str:
        from .assets import registry_reference

        return registry_reference(self.name, kind, name, version)


def open_registry(
    name: str, source: str, role: str = READER_ROLE, client: Any = None
) -> RegistryAccess:
    """The registry, its client built (the SDK's discovery call names a missing registry)."""
    from . import clients
    from .errors import describing_registry

    if client is None:
        with describing_registry(name, source, role):
            client = clients.registry_client(name)
    return RegistryAccess(name, source, role, client)


def environment_registry(settings: Any, client: Any = None) -> RegistryAccess | None:
    """The registry the environment reads from (``registry`` in its config), or None."""
    if not settings.registry:
        return None
    return open_registry(settings.registry, settings.sources.get("registry", ""), client=client)
