"""Spark steps and AutoML nodes run locally, on projects baked with those options.

The Spark tests run the template's real `spark_features` component on local-mode pyspark
(Java 17 is on the machines this suite runs on); the AutoML tests run the template's real
AutoML pipeline with the local stand-in.
"""

from __future__ import annotations

import importlib.util
import io
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from fakes.template import template_project

from amlctl.cli import main as cli_main
from amlctl.local_run import command as run_command
from amlctl.local_run.kinds import automl, spark
from amlctl.pipeline.loader import load_pipeline
from amlctl.project import ProjectError


def run(pipeline: Path, runs: Path, *overrides: str) -> tuple[int, str]:
    stream = io.StringIO()
    code = run_command.run_pipeline(pipeline, list(overrides), runs_dir=runs, stream=stream)
    return code, stream.getvalue()


def load_feature_rules(project: Path):
    source = project / "components" / "spark_features" / "src" / "feature_rules.py"
    spec = importlib.util.spec_from_file_location("feature_rules_under_test", source)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def spark_project() -> Path:
    return template_project(spark_step=True)


@pytest.fixture(scope="module")
def spark_only(spark_project) -> Path:
    """The training pipeline's Spark node alone, its output bound to a pipeline output."""
    training = yaml.safe_load((spark_project / "pipelines" / "training.yml").read_text())
    node = training["jobs"]["spark_features"]
    node["outputs"]["features"] = "${{parent.outputs.features}}"
    pipeline = {key: training[key] for key in ("$schema", "type", "settings", "inputs")} | {
        "outputs": {"features": {"type": "uri_folder"}},
        "jobs": {"spark_features": node},
    }
    path = spark_project / "pipelines" / "spark-only.yml"
    path.write_text(yaml.safe_dump(pipeline, sort_keys=False))
    return path


# -- Spark ----------------------------------------------------------------------------------
def test_spark_component_settings_come_from_the_yaml(spark_project):
    step = load_pipeline(spark_project / "pipelines" / "training.yml").steps["spark_features"]
    assert step.type == "spark" and step.component.kind == "spark"
    settings = step.component.spark
    assert settings["entry_file"] == "spark_features.py"
    assert settings["py_files"] == ["feature_rules.py"]
    # azure-ai-ml lifts the driver and executor sizes out of conf; they are put back
    assert settings["conf"]["spark.driver.memory"] == "2g"
    assert settings["conf"]["spark.executor.instances"] == "2"
    assert settings["conf"]["spark.sql.shuffle.partitions"] == "8"
    assert "--features ${{outputs.features}}" in step.component.command


def test_spark_submit_honours_entry_py_files_conf_and_args():
    settings = {
        "entry_file": "main.py",
        "entry_class": None,
        "py_files": ["a.py", "b.zip"],
        "jars": ["x.jar"],
        "files": [],
        "archives": [],
        "conf": {"spark.executor.cores": "1", "spark.executor.instances": "2", "k": "v"},
    }
    argv = spark.submit_argv(settings, "--in /data --n 3", "jobs.s")
    assert argv[0].endswith("bin/spark-submit")
    assert argv[1:3] == ["--master", "local[2]"]
    assert argv[argv.index("--py-files") + 1] == "a.py,b.zip"
    assert argv[argv.index("--jars") + 1] == "x.jar"
    assert "k=v" in argv and "spark.executor.cores=1" in argv
    assert argv[-5:] == ["main.py", "--in", "/data", "--n", "3"]


def test_local_master_is_capped_at_the_machines_cores(monkeypatch):
    monkeypatch.setattr(spark.os, "cpu_count", lambda: 4)
    assert spark.local_master({"spark.executor.cores": "2", "spark.executor.instances": "1"}) == (
        "local[2]"
    )
    assert spark.local_master({"spark.executor.cores": "4", "spark.executor.instances": "8"}) == (
        "local[4]"
    )
    dynamic = {
        "spark.executor.cores": "1",
        "spark.dynamicAllocation.enabled": "true",
        "spark.dynamicAllocation.maxExecutors": "3",
    }
    assert spark.local_master(dynamic) == "local[3]"


def test_runtime_version_is_read_from_the_node(spark_project):
    step = load_pipeline(spark_project / "pipelines" / "training.yml").steps["spark_features"]
    assert step.runtime_version == "3.4"  # resources.runtime_version in the template's YAML


@pytest.mark.parametrize(
    ("wanted", "installed", "warned"),
    [("3.4", "3.4.4", False), ("3.4.0", "3.4.1", False), ("", "4.3.0", False),
     ("3.4", "4.3.0", True), ("3.3", "3.4.1", True)],
)  # fmt: skip
def test_a_spark_other_than_the_runtime_version_is_named(wanted, installed, warned):
    note = spark.runtime_note(wanted, installed)
    assert bool(note) == warned
    if warned:
        assert f"Spark {wanted}" in note and f"pyspark {installed}" in note
        assert f"pyspark=={'.'.join(wanted.split('.')[:2])}.*" in note


def test_jvm_entry_points_are_refused_with_one_line():
    settings = {"entry_file": None, "entry_class": "org.example.Main", "conf": {}}
    with pytest.raises(ProjectError, match=r"jobs.s: entry.class_name \(org.example.Main\)"):
        spark.submit_argv(settings, "", "jobs.s")


@pytest.mark.parametrize(
    ("text", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_392"', 8),
        ("no version here", None),
    ],
)
def test_java_major_version_is_read_from_java_version(text, major):
    assert spark.java_major(text) == major


def test_missing_pyspark_names_what_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        spark.importlib.util, "find_spec", lambda name: None if name == "pyspark" else real(name)
    )
    with pytest.raises(ProjectError, match=r"pip install pyspark==4.3.0") as raised:
        spark.spark_submit()
    assert "\n" not in str(raised.value)


def test_missing_java_names_what_to_install(tmp_path):
    with pytest.raises(ProjectError, match="no java on PATH: install a Java 17") as raised:
        spark.java_command({"PATH": str(tmp_path)})
    assert "\n" not in str(raised.value)
    with pytest.raises(ProjectError, match="JAVA_HOME=/nowhere has no bin/java"):
        spark.java_command({"JAVA_HOME": "/nowhere", "PATH": ""})


def test_old_java_is_refused(tmp_path):
    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.write_text("#!/bin/sh\necho 'java version \"1.8.0_392\"' >&2\n")
    java.chmod(0o755)
    with pytest.raises(ProjectError, match=r"need Java 17\+, .* is Java 8"):
        spark.java_command({"JAVA_HOME": str(tmp_path)})


def test_run_without_java_stops_before_any_step_with_one_line(
    spark_only, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java"))
    code = cli_main(["run", str(spark_only), "--local"])
    err = capsys.readouterr().err
    assert code != 0
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "has no bin/java" in err and "openjdk-17" in err
    assert not (spark_only.parents[1] / ".runs" / "latest").exists()


def test_spark_step_run_locally_produces_the_pandas_features(spark_project, spark_only, tmp_path):
    """`run --local` on the Spark step, features compared with the pandas path's."""
    source = spark_project / "components" / "spark_features" / "src"
    before = sorted(p.relative_to(source) for p in source.rglob("*"))
    code, out = run(spark_only, tmp_path / "runs", "skew_threshold=1.0")
    assert code == 0, out
    # run from a snapshot: Spark's spark-warehouse/ or metastore_db/ never land in the source
    assert sorted(p.relative_to(source) for p in source.rglob("*")) == before
    # the node asks for Azure ML's Spark 3.4: it runs on pyspark 3.4 at Python 3.10, in an
    # environment built for that runtime (the installed pyspark is 4.3)
    assert "warning" not in out, out
    first = (tmp_path / "runs" / "latest" / "spark_features" / "log.txt").read_text()
    submit = Path(shlex.split(first.splitlines()[0].split(" && ", 1)[1])[0])
    assert submit.is_relative_to(tmp_path / "runs" / "envs"), first.splitlines()[0]
    site_packages = submit.parents[2]  # <env>/lib/python3.10/site-packages/pyspark/bin
    assert site_packages.parent.name == "python3.10"  # the runtime's Python
    assert list(site_packages.glob("pyspark-3.4.*.dist-info")), "not pyspark 3.4"
    folder = tmp_path / "runs" / "latest" / "spark_features" / "outputs" / "features"
    parts = sorted(folder.glob("part-*.csv"))
    assert parts, sorted(p.name for p in folder.iterdir())
    found = pd.concat([pd.read_csv(p) for p in parts], ignore_index=True)
    rules = load_feature_rules(spark_project)
    raw = pd.concat(
        [pd.read_csv(p) for p in sorted((spark_project / "data" / "sample").glob("*.csv"))],
        ignore_index=True,
    )
    expected = rules.engineer_pandas(raw, "target", 1.0)
    assert any(c.startswith("log1p_") for c in expected.columns)
    pd.testing.assert_frame_equal(found, expected, check_dtype=False, rtol=1e-9)
    log = (tmp_path / "runs" / "latest" / "spark_features" / "log.txt").read_text()
    first = log.splitlines()[0]
    assert "spark-submit --master 'local[2]' --py-files feature_rules.py" in first
    assert "--conf spark.driver.memory=2g" in first
    assert "spark_features.py --raw_data" in first and "--skew_threshold 1.0" in first
    # a second run reuses the Spark step: no JVM started
    code, out = run(spark_only, tmp_path / "runs", "skew_threshold=1.0")
    assert code == 0 and "cached" in out


def test_a_spark_runtime_that_cannot_be_built_runs_on_the_installed_pyspark_with_warnings(
    spark_only, tmp_path, monkeypatch
):
    """No package index reachable: the step runs on the installed pyspark, says why in one
    line and which Spark it runs on in another; its key is that of what ran."""
    monkeypatch.setenv("UV_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens
    monkeypatch.setenv("UV_OFFLINE", "1")
    code, out = run(spark_only, tmp_path / "runs", "skew_threshold=1.0")
    assert code == 0, out
    warned = [line for line in out.splitlines() if "warning" in line]
    assert len(warned) == 2, out
    assert warned[0].startswith(
        "-- spark_features: warning: the environment its spark step asks for cannot be had here"
    )
    assert warned[1] == (
        f"-- spark_features: warning: {spark.runtime_note('3.4', spark.installed_pyspark())}"
    )
    log = (tmp_path / "runs" / "latest" / "spark_features" / "log.txt").read_text()
    assert str(tmp_path / "runs" / "envs") not in log.splitlines()[0]


@pytest.mark.parametrize(("installed", "own"), [("3.4.4", True), ("4.3.0", False), (None, False)])
def test_the_runtime_environment_is_asked_for_only_when_the_installed_spark_differs(
    spark_project, monkeypatch, installed, own
):
    step = load_pipeline(spark_project / "pipelines" / "training.yml").steps["spark_features"]
    monkeypatch.setattr(spark, "installed_pyspark", lambda: installed)
    spec = spark.environment_spec(step)
    assert (spec is step.component.environment_build) == own
    if not own:
        python, pip = spec["conda"]["dependencies"]
        assert python == "python=3.10" and pip["pip"][0] == "pyspark==3.4.*"


# -- AutoML ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def automl_project() -> Path:
    return template_project(automl=True)


def test_automl_node_settings_come_from_the_yaml(automl_project):
    step = load_pipeline(automl_project / "pipelines" / "training-automl.yml").steps["automl"]
    assert step.type == "automl"
    settings = step.automl
    assert settings["task"] == "classification"
    assert settings["primary_metric"] == "Accuracy"
    assert settings["target_column_name"] == "target"
    assert settings["n_cross_validations"] == "5"
    assert settings["limits"]["max_trials"] == 8
    assert settings["limits"]["trial_timeout_minutes"] == 15
    assert "LightGBM" in settings["allowed_training_algorithms"]
    assert step.inputs["training_data"].ref == "train_table.table"
    assert step.outputs == {"best_model": "model"}


def test_automl_pipeline_runs_end_to_end_with_the_stand_in(automl_project, tmp_path):
    pipeline = automl_project / "pipelines" / "training-automl.yml"
    code, out = run(pipeline, tmp_path / "runs")
    assert code == 0, out
    assert "LOCAL STAND-IN for Azure AutoML" in out
    assert "[automl] MLTable " in out and " read by mltable 1.7.0" in out  # the package's table
    [line] = [line for line in out.splitlines() if line.startswith("automl: AutoML ran as a LOCAL")]
    best = float(line.split("Accuracy ")[1].split()[0])
    assert 0.9 < best <= 1.0, line
    model = tmp_path / "runs" / "latest" / "automl" / "outputs" / "best_model"
    assert (model / "MLmodel").is_file()
    summary = json.loads((model / automl.SUMMARY_FILE).read_text())
    assert summary["trials_run"] <= 8 and summary["best"]["score"] == pytest.approx(best, abs=1e-4)
    assert "metrics.accuracy" in out  # evaluate scored the stand-in's best model
    decision = tmp_path / "runs" / "latest" / "evaluate" / "outputs" / "evaluation"
    assert json.loads((decision / "decision.json").read_text())["promote"] is True


def standin(spec: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    table = tmp_path / "table"
    table.mkdir(exist_ok=True)
    from sklearn.datasets import load_iris

    load_iris(as_frame=True).frame.to_csv(table / "iris.csv", index=False)
    (table / "MLTable").write_text(
        "paths:\n  - pattern: ./*.csv\ntransformations:\n  - read_delimited:\n"
        '      delimiter: ","\n      header: all_files_same_headers\n'
    )
    full = {
        "task": "classification",
        "primary_metric": "accuracy",
        "target_column_name": "target",
        "data": {"training_data": str(table)},
        "best_model": str(tmp_path / "model"),
        "summary_file": automl.SUMMARY_FILE,
        **spec,
    }
    (tmp_path / "spec.json").write_text(json.dumps(full))
    return subprocess.run(
        [sys.executable, str(automl.STANDIN), str(tmp_path / "spec.json")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_stand_in_honours_max_trials_allowed_algorithms_and_exit_score(tmp_path):
    done = standin(
        {
            "validation_data_size": 0.3,
            "allowed_training_algorithms": ["LogisticRegression", "DecisionTree"],
            "limits": {"max_trials": 3, "max_concurrent_trials": 1, "exit_score": 0.5},
        },
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "model" / automl.SUMMARY_FILE).read_text())
    # the first trial reaches 0.5: the search stops there, with 2 of 3 trials left
    assert summary["stopped"] == "exit_score 0.5 reached"
    assert [t["algorithm"] for t in summary["trials"]] == ["LogisticRegression"]
    assert summary["validation"] == "30% holdout"


def test_stand_in_applies_the_mltable_transformations(tmp_path):
    """Without the package's table (no tool environment), the own reader applies the MLTable's
    transformations: a path column dropped again, a filter, a skip (refused before:
    "transformation 'filter' is not supported locally")."""
    table = tmp_path / "filtered"
    table.mkdir()
    from sklearn.datasets import load_iris

    load_iris(as_frame=True).frame.to_csv(table / "iris.csv", index=False)
    (table / "MLTable").write_text(
        "paths:\n  - file: ./iris.csv\ntransformations:\n"
        "  - read_delimited:\n      include_path_column: true\n"
        "  - filter: col('target') != 2\n  - skip: 10\n  - drop_columns: [Path]\n"
    )
    done = standin({"limits": {"max_trials": 1}, "data": {"training_data": str(table)}}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "classification, 90 rows, 4 features" in done.stdout


def test_stand_in_stops_a_trial_at_its_timeout(tmp_path):
    done = standin(
        {
            "n_cross_validations": 3,
            "allowed_training_algorithms": ["RandomForest"],
            "limits": {"max_trials": 1, "trial_timeout_minutes": 0.0001},
        },
        tmp_path,
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: no trial succeeded (trial_timeout_minutes")
    assert not (tmp_path / "model" / "MLmodel").exists()


def test_stand_in_refuses_an_unsupported_metric_in_one_line(tmp_path):
    done = standin({"primary_metric": "iou", "limits": {"max_trials": 1}}, tmp_path)
    assert done.returncode == 2
    assert done.stderr == "error: primary metric iou has no local implementation\n"
