"""What a step kind is given to run one step, and what a step's run gives back.

Step kinds (``kinds/``) are plug-ins: ``run(step, ctx)`` with a ``StepContext``. The
context holds the step's resolved inputs, the folders its outputs go to and the services
of the run (console, tracking, the step's environment); the executor builds it. A kind
needs nothing else, so no kind imports the executor.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..pipeline.graph import Step
    from .steps import Console
    from .tracking import Tracker


@dataclass(frozen=True)
class RunServices:
    """Shared by every step of one run."""

    run_id: str  # the local run (``.runs/<run_id>/``)
    runs_dir: Path
    console: Console
    tracker: Tracker
    # the bin folder of the step's environment (built first when it is new)
    environment_bin: Callable[[Step], str]
    # the process environment of a step: the caller's, the step's variables, ``tracking``
    step_env: Callable[[Step, dict[str, str]], dict[str, str]]
    # the bin folder one process group of the step runs in: a fresh layer in the given
    # folder over the step's environment, so that what it installs stays there
    isolated_bin: Callable[[Step, Path], str]
    # reads MLTable folders with the mltable package (mltable_env.MLTableReader)
    mltable: Any = None


@dataclass(frozen=True)
class StepContext:
    """One step's run: its values, where its outputs go, and the run's services."""

    services: RunServices
    inputs: dict[str, Any]  # input name -> value (a local path for data inputs)
    outputs: dict[str, str]  # output name -> the local path the step writes
    step_dir: Path  # .runs/<run>/<step>/: logs and working files
    workspace: Path  # the private folder the outputs are in until they are stored
    tracking: dict[str, str]  # MLflow variables of the step's own run
    run_id: str | None = None  # the step's MLflow run (a sweep's trials are its children)

    @property
    def console(self) -> Console:
        return self.services.console

    @property
    def tracker(self) -> Tracker:
        return self.services.tracker

    def env(self, step: Step) -> dict[str, str]:
        """The variables the step's processes get (its environment's PATH is set by a kind)."""
        return self.services.step_env(step, self.tracking)

    def derived(self, **changes: Any) -> StepContext:
        """The same run's context with other values (a sweep's trial: its inputs, outputs)."""
        return dataclasses.replace(self, **changes)


@dataclass
class StepResult:
    name: str
    state: str  # done | cached | failed | skipped
    seconds: float = 0.0
    key: str = ""
    outputs: dict[str, str] = field(default_factory=dict)  # output name -> local path
    output_hashes: dict[str, str] = field(default_factory=dict)
    run_id: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.state in ("done", "cached")
