"""MLflow tracking of local runs: one parent run per pipeline run, one child run per step.

The store is served over MLflow's REST API by a loopback server (tracking_server.py)
that outlives a run, so the runner itself never imports MLflow and steps with any MLflow
version log through the same stable protocol. The server is found (or started) in a
background thread, and only when a step actually executes, so a run served entirely
from the cache never waits for it.

A step gets its child run through MLFLOW_RUN_ID. A step that starts while the store
is still opening does not wait for it: its own ``mlflow.start_run()`` creates the run
(MLFLOW_EXPERIMENT_ID when an earlier run learnt the id, else MLFLOW_EXPERIMENT_NAME on
a new store; tags from MLFLOW_RUN_CONTEXT) through the server, which listens before its
store is open and answers once it is, and ``settle`` links that run to the parent
afterwards. A new store is made from MLflow's schema kept as SQL (mlflow_schema.py).
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import state

STEP_TAG = "local_run.step_run"
SESSION_TAG = "local_run.session"  # the run's work-area session: alive while its runner is


def default_tracking_uri(runs_dir: Path) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{runs_dir / 'mlflow.db'}"


@dataclass
class ChildRun:
    step: str
    token: str  # "<local run id>/<step>", the STEP_TAG value
    run_id: str | None  # None while deferred to the step's own mlflow.start_run()
    env: dict[str, str] = field(default_factory=dict)


class Tracker:
    """Creates MLflow runs; all MLflow calls go through one client under a lock."""

    def __init__(self, uri: str, state_file: Path | None = None) -> None:
        self.uri = uri
        self.state_file = state_file  # remembers experiment ids between runs
        self.experiment = "local"
        self.run_name = "local"
        self.tags: dict[str, str] = {}
        self.artifact_location: str | None = None  # for new experiments (not ./mlruns in the cwd)
        self.parent_id: str | None = None
        self.experiment_id: str | None = None
        self._client: Any = None
        self.server_url: str | None = None
        self.early_url: str | None = None  # our server's address while its store opens
        self._listening_event = threading.Event()  # set once early_url is known, or never will be
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        # for timings.json: when the store was asked for, how long it took, steps' waits
        self._asked_at = 0.0
        self.connect_seconds: float | None = None
        self.connect_note = ""
        self.waited = 0.0

    def describe(self, experiment: str, run_name: str, tags: dict[str, str]) -> None:
        """Name the experiment and parent run (before the first child run is created)."""
        self.experiment, self.run_name, self.tags = experiment, run_name, tags

    def _remembered(self) -> dict[str, str]:
        if not self.state_file:
            return {}
        return state.read_json(self.state_file, state.is_str_map) or {}

    def _store_key(self) -> str:
        """Identifies the store and experiment; a re-created SQLite file gets a new key."""
        identity = self.uri
        if self.uri.startswith("sqlite:///"):
            try:
                identity += f"#{os.stat(self.uri[len('sqlite:///') :]).st_ino}"
            except OSError:
                identity += "#missing"
        return f"{identity}|{self.experiment}"

    def _remember(self) -> None:
        if self.state_file and self.experiment_id:
            with state.locked(state.lock_path(self.state_file.parent, "tracking")):
                known = self._remembered()
                key = self._store_key()
                if known.get(key) != str(self.experiment_id):
                    known[key] = str(self.experiment_id)
                    state.write_json(self.state_file, known, indent=2)

    def _store_lock(self) -> Any:
        """Runs of one project create and migrate the MLflow store one at a time."""
        import contextlib

        if self.state_file is None:
            return contextlib.nullcontext()
        return state.locked(state.lock_path(self.state_file.parent, "mlflow"))

    def _set_aside_damaged_store(self) -> None:
        """A local SQLite store that is not a database is moved aside and made anew."""
        if not self.uri.startswith("sqlite:///"):
            return
        path = Path(self.uri[len("sqlite:///") :])
        try:
            with path.open("rb") as handle:
                header = handle.read(16)
        except FileNotFoundError:
            return
        except OSError as exc:
            if path.is_dir():
                state.replace_damaged(path, "not an MLflow SQLite store (a folder)")
                return
            raise exc
        if header and header != b"SQLite format 3\x00":
            state.replace_damaged(path, "not an MLflow SQLite store (damaged)")

    @property
    def ready(self) -> bool:
        return self._thread is not None and not self._thread.is_alive()

    def open_child(self, step: str, local_run: str, defer: bool = True) -> ChildRun:
        """The child run of a step and the environment that attaches the step's process to it."""
        token = f"{local_run}/{step}"
        tags = {STEP_TAG: token, "local_run.step": step}
        known = self._remembered().get(self._store_key())
        if defer and self._thread is not None and not self.ready:
            self._listening_event.wait(10)  # a new server listens within a fraction of a second
        url = self.server_url or self.early_url
        # by name only on our own server: it makes an experiment that exists give its id, so
        # the step and the runner may both make it (another MLflow server would refuse one)
        if defer and url and not self.ready and (known or url != self.uri):
            context = {**self.tags, **tags, "mlflow.runName": step}  # parent: set by settle()
            env = {"MLFLOW_TRACKING_URI": url, "MLFLOW_RUN_CONTEXT": json.dumps(context)}
            if known:
                env["MLFLOW_EXPERIMENT_ID"] = str(known)
            else:  # a new store: the step's MLflow finds the experiment by name (or makes it)
                env["MLFLOW_EXPERIMENT_NAME"] = self.experiment
                threading.Thread(target=self._ready, args=(False,), daemon=True).start()
            return ChildRun(step, token, None, env)
        run_id = self.start_child(step, **tags)
        return ChildRun(step, token, run_id, self.env(run_id))

    def settle(self, child: ChildRun) -> str | None:
        """The MLflow run id of ``child``; a run the step created itself is linked to the parent."""
        if child.run_id is not None:
            return child.run_id
        client = self._ready()
        if client is None:
            return None
        experiments = {str(self.experiment_id), child.env.get("MLFLOW_EXPERIMENT_ID", "")}
        with self._lock:
            found = client.find_run(
                [e for e in experiments if e], f"tags.`{STEP_TAG}` = '{child.token}'"
            )
            if found:
                child.run_id = found
                client.log_batch(found, tags={"mlflow.parentRunId": self.parent_id})
        if child.run_id is None:  # the step never called mlflow.start_run()
            child.run_id = self.start_child(child.step, **{STEP_TAG: child.token})
        return child.run_id

    def prefetch(self) -> None:
        """Start importing MLflow and opening the store in the background."""
        with self._lock:
            if self._thread is None:
                self._asked_at = time.monotonic()
                self._thread = threading.Thread(target=self._connect, daemon=True)
                self._thread.start()

    @property
    def started(self) -> bool:
        return self._thread is not None

    @property
    def error(self) -> BaseException | None:
        return self._error

    def _runs_dir(self) -> Path:
        return self.state_file.parent if self.state_file else Path(".runs")

    def _live_server(self) -> str | None:
        from .tracking_server import running_server, state_file_for

        if self.uri.startswith(("http://", "https://")):
            return self.uri
        return running_server(state_file_for(self.uri, self._runs_dir()))

    def _connect(self) -> None:
        try:
            from .tracking_server import RestClient, TrackingError, ensure_server

            with self._store_lock():
                self._set_aside_damaged_store()
                if self.uri.startswith(("http://", "https://")):  # the user's own server
                    url, self.connect_note = self.uri, "the user's tracking server"
                    self._listening(url)
                else:
                    sqlite = self.uri.startswith("sqlite:///")
                    new = sqlite and not Path(self.uri[len("sqlite:///") :]).is_file()
                    running = self._live_server() is not None
                    url = ensure_server(self.uri, self._runs_dir(), self._listening)
                    self.connect_note = (
                        "its server was running"
                        if running
                        else f"server started, {'new' if new else 'existing'} store"
                    )
            client = RestClient(url)
            try:
                client.call("experiments/search", {"max_results": 1})
            except TrackingError as exc:
                if not self._store_cannot_record(exc):
                    raise
                url = self._rebuild(exc)
                client = RestClient(url)
                client.call("experiments/search", {"max_results": 1})
            self.server_url = url
            if url != self.uri:  # our own server: kept alive while this run lasts
                threading.Thread(target=_heartbeat, args=(url,), daemon=True).start()
            self._client = client
        except Exception as exc:  # tracking must never stop a run
            self._error = exc
        self._listening_event.set()
        self.connect_seconds = time.monotonic() - self._asked_at

    def _store_cannot_record(self, exc: Exception) -> bool:
        """Our own server answers, but its SQLite store fails (truncated or replaced while
        the server had it open: "no such table", "file is not a database")."""
        status = getattr(exc, "status", None)
        return self.uri.startswith("sqlite:///") and status is not None and status >= 500

    def _rebuild(self, exc: Exception) -> str:
        """Stop the server of a store that cannot record, set the file aside, serve anew."""
        from .tracking_server import ensure_server, stop_server

        path = Path(self.uri[len("sqlite:///") :])
        with self._store_lock():
            stop_server(self.uri, self._runs_dir())
            state.replace_damaged(path, f"the MLflow store cannot record ({_first_line(exc)})")
            url = ensure_server(self.uri, self._runs_dir(), self._listening)
        self.connect_note = "server restarted, damaged store set aside"
        return url

    def _listening(self, url: str) -> None:
        self.early_url = url
        self._listening_event.set()

    def _ready(self, count_wait: bool = True) -> Any:
        """The client once the store is open, with the experiment and parent run made."""
        self.prefetch()
        if self._thread is not None and self._thread.is_alive():
            waiting = time.monotonic()
            self._thread.join()
            if count_wait:  # a step (not a background thread) waited for the store
                with self._lock:
                    self.waited += time.monotonic() - waiting
        client = self._client
        if client is None:
            return None
        with self._lock:
            if self.parent_id is None:
                try:
                    with self._store_lock():  # two runs must not both create the experiment
                        self.experiment_id = client.experiment_id(
                            self.experiment, self.artifact_location
                        )
                    self.parent_id = client.create_run(
                        self.experiment_id, self.run_name, dict(self.tags)
                    )
                    self._remember()
                    self._end_dead_runs(client)
                except Exception as exc:
                    self._error, self._client = exc, None
                    return None
        return client

    def _end_dead_runs(self, client: Any) -> None:
        """Runs that a killed runner left RUNNING are marked KILLED."""
        mine = self.tags.get(SESSION_TAG)
        if self.state_file is None or mine is None:
            return
        tmp = self.state_file.parent / "tmp"
        try:
            running = client.search_runs(
                [str(self.experiment_id)], "attributes.status = 'RUNNING'", 500
            )
            for run in running:
                tags = {t["key"]: t.get("value") for t in run.get("data", {}).get("tags", [])}
                session = tags.get(SESSION_TAG)
                if session and session != mine and not state.session_alive(tmp, session):
                    client.set_terminated(run["info"]["run_id"], "KILLED")
        except Exception:  # tidying up must never stop a run
            return

    def start_child(self, name: str, parent_id: str | None = None, **tags: str) -> str | None:
        client = self._ready()
        if client is None:
            return None
        all_tags = {**self.tags, **tags, "mlflow.parentRunId": parent_id or self.parent_id}
        with self._lock:
            return client.create_run(self.experiment_id, name, all_tags)

    def end(self, run_id: str | None, ok: bool) -> None:
        if run_id is None or self._client is None:
            return
        with self._lock:
            self._client.set_terminated(run_id, "FINISHED" if ok else "FAILED")

    def log_metrics(self, run_id: str | None, metrics: dict[str, float]) -> None:
        if run_id is None or self._client is None:
            return
        with self._lock:
            self._client.log_batch(run_id, metrics=metrics)

    def log_params(self, run_id: str | None, params: dict[str, Any]) -> None:
        if run_id is None or self._client is None:
            return
        with self._lock:
            self._client.log_batch(run_id, params=params)

    def metrics(self, run_id: str | None) -> dict[str, float]:
        client = self._ready()
        if run_id is None or client is None:
            return {}
        with self._lock:
            return client.run_metrics(run_id)

    def history(self, run_id: str | None, key: str) -> list[float]:
        """Values of metric ``key`` in the order the run logged them."""
        if run_id is None or self._client is None:
            return []
        with self._lock:
            return self._client.history(run_id, key)

    def env(self, run_id: str | None) -> dict[str, str]:
        """Environment for a step process so that ``mlflow.start_run()`` attaches to run_id."""
        if run_id is None:
            return {}
        return {
            "MLFLOW_TRACKING_URI": self.server_url or self.uri,
            "MLFLOW_RUN_ID": run_id,
            "MLFLOW_EXPERIMENT_ID": str(self.experiment_id),
        }

    def finish(self, ok: bool) -> None:
        if self._thread is None:
            return
        self._thread.join()
        self.end(self.parent_id, ok)


def _first_line(exc: BaseException, limit: int = 160) -> str:
    """The gist of a tracking error: the server's message when it sent one, first line only."""
    import re

    text = str(exc) or type(exc).__name__
    found = re.search(r'"message": "((?:[^"\\]|\\.)*)', text)
    if found:
        text = found.group(1).replace("\\n", "\n")
    return text.splitlines()[0][:limit]


def _heartbeat(url: str, every: float = 60.0) -> None:
    """Ping the store's server so it does not stop for idleness while a long step runs."""
    import urllib.request

    while True:
        time.sleep(every)
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5):  # noqa: S310 - loopback
                pass
        except OSError:
            return
