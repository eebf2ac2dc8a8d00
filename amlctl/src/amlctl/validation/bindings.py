"""Checks on loaded pipeline jobs / pipeline components that the SDK's validation misses.

Works on azure-ai-ml's own objects: ``job.inputs``/``job.outputs``, each node's raw
bindings (``node._job_inputs``/``_job_outputs``), its component's input and output
declarations and, for sweep nodes, the ``azure.ai.ml.sweep`` search space objects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..expressions import ANY_BINDING, PARENT_INPUT, PARENT_OUTPUT, STEP_OUTPUT
from ..pipeline.expand import FLOW_COMPONENT
from ..pipeline.literals import type_error
from ..problems import Problem
from .limits import limit_problem

NUMERIC_DISTRIBUTIONS = {
    "uniform", "quniform", "loguniform", "qloguniform",
    "normal", "qnormal", "lognormal", "qlognormal", "randint",
}  # fmt: skip


def value_problem(name: str, spec: Any, value: Any) -> str | None:
    """Why a literal does not fit input ``name``: its type, then its declared limits."""
    why = type_error(_declared_type(spec), value, getattr(spec, "enum", None))
    if why or value is None or (isinstance(value, str) and ANY_BINDING.search(value)):
        return why
    return limit_problem(name, spec, value)


def _raw(value: Any) -> Any:
    """A node input as written in YAML: a binding string, a literal, or an asset dict/Input."""
    if hasattr(value, "_data_binding") and not isinstance(value, str | int | float | bool):
        try:
            return value._data_binding()
        except Exception:
            return getattr(value, "_data", value)
    return value


def _strings(value: Any) -> list[str]:
    value = _raw(value)
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    path = getattr(value, "path", None)
    return [path] if isinstance(path, str) else []


def _declared_type(spec: Any) -> str:
    return str(getattr(spec, "type", "") or "")


def _component_of(node: Any) -> Any:
    if getattr(node, "type", None) == "sweep":
        return getattr(node, "trial", None)
    return getattr(node, "component", None)


def _pipeline_input_value(pipeline_input: Any) -> Any:
    data = getattr(pipeline_input, "_data", pipeline_input)
    if isinstance(data, dict) or hasattr(data, "path") or hasattr(data, "type"):
        return None  # an asset, or a typed declaration without a literal
    return data


def check_pipeline(file: str, job: Any) -> list[Problem]:
    """Binding, type and required-input checks of a loaded PipelineJob or PipelineComponent."""
    problems: list[Problem] = []
    pipeline_inputs = dict(job.inputs or {})
    pipeline_outputs = dict(job.outputs or {})
    nodes = dict(job.jobs or {})
    used_inputs: set[str] = set()

    def error(path: str, message: str) -> None:
        problems.append(Problem(file, message, field=path))

    for node_name, node in nodes.items():
        component = _component_of(node)
        declared_inputs = dict(getattr(component, "inputs", None) or {})
        declared_outputs = dict(getattr(component, "outputs", None) or {})
        known_component = component is not None and not isinstance(component, str)
        component_name = _component_name(component, node_name)
        raw_inputs = _node_inputs(node)
        if getattr(component, "type", None) == FLOW_COMPONENT:
            # azure-ai-ml's FlowComponentInputDict: fixed ports (data, flow_outputs,
            # connections) and any other name is an optional column mapping of the flow
            declared_inputs.update(
                (name, _COLUMN_MAPPING) for name in raw_inputs if name not in declared_inputs
            )
        search_space = _sweep_space(node)
        inputs_key = (
            f"jobs.{node_name}"
            if getattr(node, "type", None) == "automl"
            else f"jobs.{node_name}.inputs"
        )
        for input_name, value in raw_inputs.items():
            where = f"{inputs_key}.{input_name}"
            for text in _strings(value):
                for name in PARENT_INPUT.findall(text):
                    used_inputs.add(name)
                    if name not in pipeline_inputs:
                        error(where, _missing("pipeline input", name, pipeline_inputs))
                    elif known_component and input_name in declared_inputs:
                        literal = _pipeline_input_value(pipeline_inputs[name])
                        spec = declared_inputs[input_name]
                        why = value_problem(input_name, spec, literal)
                        if why:
                            error(f"inputs.{name}", f"{why} (bound to {where})")
                for step, output in STEP_OUTPUT.findall(text):
                    problems.extend(_check_step_output(file, where, nodes, step, output))
            if not known_component:
                continue
            if input_name not in declared_inputs:
                error(
                    where,
                    _missing(f"input of component {component_name}", input_name, declared_inputs),
                )
                continue
            spec = declared_inputs[input_name]
            raw = _raw(value)
            if not isinstance(raw, dict) and not hasattr(raw, "path"):
                why = value_problem(input_name, spec, raw)
                if why:
                    error(where, why)
        if known_component:
            for input_name, spec in declared_inputs.items():
                bound = raw_inputs.get(input_name) is not None or input_name in search_space
                if not bound and not spec.optional and spec.default is None:
                    error(
                        f"jobs.{node_name}.inputs.{input_name}",
                        f"required input '{input_name}' of component {component_name} is not bound",
                    )
        for output_name, value in (getattr(node, "_job_outputs", None) or {}).items():
            where = f"jobs.{node_name}.outputs.{output_name}"
            if known_component and output_name not in declared_outputs:
                error(
                    where,
                    _missing(
                        f"output of component {component_name}", output_name, declared_outputs
                    ),
                )
            for text in _strings(value):
                for name in PARENT_OUTPUT.findall(text):
                    if name not in pipeline_outputs:
                        error(where, _missing("pipeline output", name, pipeline_outputs))
        for name, distribution in search_space.items():
            where = f"jobs.{node_name}.search_space.{name}"
            if known_component and name not in declared_inputs:
                error(
                    where, _missing(f"input of component {component_name}", name, declared_inputs)
                )
                continue
            if known_component:
                problems.extend(
                    _check_distribution(file, where, distribution, declared_inputs[name])
                )
        for text in _node_strings(node):
            used_inputs.update(PARENT_INPUT.findall(text))
    cycle = _cycle(nodes)
    if cycle:
        error("jobs", "jobs form a cycle: " + " -> ".join(cycle))
    for name in pipeline_inputs:
        if name not in used_inputs:
            problems.append(
                Problem(
                    file,
                    "pipeline input is not used by any job",
                    field=f"inputs.{name}",
                    severity="warning",
                )
            )
    return problems


class _ColumnMapping:
    """A flow component's dynamic input: an optional string, e.g. ``text: ${data.text}``."""

    type = "string"
    optional = True
    default = None


_COLUMN_MAPPING = _ColumnMapping()


def _node_inputs(node: Any) -> dict[str, Any]:
    """A node's input bindings; an AutoML node's are its data fields (training_data...)."""
    if getattr(node, "type", None) == "automl":
        from ..pipeline.automl import DATA_INPUTS

        return {
            name: getattr(node, name)
            for name in DATA_INPUTS
            if getattr(node, name, None) is not None
        }
    return dict(getattr(node, "_job_inputs", None) or {})


def _sweep_space(node: Any) -> dict[str, Any]:
    """A sweep node's search space, {input: distribution}.

    An AutoML image or NLP node's ``search_space`` is a list of spaces of the task's own
    settings (model_name, learning_rate...), not of component inputs: the SDK's schema checks
    it, and it binds nothing here.
    """
    space = getattr(node, "search_space", None)
    return dict(space) if isinstance(space, Mapping) else {}


def _cycle(nodes: dict[str, Any]) -> list[str] | None:
    """One cycle among the jobs' output bindings, as [a, b, ..., a]; None without one."""
    upstream = {
        name: {
            step
            for value in _node_inputs(node).values()
            for text in _strings(value)
            for step, _ in STEP_OUTPUT.findall(text)
            if step in nodes
        }
        for name, node in nodes.items()
    }
    finished: set[str] = set()
    path: list[str] = []  # the jobs being visited, each one an input of the one before

    def visit(name: str) -> list[str] | None:
        path.append(name)
        for step in sorted(upstream[name]):
            if step in path:
                return [*path[path.index(step) :], step]
            if step not in finished:
                found = visit(step)
                if found:
                    return found
        finished.add(path.pop())
        return None

    for name in nodes:
        if name not in finished:
            found = visit(name)
            if found:
                return list(reversed(found))  # in the direction the data flows
    return None


def check_local_paths(file: str, base: Path, job: Any) -> list[Problem]:
    """Local data paths (pipeline inputs, job inputs) that do not exist.

    A path is local unless it is an ``azureml:`` reference, a URL (``wasbs://``,
    ``https://``, ``azureml://``) or a registered asset's ``name@version``/``name:version``.
    """
    problems: list[Problem] = []

    def check(where: str, value: Any) -> None:
        raw = _raw(value)
        path = raw.get("path") if isinstance(raw, dict) else getattr(raw, "path", None)
        if not isinstance(path, str) or ANY_BINDING.search(path) or not _is_local(path, base):
            return
        if not (base / path).exists():
            problems.append(Problem(file, f"local path {path} does not exist", field=where))

    for name, pipeline_input in dict(getattr(job, "inputs", None) or {}).items():
        check(f"inputs.{name}", getattr(pipeline_input, "_data", pipeline_input))
    for node_name, node in dict(getattr(job, "jobs", None) or {}).items():
        for input_name, value in dict(getattr(node, "_job_inputs", None) or {}).items():
            check(f"jobs.{node_name}.inputs.{input_name}", value)
    return problems


ASSET_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*(?:@[\w.-]+|:[\w.-]+)$")


def _is_local(path: str, base: Path) -> bool:
    if path.startswith("azureml:") or re.match(r"^[a-z][a-z0-9+.-]*://", path):
        return False
    return not (ASSET_NAME.match(path) and not (base / path).exists())


def _component_name(component: Any, node_name: str) -> str:
    name = getattr(component, "name", None)
    source = getattr(component, "_source_path", None)
    if (not name or name == "azureml_anonymous") and source:
        return Path(source).parent.name  # components/<name>/component.yml
    return str(name or node_name)


def _node_strings(node: Any) -> list[str]:
    """Binding strings outside inputs (e.g. a sweep's early termination, compute settings)."""
    found = []
    for attribute in ("compute", "environment_variables"):
        value = getattr(node, attribute, None)
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            found.extend(str(v) for v in value.values())
    return found


def _missing(kind: str, name: str, known: dict[str, Any]) -> str:
    names = ", ".join(sorted(known)) or "none"
    return f"no {kind} '{name}' (known: {names})"


def _check_step_output(
    file: str, where: str, nodes: dict[str, Any], step: str, output: str
) -> list[Problem]:
    if step not in nodes:
        return [Problem(file, _missing("job", step, nodes), field=where)]
    component = _component_of(nodes[step])
    if component is None or isinstance(component, str):
        return []
    outputs = dict(getattr(component, "outputs", None) or {})
    if output not in outputs:
        return [Problem(file, _missing(f"output of job {step}", output, outputs), field=where)]
    return []


def _check_distribution(file: str, where: str, distribution: Any, spec: Any) -> list[Problem]:
    kind = str(getattr(distribution, "type", "")).lower()
    declared = _declared_type(spec)
    problems = []
    if kind == "choice":
        for index, value in enumerate(getattr(distribution, "values", None) or []):
            why = type_error(declared, value, getattr(spec, "enum", None))
            if why:
                problems.append(Problem(file, why, field=f"{where}.values[{index}]"))
    elif kind in NUMERIC_DISTRIBUTIONS:
        if declared not in ("number", "integer"):
            problems.append(
                Problem(file, f"{kind} samples numbers, but the input is {declared}", field=where)
            )
        for field in ("min_value", "max_value", "mu", "sigma", "q", "upper"):
            value = getattr(distribution, field, None)
            if value is not None and type_error("number", value):
                problems.append(
                    Problem(file, type_error("number", value), field=f"{where}.{field}")
                )
    return problems
