"""Bake a project with default answers into a fresh folder and run its training pipeline locally.

`python scripts/quickstart.py [--output DIR]` — needs only Python 3.11+ and pip.
Steps: a tooling venv with cookiecutter; `cookiecutter --no-input` into a new folder;
the project's own `.venv` with its pinned dependencies and the `amlctl` it pins, installed
from this checkout (so it works before any release); then
`amlctl run pipelines/training.yml --local`, which ends by printing the evaluation metrics.
It closes with where the time went (also written to DIR/quickstart-timings.json).

Bytecode is not compiled for every installed module at install time (about 30 s on two
cores, for many modules the run never imports). amlctl and what it needs are installed
first, and compiled in the background while the project's own packages download; then
the packages the later steps import are compiled at low priority beside the run; the
rest as the run first imports it. The commands the quickstart runs may write bytecode
even where PYTHONDONTWRITEBYTECODE is set; later commands in the project's environment
find it there. The project's development tools (its `[dev]` extra) are installed beside
the run, which does not need them; the quickstart ends when both are done.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from venvs import bin_dir, ensure_venv, install, install_command, python_of, run, uv

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
        record = {"total": total, "phases": dict(self.phases), "run": _run_timings(project)}
        (output / TIMINGS).write_text(json.dumps(record, indent=2) + "\n")
        return ["", *breakdown(record)]


def breakdown(record: dict) -> list[str]:
    """The table of a quickstart-timings.json record: each phase, the run's own inside."""
    lines = ["where the quickstart's time went      seconds"]
    for name, seconds in record["phases"].items():
        lines.append(f"{name:<36}  {seconds:7.1f}")
        if name.startswith("run the training pipeline") and record.get("run"):
            for phase in record["run"]["phases"]:
                line = f"  {phase['name']:<34}  {phase['seconds']:7.1f}  {phase['note']}"
                lines.append(line.rstrip())
    lines.append(f"{'total':<36}  {record['total']:7.1f}")
    return lines


def _run_timings(project: Path) -> dict | None:
    try:
        return json.loads((project / ".runs" / "latest" / "timings.json").read_text())
    except (OSError, ValueError):
        return None


def project_pins(pyproject: Path) -> list[str]:
    """The project's dependencies and dev extras, as pip constraints."""
    import tomllib

    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    pins = [*project["dependencies"], *project.get("optional-dependencies", {}).get("dev", [])]
    return [pin for pin in pins if not re.match(r"amlctl\b", pin)]  # the tool: see main()


def precompile_command(environment: Path, packages: tuple[str, ...]) -> list[str]:
    """Compile the bytecode of these installed packages, on every core."""
    python = python_of(environment)
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    folders = [str(Path(site) / package) for package in packages]
    return [str(python), "-m", "compileall", "-q", "-j", "0", *folders]


def background(command: list[str]) -> subprocess.Popen[bytes]:
    """Start `command` at low priority: what runs meanwhile (the installer, the run) goes first."""
    return subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        preexec_fn=(lambda: os.nice(10)) if hasattr(os, "nice") else None,
    )


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

    environment = project / ".venv"
    ensure_venv(environment)
    # First amlctl and what it needs (most of the download), held to the project's pins.
    # The project pins amlctl to this checkout's last commit (a git+file URL); the quickstart
    # runs the checkout's amlctl as it is, uncommitted edits included (uv's override; pip,
    # which has none, builds the pinned commit instead)
    pins = output / "project-pins.txt"
    pins.write_text("\n".join(project_pins(project / "pyproject.toml")) + "\n")
    checkout_tool = output / "amlctl-from-checkout.txt"
    checkout_tool.write_text(f"amlctl @ {(ROOT / 'amlctl').as_uri()}\n")
    overrides = ("--override", str(checkout_tool)) if uv() is not None else ()
    install(environment, str(ROOT / "amlctl"), "-c", str(pins), *overrides, compile_bytecode=False)
    # Then the project's own packages; while they download, compile what the run imports first
    # (the SDK that loads the pipeline first, and MLflow, which the tracking store imports)
    first = ("azure/ai/ml", "azure/storage", "azure/core", "mlflow")
    compiling = background(precompile_command(environment, first))
    install(environment, "-e", str(project), *overrides, compile_bytecode=False)
    compiling.wait()
    phases.lap("project environment (pinned packages)")
    # Beside the run, at low priority: what its later steps import, compiled, and the
    # project's development tools (its [dev] extra: tests, linters, hooks), installed
    compiling = background(precompile_command(environment, ("pandas", "numpy", "scipy", "sklearn")))
    dev_tools = background(
        install_command(environment, "-e", f"{project}[dev]", *overrides, compile_bytecode=False)
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    run(
        bin_dir(project / ".venv") / "amlctl",
        "run",
        "pipelines/training.yml",
        "--local",
        cwd=project,
        env=env,
    )
    compiling.wait()
    phases.lap("run the training pipeline")
    if dev_tools.wait() != 0:
        raise SystemExit(f"error: installing {project}[dev] failed (exit {dev_tools.returncode})")
    phases.lap("development tools (installed beside the run)")
    for line in phases.report(project, output):
        print(line)
    took = time.perf_counter() - phases.started
    print(f"\nquickstart: {project} baked and trained in {took:.0f} s")
    print(next_steps(project))
    return 0


def next_steps(project: Path) -> str:
    runs = project / ".runs"
    latest = max((p for p in runs.iterdir() if p.is_dir() and p.name[:1].isdigit()), default=None)
    outputs = latest or runs
    return f"""
Next, in {project}:
  . .venv/bin/activate       # the project's environment, with amlctl
  amlctl serve               # the model this run registered, behind Azure ML's inference server
  pytest                     # the project's own tests
  amlctl runs                # the local runs; `amlctl runs compare ~1 latest` after another
  amlctl ui                  # MLflow's own UI over these runs, http://127.0.0.1:5000/
The run's page (graph, steps, logs, metrics, plots): {outputs}/index.html
Each step's outputs and log: {outputs}/<step>/
The local MLflow tracking server stops by itself after 15 idle minutes; to stop it now:
  kill $(python -c "import json; print(json.load(open('.runs/mlflow.db.server.json'))['pid'])")"""


def entry() -> int:
    """main() with one line for a failure: the failed command's own output is above it."""
    try:
        return main(sys.argv[1:])
    except subprocess.CalledProcessError as exc:
        command = " ".join([Path(str(exc.cmd[0])).name, *(str(p) for p in exc.cmd[1:3])])
        failed = f"`{command} ...` failed (exit {exc.returncode}); its output is above"
        print(f"quickstart: error: {failed}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"quickstart: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("quickstart: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(entry())
