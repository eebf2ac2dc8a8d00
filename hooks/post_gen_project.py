"""Shape the generated project for the answers given, record them, print next steps.

All removal of files for unselected options lives in `LAYOUT` below: read it to
know the file set of any answer set. This file is importable unrendered: the
tests call its functions directly.
"""

from __future__ import annotations

import json
import os
import re
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
    # the derived answer: model_registry yes, or auto with dev-and-prod
    ("__model_registry", "no"): (
        ".github/workflows/promote.yml",
        "infra/modules/ml-registry.bicep",
    ),
    ("ml_task", "classification"): ("data/sample/diabetes.csv",),
    ("ml_task", "regression"): ("data/sample/breast_cancer.csv",),
    ("component_style", "yaml"): (
        "components/prep_data/src/component.py",
        "components/prep_data/tests/test_component.py",
    ),
    ("hyperparameter_sweep", False): ("pipelines/training-sweep.yml",),
    ("batch_scoring", False): (
        "pipelines/batch-scoring.yml",
        "components/score",
    ),
    ("schedule", False): ("pipelines/schedules",),
    ("spark_step", False): ("components/spark_features",),
    ("automl", False): (
        "pipelines/training-automl.yml",
        "components/to_mltable",
    ),
    ("online_endpoint", False): (
        ".github/workflows/deploy-online.yml",
        "benchmarks",
        "data/sample-table.yml",
        "data/sample/MLTable",
        "deploy",
    ),
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


REMOTE_TEMPLATE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@|gh:|gl:|bb:)")


def local_template_dir(given: str) -> Path | None:
    """The absolute folder of a template given as a local path (None for a remote one).

    Cookiecutter records the path as typed, relative to where it was run, and runs this
    hook elsewhere (in the new project); the shell's PWD, or the folder cookiecutter is in
    while it runs hooks (the template's own), tells which folder that was.
    """
    if not given or REMOTE_TEMPLATE.match(given):
        return None
    path = Path(given).expanduser()
    if path.is_absolute():
        candidates = [path]
    else:
        # cookiecutter is inside the template while hooks run; on Linux /proc shows where
        parent_cwd = Path(f"/proc/{os.getppid()}/cwd")
        candidates = [parent_cwd.resolve()] if parent_cwd.exists() else []
        candidates.append(Path(os.environ.get("PWD", ".")) / path)
    for candidate in candidates:
        if (candidate / "cookiecutter.json").is_file():
            return candidate.resolve()
    return None


def cruft_record(answers: dict) -> dict:
    """`.cruft.json`: lets `cruft update` (and people) see which template and answers made this.

    A local template is recorded by its absolute path, so `cruft update` finds it from the
    project, and its commit is recorded whatever folder the bake was started from.
    """
    context = {key: value for key, value in answers.items() if key not in ("_output_dir",)}
    given = str(answers.get("_template", ""))
    local = local_template_dir(given)
    if local is not None:
        context["_template"] = str(local)
    repo_dir = local or Path(str(answers.get("_repo_dir") or given or "."))
    return {
        "template": str(local) if local is not None else given,
        "commit": template_commit(str(repo_dir)),
        "checkout": answers.get("_checkout"),
        "context": {"cookiecutter": context},
        "directory": None,
        # .cruft.json is rewritten by `cruft update` itself: diffing it would leave a .rej
        "skip": [".cruft.json", ".git", "config/", "infra/params/"],
    }


def next_steps(answers: dict) -> str:
    slug = answers["project_slug"]
    return f"""
Created {slug}. Next steps:
  cd {slug}
  python -m venv .venv && . .venv/bin/activate
  python -m pip install --upgrade pip && pip install -e ".[dev]"
  amlctl validate
  amlctl run pipelines/training.yml --local
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
