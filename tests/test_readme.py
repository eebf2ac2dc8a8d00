"""The README's option table and its two commands stay true to the repository."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from options_table import END, START, options_table  # noqa: E402


def test_option_table_matches_cookiecutter_json():
    context = json.loads((ROOT / "cookiecutter.json").read_text(encoding="utf-8"))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split(START, 1)[1].split(END, 1)[0].strip()
    assert table == options_table(context), "run: python scripts/options_table.py --write"


def test_every_question_has_help_text():
    context = json.loads((ROOT / "cookiecutter.json").read_text(encoding="utf-8"))
    questions = {key for key in context if not key.startswith("_")}
    assert questions == set(context["__prompts__"])


def test_readme_gives_exactly_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)\n```", section, flags=re.S)
    assert commands == ["python scripts/quickstart.py", "python scripts/test.py"]
    for command in commands:
        assert (ROOT / command.split()[1]).is_file()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/test.py" in ci


def test_first_command_bakes_a_project_and_trains_it(tmp_path):
    """The README's first command, as a user runs it: bake, install, train; then its figures."""
    import subprocess

    output = tmp_path / "quickstart"
    done = subprocess.run(
        [sys.executable, "scripts/quickstart.py", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "metrics of evaluate:" in done.stdout
    assert re.search(r"^  metrics\.accuracy +0\.\d{4}$", done.stdout, flags=re.M)
    timings = json.loads((output / "quickstart-timings.json").read_text())
    assert list(timings["phases"]) == [
        "tool environment (cookiecutter, uv)",
        "bake with the default answers",
        "project environment (pinned packages)",
        "run the training pipeline",
        "development tools (installed beside the run)",
    ]
    steps = {p["name"].strip(): p["note"] for p in timings["run"]["phases"]}
    assert steps["graph load"] == "built through azure-ai-ml"
    for step in ("prep_data", "data_quality_gate", "train", "evaluate", "register_model"):
        assert steps[step] == "done"
    assert "where the quickstart's time went" in done.stdout
    (project,) = (path for path in output.iterdir() if path.is_dir())
    # it ends with what to do next, and the folder it names holds the steps' outputs
    assert "amlctl serve" in done.stdout and "mlflow.db.server.json" in done.stdout
    ui = re.search(r"^  amlctl ui +# MLflow's own UI", done.stdout, flags=re.M)
    assert ui, done.stdout[-1500:]
    named = re.search(r"^Each step's outputs and log: (\S+)/<step>/$", done.stdout, flags=re.M)
    assert named and (Path(named.group(1)) / "evaluate").is_dir(), done.stdout[-1500:]
    page = re.search(r"^The run's page \(.*\): (\S+)$", done.stdout, flags=re.M)
    assert page and Path(page.group(1)).is_file(), done.stdout[-1500:]
    assert "confusion_matrix.png" in Path(page.group(1)).read_text()  # the evaluation's plots
    # the project runs this checkout's amlctl as it is, whatever commit its pin names
    shown = subprocess.run(
        [project / ".venv" / "bin" / "python", "-c", "import amlctl; print(amlctl.__file__)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    installed = Path(shown.stdout.strip()).parent / "cli.py"
    assert installed.read_bytes() == (ROOT / "amlctl" / "src" / "amlctl" / "cli.py").read_bytes()
    python = project / ".venv" / "bin" / "python"
    tools = "import pytest, ruff, pre_commit; print('dev tools there')"
    checked = subprocess.run([python, "-c", tools], capture_output=True, text=True, check=False)
    assert "dev tools there" in checked.stdout, checked.stderr
    state = project / ".runs" / "mlflow.db.server.json"
    if state.exists():  # the run's tracking server would stop by itself when idle
        import os

        os.kill(json.loads(state.read_text())["pid"], 15)


def test_a_failed_quickstart_ends_in_one_line(monkeypatch, capsys):
    import subprocess

    import quickstart

    def fails(argv):
        raise subprocess.CalledProcessError(2, ["/x/bin/uv", "pip", "install", "-q", "pandas"])

    monkeypatch.setattr(quickstart, "main", fails)
    assert quickstart.entry() == 1
    err = capsys.readouterr().err
    assert err == ("quickstart: error: `uv pip install ...` failed (exit 2); its output is above\n")


def test_the_installs_use_the_uv_the_dev_lock_pins(tmp_path):
    """One uv pin: the bootstrap that makes the README commands' environments reads it."""
    import subprocess

    import venvs

    version = venvs.uv_version()
    assert f"uv=={version}\n" in (ROOT / "requirements-dev.in").read_text()
    tool = venvs.uv()  # fetched by the test command before the suite started
    assert tool is not None, "uv could not be fetched into build/uv"
    printed = subprocess.run([tool, "--version"], capture_output=True, text=True, check=True)
    assert printed.stdout.split()[:2] == ["uv", version]
    lock = tmp_path / "requirements-dev.txt"
    lock.write_text("ruff==0.15.0\n    # via -r requirements-dev.in\n")
    with pytest.raises(SystemExit, match=r"requirements-dev\.txt: no uv==VERSION pin"):
        venvs.uv_version(lock)
