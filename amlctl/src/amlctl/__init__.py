"""amlctl: validate, run locally, provision, register and publish Azure ML projects.

The names below are amlctl's Python API, kept across releases (a project's tests use
them); everything else is internal. They are imported when first used, so importing
amlctl stays cheap.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.2.0"

# public name -> (module, attribute)
_API = {
    "load_pipeline": ("amlctl.pipeline.loader", "load_pipeline"),
    "load_pipeline_job": ("amlctl.pipeline.source", "load_pipeline_job"),
    "running_server": ("amlctl.serving.local", "running_server"),
}
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'amlctl' has no attribute {name!r}")
    import importlib

    module, attribute = _API[name]
    return getattr(importlib.import_module(module), attribute)
