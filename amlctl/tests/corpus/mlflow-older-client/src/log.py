"""An MLflow 2.x client logging a metric and a parameter the usual way."""

import sys
from pathlib import Path

import mlflow

with mlflow.start_run():
    mlflow.log_param("client", mlflow.__version__)
    for step, value in enumerate([0.5, 0.7, 0.9]):
        mlflow.log_metric("accuracy", value, step=step)
(Path(sys.argv[1]) / "version.txt").write_text(mlflow.__version__)
