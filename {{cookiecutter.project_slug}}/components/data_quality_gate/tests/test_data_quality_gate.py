"""Tests of components/data_quality_gate/src/check_data.sh, run with bash on small CSV files."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
BASH = shutil.which("bash") or "bash"  # a missing bash fails every test, loudly
HEADER = "x1,x2,target"


def write_split(folder: Path, name: str, rows: int, header: str = HEADER, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [header] + [f"{i * 0.1:.1f},{i},{i % 2}" for i in range(rows)]
    (folder / name).write_text("\n".join(lines) + "\n" + extra)
    return folder


def gate(
    tmp_path: Path, train: Path, test: Path, *, min_rows: int = 5, target: str = "target", env=None
) -> subprocess.CompletedProcess:
    """The way Azure ML and the local runner call it: `bash check_data.sh ...` in src/."""
    return subprocess.run(
        [
            *(BASH, "check_data.sh", "--train_data", str(train), "--test_data", str(test)),
            *("--target_column", target, "--min_rows", str(min_rows)),
            *("--train_data_checked", str(tmp_path / "out" / "train")),
            *("--test_data_checked", str(tmp_path / "out" / "test")),
        ],
        cwd=SRC,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


@pytest.fixture
def good(tmp_path):
    return write_split(tmp_path / "train", "train.csv", 8), write_split(
        tmp_path / "test", "test.csv", 6
    )


def test_good_data_passes_unchanged(tmp_path, good):
    train, test = good
    done = gate(tmp_path, train, test)
    assert done.returncode == 0, done.stderr
    assert "train.csv: 8 rows" in done.stdout
    assert "data-quality gate: passed" in done.stdout
    assert (tmp_path / "out" / "train" / "train.csv").read_bytes() == (
        train / "train.csv"
    ).read_bytes()
    assert (tmp_path / "out" / "test" / "test.csv").read_bytes() == (test / "test.csv").read_bytes()


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda tr, te: (tr / "train.csv").unlink(), "train.csv: "),
        (
            lambda tr, te: write_split(te, "test.csv", 6, header="x1,x2,label"),
            'no target column "target"',
        ),
        (
            lambda tr, te: write_split(tr, "train.csv", 8, header="x1,x1,target"),
            'column "x1" appears twice',
        ),
        (
            lambda tr, te: write_split(tr, "train.csv", 8, extra="0.5,1\n"),
            "1 row(s) do not have 3 fields",
        ),
        (
            lambda tr, te: write_split(te, "test.csv", 6, extra="0.5,1,\n"),
            "1 row(s) have no target value",
        ),
        (
            lambda tr, te: write_split(te, "test.csv", 2),
            "test.csv: 2 rows, fewer than the minimum 5",
        ),
        (
            lambda tr, te: write_split(te, "test.csv", 6, header="x2,x1,target"),
            "do not have the same columns",
        ),
    ],
    ids=[
        "missing",
        "no-target",
        "repeated",
        "short-row",
        "empty-target",
        "too-few",
        "schema-drift",
    ],
)
def test_bad_data_fails_with_one_line_per_problem_and_passes_nothing_on(
    tmp_path, good, breakage, message
):
    train, test = good
    breakage(train, test)
    done = gate(tmp_path, train, test)
    assert done.returncode == 1
    assert message in done.stderr
    assert done.stderr.splitlines()[-1].startswith("data-quality gate: FAILED")
    assert not (tmp_path / "out").exists()


def test_bad_usage_exits_2(tmp_path, good):
    train, test = good
    done = gate(tmp_path, train, test, min_rows="many")
    assert done.returncode == 2
    assert "--min_rows must be a whole number, got 'many'" in done.stderr


def test_a_missing_program_is_named(tmp_path, good):
    """Without awk on PATH the gate says so in one line instead of failing half-way."""
    train, test = good
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in ("cp", "head", "mkdir", "tr"):
        found = shutil.which(program)
        assert found, program
        (bin_dir / program).symlink_to(found)
    done = gate(tmp_path, train, test, env={**os.environ, "PATH": str(bin_dir)})
    assert done.returncode == 2
    assert (
        done.stderr.strip() == "data-quality gate: program 'awk' is not installed on this machine"
    )
