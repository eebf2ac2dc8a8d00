"""Bake a project with default answers into a fresh folder and run its training pipeline locally.

`python scripts/quickstart.py [--output DIR]` — needs only Python 3.11+ and pip.
Steps: a tooling venv with cookiecutter; `cookiecutter --no-input` into a new folder;
the project's own `.venv` with its pinned dependencies and the `amlctl` it pins, installed
from this checkout (so it works before any release); then
`amlctl run pipelines/training.yml --local`, which ends by printing the evaluation metrics.
It closes with where the time went (also written to DIR/quickstart-timings.json).

Bytecode is compiled as modules are first imported, not for every installed module at
install time (about 30 s on two cores, for many modules the run never imports): the
commands it runs may write it even where PYTHONDONTWRITEBYTECODE is set, and later
commands in the project's environment find it there.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from venvs import bin_dir, ensure_venv, install, run

ROOT = Path(__file__).resolve().parent.parent
TIMINGS = "quickstart-timings.json"


class Phases:
    """Wall time of each phase of the quickstart, in order."""

    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()
        self.phases: list[tuple[str, float]] = []

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.phases.append((name, now - self.last))
        self.last = now

    def report(self, project: Path, output: Path) -> list[str]:
        total = time.perf_counter() - self.started
        run = _run_timings(project)
        lines = ["", "where the quickstart's time went      seconds"]
        for name, seconds in self.phases:
            lines.append(f"{name:<36}  {seconds:7.1f}")
            if name.startswith("run the training pipeline") and run:
                for phase in run["phases"]:
                    lines.append(f"  {phase['name']:<34}  {phase['seconds']:7.1f}  {phase['note']}")
        lines.append(f"{'total':<36}  {total:7.1f}")
        record = {"total": total, "phases": dict(self.phases), "run": run}
        (output / TIMINGS).write_text(json.dumps(record, indent=2) + "\n")
        return lines


def _run_timings(project: Path) -> dict | None:
    try:
        return json.loads((project / ".runs" / "latest" / "timings.json").read_text())
    except (OSError, ValueError):
        return None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    stamp = time.strftime("%Y%m%d-%H%M%S")
    parser.add_argument("--output", type=Path, default=ROOT / "build" / f"quickstart-{stamp}")
    args = parser.parse_args(argv)
    output = args.output.resolve()
    if output.exists() and any(output.iterdir()):
        parser.error(f"--output {output} is not empty; give a new folder")
    phases = Phases()

    tools = ROOT / "build" / "tools-venv"
    python = ensure_venv(tools, seed=False)
    install(tools, "cookiecutter==2.7.1", compile_bytecode=False)
    phases.lap("tool environment (cookiecutter, uv)")
    run(python, "-m", "cookiecutter", "--no-input", "--default-config", "-o", output, ROOT)
    (project,) = (path for path in output.iterdir() if path.is_dir())
    phases.lap("bake with the default answers")

    ensure_venv(project / ".venv")
    # the project pins amlctl==<template version>; this checkout's amlctl is that version
    install(
        project / ".venv", str(ROOT / "amlctl"), "-e", f"{project}[dev]", compile_bytecode=False
    )
    phases.lap("project environment (pinned packages)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    run(
        bin_dir(project / ".venv") / "amlctl",
        "run",
        "pipelines/training.yml",
        "--local",
        cwd=project,
        env=env,
    )
    phases.lap("run the training pipeline")
    for line in phases.report(project, output):
        print(line)
    took = time.perf_counter() - phases.started
    print(f"\nquickstart: {project} baked and trained in {took:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
