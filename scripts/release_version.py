"""The release version: amlctl's `__version__`, which the template's `_template_version` matches.

    python scripts/release_version.py            # prints it
    python scripts/release_version.py --check v0.2.0

`--check TAG` exits 1 with one line unless TAG is `v<version>` and both places agree;
the release workflow runs it before building, so a tag can only publish what it names.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def tool_version() -> str:
    text = (ROOT / "amlctl" / "src" / "amlctl" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    if match is None:
        raise SystemExit("error: amlctl/src/amlctl/__init__.py has no __version__ line")
    return match.group(1)


def template_version() -> str:
    return json.loads((ROOT / "cookiecutter.json").read_text(encoding="utf-8"))["_template_version"]


def problems(tag: str | None) -> list[str]:
    tool, template = tool_version(), template_version()
    found = []
    if tool != template:
        found.append(f"amlctl is {tool} but cookiecutter.json's _template_version is {template}")
    if tag is not None and tag != f"v{tool}":
        found.append(f"tag {tag} does not name amlctl's version (expected v{tool})")
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", metavar="TAG", help="fail unless TAG is v<version>")
    args = parser.parse_args(argv)
    found = problems(args.check) if args.check else problems(None)
    for problem in found:
        print(f"error: {problem}", file=sys.stderr)
    if not found:
        print(tool_version())
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
