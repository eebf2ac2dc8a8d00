"""`amlctl new`: the project-creation command checks every answer before cookiecutter runs.

What cookiecutter cannot report cleanly (unknown answers, choice and yes/no values it does
not know, template syntax in answers, overridden private names, a slug that is a path) is
one `error:` line naming the field, exit code 2, and nothing on disk. Interactively, only
the questions that earlier answers make relevant are put.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from amlctl import cli, create

from .conftest import TEMPLATE
from .test_invalid_input import INVALID

# (answer, field the first error line must name): what only `amlctl new` reports cleanly,
# and more answers that the template's own checks refuse.
NEW_INVALID = [
    # unknown answers (cookiecutter ignores them and bakes the defaults)
    ("gpu_clusters=yes", "gpu_clusters"),
    ("GPU_cluster=yes", "GPU_cluster"),
    ("resourceprefix=abc", "resourceprefix"),
    ("python=3.12", "python"),
    ("locaton=westeurope", "locaton"),
    ("package_name=json", "package_name"),
    ("cli_name=evil", "cli_name"),
    ("environment=dev-only", "environment"),
    ("schedule_crons=0 2 * * 1", "schedule_crons"),
    ("projectname=X", "projectname"),
    # private, derived names (cookiecutter lets extra context override them)
    ("__cli_name=evil; curl x | sh", "__cli_name"),
    ("__rg_dev=rg-hacked", "__rg_dev"),
    ("__workspace_prod=mlw-other", "__workspace_prod"),
    ("__gpu_cluster=x", "__gpu_cluster"),
    ("_template_version=9.9.9", "_template_version"),
    ("_copy_without_render=*", "_copy_without_render"),
    ("__prompts__=x", "__prompts__"),
    # choice values cookiecutter does not know (a traceback before any hook)
    ("python_version=3.10", "python_version"),
    ("python_version=3.14", "python_version"),
    ("python_version=latest", "python_version"),
    ("python_version=3.11.7", "python_version"),
    ("environments=prod", "environments"),
    ("environments=DEV-ONLY", "environments"),
    ("ml_task=Classification", "ml_task"),
    ("ml_task=ranking", "ml_task"),
    ("ml_task=", "ml_task"),
    # yes/no values cookiecutter does not know
    ("gpu_cluster=2", "gpu_cluster"),
    ("gpu_cluster=oui", "gpu_cluster"),
    ("hyperparameter_sweep=sometimes", "hyperparameter_sweep"),
    ("batch_scoring=yess", "batch_scoring"),
    ("schedule=weekly", "schedule"),
    ("network_isolation=private", "network_isolation"),
    ("network_isolation=", "network_isolation"),
    # template syntax (cookiecutter evaluates it)
    ("project_name={{ 7*7 }}", "project_name"),
    ("description={% if true %}x{% endif %}", "description"),
    ("author_name={# hidden #}", "author_name"),
    ("project_slug={{ cookiecutter.project_name }}", "project_slug"),
    ("github_owner={{ '' }}", "github_owner"),
    ("schedule_cron={{ cron }}", "schedule_cron"),
    ("azure_location={{ 'westeurope' }}", "azure_location"),
    # slugs that are paths (cookiecutter leaves an empty folder behind)
    ("project_slug=a/b", "project_slug"),
    ("project_slug=../escape", "project_slug"),
    ("project_slug=/absolute", "project_slug"),
    ("project_slug=a\\b", "project_slug"),
    ("project_slug=.", "project_slug"),
    ("project_slug=UPPER", "project_slug"),
    # not NAME=VALUE
    ("noequals", "noequals"),
    ("=value", "=value"),
    # more values the template's checks refuse
    ("azure_location=europe", "azure_location"),
    ("azure_location=", "azure_location"),
    ("resource_prefix=abcdefghijkl3", "resource_prefix"),  # 13 characters: 12 is the limit
    ("resource_prefix=pre_fix", "resource_prefix"),
    ("resource_prefix=préfix", "resource_prefix"),
    ("cpu_min_nodes=1.5", "cpu_min_nodes"),
    ("cpu_max_nodes=1001", "cpu_max_nodes"),
    ("cpu_max_nodes=-4", "cpu_max_nodes"),
    ("gpu_max_nodes=1e3", "gpu_max_nodes"),
    ("cpu_idle_seconds_before_scaledown=604801", "cpu_idle_seconds_before_scaledown"),
    ("cpu_vm_size=Standard_", "cpu_vm_size"),
    ("gpu_vm_size=standard_nc6", "gpu_vm_size"),
    ("schedule_cron=0 2 * * 1 *", "schedule_cron"),
    ("schedule_cron=@daily", "schedule_cron"),
    ("schedule_cron=0 2 * * 8", "schedule_cron"),
    ("author_email=a@b", "author_email"),
    ("author_email=<a@b.com>", "author_email"),
    ("github_owner=a--b", "github_owner"),
    ("github_owner=" + "x" * 40, "github_owner"),
    ("github_repo=" + "x" * 101, "github_repo"),
    ("project_name=" + "x" * 101, "project_name"),
    ("description=tab\there", "description"),
    ("author_name=trailing ", "author_name"),
]

ALL_INVALID = INVALID + NEW_INVALID
AMLCTL = (sys.executable, "-m", "amlctl")


def test_at_least_a_hundred_distinct_invalid_answers():
    answers = [answer for answer, _ in ALL_INVALID]
    assert len(set(answers)) == len(answers) >= 100


def new(tmp_path, *answers: str) -> int:
    return cli.main(
        ["new", "--template", str(TEMPLATE), "--no-input", "-o", str(tmp_path / "out"), *answers]
    )


@pytest.mark.parametrize(("answer", "field"), ALL_INVALID, ids=[a[:40] for a, _ in ALL_INVALID])
def test_new_refuses_an_invalid_answer_in_one_line(tmp_path, capsys, answer, field):
    assert new(tmp_path, answer) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), err
    assert lines[0].startswith(f"error: {field}"), err
    assert list(tmp_path.iterdir()) == [], "a refused answer left files behind"


@pytest.mark.parametrize(
    "answer",
    ["gpu_clusters=yes", "python_version=3.10", "project_name={{ 7*7 }}", "project_slug=a/b"],
)
def test_the_command_line_gives_no_traceback(tmp_path, answer):
    out = str(tmp_path / "out")
    done = subprocess.run(
        [*AMLCTL, "new", "--template", str(TEMPLATE), "--no-input", "-o", out, answer],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stderr.startswith("error: "), done.stderr
    assert list(tmp_path.iterdir()) == []


def test_every_problem_is_reported_at_once(tmp_path, capsys):
    assert new(tmp_path, "gpu_clusters=yes", "python_version=3.10", "schedule=weekly") == 2
    err = capsys.readouterr().err
    assert [line.split(":")[0].split("=")[0] for line in err.splitlines()[:3]] == [
        "error",
        "error",
        "error",
    ]
    for field in ("gpu_clusters", "python_version", "schedule"):
        assert f"error: {field}" in err


def test_unknown_answer_suggests_the_question_meant(tmp_path, capsys):
    assert new(tmp_path, "gpu_clusters=yes") == 2
    assert "did you mean gpu_cluster?" in capsys.readouterr().err


def test_valid_answers_create_the_project(tmp_path, capsys):
    assert new(tmp_path, "resource_prefix=churn", "gpu_cluster=yes", "python_version=3.12") == 0
    (project,) = (tmp_path / "out").iterdir()
    answers = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    assert answers["gpu_cluster"] is True
    assert answers["python_version"] == "3.12"
    assert answers["__cpu_cluster"] == "churn-cpu"
    assert f"created {project}" in capsys.readouterr().out


def test_a_registry_with_one_environment_is_refused_in_one_line(tmp_path, capsys):
    assert new(tmp_path, "environments=dev-only", "model_registry=yes") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: model_registry='yes': needs environments=dev-and-prod")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_project_folder_is_left_alone(tmp_path, capsys):
    (tmp_path / "out" / "azure-ml-project").mkdir(parents=True)
    (tmp_path / "out" / "azure-ml-project" / "mine.txt").write_text("keep")
    assert new(tmp_path) == 2
    assert "already exists" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "out" / "azure-ml-project").iterdir()] == ["mine.txt"]


def test_an_output_folder_that_is_a_file_is_one_line(tmp_path):
    (tmp_path / "FILE").write_text("mine")
    done = subprocess.run(
        [*AMLCTL, "new", "--template", str(TEMPLATE), "--no-input", "-o", str(tmp_path / "FILE")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert (
        done.stderr
        == f"error: -o {tmp_path / 'FILE'}: exists and is not a folder; nothing was created\n"
    )
    assert (tmp_path / "FILE").read_text() == "mine"


def test_an_unreachable_git_template_is_one_line(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(
        [*AMLCTL, "new", "--template", "https://127.0.0.1:9/nothing.git", "--no-input"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "HOME": str(home), "GIT_TERMINAL_PROMPT": "0"},
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert lines[0].startswith(
        "error: https://127.0.0.1:9/nothing.git: cannot get the template: `git clone` failed"
    )


def test_a_template_that_is_not_one(tmp_path, capsys):
    code = cli.main(["new", "--template", str(tmp_path), "--no-input", "-o", str(tmp_path)])
    assert code == 2
    assert "not a cookiecutter template" in capsys.readouterr().err


# -- interactive --------------------------------------------------------------------------------


class Script:
    """Answers typed per question (by its name; a list for tries), "" for the rest; records
    each question put and what was said."""

    def __init__(self, **answers: str | list[str]) -> None:
        self.answers = {k: [v] if isinstance(v, str) else list(v) for k, v in answers.items()}
        self.asked: list[str] = []
        self.names: list[str] = []
        self.said: list[str] = []

    def ask(self, prompt: str) -> str:
        self.asked.append(prompt)
        if len(self.asked) > 100:
            raise EOFError  # a loop that never ends
        name = question_of(prompt)
        self.names.append(name)
        tries = self.answers.get(name)
        return tries.pop(0) if tries else ""


def interactive(tmp_path, script: Script, *answers: str):
    return create.create(
        list(answers),
        template=str(TEMPLATE),
        output_dir=tmp_path / "out",
        interactive=True,
        ask=script.ask,
        say=script.said.append,
    )


SPEC = json.loads((TEMPLATE / "cookiecutter.json").read_text())
QUESTIONS = SPEC["__prompts__"]
PUBLIC = [k for k in SPEC if k[0] != "_"]


def prompt_of(name: str) -> str:
    prompt = QUESTIONS[name]
    return prompt["__prompt__"] if isinstance(prompt, dict) else prompt


def question_of(prompt: str) -> str:
    """The question a prompt puts (the longest help text it starts with)."""
    if prompt == create.ADVANCED_QUESTION:
        return "advanced"
    names = [name for name in PUBLIC if prompt.startswith(prompt_of(name))]
    assert names, f"a prompt of no question: {prompt!r}"
    return max(names, key=lambda name: len(prompt_of(name)))


def test_the_default_path_asks_at_most_15_questions(tmp_path):
    script = Script()
    project = interactive(tmp_path, script)
    assert len(script.asked) <= 15, script.names
    assert "advanced" in script.names
    assert not set(script.names) & set(create.ADVANCED)
    # every other question was asked, once, in the template's order
    expected = [n for n in PUBLIC if n not in create.ADVANCED and n not in ("gpu_vm_size",)]
    expected = [n for n in expected if n not in ("gpu_max_nodes",)]
    assert [n for n in script.names if n != "advanced"] == expected
    recorded = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    assert recorded["cpu_max_nodes"] == SPEC["cpu_max_nodes"]  # advanced: the default
    assert recorded["project_slug"] == "azure-ml-project"  # derived as cookiecutter derives it


def test_questions_that_cannot_matter_are_not_asked(tmp_path):
    script = Script(advanced="y")  # every default: no GPU cluster; a schedule
    interactive(tmp_path, script, "schedule=no", "online_endpoint=no")
    assert "gpu_cluster" in script.names
    assert "gpu_vm_size" not in script.names and "gpu_max_nodes" not in script.names
    assert "schedule_cron" not in script.names  # answered "no" on the command line
    assert "schedule" not in script.names  # answered on the command line: not asked again
    assert "alert_email" not in script.names  # no online endpoint: no monitoring alerts
    assert len(script.asked) == len(PUBLIC) - 6 + 1  # + the advanced question


def test_gpu_questions_follow_a_yes(tmp_path):
    script = Script(
        advanced="y", gpu_cluster="y", gpu_vm_size="Standard_NC6s_v3", gpu_max_nodes="3"
    )
    project = interactive(tmp_path, script)
    recorded = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    assert recorded["gpu_cluster"] is True
    assert recorded["gpu_vm_size"] == "Standard_NC6s_v3"
    assert recorded["gpu_max_nodes"] == "3"
    assert "gpu_vm_size" in script.names


def test_the_registry_question_follows_two_environments(tmp_path):
    script = Script(advanced="y")
    interactive(tmp_path / "two", script)  # dev-and-prod by default: the registry is asked
    assert "model_registry" in script.names

    script = Script(advanced="y")
    project = interactive(tmp_path / "one", script, "environments=dev-only")
    assert "model_registry" not in script.names
    recorded = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    assert (recorded["model_registry"], recorded["__model_registry"]) == ("auto", "no")


def test_a_bad_answer_is_asked_again_at_once_with_a_suggestion(tmp_path):
    script = Script(project_name="My Project", azure_location=["East US 2", "mars", "eastus2"])
    project = interactive(tmp_path, script)
    assert project.name == "my-project"
    # asked again right away, before any later question
    at = script.names.index("azure_location")
    assert script.names[at : at + 4] == ["azure_location"] * 3 + ["environments"]
    assert script.said[0] == (
        "error: azure_location='East US 2': must be an Azure region name such as westeurope "
        "or eastus2 (did you mean eastus2?)"
    )
    assert script.said[1].startswith("error: azure_location='mars': ")
    recorded = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    assert recorded["azure_location"] == "eastus2"


def test_the_alert_address_is_asked_as_such_and_never_invented(tmp_path):
    project = interactive(tmp_path / "none", Script())
    monitor = yaml.safe_load((project / "deploy" / "online" / "monitor.yml").read_text())
    assert "alert_notification" not in monitor["create_monitor"]  # no address invented
    script = Script(alert_email="*ops&alerts@contoso.com")
    project = interactive(tmp_path / "one", script)
    monitor = yaml.safe_load((project / "deploy" / "online" / "monitor.yml").read_text())
    emails = monitor["create_monitor"]["alert_notification"]["emails"]
    assert emails == ["*ops&alerts@contoso.com"]


def test_input_that_ends_early_is_an_error_not_a_traceback(tmp_path, capsys):
    done = subprocess.run(
        [*AMLCTL, "new", "--template", str(TEMPLATE), "-o", str(tmp_path / "out")],
        input="My Project\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    assert "no answer (input ended)" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_without_cookiecutter_the_command_says_how_to_get_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "cookiecutter", None)  # import cookiecutter fails
    assert new(tmp_path) == 2
    assert (
        capsys.readouterr().err
        == "error: amlctl new needs cookiecutter: pip install 'amlctl[new]'\n"
    )
    assert list(tmp_path.iterdir()) == []
