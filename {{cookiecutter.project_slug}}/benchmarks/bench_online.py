"""Load-test the scoring script behind Azure ML's inference server on loopback.

    python benchmarks/bench_online.py [--requests 2000] [--concurrency 4] [--rows 1]
                                      [--workers 1] [--idle 0] [--model PATH]

Trains a model on the sample data with components/train (or takes --model), starts the
inference server on a free loopback port with deploy/online/deployment.yml's environment
variables (as `amlctl serve` does), then a second process sends a bounded load: --requests
POSTs of --rows rows each, --concurrency at a time, while --idle connections stay open
sending nothing (each reopened as soon as the server closes it). Prints requests per second
and p50/p95/p99 latency, and fails if any answer is not 200.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
SCORING = ROOT / "deploy" / "online" / "scoring" / "score.py"
DEPLOYMENT = ROOT / "deploy" / "online" / "deployment.yml"


def train_model(folder: Path) -> Path:
    import pandas as pd

    spec = importlib.util.spec_from_file_location("train", ROOT / "components/train/src/train.py")
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    [csv] = sorted((ROOT / "data" / "sample").glob("*.csv"))
    table = pd.read_csv(csv)
    table.to_csv(folder / "train.csv", index=False)
    task = "classification" if table["target"].nunique() <= 10 else "regression"
    model = folder / "model"
    with contextlib.redirect_stdout(io.StringIO()):  # its metrics line is not a figure here
        train.main(["--train_data", str(folder), "--model", str(model), "--task", task])
    return model


def request_body(rows: int) -> bytes:
    import pandas as pd

    [csv] = sorted((ROOT / "data" / "sample").glob("*.csv"))
    table = pd.read_csv(csv).drop(columns=["target"])
    return json.dumps({"data": table.head(rows).to_dict(orient="records")}).encode()


def hold_idle(url: str, count: int, stop: threading.Event) -> None:
    """`count` connections that send nothing, each reopened as soon as the server closes it."""
    where = urlsplit(url)

    def idle_client() -> None:
        while not stop.is_set():
            with socket.create_connection((where.hostname, where.port)) as idle:
                idle.settimeout(0.2)
                while not stop.is_set():
                    try:
                        if not idle.recv(1):
                            break  # closed by the server: open another
                    except TimeoutError:
                        continue
                    except OSError:
                        break

    for _ in range(count):
        threading.Thread(target=idle_client, daemon=True).start()


def load(url: str, body: bytes, requests: int, concurrency: int, idle: int = 0) -> dict:
    """The client side (run in its own process): latencies of `requests` POSTs."""
    import http.client
    from concurrent.futures import ThreadPoolExecutor

    where = urlsplit(url)
    per_thread = [
        requests // concurrency + (i < requests % concurrency) for i in range(concurrency)
    ]

    def client(count: int) -> tuple[list[float], int]:
        connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
        latencies, failures = [], 0
        for _ in range(count):
            started = time.perf_counter()
            connection.request("POST", where.path, body, {"Content-Type": "application/json"})
            answer = connection.getresponse()
            answer.read()
            latencies.append(time.perf_counter() - started)
            failures += answer.status != 200
        connection.close()
        return latencies, failures

    stop = threading.Event()
    hold_idle(url, idle, stop)
    time.sleep(0.2 if idle else 0)  # the idle connections are open before the load starts
    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(concurrency) as pool:
            results = list(pool.map(client, per_thread))
    finally:
        stop.set()
    elapsed = time.perf_counter() - started
    latencies = sorted(value for values, _ in results for value in values)
    return {
        "requests": len(latencies),
        "failures": sum(failures for _, failures in results),
        "seconds": elapsed,
        "latencies": latencies,
    }


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rows", type=int, default=1, help="rows per request")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument(
        "--idle", type=int, default=0, help="connections held open, sending nothing"
    )
    parser.add_argument("--model", type=Path, default=None, help="an MLflow model folder")
    parser.add_argument("--client", help=argparse.SUPPRESS)  # internal: run the load only
    args = parser.parse_args(argv)
    if args.requests < 1 or args.concurrency < 1 or args.rows < 1 or args.idle < 0:
        parser.error("--requests, --concurrency and --rows must be at least 1, --idle 0 or more")
    body = request_body(args.rows)
    if args.client:
        result = load(args.client, body, args.requests, args.concurrency, args.idle)
        print(json.dumps(result))
        return 0

    from amlctl import running_server

    with tempfile.TemporaryDirectory(prefix="bench-online-") as scratch:
        model = args.model or train_model(Path(scratch))
        with running_server(SCORING, model, workers=args.workers, deployment=DEPLOYMENT) as server:
            # warm-up, then the measured load from a second process
            load(server.url, body, 20, 1)
            client = [sys.executable, __file__, "--client", server.url]
            client += ["--requests", str(args.requests), "--concurrency", str(args.concurrency)]
            client += ["--rows", str(args.rows), "--idle", str(args.idle)]
            done = subprocess.run(client, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    latencies = result["latencies"]
    print(
        f"{result['requests']} requests of {args.rows} row(s), {args.concurrency} concurrent, "
        f"{args.idle} idle connection(s), {args.workers} server worker(s): "
        f"{result['requests'] / result['seconds']:.0f} requests/s"
    )
    print(
        "latency ms: "
        + ", ".join(
            f"p{int(q * 100)} {percentile(latencies, q) * 1000:.1f}" for q in (0.5, 0.95, 0.99)
        )
    )
    if result["failures"]:
        print(f"{result['failures']} requests did not get 200", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
