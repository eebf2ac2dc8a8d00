"""Where amlctl finds things: `[tool.amlctl]` layouts, and YAML outside any project."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from amlctl import cli
from amlctl.cloud.config import available_envs
from amlctl.project import ProjectError, layout, project_root
from amlctl.validation.command import kind_of, validate_project

# Azure ML expressions, built so that no template engine would touch them.
OUT = "${" + "{outputs.greeting}}"
IN = "${" + "{inputs.greeting}}"
PARENT_OUT = "${" + "{parent.jobs.hello.outputs.greeting}}"

HELLO_PIPELINE = f"""\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
display_name: hello-pipeline
settings:
  default_compute: azureml:cpu-cluster
jobs:
  hello:
    type: command
    command: echo "hello from $AZUREML_RUN_ID_PLACEHOLDER" > {OUT}/greeting.txt
    environment:
      image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest
    outputs:
      greeting:
        type: uri_folder
  world:
    type: command
    command: cat {IN}/greeting.txt && echo world
    environment:
      image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest
    inputs:
      greeting: {PARENT_OUT}
"""

COMPONENT = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
name: greet
version: "1"
type: command
outputs:
  greeting:
    type: uri_folder
environment:
  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest
command: echo hi
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_tool_table_places_every_folder(tmp_path):
    write(
        tmp_path / "pyproject.toml",
        '[project]\nname = "other"\n\n[tool.amlctl]\ncomponents = "aml/components"\n'
        'pipelines = "aml/pipelines"\nconfig = "deploy/settings"\n',
    )
    where = layout(tmp_path)
    assert where.components == tmp_path.resolve() / "aml" / "components"
    assert where.pipelines == tmp_path.resolve() / "aml" / "pipelines"
    assert where.config == tmp_path.resolve() / "deploy" / "settings"
    assert where.infra == tmp_path.resolve() / "infra"  # the default where the table is silent
    assert where.schedules == tmp_path.resolve() / "pipelines" / "schedules"


def test_a_tool_table_makes_any_folder_a_project(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.amlctl]\n")
    nested = tmp_path / "deep" / "er"
    nested.mkdir(parents=True)
    assert project_root(nested) == tmp_path.resolve()


def test_the_commands_read_the_tool_table(tmp_path):
    write(
        tmp_path / "pyproject.toml",
        '[tool.amlctl]\ncomponents = "aml/components"\nconfig = "deploy"\n',
    )
    write(tmp_path / "aml" / "components" / "greet" / "component.yml", COMPONENT)
    write(tmp_path / "deploy" / "staging.yml", "subscription_id: x\n")
    problems, checked = validate_project(tmp_path)
    assert checked == 1
    assert [p for p in problems if p.severity == "error"] == []
    assert available_envs(tmp_path) == ["staging"]


def test_unknown_tool_table_key_is_one_clear_line(tmp_path, capsys, monkeypatch):
    write(tmp_path / "pyproject.toml", '[tool.amlctl]\ncomponent = "c"\n')
    monkeypatch.chdir(tmp_path)
    assert cli.main(["validate"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "unknown key(s) component" in err
    assert "known: components" in err


def test_tool_table_that_is_not_a_table_is_refused(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool]\namlctl = "yes"\n')
    with pytest.raises(ProjectError, match=r"\[tool.amlctl\] must be a table"):
        layout(tmp_path)


def test_outside_any_project_commands_that_need_one_say_so(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["check-infra"]) == 2
    assert "not inside a project" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (HELLO_PIPELINE, "pipeline"),
        (COMPONENT, "component"),
        ("$schema: https://azuremlschemas.azureedge.net/latest/data.schema.json\n", "data"),
        ("type: uri_folder\npath: ./x\nname: d\nversion: '1'\n", "data"),
        ("name: env\nimage: python:3.11\n", "environment"),
        ("type: command\ncommand: echo\nenvironment: {image: x}\n", "job"),
        (
            "name: s\ntrigger: {type: cron, expression: '0 0 * * *'}\ncreate_job: ./p.yml\n",
            "schedule",
        ),
    ],
)
def test_a_file_is_read_as_what_it_defines(tmp_path, text, kind):
    assert kind_of(write(tmp_path / "file.yml", text)) == kind


def test_validate_takes_yaml_anywhere(tmp_path, capsys, monkeypatch):
    """A repository that was not generated: no pyproject.toml, no layout, just YAML."""
    write(tmp_path / "jobs" / "hello.yml", HELLO_PIPELINE)
    write(tmp_path / "lib" / "greet.yml", COMPONENT)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["validate", "jobs/hello.yml", "lib/greet.yml"]) == 0
    assert "2 files checked" in capsys.readouterr().out


def test_validate_reports_a_broken_file_given_by_path(tmp_path, capsys, monkeypatch):
    broken = HELLO_PIPELINE.replace(PARENT_OUT, "${" + "{parent.jobs.nope.outputs.greeting}}")
    write(tmp_path / "hello.yml", broken)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["validate", "hello.yml"]) == 1
    assert "nope" in capsys.readouterr().out


def test_validate_names_a_missing_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["validate", "missing.yml"]) == 2
    assert "no such file: missing.yml" in capsys.readouterr().err


def test_run_takes_a_pipeline_outside_any_project(tmp_path, monkeypatch):
    """`amlctl run` on a repository that was not generated, as its README shows."""
    repo = tmp_path / "someone-elses-repo"
    (repo / ".git").mkdir(parents=True)
    pipeline = write(repo / "examples" / "hello" / "pipeline.yml", HELLO_PIPELINE)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    done = subprocess.run(
        [sys.executable, "-m", "amlctl", "run", str(pipeline), "--local"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "world" in (done.stdout + done.stderr) or any(
        "world" in log.read_text() for log in (repo / ".runs").rglob("*.log")
    )
    # the state stays in the repository the pipeline belongs to, not in the working folder
    assert (repo / ".runs").is_dir()
    assert not (tmp_path / ".runs").exists()


def test_validate_command_has_a_files_argument():
    parser = cli.build_parser("validate")
    args = parser.parse_args(["validate", "a.yml", "b.yml"])
    assert args.files == [Path("a.yml"), Path("b.yml")]
    assert isinstance(parser.parse_args(["validate"]), argparse.Namespace)
