"""Turn Azure failures into messages that say what to fix, and exit codes."""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..project import ProjectError

AUTHORIZATION = re.compile(
    r"client '(?P<client>[^']*)' with object id '(?P<object_id>[^']*)'"
    r".*?authorization to perform action '(?P<action>[^']*)'"
    r"(?:\s+over scope '(?P<scope>[^']*)')?",
    re.IGNORECASE | re.DOTALL,
)
ACTION = re.compile(r"(?:action|permission)s?\s+(?:for\s+)?'?(?P<action>Microsoft\.[\w./-]+)", re.I)


def error_tree(error: Any) -> dict[str, Any]:
    """An ARM/Azure ML error (model, ODataV4Format or dict) as a plain dict."""
    if error is None:
        return {}
    if isinstance(error, Mapping):
        return dict(error)
    if hasattr(error, "as_dict"):
        return error.as_dict()
    tree = {
        "code": getattr(error, "code", None),
        "message": getattr(error, "message", None),
        "target": getattr(error, "target", None),
    }
    tree["details"] = [error_tree(detail) for detail in getattr(error, "details", None) or []]
    return tree


def format_error_tree(error: Any, indent: int = 0) -> list[str]:
    """Lines of an error and its details, recursively (ARM nests the real cause)."""
    tree = error_tree(error)
    if "error" in tree and "code" not in tree:
        tree = error_tree(tree["error"])
    lines = []
    code, message = tree.get("code"), tree.get("message")
    if code or message:
        target = f" (target: {tree['target']})" if tree.get("target") else ""
        lines.append(f"{'  ' * indent}{code or 'Error'}: {message or ''}{target}".rstrip())
    for detail in tree.get("details") or []:
        lines.extend(format_error_tree(detail, indent + 1))
    return lines


def _error_of(exc: Any) -> dict[str, Any]:
    tree = error_tree(getattr(exc, "error", None))
    if not tree.get("code"):
        response = getattr(exc, "response", None)
        try:
            body = response.json() if response is not None else None
        except Exception:  # a body that is not JSON: keep the exception's message
            body = None
        if isinstance(body, Mapping):
            tree = error_tree(body.get("error", body))
    return tree


def describe_azure_error(exc: Exception, settings: Any = None) -> str:
    """A message naming what failed: identity and action, missing resource, ARM details."""
    tree = _error_of(exc)
    code = str(tree.get("code") or "")
    message = str(tree.get("message") or getattr(exc, "message", None) or exc)
    status = getattr(exc, "status_code", None)
    where = ""
    if settings is not None:
        where = (
            f" (subscription {settings.subscription_id}, resource group "
            f"{settings.resource_group}, workspace {settings.workspace_name}, env {settings.env})"
        )

    if status in (401, 403) or code in ("AuthorizationFailed", "Forbidden", "Unauthorized"):
        found = AUTHORIZATION.search(message)
        if found:
            scope = f" on scope {found['scope']}" if found["scope"] else ""
            return (
                f"permission denied: identity {found['client']} (object id "
                f"{found['object_id']}) may not perform {found['action']}{scope}. "
                "Grant it a role that includes this action (e.g. Contributor, or "
                "AzureML Data Scientist for workspace assets)."
            )
        action = ACTION.search(message)
        lacking = f" lacks permission {action['action']}" if action else " was refused"
        return (
            f"permission denied ({status or code}): the signed-in identity{lacking}{where}: "
            f"{message}. Check `az account show` and its role assignments."
        )
    if code == "ResourceGroupNotFound" and settings is not None:
        return (
            f"resource group {settings.resource_group!r} does not exist in subscription "
            f"{settings.subscription_id} (from {settings.sources.get('resource_group')}); "
            f"run `provision --env {settings.env}` first or fix the setting"
        )
    if status == 404 and settings is not None and "workspace" in message.lower():
        return (
            f"workspace {settings.workspace_name!r} was not found in resource group "
            f"{settings.resource_group} (from {settings.sources.get('workspace_name')}); "
            f"run `provision --env {settings.env}` first or fix the setting"
        )
    lines = format_error_tree(tree) or [message]
    prefix = f"Azure returned {status}: " if status else ""
    return prefix + "\n".join(lines)


class AzureFailure(ProjectError):
    """A call to Azure failed; the message already says what to fix."""

    exit_code = 1


def sign_in_failure(exc: Exception) -> str:
    """One line for a failed sign-in; each credential's reason only with `--verbose`.

    DefaultAzureCredential explains every credential of its chain on a line of its own (a
    dozen lines, most about credentials nobody meant to use).
    """
    import os

    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    summary = lines[0] if lines else type(exc).__name__
    message = (
        "could not sign in to Azure (run `az login`, or azure/login with OIDC in GitHub "
        f"Actions): {summary}"
    )
    if len(lines) > 1:
        if os.environ.get("AMLCTL_VERBOSE"):
            return "\n".join([message, *lines[1:]])
        message += " (amlctl --verbose shows each credential's reason)"
    return message


@contextlib.contextmanager
def describing(settings: Any = None) -> Iterator[None]:
    """Re-raise Azure HTTP failures as AzureFailure with a message naming the resources."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    try:
        yield
    except ClientAuthenticationError as exc:
        if getattr(exc, "status_code", None) in (401, 403):
            raise AzureFailure(describe_azure_error(exc, settings)) from exc
        raise AzureFailure(sign_in_failure(exc)) from exc
    except HttpResponseError as exc:
        raise AzureFailure(describe_azure_error(exc, settings)) from exc


@contextlib.contextmanager
def describing_registry(registry: str, source: str, role: str) -> Iterator[None]:
    """Failures of calls to an Azure ML registry, named for what to fix: a registry that does
    not exist, or an identity without ``role`` on it (a 404 of one asset is the caller's to
    handle: `get_or_none`). ``source`` says where the registry's name came from."""
    from azure.core.exceptions import HttpResponseError

    try:
        yield
    except HttpResponseError as exc:
        status = getattr(exc, "status_code", None)
        if status == 404:
            raise AzureFailure(
                f"Azure ML registry {registry!r} (from {source}) was not found: deploy it with "
                "`amlctl provision --env prod` (deployMlRegistry in infra/params/"
                "prod.parameters.json), or fix the name"
            ) from exc
        if status in (401, 403):
            message = str(_error_of(exc).get("message") or exc)
            found = AUTHORIZATION.search(message) or ACTION.search(message)
            refused = "the signed-in identity was refused"
            if found is not None and "client" in found.groupdict():
                refused = (
                    f"identity {found['client']} (object id {found['object_id']}) may not "
                    f"perform {found['action']}"
                )
            elif found is not None:
                refused = f"the signed-in identity lacks {found['action']}"
            raise AzureFailure(
                f"permission denied on Azure ML registry {registry!r}: {refused}; it needs "
                f"{role} on the registry"
            ) from exc
        raise


def report(command: Callable[..., int]) -> Callable[..., int]:
    """Run a cloud command with Azure HTTP failures described (see ``describing``).

    What is printed, and the exit code, is decided once, in ``cli.main``.
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        with describing():
            return command(*args, **kwargs)

    return wrapper
