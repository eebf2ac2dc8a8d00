"""Baking helpers and the one virtual environment shared by every bake.

The shared environment holds the generated project's pinned dependencies (read
from a default bake's pyproject.toml), with the `amlctl` they pin installed from this
checkout (editable, so it is the code under test), and is reused across bakes and test
runs; it is rebuilt when those pins or the tool's own dependencies change. Each bake
installs only itself into it (editable, no dependencies). Pre-commit's hook
environments are shared the same way.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parent.parent
TOOL = TEMPLATE / "amlctl"
CACHE = Path(os.environ.get("TEMPLATE_TEST_CACHE", TEMPLATE / ".test-cache"))
TEMPLATE_KEYS = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))


def defaults() -> dict:
    """The answers a user gets with --no-input (first item of each choice)."""
    return {
        key: value[0] if isinstance(value, list) else value
        for key, value in TEMPLATE_KEYS.items()
        if not key.startswith("_")
    }


def bake(output_dir: Path, answers: dict | None = None, template: str | None = None) -> Path:
    """Bake with `answers` on top of the defaults; return the project folder.

    `template` bakes from another copy of the template (a path, as a user would type it).
    """
    answers = dict(answers or {})
    unknown = sorted(set(answers) - set(TEMPLATE_KEYS))
    if unknown:  # cookiecutter silently ignores unknown keys: a typo would test the defaults
        raise KeyError(f"unknown cookiecutter keys in test answers: {unknown}")
    project = cookiecutter(
        template or str(TEMPLATE),
        no_input=True,
        extra_context=answers,
        output_dir=str(output_dir),
        default_config=True,
    )
    return Path(project)


def bake_cli(output_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """Bake through the real command line, exactly as a user does."""
    return subprocess.run(
        [
            *(sys.executable, "-m", "cookiecutter", "--no-input", "--default-config"),
            *("-o", str(output_dir), str(TEMPLATE), *args),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def _uv() -> list[str] | None:
    try:
        from uv import find_uv_bin  # the `uv` wheel from requirements-dev.txt
    except ImportError:
        found = shutil.which("uv")
        return [found] if found else None
    return [find_uv_bin()]


@dataclass
class ProjectEnv:
    """The shared virtual environment in which every baked project is checked."""

    root: Path

    @property
    def bin(self) -> Path:
        return self.root / ("Scripts" if os.name == "nt" else "bin")

    @property
    def python(self) -> Path:
        return self.bin / "python"

    def environ(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "VIRTUAL_ENV"))}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.root)
        env["PRE_COMMIT_HOME"] = str(CACHE / "pre-commit")
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("MLFLOW_TRACKING_URI", None)
        return env

    def run(self, cwd: Path, *command: str, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run(
            list(command),
            cwd=cwd,
            env=self.environ(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def install_project(self, project: Path) -> None:
        uv = _uv()
        if uv:
            command = [*uv, "pip", "install", "-q", "-p", str(self.python), "--no-deps", "-e"]
        else:
            command = [str(self.python), "-m", "pip", "install", "-q", "--no-deps", "-e"]
        subprocess.run([*command, str(project)], check=True, capture_output=True, text=True)


def _pinned_requirements(project: Path) -> list[str]:
    meta = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    # every extra: the checks run what the project has, its Spark step too
    extras = [req for reqs in meta["optional-dependencies"].values() for req in reqs]
    # the project pins amlctl to a template commit; the suite tests this checkout's tool,
    # installed from it (editable) in its place
    return sorted(r for r in meta["dependencies"] + extras if not re.match(r"amlctl\b", r))


def shared_env(project: Path) -> ProjectEnv:
    """The shared environment for `project`'s pinned requirements, built on first use."""
    requirements = _pinned_requirements(project)
    tool_metadata = (TOOL / "pyproject.toml").read_text(encoding="utf-8")
    digest = hashlib.sha256(
        "\n".join([sys.version, tool_metadata, *requirements]).encode()
    ).hexdigest()[:12]
    env = ProjectEnv(CACHE / f"venv-{digest}")
    marker = env.root / "requirements.done"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "venv.lock", "w") as lock:  # pytest-xdist workers build it only once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            _build(env, requirements)
    return env


def _build(env: ProjectEnv, requirements: list[str]) -> None:
    shutil.rmtree(env.root, ignore_errors=True)
    uv = _uv()
    if uv:
        subprocess.run([*uv, "venv", "-q", "-p", sys.executable, str(env.root)], check=True)
        # bytecode now, as pip does: steps run with PYTHONDONTWRITEBYTECODE would recompile
        # mlflow and scikit-learn on every import (about 3 s a step)
        install = [*uv, "pip", "install", "-q", "--compile-bytecode", "-p", str(env.python)]
    else:
        subprocess.run([sys.executable, "-m", "venv", str(env.root)], check=True)
        install = [str(env.python), "-m", "pip", "install", "-q"]
    subprocess.run([*install, "-e", str(TOOL), *requirements], check=True)
    (env.root / "requirements.done").write_text("\n".join(requirements) + "\n", "utf-8")


def pytest_collection_modifyitems(items: list) -> None:
    """Keep every check of one bake on one pytest-xdist worker (`--dist loadgroup`)."""
    import pytest

    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "baked" in callspec.params:
            item.add_marker(pytest.mark.xdist_group(f"bake-{callspec.params['baked']}"))
