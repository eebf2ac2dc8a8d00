"""The `amlctl` command line: a thin table of sub-commands, one exception boundary.

Each command lives in its own module exposing ``configure(parser)`` and
``main(args) -> int``. Command modules keep heavy imports (``azure.ai.ml``,
``mlflow``, ``sklearn``) inside their functions, so ``--help`` starts fast.
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

from .problems import os_problem
from .project import ProjectError

PROG = "amlctl"
DESCRIPTION = (
    "amlctl: validate an Azure ML project offline, run its pipelines on this machine with "
    "Azure ML's semantics, and provision, register, publish, serve and deploy it on Azure."
)
VERBOSE_ENV = "AMLCTL_VERBOSE"  # set by --verbose: messages keep the details they fold away

# name -> (module relative to this package, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "new": (".create", "Create a project from the Azure ML project template."),
    "validate": (".validation.command", "Validate Azure ML YAML and Python pipelines offline."),
    "run": (".local_run.command", "Run a pipeline on this machine (--local)."),
    "check-infra": (".checks.infra", "Parse, scan and cross-check the Bicep in infra/."),
    "check-workflows": (".checks.workflows", "Lint the GitHub Actions workflows."),
    "provision": (".cloud.provision", "Deploy infra/main.bicep to an environment."),
    "register": (".cloud.register", "Register environments, data assets and components."),
    "publish": (".cloud.publish", "Publish pipelines: component, batch endpoint, schedules."),
    "submit": (".cloud.submit", "Submit a pipeline job to the workspace."),
    "invoke": (".cloud.invoke", "Invoke the published batch endpoint over REST."),
    "runs": (".runs.command", "List local runs, or compare two or more (runs compare A B)."),
    "ui": (".runs.ui", "MLflow's own UI over the local runs (127.0.0.1; uv builds it once)."),
    "serve": (".serving.local", "Serve the latest local model with Azure ML's inference server."),
    "deploy": (".cloud.deploy", "Blue/green rollout of the model to the online endpoint."),
    "promote": (".cloud.promote", "Copy dev's model, components, environment to the registry."),
    "github-environments": (".cloud.github_envs", "Protect the GitHub environments (--check)."),
}


def _load(name: str):
    return importlib.import_module(COMMANDS[name][0], __package__)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Build the parser; only the chosen command's module is imported."""
    from . import __version__

    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="print the details a one-line error leaves out (e.g. each Azure credential tried)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            _load(name).configure(sub_parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run the command inside the tool's one exception boundary.

    Commands raise ``ProjectError`` (or let an Azure SDK error through); ``guarded`` prints
    it as one line, so no command catches and prints errors of its own.
    """
    argv = sys.argv[1:] if argv is None else argv
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    command = first if first in COMMANDS else None
    args = build_parser(command).parse_args(argv)
    if args.verbose:
        os.environ[VERBOSE_ENV] = "1"
    return guarded(_load(args.command).main, args)


def guarded(command: Callable[..., int | None], *args: Any, **kwargs: Any) -> int:
    """Run a command; errors a user can fix print one ``error:`` line and give its exit code."""
    try:
        return int(command(*args, **kwargs) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except ProjectError as exc:
        for line in str(exc).splitlines() or [""]:  # one line per problem, each an error
            print(f"error: {line}", file=sys.stderr)
        return getattr(exc, "exit_code", 2)
    except OSError as exc:  # a full disk, a read-only or vanished file: what, where, what to do
        print(f"error: {os_problem(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:
        if not _is_azure_error(exc):
            raise
        # azure-core's errors and the Azure ML SDK's validation errors carry readable messages
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def _is_azure_error(exc: Exception) -> bool:
    return type(exc).__module__.startswith("azure.")


def entry() -> None:
    """The ``amlctl`` program: ``main``, then an exit that skips tearing the interpreter down.

    Once azure-ai-ml is imported (thousands of modules), Python's own teardown at exit
    takes about 0.5 s: a run that built its graph, or any ``validate``, paid it after its
    work was done. The exit handlers (logging's flush among them) still run first.
    """
    code = main()
    try:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # leave it to the normal exit path
        sys.exit(code)
    os._exit(code)


if __name__ == "__main__":
    entry()
