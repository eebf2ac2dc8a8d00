"""Every pipeline of tests/corpus/ (in the style of the public Azure ML examples) runs unchanged.

Each test copies one corpus folder, runs its pipeline.yml with `run --local` (the only
changes allowed are `--set` options, as a user would give) and checks the outputs that
Azure ML would produce. amlctl/README.md lists the corpus.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import pytest

from amlctl.local_run import command as run_command
from amlctl.local_run.steps import Console
from amlctl.project import ProjectError

CORPUS = Path(__file__).parent / "corpus"


@pytest.fixture(autouse=True)
def shared_tracking(tmp_path_factory, monkeypatch):
    """One MLflow store for the session (creating one costs seconds)."""
    store = tmp_path_factory.getbasetemp() / "corpus-mlflow"
    store.mkdir(exist_ok=True)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
    monkeypatch.setenv("AMLCTL_TRACKING_IDLE_SECONDS", "120")  # the store's server stops soon
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)


def run_corpus(name: str, tmp_path: Path, *overrides: str, **options):
    """(exit code, console output, folder of the copy) of corpus/<name>/pipeline.yml."""
    folder = tmp_path / name
    shutil.copytree(CORPUS / name, folder)
    (folder / ".git").mkdir()  # a repository of its own: .runs/ goes here
    stream = io.StringIO()
    code = run_command.run_pipeline(
        folder / "pipeline.yml", list(overrides), stream=stream, **options
    )
    return code, stream.getvalue(), folder


def output(folder: Path, step: str, name: str) -> Path:
    return folder / ".runs" / "latest" / step / "outputs" / name


def test_every_corpus_folder_has_a_test():
    names = {p.name for p in CORPUS.iterdir() if (p / "pipeline.yml").is_file()}
    tested = {
        name.removeprefix("test_").replace("_", "-")
        for name in globals()
        if name.startswith("test_") and "corpus" not in name
    }
    assert len(names) >= 15
    assert names <= tested, f"corpus folders without a test: {sorted(names - tested)}"


def test_hello_pipeline(tmp_path):
    code, out, _ = run_corpus("hello-pipeline", tmp_path)
    assert code == 0, out
    assert "[hello_job] hello" in out and "[world_job] world" in out


def test_hello_pipeline_compute(tmp_path, capsys):
    """Named clusters, as Microsoft's examples write them: validate notes them, run ignores them."""
    from amlctl import cli

    code, out, folder = run_corpus("hello-pipeline-compute", tmp_path)
    assert code == 0, out
    assert "[hello_job] hello" in out and "[world_job] world" in out
    assert cli.main(["validate", str(folder / "pipeline.yml")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(
        "pipeline.yml: compute, jobs.hello_job.compute, jobs.world_job.compute: note: "
        "whether these computes exist in the workspace is not checked offline"
    ), lines
    assert lines[1].endswith("0 errors, 0 warnings, 1 notes"), lines


def test_automl_image_search_space(tmp_path, capsys):
    """A list of search spaces (one per model family) is valid; run refuses the task in a line."""
    from amlctl import cli

    folder = tmp_path / "automl-image-search-space"
    shutil.copytree(CORPUS / folder.name, folder)
    assert cli.main(["validate", str(folder / "pipeline.yml")]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith("0 errors, 0 warnings")
    with pytest.raises(ProjectError) as refused:
        run_corpus(folder.name, tmp_path / "run")
    assert str(refused.value) == (
        "pipeline.yml: jobs.image_classification_node: AutoML image_classification has no "
        "local stand-in (only classification and regression); submit the pipeline to run it "
        "in Azure ML"
    )


def test_prompt_flow_component(tmp_path, capsys):
    """azure-ai-ml takes any other input of a flow as a column mapping: validate accepts
    ``text: ${data.text}``; run refuses each flow node in one line (flows need Azure ML)."""
    from amlctl import cli

    folder = tmp_path / "prompt-flow-component"
    shutil.copytree(CORPUS / folder.name, folder)
    assert cli.main(["validate", str(folder / "pipeline.yml")]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith("0 errors, 0 warnings")
    with pytest.raises(ProjectError) as refused:
        run_corpus(folder.name, tmp_path / "run")
    assert str(refused.value).splitlines() == [
        f"pipeline.yml: jobs.{node}: a prompt flow (basic/flow.dag.yaml) runs only in Azure ML, "
        "where its connections are; submit the pipeline with `amlctl submit`"
        for node in ("flow_node_from_dag", "flow_node_from_run")
    ]


def test_hello_pipeline_output_file(tmp_path):
    """A uri_file output keeps the file name its path gives, as in Azure ML: through the
    pipeline output it is bound to, and on a node's own output."""
    code, out, folder = run_corpus("hello-pipeline-output-file", tmp_path)
    assert code == 0, out
    written = output(folder, "hello_world", "output").resolve()
    assert written.name == "hello_world.txt" and written.read_text() == "world\n"
    assert "[count_words] hello_world.txt" in out  # the next step reads it by that name
    counts = output(folder, "count_words", "counts").resolve()
    assert counts.name == "counts.csv" and counts.read_text() == "words,1\n"


def test_hello_pipeline_io(tmp_path):
    code, out, folder = run_corpus("hello-pipeline-io", tmp_path)
    assert code == 0, out
    assert (output(folder, "world_job", "shout") / "shout.txt").read_text() == "WORLD\n"


def test_hello_pipeline_settings(tmp_path):
    code, out, folder = run_corpus("hello-pipeline-settings", tmp_path)
    assert code == 0, out
    lines = (output(folder, "hello_job", "message") / "message.txt").read_text().splitlines()
    assert lines[0].startswith("hello, world from ") and lines[0] != "hello, world from "
    assert lines[1] == "hello"


def test_hello_pipeline_abc(tmp_path):
    code, out, folder = run_corpus("hello-pipeline-abc", tmp_path)
    assert code == 0, out
    trail = (output(folder, "c", "component_out_path") / "trail.txt").read_text()
    assert trail == "A:1;B:2;C:10;"


def test_job_artifacts(tmp_path):
    code, out, folder = run_corpus("job-artifacts", tmp_path)
    assert code == 0, out
    assert (output(folder, "read", "copy") / "copy.txt").read_text() == (
        "hello from True\nprogress.log\n"
    )
    artifacts = output(folder, "hello", "artifacts")
    assert sorted(p.name for p in artifacts.iterdir()) == ["logs", "outputs"]
    assert not (artifacts / "scratch.txt").exists()  # the working directory is not kept


def test_shell_command(tmp_path, monkeypatch):
    code, out, folder = run_corpus("shell-command", tmp_path, "count=4")
    assert code == 0, out
    result = output(folder, "shell", "out")
    assert (result / "lines.txt").read_text().split() == ["line-4", "line-3", "line-2", "line-1"]
    assert (result / "count.txt").read_text().strip() == "4"
    assert (result / "dirs.txt").read_text() == "outputs and logs exist\n"
    import sys

    # python and pip in the command are the step environment's, not the first on PATH: a
    # layer of the step's own over amlctl's environment (what it installs stays there)
    layer = Path((result / "python.txt").read_text().strip())
    assert layer.name == "env-log" and layer.parent.name == "shell"
    assert sys.prefix in (result / "pip.txt").read_text()  # over amlctl's: pip is its
    assert not layer.exists()  # removed with the step, and what it installed


def test_amlignore_snapshot(tmp_path):
    code, out, folder = run_corpus("amlignore-snapshot", tmp_path)
    assert code == 0, out
    listing = (output(folder, "list", "listing") / "snapshot.txt").read_text().split()
    # .amlignore wins over .gitignore: data/ and notebooks are left out, keep.ipynb is in
    assert listing == [".amlignore", ".gitignore", "keep.ipynb", "list.py"]
    source = folder / "src"
    assert (source / "list.py").read_text().startswith('"""Lists')  # source untouched
    assert not (source / "state.txt").exists()
    # what the job wrote to its working directory does not change the next run's key
    code, out, _ = run_command_again(folder)
    assert code == 0 and "-- cached   list" in out, out


def run_command_again(folder: Path, *overrides: str):
    stream = io.StringIO()
    code = run_command.run_pipeline(folder / "pipeline.yml", list(overrides), stream=stream)
    return code, stream.getvalue(), folder


def test_taxi_regression(tmp_path):
    code, out, folder = run_corpus("taxi-regression", tmp_path)
    assert code == 0, out
    report = json.loads((output(folder, "score_job", "score_report") / "score.json").read_text())
    assert report["r2"] > 0.95 and report["rows"] == 23  # 113 clean rows, 20 % held out


def test_pipeline_component(tmp_path):
    code, out, folder = run_corpus("pipeline-component", tmp_path)
    assert code == 0, out
    for step in ("train_job", "score_job"):
        for node in ("train_and_evaluate_model1", "train_and_evaluate_model2"):
            assert f"{node}/{step}  done" in out
    reports = (output(folder, "compare", "best") / "reports.txt").read_text().splitlines()
    first, second = (json.loads(line) for line in reports)
    assert first["model"] == {"rows": 120, "epochs": 20, "lr": 1.8}
    assert second["model"] == {"rows": 120, "epochs": 10, "lr": 0.1}  # the component's default
    # an inner step's input is overridden through the pipeline-component node
    code, out, _ = run_command_again(
        folder, "jobs.train_and_evaluate_model2.inputs.training_max_epochs=3"
    )
    assert code == 0, out
    assert "-- cached   train_and_evaluate_model1/train_job" in out
    reports = (output(folder, "compare", "best") / "reports.txt").read_text().splitlines()
    assert json.loads(reports[1])["model"]["epochs"] == 3


def test_pipeline_component_file_runs_as_a_job(tmp_path, capsys):
    """A pipelineComponent.schema.json file, which azure-ai-ml loads only as a component:
    validate accepts it, and run runs it as the one-node job Azure ML would, its inputs
    without a default given with --set (one line naming them when they are not)."""
    from amlctl import cli

    folder = tmp_path / "pipeline-component"
    shutil.copytree(CORPUS / folder.name, folder)
    (folder / ".git").mkdir()
    component = folder / "train_pipeline_component.yml"
    assert cli.main(["validate", str(component)]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith("0 errors, 0 warnings")
    with pytest.raises(ProjectError) as refused:
        run_command.run_pipeline(component, [], stream=io.StringIO())
    assert str(refused.value) == (
        "train_pipeline_component.yml: a pipeline component: its inputs training_input, "
        "training_max_epochs have no default; give them with --set training_input=VALUE "
        "--set training_max_epochs=VALUE"
    )
    stream = io.StringIO()
    sets = [f"training_input={folder / 'data'}", "training_max_epochs=4"]
    assert run_command.run_pipeline(component, sets, stream=stream) == 0, stream.getvalue()
    report = json.loads((output(folder, "score_job", "score_output") / "report.json").read_text())
    assert report["model"] == {"rows": 120, "epochs": 4, "lr": 0.1}
    # without its $schema it reads like a pipeline job: still a component, for both commands
    text = component.read_text()
    component.write_text("\n".join(t for t in text.splitlines() if "$schema" not in t))
    assert cli.main(["validate", str(component)]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith("0 errors, 0 warnings")
    sets[1] = "training_max_epochs=5"
    assert run_command.run_pipeline(component, sets, stream=stream) == 0, stream.getvalue()
    report = json.loads((output(folder, "score_job", "score_output") / "report.json").read_text())
    assert report["model"]["epochs"] == 5


def test_pipeline_component_nested(tmp_path):
    code, out, folder = run_corpus("pipeline-component-nested", tmp_path)
    assert code == 0, out
    assert (output(folder, "last", "number_out") / "n.txt").read_text() == "141"
    inner = output(folder, "four_times/twice_b/second", "number_out") / "n.txt"
    assert inner.read_text() == "41"
    # a step three levels down, overridden by its full YAML path
    code, out, _ = run_command_again(
        folder, "jobs.four_times.jobs.twice_b.jobs.first.inputs.add=1000"
    )
    assert code == 0, out
    assert "-- cached   four_times/twice_a/second" in out
    assert (output(folder, "last", "number_out") / "n.txt").read_text() == "1131"


def test_remote_data(tmp_path):
    with pytest.raises(ProjectError) as caught:
        run_corpus("remote-data", tmp_path)
    # this machine reaches no blob storage: both downloads fail, each in one line
    first, second = str(caught.value).splitlines()
    assert first.startswith(
        "inputs.titanic.path: wasbs://datasets@azuremlexamples.blob.core.windows.net/titanic/ "
        "cannot be downloaded ("
    )
    assert first.endswith("); give a local copy with --set titanic=PATH")
    assert second.startswith(
        "jobs.count_rows.inputs.lookup.path: "
        "https://azuremlexamples.blob.core.windows.net/datasets/iris.csv cannot be downloaded ("
    )
    assert second.endswith("); give a local copy with --set jobs.count_rows.inputs.lookup=PATH")
    folder = tmp_path / "remote-data"
    assert not (folder / ".runs" / "latest").exists()  # nothing ran
    code, out, _ = run_command_again(
        folder,
        f"titanic={folder / 'local-copy'}",
        f"jobs.count_rows.inputs.lookup={folder / 'local-copy' / 'iris.csv'}",
    )
    assert code == 0, out
    assert (output(folder, "count_rows", "counts") / "counts.txt").read_text() == (
        "data=3 lookup=1\n"
    )


def test_remote_data_downloaded_where_the_network_reaches_it(tmp_path, monkeypatch):
    """The same example unchanged, its storage account reachable (its real host name sent
    to a loopback TLS server holding the files the local copy holds): both inputs are
    downloaded, the folder through the Blob service's listing, and the step counts them."""
    from fakes.http import self_signed_cert
    from fakes.web import Site, resolve_to, serve

    host = "azuremlexamples.blob.core.windows.net"
    cert, key = self_signed_cert(tmp_path, host)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))  # the storage SDK (requests)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # urllib
    local = CORPUS / "remote-data" / "local-copy"
    site_files = ("titanic.csv", "iris.csv")
    site = Site()
    site.files = {"/datasets/iris.csv": (local / "iris.csv").read_bytes()}
    site.container = "/datasets"
    site.blobs = {"titanic/titanic.csv": (local / "titanic.csv").read_bytes()}
    server = serve(site, tls=(cert, key))
    resolve_to(monkeypatch, {host}, server.server_address[1])
    try:
        code, out, folder = run_corpus("remote-data", tmp_path)
    finally:
        server.shutdown()
        server.server_close()
    assert code == 0, out
    rows = {name: len((local / name).read_text().splitlines()) - 1 for name in site_files}
    assert (output(folder, "count_rows", "counts") / "counts.txt").read_text() == (
        f"data={rows['titanic.csv']} lookup={rows['iris.csv']}\n"
    )
    assert f"https://{host}/datasets/iris.csv: downloaded" in out
    assert f"wasbs://datasets@{host}/titanic/: downloaded (1 files)" in out


def test_distributed_pytorch(tmp_path):
    # its curated environment is PyTorch with CUDA (GBs, from download.pytorch.org): the ranks
    # are what is tested here, in amlctl's environment (test_curated_envs builds curated ones)
    code, out, folder = run_corpus("distributed-pytorch", tmp_path, env_manager="local")
    assert code == 0, out
    ranks = output(folder, "hello_ranks", "ranks")
    seen = [json.loads((ranks / f"rank-{r}.json").read_text()) for r in range(4)]
    assert [s["WORLD_SIZE"] for s in seen] == ["4"] * 4
    assert [s["LOCAL_RANK"] for s in seen] == ["0", "1", "0", "1"]
    assert [s["NODE_RANK"] for s in seen] == ["0", "0", "1", "1"]
    assert {s["MASTER_ADDR"] for s in seen} == {"127.0.0.1"}
    assert len({s["MASTER_PORT"] for s in seen}) == 1
    outputs = output(folder, "hello_ranks", "artifacts") / "outputs"
    assert sorted(p.name for p in outputs.iterdir()) == [f"rank-{r}.txt" for r in range(4)]


def test_distributed_tensorflow(tmp_path):
    # tensorflow[and-cuda] (GBs) in its curated environment: TF_CONFIG is tested, locally
    code, out, folder = run_corpus("distributed-tensorflow", tmp_path, env_manager="local")
    assert code == 0, out
    configs = output(folder, "tf_workers", "configs")
    assert sorted(p.name for p in configs.iterdir()) == [
        "ps-0.json",
        "worker-0.json",
        "worker-1.json",
    ]
    config = json.loads((configs / "worker-1.json").read_text())
    assert config["task"] == {"type": "worker", "index": 1}
    assert len(config["cluster"]["worker"]) == 2 and len(config["cluster"]["ps"]) == 1


def test_distributed_mpi(tmp_path):
    code, out, folder = run_corpus("distributed-mpi", tmp_path)
    assert code == 0, out
    ranks = output(folder, "mpi_ranks", "ranks")
    assert [(ranks / f"rank-{r}.txt").read_text() for r in range(3)] == [
        "0 3 0",
        "1 3 1",
        "2 3 2",
    ]


def test_conda_env(tmp_path):
    """The conda file's pip section becomes a uv environment, cached by its content."""
    code, out, folder = run_corpus("conda-env", tmp_path)
    assert code == 0, out
    assert "-- building environment" in out  # tabulate is not in the runner's environment
    report = output(folder, "report", "report")
    assert (report / "table.txt").read_text().splitlines()[-1] == "Version: 0.9.0"
    # the step ran in a layer over the built environment, which it left as built
    layer = (report / "prefix.txt").read_text().strip()
    assert layer.endswith("/report/env-log"), layer
    built = [p for p in (folder / ".runs" / "envs").iterdir() if (p / ".complete").is_file()]
    assert len(built) == 1
    code, out, _ = run_command_again(folder)
    assert code == 0 and "building environment" not in out and "-- cached   report" in out


def test_docker_context(tmp_path):
    code, out, folder = run_corpus("docker-context", tmp_path)
    assert code == 0, out
    assert (output(folder, "check", "out") / "six.txt").read_text() == "1.16.0"


def test_sweep_early_termination(tmp_path):
    code, out, folder = run_corpus("sweep-early-termination", tmp_path)
    assert code == 0, out
    trials = json.loads((folder / ".runs" / "latest" / "sweep_step" / "trials.json").read_text())
    status = {t["parameters"]["learning_rate"]: t["status"] for t in trials}
    assert status == {0.5: "completed", 0.3: "completed", 0.001: "early_terminated"}
    assert (output(folder, "report", "report") / "best.txt").read_text().startswith("lr=0.5 ")


def test_sweep_failed_trials(tmp_path):
    code, out, folder = run_corpus("sweep-failed-trials", tmp_path)
    assert code == 0, out
    assert "[tune] 4 trials: 2 completed, 2 failed" in out
    trials = json.loads((folder / ".runs" / "latest" / "tune" / "trials.json").read_text())
    failed = [t for t in trials if t["status"] == "failed"]
    assert [t["parameters"]["batch_size"] for t in failed] == [1, 3]
    assert all("loss diverged" in "\n".join(t["log_tail"]) for t in failed)
    assert (output(folder, "tune", "out") / "loss.txt").read_text() == "0.25"


def test_parallel_files(tmp_path):
    code, out, folder = run_corpus("parallel-files", tmp_path)
    assert code == 0, out
    rows = [line.split(",") for line in output(folder, "count_words", "counts").read_text().split()]
    assert [r[0] for r in rows] == [f"doc{i}.txt" for i in range(1, 8)]
    assert "7 items in 4 mini-batches, 2 worker processes" in out  # 2 instances x 1
    assert out.count("init() done in worker") == 2  # once per worker, not per mini-batch
    assert len({r[2] for r in rows}) <= 2
    assert "DEBUG" in out  # logging_level


def test_parallel_mltable_partitions(tmp_path):
    code, out, folder = run_corpus("parallel-mltable-partitions", tmp_path)
    assert code == 0, out
    rows = (output(folder, "forecast", "forecasts") / "parallel_run_step.txt").read_text()
    assert rows.splitlines() == [
        "north apples 26.0",
        "north pears 31.0",
        "south apples 16.0",
        "south pears 21.0",
    ]
    assert "16 items in 4 mini-batches" in out


def test_parallel_mltable_partition_format(tmp_path):
    """partition_keys over an MLTable whose key columns come from its folder names
    (include_path_column + extract_columns_from_partition_format, as Microsoft's many-models
    example writes it): one mini-batch per (Store, Brand), read by the mltable package.
    Refused before ("partition_keys ['Store', 'Brand'] are not columns")."""
    code, out, folder = run_corpus("parallel-mltable-partition-format", tmp_path)
    assert code == 0, out
    assert "read by mltable 1.7.0" in out
    assert "32 items in 4 mini-batches, 2 worker processes" in out
    rows = output(folder, "parallel_train", "summary").read_text().splitlines()
    columns = "Advert|Brand|Price|Quantity|Store|WeekStarting"
    assert rows == [
        f"1000 dominicks 8 3.0 {columns}",
        f"1000 tropicana 8 3.0 {columns}",
        f"1001 dominicks 8 3.0 {columns}",
        f"1001 tropicana 8 3.0 {columns}",
    ]
    assert not (folder / ".runs" / "latest" / "parallel_train" / "table.json").exists()
    models = output(folder, "parallel_train", "model_folder")
    found = sorted(str(p.relative_to(models)) for p in models.rglob("model.json"))
    assert found == [
        f"{s}/{b}/model.json" for s in ("1000", "1001") for b in ("dominicks", "tropicana")
    ]
    assert json.loads((models / "1001" / "tropicana" / "model.json").read_text()) == {
        "slope": 3.0,
        "intercept": 250.0,
    }


def test_partition_format_without_the_package(tmp_path, monkeypatch):
    """Where the package's environment cannot be built (here: no uv), one line says so and
    the driver reads the MLTable with amlctl's own reader: the same partitions."""
    import os

    from amlctl.local_run import mltable_env

    tools = os.environ["AMLCTL_TOOLS_DIR"]  # the session's (conftest)
    monkeypatch.setenv("AMLCTL_TOOLS_DIR", str(tmp_path / "no-tools"))
    monkeypatch.setattr(mltable_env, "uv_binary", lambda: None)
    code, out, folder = run_corpus("parallel-mltable-partition-format", tmp_path)
    assert code == 0, out
    assert out.count("MLTable inputs are read by amlctl's own MLTable reader") == 1
    assert "read by amlctl's own MLTable reader" in out and "mltable 1.7.0" not in out
    rows = output(folder, "parallel_train", "summary").read_text().splitlines()
    assert [r.split()[:3] for r in rows] == [
        [store, brand, "8"] for store in ("1000", "1001") for brand in ("dominicks", "tropicana")
    ]
    # once the package can be had, the own reader's result is not reused: read again by it
    monkeypatch.undo()
    os.environ["AMLCTL_TOOLS_DIR"] = tools
    mltable_env.MLTableReader(Console(io.StringIO())).python()  # built (or found) before
    stream = io.StringIO()
    assert run_command.run_pipeline(folder / "pipeline.yml", [], stream=stream) == 0
    again = stream.getvalue()
    assert "read by mltable 1.7.0" in again, again
    assert re.search(r"^partition_job +cached", again, re.MULTILINE), again
    assert re.search(r"^parallel_train +done", again, re.MULTILINE), again


def test_parallel_mltable_the_package_refuses(tmp_path):
    """An MLTable the package cannot read fails its step in one line (the package's reason)."""
    folder = tmp_path / "copy"
    shutil.copytree(CORPUS / "parallel-mltable-partitions", folder)
    table = folder / "sales" / "MLTable"
    table.write_text(table.read_text() + "  - filter: (col('units') > 1) & (col('week') < 3)\n")
    (folder / ".git").mkdir()
    stream = io.StringIO()
    code = run_command.run_pipeline(folder / "pipeline.yml", [], stream=stream)
    out = stream.getvalue()
    assert code != 0
    [line] = [ln for ln in out.splitlines() if "its MLTable input cannot be read" in ln]
    assert "mltable cannot read it" in line and "Python-Expression" not in line
    assert "Traceback" not in out


def test_parallel_mltable_files(tmp_path):
    """An MLTable with no read_* transformation (Microsoft's mnist example: `paths: - file:
    ./mnist`) is a file dataset: its folder's files in mini-batches of mini_batch_size paths.
    Before, the driver read the files as CSV and run() got a DataFrame."""
    code, out, folder = run_corpus("parallel-mltable-files", tmp_path)
    assert code == 0, out
    assert "7 items in 3 mini-batches, 2 worker processes" in out
    rows = output(folder, "identify", "job_output_file").read_text().splitlines()
    assert sorted(rows) == [f"{i}.txt: {(i * 7 + 3) % 10}" for i in range(7)]
    assert all(f"[view_result] {row}" in out for row in rows)  # the next step read it


def test_mlflow_older_client(tmp_path):
    """A step with MLflow 2.x logs into the run's (MLflow 3) store over REST, not the file."""
    import os
    import re

    from mlflow.tracking import MlflowClient

    code, out, folder = run_corpus("mlflow-older-client", tmp_path)
    assert code == 0, out
    assert (output(folder, "legacy_logging", "out") / "version.txt").read_text() == "2.16.2"
    parent = re.search(r"MLflow run (\w+) at", out).group(1)
    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    experiment = client.get_run(parent).info.experiment_id
    (child,) = client.search_runs(
        [experiment], filter_string=f"tags.mlflow.parentRunId = '{parent}'"
    )
    assert child.data.params == {"client": "2.16.2"}
    history = client.get_metric_history(child.info.run_id, "accuracy")
    assert [m.value for m in sorted(history, key=lambda m: m.step)] == [0.5, 0.7, 0.9]


def test_readme_lists_every_corpus_pipeline():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    listed = set(re.findall(r"^\| `([\w-]+)` \| ", readme, flags=re.MULTILINE))
    names = {p.name for p in CORPUS.iterdir() if (p / "pipeline.yml").is_file()}
    assert names <= listed, f"not in README.md: {sorted(names - listed)}"


def test_every_corpus_pipeline_passes_validate(capsys):
    """The corpus is valid Azure ML YAML: azure-ai-ml loads it and `validate` finds nothing."""
    from amlctl import cli

    files = sorted(
        str(p / "pipeline.yml") for p in CORPUS.iterdir() if (p / "pipeline.yml").is_file()
    )
    code = cli.main(["validate", *files])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"{len(files)} files checked" in out and "0 errors, 0 warnings" in out
