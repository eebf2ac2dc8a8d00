"""Where a run comes from: git commit and CI run, recorded as tags (local runs and cloud jobs)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


def git_commit(root: Path, environ: dict[str, str] | None = None) -> str | None:
    """The commit being run: GitHub Actions' GITHUB_SHA, else the checkout's HEAD, else None."""
    environ = dict(os.environ if environ is None else environ)
    if environ.get("GITHUB_SHA"):
        return environ["GITHUB_SHA"]
    git = shutil.which("git")
    if git is None:
        return None
    try:
        result = subprocess.run(
            [git, "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


def ci_run_url(environ: dict[str, str] | None = None) -> str | None:
    environ = dict(os.environ if environ is None else environ)
    parts = [
        environ.get(key) for key in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    ]
    if not all(parts):
        return None
    server, repository, run_id = parts
    return f"{server}/{repository}/actions/runs/{run_id}"


def run_tags(root: Path, environ: dict[str, str] | None = None) -> dict[str, str]:
    tags = {"source": "ci" if ci_run_url(environ) else "local"}
    commit = git_commit(root, environ)
    if commit:
        tags["git_commit"] = commit
    url = ci_run_url(environ)
    if url:
        tags["ci_run_url"] = url
    return tags
