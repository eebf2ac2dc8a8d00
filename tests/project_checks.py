"""Checks on a baked project's files that need nothing installed."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import yaml

# `${{ ... }}` stays on purpose in two languages: GitHub Actions and Azure ML bindings.
ALLOWED_EXPRESSION = re.compile(
    r"\$\{\{\s*(?:github|vars|secrets|env|steps|needs|matrix|runner|job|jobs|inputs|strategy"
    r"|outputs|parent|search_space|name)\b"
)
JINJA_LEFTOVER = re.compile(r"\{\{|\{%|\{#|%\}|cookiecutter\.")
# Python's f-strings use `{{`, `}}` and `%}` themselves; there, look for Jinja's own syntax.
JINJA_LEFTOVER_IN_PYTHON = re.compile(r"\{%|\{#-?\s|cookiecutter\.")


def files(project: Path) -> set[str]:
    """Every file in the project, as POSIX paths relative to it."""
    return {
        path.relative_to(project).as_posix()
        for path in project.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(project).parts
    }


def text_of(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None


def leftover_jinja(project: Path) -> list[str]:
    """`file:line: text` for every template expression that should have been rendered."""
    found = []
    for relative in sorted(files(project)):
        text = text_of(project / relative)
        if text is None:
            continue
        leftover = JINJA_LEFTOVER_IN_PYTHON if relative.endswith(".py") else JINJA_LEFTOVER
        for number, line in enumerate(text.splitlines(), start=1):
            cleaned = ALLOWED_EXPRESSION.sub("", line)
            if ALLOWED_EXPRESSION.search(line):
                # an allowed expression's closing braces are not leftovers
                cleaned = re.sub(r"\}\}", "", cleaned)
            if leftover.search(cleaned):
                found.append(f"{relative}:{number}: {line.strip()[:120]}")
    return found


def parse_errors(project: Path) -> list[str]:
    """Every YAML, JSON and TOML file must parse; returns `file: error` for those that do not."""
    errors = []
    for relative in sorted(files(project)):
        path = project / relative
        try:
            if path.suffix in {".yml", ".yaml"}:
                list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
            elif path.suffix == ".json":
                json.loads(path.read_text(encoding="utf-8"))
            elif path.suffix == ".toml":
                tomllib.loads(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, ValueError) as error:
            errors.append(f"{relative}: {error}")
    return errors


def data_file_count(project: Path) -> int:
    return sum(1 for f in files(project) if Path(f).suffix in {".yml", ".yaml", ".json", ".toml"})
