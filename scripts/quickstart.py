"""Bake a project with default answers into a fresh folder and run its training pipeline locally.

`python scripts/quickstart.py [--output DIR]` — needs only Python 3.10+ and pip.
Steps: a tooling venv with cookiecutter; `cookiecutter --no-input` into a new folder;
the project's own `.venv` with its pinned dependencies and the `amlctl` it pins, installed
from this checkout (so it works before any release); then
`amlctl run pipelines/training.yml --local`, which ends by printing the evaluation metrics.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from venvs import bin_dir, ensure_venv, install, run

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    stamp = time.strftime("%Y%m%d-%H%M%S")
    parser.add_argument("--output", type=Path, default=ROOT / "build" / f"quickstart-{stamp}")
    args = parser.parse_args(argv)
    output = args.output.resolve()
    if output.exists() and any(output.iterdir()):
        parser.error(f"--output {output} is not empty; give a new folder")
    started = time.perf_counter()

    tools = ROOT / "build" / "tools-venv"
    python = ensure_venv(tools)
    install(tools, "cookiecutter==2.7.1")
    run(python, "-m", "cookiecutter", "--no-input", "--default-config", "-o", output, ROOT)
    (project,) = output.iterdir()

    ensure_venv(project / ".venv")
    # the project pins amlctl==<template version>; this checkout's amlctl is that version
    install(project / ".venv", str(ROOT / "amlctl"), "-e", f"{project}[dev]")
    run(
        bin_dir(project / ".venv") / "amlctl",
        "run",
        "pipelines/training.yml",
        "--local",
        cwd=project,
    )
    print(f"\nquickstart: {project} baked and trained in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
