"""`run PIPELINE --local`: execute a pipeline job on this machine, with Azure ML-style reuse."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from ..overrides import (
    LITERAL_TYPES,
    add_set_option,
    apply_node_overrides,
    input_type,
    parse_overrides,
    split_node_overrides,
    typed_value,
)
from ..project import ProjectError, is_project, layout, work_root
from .envs import ENV_MANAGERS

DEFAULT_WORKERS = 2
METRICS_FILE = "metrics.json"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "pipeline",
        type=Path,
        help="pipeline job YAML or Python pipeline file, e.g. pipelines/training.yml, "
        "pipelines/training.py or pipelines/training.py:training",
    )
    parser.add_argument(
        "--local",
        action="store_true",
        required=True,
        help="run on this machine (required: cloud runs use `submit`)",
    )
    add_set_option(
        parser,
        "override a pipeline input (NAME=VALUE) or a node's input "
        "(jobs.NODE.inputs.NAME=VALUE; NODE may be outer.jobs.inner) (repeatable)",
    )
    parser.add_argument(
        "--force-rerun", action="store_true", help="run every step; reuse nothing from the cache"
    )
    parser.add_argument(
        "--env-manager",
        choices=ENV_MANAGERS,
        default="auto",
        help="where steps run: local (this Python environment itself), uv (a virtual "
        "environment built from each step's conda file or Docker context, cached by content), "
        "auto (default: this environment when it already has every required package, else "
        "uv); with auto and uv each step runs in a layer of its own, so what it installs "
        "stays there",
    )
    parser.add_argument(
        "--env",
        help="the workspace (config/ENV.yml) whose datastores `azureml://datastores/...` "
        "inputs are downloaded from, as the signed-in identity",
    )
    parser.add_argument(
        "--timings",
        action="store_true",
        help="print where the run's time went (graph load, tracking store, each step, summary); "
        "every run also writes it to .runs/<run>/timings.json",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        help=f"steps run at the same time (default {DEFAULT_WORKERS})",
    )


def main(args: argparse.Namespace) -> int:
    return run_pipeline(
        args.pipeline,
        args.overrides,
        force=args.force_rerun,
        workers=args.workers,
        env_manager=args.env_manager,
        show_timings=args.timings,
        workspace_env=args.env,
    )


def run_pipeline(
    pipeline_file: Path,
    overrides: list[str] | tuple[str, ...] = (),
    *,
    force: bool = False,
    workers: int = DEFAULT_WORKERS,
    runs_dir: Path | None = None,
    stream: Any = None,
    env_manager: str = "auto",
    show_timings: bool = False,
    workspace_env: str | None = None,
) -> int:
    """Run the pipeline; returns the exit code (0 when every step succeeded)."""
    from ..cli import PROG
    from ..pipeline import literals
    from ..pipeline.loader import load_pipeline
    from ..pipeline.source import parse
    from ..source import git_commit
    from .executor import Console, Runner
    from .timings import Timings, table
    from .tracking import Tracker, default_tracking_uri

    timings = Timings()

    pipeline_file = Path(pipeline_file)
    if not parse(pipeline_file).path.is_file():
        raise ProjectError(f"pipeline file not found: {parse(pipeline_file).path}")
    root = work_root(parse(pipeline_file).path.resolve().parent)
    default_runs = layout(root).runs if is_project(root) else root / ".runs"
    runs_dir = (runs_dir or default_runs).resolve()
    check_runs_dir(runs_dir)
    tracker = Tracker(default_tracking_uri(runs_dir), runs_dir / "tracking.json")
    if force:
        tracker.prefetch()  # every step will run: open MLflow while the graph loads
    rebuilt: list[bool] = []

    def on_rebuild() -> None:
        rebuilt.append(True)
        tracker.prefetch()

    pipeline = load_pipeline(pipeline_file, runs_dir / "graphs", on_rebuild=on_rebuild)
    timings.lap("graph load", "built through azure-ai-ml" if rebuilt else "from .runs/graphs")
    check_programs(pipeline)
    pipeline_pairs, node_pairs = split_node_overrides(list(overrides))
    values = pipeline_values(pipeline.inputs, pipeline_pairs)
    unset = [n for n, spec in pipeline.inputs.items() if spec.get("required") and values[n] is None]
    if unset:  # a pipeline component's inputs without a default
        sets = " ".join(f"--set {name}=VALUE" for name in unset)
        raise ProjectError(
            f"{parse(pipeline_file).path.name}: a pipeline component: its inputs "
            f"{', '.join(unset)} have no default; give them with {sets}"
        )
    apply_node_overrides(pipeline, node_pairs, node_value)
    wrong = literals.check(pipeline)  # as validate does: before any step, not inside one
    if wrong:
        raise ProjectError("\n".join(wrong))
    preflight(pipeline)
    console = Console(stream)
    from .downloads import Downloads, fetch_remote

    workspace = _workspace(workspace_env, root) if workspace_env else None
    fetch_remote(pipeline, values, Downloads(runs_dir / "downloads", console.line, workspace))
    relative = os.path.relpath(pipeline.path, root)
    tags = {"local_run.pipeline": relative, "mlflow.source.name": relative}
    commit = git_commit(root)
    if commit:
        tags["mlflow.source.git.commit"] = commit
    tracker.describe(pipeline.experiment, pipeline.name, tags)
    resume = " ".join([PROG, "run", relative, "--local", *(f"--set {o}" for o in overrides)])
    runner = Runner(
        pipeline,
        runs_dir,
        values,
        tracker,
        force=force,
        workers=workers,
        console=console,
        resume_hint=resume,
        timings=timings,
    )
    from .envs import Environments

    runner.envs = Environments(env_manager, runs_dir / "envs", console)
    timings.lap("checks before the first step")
    code = runner.run()
    if code == 0:
        print_metrics(runner, console)
    timings.lap("summary")
    timings.write(runner.run_dir)
    if show_timings:
        console.line("")
        for line in table(timings.to_json()):
            console.line(line)
    return code


def _workspace(env: str, root: Path) -> Any:
    """() -> (MLClient, credential) of config/<env>.yml's workspace, made when first needed;
    the settings are checked at once."""
    from ..cloud import clients
    from ..cloud.config import load_settings

    settings = load_settings(env, root)

    def connect() -> tuple[Any, Any]:
        credential = clients.credential()
        return clients.ml_client(settings, credential), credential

    return connect


def preflight(pipeline: Any) -> None:
    """What each kind of step needs on this machine is there (one-line errors if not)."""
    from .kinds import plugins_of

    steps = list(pipeline.steps.values())
    for kind in plugins_of(steps):
        if hasattr(kind, "preflight"):
            kind.preflight(steps)


# the folders a run keeps under .runs/ (cache entries, locks, work areas, environments...)
RUNS_FOLDERS = ("cache", "downloads", "envs", "graphs", "locks", "shims", "tmp")


def check_runs_dir(runs_dir: Path) -> None:
    """`.runs/` can be written, and what amlctl keeps folders in is a folder (one line if not).

    A read-only project, a full disk or a file where a folder belongs would otherwise fail
    deep inside a step or the tracking server.
    """
    import errno
    import tempfile

    for name in RUNS_FOLDERS:
        path = runs_dir / name
        if path.exists() and not path.is_dir():
            raise ProjectError(
                f"{path} is a file, but amlctl keeps a folder there: move it away "
                "(nothing else reads it) and run again"
            )
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=runs_dir, prefix=".write-check-"):
            pass
    except OSError as exc:
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise ProjectError(
                f"{runs_dir} cannot be written ({exc.strerror}): a local run keeps its "
                "outputs there; run from a writable copy of the project"
            ) from None
        raise


def _shell_knows(word: str) -> bool:
    """A bash builtin or keyword (`export`, `cd`, `set`, `if`): run by bash, not a program."""
    import subprocess

    bash = shutil.which("bash")
    if bash is None:
        return False
    done = subprocess.run(
        [bash, "-c", 'type -t -- "$1"', "bash", word], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() in ("builtin", "keyword")


def find_program(name: str) -> str | None:
    """A program in amlctl's own environment first (an unactivated `.venv/bin/amlctl` finds
    `mldesigner` beside it, as the steps do), then on PATH."""
    tool_bin = str(Path(sys.executable).parent)
    return shutil.which(name, path=os.pathsep.join([tool_bin, os.environ.get("PATH", "")]))


def check_programs(pipeline: Any) -> None:
    """Every step's program exists on this machine, checked before any step starts.

    A component need not be Python (``bash gate.sh``, ``Rscript fit.R``): its program must be
    in amlctl's environment, on PATH or in its code folder, else the run stops here with one
    line naming it.
    """
    import shlex

    missing = []
    for step in pipeline.steps.values():
        component = step.component
        if component.kind != "command":
            continue
        try:
            words = shlex.split(component.command)
        except ValueError:
            continue  # resolve_command reports a malformed command when the step runs
        words = [w for w in words if not ("=" in w and w.split("=", 1)[0].isidentifier())][:1]
        if not words or words[0] in ("python", "python3") or "$" in words[0]:
            continue
        program = words[0]
        if "/" in program:
            found, where = (Path(component.code_dir) / program).is_file(), component.code_dir
        else:
            found = find_program(program) is not None or _shell_knows(program)
            where = "amlctl's environment or PATH"
        if not found:
            missing.append(
                f"jobs.{step.name}: program '{program}' is not installed on this machine "
                f"(not found in {where}); install it, or run the pipeline in Azure ML with "
                "`submit`"
            )
    if missing:
        raise ProjectError("\n".join(missing))


def pipeline_values(declared: dict[str, dict[str, Any]], overrides: Any) -> dict[str, Any]:
    """Pipeline input values with ``--set name=value`` applied, typed per the input's type."""
    values = {name: spec.get("value") for name, spec in declared.items()}
    for name, value in parse_overrides(overrides, declared, "the pipeline").items():
        if input_type(declared[name]) not in LITERAL_TYPES:  # a data input: a local path here
            path = Path(value).expanduser().resolve()
            if not path.exists():
                raise ProjectError(f"--set {name}={value}: {path} does not exist")
            value = str(path)
        values[name] = value
    return values


def node_value(name: str, kind: str, text: str) -> Any:
    """A `--set jobs.NODE.inputs.NAME=VALUE` value, typed; a data input must exist here."""
    value = typed_value(name, kind, text)
    if kind not in LITERAL_TYPES:
        path = Path(value).expanduser().resolve()
        if not path.exists():
            raise ProjectError(f"--set {name}={value}: {path} does not exist")
        value = str(path)
    return value


def print_metrics(runner: Any, console: Any) -> None:
    """Metrics of the evaluation step: its metrics.json output, else its MLflow metrics."""
    order = runner.pipeline.order()
    for name in reversed(order):
        result = runner.results.get(name)
        if result is None:
            continue
        for output in result.outputs.values():
            candidate = Path(output) / METRICS_FILE
            if candidate.is_file():
                try:
                    metrics = json.loads(candidate.read_text())
                except ValueError:
                    continue
                _show(console, name, metrics)
                return
    for name in reversed(order):
        result = runner.results.get(name)
        if result and result.metrics:
            _show(console, name, result.metrics)
            return


def _flatten(metrics: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """{"metrics": {"accuracy": 0.9}} -> [("metrics.accuracy", 0.9)]; None values are left out."""
    found: list[tuple[str, Any]] = []
    for key, value in metrics.items():
        if isinstance(value, dict):
            found.extend(_flatten(value, f"{prefix}{key}."))
        elif value is not None:
            found.append((f"{prefix}{key}", value))
    return found


def _show(console: Any, step: str, metrics: dict[str, Any]) -> None:
    console.line(f"\nmetrics of {step}:")
    for key, value in _flatten(metrics):
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        console.line(f"  {key:<24} {shown}")
