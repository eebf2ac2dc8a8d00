"""Content hashes, cache keys and the atomic output store (``.runs/cache/<key>/``).

A step's outputs are written to a private temporary folder and renamed into the
cache only after the step succeeded, so the cache never holds partial outputs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import uuid
from pathlib import Path
from typing import Any

IGNORED_NAMES = {"__pycache__", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints", ".DS_Store"}
IGNORED_SUFFIXES = (".pyc", ".pyo")
META = "meta.json"


def _files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in IGNORED_NAMES)
        for name in sorted(files):
            if name not in IGNORED_NAMES and not name.endswith(IGNORED_SUFFIXES):
                found.append(Path(folder) / name)
    return found


class Hasher:
    """Content hashes of files and folders, remembered by (path, size, mtime) across runs."""

    def __init__(self, memo_file: Path | None = None) -> None:
        self.memo_file = memo_file
        self._lock = threading.Lock()
        self._memo: dict[str, list[str]] = {}
        if memo_file and memo_file.is_file():
            try:
                self._memo = json.loads(memo_file.read_text())
            except ValueError:
                self._memo = {}
        self._dirty = False

    def tree(self, root: Path | str) -> str:
        """sha256 over relative names and contents of every file under ``root``."""
        root = Path(root)
        if not root.exists():
            raise FileNotFoundError(root)
        files = _files(root)
        digest = hashlib.sha256()
        for file in files:
            relative = "." if file == root else file.relative_to(root).as_posix()
            digest.update(relative.encode() + b"\0" + self.file(file).encode() + b"\n")
        return digest.hexdigest()

    def file(self, path: Path) -> str:
        stat = path.stat()
        signature = f"{stat.st_size}:{stat.st_mtime_ns}"
        key = str(path.resolve())
        with self._lock:
            known = self._memo.get(key)
        if known and known[0] == signature:
            return known[1]
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        value = digest.hexdigest()
        with self._lock:
            self._memo[key] = [signature, value]
            self._dirty = True
        return value

    def save(self) -> None:
        if self.memo_file and self._dirty:
            self.memo_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.memo_file.with_name(f"{self.memo_file.name}.{uuid.uuid4().hex}")
            with self._lock:
                tmp.write_text(json.dumps(self._memo))
            tmp.replace(self.memo_file)


def cache_key(parts: dict[str, Any]) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Store:
    """Finished step outputs under ``<root>/cache/<key>/`` (outputs + meta.json)."""

    def __init__(self, runs_dir: Path) -> None:
        self.cache_dir = runs_dir / "cache"
        self.tmp_dir = runs_dir / "tmp"

    def lookup(self, key: str) -> dict[str, Any] | None:
        meta = self.cache_dir / key / META
        if not meta.is_file():
            return None
        try:
            data = json.loads(meta.read_text())
        except ValueError:
            return None
        data["folder"] = str(meta.parent)
        return data

    def new_workspace(self) -> Path:
        """A fresh private folder to write outputs into."""
        folder = self.tmp_dir / uuid.uuid4().hex
        folder.mkdir(parents=True)
        return folder

    def commit(
        self, workspace: Path, destination: Path, meta: dict[str, Any], replace: bool = False
    ) -> Path:
        """Write meta.json and rename ``workspace`` to ``destination`` in one step."""
        (workspace / META).write_text(json.dumps(meta, indent=2, default=str))
        destination.parent.mkdir(parents=True, exist_ok=True)
        if replace and destination.exists():  # a forced re-run supersedes the old entry
            old = self.tmp_dir / f"old-{uuid.uuid4().hex}"
            os.replace(destination, old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(workspace, destination)
        except OSError:
            if (destination / META).is_file():  # another run stored the same key first
                shutil.rmtree(workspace, ignore_errors=True)
            else:
                raise
        return destination

    def discard(self, workspace: Path) -> None:
        shutil.rmtree(workspace, ignore_errors=True)
