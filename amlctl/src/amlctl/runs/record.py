"""`.runs/<run>/run.json`: what one local run did, for its page and for `amlctl runs`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import state

RECORD = "run.json"
FORMAT = 1


def write(run_dir: Path, record: dict[str, Any]) -> Path:
    path = run_dir / RECORD
    state.write_json(path, {"format": FORMAT, **record}, indent=2)
    return path


def _is_record(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and data.get("format") == FORMAT
        and isinstance(data.get("run_id"), str)
        and isinstance(data.get("steps"), list)
        and all(isinstance(s, dict) and isinstance(s.get("name"), str) for s in data["steps"])
    )


def read(run_dir: Path) -> dict[str, Any] | None:
    """The record of the run in ``run_dir``; None when there is none or it is damaged."""
    path = run_dir / RECORD
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if _is_record(data) else None


def all_runs(runs_dir: Path) -> list[dict[str, Any]]:
    """Every readable record under ``runs_dir``, newest first."""
    found = []
    if runs_dir.is_dir():
        for folder in runs_dir.iterdir():
            if folder.is_dir() and not folder.is_symlink():
                record = read(folder)
                if record is not None:
                    found.append(record)
    return sorted(found, key=lambda r: (str(r.get("started", "")), r["run_id"]), reverse=True)


def metrics_of(record: dict[str, Any]) -> dict[str, float]:
    """Every step's metrics, as `step.metric`."""
    return {
        f"{step['name']}.{name}": value
        for step in record["steps"]
        for name, value in sorted((step.get("metrics") or {}).items())
    }
