"""Hostile but valid answers still give a valid project whose files parse and lint."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib

import pytest
import yaml

from . import project_checks
from .conftest import bake

HOSTILE = {
    "quotes-and-backslashes": {
        "project_name": 'Bob\'s "Quoted" \\ Project',
        "description": 'He said "hi" \\n and left; it\'s a \\"test\\" # not a comment: {x}',
        "author_name": 'O\'Brien "Ops" \\ Team',
    },
    "unicode": {
        "project_name": "Prévisions Ñandú 预测",
        "description": "Données météo — 予測モデル ✓ ünïcödé",
        "author_name": "Zoë Łukasiewicz 李雷",
        "author_email": "",
    },
    "code-in-names": {
        "project_name": "__import__('os').system('echo pwned')",
        "description": "$(rm -rf /); `reboot`; ${HOME} ''' \"\"\" <script>alert(1)</script>",
        "author_name": "Robert'); DROP TABLE students;--",
    },
    "emails-yaml-reads-as-syntax": {  # `*` alias, `&` anchor, `!` tag, `%` directive in YAML
        "project_name": "Mail Test",
        "author_email": "!ops%team@contoso.com",
        "alert_email": "*&alerts@contoso.com",
    },
    "long-and-at-limits": {
        "project_name": "P" * 100,
        "project_slug": "p" * 64,
        "description": "long " * 399 + "end",
        "resource_prefix": "abcdefghijkl",  # 12: "<prefix>-cpu" is exactly 16 characters
        "github_owner": "o" * 39,
        "github_repo": "r" * 100,
        "cpu_min_nodes": "1000",
        "cpu_max_nodes": "1000",
    },
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_answers_give_a_valid_project(tmp_path, name):
    answers = HOSTILE[name]
    project = bake(tmp_path, answers)
    assert project_checks.parse_errors(project) == []
    assert project_checks.leftover_jinja(project) == []
    meta = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    if "description" in answers:
        assert meta["description"] == answers["description"]
    assert meta["authors"][0]["name"] == answers.get("author_name", "ML Platform Team")
    record = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    assert record["context"]["cookiecutter"]["project_name"] == answers["project_name"]
    for path in project.rglob("*.py"):  # every Python file still compiles
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--select", "E9,F63,F7,F82", "."],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr
    for path in project.rglob("*.yml"):
        list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    if answers.get("alert_email"):  # written as the string it is, wherever it lands
        monitor = yaml.safe_load((project / "deploy/online/monitor.yml").read_text("utf-8"))
        assert monitor["create_monitor"]["alert_notification"]["emails"] == [answers["alert_email"]]
        assert meta["authors"][0]["email"] == answers["author_email"]
