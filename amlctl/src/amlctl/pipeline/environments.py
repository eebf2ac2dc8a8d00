"""What a component's environment is built from, as plain values: its conda file, Docker
build context or image, or the name it refers to (read from the project's own definition).

The local runner builds step environments from this (``local_run/envs.py``); the graph
keeps it with each component, so a change to any file it names rebuilds the graph.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..state import file_sha


def build_spec(
    environment: Any, base: Path, folders: list[Path], sources: dict[str, str]
) -> dict[str, Any]:
    """{"conda_file": abs path, "context": abs path, "image": str} for a component's environment."""
    if environment is None:
        return {}
    if isinstance(environment, str):  # a named environment: its local definition, if any
        name = re.sub(r"^azureml:(//)?", "", environment).split(":")[0].split("@")[0]
        for folder in folders:
            definition = folder / name / "environment.yml"
            if definition.is_file():
                import yaml

                try:
                    data = yaml.safe_load(definition.read_text()) or {}
                except yaml.YAMLError:
                    return {}
                spec = {"image": data.get("image")}
                if data.get("conda_file"):
                    spec["conda_file"] = str((definition.parent / data["conda_file"]).resolve())
                build = data.get("build") or {}
                if isinstance(build, dict) and build.get("path"):
                    spec["context"] = str((definition.parent / build["path"]).resolve())
                return spec
        return {"name": environment}
    spec = {"image": getattr(environment, "image", None)}
    conda_path = getattr(environment, "_conda_file_path", None)
    if conda_path:
        spec["conda_file"] = str(Path(conda_path).resolve())
    elif getattr(environment, "conda_file", None):
        spec["conda"] = environment.conda_file
    build = getattr(environment, "build", None)
    if build is not None and getattr(build, "path", None):
        context = Path(str(build.path))
        env_base = Path(getattr(environment, "base_path", None) or base)
        spec["context"] = str((env_base / context).resolve())
        for file in _context_files(Path(spec["context"])):
            sources[str(file)] = file_sha(file)
    return spec


def _context_files(context: Path) -> list[Path]:
    if not context.is_dir():
        return []
    names = ("Dockerfile", "requirements.txt", "conda.yml", "conda.yaml", "environment.yml")
    return [context / n for n in names if (context / n).is_file()]
