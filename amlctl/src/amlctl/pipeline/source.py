"""Pipeline files, YAML or Python: one entry point that turns a path into a loaded PipelineJob.

A pipeline is a YAML pipeline job (``pipelines/training.yml``) or a Python file that builds
one with azure-ai-ml's ``@dsl.pipeline`` (``pipelines/training.py``). A Python file is named
``FILE.py`` or ``FILE.py:NAME``; NAME is a ``@dsl.pipeline`` function (called without
arguments, so every parameter needs a default) or a module-level pipeline job. Without
NAME the file must hold exactly one module-level pipeline job, or else exactly one pipeline
function.

The built job is written out as the YAML definition it stands for: nodes whose component
was loaded from a component YAML point at that file again (by a path relative to the
pipeline file), components built in Python (``command()``, mldesigner's
``@command_component``) stay inline. ``validate``, ``run --local``, ``submit`` and
``publish`` read that definition exactly as they read a YAML file, so both kinds of file
get the same checks, the same local graph and the same cache keys.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import inspect
import io
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..inputs import literal_type
from ..project import ProjectError, quiet_azure_ml, work_root
from ..state import file_sha

PYTHON_SUFFIXES = (".py",)
YAML_SUFFIXES = (".yml", ".yaml")
# What mldesigner's @command_component accepts as a parameter annotation.
SUPPORTED_ANNOTATIONS = "int, float, bool, str, Input(...) or Output(...)"


@dataclass(frozen=True)
class PipelineFile:
    """A pipeline file as named on the command line: the file, and for Python a name in it."""

    path: Path
    name: str | None = None

    @property
    def is_python(self) -> bool:
        return self.path.suffix in PYTHON_SUFFIXES

    def __str__(self) -> str:
        return f"{self.path}:{self.name}" if self.name else str(self.path)


def parse(spec: str | os.PathLike[str]) -> PipelineFile:
    """``pipelines/training.py:training`` -> (pipelines/training.py, "training")."""
    text = os.fspath(spec)
    file, sep, name = text.rpartition(":")
    if sep and file.endswith(PYTHON_SUFFIXES) and name.isidentifier():
        return PipelineFile(Path(file), name)
    return PipelineFile(Path(text))


def sdk_origin(path: Path) -> Path:
    """The origin to give azure-ai-ml when it loads the definition built from ``path``.

    Relative paths in the definition resolve from the origin's folder, the pipeline file's.
    For a Python file it is a name beside it that does not exist: the SDK reads an existing
    origin back as YAML (to keep parameter defaults as written), which a .py file is not.
    """
    if path.suffix not in PYTHON_SUFFIXES:
        return path
    return path.with_name(f"{path.name}.definition.yml")


def _shown(path: Path) -> str:
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive
        return str(path)
    return str(path) if relative.startswith("..") else relative


def load_pipeline_job(spec: str | os.PathLike[str]) -> tuple[Any, dict[str, str]]:
    """The PipelineJob a pipeline file defines, and the files it was built from (path -> sha256).

    A YAML file is loaded with ``azure.ai.ml.load_job`` as it is; a Python file is imported,
    built and reloaded from its YAML definition (see the module docstring). Errors a user can
    fix raise ``ProjectError`` with one line.
    """
    source = parse(spec)
    path = source.path.resolve()
    if not path.is_file():
        raise ProjectError(f"pipeline file not found: {source.path}")
    quiet_azure_ml()
    from azure.ai.ml import load_job

    if not source.is_python:
        return load_job(path), {str(path): file_sha(path)}
    definition, sources = python_definition(source)
    return load_definition(definition, path), sources


def pipeline_definition(spec: str | os.PathLike[str]) -> tuple[dict[str, Any], Path]:
    """The YAML definition of a pipeline file (read, or built from Python) and its file.

    For ``submit`` and ``publish``, which rewrite the definition (registered components, data
    assets, tags) before loading it.
    """
    source = parse(spec)
    if not source.path.is_file():
        raise ProjectError(f"pipeline file not found: {source.path}")
    if source.is_python:
        quiet_azure_ml()
        return python_definition(source)[0], source.path
    import yaml

    try:
        data = yaml.safe_load(source.path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ProjectError(f"cannot read {source.path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ProjectError(f"{source.path} must be a YAML mapping")
    return data, source.path


PIPELINE_COMPONENT_SCHEMA = (
    "https://azuremlschemas.azureedge.net/latest/pipelineComponent.schema.json"
)


def pipeline_component_definition(
    spec: str | os.PathLike[str], name: str | None = None
) -> tuple[dict[str, Any], Path, list[Path]]:
    """A pipeline file as a pipeline component definition, for publishing behind an endpoint.

    A pipeline component YAML is returned as it is. A pipeline job (YAML or Python) becomes
    the pipeline component with its steps and wiring: each pipeline input is declared with
    its value as default, a data input without one (it is given when the endpoint is
    invoked); settings and the experiment stay with the job. Also returns the code folders
    of inline components (built in Python), which their content version must cover.
    """
    source = parse(spec)
    definition, origin = pipeline_definition(spec)
    if not source.is_python and "pipelinecomponent" in str(definition.get("$schema", "")).lower():
        return definition, origin, []
    inputs: dict[str, Any] = {}
    for input_name, value in (definition.get("inputs") or {}).items():
        if isinstance(value, dict) and "path" in value:
            inputs[input_name] = {"type": value.get("type", "uri_folder")}
        elif isinstance(value, dict):
            inputs[input_name] = value
        else:
            inputs[input_name] = {"type": literal_type(value), "default": value}
    component_name = name or definition.get("name") or origin.stem.replace("-", "_")
    code_folders = []
    for node in (definition.get("jobs") or {}).values():
        inline = node.get("component") if isinstance(node, dict) else None
        if isinstance(inline, dict) and isinstance(inline.get("code"), str):
            folder = (origin.parent / inline["code"]).resolve()
            if folder.is_dir():
                code_folders.append(folder)
    component = {
        "$schema": PIPELINE_COMPONENT_SCHEMA,
        "type": "pipeline",
        "name": component_name,
        **{
            key: definition[key]
            for key in ("display_name", "description", "tags")
            if definition.get(key)
        },
        "inputs": inputs,
        "outputs": definition.get("outputs") or {},
        "jobs": definition.get("jobs") or {},
    }
    return component, origin, code_folders


def load_definition(definition: dict[str, Any], origin: Path) -> Any:
    """A PipelineJob from a definition, relative paths in it resolved from ``origin``."""
    import yaml
    from azure.ai.ml import load_job

    text = yaml.safe_dump(definition, sort_keys=False)
    try:
        return load_job(source=io.StringIO(text), relative_origin=str(sdk_origin(origin)))
    except Exception as exc:  # the SDK raises marshmallow, azure and plain errors alike
        first = next((line for line in str(exc).splitlines() if line.strip()), "")
        raise ProjectError(
            f"{_shown(origin)}: the pipeline it builds does not load back as a pipeline job: "
            f"{type(exc).__name__}: {first.strip()}"
        ) from exc


def python_definition(source: PipelineFile) -> tuple[dict[str, Any], dict[str, str]]:
    """The YAML definition of the job a Python pipeline file builds, and its source files."""
    path = source.path.resolve()
    job, module_files = build_python_job(source)
    if getattr(job, "type", None) != "pipeline":
        raise ProjectError(f"{source}: builds a {type(job).__name__}, not a pipeline job")
    try:
        definition = job._to_dict()
    except Exception as exc:  # the SDK's serialisation of a job it built
        raise ProjectError(
            f"{source}: the pipeline job cannot be written out: {type(exc).__name__}: {exc}"
        ) from exc
    _local_paths(definition.get("inputs") or {})
    sources = {str(path): file_sha(path)}
    for file in module_files:
        sources.setdefault(str(file), file_sha(file))
    jobs = definition.get("jobs") or {}
    for node_name, node in job.jobs.items():
        key = "trial" if getattr(node, "type", None) == "sweep" else "component"
        component = getattr(node, key, None)
        component_file = _component_file(component, YAML_SUFFIXES)
        raw = jobs.get(node_name)
        if isinstance(raw, dict) and component_file is not None and key in raw:
            raw[key] = Path(os.path.relpath(component_file, path.parent)).as_posix()
            sources[str(component_file)] = file_sha(component_file)
            # a parallel node is written with a copy of its component's task, its code path
            # mangled (azureml:./src); the component file holds the task
            raw.pop("task", None)
        else:
            if isinstance(raw, dict) and isinstance(raw.get(key), dict):
                _typed_declarations(raw[key].get("inputs") or {})
            python_file = _component_file(component, PYTHON_SUFFIXES)
            if python_file is not None:
                sources.setdefault(str(python_file), file_sha(python_file))
        if isinstance(raw, dict):
            _local_paths(raw.get("inputs") or {})
    return definition, sources


def _local_paths(inputs: dict[str, Any]) -> None:
    """Undo the SDK writing a local absolute path as ``azureml:/abs/path`` (an asset id)."""
    for spec in inputs.values():
        path = spec.get("path") if isinstance(spec, dict) else None
        if (
            isinstance(path, str)
            and path.startswith("azureml:/")
            and not path.startswith("azureml://")
        ):
            local = Path(path.removeprefix("azureml:"))
            if local.is_absolute() and local.exists():
                spec["path"] = str(local)


NUMERIC_FIELDS = ("default", "min", "max")


def _typed_declarations(inputs: dict[str, Any]) -> None:
    """Inline components are written with numbers as strings ('20'): write them as numbers."""
    casts = {"integer": int, "number": float}
    for spec in inputs.values():
        if not isinstance(spec, dict):
            continue
        kind = spec.get("type")
        for field in NUMERIC_FIELDS:
            value = spec.get(field)
            if not isinstance(value, str):
                continue
            if kind in casts:
                with contextlib.suppress(ValueError):  # the SDK's validation reports it
                    spec[field] = casts[kind](value)
            elif kind == "boolean" and value.lower() in ("true", "false"):
                spec[field] = value.lower() == "true"


def _component_file(component: Any, suffixes: tuple[str, ...]) -> Path | None:
    """The file (YAML, or the Python of a decorated function) a component was made from."""
    source = getattr(component, "_source_path", None)
    if not source or isinstance(component, str):
        return None
    file = Path(str(source)).resolve()
    return file if file.suffix in suffixes and file.is_file() else None


def build_python_job(source: PipelineFile) -> tuple[Any, list[Path]]:
    """Import the file and build its pipeline job; also the project files it imported."""
    path = source.path.resolve()
    module = _import(path)
    module_files = [
        Path(file).resolve()
        for file in {getattr(m, "__file__", None) for m in list(sys.modules.values())}
        if file and _imported_from(Path(file), work_root(path.parent))
    ]
    target = _pick(module, source)
    if _is_pipeline_job(target):
        return target, module_files
    required = [
        name
        for name, parameter in inspect.signature(target).parameters.items()
        if parameter.default is inspect.Parameter.empty
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    ]
    if required:
        jobs = [name for name, value in vars(module).items() if _is_pipeline_job(value)]
        hint = f", or name a pipeline job: {_shown(source.path)}:{jobs[0]}" if jobs else ""
        raise ProjectError(
            f"{_shown(source.path)}: pipeline function {target.__name__} is called without "
            f"arguments, but {', '.join(required)} has no default; give it one{hint}"
        )
    try:
        job = target()
    except TypeError as exc:
        raise ProjectError(
            f"{_shown(source.path)}: pipeline function {target.__name__} cannot be called without "
            f"arguments; give every parameter a default ({exc})"
        ) from exc
    except ProjectError:
        raise
    except Exception as exc:
        raise ProjectError(_raised(exc, path, f"pipeline function {target.__name__}")) from exc
    if not _is_pipeline_job(job):
        raise ProjectError(
            f"{_shown(source.path)}: {target.__name__} returned {type(job).__name__}, not a "
            "pipeline job (decorate it with @dsl.pipeline)"
        )
    return job, module_files


def _imported_from(file: Path, project: Path) -> bool:
    """A module file of the project (not of an installed package): the graph depends on it."""
    try:
        file.resolve().relative_to(project)
    except ValueError:
        return False
    return "site-packages" not in file.parts and file.suffix in PYTHON_SUFFIXES


def _import(path: Path) -> Any:
    """Import a pipeline file as ``python FILE`` would (its folder first on sys.path)."""
    name = f"amlctl_pipeline_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ProjectError(f"{_shown(path)}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    saved_path = list(sys.path)  # what the file adds to sys.path stays with its import
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except SystemExit as exc:
        sys.modules.pop(name, None)
        raise ProjectError(f"{_shown(path)}: exits on import (code {exc.code})") from None
    except Exception as exc:
        sys.modules.pop(name, None)
        raise ProjectError(_raised(exc, path, "import")) from exc
    finally:
        sys.path[:] = saved_path
    return module


def _raised(exc: BaseException, path: Path, during: str) -> str:
    """One line for an exception raised by user code: where, what, and a hint for mldesigner."""
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if frame.filename
        and not frame.filename.startswith("<")
        and "site-packages" not in Path(frame.filename).parts
        and Path(frame.filename).resolve() != Path(__file__).resolve()
    ]
    where = _shown(path)
    if frames:
        last = frames[-1]
        where = f"{_shown(Path(last.filename))}:{last.lineno}"
    message = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    message = message.split(", expected instance types")[0]  # mldesigner lists its types
    if "Unsupported annotation type" in message:
        as_text = "<class '" not in message  # a string: the annotation was never evaluated
        message = message.replace("<class '", "").replace("'>", "").rstrip(".")
        hint = (
            "annotations are strings under `from __future__ import annotations`: "
            "remove that import from this file"
            if as_text
            else f"a parameter is one of {SUPPORTED_ANNOTATIONS}"
        )
        return f"{where}: {message} ({hint})"
    shown = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    if during == "import":
        return f"{where}: raised on import of {_shown(path)}: {shown}"
    return f"{where}: raised while {during} built the job: {shown}"


def _is_pipeline_job(value: Any) -> bool:
    return type(value).__name__ == "PipelineJob" and type(value).__module__.startswith("azure.")


def _is_pipeline_function(value: Any) -> bool:
    return callable(value) and getattr(value, "_is_dsl_func", False) is True


def _pick(module: Any, source: PipelineFile) -> Any:
    """The named object, else the only module-level job, else the only pipeline function."""
    members = {name: value for name, value in vars(module).items() if not name.startswith("_")}
    jobs = sorted(name for name, value in members.items() if _is_pipeline_job(value))
    functions = sorted(name for name, value in members.items() if _is_pipeline_function(value))
    defined = ", ".join(jobs + functions) or "none"
    if source.name:
        if source.name not in members:
            raise ProjectError(
                f"{_shown(source.path)}: no pipeline function or job '{source.name}' "
                f"(pipeline functions and jobs: {defined})"
            )
        value = members[source.name]
        if not (_is_pipeline_job(value) or _is_pipeline_function(value)):
            raise ProjectError(
                f"{source}: '{source.name}' is a {type(value).__name__}, not a @dsl.pipeline "
                f"function or a pipeline job (pipeline functions and jobs: {defined})"
            )
        return value
    for candidates in (jobs, functions):
        if len(candidates) == 1:
            return members[candidates[0]]
        if len(candidates) > 1:
            raise ProjectError(
                f"{_shown(source.path)}: defines several pipelines ({', '.join(candidates)}); "
                f"name one: {_shown(source.path)}:{candidates[0]}"
            )
    raise ProjectError(
        f"{_shown(source.path)}: defines no @dsl.pipeline function and no module-level pipeline job"
    )
