"""Time of `amlctl validate` on pipelines of 10, 100, 1,000 and 10,000 steps.

`python scripts/bench_validate.py [--steps 10 100 1000 10000] [--components 3]` (from the
repository's .venv, which holds amlctl). For each size, a throw-away project gets a
pipeline job of that many command steps, each using one of a few component files (as
real pipelines reuse their components) and bound to the step before it, with literal
inputs and a parent input; `amlctl validate FILE` then runs through amlctl's own entry
point in a fresh process. The figure is that process's wall time, import of azure-ai-ml
included, and the whole validation must pass (exit 0). Prints one line per size.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

COMPONENT = """
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
type: command
name: step_{index}
version: "1"
inputs:
  data: {{type: uri_folder, optional: true}}
  rate: {{type: number, default: 0.1, min: 0, max: 1}}
  rounds: {{type: integer, default: 3}}
  mode: {{type: string, default: fast, enum: [fast, slow]}}
outputs:
  out: {{type: uri_folder}}
code: ./src
environment:
  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest
command: >-
  python step.py $[[--data ${{{{inputs.data}}}}]] --rate ${{{{inputs.rate}}}}
  --rounds ${{{{inputs.rounds}}}} --mode ${{{{inputs.mode}}}} --out ${{{{outputs.out}}}}
"""


def pipeline(steps: int, components: int) -> str:
    lines = [
        "$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json",
        "type: pipeline",
        f"display_name: bench_{steps}",
        "inputs:",
        "  raw: {type: uri_folder, path: ../data/raw}",
        "  rate: 0.5",
        "settings:",
        "  default_compute: azureml:cpu-cluster",
        "jobs:",
    ]
    for index in range(steps):
        data = (
            "${{parent.inputs.raw}}"
            if index == 0
            else f"${{{{parent.jobs.s{index - 1}.outputs.out}}}}"
        )
        lines += [
            f"  s{index}:",
            f"    component: ../components/c{index % components}/component.yml",
            "    inputs:",
            f"      data: {data}",
            "      rate: ${{parent.inputs.rate}}",
            f"      rounds: {index % 7 + 1}",
            "      mode: slow",
        ]
    return "\n".join(lines) + "\n"


def measure(steps: int, components: int) -> tuple[float, int, str]:
    """(seconds, exit code, last line of output) of validating a pipeline of ``steps``."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "pyproject.toml").write_text("[project]\nname = 'bench'\n")
        (root / "data" / "raw").mkdir(parents=True)
        (root / "data" / "raw" / "value.txt").write_text("1")
        for index in range(components):
            component = root / "components" / f"c{index}"
            (component / "src").mkdir(parents=True)
            (component / "src" / "step.py").write_text("print('step')\n")
            (component / "component.yml").write_text(textwrap.dedent(COMPONENT.format(index=index)))
        (root / "pipelines").mkdir()
        file = root / "pipelines" / f"bench_{steps}.yml"
        file.write_text(pipeline(steps, components))
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "amlctl", "validate", str(file)],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.monotonic() - started
        output = (done.stdout + done.stderr).strip().splitlines()
        return seconds, done.returncode, output[-1] if output else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[10, 100, 1000, 10000])
    parser.add_argument("--components", type=int, default=3, help="distinct component files")
    args = parser.parse_args()
    failed = False
    base = None
    for steps in args.steps:
        seconds, code, last = measure(steps, args.components)
        base = base or seconds
        print(
            f"{steps:>6} steps: {seconds:7.1f} s  ({seconds / base:4.1f}x the first size)  "
            f"exit {code}: {last}",
            flush=True,
        )
        failed = failed or code != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
