"""Where a local run's time goes: graph load, checks, each step, summary, and the tracking store.

Every run writes ``timings.json`` into its run folder (``.runs/<run>/``, also
``.runs/latest/``); ``run --timings`` prints the same as a table. Phases run one after the
other, except the steps (up to ``--workers`` at once) and the tracking store, which starts
in the background; its line says how long it took and how long steps waited for it.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from .. import state

FILE = "timings.json"


class Timings:
    def __init__(self) -> None:
        self.started = self._last = time.monotonic()
        self.phases: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def add(self, name: str, seconds: float, note: str = "", background: bool = False) -> None:
        with self._lock:
            self.phases.append(
                {"name": name, "seconds": round(seconds, 3), "note": note, "background": background}
            )

    def lap(self, name: str, note: str = "") -> None:
        """Record ``name`` as the time since the previous lap (or since the start)."""
        now = time.monotonic()
        self.add(name, now - self._last, note)
        self._last = now

    def to_json(self) -> dict[str, Any]:
        total = time.monotonic() - self.started
        return {"total": round(total, 3), "phases": list(self.phases)}

    def write(self, run_dir: Path) -> None:
        if run_dir.is_dir():
            state.write_json(run_dir / FILE, self.to_json(), indent=2)


def table(data: dict[str, Any]) -> list[str]:
    """The lines ``run --timings`` prints for a ``timings.json`` document."""
    phases = data.get("phases") or []
    width = max([12, *(len(p["name"]) for p in phases)])
    lines = [f"{'where the time went':<{width}}  {'seconds':>8}"]
    foreground = 0.0
    for phase in phases:
        seconds = float(phase["seconds"])
        if not phase.get("background"):
            foreground += seconds
        note = f"  {phase['note']}" if phase.get("note") else ""
        lines.append(f"{phase['name']:<{width}}  {seconds:8.2f}{note}")
    total = float(data.get("total") or 0.0)
    lines.append(f"{'total':<{width}}  {total:8.2f}  (phases in the foreground: {foreground:.2f})")
    return lines
