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


@pytest.fixture
def mltable_tools(tmp_path_factory, monkeypatch):
    """The mltable package's tool environment, built once for the test session (every xdist
    worker shares it: the build holds a file lock) instead of in the user's cache."""
    shared = tmp_path_factory.getbasetemp()
    if shared.name.startswith("popen-"):  # an xdist worker's folder: share the session's
        shared = shared.parent
    tools = shared / "amlctl-tools"
    monkeypatch.setenv("AMLCTL_TOOLS_DIR", str(tools))
    return tools
