"""`cruft update` on a generated project: template changes arrive, the team's edits survive.

The template is copied into a fresh git repository (commit A), a project is baked from it
into its own repository and edited there; the template then changes a component, a
workflow and the tool version (commit B), and `cruft update` brings B into the project,
with the tool's pin moved to B's commit.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import TEMPLATE, bake

GIT_IDENTITY = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *GIT_IDENTITY, *args], cwd=folder, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def copy_template(target: Path) -> Path:
    """The template as it stands in this checkout (committed or not), in a new repository."""
    listed = git(TEMPLATE, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for relative in filter(None, listed.split("\0")):
        source = TEMPLATE / relative
        if source.is_file():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / relative)
    git(target, "init", "-q", "-b", "main")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "template A")
    return target


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


def test_cruft_update_brings_template_changes_and_keeps_the_teams_edits(template_repo, tmp_path):
    project = bake(tmp_path / "out", {}, template=str(template_repo))
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "generated")
    # the team edits a component
    train = project / "components" / "train" / "src" / "train.py"
    replace(train, '"""', '"""Our team tuned this step.\n\n')
    git(project, "commit", "-q", "-am", "tune train")

    # the template changes a component, a workflow and the tool version
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
    new_version = json.loads((template_repo / "cookiecutter.json").read_text())["_template_version"]

    done = subprocess.run(
        [str(Path(sys.executable).parent / "cruft"), "update", "-y"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    assert (
        "Template change: evaluation notes."
        in (project / "components" / "evaluate" / "src" / "evaluate.py").read_text()
    )
    assert "# CI (template B): " in (project / ".github" / "workflows" / "ci.yml").read_text()
    # the tool's pin follows the template to commit B (a local template: its git+file URL)
    commit_b = git(template_repo, "rev-parse", "HEAD")
    pin = f"amlctl @ git+{template_repo.resolve().as_uri()}@{commit_b}#subdirectory=amlctl"
    for pinned in ("pyproject.toml", "requirements/deploy.in"):
        assert pin in (project / pinned).read_text(), pinned
    assert "Our team tuned this step." in train.read_text()
    assert sorted(project.rglob("*.rej")) == []
    record = json.loads((project / ".cruft.json").read_text())
    assert record["commit"] == git(template_repo, "rev-parse", "HEAD")
    assert record["context"]["cookiecutter"]["_template_version"] == new_version
