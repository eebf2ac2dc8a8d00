"""The local runner on a project's training pipeline: where its first run's time goes.

    python amlctl/benchmarks/bench_project_run.py [PROJECT] [--pipeline pipelines/training.yml]
                                                   [--repeat 3]

PROJECT defaults to a fresh bake of this template with the default answers. Works on
copies of the project in a temporary folder (its own .runs/ is not touched) and prints:
- the first run of a fresh copy (new MLflow store, no graph cache), median of --repeat
  copies, with the breakdown of one of them from its timings.json (graph load, checks,
  each step, tracking store, summary);
- a cached re-run and what in it is not reusable (register_model: target <= 1 s);
- a forced re-run of each copy right after its first run (median of --repeat), and first
  run / forced re-run, the median of each copy's own ratio (target <= 1.2x);
- the runner's overhead: the forced re-run against the same step commands run directly,
  one after the other (target <= 1.15x);
- start-up of `amlctl --help` (target <= 0.3 s).
Figures only; it asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[2]
COPIED = ("components", "pipelines", "data", "environments", "config", "pyproject.toml")


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "amlctl", *args]


def environment(tracking_uri: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["AMLCTL_TRACKING_IDLE_SECONDS"] = "120"  # the copies' tracking servers stop soon
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    return env


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        output = f"{result.stdout or ''}{result.stderr or ''}"
        sys.exit(f"failed ({result.returncode}): {shlex.join(argv)}\n{output}")
    return seconds, result.stdout


def default_project(folder: Path) -> Path:
    from cookiecutter.main import cookiecutter

    return Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(folder)))


def fresh_copy(project: Path, folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in COPIED:
        source = project / name
        if source.is_dir():
            shutil.copytree(source, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.is_file():
            shutil.copy(source, folder / name)
    return folder


def timings(work: Path) -> dict:
    return json.loads((work / ".runs" / "latest" / "timings.json").read_text())


def stop_servers(works: list[Path]) -> None:
    """Stop the tracking servers the copies started (they would stop by themselves later)."""
    for work in works:
        state = work / ".runs" / "mlflow.db.server.json"
        with contextlib.suppress(OSError, ValueError, KeyError):
            os.kill(int(json.loads(state.read_text())["pid"]), 15)


def step_commands(run_dir: Path, runs_dir: Path, direct_dir: Path) -> list[tuple[str, str]]:
    """(cwd, command) of every step the runner executed, outputs redirected to direct_dir.

    The runner records each job's code folder and resolved command in <step>/log.job.json;
    by hand, one runs that command through bash in the code folder.
    """
    commands = []
    for record in sorted(run_dir.glob("*/log.job.json"), key=lambda p: p.stat().st_mtime):
        job = json.loads(record.read_text())
        step = record.parent.name
        pattern = re.escape(str(runs_dir / "tmp")) + r"/[0-9a-f]+/[0-9a-f]{32}"
        command = re.sub(pattern, str(direct_dir / step), job["command"])
        commands.append((job["code"] or str(direct_dir), command))
    return commands


def direct_run(work: Path, tmp: Path) -> tuple[float, int]:
    """The forced re-run's step commands, run by hand one after the other."""
    runs = work / ".runs"
    direct_dir = tmp / "direct"
    commands = step_commands(runs / "latest", runs, direct_dir)
    env = environment(f"sqlite:///{tmp / 'direct-mlflow.db'}")
    # `python` in a command is this environment's, as for the runner
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
    for outputs in (runs / "latest").glob("*/outputs"):
        for output in outputs.iterdir():  # fresh, empty output folders, as the runner makes
            (direct_dir / outputs.parent.name / output.name).mkdir(parents=True)
    subprocess.run(  # make the store first: the runner's forced re-run found it made
        [
            sys.executable,
            "-c",
            f"import mlflow; mlflow.MlflowClient({env['MLFLOW_TRACKING_URI']!r})"
            ".search_experiments()",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    started = time.perf_counter()
    for cwd, command in commands:
        subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, check=True)
    return time.perf_counter() - started, len(commands)


def breakdown(data: dict) -> list[str]:
    from amlctl.local_run.timings import table

    return table(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", nargs="?", type=Path, help="default: a fresh default bake")
    parser.add_argument("--pipeline", default="pipelines/training.yml")
    parser.add_argument("--repeat", type=int, default=3, help="fresh copies; forced re-runs")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-project-run-") as name:
        tmp = Path(name)
        project = args.project.resolve() if args.project else default_project(tmp / "bake")
        env = environment()
        run = cli("run", args.pipeline, "--local")
        # pairs: each fresh copy's first run, then at once a forced re-run of the same copy,
        # so that a change in the machine's load falls on both sides of a ratio alike
        firsts, forced, works = [], [], []
        for index in range(args.repeat):
            work = fresh_copy(project, tmp / f"copy-{index}")
            works.append(work)
            firsts.append(timed(run, work, env)[0])
            if index == 0:
                first_timings = timings(work)
                cached, cached_output = timed(run, work, env)
                cached_timings = timings(work)
            forced.append(timed([*run, "--force-rerun"], work, env)[0])
            if index == 0:
                forced_timings = timings(work)
        work = works[0]
        direct, count = direct_run(work, tmp)
        helps = [timed(cli("--help"), work, env)[0] for _ in range(5)]
        stop_servers(works)

    first, rerun = statistics.median(firsts), statistics.median(forced)
    ratios = [f / r for f, r in zip(firsts, forced, strict=True)]
    print(f"pipeline                     {args.pipeline} ({project.name})")
    print(
        f"first run of a fresh copy    {first:7.2f} s  "
        f"(median of {len(firsts)}: {', '.join(f'{s:.2f}' for s in firsts)})"
    )
    for line in breakdown(first_timings):
        print(f"    {line}")
    print(f"cached re-run                {cached:7.2f} s  ({cached / first:6.1%} of the first run)")
    for phase in cached_timings["phases"]:
        if phase["note"] == "done":  # not reusable: is_deterministic: false
            name = phase["name"].strip()
            print(f"  {name:<26} {phase['seconds']:7.2f} s  ran again (target <= 1 s)")
    for line in cached_output.splitlines():
        if line.startswith("[register_model]"):
            print(f"  {line}")
    print(
        f"forced re-run                {rerun:7.2f} s  "
        f"(median of {len(forced)}: {', '.join(f'{s:.2f}' for s in forced)})"
    )
    for line in breakdown(forced_timings):
        print(f"    {line}")
    print(
        f"first run / forced re-run    {statistics.median(ratios):7.2f} x  (target <= 1.2x; "
        f"median of the {len(ratios)} copies' own: {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    print(f"same {count} commands directly   {direct:7.2f} s")
    print(f"runner overhead              {rerun / direct:7.2f} x  (target <= 1.15x)")
    median = statistics.median(helps)
    print(f"--help start-up (best)       {min(helps):7.2f} s  (median {median:.2f} s; <= 0.3 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
