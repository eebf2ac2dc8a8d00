"""The pipeline as a DAG of steps: small JSON-friendly dataclasses and the helpers that
turn azure-ai-ml's objects (nodes, their components, input bindings) into them.

``loader.load_pipeline`` builds the graph with these and ``expand``, and caches it.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..expressions import PARENT_INPUT, STEP_OUTPUT
from ..inputs import literal_type
from ..project import ProjectError, layout, project_root
from .cache import file_sha

ASSET_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*(?:@[\w.-]+|:[\w.-]+)$")
ASSET_REFERENCE = re.compile(r"^azureml:(?://)?([^:@/]+)(?:[:@](.+))?$")
LOCAL_NODE_TYPES = ("command", "sweep", "parallel", "spark", "automl")
GRAPH_FORMAT = 3
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


def _pipeline_input(
    name: str, raw: Any, base: Path, data_assets: dict[str, Path]
) -> dict[str, Any]:
    if _is_asset(raw):
        path_value = _attr(raw, "path")
        kind = _attr(raw, "type") or "uri_folder"
        if path_value is None:
            return {"type": kind, "value": _attr(raw, "default")}
        try:
            return {"type": kind, "value": _local_path(path_value, base, data_assets)}
        except ProjectError:  # exists only in the workspace: usable locally with --set
            return {"type": kind, "value": None, "remote": str(path_value)}
    if isinstance(raw, dict):  # {type: number, default: 1}
        return {"type": raw.get("type", "string"), "value": raw.get("default")}
    return {"type": literal_type(raw), "value": raw}


def _attr(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _is_asset(raw: Any) -> bool:
    kind = _attr(raw, "type")
    has_path = _attr(raw, "path") is not None
    return has_path or (isinstance(kind, str) and kind.startswith(("uri_", "mltable", "mlflow")))


def _local_path(value: Any, base: Path, data_assets: dict[str, Path]) -> str:
    text = str(value)
    local = (base / text).resolve()
    if ASSET_NAME.match(text) and not local.exists():
        text = f"azureml:{text}"  # the SDK strips "azureml:" from name@version references
    match = ASSET_REFERENCE.match(text)
    if match:
        asset = data_assets.get(match.group(1))
        if asset is None:
            raise ProjectError(
                f"data asset {text} has no local definition in data/*.yml; "
                "run it in the workspace with `submit`"
            )
        return str(asset)
    if re.match(r"^[a-z][a-z0-9+.-]*://", text):
        raise ProjectError(f"{text}: remote paths cannot be read locally")
    return str(local)


def _local_data_assets(base: Path, sources: dict[str, str]) -> dict[str, Path]:
    """Data assets defined in the project's data/*.yml: name -> local path."""
    import yaml

    try:
        data_dir = layout(project_root(base)).data
    except ProjectError:
        return {}
    if not data_dir.is_dir():
        return {}
    assets: dict[str, Path] = {}
    for file in sorted(data_dir.glob("*.y*ml")):
        try:
            spec = yaml.safe_load(file.read_text())
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(spec, dict) and spec.get("name") and spec.get("path"):
            target = str(spec["path"])
            if "://" not in target:
                assets[str(spec["name"])] = (file.parent / target).resolve()
                sources[str(file)] = file_sha(file)
    return assets


def _binding(raw: Any, base: Path, data_assets: dict[str, Path]) -> Binding | None:
    if raw is None:
        return None
    if not isinstance(raw, str | int | float | bool) and hasattr(raw, "_data_binding"):
        raw = raw._data_binding()
    if isinstance(raw, str):
        match = PARENT_INPUT.fullmatch(raw.strip())
        if match:
            return Binding("parent", match.group(1))
        match = STEP_OUTPUT.fullmatch(raw.strip())
        if match:
            return Binding("step", f"{match.group(1)}.{match.group(2)}")
        return Binding("literal", value=raw)
    if isinstance(raw, int | float | bool):
        return Binding("literal", value=raw)
    path_value = _attr(raw, "path")
    if path_value is not None:
        nested = _binding(str(path_value), base, data_assets)
        if nested is not None and nested.kind in ("parent", "step"):
            return nested
        try:
            return Binding("path", value=_local_path(path_value, base, data_assets))
        except ProjectError:  # a workspace asset or a URL: replaced with --set, or reported
            return Binding("remote", value=str(path_value))
    default = _attr(raw, "default")
    return Binding("literal", value=default) if default is not None else None


def _component(component: Any, sources: dict[str, str]) -> Component:
    base = Path(component.base_path).resolve()
    source = getattr(component, "_source_path", None)
    if source:
        source_path = Path(source).resolve()
        if source_path.is_file():
            sources[str(source_path)] = file_sha(source_path)
    kind = getattr(component, "type", "command")
    parallel: dict[str, Any] = {}
    if kind == "parallel":
        task = component.task
        code, environment = _attr(task, "code"), _attr(task, "environment")
        command = _attr(task, "program_arguments") or ""
        other = getattr(component, "_other_parameter", {}) or {}
        retry = component.retry_settings
        parallel = {
            "entry_script": _attr(task, "entry_script"),
            "input_data": component.input_data,
            "mini_batch_size": component.mini_batch_size or None,
            "error_threshold": component.error_threshold,
            "mini_batch_error_threshold": component.mini_batch_error_threshold,
            "max_retries": _attr(retry, "max_retries") if retry is not None else None,
            "timeout": _attr(retry, "timeout") if retry is not None else None,
            "output_action": other.get("output_action", "append_row"),
            "append_row_to": other.get("append_row_to") or _attr(task, "append_row_to"),
            "max_concurrency_per_instance": component.max_concurrency_per_instance,
            "partition_keys": getattr(component, "partition_keys", None),
            "logging_level": getattr(component, "logging_level", None),
        }
    elif kind == "spark":
        code, environment, command = component.code, component.environment, component.args or ""
    else:
        code, environment, command = component.code, component.environment, component.command
    if code is None:  # Azure ML runs it in an empty working directory
        code_dir = None
    elif isinstance(code, str) and code.startswith("azureml:"):
        raise ProjectError(f"{source}: registered code {code} cannot run locally")
    else:
        code_dir = (base / str(code)).resolve()
    inputs = {
        name: {
            "type": spec.type,
            "optional": bool(spec.optional),
            "default": spec.default,
            **{
                limit: getattr(spec, limit)
                for limit in ("min", "max", "enum")
                if getattr(spec, limit, None) is not None
            },
        }
        for name, spec in component.inputs.items()
    }
    outputs = {name: {"type": spec.type} for name, spec in component.outputs.items()}
    return Component(
        name=component.name,
        kind=kind if kind in ("parallel", "spark") else "command",
        command=_normalized_command(str(command)),
        code_dir=str(code_dir) if code_dir else "",
        environment=_environment_text(environment, base, sources),
        inputs=inputs,
        outputs=outputs,
        deterministic=component.is_deterministic is not False,
        source=str(source or base),
        environment_variables={
            str(k): str(v)
            for k, v in (getattr(component, "environment_variables", None) or {}).items()
        },
        parallel=parallel,
        environment_build=environment_build(environment, base, sources),
        spark=_spark_settings(component) if kind == "spark" else {},
    )


def _spark_settings(component: Any) -> dict[str, Any]:
    from .spark import spark_settings

    return spark_settings(component)


def _normalized_command(command: str) -> str:
    """The command with blank lines and trailing spaces dropped; line breaks are kept (bash)."""
    lines = [line.rstrip() for line in command.strip().splitlines()]
    return "\n".join(line for line in lines if line)


def environment_build(environment: Any, base: Path, sources: dict[str, str]) -> dict[str, Any]:
    """What a local environment is built from (see envs.py), with absolute paths."""
    from .envs import build_spec

    return build_spec(environment, base, _environment_folders(base), sources)


def _environment_text(environment: Any, base: Path, sources: dict[str, str]) -> str:
    """A stable description of the environment (image + conda file, or the local definition)."""
    if environment is None:
        return ""
    if isinstance(environment, str):
        match = ASSET_REFERENCE.match(environment) or re.match(
            r"^([^:@/]+)(?:[:@](.+))?$", environment
        )
        name = match.group(1) if match else environment
        for folder in _environment_folders(base):
            definition = folder / name / "environment.yml"
            if definition.is_file():
                sources[str(definition)] = file_sha(definition)
                texts = [definition.read_text()]
                for extra in sorted(definition.parent.glob("*")):
                    if extra != definition and extra.is_file():
                        texts.append(extra.read_text(errors="replace"))
                return environment + "\n" + "\n".join(texts)
        return environment
    conda = getattr(environment, "conda_file", None)
    conda_path = getattr(environment, "_conda_file_path", None)
    if conda_path and Path(conda_path).is_file():  # a change to it must rebuild the graph
        sources[str(Path(conda_path).resolve())] = file_sha(Path(conda_path))
    build = getattr(environment, "build", None)
    return json.dumps(
        {
            "image": getattr(environment, "image", None),
            "conda_file": conda,
            "build": str(getattr(build, "path", "")) if build else None,
        },
        sort_keys=True,
        default=str,
    )


def _sweep_settings(node: Any) -> dict[str, Any]:
    space = {}
    for name, distribution in (node.search_space or {}).items():
        values = {k: v for k, v in vars(distribution).items() if not k.startswith("_")}
        space[name] = values
    limits = node.limits
    objective = node.objective
    algorithm = node.sampling_algorithm
    if not isinstance(algorithm, str):
        algorithm = getattr(algorithm, "type", None) or "random"
    return {
        "search_space": space,
        "primary_metric": getattr(objective, "primary_metric", None),
        "goal": str(getattr(objective, "goal", "maximize")).lower(),
        "sampling_algorithm": str(algorithm).lower(),
        "max_total_trials": getattr(limits, "max_total_trials", None) or 10,
        "max_concurrent_trials": getattr(limits, "max_concurrent_trials", None) or 1,
        "timeout": getattr(limits, "timeout", None),
        "trial_timeout": getattr(limits, "trial_timeout", None),
        "early_termination": _early_termination(getattr(node, "early_termination", None)),
    }


def _early_termination(policy: Any) -> dict[str, Any]:
    if policy is None:
        return {}
    if isinstance(policy, dict):
        return {k: v for k, v in policy.items() if v is not None}
    return {k: v for k, v in vars(policy).items() if not k.startswith("_") and v is not None}


def _environment_folders(base: Path) -> list[Path]:
    """Where a named environment's folder may be: the project's environments folder first."""
    folders = [folder / "environments" for folder in (base, *base.parents)]
    with contextlib.suppress(ProjectError):
        folders.insert(0, layout(project_root(base)).environments)
    return folders
