"""Each job's working directory, as Azure ML prepares it.

Azure ML uploads a component's ``code`` folder as a snapshot (leaving out what
``.amlignore``, or else ``.gitignore``, excludes, in every folder), and runs the job
in a fresh copy of it, with ``./outputs`` and ``./logs`` created; what the job writes
there becomes the job's artifacts (its default ``artifacts`` output). Here too: a
script that writes to its current directory never touches the source folder, never
sees another job's or trial's files, and never changes a later run's cache key.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
from pathlib import Path

IGNORE_FILES = (".amlignore", ".gitignore")
ALWAYS_IGNORED = {".git", "__pycache__", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints"}
ARTIFACT_FOLDERS = ("outputs", "logs")


class _Rule:
    def __init__(self, pattern: str, base: str) -> None:
        self.negate = pattern.startswith("!")
        pattern = pattern[1:] if self.negate else pattern
        self.directory_only = pattern.endswith("/")
        pattern = pattern.rstrip("/")
        anchored = "/" in pattern
        pattern = pattern.lstrip("/")
        regex = _glob_regex(pattern)
        prefix = re.escape(base + "/") if base else ""
        self.regex = re.compile(prefix + ("" if anchored else "(?:.*/)?") + regex + "$")

    def matches(self, relative: str, is_dir: bool) -> bool:
        if self.directory_only and not is_dir:
            return False
        return bool(self.regex.match(relative))


def _glob_regex(pattern: str) -> str:
    parts = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            parts.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("/**", index) and index + 3 == len(pattern):
            parts.append("/.*")
            index += 3
        elif pattern.startswith("**", index):
            parts.append(".*")
            index += 2
        else:
            char = pattern[index]
            parts.append(
                "[^/]*"
                if char == "*"
                else "[^/]"
                if char == "?"
                else fnmatch.translate(char)[4:-3]
                if char == "["
                else re.escape(char)
            )
            index += 1
    return "".join(parts)


def _rules(folder: Path, relative: str) -> list[_Rule]:
    for name in IGNORE_FILES:  # .amlignore replaces .gitignore, as in Azure ML
        file = folder / name
        if file.is_file():
            lines = file.read_text(errors="replace").splitlines()
            return [
                _Rule(line.strip(), relative)
                for line in lines
                if line.strip() and not line.lstrip().startswith("#")
            ]
    return []


def snapshot_files(code_dir: Path) -> list[Path]:
    """Files of the code snapshot (relative paths, sorted), honouring the ignore files."""
    found: list[Path] = []
    if not str(code_dir) or str(code_dir) == ".":
        return found  # no code: an empty working directory
    if code_dir.is_file():
        return [Path(code_dir.name)]

    def walk(folder: Path, relative: str, rules: list[_Rule]) -> None:
        rules = rules + _rules(folder, relative)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if entry.name in ALWAYS_IGNORED or entry.name.endswith((".pyc", ".pyo")):
                continue
            path = f"{relative}/{entry.name}" if relative else entry.name
            is_dir = entry.is_dir()
            ignored = False
            for rule in rules:
                if rule.matches(path, is_dir):
                    ignored = not rule.negate
            if ignored:
                continue
            if is_dir:
                walk(Path(entry.path), path, rules)
            else:
                found.append(Path(path))

    walk(code_dir, "", [])
    return found


def snapshot_hash(hasher, code_dir: str | Path) -> str:
    """Content hash of the snapshot: what Azure ML would upload (part of the cache key)."""
    import hashlib

    if not code_dir:
        return ""
    root = Path(code_dir)
    if not root.exists():
        raise FileNotFoundError(root)
    digest = hashlib.sha256()
    base = root.parent if root.is_file() else root
    for relative in snapshot_files(root):
        digest.update(relative.as_posix().encode() + b"\0")
        digest.update(hasher.file(base / relative).encode() + b"\n")
    return digest.hexdigest()


def prepare(code_dir: str | Path, job_dir: Path) -> Path:
    """A fresh working directory: a copy of the snapshot plus ./outputs and ./logs."""
    shutil.rmtree(job_dir, ignore_errors=True)
    job_dir.mkdir(parents=True)
    root = Path(code_dir) if code_dir else None
    base = root.parent if root and root.is_file() else root
    for relative in snapshot_files(root) if root else []:
        target = job_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(base / relative, target)
    for name in ARTIFACT_FOLDERS:
        (job_dir / name).mkdir(exist_ok=True)
    return job_dir


def collect_artifacts(job_dir: Path, artifacts: Path | None) -> None:
    """Move what the job wrote to ./outputs and ./logs into its artifact folder."""
    if artifacts is None:
        return
    artifacts.mkdir(parents=True, exist_ok=True)
    for name in ARTIFACT_FOLDERS:
        source = job_dir / name
        if source.is_dir() and not source.is_symlink():  # merged: every node writes here
            shutil.copytree(source, artifacts / name, symlinks=True, dirs_exist_ok=True)
