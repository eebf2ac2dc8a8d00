"""Shape the generated project for the answers given, record them, print next steps.

All removal of files for unselected options lives in `LAYOUT` below: read it to
know the file set of any answer set. This file is importable unrendered: the
tests call its functions directly.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ANSWERS_JSON = r"""{{ cookiecutter | tojson }}"""

# (answer, value that makes the paths unnecessary) -> paths removed from the project
LAYOUT: dict[tuple[str, object], tuple[str, ...]] = {
    ("environments", "dev-only"): (
        "config/prod.yml",
        "infra/params/prod.parameters.json",
    ),
    ("ml_task", "classification"): ("data/sample/diabetes.csv",),
    ("ml_task", "regression"): ("data/sample/breast_cancer.csv",),
    ("hyperparameter_sweep", False): ("pipelines/training-sweep.yml",),
    ("batch_scoring", False): (
        "pipelines/batch-scoring.yml",
        "components/score",
    ),
    ("schedule", False): ("pipelines/schedules",),
}


def paths_to_remove(answers: dict) -> list[str]:
    """The project-relative paths that the answers do not need."""
    return sorted(
        path
        for (field, value), paths in LAYOUT.items()
        if answers.get(field) == value
        for path in paths
    )


def remove_paths(project: Path, paths: list[str]) -> None:
    for relative in paths:
        target = project / relative
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        else:  # a renamed or deleted template file: fail loudly rather than leave it behind
            raise FileNotFoundError(f"LAYOUT names {relative}, which the template does not have")


def template_commit(template_dir: str) -> str | None:
    """The template's git commit, when it was baked from a git checkout."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=template_dir,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def cruft_record(answers: dict) -> dict:
    """`.cruft.json`: lets `cruft update` (and people) see which template and answers made this."""
    context = {key: value for key, value in answers.items() if key not in ("_output_dir",)}
    return {
        "template": answers.get("_template", ""),
        "commit": template_commit(answers.get("_repo_dir") or answers.get("_template", ".")),
        "checkout": answers.get("_checkout"),
        "context": {"cookiecutter": context},
        "directory": None,
        "skip": [".git", "config/", "infra/params/"],
    }


def next_steps(answers: dict) -> str:
    slug, cli = answers["project_slug"], answers["__cli_name"]
    return f"""
Created {slug}. Next steps:
  cd {slug}
  python -m venv .venv && . .venv/bin/activate
  python -m pip install --upgrade pip && pip install -e ".[dev]"
  {cli} validate
  {cli} run pipelines/training.yml --local
  pytest
Then fill in config/*.yml and follow infra/README.md to connect GitHub Actions to Azure.
"""


def main() -> int:
    answers = json.loads(ANSWERS_JSON)
    project = Path.cwd()
    remove_paths(project, paths_to_remove(answers))
    record = cruft_record(answers)
    (project / ".cruft.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(next_steps(answers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
