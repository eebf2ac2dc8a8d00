"""A trial that diverges for odd batch sizes: Azure ML records it as failed and goes on."""

import argparse
import sys
from pathlib import Path

import mlflow

parser = argparse.ArgumentParser()
parser.add_argument("--batch_size", type=int)
parser.add_argument("--out")
args = parser.parse_args()
if args.batch_size % 2:
    print(f"loss diverged with batch_size={args.batch_size}", file=sys.stderr)
    sys.exit(1)
loss = 1.0 / args.batch_size
mlflow.log_metric("loss", loss)  # no start_run(): MLflow picks the run from MLFLOW_RUN_ID
(Path(args.out) / "loss.txt").write_text(str(loss))
