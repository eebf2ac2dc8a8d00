"""From azure-ai-ml's loaded objects (nodes, their components, input bindings) to the graph.

Everything the SDK knows about a node that a local run, a check or a submission needs is
read here once and kept as plain values in ``graph``'s dataclasses.
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any

from ..expressions import PARENT_INPUT, STEP_OUTPUT
from ..inputs import literal_type
from ..project import ProjectError, layout, project_root
from ..state import file_sha
from .graph import ASSET_NAME, ASSET_REFERENCE, Binding, Component


def pipeline_input(name: str, raw: Any, base: Path, data_assets: dict[str, Path]) -> dict[str, Any]:
    if _is_asset(raw):
        path_value = attr(raw, "path")
        kind = attr(raw, "type") or "uri_folder"
        if path_value is None:
            return {"type": kind, "value": attr(raw, "default")}
        try:
            return {"type": kind, "value": local_path(path_value, base, data_assets)}
        except ProjectError:  # exists only in the workspace: usable locally with --set
            return {"type": kind, "value": None, "remote": str(path_value)}
    if isinstance(raw, dict):  # {type: number, default: 1}
        return {"type": raw.get("type", "string"), "value": raw.get("default")}
    return {"type": literal_type(raw), "value": raw}


def attr(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _is_asset(raw: Any) -> bool:
    kind = attr(raw, "type")
    has_path = attr(raw, "path") is not None
    return has_path or (isinstance(kind, str) and kind.startswith(("uri_", "mltable", "mlflow")))


def local_path(value: Any, base: Path, data_assets: dict[str, Path]) -> str:
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


def local_data_assets(base: Path, sources: dict[str, str]) -> dict[str, Path]:
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


def to_binding(raw: Any, base: Path, data_assets: dict[str, Path]) -> Binding | None:
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
    path_value = attr(raw, "path")
    if path_value is not None:
        nested = to_binding(str(path_value), base, data_assets)
        if nested is not None and nested.kind in ("parent", "step"):
            return nested
        try:
            return Binding("path", value=local_path(path_value, base, data_assets))
        except ProjectError:  # a workspace asset or a URL: replaced with --set, or reported
            return Binding("remote", value=str(path_value))
    default = attr(raw, "default")
    return Binding("literal", value=default) if default is not None else None


def to_component(component: Any, sources: dict[str, str]) -> Component:
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
        code, environment = attr(task, "code"), attr(task, "environment")
        command = attr(task, "program_arguments") or ""
        other = getattr(component, "_other_parameter", {}) or {}
        retry = component.retry_settings
        parallel = {
            "entry_script": attr(task, "entry_script"),
            "input_data": component.input_data,
            "mini_batch_size": component.mini_batch_size or None,
            "error_threshold": component.error_threshold,
            "mini_batch_error_threshold": component.mini_batch_error_threshold,
            "max_retries": attr(retry, "max_retries") if retry is not None else None,
            "timeout": attr(retry, "timeout") if retry is not None else None,
            "output_action": other.get("output_action", "append_row"),
            "append_row_to": other.get("append_row_to") or attr(task, "append_row_to"),
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
        spark=spark_settings(component) if kind == "spark" else {},
    )


def _normalized_command(command: str) -> str:
    """The command with blank lines and trailing spaces dropped; line breaks are kept (bash)."""
    lines = [line.rstrip() for line in command.strip().splitlines()]
    return "\n".join(line for line in lines if line)


def environment_build(environment: Any, base: Path, sources: dict[str, str]) -> dict[str, Any]:
    """What a local environment is built from (see ``environments``), with absolute paths."""
    from .environments import build_spec

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


def sweep_settings(node: Any) -> dict[str, Any]:
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


# component attribute -> the Spark property it stands for (azure-ai-ml lifts these out of conf)
CONF_ATTRIBUTES = {
    "driver_cores": "spark.driver.cores",
    "driver_memory": "spark.driver.memory",
    "executor_cores": "spark.executor.cores",
    "executor_memory": "spark.executor.memory",
    "executor_instances": "spark.executor.instances",
    "dynamic_allocation_enabled": "spark.dynamicAllocation.enabled",
    "dynamic_allocation_min_executors": "spark.dynamicAllocation.minExecutors",
    "dynamic_allocation_max_executors": "spark.dynamicAllocation.maxExecutors",
}


def spark_settings(component: Any) -> dict[str, Any]:
    """The Spark part of a loaded SparkComponent, as plain JSON-friendly values."""
    entry = component.entry
    entry_file = getattr(entry, "entry", None) if entry is not None else None
    entry_type = str(getattr(entry, "type", "") or "")
    conf = {str(k): _conf_text(v) for k, v in (component.conf or {}).items()}
    for attribute, key in CONF_ATTRIBUTES.items():
        value = getattr(component, attribute, None)
        if value is not None:
            conf[key] = _conf_text(value)
    return {
        "entry_file": entry_file if "class" not in entry_type.lower() else None,
        "entry_class": entry_file if "class" in entry_type.lower() else None,
        "py_files": list(component.py_files or []),
        "jars": list(component.jars or []),
        "files": list(component.files or []),
        "archives": list(component.archives or []),
        "conf": dict(sorted(conf.items())),
    }


def _conf_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
