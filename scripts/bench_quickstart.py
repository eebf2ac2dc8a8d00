"""Benchmark the README's first command from a fresh clone: prints figures, asserts nothing.

    python scripts/bench_quickstart.py [--warm]

Clones this repository into a temporary folder and runs `python scripts/quickstart.py`
there, with empty pip and uv caches unless --warm is given (a first-time user has
none), and prints the wall time from the clone to the printed metrics (target <= 120 s).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", action="store_true", help="keep this machine's package caches")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-quickstart-"))
    env = dict(os.environ)
    if not args.warm:
        env["UV_CACHE_DIR"] = str(work / "uv-cache")
        env["PIP_CACHE_DIR"] = str(work / "pip-cache")
    started = time.perf_counter()
    subprocess.run(["git", "clone", "-q", str(ROOT), str(work / "clone")], check=True)
    done = subprocess.run(
        [sys.executable, "scripts/quickstart.py"],
        cwd=work / "clone",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    printed_metrics = "metrics of evaluate:" in done.stdout
    caches = "warm" if args.warm else "cold"
    print(f"fresh clone -> metrics printed ({caches} caches): {elapsed:.1f} s (target <= 120 s)")
    print(f"exit code {done.returncode}; metrics printed: {printed_metrics}")
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:], sep="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
