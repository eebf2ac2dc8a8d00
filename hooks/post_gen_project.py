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
        "infra/modules/promotion-source.bicep",
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
    commit = str(answers.get("_commit") or "")  # cruft (create and update) names its commit
    if not COMMIT.match(commit):
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


def start_commands(answers: dict) -> list[str]:
    """The generated README's Start block, command by command (its tests hold them equal)."""
    extras = "dev,spark" if answers.get("spark_step") else "dev"
    return [
        "python -m venv .venv && . .venv/bin/activate",
        "python -m pip install --upgrade pip",
        f'pip install -e ".[{extras}]"',
        "amlctl validate",
        "amlctl run pipelines/training.yml --local",
        "pytest",
        "pre-commit install",
    ]


def next_steps(answers: dict, notes: list[str] | tuple[str, ...] = ()) -> str:
    slug = answers["project_slug"]
    warnings = "".join(f"\nNote: {note}\n" for note in notes)
    commands = "\n".join(f"  {command}" for command in ["cd " + slug, *start_commands(answers)])
    return f"""{warnings}
Created {slug}. Next steps (the README's Start):
{commands}
Then fill in config/*.yml and follow infra/README.md to connect GitHub Actions to Azure.
"""


def git(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=project, capture_output=True, text=True, check=False)


def git_identity(project: Path, answers: dict) -> list[str]:
    """`-c` options naming the author when git has no identity configured (CI, new machines)."""
    options = []
    for key, answer, fallback in (
        ("user.name", "author_name", "Azure ML project template"),
        ("user.email", "author_email", "noreply@localhost"),
    ):
        if not git(project, "config", key).stdout.strip():
            options += ["-c", f"{key}={str(answers.get(answer) or '').strip() or fallback}"]
    return options


def init_git(project: Path, answers: dict) -> str | None:
    """Make the project a git repository with its first commit; a note when it cannot.

    Into an existing repository (the user's monorepo, say) nothing is initialised: the files
    are left for the user to add; a folder that repository ignores gets a repository of its
    own. Under cruft the first commit is made before cruft writes
    `.cruft.json`, which the note asks to commit.
    """
    try:
        inside = git(project, "rev-parse", "--is-inside-work-tree")
    except OSError:
        return "git is not installed: run `git init` in the project before `pre-commit install`."
    ignored = git(project, "check-ignore", "-q", ".").returncode == 0  # e.g. a build/ folder
    if inside.returncode == 0 and inside.stdout.strip() == "true" and not ignored:
        return (
            "the project was generated inside an existing git repository, so no repository "
            "was initialised and nothing committed: `git add` it there."
        )
    message = (
        f"Generate {answers['project_slug']} from the Azure ML project template "
        f"{answers['_template_version']}"
    )
    steps = (
        ("init", ["init", "-q"]),
        ("symbolic-ref", ["symbolic-ref", "HEAD", "refs/heads/main"]),
        ("add", ["add", "--all"]),
        ("commit", [*git_identity(project, answers), "commit", "-q", "--no-verify", "-m", message]),
    )
    for name, args in steps:
        done = git(project, *args)
        if done.returncode != 0:
            reason = (done.stderr.strip() or done.stdout.strip()).splitlines()
            return f"git {name} failed ({reason[-1] if reason else 'no output'}): " + (
                "make the first commit yourself before `pre-commit install`."
            )
    if answers.get("_commit"):
        return (
            "cruft writes .cruft.json after the first commit: `git add .cruft.json` and commit it."
        )
    return None


def main() -> int:
    answers = json.loads(ANSWERS_JSON)
    project = Path.cwd()
    remove_paths(project, paths_to_remove(answers))
    requirement, note = amlctl_requirement(answers)
    pin_amlctl(project, answers["_template_version"], requirement)
    if not answers.get("_commit"):  # under cruft, cruft writes .cruft.json itself
        record = cruft_record(answers)
        (project / ".cruft.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    git_note = init_git(project, answers)
    print(next_steps(answers, [n for n in (note, git_note) if n]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
