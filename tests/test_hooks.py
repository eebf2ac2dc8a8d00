"""Unit tests of the hooks' functions, on the unrendered hook files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .conftest import bake
from .hook_modules import load_hook
from .readme import start_block

pre_gen = load_hook("pre_gen_project")
post_gen = load_hook("post_gen_project")


def rendered_defaults(**changes) -> dict:
    """The answers as the hook sees them with defaults: private names rendered."""
    answers = {
        "project_name": "Azure ML Project",
        "project_slug": "azure-ml-project",
        "description": "A project.",
        "author_name": "Team",
        "author_email": "team@example.com",
        "azure_location": "westeurope",
        "resource_prefix": "azuremlpro",
        "environments": "dev-and-prod",
        "model_registry": "auto",
        "cpu_vm_size": "Standard_DS3_v2",
        "cpu_min_nodes": "0",
        "cpu_max_nodes": "4",
        "cpu_idle_seconds_before_scaledown": "1800",
        "gpu_cluster": False,
        "gpu_vm_size": "Standard_NC4as_T4_v3",
        "gpu_max_nodes": "2",
        "ml_task": "classification",
        "component_style": "yaml",
        "hyperparameter_sweep": True,
        "batch_scoring": True,
        "schedule": True,
        "schedule_cron": "0 2 * * 1",
        "online_endpoint": True,
        "network_isolation": False,
        "spark_step": False,
        "automl": False,
        "github_owner": "my-org",
        "github_repo": "azure-ml-project",
        "python_version": "3.11",
        "_template_version": json.loads(
            (Path(__file__).parent.parent / "cookiecutter.json").read_text()
        )["_template_version"],
    }
    answers.update(changes)
    p = answers["resource_prefix"]
    for env in ("dev", "prod"):
        answers.update(
            {
                f"__rg_{env}": f"rg-{p}-{env}",
                f"__workspace_{env}": f"mlw-{p}-{env}",
                f"__storage_{env}": f"st{p}{env}",
                f"__key_vault_{env}": f"kv-{p}-{env}",
                f"__registry_{env}": f"cr{p}{env}",
                f"__log_analytics_{env}": f"log-{p}-{env}",
                f"__app_insights_{env}": f"appi-{p}-{env}",
                f"__compute_identity_{env}": f"id-{p}-{env}-compute",
                f"__github_identity_{env}": f"id-{p}-{env}-github",
                f"__vnet_{env}": f"vnet-{p}-{env}",
                f"__batch_endpoint_{env}": f"{p}-training-{env}",
                f"__online_endpoint_{env}": f"{p}-online-{env}",
            }
        )
    answers.update(
        {
            "__cpu_cluster": f"{p}-cpu",
            "__gpu_cluster": f"{p}-gpu",
            "__ml_registry": f"mlr-{p}",
            "__model_registry": pre_gen.model_registry(answers),
        }
    )
    answers.update({k: v for k, v in changes.items() if k.startswith("__")})
    return answers


def test_defaults_are_valid():
    assert pre_gen.validate(rendered_defaults()) == []


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("resource_prefix", "a" * 13, "2-12 lowercase letters and digits"),
        ("__rg_dev", "rg-hacked", "derived from resource_prefix ('rg-azuremlpro-dev')"),
        ("__cpu_cluster", "x; rm -rf /", "cannot be set"),
        ("resource_prefix", "1abc", "starting with a letter"),
        ("cpu_min_nodes", "5", "must not exceed cpu_max_nodes"),
        ("schedule_cron", "61 * * * *", "minute field"),
        ("azure_location", "mars", "Azure region"),
        ("gpu_cluster", "maybe", "boolean"),
        ("cpu_vm_size", "DS3_v2", "Standard_"),
    ],
)
def test_each_problem_names_field_value_and_rule(field, value, fragment):
    problems = pre_gen.validate(rendered_defaults(**{field: value}))
    assert len(problems) >= 1
    assert problems[0].startswith(f"{field}={value!r}: ")
    assert fragment in problems[0]


@pytest.mark.parametrize(
    "environments, wanted, derived",
    [
        ("dev-and-prod", "auto", "yes"),
        ("dev-and-prod", "yes", "yes"),
        ("dev-and-prod", "no", "no"),
        ("dev-only", "auto", "no"),
        ("dev-only", "no", "no"),
    ],
)
def test_the_registry_follows_two_environments(environments, wanted, derived):
    answers = rendered_defaults(environments=environments, model_registry=wanted)
    assert answers["__model_registry"] == derived
    assert pre_gen.validate(answers) == []


def test_a_registry_with_one_environment_is_a_contradiction():
    answers = rendered_defaults(environments="dev-only", model_registry="yes")
    assert pre_gen.validate(answers) == [
        "model_registry='yes': needs environments=dev-and-prod (the registry carries models "
        "from dev to prod); answer auto or no"
    ]
    overridden = rendered_defaults(environments="dev-only", __model_registry="yes")
    assert pre_gen.validate(overridden) == [
        "__model_registry='yes': is derived from model_registry and environments; it cannot be set"
    ]


def test_registry_files_go_without_a_registry():
    assert {".github/workflows/promote.yml", "infra/modules/ml-registry.bicep"} <= set(
        post_gen.paths_to_remove(rendered_defaults(environments="dev-only"))
    )
    assert ".github/workflows/promote.yml" not in post_gen.paths_to_remove(rendered_defaults())


def test_all_problems_are_reported_at_once():
    problems = pre_gen.validate(
        rendered_defaults(azure_location="nowhere", cpu_max_nodes="x", github_owner="-bad")
    )
    fields = sorted(p.split("=", 1)[0] for p in problems)
    assert fields == ["azure_location", "cpu_max_nodes", "github_owner"]


def test_prefix_limit_is_the_longest_every_derived_name_accepts():
    limit = pre_gen.PREFIX_LIMIT
    assert pre_gen.validate(rendered_defaults(resource_prefix="k" * limit)) == []

    def broken(prefix: str) -> list[str]:
        return [
            variable
            for variable, kind in pre_gen.DERIVED_NAMES.items()
            if not re.fullmatch(
                pre_gen.NAME_RULES[kind][0], pre_gen.DERIVED_FORMS[variable].format(p=prefix)
            )
        ]

    assert broken("k" * limit) == []
    assert broken("k" * (limit + 1)) == ["__cpu_cluster", "__gpu_cluster"]


def test_derived_forms_agree_with_cookiecutter_json():
    from jinja2 import Template

    spec = json.loads((Path(__file__).parent.parent / "cookiecutter.json").read_text())
    for variable, form in pre_gen.DERIVED_FORMS.items():
        rendered = Template(spec[variable]).render(cookiecutter={"resource_prefix": "abc"})
        assert rendered == form.format(p="abc"), variable
    assert set(pre_gen.DERIVED_FORMS) == set(pre_gen.DERIVED_NAMES)


def test_the_derived_registry_answer_agrees_with_cookiecutter_json():
    from jinja2 import Template

    spec = json.loads((Path(__file__).parent.parent / "cookiecutter.json").read_text())
    for environments in spec["environments"]:
        for wanted in spec["model_registry"]:
            answers = {"environments": environments, "model_registry": wanted}
            rendered = Template(spec["__model_registry"]).render(cookiecutter=answers)
            assert rendered == pre_gen.model_registry(answers), answers


def test_prompt_states_the_real_prefix_limit():
    spec = json.loads((Path(__file__).parent.parent / "cookiecutter.json").read_text())
    assert f"2-{pre_gen.PREFIX_LIMIT} " in spec["__prompts__"]["resource_prefix"]


@pytest.mark.parametrize(
    ("expression", "ok"),
    [
        ("0 2 * * 1", True),
        ("*/15 0-23/2 1,15 JAN-JUN MON-FRI", True),
        ("59 23 31 12 6", True),
        ("0 2 * *", False),
        ("0 24 * * *", False),
        ("0 0 0 * *", False),
        ("0 0 * 13 *", False),
        ("0 0 * * 7", False),
        ("*/0 * * * *", False),
        ("5-1 * * * *", False),
        ("0 0 * FOO *", False),
    ],
)
def test_cron_expressions(expression, ok):
    assert (pre_gen.cron_problem(expression) is None) is ok


def test_every_derived_name_has_a_rule():
    assert set(pre_gen.DERIVED_NAMES.values()) <= set(pre_gen.NAME_RULES)


def test_layout_removes_per_option():
    answers = rendered_defaults(
        environments="dev-only",
        ml_task="regression",
        hyperparameter_sweep=False,
        batch_scoring=False,
        schedule=False,
    )
    removed = post_gen.paths_to_remove(answers)
    assert "config/prod.yml" in removed
    assert "data/sample/breast_cancer.csv" in removed
    assert "components/score" in removed
    assert "pipelines/schedules" in removed
    assert "pipelines/training-sweep.yml" in removed
    assert "components/spark_features" in removed
    assert "pipelines/training-automl.yml" in removed
    assert post_gen.paths_to_remove(rendered_defaults()) == [
        "components/prep_data/src/component.py",  # component_style yaml: no Python function
        "components/prep_data/tests/test_component.py",
        "components/spark_features",
        "components/to_mltable",
        "data/sample/diabetes.csv",
        "pipelines/training-automl.yml",
    ]
    everything = post_gen.paths_to_remove(
        rendered_defaults(spark_step=True, automl=True, component_style="python")
    )
    assert everything == ["data/sample/diabetes.csv"]


def test_remove_paths_removes_files_and_folders(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("x")
    (tmp_path / "b.txt").write_text("b")
    post_gen.remove_paths(tmp_path, ["a", "b.txt"])
    assert list(tmp_path.iterdir()) == []


def test_remove_paths_refuses_a_path_the_template_lacks(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.yml"):
        post_gen.remove_paths(tmp_path, ["nope.yml"])


def test_cruft_record_keeps_answers_and_template(tmp_path):
    answers = {**rendered_defaults(), "_template": str(tmp_path), "_output_dir": "/somewhere"}
    record = post_gen.cruft_record(answers)
    assert record["template"] == str(tmp_path)
    assert record["context"]["cookiecutter"]["resource_prefix"] == "azuremlpro"
    assert "_output_dir" not in record["context"]["cookiecutter"]
    assert record["commit"] is None  # tmp_path is not a git checkout
    json.dumps(record)  # serialisable as written to .cruft.json


@pytest.mark.parametrize(
    ("template", "url"),
    [
        ("gh:o/template", "git+https://github.com/o/template.git"),
        ("https://github.com/o/template.git", "git+https://github.com/o/template.git"),
        ("https://github.com/o/template/", "git+https://github.com/o/template"),
        ("git@github.com:o/template.git", "git+ssh://git@github.com/o/template.git"),
        ("ssh://git@host/o/template.git", "git+ssh://git@host/o/template.git"),
        ("git+file:///srv/template", "git+file:///srv/template"),
        ("file:///srv/template", "git+file:///srv/template"),
        ("https://example.com/template.zip", None),
        ("hg+https://example.com/template", None),
    ],
)
def test_pip_clones_the_template_from_the_url_cookiecutter_cloned(template, url):
    assert post_gen.pip_git_url(template) == url


@pytest.fixture
def not_under_cookiecutter(monkeypatch):
    """The hook called by a test: its parent's folder is not a template being rendered."""
    monkeypatch.setattr(post_gen, "parent_cwd", lambda: None)


def git_checkout(folder: Path) -> str:
    import subprocess

    (folder / "cookiecutter.json").write_text("{}")
    for command in (
        ["init", "-q"],
        ["add", "."],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "t"],
    ):
        subprocess.run(["git", *command], cwd=folder, check=True)
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True)
    return done.stdout.strip()


def test_a_git_url_bake_pins_the_tool_to_the_template_commit(tmp_path, not_under_cookiecutter):
    commit = git_checkout(tmp_path)
    answers = {
        **rendered_defaults(),
        "_template_version": "0.2.0",
        "_template": "gh:o/template",
        "_repo_dir": str(tmp_path),
    }
    requirement, note = post_gen.amlctl_requirement(answers)
    assert requirement == (
        f"amlctl @ git+https://github.com/o/template.git@{commit}#subdirectory=amlctl"
    )
    assert note is None


def test_a_local_bake_pins_its_commit_and_says_ci_cannot_reach_it(tmp_path, not_under_cookiecutter):
    commit = git_checkout(tmp_path)
    answers = {**rendered_defaults(), "_template_version": "0.2.0", "_template": str(tmp_path)}
    requirement, note = post_gen.amlctl_requirement(answers)
    assert requirement == f"amlctl @ git+{tmp_path.as_uri()}@{commit}#subdirectory=amlctl"
    assert "only this machine can reach" in note


def test_a_bake_without_a_commit_pins_the_release_and_says_so(tmp_path, not_under_cookiecutter):
    (tmp_path / "cookiecutter.json").write_text("{}")
    answers = {**rendered_defaults(), "_template_version": "0.2.0", "_template": str(tmp_path)}
    requirement, note = post_gen.amlctl_requirement(answers)
    assert requirement == "amlctl==0.2.0"
    assert "on the package index" in note


def test_the_pin_replaces_the_templates_in_both_files_or_fails(tmp_path):
    (tmp_path / "requirements").mkdir()
    (tmp_path / "pyproject.toml").write_text('deps = [\n  "amlctl==0.2.0",\n]\n')
    (tmp_path / "requirements" / "deploy.in").write_text("# pin\namlctl==0.2.0\n")
    post_gen.pin_amlctl(tmp_path, "0.2.0", "amlctl @ git+file:///t@" + "a" * 40)
    assert '"amlctl @ git+file:///t@' in (tmp_path / "pyproject.toml").read_text()
    assert (tmp_path / "requirements" / "deploy.in").read_text().endswith("a" * 40 + "\n")
    with pytest.raises(ValueError, match=r"expected one 'amlctl==0\.2\.0'"):
        post_gen.pin_amlctl(tmp_path, "0.2.0", "x")


def test_next_steps_name_the_cli():
    text = post_gen.next_steps(rendered_defaults())
    assert "amlctl run pipelines/training.yml --local" in text


@pytest.mark.parametrize("spark", [False, True])
def test_next_steps_are_the_readmes_start_block(spark, tmp_path):
    """What the bake prints is what the generated README's Start block runs, per option."""
    project = bake(tmp_path, {"spark_step": spark})
    answers = rendered_defaults(spark_step=spark)
    printed = [line.strip() for line in post_gen.next_steps(answers).splitlines()]
    commands = printed[printed.index(f"cd {answers['project_slug']}") + 1 :][:-1]
    assert commands == start_block(project / "README.md")
    assert ('pip install -e ".[dev,spark]"' in commands) is spark


def no_git_identity(monkeypatch, home: Path) -> None:
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for name in (
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
    ):
        monkeypatch.delenv(name, raising=False)


def test_the_bake_commits_everything_as_the_author_when_git_has_no_identity(tmp_path, monkeypatch):
    no_git_identity(monkeypatch, tmp_path / "home")
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "a.py").write_text("x = 1\n")
    answers = rendered_defaults(author_name="Data Team", author_email="data@example.org")
    assert post_gen.init_git(project, answers) is None
    log = post_gen.git(project, "log", "--format=%an <%ae>|%s").stdout.strip()
    assert log == "Data Team <data@example.org>|Generate azure-ml-project from the Azure ML " + (
        f"project template {answers['_template_version']}"
    )
    assert post_gen.git(project, "status", "--porcelain").stdout == ""
    assert post_gen.git(project, "symbolic-ref", "HEAD").stdout.strip() == "refs/heads/main"


def test_a_bake_into_an_existing_repository_initialises_nothing(tmp_path):
    post_gen.git(tmp_path, "init", "-q")
    project = tmp_path / "monorepo" / "project"
    project.mkdir(parents=True)
    (project / "a.py").write_text("x = 1\n")
    note = post_gen.init_git(project, rendered_defaults())
    assert note is not None and "existing git repository" in note
    assert not (project / ".git").exists()
    assert post_gen.git(tmp_path, "rev-list", "--all").stdout == ""  # nothing committed


def test_a_bake_into_a_folder_the_enclosing_repository_ignores_gets_its_own(tmp_path):
    post_gen.git(tmp_path, "init", "-q")
    (tmp_path / ".gitignore").write_text("build/\n")
    project = tmp_path / "build" / "project"
    project.mkdir(parents=True)
    (project / "a.py").write_text("x = 1\n")
    assert post_gen.init_git(project, rendered_defaults()) is None
    assert (project / ".git").is_dir()
    assert post_gen.git(project, "ls-files").stdout.split() == ["a.py"]


def test_a_failed_first_commit_is_a_note_not_a_failed_bake(tmp_path, monkeypatch):
    no_git_identity(monkeypatch, tmp_path / "home")
    project = tmp_path / "project"
    project.mkdir()
    (project / "a.py").write_text("x = 1\n")
    answers = rendered_defaults(author_name=".", author_email="")  # git refuses the name
    note = post_gen.init_git(project, answers)
    assert note is not None and note.startswith("git commit failed (")
    assert "make the first commit yourself" in note


def test_python_versions_are_supported_ones_newest_first():
    spec = json.loads((Path(__file__).parent.parent / "cookiecutter.json").read_text())
    offered = spec["python_version"]
    as_tuples = [tuple(int(part) for part in v.split(".")) for v in offered]
    assert as_tuples == sorted(as_tuples, reverse=True)  # the default is the newest
    assert min(as_tuples) >= (3, 11)  # 3.10 reached end of life in October 2026
    assert tuple(offered) == tuple(sorted(pre_gen.CHOICES["python_version"], reverse=True))
    template = Path(__file__).parent.parent / "{{cookiecutter.project_slug}}"
    for file in template.rglob("*"):
        if file.is_file() and file.suffix in (".toml", ".yml", ".yaml", ".py", ".md"):
            assert "'3.10'" not in file.read_text(encoding="utf-8"), file  # no 3.10 branch left
