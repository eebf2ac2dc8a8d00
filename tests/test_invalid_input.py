"""Bad answers: non-zero exit, a message naming the field, and nothing left on disk."""

from __future__ import annotations

import pytest

from .conftest import bake_cli

# (answer given on the command line, field the message must name)
INVALID = [
    ("project_name=", "project_name"),
    ("project_slug=Bad Slug", "project_slug"),
    ("project_slug=-leading-hyphen", "project_slug"),
    ("project_slug=double--hyphen", "project_slug"),
    ("description=two\nlines", "description"),
    ("description=" + "x" * 2001, "description"),
    ("author_name= ", "author_name"),
    ("author_email=not-an-email", "author_email"),
    ("azure_location=westeurope2", "azure_location"),
    ("azure_location=West Europe", "azure_location"),
    ("resource_prefix=1abc", "resource_prefix"),
    ("resource_prefix=ab-c", "resource_prefix"),
    ("resource_prefix=x", "resource_prefix"),
    ("resource_prefix=abcdefghijklm", "resource_prefix"),  # "<prefix>-cpu" > 16 characters
    ("resource_prefix=ABC", "resource_prefix"),
    ("cpu_vm_size=DS3_v2", "cpu_vm_size"),
    ("cpu_vm_size=Standard DS3", "cpu_vm_size"),
    ("gpu_vm_size=NC6", "gpu_vm_size"),
    ("cpu_min_nodes=-1", "cpu_min_nodes"),
    ("cpu_min_nodes=5", "cpu_min_nodes"),  # above the default cpu_max_nodes (4)
    ("cpu_max_nodes=0", "cpu_max_nodes"),
    ("cpu_max_nodes=four", "cpu_max_nodes"),
    ("gpu_max_nodes=0", "gpu_max_nodes"),
    ("cpu_idle_seconds_before_scaledown=30", "cpu_idle_seconds_before_scaledown"),
    ("cpu_idle_seconds_before_scaledown=1h", "cpu_idle_seconds_before_scaledown"),
    ("schedule_cron=* * * *", "schedule_cron"),
    ("schedule_cron=60 * * * *", "schedule_cron"),
    ("schedule_cron=0 0 32 * *", "schedule_cron"),
    ("schedule_cron=0 0 * * MON-SUNDAY", "schedule_cron"),
    ("schedule_cron=*/0 * * * *", "schedule_cron"),
    ("github_owner=-org", "github_owner"),
    ("github_owner=my_org", "github_owner"),
    ("github_repo=bad/repo", "github_repo"),
    ("github_repo=..", "github_repo"),
    ("gpu_cluster=maybe", "gpu_cluster"),
    ("spark_step=sometimes", "spark_step"),
    ("ml_task=clustering", "ml_task"),
    ("model_registry=maybe", "model_registry"),
    ("python_version=3.9", "python_version"),
    # private names cookiecutter lets extra context override: the hook compares each
    ("__workspace_dev=mlw-other-dev", "__workspace_dev"),
    ("__storage_prod=stother", "__storage_prod"),
    ("__batch_endpoint_dev=x; rm -rf ~", "__batch_endpoint_dev"),
    ("__ml_registry=mlr-other", "__ml_registry"),
    ("__model_registry=no", "__model_registry"),  # derived from model_registry: yes here
    ('_template_version=0.2.0"\nevil = "yes', "_template_version"),
]


def test_there_are_at_least_thirty_cases():
    assert len(INVALID) >= 30
    assert len({answer for answer, _ in INVALID}) == len(INVALID)


@pytest.mark.parametrize(("answer", "field"), INVALID, ids=[a[:40] for a, _ in INVALID])
def test_invalid_answer_fails_cleanly(tmp_path, answer, field):
    done = bake_cli(tmp_path, answer)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    named = f"error: {field}=" in done.stderr or f"variable {field}" in output
    assert named, f"the message does not name {field!r}:\n{output}"
    assert list(tmp_path.iterdir()) == [], "a failed bake left files behind"


def test_several_problems_are_reported_together(tmp_path):
    done = bake_cli(tmp_path, "azure_location=nowhere", "cpu_max_nodes=x", "github_owner=-x")
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert [line.split("=", 1)[0] for line in errors] == [
        "error: azure_location",
        "error: cpu_max_nodes",
        "error: github_owner",
    ]
    assert list(tmp_path.iterdir()) == []


def test_a_registry_with_one_environment_is_refused(tmp_path):
    done = bake_cli(tmp_path, "environments=dev-only", "model_registry=yes")
    assert done.returncode != 0
    assert (
        "error: model_registry='yes': needs environments=dev-and-prod (the registry carries "
        "models from dev to prod); answer auto or no"
    ) in done.stderr
    assert list(tmp_path.iterdir()) == []
