"""github-environments against a loopback fake of GitHub's REST API (real HTTP requests)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fakes.github import FakeGitHub
from fakes.template import template_project

from amlctl.cli import main

REPO = "my-org/azure-ml-project"


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:
    """A copy of the default project (config/dev.yml and config/prod.yml), as the cwd."""
    root = tmp_path / "project"
    shutil.copytree(template_project(), root)
    monkeypatch.chdir(root)
    for name in ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_REPOSITORY"):
        monkeypatch.delenv(name, raising=False)
    return root


@pytest.fixture
def github(monkeypatch):
    with FakeGitHub(REPO) as fake:
        monkeypatch.setenv("GITHUB_API_URL", fake.url)
        monkeypatch.setenv("GITHUB_TOKEN", fake.token)
        yield fake


def writes(fake: FakeGitHub) -> list[tuple[str, str]]:
    return [(method, path) for method, path, _, _ in fake.requests if method != "GET"]


def test_protect_then_check_passes(project, github, capsys):
    code = main(
        [
            "github-environments",
            "--repo",
            REPO,
            "--reviewer",
            "octocat",
            "--reviewer",
            "my-org/ml-leads",
        ]
    )
    assert code == 0, capsys.readouterr().err
    prod = github.environments["prod"]
    assert prod["reviewers"] == [{"type": "User", "id": 583231}, {"type": "Team", "id": 7000001}]
    assert prod["prevent_self_review"] is True
    assert prod["deployment_branch_policy"] == {
        "protected_branches": False,
        "custom_branch_policies": True,
    }
    assert [p["name"] for p in github.policies["prod"]] == ["main"]
    dev = github.environments["dev"]
    assert "reviewers" not in dev  # dev deploys from main without an approval
    assert [p["name"] for p in github.policies["dev"]] == ["main"]
    out = capsys.readouterr().out
    assert f"{REPO} prod: deploys from main only, needs approval by octocat, my-org/ml-leads" in out

    assert main(["github-environments", "--repo", REPO, "--check"]) == 0
    assert "dev, prod of my-org/azure-ml-project are protected" in capsys.readouterr().out
    _, _, headers, _ = github.requests[0]
    assert headers["Authorization"] == "Bearer test-token"
    assert headers["Accept"] == "application/vnd.github+json"


def test_protect_is_idempotent_and_drops_other_branches(project, github):
    args = ["github-environments", "--repo", REPO, "--reviewer", "octocat"]
    assert main(args) == 0
    github.policies["prod"].append({"id": 999, "name": "release/*", "type": "branch"})
    assert main(args) == 0
    assert [p["name"] for p in github.policies["prod"]] == ["main"]
    assert [p["name"] for p in github.policies["dev"]] == ["main"]  # not added twice


def test_check_fails_while_prod_does_not_exist(project, github, capsys, monkeypatch):
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)  # as in GitHub Actions
    assert main(["github-environments", "--check"]) == 1
    err = capsys.readouterr().err
    assert f"{REPO}: prod: the GitHub environment does not exist" in err
    assert f"{REPO}: dev: the GitHub environment does not exist" in err
    assert writes(github) == []  # --check changes nothing


def test_check_fails_when_prod_has_no_reviewers(project, github, capsys):
    assert main(["github-environments", "--repo", REPO, "--reviewer", "octocat"]) == 0
    github.environments["prod"].pop("reviewers")
    assert main(["github-environments", "--repo", REPO, "--check"]) == 1
    err = capsys.readouterr().err
    assert "prod: no required reviewers, so anyone with write access can run its jobs" in err
    assert "dev:" not in err


def test_check_fails_when_any_branch_can_deploy(project, github, capsys):
    assert main(["github-environments", "--repo", REPO, "--reviewer", "octocat"]) == 0
    github.environments["dev"]["deployment_branch_policy"] = None
    github.policies["prod"][0]["name"] = "feature/*"
    assert main(["github-environments", "--repo", REPO, "--check"]) == 1
    err = capsys.readouterr().err
    assert "dev: any branch can deploy to it" in err
    assert "prod: deploys from ['feature/*'], not from main only" in err


def test_check_fails_when_reviewers_may_approve_themselves(project, github, capsys):
    assert main(["github-environments", "--repo", REPO, "--reviewer", "octocat"]) == 0
    github.environments["prod"]["prevent_self_review"] = False
    assert main(["github-environments", "--repo", REPO, "--check"]) == 1
    assert "prod: a reviewer may approve their own run" in capsys.readouterr().err


def test_prod_without_a_reviewer_is_refused_before_any_write(project, github, capsys):
    assert main(["github-environments", "--repo", REPO]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: environment(s) prod need required reviewers")
    assert writes(github) == []


def test_unknown_reviewer_is_one_clear_line(project, github, capsys):
    assert main(["github-environments", "--repo", REPO, "--reviewer", "nobody-here"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "error: GitHub API GET /users/nobody-here: 404 Not Found"
    assert writes(github) == []


def test_bad_token_names_the_right_it_needs(project, github, capsys, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "wrong")
    assert main(["github-environments", "--repo", REPO, "--reviewer", "octocat"]) == 1
    assert "401 Bad credentials (the token needs the repository's administration right" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    "argv, env, message",
    [
        (["--check"], {}, "error: name the repository: --repo OWNER/NAME"),
        (["--repo", "not a repo", "--check"], {}, "error: --repo 'not a repo' is not OWNER/NAME"),
        (["--repo", REPO, "--check"], {"GITHUB_TOKEN": ""}, "error: no GitHub token"),
    ],
)
def test_bad_input_is_one_line(project, github, capsys, monkeypatch, argv, env, message):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(["github-environments", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1, err
    assert github.requests == []


def test_an_environment_a_job_names_is_protected_too(project, github, capsys):
    """A job in an environment without a config file (here: promote) still gets a token."""
    promote = project / ".github" / "workflows" / "promote.yml"
    text = promote.read_text()
    assert "    environment: prod\n" in text
    promote.write_text(text.replace("    environment: prod\n", "    environment: promote\n"))
    assert main(["github-environments", "--repo", REPO, "--reviewer", "octocat"]) == 0
    assert github.environments["promote"]["reviewers"] == [{"type": "User", "id": 583231}]
    assert [p["name"] for p in github.policies["promote"]] == ["main"]
    github.environments["promote"].pop("reviewers")
    assert main(["github-environments", "--repo", REPO, "--check"]) == 1
    assert "promote: no required reviewers" in capsys.readouterr().err
