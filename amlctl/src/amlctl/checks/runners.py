"""Runners that can reach an isolated workspace (run by check-workflows).

With network isolation (``networkIsolation`` true in ``infra/params/<env>.parameters.json``)
the workspace, its storage and the registry of that environment accept data-plane calls
only from inside its virtual network. A GitHub-hosted runner (``ubuntu-latest`` and the
like) is outside it, so a job that calls the data plane there fails at its first request.
Such a job must run on the environment's private runner, named by the repository variable
``PRIVATE_RUNNER_<ENV>`` (GitHub-hosted runners with Azure private networking, see
``infra/README.md``). Control-plane-only jobs (``amlctl provision``: ARM deployments) may
stay on hosted runners.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .problems import Problem, line_of, relative

PARAMS_DIR = Path("infra") / "params"
# amlctl commands that call the workspace, storage or registry data plane.
DATA_PLANE_COMMANDS = ("register", "publish", "submit", "deploy", "promote", "serve")
DATA_PLANE_CALL = re.compile(
    r"\bamlctl\s+(" + "|".join(DATA_PLANE_COMMANDS) + r")\b|\baz\s+ml\s+[a-z]"
)
# GitHub expression delimiters, spelled so that the template engine leaves this file alone.
OPEN, CLOSE = "$" + "{" * 2, "}" * 2
HOSTED_LABEL = re.compile(r"^(ubuntu|windows|macos)-[a-z0-9.]+$")
RUNNER_VARIABLE = re.compile(r"\bvars\.PRIVATE_RUNNER_([A-Za-z0-9_]+)\b")


def runner_variable(environment: str) -> str:
    """The repository variable that names ``environment``'s private runner."""
    return "PRIVATE_RUNNER_" + re.sub(r"[^A-Za-z0-9]", "_", environment).upper()


def isolated_environments(root: Path) -> tuple[set[str], list[Problem]]:
    """Environments whose parameters file sets networkIsolation true."""
    isolated: set[str] = set()
    problems: list[Problem] = []
    for path in sorted((root / PARAMS_DIR).glob("*.parameters.json")):
        environment = path.name[: -len(".parameters.json")]
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            value = data["parameters"].get("networkIsolation", {}).get("value", False)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            reason = error.args[0] if isinstance(error, KeyError) else error
            problems.append(
                Problem(relative(path, root), f"cannot read networkIsolation: {reason}")
            )
            continue
        if value is True:
            isolated.add(environment)
    return isolated, problems


def _job_text(job: dict[str, Any]) -> str:
    steps = job.get("steps") or []
    return "\n".join(
        str(step.get("run", "")) for step in steps if isinstance(step, dict) and "run" in step
    )


def check_runners(path: Path, data: Any, root: Path, isolated: set[str]) -> list[Problem]:
    """Each data-plane job of an isolated environment runs on that environment's runner."""
    if not isolated or not isinstance(data, dict):
        return []
    where = relative(path, root)
    text = path.read_text(encoding="utf-8")
    problems: list[Problem] = []
    for job_id, job in (data.get("jobs") or {}).items():
        if not isinstance(job, dict):
            continue
        call = DATA_PLANE_CALL.search(_job_text(job))
        if call is None:
            continue
        environment = job.get("environment")
        if isinstance(environment, dict):
            environment = environment.get("name")
        environment = str(environment or "")
        # An environment chosen at run time may be any isolated one.
        targets = set(isolated) if OPEN in environment else {environment} & isolated
        if not targets:
            continue
        match = re.search(rf"^\s+{re.escape(str(job_id))}:", text, re.MULTILINE)
        line = line_of(text, match.start()) if match else None
        runs_on = job.get("runs-on")
        labels = runs_on if isinstance(runs_on, list) else [runs_on]
        labels = [str(label) for label in labels if label is not None]
        hosted = [label for label in labels if HOSTED_LABEL.match(label.strip())]
        named = {name.upper() for label in labels for name in RUNNER_VARIABLE.findall(label)}
        wanted = {runner_variable(target)[len("PRIVATE_RUNNER_") :] for target in targets}
        if hosted or not labels:
            problems.append(
                Problem(
                    where,
                    f"{job_id}: runs '{call.group(0)}' against the isolated environment "
                    f"{', '.join(sorted(targets))} on the GitHub-hosted runner "
                    f"{', '.join(hosted) or '(none)'}, which cannot reach its private "
                    f"endpoints; use runs-on: "
                    f"{OPEN} vars.{runner_variable(sorted(targets)[0])} {CLOSE}",
                    line,
                )
            )
        elif not wanted <= named:
            missing = ", ".join(f"vars.PRIVATE_RUNNER_{name}" for name in sorted(wanted - named))
            problems.append(
                Problem(
                    where,
                    f"{job_id}: runs '{call.group(0)}' against the isolated environment "
                    f"{', '.join(sorted(targets))}, but runs-on does not name {missing}",
                    line,
                )
            )
    return problems
