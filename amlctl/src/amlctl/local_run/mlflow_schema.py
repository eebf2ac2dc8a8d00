"""A new local MLflow store made from MLflow's own migrated schema, kept as SQL.

MLflow makes a new SQLite store by running each of its alembic migrations in turn, about
1 s of a project's first run. The result depends only on MLflow's newest migration (its
head revision), so amlctl keeps it as SQL text, one file per head revision in
``data/mlflow-<revision>.sql``, and a new store is that script run into an empty file (a
few milliseconds). A store is opened through MLflow afterwards exactly as before (it
checks the revision, and adds its default experiment). An MLflow whose head has no file
here migrates the store itself, as it always did.

Run ``python -m amlctl.local_run.mlflow_schema --write`` after moving amlctl's MLflow
range: it migrates an empty store with the installed MLflow and saves its SQL dump. A
test checks that the file for the installed MLflow exists and equals that dump.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sqlite3
import sys
import tempfile
from pathlib import Path

DATA = Path(__file__).parent / "data"


def head_revision() -> str:
    """The revision MLflow's migrations end at (imports MLflow)."""
    from mlflow.store.db.utils import _get_latest_schema_revision

    return _get_latest_schema_revision()


def remember_head_revision() -> None:
    """Work out MLflow's head revision once in this process, not once per store opened.

    MLflow parses every migration script to find it, each time a store is opened and once
    more to pick the kept schema (about 0.15 s each). The scripts are the installed
    package's files, which do not change while the tracking server runs.
    """
    import mlflow.store.db.utils as db_utils

    found = db_utils._get_latest_schema_revision
    if not hasattr(found, "cache_info"):
        db_utils._get_latest_schema_revision = functools.lru_cache(maxsize=1)(found)


def schema_file(revision: str) -> Path:
    return DATA / f"mlflow-{revision}.sql"


def migrated_dump() -> str:
    """The SQL dump of an empty store migrated by the installed MLflow (about 1 s)."""
    with tempfile.TemporaryDirectory(prefix="amlctl-mlflow-") as folder:
        return dump(_migrated(Path(folder) / "mlflow.db"))


def _migrated(path: Path) -> Path:
    """An empty store at ``path`` made by the installed MLflow's own migrations."""
    import sqlalchemy
    from mlflow.store.db.utils import _initialize_tables

    engine = sqlalchemy.create_engine(f"sqlite:///{path}")
    try:
        _initialize_tables(engine)
    finally:
        engine.dispose()
    return path


def _from_script(path: Path, script: str) -> Path:
    connection = sqlite3.connect(path)
    try:
        connection.executescript(script)
    finally:
        connection.close()
    return path


def dump(path: Path) -> str:
    connection = sqlite3.connect(path)
    try:
        return "\n".join(connection.iterdump()) + "\n"
    finally:
        connection.close()


def signature(path: Path) -> list[tuple[str, ...]]:
    """What a store holds, in an order-free form: MLflow's migrations are not deterministic
    in the order they write a table's columns and constraints, or create its indexes."""
    connection = sqlite3.connect(path)
    try:
        found: list[tuple[str, ...]] = []
        for kind, name, table, sql in connection.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master"
        ):
            found.append((kind, name, table, *_clauses(sql or "")))
            if kind == "table":
                rows = connection.execute(f'SELECT * FROM "{name}"').fetchall()  # noqa: S608
                found.extend(("row", name, repr(row)) for row in rows)
        return sorted(found)
    finally:
        connection.close()


def _clauses(sql: str) -> list[str]:
    """``CREATE TABLE t (a, b, CHECK (x IN (1, 2)))`` -> its head and its sorted clauses."""
    start = sql.find("(")
    if not sql.upper().startswith("CREATE TABLE") or start < 0:
        return [" ".join(sql.split())]
    depth, item, items = 0, [], []
    for char in sql[start + 1 : sql.rindex(")")]:
        if char == "," and depth == 0:
            items.append("".join(item))
            item = []
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        item.append(char)
    items.append("".join(item))
    return [" ".join(sql[:start].split()), *sorted(" ".join(i.split()) for i in items)]


def create_store(path: Path) -> bool:
    """Make the SQLite store at ``path`` from the kept schema; False if none fits this MLflow.

    The file appears whole or not at all: the script runs into a temporary file that is
    then linked into place, and a store someone else created meanwhile is left as it is.
    """
    script = schema_file(head_revision())
    if not script.is_file() or path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(descriptor)
    tmp = Path(tmp_name)
    try:
        _from_script(tmp, script.read_text())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write", action="store_true", help="save the installed MLflow's schema (else compare)"
    )
    args = parser.parse_args(argv)
    target = schema_file(head_revision())
    if args.write:
        DATA.mkdir(exist_ok=True)
        target.write_text(migrated_dump())
        print(f"wrote {target}")
        return 0
    if not same_as_migrated(target):
        print(f"{target} is missing or stale: run with --write", file=sys.stderr)
        return 1
    print(f"{target} matches the installed MLflow")
    return 0


def same_as_migrated(script: Path) -> bool:
    """Whether ``script`` makes the store the installed MLflow's migrations make."""
    if not script.is_file():
        return False
    with tempfile.TemporaryDirectory(prefix="amlctl-mlflow-") as folder:
        kept = _from_script(Path(folder) / "kept.db", script.read_text())
        return signature(kept) == signature(_migrated(Path(folder) / "migrated.db"))


if __name__ == "__main__":
    sys.exit(main())
