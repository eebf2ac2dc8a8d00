"""`amlctl ui`: MLflow's own UI over the project's local runs (`.runs/mlflow.db`).

MLflow's full server, at the version of the mlflow-skinny that made the store (so the
store is read as it was written, never migrated), runs from a tool environment uv builds
once and keeps in its cache: the project's pinned packages are not touched. Bound to
127.0.0.1; Ctrl-C stops it. The run's artifacts (models, the evaluation's plots) are read
from `.runs/mlartifacts`, where the local runs put them.
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

from ..project import ProjectError

DEFAULT_PORT = 5000


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port on 127.0.0.1")
    parser.add_argument(
        "--runs-dir", type=Path, default=None, help="the .runs folder (default: the project's)"
    )


def mlflow_version() -> str:
    """The MLflow the local store was made with: this environment's mlflow(-skinny)."""
    from importlib import metadata

    for name in ("mlflow-skinny", "mlflow"):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    raise ProjectError(
        "MLflow is not installed in amlctl's environment (pip install mlflow-skinny)"
    )


def server_argv(uv: str, version: str, runs_dir: Path, port: int) -> list[str]:
    store = runs_dir.resolve() / "mlflow.db"
    return [
        uv, "tool", "run", "--quiet", "--from", f"mlflow=={version}",
        "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{store}",
        "--default-artifact-root", (runs_dir.resolve() / "mlartifacts").as_uri(),
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip


def main(args: argparse.Namespace) -> int:
    from ..local_run.envs import uv_binary
    from ..serving.local import check_port_free
    from .command import runs_dir_of

    runs_dir = runs_dir_of(args.runs_dir)
    if not (runs_dir / "mlflow.db").is_file():
        raise ProjectError(
            f"no local MLflow store in {runs_dir} yet: `amlctl run <pipeline> --local` makes one"
        )
    check_port_free(args.port)  # before anything is printed
    uv = uv_binary()
    if uv is None:
        raise ProjectError("amlctl ui needs uv, an amlctl dependency missing here (pip install uv)")
    version = mlflow_version()
    print(
        f"MLflow {version}'s UI over {runs_dir / 'mlflow.db'}: http://127.0.0.1:{args.port}/ "
        "(the first start builds MLflow's environment with uv; Ctrl-C stops it)",
        flush=True,
    )
    done = subprocess.run(server_argv(uv, version, runs_dir, args.port), check=False)
    return done.returncode
