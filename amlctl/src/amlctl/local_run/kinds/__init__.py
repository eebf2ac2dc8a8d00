"""Step kinds: how each kind of pipeline node runs on this machine, one plug-in per kind.

A plug-in is a module with ``run(step, ctx)`` (``ctx`` is a ``context.StepContext``) and,
where the kind needs them, ``preflight(steps)`` (checked before any step starts: what the
kind needs is installed), ``key_parts(step, hasher)`` (code of the kind's own that
produced the outputs, part of the cache key) and ``summary_lines(pipeline, results)``
(lines for the run's summary). The executor finds a step's plug-in here; no plug-in
imports the executor.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...pipeline.graph import Step

# kind -> module of this package
KINDS = {
    "command": ".command",
    "sweep": ".sweep",
    "parallel": ".parallel",
    "spark": ".spark",
    "automl": ".automl",
}


def kind_of(step: Step) -> str:
    """The plug-in that runs ``step``: a sweep's trials are commands, the others by type."""
    if step.type in ("sweep", "automl"):
        return step.type
    if step.component.kind in ("parallel", "spark"):
        return step.component.kind
    return "command"


def plugin(kind: str) -> ModuleType:
    return importlib.import_module(KINDS[kind], __package__)


def plugins_of(steps: list[Step]) -> list[ModuleType]:
    """The plug-ins the steps need, each once, in the order of ``KINDS``."""
    used = {kind_of(step) for step in steps}
    return [plugin(kind) for kind in KINDS if kind in used]
