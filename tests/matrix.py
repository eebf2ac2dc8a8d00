"""The documented bake matrix.

Every choice value and both values of every boolean appear in at least one
configuration (`test_matrix.py` checks that), and every configuration is baked
and verified in full by `test_bake.py`. `defaults` is baked exactly as a user
gets it: the cookiecutter command line with `--no-input` and no answers.
Each other configuration has its own project name, so its package never collides
with another's in the shared test environment when bakes run in parallel.
"""

from __future__ import annotations

# name -> answers given on top of the defaults (an unknown key is an error, see conftest.bake)
MATRIX: dict[str, dict[str, object]] = {
    "defaults": {},
    "minimal-regression": {
        "project_name": "Minimal Regression",
        "environments": "dev-only",
        "model_registry": "no",
        "ml_task": "regression",
        "python_version": "3.11",
        "gpu_cluster": False,
        "hyperparameter_sweep": False,
        "batch_scoring": False,
        "schedule": False,
        "online_endpoint": False,
        "network_isolation": False,
        "spark_step": False,
        "automl": False,
    },
    "everything": {
        "project_name": "Everything Enabled",
        "environments": "dev-and-prod",
        "model_registry": "yes",
        "ml_task": "classification",
        "component_style": "python",
        "python_version": "3.12",
        "gpu_cluster": True,
        "hyperparameter_sweep": True,
        "batch_scoring": True,
        "schedule": True,
        "online_endpoint": True,
        "network_isolation": True,
        "schedule_cron": "30 4 1-15 JAN-JUN MON-FRI",
        "spark_step": True,
        "automl": True,
    },
    "regression-isolated": {
        "project_name": "Churn Forecast",
        "environments": "dev-only",
        "model_registry": "auto",  # with dev only: no registry
        "ml_task": "regression",
        "python_version": "3.11",
        "gpu_cluster": True,
        "hyperparameter_sweep": True,
        "batch_scoring": False,
        "schedule": True,
        "network_isolation": True,
        "automl": True,
    },
}
