"""Local runs looked at: each run's record and page, `amlctl runs` and `runs compare`.

Two runs of one small pipeline differ by `--set n=...`; the list shows both, the comparison
shows the input, the metric and the step whose input changed; the page renders in headless
Chromium (Debian's package) with every step in its graph and every link resolving.
"""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from amlctl import cli
from amlctl.local_run import command as run_command
from amlctl.runs import command, record

# a 1x1 PNG, as a step's plot
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)

FILES = {
    "pipeline.yml": """
        type: pipeline
        display_name: looked-at
        inputs:
          n: 1
        jobs:
          make:
            type: command
            inputs:
              n: ${{parent.inputs.n}}
            outputs:
              out: {type: uri_folder}
            environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
            code: ./src
            command: python make.py ${{inputs.n}} ${{outputs.out}}
          use:
            type: command
            inputs:
              data: ${{parent.jobs.make.outputs.out}}
            outputs:
              out: {type: uri_folder}
            environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
            command: cp -r ${{inputs.data}}/. ${{outputs.out}}
        """,
    "src/make.py": f"""
        import base64, pathlib, sys
        import mlflow
        n, out = int(sys.argv[1]), pathlib.Path(sys.argv[2])
        (out / "n.txt").write_text(str(n))
        (out / "plot.png").write_bytes(base64.b64decode({base64.b64encode(PIXEL).decode()!r}))
        mlflow.log_metric("score", n / 10)
        """,
}


@pytest.fixture(autouse=True)
def tracking(tmp_path_factory, monkeypatch):
    store = tmp_path_factory.getbasetemp() / "runs-mlflow"
    store.mkdir(exist_ok=True)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
    monkeypatch.setenv("AMLCTL_TRACKING_IDLE_SECONDS", "120")
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runs") / "repo"
    (root / ".git").mkdir(parents=True)
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text).lstrip())
    for n in ("1", "2"):
        stream = io.StringIO()
        with pytest.MonkeyPatch.context() as patch:
            store = tmp_path_factory.getbasetemp() / "runs-mlflow"
            store.mkdir(exist_ok=True)
            patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
            code = run_command.run_pipeline(root / "pipeline.yml", [f"n={n}"], stream=stream)
        assert code == 0, stream.getvalue()
        assert "run page: " in stream.getvalue()
    return root


def runs_cli(root: Path, *args: str, capsys) -> tuple[int, str, str]:
    code = cli.main(["runs", *args, "--runs-dir", str(root / ".runs")])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_each_run_leaves_a_record(two_runs):
    newest, older = record.all_runs(two_runs / ".runs")
    assert (older["values"]["n"], newest["values"]["n"]) == (1, 2)
    assert [s["name"] for s in newest["steps"]] == ["make", "use"]
    make = newest["steps"][0]
    assert make["state"] == "done" and make["metrics"] == {"score": 0.2}
    assert newest["steps"][1]["upstream"] == ["make"]
    assert newest["status"] == "succeeded" and newest["pipeline"] == "pipeline.yml"


def test_runs_lists_them_newest_first(two_runs, capsys):
    code, out, _ = runs_cli(two_runs, capsys=capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["run", "started"]
    assert len(lines) == 3
    assert "succeeded" in lines[1] and "make.score=0.2" in lines[1]
    assert "make.score=0.1" in lines[2]


def test_the_list_shows_the_last_steps_scores_first():
    metrics = {
        "prep.rows": 5.0,
        "train.val_accuracy": 0.9,
        "train.val_f1": 0.8,
        "evaluate.promote": 1.0,
        "evaluate.test_accuracy": 0.7,
        "evaluate.test_roc_auc": 0.6,
    }
    assert list(command.key_metrics(metrics)) == [
        "evaluate.test_accuracy",
        "evaluate.test_roc_auc",
        "train.val_accuracy",
    ]


def test_compare_shows_what_differs(two_runs, capsys):
    code, out, _ = runs_cli(two_runs, "compare", "~1", "latest", capsys=capsys)
    assert code == 0, out
    lines = out.splitlines()
    assert re.search(r"^\* n\s+1\s+2\s*$", "\n".join(lines), re.M), out
    assert re.search(r"^\* make\.score\s+0\.1\s+0\.2\s*$", "\n".join(lines), re.M), out
    changed = lines[lines.index("what changed (code and input digests)") :]
    assert any(line.startswith("* make input n ") for line in changed), out
    assert not any(line.startswith("* make code ") for line in changed), out  # same code
    assert any(line.startswith("* use input data ") for line in changed)  # make's new output


def test_a_run_that_is_not_there_is_one_line(two_runs, capsys):
    code, _, err = runs_cli(two_runs, "compare", "latest", "nope", capsys=capsys)
    assert code == 2
    assert err == "error: nope: no run has that id (amlctl runs lists them)\n"
    code, _, err = runs_cli(two_runs, "compare", "latest", capsys=capsys)
    assert code == 2 and "two or more runs" in err


HANGING = """
type: pipeline
display_name: stopped
jobs:
  hang:
    type: command
    environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
    outputs:
      out: {type: uri_folder}
    command: touch "$STARTED" && sleep 120 && ls ${{outputs.out}}
  after:
    type: command
    inputs:
      data: ${{parent.jobs.hang.outputs.out}}
    environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
    command: ls ${{inputs.data}}
"""


@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="sends Ctrl-C's signal")
def test_an_interrupted_run_still_leaves_its_record_and_page(tmp_path, capsys):
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "pipeline.yml").write_text(HANGING.lstrip())
    started = tmp_path / "started"
    runner = subprocess.Popen(
        [sys.executable, "-m", "amlctl", "run", "pipeline.yml", "--local"],
        cwd=root,
        env={**os.environ, "STARTED": str(started)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 90
    while not started.exists() and time.monotonic() < deadline:
        assert runner.poll() is None, runner.communicate()
        time.sleep(0.1)
    assert started.exists(), "the step did not start"
    runner.send_signal(signal.SIGINT)  # what Ctrl-C sends the runner
    out, err = runner.communicate(timeout=60)
    assert runner.returncode == 130, out + err
    (run,) = record.all_runs(root / ".runs")
    assert run["status"] == "interrupted"
    assert [(s["name"], s["state"]) for s in run["steps"]] == [
        ("hang", "interrupted"),
        ("after", "interrupted"),
    ]
    assert "interrupted" in (root / ".runs" / run["run_id"] / "index.html").read_text()
    assert f"run page: {root / '.runs' / run['run_id'] / 'index.html'}" in out
    code, listed, _ = runs_cli(root, capsys=capsys)
    assert code == 0 and " interrupted " in listed.splitlines()[1]


# -- the run's page, in a real browser ----------------------------------------------------


def chromium() -> str:
    """Debian's Chromium: installed here when missing (as CI's clean machine needs it).

    A fresh machine may have no package lists yet: apt-get update, then install. Anything
    else fails the test with apt's own words; it is never skipped.
    """
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.fail("the run page test needs Chromium: as root, apt-get install -y chromium")
    said = ""
    for argv in (
        ["apt-get", "install", "-y", "-q", "chromium"],
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "chromium"],
    ):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
        said = (done.stderr or done.stdout).strip()[-600:]
        found = shutil.which("chromium")
        if found:
            return found
    pytest.fail(f"the run page test needs Chromium; apt-get install chromium failed: {said}")


def headless(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--allow-file-access-from-files",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []
        self.steps: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.targets.append(values["href"])
        if tag == "img" and values.get("src"):
            self.targets.append(values["src"])
        if tag == "g" and values.get("data-step"):
            self.steps.append(values["data-step"])


def test_the_run_page_renders_the_graph_and_every_link_resolves(two_runs, tmp_path):
    run_dir = two_runs / ".runs" / record.all_runs(two_runs / ".runs")[0]["run_id"]
    page = run_dir / "index.html"
    done = headless("--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    parsed = Links()
    parsed.feed(dom)
    assert parsed.steps == ["make", "use"]  # every step is a node of the graph
    assert dom.count('class="edge"') == 1  # make -> use
    for target in parsed.targets:
        if target.startswith("#"):
            assert f'id="{target[1:]}"' in dom, target
        else:
            assert (run_dir / target).exists(), target
    assert any(t.endswith("plot.png") for t in parsed.targets)  # the step's plot is shown
    assert any(t.endswith("log.txt") for t in parsed.targets)
    shot = tmp_path / "run-page.png"
    done = headless("--window-size=1200,900", f"--screenshot={shot}", page.as_uri())
    assert shot.is_file() and shot.read_bytes().startswith(b"\x89PNG"), done.stderr[-2000:]
    print(f"screenshot of the run page: {shot}")
