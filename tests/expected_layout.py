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
benchmarks/bench_cloud.py
benchmarks/bench_local_run.py
components/conftest.py
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
pipelines/training.yml
src/{package}/__init__.py
src/{package}/__main__.py
src/{package}/cli.py
src/{package}/project.py
src/{package}/checks/__init__.py
src/{package}/checks/infra.py
src/{package}/checks/infra_outputs.py
src/{package}/checks/problems.py
src/{package}/checks/workflows.py
src/{package}/cloud/__init__.py
src/{package}/cloud/assets.py
src/{package}/cloud/ci.py
src/{package}/cloud/clients.py
src/{package}/cloud/config.py
src/{package}/cloud/errors.py
src/{package}/cloud/invoke.py
src/{package}/overrides.py
src/{package}/cloud/provision.py
src/{package}/cloud/publish.py
src/{package}/cloud/register.py
src/{package}/cloud/submit.py
src/{package}/cloud/versions.py
src/{package}/local_run/__init__.py
src/{package}/local_run/cache.py
src/{package}/local_run/command.py
src/{package}/local_run/executor.py
src/{package}/local_run/graph.py
src/{package}/local_run/parallel.py
src/{package}/local_run/resolve.py
src/{package}/local_run/sweep.py
src/{package}/local_run/tracking.py
src/{package}/validation/__init__.py
src/{package}/validation/bindings.py
src/{package}/validation/command.py
tests/conftest.py
tests/fakes/__init__.py
tests/fakes/http.py
tests/fakes/ml.py
tests/fakes/project.py
tests/test_cli.py
tests/test_cloud_config.py
tests/test_cloud_errors.py
tests/test_cloud_invoke.py
tests/test_cloud_mlclient.py
tests/test_cloud_provision.py
tests/test_cloud_register.py
tests/test_cloud_submit.py
tests/test_definitions.py
tests/test_infra.py
tests/test_local_run.py
tests/test_sample_data.py
tests/test_validate.py
tests/test_workflows.py
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
    files = {line.format(package=answers["package_name"]) for line in ALWAYS.split()}
    for name in ("prep_data", "train", "evaluate", "register_model"):
        files |= component(name)
    if answers["environments"] == "dev-and-prod":
        files |= {"config/prod.yml", "infra/params/prod.parameters.json"}
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
    return files
