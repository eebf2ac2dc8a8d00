"""Tests of the Spark feature step: its rules on pandas, and Spark agreeing with pandas.

The Spark tests need pyspark (`pip install -e '.[spark]'`) and Java 17; without them they
are skipped with the reason, and the pandas tests still run.
"""

import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample"
sys.path.insert(0, str(SRC))  # as Spark's py_files do: the entry imports feature_rules
import feature_rules  # noqa: E402


def load_entry():
    spec = importlib.util.spec_from_file_location(
        "spark_features_under_test", SRC / "spark_features.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def raw_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    skewed = rng.lognormal(sigma=1.0, size=40)
    frame = pd.DataFrame(
        {
            "skewed": skewed,
            "normal": rng.normal(size=40),
            "negative": -skewed,
            "target": np.arange(40) % 2,
        }
    )
    frame.loc[3, "normal"] = np.nan
    frame.loc[5, "target"] = np.nan
    return pd.concat([frame, frame.iloc[[7]]], ignore_index=True)  # one duplicate row


def test_pandas_path_applies_every_rule():
    raw = raw_frame()
    features = feature_rules.engineer_pandas(raw.copy(), "target", 0.75)
    assert len(features) == len(raw) - 2  # the row without a target and the duplicate
    assert features["normal"].notna().all()
    kept = raw.dropna(subset=["target"]).drop_duplicates()
    assert features.loc[3, "normal"] == pytest.approx(kept["normal"].mean())
    # skewed and non-negative: a companion; negative values or a symmetric column: none
    assert [c for c in features.columns if c.startswith("log1p_")] == ["log1p_skewed"]
    assert np.allclose(features["log1p_skewed"], np.log1p(features["skewed"]))


def test_threshold_decides_which_columns_get_a_companion():
    stats = {
        "a": feature_rules.ColumnStats(0.0, 2.0),
        "b": feature_rules.ColumnStats(0.0, 0.5),
        "c": feature_rules.ColumnStats(-1.0, 3.0),
        "d": feature_rules.ColumnStats(1.0, None),
    }
    assert feature_rules.derived_columns(stats, 0.75) == ["a"]
    assert feature_rules.derived_columns(stats, 0.25) == ["a", "b"]


def test_missing_target_column_is_an_error():
    with pytest.raises(ValueError, match="target column 'label'"):
        feature_rules.engineer_pandas(raw_frame(), "label", 0.75)


def test_entry_accepts_its_command_line():
    args = load_entry().parse_args(
        [
            "--raw_data",
            "/in",
            "--target_column",
            "y",
            "--skew_threshold",
            "1.5",
            "--features",
            "/out",
        ]
    )
    assert (args.raw_data, args.target_column, args.skew_threshold, args.features) == (
        "/in",
        "y",
        1.5,
        "/out",
    )


def spark_or_skip():
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark is not installed: pip install -e '.[spark]'")
    if shutil.which("java") is None:
        pytest.skip("no Java on PATH: Spark needs Java 17")
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[1]")
        .appName("test_spark_features")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )


@pytest.fixture(scope="module")
def spark():
    session = spark_or_skip()
    yield session
    session.stop()


def spark_features(spark, folder: Path, output: Path) -> pd.DataFrame:
    entry = load_entry()
    assert entry.main(["--raw_data", str(folder), "--features", str(output)]) == 0
    parts = sorted(output.glob("part-*.csv"))
    return pd.concat([pd.read_csv(p) for p in parts], ignore_index=True)


def test_spark_and_pandas_agree_on_every_rule(spark, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    raw_frame().to_csv(raw / "part.csv", index=False)
    expected = feature_rules.engineer_pandas(pd.read_csv(raw / "part.csv"), "target", 0.75)
    found = spark_features(spark, raw, tmp_path / "features")
    pd.testing.assert_frame_equal(found, expected, check_dtype=False, rtol=1e-9)


def test_spark_and_pandas_agree_on_the_sample_data(spark, tmp_path):
    expected = pd.concat([pd.read_csv(p) for p in sorted(SAMPLE.glob("*.csv"))], ignore_index=True)
    expected = feature_rules.engineer_pandas(expected, "target", 0.75)
    found = spark_features(spark, SAMPLE, tmp_path / "features")
    assert any(c.startswith("log1p_") for c in found.columns)
    pd.testing.assert_frame_equal(found, expected, check_dtype=False, rtol=1e-9)
