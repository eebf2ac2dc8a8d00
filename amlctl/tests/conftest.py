"""Shared fixtures; puts tests/ on sys.path so `fakes` imports (--import-mode=importlib)."""

import sys
from pathlib import Path

import pytest

TESTS = str(Path(__file__).parent)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A small project (tests/fakes/project.py) as the working folder, no setting overridden."""
    from fakes.project import make_project

    from amlctl.cloud.config import OVERRIDES

    root = make_project(tmp_path / "project")
    monkeypatch.chdir(root)
    for variable in OVERRIDES.values():
        monkeypatch.delenv(variable, raising=False)
    return root


@pytest.fixture(scope="session", autouse=True)
def mltable_tools(tmp_path_factory):
    """The mltable package's tool environment (local_run/mltable_env.py) for tests: in
    pytest's folder for this user (/tmp/pytest-of-<user>/amlctl-tools), which pytest does not
    rotate, so sessions and xdist workers share one build (a file lock guards it; a new lock
    file builds a new one) instead of 380 MB per session; never in the user's own cache.
    AMLCTL_TOOLS_DIR set by the caller is kept."""
    import os

    if os.environ.get("AMLCTL_TOOLS_DIR"):
        yield Path(os.environ["AMLCTL_TOOLS_DIR"])
        return
    base = tmp_path_factory.getbasetemp()
    user = next((p for p in (base, *base.parents) if p.name.startswith("pytest-of-")), base)
    os.environ["AMLCTL_TOOLS_DIR"] = str(user / "amlctl-tools")
    yield user / "amlctl-tools"
    del os.environ["AMLCTL_TOOLS_DIR"]
