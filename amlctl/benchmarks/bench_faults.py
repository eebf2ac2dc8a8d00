"""Cost of checking reused outputs, and two runs of one project started together.

    python amlctl/benchmarks/bench_faults.py PROJECT [PIPELINE]

PROJECT is a generated project (or any folder with a pipeline); PIPELINE defaults to
pipelines/training.yml. The project is copied to a temporary folder (its .runs/ left out),
so nothing of yours is touched. Prints:

- the time of a first run and of a cached re-run, and how long checking every reused
  cache entry's files took (the stat-only path, and the path where every file's time
  changed so every file is hashed);
- the wall time and exit code of two runs of the fresh copy started at the same moment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(project: Path, pipeline: str) -> tuple[int, float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "amlctl", "run", pipeline, "--local"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, time.monotonic() - started


def verify_all(project: Path) -> tuple[int, int, float]:
    from amlctl.local_run.cache import META, _files, entry_problem

    entries = [m.parent for m in (project / ".runs" / "cache").glob(f"*/{META}")]
    files = sum(len(_files(e)) - 1 for e in entries)
    started = time.perf_counter()
    for entry in entries:
        meta = json.loads((entry / META).read_text())
        assert entry_problem(entry, meta["files"]) is None, entry
    return len(entries), files, time.perf_counter() - started


def copy(source: Path) -> Path:
    target = Path(tempfile.mkdtemp(prefix="bench-faults-")) / source.name
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".runs", ".venv", ".git"))
    return target


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    source = Path(sys.argv[1]).resolve()
    pipeline = sys.argv[2] if len(sys.argv) > 2 else "pipelines/training.yml"
    os.environ.pop("MLFLOW_TRACKING_URI", None)

    project = copy(source)
    code, first = run(project, pipeline)
    print(f"first run: exit {code}, {first:.1f} s")
    code, again = run(project, pipeline)
    print(f"cached re-run: exit {code}, {again:.1f} s")
    entries, files, seconds = verify_all(project)
    print(f"checking {entries} reused entries ({files} files): {seconds * 1000:.1f} ms")
    for entry in (project / ".runs" / "cache").iterdir():
        for file in entry.rglob("*"):
            if file.is_file() and file.name != "meta.json":
                os.utime(file)
    entries, files, seconds = verify_all(project)
    print(f"  every file's time changed (all hashed): {seconds * 1000:.1f} ms")

    project = copy(source)
    started = time.monotonic()
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "amlctl", "run", pipeline, "--local"],
            cwd=project,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    for index, process in enumerate(runs, 1):
        process.wait()
        print(
            f"run {index} of two started together: exit {process.returncode}, "
            f"{time.monotonic() - started:.1f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
