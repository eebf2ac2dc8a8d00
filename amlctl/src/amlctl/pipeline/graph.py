"""The pipeline as a DAG of steps: small JSON-friendly dataclasses.

``validate``, ``run --local`` and ``submit`` all read a pipeline through this model:
``loader.load_pipeline`` builds it (``nodes`` turns azure-ai-ml's objects into these
classes, ``expand`` flattens pipeline components) and caches it as JSON.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from ..project import ProjectError

ASSET_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*(?:@[\w.-]+|:[\w.-]+)$")
ASSET_REFERENCE = re.compile(r"^azureml:(?://)?([^:@/]+)(?:[:@](.+))?$")
LOCAL_NODE_TYPES = ("command", "sweep", "parallel", "spark", "automl")
GRAPH_FORMAT = 5
# node type -> what it is, for the one line that says why it cannot run here
NOT_LOCAL = {
    "data_transfer": "a data transfer node (copies between Azure stores)",
    "import": "an import node (reads from an external database or file system)",
    "if_else": "a control-flow node (if_else)",
    "do_while": "a control-flow node (do_while)",
    "parallel_for": "a control-flow node (parallel_for)",
}
PATH_TYPES_GRAPH = ("uri_folder", "uri_file", "mltable", "mlflow_model", "custom_model")
REMOTE_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


@dataclass
class Component:
    name: str
    kind: str  # "command", "parallel", "spark" or "automl"
    command: str  # command line, program_arguments of a parallel task, args of a Spark one
    code_dir: str
    environment: str  # canonical text of the environment definition (part of the cache key)
    inputs: dict[str, dict[str, Any]]  # name -> {"type", "optional", "default"}
    outputs: dict[str, dict[str, Any]]  # name -> {"type"}
    deterministic: bool = True
    source: str = ""
    environment_variables: dict[str, str] = field(default_factory=dict)
    parallel: dict[str, Any] = field(default_factory=dict)  # entry_script, mini_batch_size, ...
    # what a local environment is built from: {"conda_file": path, "context": path, "image"}
    environment_build: dict[str, Any] = field(default_factory=dict)
    spark: dict[str, Any] = field(default_factory=dict)  # entry_file, py_files, conf (spark.py)


@dataclass
class Binding:
    """Where a step input comes from."""

    kind: str  # "parent" | "step" | "literal" | "path" | "remote"
    ref: str = ""  # parent input name, or "step.output"
    value: Any = None  # literal value, absolute local path, or remote URL
    # the YAML keys this binding was set at, outermost first ("jobs.outer.inputs.x"); a
    # `--set` of any of them replaces it
    keys: list[str] = field(default_factory=list)

    @property
    def step(self) -> str:
        return self.ref.split(".", 1)[0]

    @property
    def output(self) -> str:
        return self.ref.split(".", 1)[1]


@dataclass
class Step:
    name: str
    type: str  # "command" | "sweep" | "parallel" | "spark" | "automl"
    component: Component
    inputs: dict[str, Binding]
    outputs: dict[str, str | None]  # step output -> pipeline output it is bound to
    sweep: dict[str, Any] = field(default_factory=dict)
    # {"type": "pytorch"|"tensorflow"|"mpi", ...counts} and resources.instance_count
    distribution: dict[str, Any] = field(default_factory=dict)
    instance_count: int = 1
    automl: dict[str, Any] = field(default_factory=dict)  # task, limits, ... (automl.py)
    runtime_version: str = ""  # a Spark node's resources.runtime_version ("3.4")
    # a uri_file output's file name, where its path names one (Azure ML keeps it): output -> name
    output_files: dict[str, str] = field(default_factory=dict)

    def upstream(self) -> set[str]:
        return {b.step for b in self.inputs.values() if b.kind == "step"}


@dataclass
class Pipeline:
    path: str
    name: str
    experiment: str
    inputs: dict[str, dict[str, Any]]  # name -> {"type", "value"}
    outputs: list[str]
    steps: dict[str, Step]
    force_rerun: bool = False
    sources: dict[str, str] = field(default_factory=dict)  # file -> sha256 it was built from

    def order(self) -> list[str]:
        """Step names in a topological order (stable: file order among ready steps)."""
        done: list[str] = []
        pending = list(self.steps)
        while pending:
            ready = [n for n in pending if self.steps[n].upstream() <= set(done)]
            if not ready:
                raise ProjectError(f"{self.path}: jobs form a cycle: {', '.join(pending)}")
            done.extend(ready)
            pending = [n for n in pending if n not in ready]
        return done

    def downstream(self, name: str) -> set[str]:
        found: set[str] = set()
        frontier = {name}
        while frontier:
            frontier = {s.name for s in self.steps.values() if s.upstream() & frontier} - found
            found |= frontier
        return found

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Pipeline:
        steps = {}
        for name, raw in data["steps"].items():
            raw = dict(raw)
            raw["component"] = Component(**raw["component"])
            raw["inputs"] = {k: Binding(**v) for k, v in raw["inputs"].items()}
            steps[name] = Step(**raw)
        return cls(**{**data, "steps": steps})
