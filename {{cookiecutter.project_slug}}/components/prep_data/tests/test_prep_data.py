"""Unit tests of components/prep_data/src/prep_data.py on small generated data."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def load_script():
    spec = importlib.util.spec_from_file_location("prep_data_under_test", SRC / "prep_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


prep_data = load_script()


def make_frame(rows: int = 100, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x1": rng.normal(size=rows),
            "x2": rng.normal(size=rows),
            "target": np.r_[np.zeros(rows - rows // 4, dtype=int), np.ones(rows // 4, dtype=int)],
        }
    )


@pytest.fixture(autouse=True)
def _no_tracking(no_mlflow_tracking):
    """prep_data logs only when tracking is configured; these tests run without it."""


def run_main(raw: Path, out: Path, *extra: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    outputs = ["--train_data", str(out / "train"), "--test_data", str(out / "test")]
    code = prep_data.main(["--raw_data", str(raw), *outputs, *extra])
    assert code == 0
    return pd.read_csv(out / "train" / "train.csv"), pd.read_csv(out / "test" / "test.csv")


def test_split_sizes_partition_the_rows_and_keep_class_balance(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    frame = make_frame(100)
    frame.to_csv(raw / "data.csv", index=False)

    train, test = run_main(raw, tmp_path, "--test_fraction", "0.2", "--seed", "7")

    assert (len(train), len(test)) == (80, 20)
    combined = pd.concat([train, test]).sort_values("x1").reset_index(drop=True)
    pd.testing.assert_frame_equal(combined, frame.sort_values("x1").reset_index(drop=True))
    assert test["target"].mean() == pytest.approx(0.25)
    assert train["target"].mean() == pytest.approx(0.25)


def test_same_seed_same_split_other_seed_other_split(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    make_frame(60).to_csv(raw / "data.csv", index=False)

    first, _ = run_main(raw, tmp_path / "a", "--seed", "1")
    again, _ = run_main(raw, tmp_path / "b", "--seed", "1")
    other, _ = run_main(raw, tmp_path / "c", "--seed", "2")

    pd.testing.assert_frame_equal(first, again)
    assert not first["x1"].equals(other["x1"])


def test_reads_every_csv_of_the_folder_and_drops_rows_without_target(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    make_frame(30, seed=1).to_csv(raw / "a.csv", index=False)
    second = make_frame(30, seed=2)
    second.loc[0, "target"] = np.nan
    second.to_csv(raw / "b.csv", index=False)
    (raw / "notes.txt").write_text("not data")

    frame = prep_data.read_raw(raw, "target")

    assert len(frame) == 59
    assert frame["target"].notna().all()


def test_regression_split_does_not_stratify(tmp_path):
    frame = make_frame(40)
    frame["target"] = np.linspace(0.0, 1.0, 40)
    train, test = prep_data.split(frame, "target", "regression", 0.25, 0)
    assert (len(train), len(test)) == (30, 10)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda raw: None, "no CSV file"),
        (lambda raw: make_frame(10).to_csv(raw / "d.csv", index=False, columns=["x1"]), "target"),
    ],
)
def test_bad_raw_data_is_reported(tmp_path, setup, message):
    raw = tmp_path / "raw"
    raw.mkdir()
    setup(raw)
    with pytest.raises(ValueError, match=message):
        prep_data.read_raw(raw, "target")


def test_test_fraction_out_of_range_is_rejected(tmp_path):
    with pytest.raises(SystemExit):
        prep_data.parse_args(
            ["--raw_data", "r", "--train_data", "a", "--test_data", "b", "--test_fraction", "1.5"]
        )


def test_runs_as_a_script_from_its_code_folder(tmp_path):
    """The way Azure ML and the local runner call it: `python prep_data.py ...` in src/."""
    raw = tmp_path / "raw"
    raw.mkdir()
    make_frame(50).to_csv(raw / "data.csv", index=False)
    result = subprocess.run(
        [
            sys.executable,
            "prep_data.py",
            *("--raw_data", str(raw), "--train_data", str(tmp_path / "train")),
            *("--test_data", str(tmp_path / "test")),
        ],
        cwd=SRC,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "train: 40 rows, test: 10 rows" in result.stdout
    assert sorted(p.name for p in (tmp_path / "test").iterdir()) == ["test.csv"]


def test_logs_split_sizes_when_tracking_is_configured(tmp_path, mlflow_store):
    client, experiment_id = mlflow_store
    raw = tmp_path / "raw"
    raw.mkdir()
    make_frame(40).to_csv(raw / "data.csv", index=False)
    run_main(raw, tmp_path, "--test_fraction", "0.25")
    [run] = client.search_runs([experiment_id])
    assert run.data.metrics == {"train_rows": 30.0, "test_rows": 10.0}
