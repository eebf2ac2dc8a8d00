"""The user's path as written: bake from the template's git URL, then follow the README and CI.

The template (this checkout, committed or not) is copied into a fresh git repository and
baked from its `git+file://` URL, as a team bakes from GitHub, by cookiecutter installed
alone in a fresh environment with the template README's command. In
the project, with nothing of this suite's environments on PATH and no amlctl on any
package index:

- the generated README's Start block runs verbatim, in bash, in a fresh virtual
  environment (it makes `.venv`, installs the project and amlctl from the pinned template
  commit, validates, runs the training pipeline, runs the tests, installs the hooks);
- then the `run:` steps of `ci.yml`'s check job, in order, with that environment's Python
  first on PATH as `actions/setup-python` leaves it;
- then the environments job's install steps in another fresh environment (hash-locked
  `deploy.txt`, then the commit-pinned `deploy.in`), and the amlctl they install runs.

A step that needs Azure or GitHub is excluded by its exact name below, and the test
fails if an excluded name no longer exists, so nothing is skipped silently.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import CACHE, TEMPLATE
from .gitrepo import copy_template, git
from .readme import start_block

# bake name -> answers; the options whose README path differs from the defaults'
USER_BAKES = {
    "defaults": {},
    "spark-python": {"spark_step": "true", "component_style": "python"},
}
# ci.yml steps that cannot run offline, by job and exact step name
NOT_OFFLINE = {
    ("check", "Compile the Bicep (the runner has the Bicep CLI; no sign-in needed)"): (
        "needs the Bicep CLI of `az`; amlctl check-infra holds the Bicep to its rules"
    ),
    ("environments", "Check that the environments are protected"): (
        "reads the repository's environments from GitHub's API (tested against a fake "
        "in amlctl/tests/test_github_envs.py)"
    ),
}


def clean_environ(home: Path) -> dict[str, str]:
    """The machine's environment without this suite's virtual environment on PATH."""
    suite_bin = str(Path(sys.executable).parent)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "VIRTUAL_ENV", "PYTHON", "PIP_", "MLFLOW_", "UV_"))
    }
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if p != suite_bin
    )
    env["PRE_COMMIT_HOME"] = str(CACHE / "pre-commit")  # hook environments built once
    env["COOKIECUTTER_CONFIG"] = str(home / "cookiecutter.yaml")
    return env


def bash(script: str, cwd: Path, env: dict[str, str], what: str = "", timeout: float = 1500) -> str:
    """Run `script` as GitHub's `run:` steps do (bash -e -o pipefail); its output on failure."""
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, (
        f"{what}: exit {done.returncode} from:\n{script}\n--- stdout\n{done.stdout[-6000:]}"
        f"\n--- stderr\n{done.stderr[-6000:]}"
    )
    return done.stdout


def base_python() -> str:
    """A Python outside any virtual environment (the one a user has)."""
    return str(Path(getattr(sys, "_base_executable", sys.executable)))


def ci_steps(project: Path, job: str) -> list[tuple[str, str]]:
    """(name, script) of each `run:` step of ci.yml's `job`, in order, excluded ones left out."""
    workflow = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())
    steps = workflow["jobs"][job]["steps"]
    names = {step.get("name") for step in steps}
    for excluded_job, name in NOT_OFFLINE:
        if excluded_job == job:
            assert name in names, f"NOT_OFFLINE names a step ci.yml's {job} job lacks: {name}"
    runs = []
    for step in steps:
        if "run" not in step or (job, step["name"]) in NOT_OFFLINE:
            continue
        assert "${{" not in step["run"], f"{step['name']}: an expression needs a GitHub runner"
        runs.append((step["name"], step["run"]))
    return runs


@pytest.fixture(scope="module")
def template_url(tmp_path_factory) -> str:
    return "git+" + copy_template(tmp_path_factory.mktemp("template") / "repo").as_uri()


def generator_install() -> str:
    """The template README's command that installs the generator (cookiecutter alone)."""
    readme = (TEMPLATE / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Generating a project") :]
    lines = section[section.index("```bash") :].splitlines()[1:]
    (command,) = [line for line in lines[: lines.index("```")] if line.startswith("pip install")]
    return command


@pytest.fixture(scope="module")
def generator(tmp_path_factory) -> Path:
    """A fresh environment holding only what the template README installs to generate."""
    venv = tmp_path_factory.mktemp("generator") / "venv"
    subprocess.run([base_python(), "-m", "venv", str(venv)], check=True)
    env = clean_environ(venv)
    bash(generator_install(), venv, {**env, "PATH": f"{venv / 'bin'}{os.pathsep}{env['PATH']}"})
    return venv / "bin"


@pytest.mark.parametrize("name", sorted(USER_BAKES))
def test_readme_and_ci_run_as_written(name, template_url, generator, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "cookiecutter.yaml").write_text(
        f"cookiecutters_dir: {home / 'templates'}\nreplay_dir: {home / 'replay'}\n"
    )
    env = clean_environ(home)
    answers = [f"{key}={value}" for key, value in USER_BAKES[name].items()]
    out = tmp_path / "out"
    bash(  # the README's generator, alone in its environment, from the template's git URL
        f"cookiecutter --no-input -o {out} {template_url} {' '.join(answers)}",
        tmp_path,
        {**env, "PATH": f"{generator}{os.pathsep}{env['PATH']}"},
        "cookiecutter from the git URL",
    )
    (project,) = out.iterdir()
    pins = {f: (project / f).read_text() for f in ("pyproject.toml", "requirements/deploy.in")}
    commit = git(Path(template_url.removeprefix("git+file://")), "rev-parse", "HEAD")
    for file, text in pins.items():
        assert f"amlctl @ {template_url}@{commit}#subdirectory=amlctl" in text, file
    assert git(project, "status", "--porcelain") == ""  # a repository, all in its first commit

    # the README's Start block, verbatim, with the user's Python
    out = bash("\n".join(start_block(project / "README.md")), project, env, "README Start")
    assert " succeeded in " in out, out[-3000:]
    assert (project / ".git" / "hooks" / "pre-commit").is_file()  # `pre-commit install` worked
    # amlctl from the project's environment, not activated, finds the programs beside it
    out = bash(".venv/bin/amlctl run pipelines/training.yml --local", project, env, "no activate")
    assert " succeeded in " in out, out[-3000:]

    # ci.yml's check job, step by step, on the environment the README made
    venv = project / ".venv"
    ci_env = {**env, "PATH": f"{venv / 'bin'}{os.pathsep}{env['PATH']}", "VIRTUAL_ENV": str(venv)}
    for step, script in ci_steps(project, "check"):
        bash(script, project, ci_env, f"ci.yml check: {step}")

    # the environments job's installs, in a fresh environment: what a token-holding job runs
    deploy = tmp_path / "deploy-venv"
    deploy_env = {**env, "PATH": f"{deploy / 'bin'}{os.pathsep}{env['PATH']}"}
    subprocess.run([base_python(), "-m", "venv", str(deploy)], check=True)
    # as actions/setup-python leaves it: its Pythons bring pip 24 or newer (a venv of this
    # machine's Python 3.11.7 has pip 23.2, whose packaging rejects `git+file:///` URLs)
    bash("python -m pip install -q --upgrade pip", project, deploy_env, "setup-python's pip")
    for step, script in ci_steps(project, "environments"):
        bash(script, project, deploy_env, f"ci.yml environments: {step}")
    assert "github-environments" in bash("amlctl --help", project, deploy_env, "deploy amlctl")
