"""Bake every configuration of the matrix and verify it in full.

Per bake: the exact file set, no leftover Jinja, every data file parses, ruff
clean and formatted, the project's own commands (validate, check-infra,
check-workflows), its own test suite and its pre-commit hooks all pass.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import project_checks
from .conftest import ProjectEnv, bake, bake_cli, defaults, shared_env
from .expected_layout import expected_files
from .matrix import MATRIX


@dataclass
class Baked:
    name: str
    answers: dict
    path: Path
    files: set[str]
    env: ProjectEnv

    def run(self, *command: str, timeout: float = 900) -> subprocess.CompletedProcess:
        return self.env.run(self.path, *command, timeout=timeout)

    cli = "amlctl"  # the tool every project depends on


def _report(done: subprocess.CompletedProcess) -> str:
    out, err = done.stdout[-6000:], done.stderr[-4000:]
    return f"exit {done.returncode}\n--- stdout\n{out}\n--- stderr\n{err}"


@pytest.fixture(scope="module", params=sorted(MATRIX))
def baked(request, tmp_path_factory) -> Baked:
    name = request.param
    output = tmp_path_factory.mktemp(f"bake-{name}")
    if MATRIX[name]:
        project = bake(output, MATRIX[name])
    else:  # plain defaults, through the command line exactly as a user runs it
        done = bake_cli(output)
        assert done.returncode == 0, _report(done)
        (project,) = output.iterdir()
    # the rendered answers, derived values included, as the bake recorded them
    answers = json.loads((project / ".cruft.json").read_text("utf-8"))["context"]["cookiecutter"]
    assert answers["project_slug"] == project.name
    env = shared_env(project)  # one per set of pins
    baked = Baked(name, answers, project, project_checks.files(project), env)
    env.install_project(project)
    for command in (["git", "init", "-q"], ["git", "add", "-A"]):  # pre-commit reads git's index
        subprocess.run(command, cwd=project, check=True, capture_output=True)
    return baked


def test_exact_file_set(baked):
    expected = expected_files(baked.answers)
    assert sorted(baked.files - expected) == [], "files the layout does not expect"
    assert sorted(expected - baked.files) == [], "files the layout expects but the bake lacks"


def test_no_leftover_jinja(baked):
    assert project_checks.leftover_jinja(baked.path) == []


def test_every_yaml_json_toml_file_parses(baked):
    assert project_checks.data_file_count(baked.path) >= 10
    assert project_checks.parse_errors(baked.path) == []


def test_cruft_record_holds_the_answers(baked):
    record = json.loads((baked.path / ".cruft.json").read_text(encoding="utf-8"))
    recorded = record["context"]["cookiecutter"]
    for key, value in {**defaults(), **MATRIX[baked.name]}.items():
        if "{{" not in str(value):  # derived values are checked through the file set
            assert recorded[key] == value, key
    assert recorded["_template_version"]


def test_ruff_lint_clean(baked):
    done = baked.run("ruff", "check", "--no-cache", ".")
    assert done.returncode == 0, _report(done)


def test_ruff_format_unchanged(baked):
    done = baked.run("ruff", "format", "--check", "--no-cache", ".")
    assert done.returncode == 0, _report(done)


def test_cli_help_lists_every_command(baked):
    done = baked.run(baked.cli, "--help")
    assert done.returncode == 0, _report(done)
    for command in ("validate", "run", "check-infra", "check-workflows", "provision", "register"):
        assert command in done.stdout


def test_validate_command_passes(baked):
    done = baked.run(baked.cli, "validate")
    assert done.returncode == 0, _report(done)


def test_check_infra_command_passes(baked):
    done = baked.run(baked.cli, "check-infra")
    assert done.returncode == 0, _report(done)


def test_check_workflows_command_passes(baked):
    done = baked.run(baked.cli, "check-workflows")
    assert done.returncode == 0, _report(done)


def test_project_test_suite_passes(baked):
    done = baked.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", timeout=1200)
    assert done.returncode == 0, _report(done)
    assert " passed" in done.stdout.splitlines()[-1], _report(done)


def test_pre_commit_hooks_pass(baked):
    done = baked.run("pre-commit", "run", "--all-files", "--show-diff-on-failure", timeout=1800)
    assert done.returncode == 0, _report(done)


@pytest.mark.parametrize("baked", ["everything"], indirect=True)
def test_checkov_honours_the_suppressions(baked):
    """`// checkov:skip=` is what keeps checkov at 0 failed: take one away and it fails.

    Runs the project's own pre-commit hook (checkov in its own environment) on one bake:
    the suppression lines are the same in every configuration.
    """
    registry = baked.path / "infra" / "modules" / "registry.bicep"
    text = registry.read_text(encoding="utf-8")
    kept = [line for line in text.splitlines(keepends=True) if "CKV_AZURE_139" not in line]
    assert len(kept) == len(text.splitlines()) - 1  # exactly one `// checkov:skip=` line
    registry.write_text("".join(kept), encoding="utf-8")
    try:
        done = baked.run("pre-commit", "run", "checkov-bicep", "--all-files", timeout=900)
    finally:
        registry.write_text(text, encoding="utf-8")
    assert done.returncode != 0, _report(done)
    assert "CKV_AZURE_139" in done.stdout, _report(done)
    assert "Failed checks: 1," in done.stdout, _report(done)


def _metrics(out: str) -> str:
    assert "metrics of evaluate:" in out, out[-3000:]
    return out[out.index("metrics of evaluate:") :].strip()


def test_python_and_yaml_training_pipelines_run_alike(baked):
    """`run --local` of training.yml, then of training.py: the same metrics, every step reused."""
    by_yaml = baked.run(baked.cli, "run", "pipelines/training.yml", "--local", timeout=1200)
    assert by_yaml.returncode == 0, _report(by_yaml)
    by_python = baked.run(baked.cli, "run", "pipelines/training.py", "--local", timeout=1200)
    assert by_python.returncode == 0, _report(by_python)
    assert _metrics(by_python.stdout) == _metrics(by_yaml.stdout)
    states = {
        line.split()[2]: line.split()[1]
        for line in by_python.stdout.splitlines()
        if line.startswith("-- ") and len(line.split()) > 2
    }
    # every deterministic step is reused; register_model (not deterministic) always runs
    spark = {"spark_features": "cached"} if baked.answers.get("spark_step") else {}
    assert states == {
        **spark,
        "prep_data": "cached",
        "data_quality_gate": "cached",
        "train": "cached",
        "evaluate": "cached",
        "register_model": "done",
    }, by_python.stdout[-3000:]
