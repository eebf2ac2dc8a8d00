"""Content versions: an asset's version is a hash of what it is made of.

An unchanged asset gets the same version, so registering it again is a lookup, never a new
version, and a run that failed half-way can simply be repeated.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

VERSION_LENGTH = 12
ALWAYS_IGNORED = ("__pycache__/", "*.pyc", ".pytest_cache/", ".ruff_cache/", ".DS_Store")


def normalized_definition(definition: dict[str, Any]) -> bytes:
    """The definition without its version, key order and YAML formatting."""
    cleaned = {key: value for key, value in definition.items() if key != "version"}
    return json.dumps(cleaned, sort_keys=True, separators=(",", ":"), default=str).encode()


def ignore_patterns(folder: Path) -> list[str]:
    """Patterns of .amlignore (or .gitignore, as Azure ML does) in the folder, plus caches."""
    patterns = list(ALWAYS_IGNORED)
    for name in (".amlignore", ".gitignore"):
        path = folder / name
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    patterns.append(line)
            break
    return patterns


def _ignored(relative: PurePosixPath, patterns: list[str], is_dir: bool) -> bool:
    ignored = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        dir_only = pattern.endswith("/")
        pattern = pattern.strip("/")
        if dir_only and not is_dir:
            continue
        anchored = "/" in pattern
        text = str(relative)
        hit = (
            fnmatch.fnmatch(text, pattern) if anchored else fnmatch.fnmatch(relative.name, pattern)
        )
        if hit:
            ignored = not negate
    return ignored


def folder_files(folder: Path) -> list[Path]:
    """Files of a code folder that Azure ML would upload (ignore files applied), sorted."""
    if folder.is_file():
        return [folder]
    patterns = ignore_patterns(folder)
    found: list[Path] = []

    def walk(current: Path) -> None:
        for child in sorted(current.iterdir()):
            relative = PurePosixPath(child.relative_to(folder).as_posix())
            if _ignored(relative, patterns, child.is_dir()):
                continue
            if child.is_dir():
                walk(child)
            elif child.is_file():
                found.append(child)

    if folder.is_dir():
        walk(folder)
    return found


def content_version(
    definition: dict[str, Any],
    folders: Iterable[Path] = (),
    extra: Iterable[str] = (),
) -> str:
    """First 12 hex digits of a sha256 over definition, folder contents and extra strings."""
    digest = hashlib.sha256(normalized_definition(definition))
    for folder in folders:
        for path in folder_files(folder):
            relative = path.name if folder.is_file() else path.relative_to(folder).as_posix()
            digest.update(b"\0file\0" + relative.encode() + b"\0")
            # Line endings differ between checkouts (Windows, Linux); the content does not.
            digest.update(path.read_bytes().replace(b"\r\n", b"\n"))
    for item in extra:
        digest.update(b"\0extra\0" + item.encode())
    return digest.hexdigest()[:VERSION_LENGTH]
