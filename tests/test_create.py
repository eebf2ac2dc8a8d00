"""`amlctl new`: the project-creation command checks every answer before cookiecutter runs.

What cookiecutter cannot report cleanly (unknown answers, choice and yes/no values it does
not know, template syntax in answers, overridden private names, a slug that is a path) is
one `error:` line naming the field, exit code 2, and nothing on disk. Interactively, only
the questions that earlier answers make relevant are put.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

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


def test_a_template_that_is_not_one(tmp_path, capsys):
    code = cli.main(["new", "--template", str(tmp_path), "--no-input", "-o", str(tmp_path)])
    assert code == 2
    assert "not a cookiecutter template" in capsys.readouterr().err


# -- interactive --------------------------------------------------------------------------------


class Script:
    """Answers typed in order; records each question put."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []
        self.said: list[str] = []

    def ask(self, prompt: str) -> str:
        self.asked.append(prompt)
        if not self.answers:
            raise EOFError
        return self.answers.pop(0)

    def topics(self) -> list[str]:
        return [prompt.splitlines()[0] for prompt in self.asked]


def interactive(tmp_path, script: Script, *answers: str):
    return create.create(
        list(answers),
        template=str(TEMPLATE),
        output_dir=tmp_path / "out",
        interactive=True,
        ask=script.ask,
        say=script.said.append,
    )


QUESTIONS = json.loads((TEMPLATE / "cookiecutter.json").read_text())["__prompts__"]


def prompt_of(name: str) -> str:
    prompt = QUESTIONS[name]
    return prompt["__prompt__"] if isinstance(prompt, dict) else prompt


def test_questions_that_cannot_matter_are_not_asked(tmp_path):
    script = Script(*[""] * 40)  # every default: no GPU cluster; a schedule
    interactive(tmp_path, script, "schedule=no")
    asked = " | ".join(script.topics())
    assert prompt_of("gpu_cluster") in asked
    assert prompt_of("gpu_vm_size") not in asked and prompt_of("gpu_max_nodes") not in asked
    assert prompt_of("schedule_cron") not in asked  # answered "no" on the command line
    assert prompt_of("schedule") not in asked  # answered on the command line: not asked again
    public = [k for k in json.loads((TEMPLATE / "cookiecutter.json").read_text()) if k[0] != "_"]
    assert len(script.asked) == len(public) - 4


def test_gpu_questions_follow_a_yes(tmp_path):
    answers = {"gpu_cluster": "y", "gpu_vm_size": "Standard_NC6s_v3", "gpu_max_nodes": "3"}
    public = [k for k in json.loads((TEMPLATE / "cookiecutter.json").read_text()) if k[0] != "_"]
    typed = [answers.get(name, "") for name in public]  # with a GPU cluster, all are asked
    script = Script(*typed)
    project = interactive(tmp_path, script)
    recorded = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    assert recorded["gpu_cluster"] is True
    assert recorded["gpu_vm_size"] == "Standard_NC6s_v3"
    assert recorded["gpu_max_nodes"] == "3"
    assert prompt_of("gpu_vm_size") in " | ".join(script.topics())


def test_the_registry_question_follows_two_environments(tmp_path):
    public = [k for k in json.loads((TEMPLATE / "cookiecutter.json").read_text()) if k[0] != "_"]
    script = Script(*[""] * len(public))
    interactive(tmp_path / "two", script)  # dev-and-prod by default: the registry is asked
    assert prompt_of("model_registry") in " | ".join(script.topics())

    script = Script(*[""] * len(public))
    project = interactive(tmp_path / "one", script, "environments=dev-only")
    assert prompt_of("model_registry") not in " | ".join(script.topics())
    recorded = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    assert (recorded["model_registry"], recorded["__model_registry"]) == ("auto", "no")


def test_a_bad_answer_is_asked_again(tmp_path):
    script = Script("My Project", "", "", "", "", "mars", "westeurope", *[""] * 40)
    project = interactive(tmp_path, script)
    assert project.name == "my-project"
    assert any("azure_location='mars'" in line for line in script.said)
    recorded = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    assert recorded["azure_location"] == "westeurope"


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
