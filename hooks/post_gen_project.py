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
        parent = parent_cwd()
        candidates = [parent.resolve()] if parent is not None else []
        candidates.append(Path(os.environ.get("PWD", ".")) / path)
    for candidate in candidates:
        if (candidate / "cookiecutter.json").is_file():
            return candidate.resolve()
    return None


# cookiecutter's abbreviations, as it expands them before cloning
ABBREVIATIONS = {
    "gh:": "https://github.com/{}.git",
    "gl:": "https://gitlab.com/{}.git",
    "bb:": "https://bitbucket.org/{}",
}
COMMIT = re.compile(r"^[0-9a-f]{40}$")


def pip_git_url(template: str) -> str | None:
    """The `git+` URL pip clones for a template cookiecutter cloned with git (None otherwise).

    `gh:owner/name`, `https://...`, `ssh://...`, `file://...`, `git+...` and scp-like
    `git@host:path` are git; a zip archive or a Mercurial URL is not.
    """
    for short, expanded in ABBREVIATIONS.items():
        if template.startswith(short):
            template = expanded.format(template[len(short) :])
    template = template.rstrip("/")
    if template.lower().endswith(".zip") or template.startswith("hg+"):
        return None
    if template.startswith("git+"):
        return template
    scp = re.match(r"^([\w.-]+@[\w.-]+):(?!//)(.+)$", template)
    if scp:
        return f"git+ssh://{scp.group(1)}/{scp.group(2)}"
    if re.match(r"^(https?|ssh|file|git)://", template):
        return "git+" + template
    return None


def parent_cwd() -> Path | None:
    """The folder of the process that runs this hook (cookiecutter), where /proc shows it."""
    folder = Path(f"/proc/{os.getppid()}/cwd")
    return folder if folder.exists() else None


def rendered_template_dir(answers: dict) -> Path | None:
    """The template folder cookiecutter is rendering (a clone for a git URL).

    Cookiecutter runs hooks from inside it (on Linux /proc shows the parent's folder); cruft
    passes an earlier bake's `_repo_dir` back in, so the live folder comes first.
    """
    parent = parent_cwd()
    candidates = [parent] if parent is not None else []
    given = str(answers.get("_template", ""))
    candidates += [Path(str(answers.get("_repo_dir") or given or "."))]
    for candidate in candidates:
        try:
            if (candidate / "cookiecutter.json").is_file():
                return candidate.resolve()
        except OSError:
            continue
    return None


def amlctl_requirement(answers: dict) -> tuple[str, str | None]:
    """The requirement that installs amlctl for this project, and a note for its team.

    A bake from a git URL pins the template's own repository at the exact commit it was
    generated from, so the project installs the tool wherever that URL is reachable, with
    nothing on a package index. A bake from a local git checkout pins that checkout's commit
    by a `git+file://` URL: it installs on this machine only. A bake with no commit known
    (a zip archive, a folder outside git) pins the release, which must be on the index.
    """
    version = answers["_template_version"]
    given = str(answers.get("_template", ""))
    folder = rendered_template_dir(answers)
    commit = template_commit(str(folder)) if folder is not None else None
    commit = commit if commit and COMMIT.match(commit) else None
    remote = REMOTE_TEMPLATE.match(given) is not None
    url = pip_git_url(given) if remote else None
    if url and commit:
        return f"amlctl @ {url}@{commit}#subdirectory=amlctl", None
    local = None if remote else local_template_dir(given)
    if local is not None and commit:
        return (
            f"amlctl @ git+{local.as_uri()}@{commit}#subdirectory=amlctl",
            f"amlctl is pinned to commit {commit[:12]} of the template folder {local}, which "
            "only this machine can reach: for CI, bake from the template's git URL (its commit "
            "is pinned the same way) or point both amlctl pins (pyproject.toml, "
            "requirements/deploy.in) at a URL CI can clone.",
        )
    return (
        f"amlctl=={version}",
        f"no template commit is known, so amlctl is pinned as release {version}: it installs "
        "only once that release is on the package index; bake from the template's git URL "
        "to pin its commit instead.",
    )


PINNED_FILES = ("pyproject.toml", "requirements/deploy.in")


def pin_amlctl(project: Path, version: str, requirement: str) -> None:
    """Write ``requirement`` where the template wrote `amlctl==<version>`."""
    placeholder = f"amlctl=={version}"
    for relative in PINNED_FILES:
        file = project / relative
        text = file.read_text(encoding="utf-8")
        if text.count(placeholder) != 1:  # the template changed: fail rather than leave it
            raise ValueError(f"{relative}: expected one {placeholder!r} to replace")
        file.write_text(text.replace(placeholder, requirement), encoding="utf-8")


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


def next_steps(answers: dict, note: str | None = None) -> str:
    slug = answers["project_slug"]
    warning = f"\nNote: {note}\n" if note else ""
    return f"""{warning}
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
    requirement, note = amlctl_requirement(answers)
    pin_amlctl(project, answers["_template_version"], requirement)
    record = cruft_record(answers)
    (project / ".cruft.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(next_steps(answers, note))
    return 0


if __name__ == "__main__":
    sys.exit(main())
