"""Entry script of the parallel batch scoring step: init() loads the model, run() scores files.

Azure ML calls init() once per worker process with the step's program arguments in sys.argv,
then run(mini_batch) with a list of file paths; the returned lines are appended to the
predictions file (output action append_row).
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

import pandas as pd

HEADER = ("source_file", "row", "prediction")
_state: dict = {}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--target_column", default="target")
    # The parallel runtime passes its own arguments too: ignore what is not ours.
    args, _unknown = parser.parse_known_args(argv)
    return args


def init(argv: list[str] | None = None) -> None:
    import mlflow.pyfunc

    args = parse_args(argv)
    if not (args.model / "MLmodel").is_file():
        raise FileNotFoundError(f"{args.model} is not an MLflow model folder (no MLmodel file)")
    _state["model"] = mlflow.pyfunc.load_model(str(args.model))
    _state["target_column"] = args.target_column


def score_file(path: Path) -> list[str]:
    """CSV lines `source_file,row,prediction` for every row of one input file."""
    frame = pd.read_csv(path)
    features = frame.drop(columns=[_state["target_column"]], errors="ignore")
    predictions = _state["model"].predict(features)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row, prediction in zip(frame.index, predictions, strict=True):
        writer.writerow((path.name, int(row), prediction))
    return buffer.getvalue().splitlines()


def run(mini_batch: list[str]) -> list[str]:
    if "model" not in _state:
        raise RuntimeError("init() was not called before run()")
    lines: list[str] = []
    for file_path in mini_batch:
        lines.extend(score_file(Path(file_path)))
    return lines
