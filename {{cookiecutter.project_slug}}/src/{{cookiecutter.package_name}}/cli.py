"""Command-line entry point: a thin table of sub-commands.

Each command lives in its own module exposing ``configure(parser)`` and
``main(args) -> int``. Command modules keep heavy imports (``azure.ai.ml``,
``mlflow``, ``sklearn``) inside their functions, so ``--help`` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

PROG = "{{ cookiecutter.__cli_name }}"

# name -> (module relative to this package, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": (".validation.command", "Validate every Azure ML YAML offline."),
    "run": (".local_run.command", "Run a pipeline on this machine (--local)."),
    "check-infra": (".checks.infra", "Parse, scan and cross-check the Bicep in infra/."),
    "check-workflows": (".checks.workflows", "Lint the GitHub Actions workflows."),
    "provision": (".cloud.provision", "Deploy infra/main.bicep to an environment."),
    "register": (".cloud.register", "Register environments, data assets and components."),
    "publish": (".cloud.publish", "Publish pipelines: component, batch endpoint, schedules."),
    "submit": (".cloud.submit", "Submit a pipeline job to the workspace."),
    "invoke": (".cloud.invoke", "Invoke the published batch endpoint over REST."),
}


def _load(name: str):
    return importlib.import_module(COMMANDS[name][0], __package__)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Build the parser; only the chosen command's module is imported."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            _load(name).configure(sub_parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    command = first if first in COMMANDS else None
    args = build_parser(command).parse_args(argv)
    try:
        return int(_load(args.command).main(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
