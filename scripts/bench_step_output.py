"""Peak memory of `amlctl run --local` while a step writes one long line.

`python scripts/bench_step_output.py [--megabytes 100 300]` (from the repository's .venv,
which holds amlctl). For each size, a throw-away project with one command step that writes
that many megabytes on one line with no newline (a progress bar, a dumped array) runs
through amlctl's own entry point in a fresh process; the figure is that process's peak
resident memory (the step's own process is not counted), and the log's size shows that
nothing was lost. Prints one line per size.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

COMPONENT = """
type: command
name: shout
outputs:
  out: {type: uri_folder}
code: ./src
environment: {image: "python:3.11"}
command: python shout.py ${{outputs.out}}
"""
PIPELINE = """
type: pipeline
jobs:
  shout:
    component: ../components/shout/component.yml
"""
STEP = """
import sys
block = "x" * (1 << 20)
for _ in range({megabytes}):
    sys.stdout.write(block)
sys.stdout.flush()
"""
# amlctl's entry point in this process, then this process's own peak (ru_maxrss, KiB)
MEASURE = """
import os, resource, sys
from amlctl import cli
os.chdir(sys.argv[1])
code = cli.main(["run", "pipelines/shout.yml", "--local", "--force-rerun"])
print("PEAK_KIB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "EXIT", code)
"""


def measure(megabytes: int) -> tuple[float, int, int]:
    """(peak MB of amlctl's process, exit code, bytes in the step's log)."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / ".git").mkdir()
        (root / "pyproject.toml").write_text("[project]\nname = 'bench'\n")
        component = root / "components" / "shout"
        (component / "src").mkdir(parents=True)
        (component / "component.yml").write_text(textwrap.dedent(COMPONENT))
        (component / "src" / "shout.py").write_text(STEP.format(megabytes=megabytes))
        (root / "pipelines").mkdir()
        (root / "pipelines" / "shout.yml").write_text(textwrap.dedent(PIPELINE))
        done = subprocess.run(
            [sys.executable, "-c", MEASURE, str(root)], capture_output=True, text=True, check=False
        )
        words = done.stdout.split()
        if "PEAK_KIB" not in words:
            raise SystemExit(f"no figure: {done.stdout[-2000:]}{done.stderr[-2000:]}")
        peak = int(words[words.index("PEAK_KIB") + 1]) / 1024
        code = int(words[words.index("EXIT") + 1])
        logs = list((root / ".runs").glob("*/shout/log*.txt"))
        return peak, code, max((log.stat().st_size for log in logs), default=0)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, nargs="+", default=[1, 100, 300])
    args = parser.parse_args(argv)
    for megabytes in args.megabytes:
        peak, code, logged = measure(megabytes)
        print(
            f"{megabytes:>5} MB on one line: amlctl peak {peak:7.1f} MB, exit {code}, "
            f"log {logged / 2**20:7.1f} MB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
