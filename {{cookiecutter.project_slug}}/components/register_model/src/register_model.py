"""Register a promoted model in the MLflow model registry of the configured tracking store.

In an Azure ML job MLflow's tracking URI points at the workspace, so the model lands in the
workspace registry; in a local run it points at the local store (amlctl's loopback MLflow
server, or e.g. sqlite:///...mlflow.db) and the model lands in that store's registry, which
needs no network.

Every version carries the model's content digest (tag model_sha256), so the same model is
never registered twice. The step always runs (it is not deterministic), and a re-run with
an unchanged model costs a fraction of a second: with a plain MLflow server, such as the
local runner's, the registry is read and written over MLflow's REST API, without
importing MLflow (about 1.5 s of this step otherwise). Anything else (the Azure ML
workspace, a server that needs a sign-in) goes through the MLflow client.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

DECISION_FILE = "decision.json"
METRICS_FILE = "metrics.json"
REGISTRATION_FILE = "registration.json"
DIGEST_TAG = "model_sha256"
# MLflow client settings that a plain REST call would not honour: sign-in, TLS, proxies
MLFLOW_CLIENT_SETTINGS = (
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_INSECURE_TLS",
    "MLFLOW_TRACKING_SERVER_CERT_PATH",
    "MLFLOW_TRACKING_CLIENT_CERT_PATH",
    "MLFLOW_REGISTRY_URI",
)


def parse_bool(text: str) -> bool:
    """Azure ML passes booleans as True/False; accept the usual spellings."""
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--evaluation", type=Path, required=True)
    parser.add_argument("--model_name", required=True)
    parser.add_argument("--must_beat_registered", type=parse_bool, default=True)
    parser.add_argument("--registration", type=Path, required=True, help="output folder")
    return parser.parse_args(argv)


def read_decision(evaluation: Path) -> dict:
    path = evaluation / DECISION_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: pass the output folder of the evaluate step")
    decision = json.loads(path.read_text())
    if not isinstance(decision.get("promote"), bool):
        raise ValueError(
            f"{path}: 'promote' must be true or false, got {decision.get('promote')!r}"
        )
    return decision


def model_digest(model: Path) -> str:
    """SHA-256 over the model folder's files (relative names and bytes), in name order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in model.rglob("*") if p.is_file()):
        digest.update(path.relative_to(model).as_posix().encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


class MlflowRegistry:
    """The registry through the MLflow client (Azure ML workspaces, any MLflow store)."""

    def latest(self, model_name: str) -> dict | None:
        """{"version", "tags"} of the newest version of `model_name`, if any."""
        from mlflow import MlflowClient

        versions = MlflowClient().search_model_versions(f"name='{model_name}'")
        if not versions:
            return None
        latest = max(versions, key=lambda version: int(version.version))
        return {"version": str(latest.version), "tags": dict(latest.tags or {})}

    def register(self, model: Path, model_name: str, score: float, tags: dict) -> dict:
        """Log the model folder to this step's run and register it from there."""
        import mlflow

        with mlflow.start_run() as run:
            mlflow.log_artifacts(str(model), artifact_path="model")
            mlflow.log_metric("registered_score", score)
            version = mlflow.register_model(f"runs:/{run.info.run_id}/model", model_name, tags=tags)
        return {"version": str(version.version), "run_id": run.info.run_id}


class RestRegistry:
    """The registry of a plain MLflow server, over MLflow's REST API (no MLflow import).

    Registering needs this step's run (MLFLOW_RUN_ID) and artifacts kept on this machine
    (a file: artifact location), as with the local runner; else the MLflow client does it.
    """

    def __init__(self, uri: str) -> None:
        self.uri = uri.rstrip("/")

    def call(self, route: str, body: dict, method: str = "POST") -> dict:
        url = f"{self.uri}/api/2.0/mlflow/{route}"
        data = None
        if method == "GET":
            url += "?" + urllib.parse.urlencode(body, doseq=True)
        else:
            data = json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - the configured MLflow server
            url, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
            return json.loads(response.read() or b"{}")

    def latest(self, model_name: str) -> dict | None:
        query = {
            "filter": f"name='{model_name}'",
            "max_results": 1,
            "order_by": ["version_number DESC"],
        }
        found = self.call("model-versions/search", query, "GET").get("model_versions") or []
        if not found:
            return None
        latest = found[0]
        tags = {tag["key"]: tag.get("value", "") for tag in latest.get("tags") or []}
        return {"version": str(latest["version"]), "tags": tags}

    def artifact_dir(self) -> Path | None:
        """This step's run's artifact folder, when the run is known and its artifacts local."""
        run_id = os.environ.get("MLFLOW_RUN_ID")
        if not run_id:
            return None
        run = self.call("runs/get", {"run_id": run_id}, "GET")["run"]
        parsed = urllib.parse.urlparse(run["info"].get("artifact_uri") or "")
        if parsed.scheme != "file":
            return None
        return Path(urllib.request.url2pathname(parsed.path))

    def register(self, model: Path, model_name: str, score: float, tags: dict) -> dict:
        artifacts = self.artifact_dir()
        if artifacts is None:
            return MlflowRegistry().register(model, model_name, score, tags)
        run_id = os.environ["MLFLOW_RUN_ID"]
        shutil.copytree(model, artifacts / "model", dirs_exist_ok=True)
        now = int(time.time() * 1000)
        metric = {"key": "registered_score", "value": score, "timestamp": now, "step": 0}
        self.call("runs/log-batch", {"run_id": run_id, "metrics": [metric]})
        try:
            self.call("registered-models/create", {"name": model_name})
        except urllib.error.HTTPError as exc:
            if exc.code != 400 or b"RESOURCE_ALREADY_EXISTS" not in exc.read():
                raise
        created = self.call(
            "model-versions/create",
            {
                "name": model_name,
                "source": (artifacts / "model").as_uri(),
                "run_id": run_id,
                "tags": [{"key": k, "value": str(v)} for k, v in tags.items()],
            },
        )
        return {"version": str(created["model_version"]["version"]), "run_id": run_id}


def model_registry() -> MlflowRegistry | RestRegistry:
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    plain = urllib.parse.urlparse(uri).scheme in ("http", "https")
    if plain and not any(os.environ.get(name) for name in MLFLOW_CLIENT_SETTINGS):
        return RestRegistry(uri)
    return MlflowRegistry()


def decide(model: Path, model_name: str, decision: dict, must_beat_registered: bool) -> dict:
    """Register the model unless its latest version holds it already or scores as well."""
    if not (model / "MLmodel").is_file():
        raise FileNotFoundError(f"{model} is not an MLflow model folder (no MLmodel file)")
    registry = model_registry()
    digest = model_digest(model)
    latest = registry.latest(model_name)
    if latest is not None and latest["tags"].get(DIGEST_TAG) == digest:
        reason = f"unchanged: {model_name} version {latest['version']} holds this model already"
        return {"registered": False, "name": model_name, "reason": reason}
    recorded = (latest or {}).get("tags", {}).get("score")
    if must_beat_registered and recorded is not None and decision["score"] <= float(recorded):
        reason = (
            f"score {decision['score']:.4f} does not beat {float(recorded):.4f} of registered "
            f"{model_name} version {latest['version']}"
        )
        return {"registered": False, "name": model_name, "reason": reason}
    tags = {"score": str(decision["score"]), "reason": decision["reason"], DIGEST_TAG: digest}
    done = registry.register(model, model_name, decision["score"], tags)
    return {
        "registered": True,
        "name": model_name,
        "version": done["version"],
        "run_id": done["run_id"],
        "score": decision["score"],
        "reason": decision["reason"],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    decision = read_decision(args.evaluation)
    if not decision["promote"]:
        result = {"registered": False, "name": args.model_name, "reason": decision["reason"]}
    elif not (os.environ.get("MLFLOW_TRACKING_URI") or os.environ.get("MLFLOW_RUN_ID")):
        print(
            "error: MLFLOW_TRACKING_URI is not set, so there is no model registry to register "
            "into (Azure ML sets it in a job; the local runner points it at .runs/mlflow.db)",
            file=sys.stderr,
        )
        return 2
    else:
        result = decide(args.model, args.model_name, decision, args.must_beat_registered)
    args.registration.mkdir(parents=True, exist_ok=True)
    (args.registration / REGISTRATION_FILE).write_text(json.dumps(result, indent=2) + "\n")
    if result["registered"]:
        print(f"registered {result['name']} version {result['version']}")
    else:
        print(f"not registered: {result['reason']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
