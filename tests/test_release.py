"""The amlctl release: one version for the tool and the template, and a clean release workflow."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from .conftest import TEMPLATE

SCRIPT = TEMPLATE / "scripts" / "release_version.py"


def release_version():
    spec = importlib.util.spec_from_file_location("release_version", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tool_and_template_share_one_version():
    import amlctl

    template = json.loads((TEMPLATE / "cookiecutter.json").read_text())["_template_version"]
    assert amlctl.__version__ == template
    assert release_version().problems(f"v{template}") == []


def test_a_tag_that_is_not_the_version_fails_the_release(tmp_path):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "v0.0.0-not-it"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "does not name amlctl's version" in done.stderr


def test_the_generated_project_pins_the_tool_by_the_template_version():
    text = (TEMPLATE / "{{cookiecutter.project_slug}}" / "pyproject.toml").read_text()
    assert re.search(r'"amlctl==\{\{ cookiecutter\._template_version \}\}"', text)


def test_release_workflow_passes_the_tools_own_workflow_checks():
    """Schema, zizmor --offline, shellcheck, pins with version comments, no secrets."""
    from amlctl.checks.workflows import check_workflows

    assert [str(problem) for problem in check_workflows(TEMPLATE)] == []


def test_only_the_publish_job_can_get_an_oidc_token_and_it_stores_no_token():
    workflow = yaml.safe_load((TEMPLATE / ".github" / "workflows" / "release.yml").read_text())
    assert workflow["permissions"] == {}
    tokens = {
        name: job.get("permissions", {}).get("id-token") for name, job in workflow["jobs"].items()
    }
    assert tokens == {"build": None, "publish": "write"}
    publish = workflow["jobs"]["publish"]
    assert publish["environment"]["name"] == "pypi"
    (step,) = [s for s in publish["steps"] if "gh-action-pypi-publish" in s.get("uses", "")]
    assert "with" not in step or "password" not in step["with"]
    assert "secrets." not in (TEMPLATE / ".github" / "workflows" / "release.yml").read_text()


def test_the_release_build_installs_only_hashed_requirements():
    lock = (TEMPLATE / "scripts" / "requirements-release.txt").read_text()
    pins = [line for line in lock.splitlines() if re.match(r"^[A-Za-z0-9_.-]+==", line)]
    assert pins, "the release lock pins nothing"
    assert lock.count("--hash=sha256:") >= len(pins)
    workflow = (TEMPLATE / ".github" / "workflows" / "release.yml").read_text()
    assert "--require-hashes -r scripts/requirements-release.txt" in workflow
    assert "--no-isolation" in workflow  # else build would fetch setuptools unhashed


def test_the_tool_builds_a_wheel_with_its_console_script(tmp_path):
    """What the release publishes: a wheel whose entry point is `amlctl`."""
    source = tmp_path / "source"  # setuptools writes build/ beside the sources: not in the checkout
    shutil.copytree(
        TEMPLATE / "amlctl", source, ignore=shutil.ignore_patterns("*.egg-info", "build")
    )
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("amlctl-*.whl")
    import zipfile

    import amlctl

    assert wheel.name.startswith(f"amlctl-{amlctl.__version__}-")
    names = zipfile.ZipFile(wheel).namelist()
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "amlctl = amlctl.cli:entry" in zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "amlctl/local_run/executor.py" in names
    assert not any(Path(n).parts[0] == "tests" for n in names)
