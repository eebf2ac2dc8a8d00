"""Regenerate the hash-locked requirements the generated project's Azure-token jobs install.

GitHub jobs that hold `id-token: write` (deploy, register, publish, submit) install only
`requirements/deploy.txt`: amlctl's whole dependency closure, every package pinned with
its hashes, universal across the Python versions the template supports, installed with
`pip install --require-hashes --no-deps`; then amlctl itself, exactly as
`requirements/deploy.in` pins it, with `--no-deps`. Dependabot keeps the lock current in
each project; run this in the template when amlctl's dependencies change:

    python scripts/lock_deploy.py               # amlctl's dependencies, from amlctl/pyproject.toml
    python scripts/lock_deploy.py --released    # after the release: amlctl==<version> from PyPI too

`--released` compiles `requirements/deploy.in` (amlctl==<template version>) against PyPI, so
the lock holds amlctl's own hashes as well; it needs that release to be on PyPI.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent
LOCK = TEMPLATE / "{{cookiecutter.project_slug}}" / "requirements" / "deploy.txt"
OLDEST_PYTHON = "3.11"  # the oldest Python the template offers (cookiecutter.json)
HEADER = """\
# Every package the Azure-token jobs (deploy, register, publish, submit) install, pinned
# with hashes: `pip install --require-hashes --no-deps -r requirements/deploy.txt`, then
# amlctl as requirements/deploy.in pins it (a commit), built with the setuptools locked
# here (`--no-build-isolation`). Dependabot updates it; regenerate it with
#   uv pip compile {source} build-backend.in --universal --generate-hashes --python-version {python}
"""


def uv() -> str:
    try:
        from uv import find_uv_bin
    except ImportError as exc:
        raise SystemExit("uv is not installed (requirements-dev.txt has it)") from exc
    return find_uv_bin()


def template_version() -> str:
    return json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))[
        "_template_version"
    ]


def build_backend() -> str:
    """amlctl's build requirement (setuptools), as its pyproject.toml names it."""
    import tomllib

    text = (TEMPLATE / "amlctl" / "pyproject.toml").read_text(encoding="utf-8")
    (requirement,) = tomllib.loads(text)["build-system"]["requires"]
    return requirement


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--released", action="store_true", help="lock amlctl==<version> from PyPI as well"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.released:
            source = Path(tmp) / "deploy.in"
            source.write_text(f"amlctl=={template_version()}\n", encoding="utf-8")
            shown = "requirements/deploy.in"
        else:
            source = TEMPLATE / "amlctl" / "pyproject.toml"
            shown = "<amlctl's pyproject.toml>"
        # amlctl is installed from a commit with --no-build-isolation: its build backend
        # comes from this lock too (hashed), not from the index
        backend = Path(tmp) / "build-backend.in"
        backend.write_text(f"{build_backend()}\n", encoding="utf-8")
        out = Path(tmp) / "deploy.txt"
        if LOCK.is_file():  # uv keeps the pins of an existing output: only what must move moves
            out.write_text(LOCK.read_text(encoding="utf-8"), encoding="utf-8")
        command = [
            uv(), "pip", "compile", str(source), str(backend), "--universal", "--generate-hashes",
            "--python-version", OLDEST_PYTHON, "--no-header", "--quiet", "-o", str(out),
        ]  # fmt: skip
        done = subprocess.run(command, check=False, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stderr.strip(), file=sys.stderr)
            return 1
        body = out.read_text(encoding="utf-8")
    if any(token in body for token in ("{{", "{%", "{#")):
        print("the lock holds text Jinja would read", file=sys.stderr)
        return 1
    LOCK.parent.mkdir(exist_ok=True)
    LOCK.write_text(HEADER.format(source=shown, python=OLDEST_PYTHON) + body, encoding="utf-8")
    count = len(re.findall(r"^\S+==", body, flags=re.MULTILINE))
    print(f"{count} packages locked with hashes -> {LOCK.relative_to(TEMPLATE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
