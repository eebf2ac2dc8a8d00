"""Pipeline jobs (and the pipeline components used as their nodes) flattened into steps.

A node of ``type: pipeline`` is expanded in place, to any depth: its inner steps are
named by their full path (``outer/inner/step``), its inputs are bound through to the
inner steps, and ``${{parent.jobs.outer.outputs.x}}`` resolves to the inner step output
that the component binds to its output ``x``. Nodes this runner cannot execute are all
reported at once, one line per node, before anything runs.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from ..expressions import ANY_BINDING, PARENT_OUTPUT
from ..project import ProjectError
from ..state import file_sha
from .graph import LOCAL_NODE_TYPES, NOT_LOCAL, PATH_TYPES_GRAPH, Binding, Step
from .nodes import attr, local_path, sweep_settings, to_binding, to_component

# every command and sweep job has this output in Azure ML: the job's artifact folder
# (what it wrote to ./outputs and ./logs)
DEFAULT_OUTPUT = "artifacts"


# what azure-ai-ml makes of a flow.dag.yaml (or a promptflow Run YAML) used as a component
FLOW_COMPONENT = "promptflow_parallel"


def _shown(path: Path, base: Path) -> str:
    try:
        return Path(os.path.relpath(path.resolve(), base)).as_posix()
    except ValueError:  # another drive
        return path.as_posix()


def yaml_key(step: str) -> str:
    """``outer/inner`` -> ``jobs.outer.jobs.inner`` (the key of the node in the YAML)."""
    return "jobs." + ".jobs.".join(step.split("/"))


def step_path(key: str) -> str:
    """``outer.jobs.inner`` (after ``jobs.``) -> ``outer/inner``."""
    return "/".join(key.split(".jobs."))


class _Expansion:
    def __init__(self, data_assets: dict[str, Path], sources: dict[str, str], file: str) -> None:
        self.data_assets = data_assets
        self.sources = sources
        self.file = file
        self.steps: dict[str, Step] = {}
        self.aliases: dict[str, str] = {}  # "outer.x" -> "outer/inner.y"
        self.problems: list[str] = []
        self.refused: set[str] = set()  # nodes with a problem: bindings to them say nothing more

    def jobs(
        self,
        jobs: dict[str, Any],
        scope: dict[str, Binding | None],
        prefix: str,
        base,
        files: dict[str, str] | None = None,
    ):
        """``files``: the file names of the enclosing pipeline's uri_file outputs."""
        for name, node in jobs.items():
            self.node(prefix + name, node, scope, prefix, base, files or {})

    def node(self, full: str, node: Any, scope, prefix: str, base: Path, files) -> None:
        known = len(self.problems)
        self._node(full, node, scope, prefix, base, files)
        if len(self.problems) > known and full not in self.steps:
            self.refused.add(full)

    def _node(self, full: str, node: Any, scope, prefix: str, base: Path, files) -> None:
        from ..cli import PROG

        key = yaml_key(full)
        node_type = getattr(node, "type", None) or type(node).__name__
        if node_type in NOT_LOCAL or (
            node_type not in LOCAL_NODE_TYPES and node_type != "pipeline"
        ):
            what = NOT_LOCAL.get(node_type, f"a {node_type} node")
            self.problems.append(
                f"{key}: {what} runs only in Azure ML; submit the pipeline with "
                f"`{PROG} submit`, or replace the node with a command step to run it locally"
            )
            return
        if node_type == "automl":  # no component: the node itself is the job (a local stand-in)
            from .automl import automl_step

            try:
                step = automl_step(
                    full, node, lambda raw: self.binding(raw, scope, prefix, base, key)
                )
            except ProjectError as exc:  # its messages already start with the node's key
                message = str(exc)
                self.problems.append(message if message.startswith(key) else f"{key}: {message}")
                return
            self.steps[full] = step
            return
        component = node.trial if node_type == "sweep" else node.component
        if isinstance(component, str) or component is None:
            shown = component if str(component).startswith("azureml:") else f"azureml:{component}"
            self.problems.append(
                f"{key}: registered component {shown} comes from a workspace; reference "
                f"its YAML file (component: ./path/component.yml) to run it locally"
            )
            return
        if getattr(component, "type", None) == FLOW_COMPONENT:
            flow = Path(component.base_path) / str(getattr(component, "flow", "") or "")
            self.problems.append(
                f"{key}: a prompt flow ({_shown(flow, base)}) runs only in Azure ML, where its "
                f"connections are; submit the pipeline with `{PROG} submit`"
            )
            return
        bindings = {}
        for input_name, raw in (node._job_inputs or {}).items():
            binding = self.binding(raw, scope, prefix, base, f"{key}.inputs.{input_name}")
            if binding is not None:
                binding.keys = [*binding.keys, f"{key}.inputs.{input_name}"]
                bindings[input_name] = binding
        if node_type == "pipeline":
            self.pipeline_node(full, node, component, bindings, output_files(node, files))
            return
        try:
            spec = to_component(component, self.sources)
        except ProjectError as exc:
            self.problems.append(f"{key}: {exc}")
            return
        node_variables = getattr(node, "environment_variables", None) or {}
        spec.environment_variables.update({str(k): str(v) for k, v in node_variables.items()})
        for input_name, binding in bindings.items():
            kind = spec.inputs.get(input_name, {}).get("type")
            if binding.kind == "literal" and kind in PATH_TYPES_GRAPH:
                bindings[input_name] = self.path_binding(binding.value, base, binding.keys)
        outputs: dict[str, str | None] = dict.fromkeys(spec.outputs)
        if node_type != "parallel" and DEFAULT_OUTPUT not in outputs:
            outputs[DEFAULT_OUTPUT] = None
        for output_name, raw in (node._job_outputs or {}).items():
            target = attr(raw, "path") if not isinstance(raw, str) else raw
            match = PARENT_OUTPUT.fullmatch(str(target)) if target else None
            if match and prefix:  # bound to the enclosing pipeline component's output
                self.aliases[f"{prefix[:-1]}.{match.group(1)}"] = f"{full}.{output_name}"
            outputs[output_name] = match.group(1) if match and not prefix else None
        sweep: dict[str, Any] = sweep_settings(node) if node_type == "sweep" else {}
        if node_type == "parallel":
            _parallel_node_settings(node, spec.parallel)
        step = Step(full, node_type, spec, bindings, outputs, sweep)
        step.output_files = output_files(node, files)
        step.distribution, step.instance_count = _distribution(node)
        if node_type == "spark":
            resources = getattr(node, "resources", None)
            version = attr(resources, "runtime_version") if resources is not None else None
            step.runtime_version = str(version) if version else ""
        self.steps[full] = step

    def pipeline_node(self, full: str, node: Any, component: Any, bindings, files) -> None:
        inner_scope: dict[str, Binding | None] = {}
        for input_name, spec in (component.inputs or {}).items():
            binding = bindings.get(input_name)
            default = attr(spec, "default")
            if binding is None and default is not None:
                binding = Binding("literal", value=default)
            inner_scope[input_name] = binding
        for input_name in bindings:
            if input_name not in (component.inputs or {}):
                self.problems.append(
                    f"{yaml_key(full)}.inputs.{input_name}: the pipeline component has no "
                    f"input '{input_name}'"
                )
        inner_base = Path(component.base_path).resolve()
        source = getattr(component, "_source_path", None)
        if source and Path(source).is_file():
            self.sources[str(Path(source).resolve())] = file_sha(Path(source))
        prefix = full.rsplit("/", 1)[0] + "/" if "/" in full else ""
        for output_name, raw in (node._job_outputs or {}).items():
            target = attr(raw, "path") if not isinstance(raw, str) else raw
            match = PARENT_OUTPUT.fullmatch(str(target)) if target else None
            if match and prefix:
                self.aliases[f"{prefix[:-1]}.{match.group(1)}"] = f"{full}.{output_name}"
        self.jobs(component.jobs, inner_scope, full + "/", inner_base, files)

    def binding(self, raw: Any, scope, prefix: str, base: Path, where: str) -> Binding | None:
        binding = to_binding(raw, base, self.data_assets)
        if binding is None:
            return None
        if binding.kind == "parent":
            if binding.ref not in scope:
                self.problems.append(f"{where}: no pipeline input '{binding.ref}'")
                return None
            bound = scope[binding.ref]
            return copy.deepcopy(bound) if bound is not None else None
        if binding.kind == "step":
            return Binding("step", f"{prefix}{binding.ref}")
        return binding

    def path_binding(self, value: Any, base: Path, keys: list[str]) -> Binding:
        try:
            return Binding("path", value=local_path(value, base, self.data_assets), keys=keys)
        except ProjectError:
            return Binding("remote", value=str(value), keys=keys)

    def resolve_aliases(self) -> None:
        for step in self.steps.values():
            for input_name, binding in step.inputs.items():
                seen = set()
                while binding.kind == "step" and binding.ref in self.aliases:
                    if binding.ref in seen:
                        break
                    seen.add(binding.ref)
                    binding.ref = self.aliases[binding.ref]
                if binding.kind == "step" and binding.step in self.refused:
                    continue
                if binding.kind == "step" and (
                    binding.step not in self.steps
                    or binding.output not in self.steps[binding.step].outputs
                ):
                    self.problems.append(
                        f"{yaml_key(step.name)}.inputs.{input_name}: no step output '{binding.ref}'"
                    )


def file_name(output: Any) -> str | None:
    """The file name a uri_file output's path ends with (``.../paths/${{name}}/hello.txt``)."""
    path = attr(output, "path") if not isinstance(output, str) else None
    if not isinstance(path, str) or path.endswith("/") or ANY_BINDING.search(path.split("/")[-1]):
        return None
    return path.rsplit("/", 1)[-1] or None


def output_files(node: Any, files: dict[str, str]) -> dict[str, str]:
    """{output: file name} of a node: from a path it gives the output, or from the output of
    the enclosing pipeline it is bound to (``${{parent.outputs.x}}``)."""
    found = {}
    for output_name, raw in (getattr(node, "_job_outputs", None) or {}).items():
        target = attr(raw, "path") if not isinstance(raw, str) else raw
        match = PARENT_OUTPUT.fullmatch(str(target)) if target else None
        name = files.get(match.group(1)) if match else file_name(raw)
        if name:
            found[output_name] = name
    return found


def expand_jobs(
    jobs: dict[str, Any],
    inputs: dict[str, dict[str, Any]],
    base: Path,
    data_assets: dict[str, Path],
    sources: dict[str, str],
    file: str,
    outputs: dict[str, Any] | None = None,
) -> dict[str, Step]:
    """Every step of the pipeline, pipeline components expanded; all problems in one error.

    ``outputs`` are the pipeline's own (their paths may name files)."""
    expansion = _Expansion(data_assets, sources, file)
    scope: dict[str, Binding | None] = {name: Binding("parent", name) for name in inputs}
    files = {name: found for name, out in (outputs or {}).items() if (found := file_name(out))}
    expansion.jobs(jobs, scope, "", base, files)
    expansion.resolve_aliases()
    if expansion.problems:
        raise ProjectError("\n".join(f"{file}: {line}" for line in expansion.problems))
    return expansion.steps


def _parallel_node_settings(node: Any, parallel: dict[str, Any]) -> None:
    for key in (
        "mini_batch_size",
        "error_threshold",
        "mini_batch_error_threshold",
        "max_concurrency_per_instance",
        "logging_level",
        "partition_keys",
    ):
        value = getattr(node, key, None)
        if value is not None and not (key == "mini_batch_size" and not value):
            parallel[key] = value
    retry = getattr(node, "retry_settings", None)
    if retry is not None:
        for key in ("max_retries", "timeout"):
            if attr(retry, key) is not None:
                parallel[key] = attr(retry, key)
    resources = getattr(node, "resources", None)
    count = attr(resources, "instance_count") if resources is not None else None
    if count:
        parallel["instance_count"] = int(count)


def _distribution(node: Any) -> tuple[dict[str, Any], int]:
    resources = getattr(node, "resources", None)
    count = attr(resources, "instance_count") if resources is not None else None
    distribution = getattr(node, "distribution", None)
    if distribution is None:
        return {}, int(count or 1)
    kind = str(attr(distribution, "type") or "").lower()
    settings: dict[str, Any] = {"type": kind}
    for name in ("process_count_per_instance", "worker_count", "parameter_server_count"):
        value = attr(distribution, name)
        if value is not None:
            settings[name] = int(value)
    return settings, int(count or 1)


def remote_problems(pipeline: Any, values: dict[str, Any]) -> list[str]:
    """One line per remote path a step would read: its YAML key and the `--set` replacing it."""
    problems: list[str] = []
    for step in pipeline.steps.values():
        for binding in step.inputs.values():
            if binding.kind == "remote":
                origin = binding.keys[0] if binding.keys else yaml_key(step.name)
                problems.append(
                    f"{origin}.path: {binding.value} cannot be read offline; give a local copy "
                    f"with --set {origin}=PATH"
                )
            elif binding.kind == "parent" and values.get(binding.ref) is None:
                remote = pipeline.inputs.get(binding.ref, {}).get("remote")
                if remote:
                    problems.append(
                        f"inputs.{binding.ref}.path: {remote} cannot be read offline; give a local "
                        f"copy with --set {binding.ref}=PATH"
                    )
    return list(dict.fromkeys(problems))
