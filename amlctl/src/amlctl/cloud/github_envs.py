"""`github-environments`: protect the GitHub environments whose jobs get Azure tokens.

Each environment's Azure identity trusts every GitHub job that runs in the environment of
the same name (federated credential subject ``repo:<owner>/<repo>:environment:<env>``). An
unprotected environment lets anyone with write access dispatch a workflow and get that
identity's token, and lets a pull request's workflow declare the environment. So:

- every environment (one per ``config/<env>.yml``) deploys from ``main`` only (a custom
  deployment branch policy), which keeps pull-request jobs out of it;
- every environment but ``dev`` also needs an approval from the required reviewers, and a
  reviewer cannot approve their own run.

``amlctl github-environments --repo OWNER/NAME --reviewer LOGIN [--reviewer ORG/TEAM]``
creates or updates the environments through GitHub's REST API (a token with the
repository's administration right, e.g. ``GH_TOKEN=$(gh auth token)``).
``amlctl github-environments --check`` only reads them and fails while one is not
protected; CI runs it, so an unprotected prod makes CI red.

The API is ``$GITHUB_API_URL`` (set in GitHub Actions; default https://api.github.com),
the token ``$GITHUB_TOKEN`` or ``$GH_TOKEN``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..project import ProjectError, layout, project_root

DEFAULT_API = "https://api.github.com"
API_VERSION = "2022-11-28"
UNREVIEWED = {"dev"}  # environments that deploy from main without an approval
REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")


class GitHubError(ProjectError):
    exit_code = 1


@dataclass
class GitHub:
    """A minimal GitHub REST client (stdlib only)."""

    api: str
    token: str | None
    timeout: float = 30.0

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 (the URL is GitHub's API or a test fake)
            self.api.rstrip("/") + path, data=data, method=method
        )
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("X-GitHub-Api-Version", API_VERSION)
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                payload = json.loads(raw) if raw else None
            except ValueError:
                payload = raw.decode(errors="replace")
            return exc.code, payload
        except urllib.error.URLError as exc:
            raise GitHubError(f"cannot reach the GitHub API at {self.api}: {exc.reason}") from exc

    def call(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200,)) -> Any:
        status, payload = self.request(method, path, body)
        if status not in ok:
            message = payload.get("message") if isinstance(payload, dict) else payload
            hint = ""
            if status in (401, 403):
                hint = " (the token needs the repository's administration right)"
            raise GitHubError(f"GitHub API {method} {path}: {status} {message}{hint}")
        return payload


def job_environments(root) -> set[str]:
    """Environments that the project's workflow jobs name literally (``environment: prod``).

    A job's environment is what its federated credential trusts, so each one named must be
    protected, whether or not the project has a config file for it (a ``promote``
    environment, say). A name chosen at run time (an expression) is one of the config's.
    """
    import yaml

    names: set[str] = set()
    for path in sorted((Path(root) / ".github" / "workflows").glob("*.y*ml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise ProjectError(f"{path}: cannot read the workflow ({error})") from None
        jobs = data.get("jobs") if isinstance(data, dict) else None
        for job in (jobs or {}).values() if isinstance(jobs, dict) else ():
            environment = job.get("environment") if isinstance(job, dict) else None
            if isinstance(environment, dict):
                environment = environment.get("name")
            if isinstance(environment, str) and environment and "$" + "{" * 2 not in environment:
                names.add(environment)
    return names


def environments_of(root) -> list[str]:
    folder = layout(root).config
    names = sorted({path.stem for path in folder.glob("*.yml")} | job_environments(root))
    if not names:
        raise ProjectError(f"{folder}: no <env>.yml files, so no environments to protect")
    return names


def _env_path(repository: str, environment: str) -> str:
    return f"/repos/{repository}/environments/{quote(environment, safe='')}"


def resolve_reviewer(github: GitHub, reviewer: str) -> dict[str, Any]:
    """``login`` -> a user; ``org/team-slug`` -> a team; as GitHub's reviewer objects."""
    if "/" in reviewer:
        org, slug = reviewer.split("/", 1)
        team = github.call("GET", f"/orgs/{quote(org)}/teams/{quote(slug)}")
        return {"type": "Team", "id": team["id"]}
    user = github.call("GET", f"/users/{quote(reviewer)}")
    return {"type": "User", "id": user["id"]}


def protect(
    github: GitHub,
    repository: str,
    environments: list[str],
    reviewers: list[str],
    branch: str = "main",
) -> list[str]:
    """Create or update each environment's protection; lines saying what was done."""
    needs_reviewers = [env for env in environments if env not in UNREVIEWED]
    if needs_reviewers and not reviewers:
        raise ProjectError(
            f"environment(s) {', '.join(needs_reviewers)} need required reviewers: "
            "pass --reviewer LOGIN (or --reviewer ORG/TEAM) at least once"
        )
    resolved = [resolve_reviewer(github, reviewer) for reviewer in reviewers]
    done = []
    for environment in environments:
        body: dict[str, Any] = {
            "deployment_branch_policy": {
                "protected_branches": False,
                "custom_branch_policies": True,
            }
        }
        if environment not in UNREVIEWED:
            body |= {"reviewers": resolved, "prevent_self_review": True, "wait_timer": 0}
        github.call("PUT", _env_path(repository, environment), body)
        policies_path = _env_path(repository, environment) + "/deployment-branch-policies"
        listed = github.call("GET", policies_path) or {}
        current = listed.get("branch_policies") or []
        for policy in current:
            if (policy.get("name"), policy.get("type", "branch")) != (branch, "branch"):
                github.call("DELETE", f"{policies_path}/{policy['id']}", ok=(200, 204))
        if not any((p.get("name"), p.get("type", "branch")) == (branch, "branch") for p in current):
            github.call("POST", policies_path, {"name": branch, "type": "branch"})
        rule = f"deploys from {branch} only"
        if environment not in UNREVIEWED:
            rule += f", needs approval by {', '.join(reviewers)} (not self-approval)"
        done.append(f"{environment}: {rule}")
    return done


def problems_of(
    github: GitHub, repository: str, environments: list[str], branch: str = "main"
) -> list[str]:
    """Why each environment is not protected (empty when all are)."""
    problems = []
    for environment in environments:
        status, found = github.request("GET", _env_path(repository, environment))
        if status == 404:
            problems.append(f"{environment}: the GitHub environment does not exist")
            continue
        if status != 200 or not isinstance(found, dict):
            message = found.get("message") if isinstance(found, dict) else found
            problems.append(f"{environment}: cannot read it (GitHub API {status} {message})")
            continue
        policy = found.get("deployment_branch_policy") or {}
        if not policy.get("custom_branch_policies"):
            problems.append(
                f"{environment}: any branch can deploy to it (no deployment branch policy "
                f"restricting it to {branch})"
            )
        else:
            listed = github.call(
                "GET", _env_path(repository, environment) + "/deployment-branch-policies"
            )
            names = sorted(
                str(p.get("name"))
                for p in (listed or {}).get("branch_policies") or []
                if p.get("type", "branch") == "branch"
            )
            if names != [branch]:
                problems.append(
                    f"{environment}: deploys from {names or 'no branch'}, not from {branch} only"
                )
        if environment in UNREVIEWED:
            continue
        rules = found.get("protection_rules") or []
        reviewers = [
            reviewer
            for rule in rules
            if rule.get("type") == "required_reviewers"
            for reviewer in rule.get("reviewers") or []
        ]
        if not reviewers:
            problems.append(
                f"{environment}: no required reviewers, so anyone with write access can run "
                "its jobs and get its Azure token"
            )
        elif not any(
            rule.get("prevent_self_review")
            for rule in rules
            if rule.get("type") == "required_reviewers"
        ):
            problems.append(f"{environment}: a reviewer may approve their own run")
    return problems


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--repo",
        metavar="OWNER/NAME",
        help="GitHub repository (default: $GITHUB_REPOSITORY, set in GitHub Actions)",
    )
    parser.add_argument(
        "--reviewer",
        action="append",
        default=[],
        metavar="LOGIN|ORG/TEAM",
        help="required reviewer of every environment but dev (repeat for more)",
    )
    parser.add_argument("--branch", default="main", help="the only branch that may deploy")
    parser.add_argument(
        "--check",
        action="store_true",
        help="change nothing; fail while an environment is unprotected",
    )


def client_from_environment() -> GitHub:
    token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
    return GitHub(os.environ.get("GITHUB_API_URL") or DEFAULT_API, token)


def main(args: argparse.Namespace, github: GitHub | None = None) -> int:
    repository = args.repo or os.environ.get("GITHUB_REPOSITORY")
    if not repository:
        raise ProjectError("name the repository: --repo OWNER/NAME (or set GITHUB_REPOSITORY)")
    if not REPOSITORY.match(repository):
        raise ProjectError(f"--repo {repository!r} is not OWNER/NAME")
    environments = environments_of(project_root())
    github = github or client_from_environment()
    if not github.token:
        raise ProjectError("no GitHub token: set GITHUB_TOKEN or GH_TOKEN (e.g. $(gh auth token))")
    if args.check:
        problems = problems_of(github, repository, environments, args.branch)
        for problem in problems:
            print(f"{repository}: {problem}", file=sys.stderr)
        if problems:
            print(
                f"github-environments: {len(problems)} problem(s); protect them with "
                f"`amlctl github-environments --repo {repository} --reviewer <login>`",
                file=sys.stderr,
            )
            return 1
        print(f"github-environments: {', '.join(environments)} of {repository} are protected")
        return 0
    for line in protect(github, repository, environments, args.reviewer, args.branch):
        print(f"{repository} {line}")
    return 0
