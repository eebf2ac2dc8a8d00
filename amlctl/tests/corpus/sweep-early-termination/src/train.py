"""Logs the primary metric once per epoch, as training scripts in sweeps do."""

import argparse
import time
from pathlib import Path

import mlflow

parser = argparse.ArgumentParser()
parser.add_argument("--learning_rate", type=float)
parser.add_argument("--epochs", type=int)
parser.add_argument("--model")
args = parser.parse_args()

with mlflow.start_run():
    score = 0.0
    for epoch in range(args.epochs):
        # a higher learning rate learns faster here; 0.001 barely learns at all
        score += args.learning_rate * (1 - score)
        mlflow.log_metric("accuracy", score, step=epoch)
        time.sleep(0.5)
(Path(args.model) / "model.txt").write_text(f"lr={args.learning_rate} accuracy={score:.4f}")
Path("outputs/summary.txt").write_text(f"{score:.4f}")
print(f"lr={args.learning_rate} accuracy={score:.4f}")
