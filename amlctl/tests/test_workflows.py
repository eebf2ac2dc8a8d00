"""check-workflows on the project's own workflows, and on broken ones that must fail."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml
from fakes.template import template_project

from amlctl.checks import workflows as check
from amlctl.cli import guarded

ROOT = template_project()
WORKFLOWS = ROOT / ".github" / "workflows"
CHECKOUT = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1"
LOGIN = "azure/login@f5d393ae46f8fde4be8b75f32e3fc50e654ad0ca # v3.0.1"
# Written in two parts so that this file itself passes the check it tests.
CREDENTIALS_SECRET = "AZURE_" + "CREDENTIALS"


def expr(body: str) -> str:
    """A GitHub expression; built, not written, so the project template leaves it alone."""
    return "$" + "{" * 2 + f" {body} " + "}" * 2


def workflow(steps: str, permissions: str = "contents: read") -> str:
    return (
        "name: fixture\n"
        "on:\n  push:\n"
        "permissions: {}\n"
        "jobs:\n"
        "  build:\n"
        "    name: Build\n"
        "    runs-on: ubuntu-latest\n"
        f"    permissions:\n      {permissions}\n"
        "    steps:\n"
        f"      - name: Check out\n        uses: {CHECKOUT}\n"
        "        with:\n          persist-credentials: false\n" + steps
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'fixture'\n")
    (tmp_path / "components").mkdir()
    (tmp_path / "pipelines").mkdir()
    return tmp_path


def write(project: Path, text: str, name: str = "fixture.yml") -> Path:
    path = project / ".github" / "workflows" / name
    path.write_text(text)
    return path


def messages(problems) -> list[str]:
    return [str(problem) for problem in problems]


def test_project_workflows_pass_every_check():
    assert messages(check.check_workflows(ROOT)) == []


def test_each_workflow_says_what_it_does_and_when():
    files = check.workflow_files(ROOT)
    assert {path.name for path in files} >= {
        "ci.yml",
        "infra.yml",
        "components.yml",
        "pipelines.yml",
        "run-training.yml",
    }
    for path in files:
        assert path.read_text().startswith("# "), f"{path.name} has no header comment"


def test_jobs_that_deploy_share_a_concurrency_group_per_environment():
    for path in check.workflow_files(ROOT):
        data = yaml.safe_load(path.read_text())
        for job_id, job in data["jobs"].items():
            environment = job.get("environment")
            if environment in ("dev", "prod"):
                group = (job.get("concurrency") or {}).get("group", "")
                assert group.endswith(f"-{environment}"), f"{path.name}: {job_id}"
                assert job["concurrency"].get("cancel-in-progress") is False


def test_broken_dependabot_config_fails(project: Path):
    write(project, workflow(""))
    (project / ".github" / "dependabot.yml").write_text("version: 2\nupdates: nope\n")
    found = messages(check.check_workflows(project))
    assert len(found) == 1
    assert found[0].startswith(".github/dependabot.yml: schema: $.updates")


def test_the_fixture_itself_is_clean(project: Path):
    write(project, workflow("      - name: Hello\n        run: echo hello\n"))
    assert messages(check.check_workflows(project)) == []


def uses_line(path: Path) -> int:
    return next(
        number
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if "uses: actions/checkout@" in line
    )


def test_unpinned_action_fails(project: Path):
    path = write(project, workflow("").replace(CHECKOUT, "actions/checkout@v7"))
    found = messages(check.check_workflows(project))
    assert any(
        item.startswith(f".github/workflows/fixture.yml:{uses_line(path)}:")
        and "not pinned" in item
        for item in found
    ), found
    assert any("zizmor unpinned-uses" in item for item in found), found


def test_pin_without_version_comment_fails(project: Path):
    path = write(project, workflow("").replace(" # v7.0.1", ""))
    found = messages(check.check_workflows(project))
    assert found == [
        f".github/workflows/fixture.yml:{uses_line(path)}: action "
        "'actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1' needs a '# vX.Y.Z' "
        "comment naming the pinned version"
    ]


def test_template_injection_fails(project: Path):
    message = expr("github.event.head_commit.message")
    step = f'      - name: Greet\n        run: echo "{message}"\n'
    write(project, workflow(step))
    found = messages(check.check_workflows(project))
    assert any("build.Greet: zizmor template-injection" in item for item in found), found


def test_shellcheck_error_points_at_the_workflow_line(project: Path):
    step = "      - name: Move\n        run: |\n          echo start\n          cd $HOME/work\n"
    path = write(project, workflow(step))
    line = path.read_text().splitlines().index("          cd $HOME/work") + 1
    found = messages(check.check_workflows(project))
    assert f".github/workflows/fixture.yml:{line}: build.Move: shellcheck SC2164" in " ".join(
        found
    ), found
    assert all("fixture.yml" in item and "build.Move: shellcheck" in item for item in found)


def test_expressions_are_replaced_before_shellcheck(project: Path):
    step = f"      - name: Safe\n        env:\n          SHA: {expr('github.sha')}\n"
    step += '        run: echo "$SHA"\n'
    write(project, workflow(step))
    assert messages(check.check_workflows(project)) == []


def test_credentials_secret_mention_fails_anywhere(project: Path):
    write(project, workflow(""))
    (project / "README.md").write_text(f"Store the JSON in {CREDENTIALS_SECRET}.\n")
    found = messages(check.check_workflows(project))
    assert len(found) == 1
    assert found[0].startswith("README.md:1: mentions " + CREDENTIALS_SECRET)


def test_login_with_a_secret_fails(project: Path):
    step = (
        f"      - name: Login\n        uses: {LOGIN}\n        with:\n"
        f"          creds: {expr('secrets.' + CREDENTIALS_SECRET)}\n"
    )
    write(project, workflow(step, permissions="contents: read\n      id-token: write"))
    found = " | ".join(messages(check.check_workflows(project)))
    assert "build.Login: azure/login must use OIDC, not 'creds'" in found
    assert f"azure/login client-id must be {expr('vars.AZURE_CLIENT_ID')}" in found
    assert f"uses the repository secret {CREDENTIALS_SECRET}" in found


def test_oidc_login_needs_id_token_in_that_job_only(project: Path):
    step = f"      - name: Login\n        uses: {LOGIN}\n        with:\n" + "".join(
        f"          {name}: {expr('vars.' + variable)}\n"
        for name, variable in check.OIDC_INPUTS.items()
    )
    write(project, workflow(step))
    found = messages(check.check_workflows(project))
    assert found == [
        ".github/workflows/fixture.yml:6: build: logs in to Azure but lacks id-token: write"
    ]
    write(project, workflow(step, permissions="contents: read\n      id-token: write"))
    assert messages(check.check_workflows(project)) == []


def login_job(install: str, client_id: str = "AZURE_CLIENT_ID") -> str:
    inputs = {**{n: v for n, v in check.OIDC_INPUTS.items()}, "client-id": client_id}
    step = f"      - name: Install\n        run: {install}\n"
    step += f"      - name: Login\n        uses: {LOGIN}\n        with:\n" + "".join(
        f"          {name}: {expr('vars.' + variable)}\n" for name, variable in inputs.items()
    )
    return workflow(step, permissions="contents: read\n      id-token: write")


def lock(project: Path, name: str, text: str) -> None:
    (project / "requirements").mkdir(exist_ok=True)
    (project / "requirements" / name).write_text(text)


LOCKED = "python -m pip install --require-hashes --no-deps -r requirements/deploy.txt"
HASHED = (
    "amlctl==1.0.0 \\\n    --hash=sha256:"
    + "a" * 64
    + "\nidna==3.10 ; python_version < '3.12' \\\n    --hash=sha256:"
    + "b" * 64
    + "\n"
)


def test_token_job_installing_hash_locked_files_passes(project: Path):
    lock(project, "deploy.txt", HASHED)
    write(project, login_job(LOCKED))
    assert messages(check.check_workflows(project)) == []


def test_pull_request_job_may_log_in_as_the_what_if_identity(project: Path):
    lock(project, "deploy.txt", HASHED)
    write(project, login_job(LOCKED, client_id="AZURE_WHAT_IF_CLIENT_ID"))
    assert messages(check.check_workflows(project)) == []
    write(project, login_job(LOCKED, client_id="SOMETHING_ELSE"))
    assert any("client-id must be" in m for m in messages(check.check_workflows(project)))


@pytest.mark.parametrize(
    "install",
    [
        "python -m pip install .",
        "pip install -r requirements/deploy.txt",
        "pip install --no-deps amlctl",
    ],
)
def test_token_job_installing_unlocked_packages_fails(project: Path, install: str):
    lock(project, "deploy.txt", HASHED)
    write(project, login_job(install))
    found = messages(check.check_workflows(project))
    assert any("holds id-token: write, so install only requirement files" in m for m in found), (
        found
    )


def test_token_job_with_a_loose_pin_in_its_lock_fails(project: Path):
    lock(project, "deploy.txt", HASHED + "requests>=2 \\\n    --hash=sha256:" + "c" * 64 + "\n")
    write(project, login_job(LOCKED))
    found = messages(check.check_workflows(project))
    assert found == [
        "requirements/deploy.txt: 'requests>=2' is not pinned exactly (name==version) with its "
        "hashes; build in .github/workflows/fixture.yml installs it with an Azure token"
    ]


def test_token_job_installing_an_index_pin_without_a_hash_fails(project: Path):
    """The deploy.in every project had: a name anyone could register on the index first."""
    lock(project, "deploy.txt", HASHED)
    lock(project, "deploy.in", "# what the jobs install\namlctl==0.2.0\n")
    install = LOCKED + " && python -m pip install --no-deps -r requirements/deploy.in"
    write(project, login_job(install))
    assert messages(check.check_workflows(project)) == [
        "requirements/deploy.in: 'amlctl==0.2.0' is pinned without a hash (add "
        "--hash=sha256:..., or pin a commit); build in .github/workflows/fixture.yml installs "
        "it with an Azure token"
    ]


SHA = "0123456789abcdef0123456789abcdef01234567"
FROM_COMMIT = "python -m pip install --no-deps --no-build-isolation -r requirements/deploy.in"


def test_token_job_installing_the_tool_from_a_commit_passes(project: Path):
    lock(project, "deploy.txt", HASHED)
    pin = f"amlctl @ git+https://github.com/o/template.git@{SHA}#subdirectory=amlctl\n"
    lock(project, "deploy.in", pin)
    write(project, login_job(f"{LOCKED} && {FROM_COMMIT}"))
    assert messages(check.check_workflows(project)) == []
    # built in an isolated environment, pip would fetch setuptools unhashed from the index
    write(project, login_job(f"{LOCKED} && {FROM_COMMIT.replace(' --no-build-isolation', '')}"))
    found = messages(check.check_workflows(project))
    assert len(found) == 1 and "install it with --no-build-isolation" in found[0], found


@pytest.mark.parametrize(
    "pin",
    [
        "amlctl @ git+https://github.com/o/template.git@main#subdirectory=amlctl",
        "amlctl @ git+https://github.com/o/template.git@v0.2.0#subdirectory=amlctl",
        "amlctl @ git+https://github.com/o/template.git@0123456#subdirectory=amlctl",
        "amlctl @ git+https://github.com/o/template.git#subdirectory=amlctl",
        "amlctl @ https://example.com/amlctl-0.2.0.tar.gz",
    ],
)
def test_token_job_installing_a_movable_url_fails(project: Path, pin: str):
    lock(project, "deploy.txt", HASHED)
    lock(project, "deploy.in", pin + "\n")
    write(project, login_job(f"{LOCKED} && {FROM_COMMIT}"))
    found = messages(check.check_workflows(project))
    assert len(found) == 1 and "not pinned to a full commit" in found[0], found


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (
            "conn = 'DefaultEndpointsProtocol=https;AccountName=a;AccountKey="
            + "Zm9vYmFyYmF6cXV4" * 3
            + "=='\n",
            "storage account key",
        ),
        ('client_secret = "' + "Ab1" + "8Q~" + "k" * 34 + '"\n', "client secret"),
        ('db_password: "' + "s3cr3t-Value-42" + '"\n', "written as a literal"),
        ("-----BEGIN " + "RSA PRIVATE KEY-----\n", "private key"),
    ],
)
def test_secret_like_values_fail(project: Path, text: str, kind: str):
    (project / "settings.py").write_text(text)
    found = messages(check.check_secrets(project))
    assert len(found) >= 1
    assert found[0].startswith("settings.py:1: looks like")
    assert kind in found[0]


def test_placeholders_and_variables_are_not_secrets(project: Path):
    (project / "settings.yml").write_text(
        f"password: {expr('secrets.GITHUB_TOKEN')}\n"
        'api_key: "<your-key>"\n'
        'secret: "changeme-example"\n'
        "secret_name: my-secret-name-here\n"
    )
    assert messages(check.check_secrets(project)) == []


def test_virtualenvs_and_caches_are_not_scanned(project: Path):
    leak = 'password = "' + "hunter2hunter2" + '"\n'
    for folder in (".venv/lib", "env-tools/lib", ".cache"):
        (project / folder).mkdir(parents=True)
        (project / folder / "leak.py").write_text(leak)
    (project / "env-tools" / "pyvenv.cfg").write_text("home = /usr\n")
    (project / ".github" / "leak.py").write_text(leak)
    found = messages(check.check_secrets(project))
    assert [item.split(":")[0] for item in found] == [".github/leak.py"]


def test_cli_exits_non_zero_with_file_and_step(project: Path, monkeypatch, capsys):
    write(project, workflow("      - name: Move\n        run: cd $HOME\n"))
    monkeypatch.chdir(project)
    assert guarded(check.main, argparse.Namespace()) == 1
    err = capsys.readouterr().err
    assert ".github/workflows/fixture.yml:" in err
    assert "build.Move: shellcheck" in err
