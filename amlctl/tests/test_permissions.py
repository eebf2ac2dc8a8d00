"""The permission model against the project's own Bicep and workflows, and against copies
from which a role, a principalType or a read-only login has been taken away."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from fakes.template import template_project

from amlctl.checks import permissions
from amlctl.cli import PROG as CLI

ROOT = template_project()
ASSIGNMENTS, UNREADABLE = permissions.read_assignments(ROOT)
DATA_ROLES = sorted((item.file, item.symbol) for item in ASSIGNMENTS if item.role.data_actions)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of what the model reads: infra, workflows, config, pipelines, components and
    pyproject."""
    for folder in ("infra", ".github", "config", "pipelines", "components"):
        if (ROOT / folder).is_dir():
            shutil.copytree(ROOT / folder, tmp_path / folder)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def remove_resource(path: Path, symbol: str) -> None:
    text = path.read_text()
    start = text.index(f"\nresource {symbol} ") + 1
    end = text.index("\n}\n", start) + 3
    path.write_text(text[:start] + text[end:])


def test_every_role_assignment_is_read():
    assert UNREADABLE == []
    identities = {item.identity for item in ASSIGNMENTS}
    # the default project has dev and prod, so the registry dev's CI identity promotes into
    assert identities == {"ci", "what-if", "compute", permissions.PROMOTER}


def test_prod_alone_deploys_the_registry_and_reads_from_it():
    envs = {env.name: env for env in permissions.environments(ROOT)}
    assert set(envs) == {"dev", "prod"}
    registry = "infra/modules/ml-registry.bicep"
    assert registry in envs["prod"].deployed and envs["prod"].holds_registry
    assert registry not in envs["dev"].deployed and not envs["dev"].holds_registry
    assert envs["prod"].uses_registry and not envs["dev"].uses_registry
    # modules whose condition is off in both (no GPU cluster, no network isolation by default)
    assert "infra/modules/network.bicep" not in envs["dev"].deployed | envs["prod"].deployed


def test_prod_promotes_behind_its_approval_reading_devs_workspace():
    envs = permissions.environments(ROOT)
    jobs = permissions.workflow_jobs(ROOT, CLI)
    needs = permissions.identity_needs(ROOT, CLI, permissions.MODES[0], envs, jobs)
    writes = {
        (need.identity, need.env)
        for need in needs
        if need.use.action == f"{permissions.MLR}/assets/write"
    }
    assert writes == {("prod ci", "prod")}  # prod's identity, in prod's protected environment
    reads = {need.identity for need in needs if need.use.action == f"{permissions.MLR}/assets/read"}
    assert reads == {"prod ci", "prod compute"}
    source = {
        (need.identity, need.env)
        for need in needs
        if need.use.action == f"{permissions.ML}/models/versions/read" and "promote" in need.who
    }
    assert source == {("prod ci", "dev")}  # it reads what it promotes in dev's workspace


def test_a_dev_identity_with_a_role_on_a_prod_resource_fails(project: Path):
    """The layout before: promote.yml ran in dev, prod's deployment let dev's identity write
    the registry (AzureML Registry User), so any job merged to main could change prod."""
    promote = project / ".github" / "workflows" / "promote.yml"
    promote.write_text(
        promote.read_text().replace("    environment: prod\n", "    environment: dev\n")
    )
    registry = project / "infra" / "modules" / "ml-registry.bicep"
    registry.write_text(
        registry.read_text().replace(
            "@description('Principal (object) id of the compute identity",
            "param promoterPrincipalId string\n\n"
            "@description('Principal (object) id of the compute identity",
        )
        + "\nresource promote 'Microsoft.Authorization/roleAssignments@2022-04-01' = {\n"
        "  name: guid(registry.id, promoterPrincipalId, '1823dd4f-9b8c-4ab6-ab4e-7397a3684615')\n"
        "  scope: registry\n  properties: {\n"
        "    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', "
        "'1823dd4f-9b8c-4ab6-ab4e-7397a3684615')\n"
        "    principalId: promoterPrincipalId\n    principalType: 'ServicePrincipal'\n  }\n}\n"
    )
    found = permissions.prove(project, CLI)
    crossing = [p for p in found if "no dev identity may hold a role on a prod resource" in p]
    assert crossing and "AzureML Registry User for the dev ci identity" in crossing[0], found
    assert not [p for p in permissions.prove(ROOT, CLI) if "no dev identity" in p]


def test_the_model_holds_for_the_project():
    assert permissions.prove(ROOT, CLI) == []


def test_every_workflow_job_that_logs_in_is_in_the_model():
    jobs = permissions.workflow_jobs(ROOT, CLI)
    assert jobs, "no workflow job logs in to Azure"
    for job in jobs:
        assert job.commands, f"{job.workflow} {job.job} logs in but runs no project command"
        for command in job.commands:
            assert command in permissions.COMMAND_USES, f"{command} is not in the model"
    pull_request = [job for job in jobs if job.identity == "what-if"]
    assert [(job.workflow, job.job) for job in pull_request] == [("infra.yml", "what-if")]
    assert all(job.environment for job in jobs if job.identity == "ci")


def test_the_ci_identity_uploads_code_and_data():
    envs = permissions.environments(ROOT)
    jobs = permissions.workflow_jobs(ROOT, CLI)
    needs = permissions.identity_needs(ROOT, CLI, permissions.MODES[0], envs, jobs)
    for identity in ("dev ci", "prod ci"):
        mine = [need.use for need in needs if need.identity == identity]
        assert any(use.data and use.action.endswith("/blobs/write") for use in mine), identity


@pytest.mark.parametrize("file, symbol", DATA_ROLES)
def test_removing_a_data_role_fails(project: Path, file: str, symbol: str):
    remove_resource(project / file, symbol)
    found = permissions.prove(project, CLI)
    assert any("no role grants the data action" in problem for problem in found), found


def test_there_are_data_roles_to_remove():
    # storage blobs for CI and the compute identity, key vault secrets for the compute identity
    assert ("infra/bootstrap/github-oidc.bicep", "uploadData") in DATA_ROLES
    assert ("infra/modules/compute-roles.bicep", "blobData") in DATA_ROLES
    assert ("infra/modules/compute-roles.bicep", "secretsRead") in DATA_ROLES
    # the default project has the batch-scoring pipeline, whose parallel step uses both
    assert permissions.has_parallel_step(ROOT)
    assert ("infra/modules/compute-roles.bicep", "queueData") in DATA_ROLES
    assert ("infra/modules/compute-roles.bicep", "tableData") in DATA_ROLES


@pytest.mark.parametrize(
    "file, symbol",
    [
        ("infra/modules/compute-roles.bicep", "imagePull"),
        ("infra/bootstrap/github-oidc.bicep", "deployInfra"),
        ("infra/bootstrap/github-oidc.bicep", "assignRoles"),
        ("infra/bootstrap/github-oidc.bicep", "whatIfRun"),
        ("infra/bootstrap/github-oidc.bicep", "promoteRegistry"),
        ("infra/modules/promotion-source.bicep", "readSource"),
        ("infra/modules/ml-registry.bicep", "useAssets"),
    ],
)
def test_removing_a_control_plane_role_fails(project: Path, file: str, symbol: str):
    remove_resource(project / file, symbol)
    found = permissions.prove(project, CLI)
    assert any("no role grants the action" in problem for problem in found), found


def test_a_larger_role_than_needed_fails(project: Path):
    roles = project / "infra" / "modules" / "compute-roles.bicep"
    owner = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"  # Storage Blob Data Owner
    roles.write_text(
        roles.read_text().replace("'ba92f5b4-2d11-453d-a403-e96b0029c9fe'", f"'{owner}'")
    )
    found = permissions.prove(project, CLI)
    assert any(
        "blobData: Storage Blob Data Owner is more than the dev compute identity needs" in problem
        and "Storage Blob Data Contributor suffices" in problem
        for problem in found
    ), found


def test_a_role_nothing_uses_fails(project: Path):
    roles = project / "infra" / "modules" / "compute-roles.bicep"
    text = roles.read_text()
    extra = text[text.index("\nresource imagePull ") + 1 :]
    extra = extra[: extra.index("\n}\n") + 3].replace("imagePull", "imagePullAgain")
    roles.write_text(text + "\n" + extra.replace("acrPull)", "acrPull, 'again')"))
    found = permissions.prove(project, CLI)
    assert any("grants nothing it uses that its other roles do not" in p for p in found), found


def test_an_assignment_without_principal_type_fails(project: Path):
    roles = project / "infra" / "modules" / "compute-roles.bicep"
    text = roles.read_text()
    assert text.count("principalType: 'ServicePrincipal'") >= 3
    roles.write_text(text.replace("    principalType: 'ServicePrincipal'\n", "", 1))
    found = permissions.prove(project, CLI)
    assert any("set principalType: 'ServicePrincipal'" in problem for problem in found), found


def test_ci_may_assign_exactly_the_roles_main_bicep_assigns(project: Path):
    bootstrap = project / "infra" / "bootstrap" / "github-oidc.bicep"
    owner = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
    text = bootstrap.read_text()
    bootstrap.write_text(
        text.replace("var workspaceRoles = [\n", f"var workspaceRoles = [\n  '{owner}'\n", 1)
    )
    found = permissions.prove(project, CLI)
    for env in ("dev", "prod"):
        expected = (
            f"the {env} CI identity may assign exactly the roles main.bicep assigns in {env} "
            f"(params/{env}.parameters.json); remove ['Owner'], add nothing"
        )
        assert any(expected in problem for problem in found), found


ASSIGNABLE = re.compile(r"^var assignableRoles = .*$", re.MULTILINE)


def test_each_ci_must_be_able_to_assign_reader(project: Path):
    """Prod's deployment gives its compute identity Reader on the registry, dev's gives prod's
    CI identity Reader on dev's workspace (promotion's source): each CI identity must be able
    to assign it, or `provision` would fail in Azure."""
    bootstrap = project / "infra" / "bootstrap" / "github-oidc.bicep"
    text = bootstrap.read_text()
    assert len(ASSIGNABLE.findall(text)) == 1
    bootstrap.write_text(ASSIGNABLE.sub("var assignableRoles = workspaceRoles", text))

    found = permissions.prove(project, CLI)

    for env in ("dev", "prod"):
        expected = (
            f"the {env} CI identity may assign exactly the roles main.bicep assigns in {env} "
            f"(params/{env}.parameters.json); remove nothing, add ['Reader']"
        )
        assert any(expected in problem for problem in found), found


def test_no_ci_may_assign_the_registry_writer_role(project: Path):
    """AzureML Registry User is the bootstrap's to give (prod's CI identity), never a
    deployment's: a CI identity that could assign it could hand out writes to prod's assets."""
    bootstrap = project / "infra" / "bootstrap" / "github-oidc.bicep"
    text = bootstrap.read_text()
    added = text.replace(
        "var registryRoles = [\n",
        "var registryRoles = [\n  '1823dd4f-9b8c-4ab6-ab4e-7397a3684615' // Registry User\n",
    )
    assert added != text
    bootstrap.write_text(added)

    found = permissions.prove(project, CLI)

    for env in ("dev", "prod"):
        expected = f"the {env} CI identity may assign exactly the roles main.bicep assigns in {env}"
        assert any(expected in p and "remove ['AzureML Registry User']" in p for p in found)


def test_an_unreadable_assignable_list_is_reported(project: Path):
    bootstrap = project / "infra" / "bootstrap" / "github-oidc.bicep"
    text = bootstrap.read_text()
    bootstrap.write_text(ASSIGNABLE.sub("var assignableRoles = union(workspaceRoles, [])", text))

    found = permissions.prove(project, CLI)

    assert any("no readable `var assignableRoles` of role ids for dev" in p for p in found), found


@pytest.mark.parametrize(
    "symbol, problem",
    [
        (  # prod's jobs cannot run the promoted components
            "useAssets",
            "prod compute identity (allowInfraDeployment=true): no role grants the action "
            f"{permissions.MLR}/assets/read on the mlRegistry",
        ),
    ],
)
def test_removing_a_registry_role_fails(project: Path, symbol, problem):
    remove_resource(project / "infra" / "modules" / "ml-registry.bicep", symbol)

    found = permissions.prove(project, CLI)

    assert any(found_problem.startswith(problem) for found_problem in found), found


@pytest.mark.parametrize(
    "symbol, wider, least",
    [
        ("useAssets", "1823dd4f-9b8c-4ab6-ab4e-7397a3684615", "Reader"),  # Registry User
    ],
)
def test_a_wider_registry_role_than_needed_fails(project: Path, symbol, wider, least):
    module = project / "infra" / "modules" / "ml-registry.bicep"
    text = module.read_text()
    variable = {"useAssets": "reader"}[symbol]
    start = text.index(f"\nresource {symbol} ")
    end = text.index("\n}\n", start)
    body = text[start:end].replace(
        f"'Microsoft.Authorization/roleDefinitions', {variable})",
        f"'Microsoft.Authorization/roleDefinitions', '{wider}')",
    )
    assert body != text[start:end]
    module.write_text(text[:start] + body + text[end:])

    found = permissions.prove(project, CLI)

    assert any(
        f"{symbol}: " in problem and problem.endswith(f"; {least} suffices") for problem in found
    ), found


def test_a_project_without_the_registry_proves_too():
    for answers in ({"model_registry": "no"}, {"environments": "dev-only"}):
        root = template_project(**answers)
        assert not (root / "infra" / "modules" / "ml-registry.bicep").exists()
        assert permissions.prove(root, CLI) == [], answers


@pytest.mark.parametrize(
    "condition, values, expected",
    [
        ("allowInfraDeployment", {"allowInfraDeployment": False}, False),
        ("!allowInfraDeployment", {"allowInfraDeployment": False}, True),
        (
            "!allowInfraDeployment && environmentName == 'prod'",
            {"allowInfraDeployment": False, "environmentName": "dev"},
            False,
        ),
        ("(a || b) && c", {"a": False, "b": True, "c": True}, True),
        ("environmentName != 'prod'", {"environmentName": "prod"}, False),
        ("!empty(promoterPrincipalId)", {}, True),  # not known: counted as granted
        ("unknownFlag && b", {"b": False}, False),  # known to be false whatever the other
    ],
)
def test_conditions(condition, values, expected):
    assert permissions.holds(condition, values) is expected


def test_the_condition_is_built_from_the_list():
    text = (ROOT / "infra" / "bootstrap" / "github-oidc.bicep").read_text()
    condition = re.search(r"^var assignmentCondition = (.*)$", text, re.MULTILINE).group(1)
    assert condition.count("GuidEquals {${roleList}}") == 2  # write and delete
    assert "GuidNotEquals {${ciPrincipalId}}" in condition  # never itself
    assert "GuidNotEquals {${roleList}}" not in condition


def test_a_pull_request_job_with_the_writing_identity_fails(project: Path):
    infra = project / ".github" / "workflows" / "infra.yml"
    text = infra.read_text()
    assert "vars.AZURE_WHAT_IF_CLIENT_ID" in text
    infra.write_text(text.replace("vars.AZURE_WHAT_IF_CLIENT_ID", "vars.AZURE_CLIENT_ID"))
    found = permissions.prove(project, CLI)
    assert any(
        "what-if: logs in as the environment's identity without `environment:`" in problem
        for problem in found
    ), found


def test_a_writing_job_that_runs_for_pull_requests_fails(project: Path):
    infra = project / ".github" / "workflows" / "infra.yml"
    text = infra.read_text()
    condition = "if: github.event_name != 'pull_request'"
    assert text.count(condition) == 1  # deploy-dev
    infra.write_text(text.replace(condition, "if: always()"))
    found = permissions.prove(project, CLI)
    assert any(
        "deploy-dev: runs for pull requests with the environment's identity, which writes" in p
        for p in found
    ), found


def test_only_the_what_if_job_runs_for_pull_requests():
    jobs = permissions.workflow_jobs(ROOT, CLI)
    assert [(job.job, job.identity) for job in jobs if job.pull_request] == [("what-if", "what-if")]


def test_the_roles_azure_ml_gives_an_endpoint_cover_what_it_does():
    by_name = {role.name: role for role in permissions.ROLES.values()}
    for use in permissions.ENDPOINT_USES:
        role = by_name[permissions.ENDPOINT_ROLES[use.scope]]
        assert role.allows(use.action, use.data), (use.action, role.name)
    # and no more than that: neither role writes anything
    for name in permissions.ENDPOINT_ROLES.values():
        assert not by_name[name].allows(f"{permissions.BLOBS}/write", data=True)


def test_the_deploy_identity_may_roll_out_with_the_workspace_role_alone():
    """`deploy` needs nothing beyond AzureML Data Scientist on the workspace (and blob writes
    for the code upload, which CI's Storage Blob Data Contributor covers)."""
    by_name = {role.name: role for role in permissions.ROLES.values()}
    scientist = by_name["AzureML Data Scientist"]
    uploader = by_name["Storage Blob Data Contributor"]
    for use in permissions.COMMAND_USES["deploy"]:
        role = uploader if use.scope == "storage" else scientist
        assert role.allows(use.action, use.data), use.action
