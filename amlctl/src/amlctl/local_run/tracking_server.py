"""The run's MLflow store served over MLflow's REST protocol on a loopback port.

Steps get ``MLFLOW_TRACKING_URI=http://127.0.0.1:PORT``, so a step whose environment has
another MLflow version than amlctl's (1.x, 2.x or 3.x) logs into the same store through
the stable REST API and never opens, or migrates, the SQLite file itself. The runner
talks to it with a few plain HTTP calls (``RestClient``), without importing MLflow.

The calls every run makes (experiments, runs, metrics, the model registry) are answered by
``_routes`` at once, straight from the store; every other call of MLflow's REST API (MLflow
3's logged models, datasets, traces...) by MLflow's own request handlers
(``mlflow.server.handlers``, loaded in the background once the store is open) over the same
store. amlctl depends on mlflow-skinny, which ships those handlers but not Flask, the web
framework they run in: Flask is a dependency of amlctl for that.

The server outlives one run (importing MLflow and opening the store cost seconds; a
re-run should not pay them again) and exits after ``--idle`` seconds without requests.
Its address is in ``<store>.server.json``; started with::

    python -m amlctl.local_run.tracking_server --store sqlite:///.runs/mlflow.db --idle 900 \
        --artifacts file:///path/to/.runs/mlartifacts
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

API = "/api/2.0/mlflow/"
# MLflow 3 reports usage from a thread that sets and removes a variable of the process's
# environment; where the internet is out of reach, that races the process's own requests
# ("failed with exception '_MLFLOW_TELEMETRY_SESSION_ID'", seen on this template's steps).
# The server and local steps report nothing unless their environment says otherwise.
# no telemetry; and no "View run at http://127.0.0.1:<port>/#/..." per step: that port is
# the runner's tracking API, which serves no UI (`amlctl ui` does, and the run's page)
NO_TELEMETRY = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
}
DEFAULT_IDLE_SECONDS = 900
START_TIMEOUT = 60.0


class TrackingError(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status the server answered with, if it answered


# -- the server (run as a script; imports MLflow) ---------------------------------------------


def _routes(store_uri: str, artifacts: str) -> tuple[dict[str, Any], type[Exception], Any, Any]:
    """The REST routes over the store, MLflow's exception type, the store and the registry
    (imports MLflow and opens, or makes, the store)."""
    import logging

    from mlflow.entities import Metric, Param, RunStatus, RunTag, ViewType
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST
    from mlflow.tracking._tracking_service.utils import _get_store
    from mlflow.utils.proto_json_utils import message_to_json

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    from mlflow.entities.model_registry import ModelVersionTag, RegisteredModelTag
    from mlflow.tracking._model_registry.utils import _get_store as _get_registry

    from .mlflow_schema import create_store, remember_head_revision

    remember_head_revision()  # each store opened would parse the migrations again
    if store_uri.startswith("sqlite:///"):  # a new store from the kept schema: no migrations
        create_store(Path(store_uri[len("sqlite:///") :]))
    # experiments made without an artifact location (a step's MLflow making the run's
    # experiment by name) keep their artifacts here, not in ./mlruns of the server's cwd
    store = _get_store(store_uri, artifacts)
    store.search_experiments(max_results=1)  # creates or migrates the store now, once
    registry = _get_registry(store_uri)
    creating = threading.Lock()

    def proto(entity: Any) -> dict[str, Any]:
        return json.loads(message_to_json(entity.to_proto()))

    def tags(raw: Any) -> list[Any]:
        return [RunTag(t["key"], str(t.get("value", ""))) for t in raw or []]

    def metric(m: dict[str, Any]) -> Any:
        return Metric(
            m["key"], float(m["value"]), int(m.get("timestamp") or 0), int(m.get("step") or 0)
        )

    def run_id(body: dict[str, Any]) -> str:
        return body.get("run_id") or body.get("run_uuid")

    def experiments_get_by_name(body):
        found = store.get_experiment_by_name(body["experiment_name"])
        if found is None:
            raise MlflowException(
                f"Could not find experiment with name '{body['experiment_name']}'",
                error_code=RESOURCE_DOES_NOT_EXIST,
            )
        return {"experiment": proto(found)}

    def experiments_get(body):
        return {"experiment": proto(store.get_experiment(body["experiment_id"]))}

    def experiments_search(body):
        found = store.search_experiments(
            view_type=ViewType.ACTIVE_ONLY,
            max_results=int(body.get("max_results") or 1000),
            filter_string=body.get("filter"),
            order_by=body.get("order_by"),
            page_token=body.get("page_token"),
        )
        result: dict[str, Any] = {"experiments": [proto(e) for e in found]}
        if found.token:
            token = found.token
            result["next_page_token"] = token.decode() if isinstance(token, bytes) else token
        return result

    def experiments_create(body):
        # A run's experiment may be created by the runner and by a step's MLflow at once:
        # creating one that exists (and is active) gives its id, not an error.
        with creating:
            found = store.get_experiment_by_name(body["name"])
            if found is not None and found.lifecycle_stage == "active":
                return {"experiment_id": found.experiment_id}
            created = store.create_experiment(
                body["name"], body.get("artifact_location"), tags=tags(body.get("tags")) or None
            )
        return {"experiment_id": created}

    def runs_create(body):
        run = store.create_run(
            experiment_id=str(body.get("experiment_id") or "0"),
            user_id=body.get("user_id") or "",
            start_time=int(body.get("start_time") or time.time() * 1000),
            tags=tags(body.get("tags")),
            run_name=body.get("run_name"),
        )
        return {"run": proto(run)}

    def runs_update(body):
        info = store.update_run_info(
            run_id(body),
            RunStatus.from_string(body.get("status") or "RUNNING"),
            int(body["end_time"]) if body.get("end_time") else None,
            body.get("run_name"),
        )
        return {"run_info": proto(info)}

    def runs_search(body):
        found = store.search_runs(
            [str(e) for e in body.get("experiment_ids") or []],
            body.get("filter") or "",
            ViewType.ACTIVE_ONLY,
            int(body.get("max_results") or 1000),
            body.get("order_by"),
            body.get("page_token"),
        )
        result: dict[str, Any] = {"runs": [proto(r) for r in found]}
        if found.token:
            token = found.token
            result["next_page_token"] = token.decode() if isinstance(token, bytes) else token
        return result

    def log_batch(body):
        store.log_batch(
            run_id(body),
            [metric(m) for m in body.get("metrics") or []],
            [Param(p["key"], str(p.get("value", ""))) for p in body.get("params") or []],
            tags(body.get("tags")),
        )
        return {}

    def history(body):
        found = store.get_metric_history(run_id(body), body["metric_key"])
        return {"metrics": [proto(m) for m in found]}

    def paged(key: str, found: Any) -> dict[str, Any]:
        result: dict[str, Any] = {key: [proto(x) for x in found]}
        token = getattr(found, "token", None)
        if token:
            result["next_page_token"] = token.decode() if isinstance(token, bytes) else token
        return result

    def model_versions_create(body):
        version = registry.create_model_version(
            body["name"],
            body["source"],
            run_id=body.get("run_id"),
            tags=[
                ModelVersionTag(t["key"], str(t.get("value", ""))) for t in body.get("tags") or []
            ],
            run_link=body.get("run_link"),
            description=body.get("description"),
            model_id=body.get("model_id"),
        )
        return {"model_version": proto(version)}

    routes = {
        "registered-models/create": lambda b: {
            "registered_model": proto(
                registry.create_registered_model(
                    b["name"],
                    [
                        RegisteredModelTag(t["key"], str(t.get("value", "")))
                        for t in b.get("tags") or []
                    ],
                    b.get("description"),
                )
            )
        },
        "registered-models/get": lambda b: {
            "registered_model": proto(registry.get_registered_model(b["name"]))
        },
        "registered-models/search": lambda b: paged(
            "registered_models",
            registry.search_registered_models(
                b.get("filter"),
                int(b.get("max_results") or 100),
                b.get("order_by"),
                b.get("page_token"),
            ),
        ),
        "registered-models/get-latest-versions": lambda b: paged(
            "model_versions", registry.get_latest_versions(b["name"], b.get("stages"))
        ),
        "registered-models/alias": lambda b: (
            {"model_version": proto(registry.get_model_version_by_alias(b["name"], b["alias"]))}
            if "version" not in b
            else registry.set_registered_model_alias(b["name"], b["alias"], b["version"]) or {}
        ),
        "model-versions/create": model_versions_create,
        "model-versions/get": lambda b: {
            "model_version": proto(registry.get_model_version(b["name"], b["version"]))
        },
        "model-versions/search": lambda b: paged(
            "model_versions",
            registry.search_model_versions(
                b.get("filter"),
                int(b.get("max_results") or 10000),
                b.get("order_by"),
                b.get("page_token"),
            ),
        ),
        "model-versions/set-tag": lambda b: (
            registry.set_model_version_tag(
                b["name"], b["version"], ModelVersionTag(b["key"], str(b["value"]))
            )
            or {}
        ),
        "experiments/get-by-name": experiments_get_by_name,
        "experiments/get": experiments_get,
        "experiments/create": experiments_create,
        "experiments/search": experiments_search,
        "experiments/list": experiments_search,
        "runs/create": runs_create,
        "runs/get": lambda b: {"run": proto(store.get_run(run_id(b)))},
        "runs/update": runs_update,
        "runs/search": runs_search,
        "runs/log-metric": lambda b: store.log_metric(run_id(b), metric(b)) or {},
        "runs/log-parameter": lambda b: (
            store.log_param(run_id(b), Param(b["key"], str(b.get("value", "")))) or {}
        ),
        "runs/set-tag": lambda b: store.set_tag(run_id(b), RunTag(b["key"], str(b["value"]))) or {},
        "runs/delete-tag": lambda b: store.delete_tag(run_id(b), b["key"]) or {},
        "runs/log-batch": log_batch,
        "runs/delete": lambda b: store.delete_run(run_id(b)) or {},
        "runs/log-inputs": lambda b: {},  # dataset lineage: not kept locally
        "metrics/get-history": history,
    }

    return routes, MlflowException, store, registry


def _mlflow_app(store: Any, registry: Any) -> Any:
    """A Flask app of MLflow's own REST handlers (``mlflow server`` without its UI) over
    the store and registry the server already has open."""
    from flask import Flask
    from mlflow.server import handlers

    handlers._tracking_store = store  # what _get_tracking_store() gives every handler
    handlers._model_registry_store = registry
    app = Flask("amlctl-tracking")
    for path, handler, methods in handlers.get_endpoints():
        if path.startswith("/api/"):
            endpoint = f"{','.join(methods)} {path}"  # one path, one handler per method
            app.add_url_rule(path, endpoint=endpoint, view_func=handler, methods=methods)
    return app


def _forward(app: Any, method: str, path: str, data: bytes, headers: Any) -> tuple[int, str, bytes]:
    """(status, content type, body) of MLflow's handler for one request."""
    client = app.test_client()  # in-process WSGI: no second port, no second server
    response = client.open(
        path,
        method=method,
        data=data,
        content_type=headers.get("Content-Type") or "application/json",
    )
    return response.status_code, response.content_type, response.get_data()


def _serve(store_uri: str, state_file: Path, idle: float, artifacts: str) -> None:
    """Listen at once, open the store, then answer; requests that come early wait for it.

    The address is published before MLflow is imported, so a run's first step can be
    pointed at the server while the store opens.
    """
    ready = threading.Event()
    mlflow_ready = threading.Event()  # MLflow's own handlers, loaded after the store opens
    app: dict[str, Any] = {}
    last_request = [time.monotonic()]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            self._send(status, "application/json", json.dumps(body).encode())

        def _send(self, status: int, content_type: str, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            last_request[0] = time.monotonic()
            parsed = urllib.parse.urlparse(self.path)
            if parsed.path == "/health":
                self._reply(200, {"store": store_uri, "ready": ready.is_set()})
                return
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            ready.wait()
            if "error" in app:
                self._reply(500, {"error_code": "INTERNAL_ERROR", "message": app["error"]})
                return
            route = parsed.path.split(API, 1)[-1] if API in parsed.path else None
            handler = app["routes"].get(route or "")
            if handler is None:
                self._forward(parsed, raw)
                return
            body: dict[str, Any] = json.loads(raw or b"{}") if raw else {}
            for key, values in urllib.parse.parse_qs(parsed.query).items():
                body.setdefault(
                    key, values if key in ("experiment_ids", "order_by") else values[-1]
                )
            try:
                self._reply(200, handler(body))
            except app["mlflow_error"] as exc:
                self._reply(exc.get_http_status_code(), json.loads(exc.serialize_as_json()))
            except Exception as exc:  # a bad request must not stop the server
                self._reply(400, {"error_code": "BAD_REQUEST", "message": str(exc)})

        def _forward(self, parsed: Any, raw: bytes) -> None:
            """Any other call, to MLflow's own handler of it."""
            mlflow_ready.wait()
            if "mlflow_app" not in app:
                self._reply(
                    404,
                    {
                        "error_code": "ENDPOINT_NOT_FOUND",
                        "message": f"{parsed.path} is not served by amlctl's local tracking "
                        f"({app.get('mlflow_app_error', 'no MLflow handlers')})",
                    },
                )
                return
            path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
            try:
                self._send(*_forward(app["mlflow_app"], self.command, path, raw, self.headers))
            except Exception as exc:  # a handler's failure must not stop the server
                self._reply(500, {"error_code": "INTERNAL_ERROR", "message": str(exc)})

        do_GET = do_POST = do_PATCH = do_DELETE = _handle

    claim = _claim(state_file)  # held for the server's life: one server per store
    if claim is None:
        print(f"another server serves {store_uri}; this one stops", file=sys.stderr, flush=True)
        sys.exit(3)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state = {
        "pid": os.getpid(),
        "port": server.server_address[1],
        "store": store_uri,
        "code": _code_version(),
    }
    claim.seek(0)
    claim.truncate()
    claim.write(json.dumps(state))
    claim.flush()
    _publish(state_file, state)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.5}, daemon=True
    ).start()
    opened: tuple[Any, Any] | None = None  # the store and the registry
    try:
        app["routes"], app["mlflow_error"], store, registry = _routes(store_uri, artifacts)
        opened = (store, registry)
    except Exception as exc:  # answered to the requests that wait, then the server stops
        app["error"] = f"the MLflow store {store_uri} cannot be opened: {exc}"
        print(app["error"], file=sys.stderr, flush=True)
        idle = 0.5
    finally:
        ready.set()

    def load_mlflow_app() -> None:
        try:
            if opened is not None:
                app["mlflow_app"] = _mlflow_app(*opened)
        except Exception as exc:  # e.g. Flask missing: those calls answer 404 saying why
            app["mlflow_app_error"] = f"{type(exc).__name__}: {exc}"
            print(f"MLflow's handlers cannot be loaded: {exc}", file=sys.stderr, flush=True)
        finally:
            mlflow_ready.set()

    threading.Thread(target=load_mlflow_app, daemon=True).start()
    try:
        while time.monotonic() - last_request[0] < idle:
            time.sleep(min(5.0, idle / 4))
            if _published_pid(state_file) != os.getpid():  # damaged or replaced: say it again
                _publish(state_file, state)
    finally:
        server.shutdown()
        with contextlib.suppress(OSError):
            if json.loads(state_file.read_text()).get("pid") == os.getpid():
                state_file.unlink()


def _publish(state_file: Path, state: dict[str, Any]) -> None:
    tmp = state_file.with_name(f"{state_file.name}.{os.getpid()}")
    tmp.write_text(json.dumps(state))
    tmp.replace(state_file)


def _published_pid(state_file: Path) -> int | None:
    try:
        return int(json.loads(state_file.read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _serving_file(state_file: Path) -> Path:
    """The file a live server holds an exclusive lock on: whatever the state file says, a
    store has one server (a damaged state file cannot make a second one start)."""
    return state_file.with_name(state_file.name + ".serving")


def _claim(state_file: Path) -> Any:
    """The serving file, locked for this process; None when another server holds it."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: the state file alone decides
        return open(os.devnull, "w")
    handle = open(_serving_file(state_file), "a+")  # noqa: SIM115 (held for the server's life)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


def claimed_by(state_file: Path) -> dict[str, Any] | None:
    """The state of the live server that holds this store's serving lock, if one does."""
    path = _serving_file(state_file)
    if not path.exists():
        return None
    try:
        import fcntl
    except ImportError:  # pragma: no cover
        return None
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:  # held: a server lives; what it wrote says where
            handle.seek(0)
            try:
                state = json.loads(handle.read())
                os.kill(int(state["pid"]), 0)
            except (OSError, ValueError, KeyError, TypeError):
                return None
            return state
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def _stop_other_version(state: dict[str, Any], deadline: float) -> None:
    """A server of another amlctl version holds the store: stop it so this version's serves."""
    with contextlib.suppress(OSError):
        os.kill(int(state["pid"]), signal.SIGTERM)
    while time.monotonic() < deadline:
        try:
            os.kill(int(state["pid"]), 0)
        except OSError:
            return
        time.sleep(0.05)


# -- the runner's side (no MLflow import) -----------------------------------------------------


def stop_server(store_uri: str, runs_dir: Path, timeout: float = 10.0) -> None:
    """Stop the store's live server: the process that holds its serving lock (a pid in a
    state file alone may be anyone's by now, so it is not signalled)."""
    holder = claimed_by(state_file_for(store_uri, runs_dir))
    if holder is not None and holder.get("store") == store_uri:
        _stop_other_version(holder, time.monotonic() + timeout)


def state_file_for(store_uri: str, runs_dir: Path) -> Path:
    if store_uri.startswith("sqlite:///"):
        return Path(store_uri[len("sqlite:///") :] + ".server.json")
    import hashlib

    return runs_dir / f"tracking-{hashlib.sha256(store_uri.encode()).hexdigest()[:12]}.json"


def _code_version() -> str:
    """This file's content hash: a server started by another amlctl version is not reused."""
    import hashlib

    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


def server_status(state_file: Path) -> tuple[str, bool] | None:
    """(URL, ready) of a live server for this store of this amlctl version, else None.

    A server answers as soon as it listens; it is ready once its store is open.
    """
    try:
        state = json.loads(state_file.read_text())
        os.kill(int(state["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if state.get("code") != _code_version():
        return None
    url = f"http://127.0.0.1:{state['port']}"
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:  # noqa: S310
            if response.status == 200:
                return url, bool(json.loads(response.read() or b"{}").get("ready", True))
    except (OSError, ValueError, urllib.error.URLError):
        return None
    return None


def running_server(state_file: Path) -> str | None:
    """The URL of a live and ready server for this store, if one of this amlctl version runs."""
    status = server_status(state_file)
    return status[0] if status and status[1] else None


def ensure_server(
    store_uri: str, runs_dir: Path, on_address: Callable[[str], None] | None = None
) -> str:
    """The URL of the store's server, started (detached) when none runs; returns when ready.

    ``on_address(url)`` is called as soon as the server listens, before its store is open:
    requests sent from then on wait for the store and are answered.
    """
    state_file = state_file_for(store_uri, runs_dir)
    log = state_file.with_name(state_file.name.replace(".json", ".log"))
    deadline = time.monotonic() + START_TIMEOUT
    status = server_status(state_file)
    process = None
    if status is None:
        state_file.parent.mkdir(parents=True, exist_ok=True)
        lock = state_file.with_name(state_file.name + ".lock")
        with lock.open("w") as handle:
            try:
                import fcntl

                fcntl.flock(handle, fcntl.LOCK_EX)
            except ImportError:  # pragma: no cover
                pass
            status = server_status(state_file)
            holder = claimed_by(state_file) if status is None else None
            if holder is not None and holder.get("code") == _code_version():
                _publish(state_file, holder)  # the state file was damaged: the server lives
                status = server_status(state_file)
            elif holder is not None:
                _stop_other_version(holder, deadline)
            if status is None:
                process = _start(store_uri, state_file, log, runs_dir)
                status = _wait(state_file, process, log, deadline, ready=False)
    url, ready = status
    if on_address:
        on_address(url)
    if not ready:
        _wait(state_file, process, log, deadline, ready=True)
    return url


def _wait(
    state_file: Path, process: Any, log: Path, deadline: float, ready: bool
) -> tuple[str, bool]:
    """The server's status once it listens (or, with ``ready``, once its store is open)."""
    while time.monotonic() < deadline:
        status = server_status(state_file)
        if status is not None and (status[1] or not ready):
            return status
        gone = process is not None and process.poll() is not None
        if gone or (ready and status is None):  # a listening server does not just vanish
            raise TrackingError(f"the tracking server stopped; see {log}")
        time.sleep(0.02)
    raise TrackingError(f"the tracking server did not start in {START_TIMEOUT:g} s; see {log}")


def artifact_root(runs_dir: Path) -> str:
    """Where runs of a project's local store keep their artifacts (not ./mlruns of a cwd)."""
    return (runs_dir.resolve() / "mlartifacts").as_uri()


def _start(store_uri: str, state_file: Path, log: Path, runs_dir: Path) -> subprocess.Popen[bytes]:
    idle = os.environ.get("AMLCTL_TRACKING_IDLE_SECONDS", str(DEFAULT_IDLE_SECONDS))
    with log.open("a") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                __name__,
                "--store",
                store_uri,
                "--state",
                str(state_file),
                "--idle",
                idle,
                "--artifacts",
                artifact_root(runs_dir),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives this run; stops itself when idle
            env={
                **NO_TELEMETRY,
                **{k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_RUN")},
            },
        )


class RestClient:
    """The MLflow client calls the runner makes, over MLflow's REST API."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def call(self, route: str, body: dict[str, Any] | None = None, method: str = "POST") -> Any:
        data = None
        url = f"{self.url}{API}{route}"
        if method == "GET":
            url += "?" + urllib.parse.urlencode(body or {})
        else:
            data = json.dumps(body or {}).encode()
        request = urllib.request.Request(  # noqa: S310 - loopback or the user's tracking URI
            url, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise TrackingError(f"{route}: HTTP {exc.code} {detail[:200]}", exc.code) from None
        except OSError as exc:  # refused, reset, timed out: the server is gone
            raise TrackingError(f"{route}: {self.url} does not answer ({exc})") from None

    def experiment_id(self, name: str, artifact_location: str | None) -> str:
        try:
            found = self.call("experiments/get-by-name", {"experiment_name": name}, "GET")
            return found["experiment"]["experiment_id"]
        except TrackingError as exc:
            if "RESOURCE_DOES_NOT_EXIST" not in str(exc):
                raise
        body = {"name": name}
        if artifact_location:
            body["artifact_location"] = artifact_location
        return self.call("experiments/create", body)["experiment_id"]

    def create_run(self, experiment_id: str, name: str, tags: dict[str, str]) -> str:
        body = {
            "experiment_id": experiment_id,
            "run_name": name,
            "start_time": int(time.time() * 1000),
            "tags": [{"key": k, "value": str(v)} for k, v in tags.items() if v is not None],
        }
        return self.call("runs/create", body)["run"]["info"]["run_id"]

    def set_terminated(self, run_id: str, status: str) -> None:
        self.call(
            "runs/update",
            {"run_id": run_id, "status": status, "end_time": int(time.time() * 1000)},
        )

    def log_batch(self, run_id: str, metrics=None, params=None, tags=None) -> None:
        now = int(time.time() * 1000)
        self.call(
            "runs/log-batch",
            {
                "run_id": run_id,
                "metrics": [
                    {"key": k, "value": float(v), "timestamp": now, "step": 0}
                    for k, v in (metrics or {}).items()
                ],
                "params": [{"key": k, "value": str(v)} for k, v in (params or {}).items()],
                "tags": [{"key": k, "value": str(v)} for k, v in (tags or {}).items()],
            },
        )

    def run_metrics(self, run_id: str) -> dict[str, float]:
        run = self.call("runs/get", {"run_id": run_id}, "GET")["run"]
        return {m["key"]: float(m["value"]) for m in run.get("data", {}).get("metrics", [])}

    def search_runs(
        self, experiment_ids: list[str], filter_string: str, max_results: int = 1000
    ) -> list[dict[str, Any]]:
        found = self.call(
            "runs/search",
            {"experiment_ids": experiment_ids, "filter": filter_string, "max_results": max_results},
        )
        return found.get("runs") or []

    def find_run(self, experiment_ids: list[str], filter_string: str) -> str | None:
        found = self.call(
            "runs/search",
            {"experiment_ids": experiment_ids, "filter": filter_string, "max_results": 1},
        )
        runs = found.get("runs") or []
        return runs[0]["info"]["run_id"] if runs else None

    def history(self, run_id: str, key: str) -> list[float]:
        found = self.call("metrics/get-history", {"run_id": run_id, "metric_key": key}, "GET")
        points = found.get("metrics") or []
        points.sort(key=lambda m: (int(m.get("step") or 0), int(m.get("timestamp") or 0)))
        return [float(m["value"]) for m in points]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve an MLflow store over REST on loopback.")
    parser.add_argument("--store", required=True)
    parser.add_argument("--state", required=True, type=Path)
    parser.add_argument("--idle", type=float, default=DEFAULT_IDLE_SECONDS)
    parser.add_argument(
        "--artifacts", required=True, help="artifact root of experiments made without one"
    )
    args = parser.parse_args(argv)
    _serve(args.store, args.state, args.idle, args.artifacts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
