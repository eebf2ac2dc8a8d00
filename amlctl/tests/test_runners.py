"""check-workflows: jobs that call an isolated workspace's data plane run on its private runner."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fakes.template import template_project

from amlctl.checks import workflows as check
from amlctl.checks.runners import check_runners, isolated_environments

ISOLATED = template_project(environments="dev-and-prod", network_isolation=True)
OPEN_ONLY = template_project(environments="dev-and-prod", network_isolation=False)


def expr(body: str) -> str:
    """A GitHub expression; built, not written, so the project template leaves it alone."""
    return "$" + "{" * 2 + f" {body} " + "}" * 2


def job(runs_on: str, run: str, environment: str = "dev") -> dict:
    return {
        "runs-on": runs_on,
        "environment": environment,
        "steps": [{"name": "Call", "run": run}],
    }


def problems_for(tmp_path: Path, jobs: dict, isolated: set[str]) -> list[str]:
    path = tmp_path / "fixture.yml"
    path.write_text("jobs:\n" + "".join(f"  {name}:\n    name: x\n" for name in jobs))
    return [str(p) for p in check_runners(path, {"jobs": jobs}, tmp_path, isolated)]


def test_isolated_bake_passes_with_private_runners():
    assert isolated_environments(ISOLATED)[0] == {"dev", "prod"}
    assert check.check_workflows(ISOLATED) == []


def test_isolated_bake_with_hosted_runners_fails(tmp_path: Path):
    """The layout before private runners: the open bake's workflows over isolated parameters."""
    project = tmp_path / "project"
    shutil.copytree(OPEN_ONLY, project)
    for params in (project / "infra" / "params").glob("*.parameters.json"):
        data = json.loads(params.read_text())
        data["parameters"]["networkIsolation"]["value"] = True
        params.write_text(json.dumps(data))
    found = [str(p) for p in check.check_workflows(project)]
    hosted = [line for line in found if "GitHub-hosted runner ubuntu-latest" in line]
    jobs = {line.split(": ")[1] for line in hosted}
    assert {"register-dev", "publish-prod", "promote", "train", "deploy-prod"} <= jobs, found
    assert not any("infra.yml" in line or "ci.yml" in line for line in found), found
    assert any("vars.PRIVATE_RUNNER_PROD" in line and "promote:" in line for line in hosted)


def test_control_plane_job_may_stay_hosted(tmp_path: Path):
    jobs = {"deploy-dev": job("ubuntu-latest", "amlctl provision --env dev")}
    assert problems_for(tmp_path, jobs, {"dev"}) == []


@pytest.mark.parametrize(
    "run", ["amlctl register --env dev", "amlctl submit p.yml --env dev", "az ml job list"]
)
def test_data_plane_job_on_hosted_runner_fails(tmp_path: Path, run: str):
    found = problems_for(tmp_path, {"work": job("ubuntu-latest", run)}, {"dev"})
    assert len(found) == 1 and "isolated environment dev" in found[0], found


def test_open_environment_may_use_hosted_runner(tmp_path: Path):
    jobs = {"work": job("ubuntu-latest", "amlctl register --env dev")}
    assert problems_for(tmp_path, jobs, {"prod"}) == []


def test_runner_of_another_environment_fails(tmp_path: Path):
    jobs = {"work": job(expr("vars.PRIVATE_RUNNER_DEV"), "amlctl deploy --env prod", "prod")}
    found = problems_for(tmp_path, jobs, {"dev", "prod"})
    assert len(found) == 1 and "does not name vars.PRIVATE_RUNNER_PROD" in found[0], found


def test_environment_chosen_at_run_time_needs_every_isolated_runner(tmp_path: Path):
    environment = expr("inputs.environment")
    only_dev = {"train": job(expr("vars.PRIVATE_RUNNER_DEV"), "amlctl submit x", environment)}
    found = problems_for(tmp_path, only_dev, {"dev", "prod"})
    assert len(found) == 1 and "PRIVATE_RUNNER_PROD" in found[0], found
    both = expr(
        "inputs.environment == 'prod' && vars.PRIVATE_RUNNER_PROD || vars.PRIVATE_RUNNER_DEV"
    )
    both_jobs = {"train": job(both, "amlctl submit x", environment)}
    assert problems_for(tmp_path, both_jobs, {"dev", "prod"}) == []


def test_unreadable_parameters_file_is_one_line(tmp_path: Path):
    params = tmp_path / "infra" / "params"
    params.mkdir(parents=True)
    (params / "dev.parameters.json").write_text("{not json")
    isolated, problems = isolated_environments(tmp_path)
    assert isolated == set() and len(problems) == 1
    assert str(problems[0]).startswith("infra/params/dev.parameters.json: cannot read")
