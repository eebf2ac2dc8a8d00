"""Write the sample CSV files of data/sample/ from data sets bundled with scikit-learn.

Run `python data/make_sample.py` to regenerate them; tests/test_sample_data.py checks that the
shipped files equal what this script writes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

SAMPLE_DIR = Path(__file__).resolve().parent / "sample"
DATASETS = {"classification": "breast_cancer.csv", "regression": "diabetes.csv"}


def sample_csv(task: str) -> str:
    """The CSV text of the sample data set of `task`: feature columns then `target`."""
    from sklearn.datasets import load_breast_cancer, load_diabetes

    if task == "classification":
        frame = load_breast_cancer(as_frame=True).frame
    elif task == "regression":
        frame = load_diabetes(scaled=False, as_frame=True).frame
    else:
        raise ValueError(f"unknown task {task!r}; expected one of {sorted(DATASETS)}")
    # Rounding gives the same text whichever pandas/scikit-learn the Python version pins:
    # the data have at most 7 decimals, and older releases print 4.804 as 4.803999999999999.
    return frame.round(8).to_csv(index=False, lineterminator="\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(DATASETS), action="append")
    parser.add_argument("--output-dir", type=Path, default=SAMPLE_DIR)
    args = parser.parse_args(argv)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for task in args.task or sorted(DATASETS):
        path = args.output_dir / DATASETS[task]
        path.write_text(sample_csv(task), encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
