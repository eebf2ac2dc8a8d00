"""Read the raw CSV files of a folder and split them into train.csv and test.csv."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

TASKS = ("classification", "regression")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw_data", type=Path, required=True)
    parser.add_argument("--target_column", default="target")
    parser.add_argument("--task", choices=TASKS, default="classification")
    parser.add_argument("--test_fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--train_data", type=Path, required=True)
    parser.add_argument("--test_data", type=Path, required=True)
    args = parser.parse_args(argv)
    if not 0.0 < args.test_fraction < 1.0:
        parser.error(f"--test_fraction must be between 0 and 1, got {args.test_fraction}")
    return args


def read_raw(folder: Path, target_column: str) -> pd.DataFrame:
    """All CSV files of `folder` (sorted by name) as one frame, rows without a target dropped."""
    files = sorted(folder.glob("*.csv")) if folder.is_dir() else [folder]
    if not files:
        raise ValueError(f"no CSV file in {folder}")
    frame = pd.concat([pd.read_csv(path) for path in files], ignore_index=True)
    if target_column not in frame.columns:
        raise ValueError(f"target column {target_column!r} not in {list(frame.columns)}")
    return frame.dropna(subset=[target_column]).reset_index(drop=True)


def split(
    frame: pd.DataFrame, target_column: str, task: str, test_fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and test frames; classification keeps the class balance in both."""
    stratify = frame[target_column] if task == "classification" else None
    train, test = train_test_split(
        frame, test_size=test_fraction, random_state=seed, stratify=stratify
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


@contextlib.contextmanager
def tracking_run() -> Iterator[object | None]:
    """The MLflow run of this step when tracking is configured (Azure ML or local runner)."""
    if not (os.environ.get("MLFLOW_TRACKING_URI") or os.environ.get("MLFLOW_RUN_ID")):
        yield None
        return
    import mlflow

    with mlflow.start_run() as run:
        yield run


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    frame = read_raw(args.raw_data, args.target_column)
    train, test = split(frame, args.target_column, args.task, args.test_fraction, args.seed)
    for folder, name, part in (
        (args.train_data, "train.csv", train),
        (args.test_data, "test.csv", test),
    ):
        folder.mkdir(parents=True, exist_ok=True)
        part.to_csv(folder / name, index=False)
    with tracking_run() as run:
        if run is not None:
            import mlflow

            mlflow.log_params({"test_fraction": args.test_fraction, "seed": args.seed})
            mlflow.log_metrics({"train_rows": len(train), "test_rows": len(test)})
    print(f"train: {len(train)} rows, test: {len(test)} rows, columns: {frame.shape[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
