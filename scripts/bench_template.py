"""Benchmark the template: prints figures, asserts nothing. Run on demand.

    .venv/bin/python scripts/bench_template.py [--skip-suite]

Prints: bake time (median of 5 default bakes); the time of a default project's own
checks (ruff, validate, check-infra, check-workflows, pytest, pre-commit), each
measured in the shared test environment (`tests/conftest.py`); and the wall time of
the whole template test suite (`pytest` in a subprocess).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import bake, shared_env  # noqa: E402


def timed(label: str, action) -> float:
    started = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - started
    status = ""
    if isinstance(result, subprocess.CompletedProcess):
        status = "ok" if result.returncode == 0 else f"FAILED (exit {result.returncode})"
    print(f"{label:<40} {elapsed:8.2f} s  {status}", flush=True)
    return elapsed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-suite", action="store_true", help="do not time the whole suite")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-template-"))

    bakes = []
    for index in range(5):
        started = time.perf_counter()
        project = bake(work / f"bake-{index}")
        bakes.append(time.perf_counter() - started)
    print(f"{'bake (defaults, median of 5)':<40} {statistics.median(bakes):8.2f} s")

    started = time.perf_counter()
    env = shared_env(project)
    print(f"{'shared environment (build or reuse)':<40} {time.perf_counter() - started:8.2f} s")
    env.install_project(project)
    for command in (["git", "init", "-q"], ["git", "add", "-A"]):
        subprocess.run(command, cwd=project, check=True, capture_output=True)
    cli = project.name
    total = 0.0
    for label, command in [
        ("ruff check + format --check", ["ruff", "check", "--no-cache", "."]),
        ("", ["ruff", "format", "--check", "--no-cache", "."]),
        (f"{cli} validate", [cli, "validate"]),
        (f"{cli} check-infra", [cli, "check-infra"]),
        (f"{cli} check-workflows", [cli, "check-workflows"]),
        ("project pytest", ["python", "-m", "pytest", "-q", "-p", "no:cacheprovider"]),
        ("pre-commit run --all-files (warm)", ["pre-commit", "run", "--all-files"]),
    ]:
        total += timed(label or "  (format)", lambda c=command: env.run(project, *c))
    print(f"{'project checks, total':<40} {total:8.2f} s")

    if not args.skip_suite:
        timed(
            "template test suite",
            lambda: subprocess.run(
                [sys.executable, "-m", "pytest", "-q"], cwd=ROOT, check=False, capture_output=True
            ),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
