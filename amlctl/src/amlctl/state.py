"""amlctl's own files (``.runs/``): read defensively, written atomically, shared under locks.

Anything in ``.runs/`` may have been damaged by hand, by a full disk or by a run that was
killed. Whatever a file holds, reading it gives either data of the expected shape or
``None`` after one warning, and the caller rebuilds what it needs. Writes go to a unique
temporary name and are renamed into place, so a reader never sees half a file and two
runs never write the same temporary file. State that runs of one project share (the
MLflow store, the hash memo, the cache) is changed under an exclusive file lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: runs of one project are not serialised
    fcntl = None  # type: ignore[assignment]

LOCKS = "locks"
_warned: set[str] = set()


def file_sha(path: Path) -> str:
    """The sha256 of a file's bytes, as hex (cache keys and graph sources use it)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def warn(path: Path | str, problem: str, action: str = "ignored") -> None:
    """One line on stderr per damaged file and process: what is wrong and what was done."""
    key = f"{path}|{action}"
    if key in _warned:
        return
    _warned.add(key)
    print(f"warning: {path}: {problem}; {action}", file=sys.stderr, flush=True)


def read_json(path: Path, valid: Callable[[Any], bool], action: str = "rebuilt") -> Any | None:
    """The JSON in ``path`` if it is there and ``valid``; ``None`` otherwise.

    A missing file is normal (``None``, silently); anything else that cannot be used
    (unreadable, not UTF-8, not JSON, JSON of the wrong shape) gives one warning.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:  # set aside, so the file can be written again
        replace_damaged(path, "a folder where a file belongs")
        return None
    except OSError as exc:
        warn(path, f"cannot be read ({exc.strerror or exc})", action)
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        warn(path, "damaged (not JSON)" if raw.strip() else "damaged (empty)", action)
        return None
    try:
        ok = bool(valid(data))
    except (TypeError, ValueError, AttributeError, KeyError):
        ok = False
    if not ok:
        warn(path, "damaged (unexpected content)", action)
        return None
    return data


def write_json(path: Path, data: Any, indent: int | None = None) -> None:
    """Write ``data`` to ``path`` atomically (unique temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=indent, default=str), encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def replace_damaged(path: Path, problem: str) -> None:
    """Move a damaged file or folder aside (kept for inspection) so it can be made anew."""
    aside = path.with_name(f"{path.name}.damaged-{uuid.uuid4().hex[:8]}")
    try:
        os.replace(path, aside)
    except OSError:
        return
    warn(path, problem, f"moved to {aside.name} and made anew")


def is_str_map(data: Any) -> bool:
    return isinstance(data, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    )


def lock_path(runs_dir: Path, name: str) -> Path:
    return runs_dir / LOCKS / f"{name}.lock"


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the ``with`` block.

    The lock is ``flock``: it dies with its process, so a killed run never leaves it held.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)


class Session:
    """This run's claim on ``.runs/tmp/<session>/``, held by a lock that dies with the process.

    ``begin`` also removes what runs that died left there: a folder whose session lock
    can be taken belongs to no live run.
    """

    def __init__(self, tmp_dir: Path) -> None:
        self.tmp_dir = tmp_dir
        self.name = uuid.uuid4().hex[:12]
        self.folder = tmp_dir / self.name
        self._handle: Any = None

    def begin(self) -> None:
        if self._handle is not None:
            return
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.tmp_dir / f"{self.name}.lock", "a+b")  # noqa: SIM115
        if fcntl is not None:
            fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.folder.mkdir(exist_ok=True)
        self.clean_leftovers()

    def clean_leftovers(self) -> list[str]:
        """Remove the folders of runs that are no longer alive; returns their names."""
        import shutil

        removed = []
        try:
            entries = sorted(self.tmp_dir.iterdir())
        except OSError:
            return removed
        for entry in entries:
            name = entry.name.removesuffix(".lock")
            if name == self.name or entry.name.startswith("."):
                continue
            lock = self.tmp_dir / f"{name}.lock"
            if entry.suffix == ".lock" and (self.tmp_dir / name).exists():
                continue  # handled with its folder
            if not _alive(lock):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                lock.unlink(missing_ok=True)
                removed.append(name)
        return removed

    def end(self) -> None:
        import shutil

        if self._handle is None:
            return
        shutil.rmtree(self.folder, ignore_errors=True)
        (self.tmp_dir / f"{self.name}.lock").unlink(missing_ok=True)
        self._handle.close()
        self._handle = None


def session_alive(tmp_dir: Path, name: str) -> bool:
    """Whether the run that owns session ``name`` in ``tmp_dir`` is still running."""
    return _alive(tmp_dir / f"{name}.lock")


def _alive(lock: Path) -> bool:
    """Whether a live process holds ``lock`` (a missing lock file: nobody does)."""
    if fcntl is None:
        return lock.exists()
    try:
        handle = open(lock, "rb")  # noqa: SIM115
    except OSError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def point_latest(runs_dir: Path, run_id: str) -> None:
    """Make ``.runs/latest`` point at ``run_id``; whatever else is there is replaced."""
    latest = runs_dir / "latest"
    tmp = runs_dir / f".latest-{run_id}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(run_id)
    try:
        os.replace(tmp, latest)
    except OSError:  # a real folder or file named "latest", not our symlink
        replace_damaged(latest, "not a link to the last run")
        os.replace(tmp, latest)
