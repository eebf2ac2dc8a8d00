"""Files a pipeline refers to by path (job components, sweep trials, a schedule's job).

Also the shape of ``jobs`` itself, which the SDK does not check before using it, and of
references into an Azure ML registry (``azureml://registries/...``: components a job runs,
models and data an input reads), which the SDK takes as they are and Azure refuses later.

The SDK reports a missing one as a page of nested schema errors; these checks name the
field and the file in one line, for ``validate`` and for ``run``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

REFERENCE_KEYS = ("component", "trial")
MAX_DEPTH = 8
REGISTRY_ASSET = re.compile(
    r"azureml://registries/[A-Za-z0-9][A-Za-z0-9_-]{2,32}"
    r"/(?P<kind>components|environments|models|data)/[^/\s]+/(?:versions|labels)/[^/\s]+"
)


def registry_problem(value: Any, kinds: tuple[str, ...]) -> str | None:
    """Why a value meant as a registry asset reference is not one of ``kinds``, or None."""
    if not isinstance(value, str) or not value.strip().startswith("azureml://regist"):
        return None
    match = REGISTRY_ASSET.fullmatch(value.strip())
    if match and match["kind"] in kinds:
        return None
    return (
        f"{value!r} is not a registry reference of the form azureml://registries/<registry>/"
        f"{'|'.join(kinds)}/<name>/versions/<version> (or /labels/<label>)"
    )


def _input_problems(inputs: Any, where: str) -> list[tuple[str, str]]:
    found = []
    for name, spec in inputs.items() if isinstance(inputs, dict) else ():
        path = spec.get("path") if isinstance(spec, dict) else spec
        problem = registry_problem(path, ("models", "data"))
        if problem:
            found.append((f"{where}inputs.{name}", problem))
    return found


def _local_reference(value: Any) -> str | None:
    """The file path in a ``component:``/``trial:``/``create_job:`` value, if it is one."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.startswith("file:"):
        return text[len("file:") :]
    if text.startswith("azureml:") or "://" in text:
        return None
    return text if text.lower().endswith((".yml", ".yaml")) else None


def reference_problems(file: Path, prefix: str = "", depth: int = 0) -> list[tuple[str, str]]:
    """(field, message) for each file ``file`` refers to that does not exist, and for jobs
    whose shape the SDK would only answer with an internal error.

    Nested pipeline components are followed, so a missing file anywhere below is named
    with the path of jobs that leads to it.
    """
    import yaml

    from . import yamlfile

    try:
        spec = yamlfile.load(file)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []  # reported by the YAML check
    if not isinstance(spec, dict):
        return []
    found: list[tuple[str, str]] = _input_problems(spec.get("inputs"), prefix)
    target = _local_reference(spec.get("create_job"))
    if target is not None and not (file.parent / target).is_file():
        found.append((f"{prefix}create_job", f"job file not found: {target}"))
    jobs = spec.get("jobs")
    if jobs is None:
        return found
    if not isinstance(jobs, dict):
        return [*found, (f"{prefix}jobs", "expected a mapping of job names to jobs")]
    for name, job in jobs.items():
        if not isinstance(job, dict):
            found.append((f"{prefix}jobs.{name}", "expected a mapping (type, component, inputs)"))
            continue
        found.extend(_input_problems(job.get("inputs"), f"{prefix}jobs.{name}."))
        for key in REFERENCE_KEYS:
            value = job.get(key)
            if value is not None and not isinstance(value, str | dict):
                found.append(
                    (
                        f"{prefix}jobs.{name}.{key}",
                        "expected a component file, an azureml: reference or an inline component",
                    )
                )
                continue
            where = f"{prefix}jobs.{name}.{key}"
            problem = registry_problem(value, ("components",))
            if problem:
                found.append((where, problem))
            reference = _local_reference(value)
            if reference is None:
                continue
            referenced = (file.parent / reference).resolve()
            if not referenced.is_file():
                found.append((where, f"component file not found: {reference}"))
            elif depth < MAX_DEPTH:
                found.extend(reference_problems(referenced, f"{where}.", depth + 1))
    return found
