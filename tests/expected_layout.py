"""The exact file set of a generated project, for any answers.

Written out file by file on purpose: it states the layout a second time,
independently of the template folder and of hooks/post_gen_project.py, so a file
that appears, disappears or lands in the wrong configuration fails a test.
"""

from __future__ import annotations

ALWAYS = """
.cruft.json
.github/dependabot.yml
.github/workflows/ci.yml
.github/workflows/components.yml
.github/workflows/infra.yml
.github/workflows/pipelines.yml
.github/workflows/run-training.yml
.gitignore
.pre-commit-config.yaml
README.md
pyproject.toml
components/conftest.py
components/data_quality_gate/.amlignore
components/data_quality_gate/component.yml
components/data_quality_gate/src/.amlignore
components/data_quality_gate/src/check_data.sh
components/data_quality_gate/tests/test_data_quality_gate.py
config/dev.yml
data/make_sample.py
data/sample-data.yml
environments/sklearn/conda.yml
environments/sklearn/environment.yml
infra/README.md
infra/bootstrap/github-oidc.bicep
infra/main.bicep
infra/modules/compute-cluster.bicep
infra/modules/compute-roles.bicep
infra/modules/identity.bicep
infra/modules/keyvault.bicep
infra/modules/monitoring.bicep
infra/modules/network.bicep
infra/modules/registry.bicep
infra/modules/storage.bicep
infra/modules/workspace.bicep
infra/params/dev.parameters.json
pipelines/README.md
pipelines/publish/batch-endpoint.yml
pipelines/publish/training-component.yml
pipelines/publish/training-deployment.yml
pipelines/training.py
pipelines/training.yml
requirements/deploy.in
requirements/deploy.txt
tests/test_definitions.py
tests/test_pipelines.py
tests/test_sample_data.py
"""


def component(name: str) -> set[str]:
    """A component folder: its YAML, its code, its tests, and what keeps them apart."""
    return {
        f"components/{name}/.amlignore",
        f"components/{name}/component.yml",
        f"components/{name}/src/.amlignore",
        f"components/{name}/src/{name}.py",
        f"components/{name}/tests/test_{name}.py",
    }


def expected_files(answers: dict) -> set[str]:
    """Every file a bake with these (complete) answers must produce, and no other."""
    files = set(ALWAYS.split())
    for name in ("prep_data", "train", "evaluate", "register_model"):
        files |= component(name)
    if answers["component_style"] == "python":  # prep_data as a decorated Python function
        files |= {
            "components/prep_data/src/component.py",
            "components/prep_data/tests/test_component.py",
        }
    if answers["environments"] == "dev-and-prod":
        files |= {"config/prod.yml", "infra/params/prod.parameters.json"}
        if answers["model_registry"] in ("auto", "yes"):  # promotion through a registry
            files |= {
                ".github/workflows/promote.yml",
                "infra/modules/ml-registry.bicep",
                "infra/modules/promotion-source.bicep",
            }
    files.add(
        "data/sample/breast_cancer.csv"
        if answers["ml_task"] == "classification"
        else "data/sample/diabetes.csv"
    )
    if answers["hyperparameter_sweep"]:
        files.add("pipelines/training-sweep.yml")
    if answers["batch_scoring"]:
        files |= component("score") | {"pipelines/batch-scoring.yml"}
    if answers["schedule"]:
        # one schedule per training pipeline: publish creates every file in schedules/
        files.add("pipelines/schedules/training-cron.yml")
    if answers["spark_step"]:
        files |= {
            "components/spark_features/.amlignore",
            "components/spark_features/component.yml",
            "components/spark_features/src/.amlignore",
            "components/spark_features/src/spark_features.py",
            "components/spark_features/src/feature_rules.py",
            "components/spark_features/tests/test_spark_features.py",
        }
    if answers["automl"]:
        files |= component("to_mltable") | {"pipelines/training-automl.yml"}
    if answers["online_endpoint"]:
        files |= {
            ".github/workflows/deploy-online.yml",
            "benchmarks/bench_online.py",
            "data/sample-table.yml",
            "data/sample/MLTable",
            "deploy/online/README.md",
            "deploy/online/deployment.yml",
            "deploy/online/endpoint.yml",
            "deploy/online/monitor.yml",
            "deploy/online/sample-request.json",
            "deploy/online/scoring/.amlignore",
            "deploy/online/scoring/score.py",
            "deploy/online/scoring/tests/conftest.py",
            "deploy/online/scoring/tests/test_score.py",
            "deploy/online/scoring/tests/test_server.py",
        }
    return files
