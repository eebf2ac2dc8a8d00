"""`validate`: load every Azure ML YAML in the project and check it offline.

Each file is loaded with azure-ai-ml, then checked by the SDK's own offline validation
(``MLClient.components.validate`` / ``MLClient.jobs.validate``) and by ``bindings``
for what the SDK misses. Problems are printed as ``file: path.to.field: message``;
the exit code is 1 when any of them is an error (warnings alone exit 0).
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..problems import Problem
from ..project import ProjectError, layout, project_root

OFFLINE_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="*",
        type=Path,
        metavar="FILE",
        help="Azure ML YAML files or Python pipeline files (FILE.py[:NAME]) to validate, "
        "anywhere (default: every file of the project)",
    )
    parser.add_argument(
        "--root", type=Path, default=None, help="project folder (default: found from the cwd)"
    )


def main(args: argparse.Namespace) -> int:
    started = time.monotonic()
    if args.files:
        problems, checked = validate_files(args.files)
    else:
        problems, checked = validate_project(project_root(args.root))
    for problem in problems:
        print(problem)
    errors = sum(p.severity == "error" for p in problems)
    warnings = sum(p.severity == "warning" for p in problems)
    notes = len(problems) - errors - warnings
    took = time.monotonic() - started
    summary = f"{checked} files checked in {took:.1f} s: {errors} errors, {warnings} warnings"
    print(summary + (f", {notes} notes" if notes else ""))
    return 1 if errors else 0


OFFLINE = "offline validation does not authenticate"


class _OfflineCredential:
    """Any credential object will do: the SDK's offline checks never ask for a token.

    Only its look-up of a named compute (``MLClient.jobs.validate`` resolves each
    ``compute: azureml:<name>`` to its ARM id) does; that error is turned into a note by
    ``_offline_compute``.
    """

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        raise RuntimeError(OFFLINE)


def project_files(root: Path) -> Iterator[tuple[str, Path]]:
    """(kind, file) for every Azure ML YAML in the project layout."""

    def yamls(folder: Path, pattern: str = "*.y*ml") -> list[Path]:
        return sorted(folder.glob(pattern)) if folder.is_dir() else []

    where = layout(root)
    for file in yamls(where.environments, "*/environment.y*ml"):
        yield "environment", file
    for file in yamls(where.data):
        yield "data", file
    for file in yamls(where.components, "*/component.y*ml"):
        yield "component", file
    for file in yamls(where.pipelines):
        yield "pipeline", file
    for file in yamls(where.pipelines, "*.py"):  # @dsl.pipeline files
        yield "pipeline", file
    for file in yamls(where.schedules):
        yield "schedule", file
    for file in yamls(where.publish):
        yield "publish", file
    for file in yamls(where.online):  # online endpoint, its deployment, the model monitor
        yield kind_of(file), file


def kind_of(file: Path) -> str:
    """What an Azure ML YAML file defines, from its ``$schema`` or, without one, its keys."""
    import yaml

    from ..pipeline import yamlfile
    from ..pipeline.source import parse

    if parse(file).is_python:
        return "pipeline"

    try:
        data = yamlfile.load(file)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return "component"  # validate_file reports the syntax error
    if not isinstance(data, dict):
        return "component"
    schema = str(data.get("$schema", "")).lower()
    for marker, kind in SCHEMA_KINDS:
        if marker in schema:
            return kind
    if "trigger" in data and ("create_job" in data or "create_monitor" in data):
        return "schedule"
    if "endpoint_name" in data and ("code_configuration" in data or "instance_type" in data):
        return "online_deployment"
    if "jobs" in data and not data.get("version"):
        return "pipeline"
    if data.get("type") in ("uri_file", "uri_folder", "mltable") and "path" in data:
        return "data"
    if ("image" in data or "build" in data) and "command" not in data and "jobs" not in data:
        return "environment"
    if data.get("type") in ("command", "sweep", "spark", "parallel") and not data.get("version"):
        return "pipeline" if "jobs" in data else "job"
    return "component"


# ($schema fragment, kind), the more specific first
SCHEMA_KINDS = (
    ("onlineendpoint", "online_endpoint"),
    ("onlinedeployment", "online_deployment"),
    ("pipelinejob", "pipeline"),
    ("schedule", "schedule"),
    ("batchendpoint", "publish"),
    ("batchdeployment", "publish"),
    ("pipelinecomponent", "publish"),
    ("component", "component"),
    ("job", "job"),
    ("environment", "environment"),
    ("data", "data"),
)


def validate_files(files: list[Path]) -> tuple[list[Problem], int]:
    """Problems of the given files, wherever they are, each read as what it defines."""
    from ..pipeline.source import parse

    missing = [str(parse(file).path) for file in files if not parse(file).path.is_file()]
    if missing:
        raise ProjectError(f"no such file: {', '.join(missing)}")
    return _validate([(kind_of(file), file.resolve()) for file in files], Path.cwd().resolve())


def validate_project(root: Path) -> tuple[list[Problem], int]:
    """All problems of the project's YAML files, and how many files were checked."""
    return _validate(list(project_files(root)), root)


def _validate(files: list[tuple[str, Path]], root: Path) -> tuple[list[Problem], int]:
    from ..project import quiet_azure_ml

    quiet_azure_ml()
    import azure.ai.ml as aml
    from azure.ai.ml.entities import _load_functions as loaders

    client = aml.MLClient(
        _OfflineCredential(), OFFLINE_SUBSCRIPTION, "offline-validation", "offline-validation"
    )
    problems: list[Problem] = []
    for kind, file in files:
        relative = (
            file.relative_to(root).as_posix() if file.is_relative_to(root) else file.as_posix()
        )
        try:
            problems.extend(validate_file(kind, file, relative, aml, loaders, client))
        except Exception as exc:  # an SDK failure on one file must not hide the others
            problems.append(Problem(relative, f"{type(exc).__name__}: {exc}", field="(validate)"))
    unique: dict[tuple[str, str, str], Problem] = {}
    for problem in problems:  # the SDK and our checks may both report a field: keep the first
        unique.setdefault((problem.file, problem.field, problem.severity), problem)
    return list(unique.values()), len(files)


def validate_file(
    kind: str, file: Path, relative: str, aml: Any, loaders: Any, client: Any
) -> list[Problem]:
    from ..pipeline.references import reference_problems
    from ..pipeline.representatives import full_view, members
    from ..pipeline.source import load_pipeline_job, parse
    from .bindings import check_local_paths, check_pipeline

    python = parse(file).is_python
    syntax = None if python else _yaml_problem(file, relative)
    if syntax:
        return [syntax]
    missing = [] if python else reference_problems(file)
    if missing:  # the SDK would answer with pages of nested schema errors
        return [Problem(relative, message, field=where) for where, message in missing]
    loader: Callable[[Path], Any]
    if python:
        try:
            loaded = load_pipeline_job(file)[0]
        except ProjectError as exc:  # raised on import, no such function, cannot be built...
            return [Problem(relative, str(exc), field="(load)")]
        loader = lambda _file: loaded  # noqa: E731
    elif kind == "environment":
        loader = aml.load_environment
    elif kind == "data":
        loader = aml.load_data
    elif kind == "component":
        loader = aml.load_component
    elif kind in ("pipeline", "job"):
        loader = aml.load_job
    elif kind == "schedule":
        loader = loaders.load_schedule
    elif kind == "online_endpoint":
        loader = aml.load_online_endpoint
    elif kind == "online_deployment":
        loader = aml.load_online_deployment
    else:
        loader = _publish_loader(file, aml, loaders)
    if kind == "schedule":
        unknown = _unknown_monitor_signals(file, relative)
        if unknown:  # the SDK fails on them with a bare NotImplementedError
            return unknown
    spec: dict[str, Any] = {}
    standing: dict[str, str] = {}
    if kind == "pipeline" and not python:  # the SDK sees one node per kind of node
        loader, spec, standing = _representatives_loader(file, aml, loader)
    stands_for = members(standing)
    try:
        loaded = loader(file)
    except Exception as exc:  # the SDK raises marshmallow, azure and plain errors alike
        from ..pipeline.loader import pipeline_component

        # a pipeline component without a $schema reads like a pipeline job; `run` runs it
        component = pipeline_component(file) if kind == "pipeline" and not python else None
        if component is None:
            return _spread(_load_problems(relative, exc), stands_for)
        loaded, kind = component, "component"
    problems: list[Problem] = []
    if kind == "component":
        problems += _sdk_result(relative, client.components.validate(loaded))
        if getattr(loaded, "type", None) == "pipeline":
            problems += check_pipeline(relative, loaded)
    elif kind == "pipeline":
        if getattr(loaded, "type", None) != "pipeline":
            return [Problem(relative, f"expected a pipeline job, got {loaded.type}", field="type")]
        result = _spread(_sdk_result(relative, client.jobs.validate(loaded)), stands_for)
        problems += _offline_compute(relative, result)
        every_node = full_view(loaded, spec, standing)
        problems += check_pipeline(relative, every_node)
        problems += check_local_paths(relative, file.parent, every_node)
    elif kind == "job":
        problems += _offline_compute(relative, _sdk_result(relative, client.jobs.validate(loaded)))
    elif kind == "schedule" and not _refers_to_file(file):  # files are checked on their own
        job = getattr(loaded, "create_job", None)
        if job is not None and not isinstance(job, str) and getattr(job, "type", "") == "pipeline":
            problems += [
                Problem(p.file, p.message, field=f"create_job.{p.field}", severity=p.severity)
                for p in check_pipeline(relative, job)
                if p.severity == "error"
            ]
    elif kind == "online_endpoint":
        auth_mode = str(getattr(loaded, "auth_mode", "") or "key").lower()
        if auth_mode not in ONLINE_AUTH_MODES:
            problems.append(
                Problem(
                    relative,
                    f"{auth_mode!r} is not one of {', '.join(ONLINE_AUTH_MODES)}",
                    field="auth_mode",
                )
            )
    elif kind == "publish" and type(loaded).__name__ == "PipelineComponent":
        problems += _sdk_result(relative, client.components.validate(loaded))
        problems += check_pipeline(relative, loaded)
    return problems


def _representatives_loader(
    file: Path, aml: Any, loader: Callable[[Path], Any]
) -> tuple[Callable[[Path], Any], dict[str, Any], dict[str, str]]:
    """A loader of the pipeline with one node per signature (pipeline/representatives.py),
    the file's spec as the SDK reads it, and {node: its representative}."""
    import io

    import yaml
    from azure.ai.ml._utils.utils import is_valid_node_name

    from ..pipeline import yamlfile
    from ..pipeline.representatives import representatives

    try:
        spec = yamlfile.load(file)  # yaml.safe_load, as the SDK's load_yaml reads it
    except Exception:  # the SDK's own load reports it
        return loader, {}, {}
    if not isinstance(spec, dict):
        return loader, {}, {}
    reduced, standing = representatives(spec, file.parent, yamlfile.load, is_valid_node_name)
    if reduced is spec:
        return loader, spec, standing
    text = yaml.safe_dump(reduced, sort_keys=False, allow_unicode=True)
    return (
        lambda _file: aml.load_job(io.StringIO(text), relative_origin=str(file)),
        spec,
        standing,
    )


def _spread(problems: list[Problem], stands_for: dict[str, list[str]]) -> list[Problem]:
    """What the SDK said of a representative node, said of each node it stands for."""
    if not stands_for:
        return problems
    import dataclasses

    from ..pipeline.representatives import spread

    return [
        dataclasses.replace(p, field=field)
        for p in problems
        for field in (spread(p.field, stands_for) if p.field else [p.field])
    ]


ONLINE_AUTH_MODES = ("key", "aml_token", "aad_token")
MONITOR_SIGNALS = (
    "data_drift",
    "prediction_drift",
    "data_quality",
    "feature_attribution_drift",
    "model_performance",
    "custom",
    "generation_safety_quality",
    "generation_token_statistics",
)


def _unknown_monitor_signals(file: Path, relative: str) -> list[Problem]:
    import yaml

    spec = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    monitor = spec.get("create_monitor") if isinstance(spec, dict) else None
    signals = (monitor or {}).get("monitoring_signals") if isinstance(monitor, dict) else None
    if not isinstance(signals, dict):
        return []
    return [
        Problem(
            relative,
            f"unknown signal type {signal.get('type')!r} (known: {', '.join(MONITOR_SIGNALS)})",
            field=f"create_monitor.monitoring_signals.{name}.type",
        )
        for name, signal in signals.items()
        if isinstance(signal, dict) and signal.get("type") not in MONITOR_SIGNALS
    ]


def _refers_to_file(schedule: Path) -> bool:
    import yaml

    spec = yaml.safe_load(schedule.read_text()) or {}
    return isinstance(spec.get("create_job"), str)


def _publish_loader(file: Path, aml: Any, loaders: Any) -> Callable[[Path], Any]:
    """Pipeline component, batch endpoint or pipeline-component batch deployment."""
    import yaml

    spec = yaml.safe_load(file.read_text()) or {}
    schema = str(spec.get("$schema", "")).lower() if isinstance(spec, dict) else ""
    if "endpoint_name" in spec or "deployment" in schema:
        return loaders.load_pipeline_component_batch_deployment
    if spec.get("type") == "pipeline" or "pipelinecomponent.schema" in schema:
        return aml.load_component
    return loaders.load_batch_endpoint


def _yaml_problem(file: Path, relative: str) -> Problem | None:
    import yaml

    from ..pipeline import yamlfile

    try:
        spec = yamlfile.load(file)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return Problem(relative, f"YAML syntax error: {reason}", field=where)
    except (OSError, UnicodeDecodeError) as exc:
        return Problem(relative, f"cannot read: {exc}", field="(file)")
    if not isinstance(spec, dict):
        return Problem(relative, "expected a YAML mapping", field="(file)")
    return None


def _load_problems(relative: str, exc: Exception) -> list[Problem]:
    """Map a load error (schema errors carry a JSON list of path/message) to problems."""
    text = str(exc)
    match = re.search(r"\{\s*\"result\".*?\n\}", text, re.DOTALL)
    if match:
        try:
            errors = json.loads(match.group(0)).get("errors", [])
        except ValueError:
            errors = []
        found = [
            Problem(relative, str(e.get("message")).strip(), field=str(e.get("path") or "(file)"))
            for e in errors
        ]
        if found:
            return found
    # Marshmallow's form ("Validation for XSchema failed:" then a nested JSON of field errors)
    match = re.search(r"failed:\s*(\{.*?\n\})", text, re.DOTALL)
    if match:
        try:
            found = [
                Problem(relative, message, field=path)
                for path, message in _flatten(json.loads(match.group(1)))
            ]
        except ValueError:
            found = []
        if found:
            return found
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    return [Problem(relative, first, field="(load)")]


def _flatten(tree: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(dotted.field, message) of a marshmallow error tree."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _flatten(value, f"{path}.{key}" if path else str(key))
    elif isinstance(tree, list) and all(isinstance(item, str) for item in tree):
        yield path or "(file)", " ".join(tree)
    elif isinstance(tree, list):
        for item in tree:
            yield from _flatten(item, path)
    else:
        yield path or "(file)", str(tree)


def _offline_compute(relative: str, problems: list[Problem]) -> list[Problem]:
    """The SDK's failed look-ups of named computes, as one note: the workspace is not asked.

    ``run --local`` ignores ``compute``, and in the cloud a missing cluster is the
    workspace's answer, not the file's fault; what validate can say offline is that it did
    not check. Any other problem is kept as it is.
    """
    looked_up = [p for p in problems if p.message == OFFLINE and _is_compute_field(p.field)]
    if not looked_up:
        return problems
    kept = [p for p in problems if p not in looked_up]
    fields = ", ".join(str(p.field) for p in looked_up)
    note = Problem(
        relative,
        "whether these computes exist in the workspace is not checked offline",
        field=fields,
        severity="note",
    )
    return [*kept, note]


def _is_compute_field(field: str | None) -> bool:
    return field == "compute" or bool(field and re.fullmatch(r"jobs\.[^.]+\.compute", field))


def _sdk_result(relative: str, result: Any) -> list[Problem]:
    messages = getattr(result, "error_messages", None) or {}
    return [Problem(relative, str(message), field=str(path)) for path, message in messages.items()]
