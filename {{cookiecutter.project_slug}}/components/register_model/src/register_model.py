"""Register a promoted model in the MLflow model registry of the configured tracking store.

In an Azure ML job MLflow's tracking URI points at the workspace, so the model lands in the
workspace registry; in a local run it points at the local store (e.g. sqlite:///...mlflow.db)
and the model lands in that store's registry, which needs no network.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

DECISION_FILE = "decision.json"
METRICS_FILE = "metrics.json"
REGISTRATION_FILE = "registration.json"


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


def registered_score(model_name: str) -> tuple[str, float] | None:
    """Version and recorded score of the latest registered version of `model_name`, if any."""
    from mlflow import MlflowClient

    versions = MlflowClient().search_model_versions(f"name='{model_name}'")
    if not versions:
        return None
    latest = max(versions, key=lambda version: int(version.version))
    score = (latest.tags or {}).get("score")
    return None if score is None else (str(latest.version), float(score))


def register(model: Path, model_name: str, decision: dict) -> dict:
    """Log the model folder to this step's run and register it from there."""
    import mlflow

    if not (model / "MLmodel").is_file():
        raise FileNotFoundError(f"{model} is not an MLflow model folder (no MLmodel file)")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(model), artifact_path="model")
        mlflow.log_metric("registered_score", decision["score"])
        version = mlflow.register_model(
            f"runs:/{run.info.run_id}/model",
            model_name,
            tags={"score": str(decision["score"]), "reason": decision["reason"]},
        )
    return {
        "registered": True,
        "name": version.name,
        "version": str(version.version),
        "run_id": run.info.run_id,
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
        current = registered_score(args.model_name) if args.must_beat_registered else None
        if current is not None and decision["score"] <= current[1]:
            version, score = current
            reason = (
                f"score {decision['score']:.4f} does not beat {score:.4f} of registered "
                f"{args.model_name} version {version}"
            )
            result = {"registered": False, "name": args.model_name, "reason": reason}
        else:
            result = register(args.model, args.model_name, decision)
    args.registration.mkdir(parents=True, exist_ok=True)
    (args.registration / REGISTRATION_FILE).write_text(json.dumps(result, indent=2) + "\n")
    if result["registered"]:
        print(f"registered {result['name']} version {result['version']}")
    else:
        print(f"not registered: {result['reason']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
