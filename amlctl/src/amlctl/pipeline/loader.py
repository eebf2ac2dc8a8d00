"""Load a pipeline YAML into the runner's graph, through azure-ai-ml once per content.

The result is kept in ``.runs/graphs/`` keyed by the content of every YAML file it was
read from, so a re-run does not pay for importing ``azure.ai.ml`` again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from .. import state
from ..project import ProjectError, quiet_azure_ml
from ..state import file_sha
from .expand import expand_jobs
from .graph import GRAPH_FORMAT, Pipeline
from .nodes import local_data_assets, pipeline_input
from .source import load_pipeline_job, parse


def load_pipeline(
    path: Path, cache_dir: Path | None = None, on_rebuild: Callable[[], None] | None = None
) -> Pipeline:
    """The pipeline at ``path``; from ``cache_dir`` when none of its source files changed.

    ``on_rebuild`` is called before the (slow) load through azure-ai-ml.
    """
    path = path.resolve()
    if not parse(path).path.is_file():
        raise ProjectError(f"pipeline file not found: {path}")
    cached = None
    if cache_dir is not None:
        cached = cache_dir / f"{hashlib.sha256(str(path).encode()).hexdigest()[:16]}.json"
    if cached:
        found = _cached_graph(cached)
        if found is not None:
            return found
    if on_rebuild:
        on_rebuild()
    pipeline = _build(path)
    if cached:
        state.write_json(
            cached, {"format": [GRAPH_FORMAT, _sdk_version()], "pipeline": pipeline.to_json()}
        )
    return pipeline


def _cached_graph(cached: Path) -> Pipeline | None:
    """The graph kept in ``cached`` if it is intact and none of its sources changed."""
    data = state.read_json(cached, lambda d: isinstance(d, dict) and "format" in d)
    if data is None or data["format"] != [GRAPH_FORMAT, _sdk_version()]:
        return None
    try:
        sources = data["pipeline"]["sources"]
        if all(Path(f).is_file() and file_sha(Path(f)) == h for f, h in sources.items()):
            return Pipeline.from_json(data["pipeline"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        state.warn(cached, "damaged (unexpected content)", "rebuilt")
    return None


def _sdk_version() -> str:
    """Version of what builds the graph: azure-ai-ml and this module's own code."""
    try:
        sdk = metadata.version("azure-ai-ml")
    except metadata.PackageNotFoundError:  # pragma: no cover - always installed with the project
        sdk = "unknown"
    here = Path(__file__).parent  # every module of this package builds the graph
    code = hashlib.sha256(
        b"".join(file_sha(module).encode() for module in sorted(here.glob("*.py")))
    ).hexdigest()
    return f"{sdk}+{code[:12]}"


def pipeline_component(path: Path) -> Any:
    """The PipelineComponent a YAML file defines, or None.

    azure-ai-ml loads a pipeline component (``type: pipeline`` with declared inputs, as
    ``pipelineComponent.schema.json`` describes) with ``load_component``, never with
    ``load_job``. Run locally, it is the pipeline job with one node that Azure ML would run
    it as: its inputs are the job's, their defaults the values (``--set`` for the others).
    """
    if path.suffix not in (".yml", ".yaml"):
        return None
    from azure.ai.ml import load_component

    try:
        loaded = load_component(path)
    except Exception:  # not a component either: the job's own error is the one to give
        return None
    return loaded if type(loaded).__name__ == "PipelineComponent" else None


def component_input(declared: Any) -> dict[str, Any]:
    """A pipeline component's input as a pipeline input: its default is the value; without
    one (data inputs never have one) it is ``required`` unless optional."""
    default = getattr(declared, "default", None)
    kind = str(getattr(declared, "type", None) or "string")
    found: dict[str, Any] = {"type": kind, "value": default}
    if default is None and not getattr(declared, "optional", False):
        found["required"] = True
    return found


def _build(spec: Path) -> Pipeline:
    quiet_azure_ml()
    path = parse(spec).path  # a Python pipeline may be named FILE.py:function
    component = False
    try:
        job, sources = load_pipeline_job(spec)
    except ProjectError:
        raise
    except Exception as exc:  # the SDK raises many unrelated types for a bad file
        from .references import reference_problems

        missing = reference_problems(path)
        if missing:
            where, message = missing[0]
            raise ProjectError(f"{path.name}: {where}: {message}") from exc
        job = pipeline_component(path)
        if job is None:
            raise ProjectError(
                f"{path.name}: cannot be loaded ({type(exc).__name__}); run `validate` for details"
            ) from exc
        component, sources = True, {str(path): file_sha(path)}
    if getattr(job, "type", None) != "pipeline":
        raise ProjectError(f"{path.name}: not a pipeline job (type: {getattr(job, 'type', '?')})")
    base = path.parent
    data_assets = local_data_assets(base, sources)
    inputs: dict[str, dict[str, Any]] = {}
    for name, declared in job.inputs.items():
        if component:
            inputs[name] = component_input(declared)
        else:
            inputs[name] = pipeline_input(name, declared._data, base, data_assets)
    steps = expand_jobs(
        job.jobs, inputs, base, data_assets, sources, path.name, dict(job.outputs or {})
    )
    settings = getattr(job, "settings", None)
    pipeline = Pipeline(
        path=str(spec),
        name=job.display_name or job.name or path.stem,
        experiment=getattr(job, "experiment_name", None) or path.stem,
        inputs=inputs,
        outputs=list(job.outputs),
        steps=steps,
        force_rerun=bool(getattr(settings, "force_rerun", False)),
        sources=sources,
    )
    pipeline.order()
    return pipeline
