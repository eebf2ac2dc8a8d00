"""Where things are in a project, and quiet loading of Azure ML objects.

A project is the nearest folder holding a ``pyproject.toml`` with a ``[tool.amlctl]`` table,
or, without one, the template's layout (``pyproject.toml``, ``components/`` and
``pipelines/``). The table names where each kind of file lives; every key is optional and
defaults to the template's layout::

    [tool.amlctl]
    components = "components"          # one folder per component, each with component.yml
    pipelines = "pipelines"            # pipeline jobs (YAML or Python)
    schedules = "pipelines/schedules"
    publish = "pipelines/publish"      # pipeline component, batch endpoint and deployment
    online = "deploy/online"           # online endpoint, deployment, scoring/, monitor
    environments = "environments"      # one folder per environment, each with environment.yml
    data = "data"                      # data asset YAML
    config = "config"                  # one <env>.yml per Azure environment
    infra = "infra"                    # main.bicep, modules/, params/<env>.parameters.json
    runs = ".runs"                     # local runs: cache, logs, tracking store
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from dataclasses import dataclass, fields
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

TOOL = "amlctl"
TEMPLATE_MARKERS = ("pyproject.toml", "components", "pipelines")


class ProjectError(Exception):
    """A problem the user can fix; the CLI prints it as one line, without a traceback."""


@dataclass(frozen=True)
class Layout:
    """The folders of one project, absolute, as its ``[tool.amlctl]`` table places them."""

    root: Path
    components: Path
    pipelines: Path
    schedules: Path
    publish: Path
    online: Path
    environments: Path
    data: Path
    config: Path
    infra: Path
    runs: Path

    @staticmethod
    def defaults() -> dict[str, str]:
        return {
            "components": "components",
            "pipelines": "pipelines",
            "schedules": "pipelines/schedules",
            "publish": "pipelines/publish",
            "online": "deploy/online",
            "environments": "environments",
            "data": "data",
            "config": "config",
            "infra": "infra",
            "runs": ".runs",
        }


def tool_table(root: Path) -> dict | None:
    """The ``[tool.amlctl]`` table of ``root/pyproject.toml``; None when there is none."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProjectError(f"{path}: not valid TOML: {exc}") from None
    table = data.get("tool", {}).get(TOOL)
    if table is not None and not isinstance(table, dict):
        raise ProjectError(f"{path}: [tool.{TOOL}] must be a table")
    return table


@functools.cache
def layout(root: Path) -> Layout:
    """The layout of the project at ``root`` (its ``[tool.amlctl]`` over the defaults)."""
    root = root.resolve()
    table = tool_table(root) or {}
    names = Layout.defaults()
    unknown = sorted(set(table) - set(names))
    if unknown:
        raise ProjectError(
            f"{root / 'pyproject.toml'}: [tool.{TOOL}] has unknown key(s) {', '.join(unknown)} "
            f"(known: {', '.join(names)})"
        )
    for key, value in table.items():
        if not isinstance(value, str) or not value.strip():
            raise ProjectError(f"[tool.{TOOL}] {key} must be a folder path, not {value!r}")
        names[key] = value
    return Layout(root=root, **{f.name: root / names[f.name] for f in fields(Layout)[1:]})


def is_project(folder: Path) -> bool:
    try:
        has_table = tool_table(folder) is not None
    except ProjectError:
        has_table = True  # a broken table still marks the project; layout() reports it
    return has_table or all((folder / marker).exists() for marker in TEMPLATE_MARKERS)


def project_root(start: Path | None = None) -> Path:
    """The nearest project folder at or above ``start`` (default: the working folder)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if is_project(folder):
            return folder
    raise ProjectError(
        f"not inside a project: no folder at or above {here} has a pyproject.toml with "
        f"[tool.{TOOL}] or the folders {', '.join(TEMPLATE_MARKERS[1:])}"
    )


def work_root(start: Path) -> Path:
    """Where a file outside any project is run from: its project, else its repository, else it.

    ``run`` and ``validate`` take any Azure ML YAML; they keep their state under this folder.
    """
    start = start.resolve()
    for folder in (start, *start.parents):
        if is_project(folder):
            return folder
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


def quiet_azure_ml() -> None:
    """Import azure.ai.ml with its experimental-class and telemetry chatter silenced.

    Call it in a command before using azure.ai.ml (never at module import: the SDK takes
    about 2 s to import). Importing the SDK resets its loggers, so levels are set after.
    """
    os.environ.setdefault("AZUREML_LOG_LEVEL", "ERROR")
    warnings.filterwarnings("ignore", module=r"azure\..*")
    warnings.filterwarnings("ignore", message=r".*experimental.*")
    import azure.ai.ml  # noqa: F401

    for name in ("azure", "azure.ai.ml", "azure.core", "azure.identity", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("azure.ai.ml"):
            logging.getLogger(name).setLevel(logging.ERROR)
