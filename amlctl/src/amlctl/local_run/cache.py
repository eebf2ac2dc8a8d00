"""Content hashes, cache keys and the atomic output store (``.runs/cache/<key>/``).

A step's outputs are written to a private temporary folder and renamed into the
cache only after the step succeeded, so the cache never holds partial outputs.
Each entry records its files (stat data and sha256); an entry is reused only while
its files still match that record, so outputs damaged after the step ran are never
reused: the step runs again.

A file is taken as unchanged without reading it only when its size, modification
time, change time (ctime, which no user tool can set: `touch -r` after an edit moves
it) and inode are all as recorded, and it was not changed in the moments before it
was recorded (git's racy-timestamp rule: a timestamp as recent as the record cannot
tell a later edit apart). Anything else is hashed again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from .. import state

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


# a file changed this close before it was recorded is hashed again (timestamps of coarse
# file systems: FAT's are 2 s)
RACY_NS = 2_000_000_000


def signature(stat: os.stat_result) -> str:
    """What changes whenever a file's content can have changed (no content read)."""
    return f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}:{stat.st_ino}:{stat.st_dev}"


def racy(stat: os.stat_result, recorded_ns: int) -> bool:
    """Changed so shortly before ``recorded_ns`` that a later edit could keep its stat."""
    return max(stat.st_mtime_ns, stat.st_ctime_ns) >= recorded_ns - RACY_NS


class Hasher:
    """Content hashes of files and folders, remembered by stat data across runs."""

    def __init__(self, memo_file: Path | None = None) -> None:
        self.memo_file = memo_file
        self._lock = threading.Lock()
        self._memo: dict[str, list[str]] = {}
        if memo_file:
            self._memo = state.read_json(memo_file, _is_memo) or {}
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
        sig = signature(stat)
        key = str(path.resolve())
        with self._lock:
            known = self._memo.get(key)
        if known and len(known) == 3 and known[0] == sig and not racy(stat, int(known[2])):
            return known[1]
        hashed_at = time.time_ns()  # before the read: an edit during it is after the record
        value = _sha256(path)
        with self._lock:
            self._memo[key] = [sig, value, str(hashed_at)]
            self._dirty = True
        return value

    def save(self) -> None:
        """Merge this run's hashes into the memo file (other runs may have added theirs)."""
        if not (self.memo_file and self._dirty):
            return
        with state.locked(state.lock_path(self.memo_file.parent, "hashes")):
            on_disk = state.read_json(self.memo_file, _is_memo) or {}
            with self._lock:
                on_disk.update(self._memo)
            # files that are gone (e.g. outputs hashed in a work folder, then moved) are dropped
            kept = {path: value for path, value in on_disk.items() if os.path.exists(path)}
            state.write_json(self.memo_file, kept)


def _is_memo(data: Any) -> bool:
    """{absolute path: [signature, sha256, hashed at (ns)]} (older two-item entries: rehash)"""
    return isinstance(data, dict) and all(
        isinstance(v, list) and len(v) in (2, 3) and all(isinstance(x, str) for x in v)
        for v in data.values()
    )


def file_record(root: Path, hasher: Hasher | None = None) -> dict[str, list[Any]]:
    """{relative path: [size, mtime_ns, sha256, signature, recorded at (ns)]} of every file
    under ``root``."""
    record = {}
    for file in _files(root):
        recorded_at = time.time_ns()
        stat = file.stat()
        digest = hasher.file(file) if hasher else _sha256(file)
        record[file.relative_to(root).as_posix()] = [
            stat.st_size,
            stat.st_mtime_ns,
            digest,
            signature(stat),
            recorded_at,
        ]
    return record


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_key(parts: dict[str, Any]) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Store:
    """Finished step outputs under ``<root>/cache/<key>/`` (outputs + meta.json)."""

    def __init__(self, runs_dir: Path, hasher: Hasher | None = None) -> None:
        self.runs_dir = runs_dir
        self.cache_dir = runs_dir / "cache"
        self.tmp_dir = runs_dir / "tmp"
        self.hasher = hasher
        self.session = state.Session(self.tmp_dir)

    def begin(self) -> None:
        """Claim this run's work area and remove what runs that died left behind."""
        self.session.begin()

    def end(self) -> None:
        self.session.end()

    def lookup(self, key: str) -> dict[str, Any] | None:
        """The entry stored under ``key`` if its files are as they were stored; else None."""
        folder = self.cache_dir / key
        meta = folder / META
        if not meta.is_file():
            return None
        data = state.read_json(meta, _is_meta, "the step runs again")
        if data is None:
            return None
        if "files" not in data:
            return None  # stored without a file record (an older amlctl): not verifiable
        before = json.dumps(data["files"], sort_keys=True)
        problem = entry_problem(folder, data["files"])
        if not problem and json.dumps(data["files"], sort_keys=True) != before:
            state.write_json(meta, data, indent=2)  # files hashed again: their stat now
        if problem:
            state.warn(
                folder,
                f"cached outputs of step {data.get('step', '?')} were changed after they "
                f"were stored ({problem})",
                "the step runs again",
            )
            return None
        data["folder"] = str(folder)
        return data

    def new_workspace(self) -> Path:
        """A fresh private folder to write outputs into."""
        self.begin()
        folder = self.session.folder / uuid.uuid4().hex
        folder.mkdir(parents=True)
        return folder

    def commit(
        self, workspace: Path, destination: Path, meta: dict[str, Any], replace: bool = False
    ) -> dict[str, Any]:
        """Write meta.json (with the record of every file), rename ``workspace`` to
        ``destination`` in one step, and return the stored meta (with its ``folder``).

        An entry already at ``destination`` is kept when it is intact and ``replace`` is
        false: another run stored the same key first, and what it stored is what both
        runs go on with. A damaged entry, or any with ``replace`` (a forced re-run), is
        superseded.
        """
        meta = {**meta, "files": file_record(workspace, self.hasher)}
        state.write_json(workspace / META, meta, indent=2)
        destination.parent.mkdir(parents=True, exist_ok=True)
        with state.locked(state.lock_path(self.runs_dir, "cache")):
            if destination.exists():
                existing = None if replace else self._intact(destination)
                if existing is not None:
                    shutil.rmtree(workspace, ignore_errors=True)
                    return {**existing, "folder": str(destination)}
                old = self.session.folder / f"old-{uuid.uuid4().hex}"
                self.session.folder.mkdir(parents=True, exist_ok=True)
                os.replace(destination, old)
                shutil.rmtree(old, ignore_errors=True)
            os.replace(workspace, destination)
        return {**meta, "folder": str(destination)}

    def _intact(self, folder: Path) -> dict[str, Any] | None:
        """The meta of the entry in ``folder`` if the entry is whole; None otherwise."""
        data = state.read_json(folder / META, _is_meta, "the step runs again")
        if data is None or "files" not in data or entry_problem(folder, data["files"]):
            return None
        return data

    def discard(self, workspace: Path) -> None:
        shutil.rmtree(workspace, ignore_errors=True)


def entry_problem(folder: Path, record: dict[str, list[Any]]) -> str | None:
    """Why the files of the entry in ``folder`` no longer match ``record``; None if they do
    (then files that had to be read are recorded afresh in ``record``).

    Stat data as recorded and not racy: the file is taken as unchanged (no read). Any other
    file is hashed, so touching or copying a file costs a read, not a re-run, and an edit
    whose size and modification time were put back is still found. meta.json itself is
    not part of the record; any other file is.
    """
    remaining = set(record)
    for file in _files(folder):
        relative = file.relative_to(folder).as_posix()
        if relative == META:
            continue
        known = record.get(relative)
        if known is None:
            return f"{relative} was added"
        size, _, digest = known[:3]
        stat = file.stat()
        if stat.st_size != size:
            return f"{relative} changed size ({size} -> {stat.st_size} bytes)"
        trusted = len(known) == 5 and known[3] == signature(stat) and not racy(stat, known[4])
        if not trusted:
            recorded_at = time.time_ns()
            if _sha256(file) != digest:
                return f"{relative} changed content"
            # as git refreshes racily clean index entries: the next lookup need not read it
            record[relative] = [
                stat.st_size,
                stat.st_mtime_ns,
                digest,
                signature(stat),
                recorded_at,
            ]
        remaining.discard(relative)
    if remaining:
        return f"{sorted(remaining)[0]} is missing"
    return None


def _is_meta(data: Any) -> bool:
    if not isinstance(data, dict):
        return False
    outputs, hashes = data.get("outputs"), data.get("output_hashes")
    files = data.get("files", {})
    return (
        state.is_str_map(outputs)
        and state.is_str_map(hashes)
        and set(outputs) == set(hashes)
        and all(_inside(path) for path in outputs.values())
        and isinstance(data.get("metrics", {}) or {}, dict)
        and isinstance(files, dict)
        and all(
            isinstance(v, list)
            and len(v) in (3, 5)  # three: an older amlctl's record, every file hashed
            and isinstance(v[0], int)
            and isinstance(v[1], int)
            and isinstance(v[2], str)
            and (len(v) == 3 or (isinstance(v[3], str) and isinstance(v[4], int)))
            for v in files.values()
        )
    )


def _inside(relative: str) -> bool:
    """A path that stays inside the entry's folder (meta.json cannot point elsewhere)."""
    path = Path(relative)
    return bool(relative) and not path.is_absolute() and ".." not in path.parts
