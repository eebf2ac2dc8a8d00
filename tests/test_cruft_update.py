"""`cruft update` on a generated project: template changes arrive, the team's edits survive.

The template is copied into a fresh git repository (commit A), a project is baked from it
(by cookiecutter, or by `cruft create`) and edited there; the template then changes a component, a
workflow and the tool version (commit B), and `cruft update` brings B into the project,
with the tool's pin moved to B's commit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import bake
from .gitrepo import copy_template, git


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path}: {old!r} not found"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture
def template_repo(tmp_path) -> Path:
    return copy_template(tmp_path / "template")


def test_bake_records_an_absolute_template_and_its_commit(template_repo, tmp_path, monkeypatch):
    monkeypatch.chdir(template_repo.parent)  # bake from a relative path, as users do
    project = bake(tmp_path / "out", {}, template="template")
    record = json.loads((project / ".cruft.json").read_text())
    assert record["template"] == str(template_repo.resolve())
    assert record["commit"] == git(template_repo, "rev-parse", "HEAD")
    assert ".cruft.json" in record["skip"]


def change_template(template_repo: Path) -> str:
    """Commit B: the template changes a component, a workflow and the tool version."""
    slug = template_repo / "{{cookiecutter.project_slug}}"
    replace(
        slug / "components" / "evaluate" / "src" / "evaluate.py",
        '"""',
        '"""Template change: evaluation notes.\n\n',
    )
    replace(slug / ".github" / "workflows" / "ci.yml", "# CI: ", "# CI (template B): ")
    replace(
        template_repo / "cookiecutter.json", '"_template_version": "', '"_template_version": "9'
    )
    git(template_repo, "commit", "-q", "-am", "template B")
    return json.loads((template_repo / "cookiecutter.json").read_text())["_template_version"]


def cruft(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).parent / "cruft"), *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def assert_updated(project: Path, template_repo: Path, new_version: str) -> None:
    """Template B arrived, both amlctl pins moved to B's commit, nothing was rejected."""
    assert (
        "Template change: evaluation notes."
        in (project / "components" / "evaluate" / "src" / "evaluate.py").read_text()
    )
    assert "# CI (template B): " in (project / ".github" / "workflows" / "ci.yml").read_text()
    commit_b = git(template_repo, "rev-parse", "HEAD")
    pin = f"amlctl @ git+{template_repo.resolve().as_uri()}@{commit_b}#subdirectory=amlctl"
    for pinned in ("pyproject.toml", "requirements/deploy.in"):
        assert pin in (project / pinned).read_text(), pinned
    assert sorted(path.name for path in project.rglob("*.rej")) == []
    record = json.loads((project / ".cruft.json").read_text())
    assert record["commit"] == commit_b
    assert record["context"]["cookiecutter"]["_template_version"] == new_version


def test_cruft_update_brings_template_changes_and_keeps_the_teams_edits(template_repo, tmp_path):
    project = bake(tmp_path / "out", {}, template=str(template_repo))
    # the bake made the project a repository with everything in its first commit
    assert git(project, "status", "--porcelain") == ""
    assert git(project, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert git(project, "rev-list", "--count", "HEAD") == "1"
    # the team edits a component
    train = project / "components" / "train" / "src" / "train.py"
    replace(train, '"""', '"""Our team tuned this step.\n\n')
    git(project, "commit", "-q", "-am", "tune train")

    new_version = change_template(template_repo)
    done = cruft(project, "update", "-y")
    assert done.returncode == 0, done.stdout + done.stderr

    assert_updated(project, template_repo, new_version)
    assert "Our team tuned this step." in train.read_text()


def test_cruft_create_then_cruft_update_leaves_no_rej(template_repo, tmp_path):
    """cruft's own way to start: `cruft create` writes .cruft.json with no skip list."""
    out = tmp_path / "out"
    out.mkdir()
    done = cruft(out, "create", "--no-input", str(template_repo))
    assert done.returncode == 0, done.stdout + done.stderr
    project = out / "azure-ml-project"
    assert "skip" not in json.loads((project / ".cruft.json").read_text())  # cruft's own record
    # the bake's first commit holds everything but the record cruft writes after it
    assert git(project, "status", "--porcelain") == "?? .cruft.json"
    assert "git add .cruft.json" in done.stdout
    git(project, "add", ".cruft.json")
    git(project, "commit", "-q", "-m", "Record the template")

    new_version = change_template(template_repo)
    done = cruft(project, "update", "-y")
    assert done.returncode == 0, done.stdout + done.stderr
    assert_updated(project, template_repo, new_version)
