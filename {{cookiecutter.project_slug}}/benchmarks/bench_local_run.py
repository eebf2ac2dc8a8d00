"""Measure the local runner on pipelines/training.yml and print the figures.

    python benchmarks/bench_local_run.py [--pipeline pipelines/training.yml] [--repeat 5]

Works on a copy of the project in a temporary folder (the project's own .runs/ is not
touched) and prints:
- first run: cold cache and a new MLflow store;
- cached re-run: nothing changed (target: at most 5% of the first run);
- runner overhead: `run --force-rerun` against running the same step commands directly,
  one after the other (target: at most 1.15x);
- start-up time of `<cli> --help` (target: at most 0.3 s).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPIED = ("components", "pipelines", "data", "environments", "config", "pyproject.toml")


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "amlctl", *args]


def environment(tracking_uri: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
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


def executed_steps(output: str) -> dict[str, float]:
    """Steps the runner executed (not reused), with their durations, from its summary table."""
    found = {}
    for line in output.splitlines():
        match = re.match(r"^(\S+)\s+done\s+([\d.]+) s\s", line)
        if match:
            found[match.group(1)] = float(match.group(2))
    return found


def step_commands(run_dir: Path, runs_dir: Path, direct_dir: Path) -> list[tuple[str, str]]:
    """(cwd, command) of every step the runner executed, outputs redirected to direct_dir.

    The runner records each job's code folder and resolved command in <step>/log.job.json;
    by hand, one runs that command through bash in the code folder.
    """
    commands = []
    for record in sorted(run_dir.glob("*/log.job.json"), key=lambda p: p.stat().st_mtime):
        job = json.loads(record.read_text())
        step = record.parent.name
        pattern = re.escape(str(runs_dir / "tmp")) + r"/[0-9a-f]{32}"
        command = re.sub(pattern, str(direct_dir / step), job["command"])
        commands.append((job["code"] or str(direct_dir), command))
    return commands


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", default="pipelines/training.yml")
    parser.add_argument("--repeat", type=int, default=5, help="runs of --help to time")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-local-run-") as tmp:
        work = Path(tmp) / "project"
        work.mkdir()
        for name in COPIED:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, work / name, ignore=shutil.ignore_patterns("__pycache__"))
            elif source.is_file():
                shutil.copy(source, work / name)
        runs = work / ".runs"
        env = environment()

        first, _ = timed(cli("run", args.pipeline, "--local"), work, env)
        cached, cached_output = timed(cli("run", args.pipeline, "--local"), work, env)
        forced, _ = timed(cli("run", args.pipeline, "--local", "--force-rerun"), work, env)

        direct_dir = Path(tmp) / "direct"
        commands = step_commands(runs / "latest", runs, direct_dir)
        direct_env = environment(f"sqlite:///{runs / 'mlflow.db'}")
        # `python` in a command is this environment's, as for the runner
        direct_env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
        for step_outputs in (runs / "latest").glob("*/outputs"):
            for output in step_outputs.iterdir():  # fresh, empty output folders, as the runner
                (direct_dir / step_outputs.parent.name / output.name).mkdir(parents=True)
        started = time.perf_counter()
        for cwd, command in commands:
            argv = ["bash", "-c", command]
            subprocess.run(argv, cwd=cwd, env=direct_env, capture_output=True, check=True)
        direct = time.perf_counter() - started

        helps = [timed(cli("--help"), work, env)[0] for _ in range(args.repeat)]

    print(f"pipeline                  {args.pipeline}")
    print(f"first run                 {first:7.2f} s")
    share = cached / first
    print(f"cached re-run             {cached:7.2f} s  ({share:6.1%} of first; target <= 5%)")
    rerun = executed_steps(cached_output)
    if rerun:  # non-deterministic steps (is_deterministic: false) always run again
        names = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in rerun.items())
        print(f"  of which not reusable   {sum(rerun.values()):7.2f} s  ({names})")
    print(f"forced re-run (runner)    {forced:7.2f} s")
    print(f"same {len(commands)} commands directly {direct:7.2f} s")
    print(f"runner overhead           {forced / direct:7.2f} x  (target <= 1.15x)")
    median = sorted(helps)[len(helps) // 2]
    print(
        f"--help start-up (best)    {min(helps):7.2f} s  (median {median:.2f} s; target <= 0.3 s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
