"""Benchmark the README's first command from a fresh clone: prints figures, asserts nothing.

    python scripts/bench_quickstart.py [--warm] [--baseline REV] [--repeat N]

Clones this repository (its HEAD) into a temporary folder and runs `python
scripts/quickstart.py` there, with empty pip and uv caches unless --warm is given (a
first-time user has none), and prints the wall time from the clone to the printed metrics
(target <= 45 s) with the quickstart's breakdown: tool environment, bake, install, and the
run's own (graph load, tracking store, each step, summary). With --warm, each clone runs
twice and the second, warm-cache run is reported too. --baseline REV measures that
revision the same way, in the same session, alternating with HEAD, for a side-by-side figure.

    python scripts/bench_quickstart.py --mlflow-server

also prices MLflow's own tracking server in place of amlctl's (`local_run/tracking_server.py`)
on the project the quickstart made, with the same caches: building MLflow's tool environment
(what the first run would add), then the seconds until `mlflow server`, at the project's
mlflow-skinny version, answers /health on a new store and on the quickstart's store, beside
the seconds amlctl's own took in the run ("tracking store").
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from quickstart import breakdown  # the table the quickstart itself prints

ROOT = Path(__file__).resolve().parent.parent
TARGET = 45.0


def quickstart(revision: str, work: Path, warm: bool) -> tuple[float, dict | None, str]:
    """(seconds from clone to metrics, the quickstart's timings, failure output or '')."""
    clone = work / "clone"
    env = dict(os.environ)
    if not warm:
        env["UV_CACHE_DIR"] = str(work / "uv-cache")
        env["PIP_CACHE_DIR"] = str(work / "pip-cache")
    started = time.perf_counter()
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", revision], check=True)
    done = subprocess.run(
        [sys.executable, "scripts/quickstart.py", "--output", str(work / "out")],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or "metrics of evaluate:" not in done.stdout:
        return elapsed, None, done.stdout[-3000:] + done.stderr[-3000:]
    _stop_tracking(work / "out")
    record = work / "out" / "quickstart-timings.json"
    return elapsed, json.loads(record.read_text()) if record.is_file() else None, ""


def mlflow_server(work: Path, warm: bool) -> list[str]:
    """Lines pricing MLflow's own server on the quickstart's project (see the docstring)."""
    (project,) = (p for p in (work / "out").iterdir() if (p / ".runs" / "mlflow.db").is_file())
    python, uv = project / ".venv" / "bin" / "python", project / ".venv" / "bin" / "uv"
    version = subprocess.run(
        [python, "-c", "from importlib.metadata import version; print(version('mlflow-skinny'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")
    if not warm:
        env["UV_CACHE_DIR"] = str(work / "uv-cache")  # the quickstart's own cache
    tool = [str(uv), "tool", "run", "--quiet", "--from", f"mlflow=={version}", "mlflow"]
    started = time.perf_counter()
    subprocess.run([*tool, "--version"], env=env, capture_output=True, check=True)
    lines = [f"MLflow {version}'s environment built by uv in {time.perf_counter() - started:.1f} s"]
    copy = work / "existing.db"
    shutil.copyfile(project / ".runs" / "mlflow.db", copy)
    for label, store in (("a new store", work / "new.db"), ("the quickstart's store", copy)):
        seconds = _health_after(tool, store, work / "mlartifacts", env)
        lines.append(f"mlflow server answered /health on {label} after {seconds}")
    return lines


def _health_after(tool: list[str], store: Path, artifacts: Path, env: dict) -> str:
    import socket
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [*tool, "server", "--backend-store-uri", f"sqlite:///{store}",
         "--default-artifact-root", artifacts.as_uri(), "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < 300:
            if server.poll() is not None:
                return f"nothing: it exited ({server.returncode})"
            with contextlib.suppress(OSError):
                url = f"http://127.0.0.1:{port}/health"
                with urllib.request.urlopen(url, timeout=2) as answer:
                    if answer.status == 200:
                        return f"{time.perf_counter() - started:.1f} s"
            time.sleep(0.1)
        return "nothing within 300 s"
    finally:
        with contextlib.suppress(OSError):
            os.killpg(server.pid, 15)
        server.wait()


def _stop_tracking(output: Path) -> None:
    for state in output.glob("*/.runs/mlflow.db.server.json"):
        with contextlib.suppress(OSError, ValueError, KeyError):
            os.kill(int(json.loads(state.read_text())["pid"]), 15)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", action="store_true", help="keep this machine's package caches")
    parser.add_argument("--baseline", help="also measure this revision, alternating with HEAD")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each revision")
    parser.add_argument(
        "--mlflow-server", action="store_true", help="also price MLflow's own tracking server"
    )
    args = parser.parse_args(argv)
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    revisions = [args.baseline, head] if args.baseline else [head]
    caches = "warm" if args.warm else "cold"
    figures: dict[str, list[float]] = {revision: [] for revision in revisions}
    for attempt in range(args.repeat):
        for revision in revisions:
            work = Path(tempfile.mkdtemp(prefix="bench-quickstart-"))
            try:
                seconds, timings, failure = quickstart(revision, work, args.warm)
                label = f"{revision} (run {attempt + 1}, {caches} caches)"
                if failure:
                    print(f"{label}: FAILED after {seconds:.1f} s\n{failure}")
                    continue
                figures[revision].append(seconds)
                print(f"{label}: fresh clone -> metrics printed in {seconds:.1f} s")
                if timings:
                    print("\n".join(f"    {line}" for line in breakdown(timings)), flush=True)
                if args.mlflow_server:
                    print(f"  MLflow's own server instead of amlctl's, on {label}:", flush=True)
                    for line in mlflow_server(work, args.warm):
                        print(f"    {line}", flush=True)
            finally:
                shutil.rmtree(work, ignore_errors=True)
    print()
    for revision, values in figures.items():
        if values:
            shown = ", ".join(f"{v:.1f}" for v in values)
            print(
                f"{revision}: median {statistics.median(values):.1f} s over {len(values)} "
                f"{caches} run(s) ({shown}); target <= {TARGET:g} s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
