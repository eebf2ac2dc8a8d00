"""`serve`: the latest locally trained model behind Azure ML's inference server, on loopback.

The server is Microsoft's ``azureml-inference-server-http`` (``azmlinfsrv``), the one Azure ML
runs inside managed online endpoint containers, so the scoring script is exercised here
exactly as it will be there: ``init()`` once per worker, ``run()`` per POST /score, the same
request parsing and error responses, and the environment variables of the project's
deployment (``<online>/deployment.yml``), as Azure ML sets them in the container. The model
is, unless ``--model`` names a folder, the latest version of the project's model in the local
MLflow registry that `run --local` fills (``<runs>/mlflow.db``).

The server runs gunicorn; its default sync worker serves one connection at a time, so one
client that sends nothing held every other client up for the worker's timeout (300 s).
Gunicorn's threaded worker (``gthread``) reads each connection in a thread of its own and
parks a connection that sends nothing, so no single client holds the others up; gunicorn
takes it from ``GUNICORN_CMD_ARGS`` (the inference server sets no worker class itself), which
deployment.yml sets for Azure too. The scoring script bounds the time and size of a body.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..project import ProjectError, layout, project_root

SCORING_SCRIPT = "scoring/score.py"
DEPLOYMENT = "deployment.yml"
START_TIMEOUT_S = 120.0
# Gunicorn's threaded worker, where deployment.yml does not choose a worker itself: each
# connection is read by one of the threads, so a client that sends nothing, or a body
# slowly, holds one thread, not the worker (see the module's docstring).
THREADED_WORKER = "--worker-class gthread --threads 4"
# Azure ML's rule for asset names (a model registered locally is registered there too).
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")


@dataclass(frozen=True)
class RunningServer:
    url: str  # the scoring URL, http://127.0.0.1:<port>/score
    port: int
    process: subprocess.Popen
    log: Path

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def check_port_free(port: int) -> None:
    """ProjectError if another program listens on 127.0.0.1:`port` (as gunicorn binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            reason = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc})"
            raise ProjectError(
                f"port {port} on 127.0.0.1 {reason}: stop what holds it or pick another --port"
            ) from None


def check_model_name(name: str, origin: str) -> str:
    if not MODEL_NAME.fullmatch(name):
        raise ProjectError(
            f"{origin} {name!r} is not a model name: letters, digits, '-', '_' and '.', "
            "starting with a letter or digit, at most 255 characters (Azure ML's rule)"
        )
    return name


def default_model_name(root: Path) -> str:
    """The model name the training pipeline registers (its model_name input)."""
    import yaml

    training = layout(root).pipelines / "training.yml"
    try:
        spec = yaml.safe_load(training.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ProjectError(f"cannot read the model name from {training}: {exc}") from None
    name = ((spec.get("inputs") or {}).get("model_name")) if isinstance(spec, dict) else None
    if isinstance(name, dict):
        name = name.get("default") or name.get("value")
    if not name:
        raise ProjectError(f"{training} has no model_name input: pass --model-name")
    return check_model_name(str(name), f"the model_name input of {training.name}")


def latest_local_model(root: Path, model_name: str) -> tuple[str, Path]:
    """(version, folder) of the newest registered version of `model_name` in the local store."""
    store = layout(root).runs / "mlflow.db"
    if not store.is_file():
        raise ProjectError(
            f"no local model registry ({store.relative_to(root)} is missing): train and "
            "register a model first with `amlctl run --local pipelines/training.yml`"
        )
    import mlflow.artifacts
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    check_model_name(model_name, "model name")  # no quote in it, so the filter below holds
    client = MlflowClient(tracking_uri=f"sqlite:///{store}", registry_uri=f"sqlite:///{store}")
    try:
        versions = client.search_model_versions(f"name = '{model_name}'")
    except MlflowException as exc:
        raise ProjectError(f"cannot read {store.relative_to(root)}: {exc.message}") from None
    if not versions:
        raise ProjectError(
            f"model {model_name!r} has no registered version in {store.relative_to(root)}: "
            "run the training pipeline until it registers one"
        )
    latest = max(versions, key=lambda version: int(version.version))
    uri = client.get_model_version_download_uri(model_name, latest.version)
    folder = Path(
        mlflow.artifacts.download_artifacts(artifact_uri=uri, tracking_uri=f"sqlite:///{store}")
    )
    if not (folder / "MLmodel").is_file():
        raise ProjectError(
            f"{model_name} version {latest.version}: {folder} is not an MLflow model"
        )
    return str(latest.version), folder


def server_command(entry_script: Path, model_dir: Path, port: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "amlctl.serving._launch",
        "--entry_script",
        str(entry_script),
        "--model_dir",
        str(model_dir),
        "--port",
        str(port),
        "--worker_count",
        str(workers),
    ]


def deployment_environment(deployment: Path) -> dict[str, str]:
    """The environment_variables of an online deployment YAML, as Azure ML sets them."""
    import yaml

    try:
        spec = yaml.safe_load(deployment.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ProjectError(f"cannot read {deployment}: {exc}") from None
    variables = spec.get("environment_variables") if isinstance(spec, dict) else None
    if variables is None:
        return {}
    if not isinstance(variables, dict):
        raise ProjectError(f"{deployment}: environment_variables must be a mapping")
    return {str(key): "" if value is None else str(value) for key, value in variables.items()}


def server_environment(
    extra: dict[str, str] | None = None, deployment: Path | None = None
) -> dict[str, str]:
    """The server's environment: this one, then the deployment's variables, then `extra`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    # the server's telemetry and version header are for Azure; keep a laptop run quiet
    env.setdefault("AML_APP_INSIGHTS_ENABLED", "false")
    env.setdefault("GUNICORN_CMD_ARGS", THREADED_WORKER)
    if deployment is not None:
        env.update(deployment_environment(deployment))
    env.update(extra or {})
    return env


@contextlib.contextmanager
def running_server(
    entry_script: Path,
    model_dir: Path,
    port: int | None = None,
    workers: int = 1,
    env: dict[str, str] | None = None,
    log: Path | None = None,
    timeout_s: float = START_TIMEOUT_S,
    deployment: Path | None = None,
) -> Iterator[RunningServer]:
    """Start the inference server, wait until it answers, yield it, stop it.

    `deployment` (an online deployment YAML) gives the server that deployment's
    environment_variables, as Azure ML sets them; `env` is set on top of them.
    """
    try:
        import azureml_inference_server_http  # noqa: F401
    except ImportError:
        raise ProjectError(
            "azureml-inference-server-http is not installed in this environment: "
            "add it to the project's dependencies (pip install azureml-inference-server-http)"
        ) from None
    if not entry_script.is_file():
        raise ProjectError(f"scoring script {entry_script} not found")
    environment = server_environment(env, deployment)
    if port:
        check_port_free(port)
    else:
        port = free_port()
    with contextlib.ExitStack() as stack:
        if log is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="amlctl-serve-")))
            log = folder / "server.log"
        out = stack.enter_context(log.open("wb"))
        process = subprocess.Popen(
            server_command(entry_script.resolve(), model_dir.resolve(), port, workers),
            cwd=entry_script.resolve().parent,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        server = RunningServer(f"http://127.0.0.1:{port}/score", port, process, log)
        try:
            wait_until_ready(server, timeout_s)
            yield server
        finally:
            stop(process)


def wait_until_ready(server: RunningServer, timeout_s: float) -> None:
    """Until GET / answers and a worker has run init() (GET /score answers, not 502/503)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ProjectError(
                f"the inference server exited with code {server.process.returncode} before "
                f"it was ready:\n{tail(server.log)}"
            )
        try:
            with urllib.request.urlopen(server.health_url, timeout=2) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise ProjectError(
        f"the inference server did not answer on port {server.port} within {timeout_s:.0f} s:"
        f"\n{tail(server.log)}"
    )


def tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def stop(process: subprocess.Popen, grace_s: float = 10.0) -> None:
    """SIGTERM the server's process group (gunicorn and its workers), SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=5001, help="loopback port (default 5001)")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="an MLflow model folder (default: the latest "
        "locally registered version of the project's model)",
    )
    parser.add_argument(
        "--model-name",
        default=None,
        help="registered model name (default: the training pipeline's model_name input)",
    )


def main(args: argparse.Namespace) -> int:
    root = project_root()
    where = layout(root)
    if not 0 < args.port < 65536:
        raise ProjectError(f"--port {args.port} is not a TCP port (1-65535)")
    if args.workers < 1:
        raise ProjectError(f"--workers {args.workers} must be at least 1")
    check_port_free(args.port)  # before anything is looked up or printed
    if args.model is not None:
        if not (args.model / "MLmodel").is_file():
            raise ProjectError(f"--model {args.model} is not an MLflow model folder (no MLmodel)")
        version, folder = "(folder)", args.model
        name = args.model.name
    else:
        if args.model_name is not None:
            name = check_model_name(args.model_name, "--model-name")
        else:
            name = default_model_name(root)
        version, folder = latest_local_model(root, name)
    script = where.online / SCORING_SCRIPT
    deployment = where.online / DEPLOYMENT
    log = where.runs / "serve.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    # SIGTERM (a service manager, `kill`) stops the server like Ctrl+C does
    signal.signal(signal.SIGTERM, _interrupt)
    with running_server(
        script,
        folder,
        port=args.port,
        workers=args.workers,
        log=log,
        deployment=deployment if deployment.is_file() else None,
    ) as server:
        print(f"serving {name} version {version} from {folder}")
        print(f"POST {server.url} (health: GET {server.health_url}); log: {log}")
        print("Ctrl+C stops the server", flush=True)
        while server.process.poll() is None:
            time.sleep(0.5)
        raise ProjectError(
            f"the inference server stopped (exit {server.process.returncode}):\n{tail(log)}"
        )
