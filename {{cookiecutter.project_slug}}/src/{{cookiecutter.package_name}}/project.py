"""Where things are in this project, and quiet loading of Azure ML objects."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

PROJECT_MARKERS = ("pyproject.toml", "components", "pipelines")


class ProjectError(Exception):
    """A problem the user can fix; the CLI prints it without a traceback."""


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` that holds this project's layout."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if all((folder / marker).exists() for marker in PROJECT_MARKERS):
            return folder
    markers = ", ".join(PROJECT_MARKERS)
    raise ProjectError(f"not inside the project: no folder at or above {here} holds {markers}")


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
