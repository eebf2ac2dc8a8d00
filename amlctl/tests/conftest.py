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
    """The mltable package's tool environment (local_run/mltable_env.py) is built once for
    the test session, shared by the xdist workers (its build holds a file lock), not in the
    user's cache; AMLCTL_TOOLS_DIR set by the caller is kept (to reuse one across sessions)."""
    import os

    if os.environ.get("AMLCTL_TOOLS_DIR"):
        yield Path(os.environ["AMLCTL_TOOLS_DIR"])
        return
    shared = tmp_path_factory.getbasetemp()
    if shared.name.startswith("popen-"):  # an xdist worker's folder: share the session's
        shared = shared.parent
    os.environ["AMLCTL_TOOLS_DIR"] = str(shared / "amlctl-tools")
    yield shared / "amlctl-tools"
    del os.environ["AMLCTL_TOOLS_DIR"]
