"""`amlctl runs`: the project's recent local runs, and two or more of them compared.

    amlctl runs                      # newest first: time, pipeline, status, duration, metrics
    amlctl runs compare A B [C ...]  # inputs, metrics, steps and what changed, side by side

A run is named by its id, a unique start of it, ``latest``, or ``~N`` (the Nth before the
newest: ``~0`` is the newest).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..project import ProjectError
from . import record

KEY_METRIC_WORDS = ("score", "accuracy", "r2", "auc", "loss", "rmse", "f1")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        nargs="?",
        choices=("list", "compare"),
        default="list",
        help="list (default) or compare",
    )
    parser.add_argument("runs", nargs="*", help="with compare: two or more runs")
    parser.add_argument("--limit", type=int, default=20, help="runs listed (default 20)")
    parser.add_argument(
        "--runs-dir", type=Path, default=None, help="the .runs folder (default: the project's)"
    )


def runs_dir_of(given: Path | None) -> Path:
    if given is not None:
        return given
    from ..project import layout, project_root, work_root

    try:
        return layout(project_root()).runs
    except ProjectError:
        return work_root(Path.cwd()) / ".runs"


def main(args: argparse.Namespace) -> int:
    runs_dir = runs_dir_of(args.runs_dir)
    records = record.all_runs(runs_dir)
    if args.action == "compare":
        if len(args.runs) < 2:
            raise ProjectError("runs compare: name two or more runs (ids, latest or ~N)")
        chosen = [resolve(records, ref) for ref in args.runs]
        print("\n".join(compare(chosen)))
        return 0
    if args.runs:
        raise ProjectError("runs: name runs only with compare (amlctl runs compare A B)")
    if not records:
        print(f"no local runs in {runs_dir} (amlctl run <pipeline> --local makes one)")
        return 0
    print("\n".join(listing(records[: max(1, args.limit)])))
    return 0


def resolve(records: list[dict[str, Any]], ref: str) -> dict[str, Any]:
    if not records:
        raise ProjectError("there are no local runs to compare")
    if ref == "latest":
        return records[0]
    if ref.startswith("~") and ref[1:].isdigit():
        index = int(ref[1:])
        if index >= len(records):
            raise ProjectError(f"{ref}: there are only {len(records)} runs")
        return records[index]
    matches = [r for r in records if r["run_id"].startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ProjectError(f"{ref}: no run has that id (amlctl runs lists them)")
    raise ProjectError(f"{ref}: {len(matches)} runs start with it; give more of the id")


def key_metrics(metrics: dict[str, float], limit: int = 3) -> dict[str, float]:
    """Scores among `step.metric` (in step order), the last steps' first: an evaluation's
    test scores come before the training's validation ones."""
    chosen = [k for k in metrics if any(w in k.rsplit(".", 1)[-1] for w in KEY_METRIC_WORDS)]
    steps = list(dict.fromkeys(k.rsplit(".", 1)[0] for k in chosen))
    chosen.sort(key=lambda k: -steps.index(k.rsplit(".", 1)[0]))  # stable within a step
    return {k: metrics[k] for k in chosen[:limit]}


def listing(records: list[dict[str, Any]]) -> list[str]:
    head = f"{'run':<22}  {'started (UTC)':<19}  {'pipeline':<24}  {'status':<11}"
    lines = [f"{head}  {'time':>7}  metrics"]
    for run in records:
        metrics = "  ".join(f"{k}={v:.4g}" for k, v in key_metrics(record.metrics_of(run)).items())
        started = str(run.get("started", ""))[:19].replace("T", " ")
        lines.append(
            f"{run['run_id']:<22}  {started:<19}  {str(run.get('pipeline', ''))[:24]:<24}  "
            f"{run.get('status', '?'):<11}  {run.get('seconds', 0):>5.1f} s  {metrics}"
        )
    return lines


def table(title: str, rows: dict[str, list[str]], ids: list[str]) -> list[str]:
    """One section: a row per name, a column per run, `*` where the runs differ."""
    if not rows:
        return []
    width = max(len(name) for name in rows) + 2
    columns = [max(len(i), *(len(v[n]) for v in rows.values())) for n, i in enumerate(ids)]
    lines = [
        "",
        title,
        f"  {'':<{width}}" + "  ".join(f"{i:<{w}}" for i, w in zip(ids, columns, strict=True)),
    ]
    for name, values in rows.items():
        mark = "*" if len(set(values)) > 1 else " "
        cells = "  ".join(f"{v:<{w}}" for v, w in zip(values, columns, strict=True))
        lines.append(f"{mark} {name:<{width}}{cells}")
    return lines


def compare(runs: list[dict[str, Any]]) -> list[str]:
    ids = [run["run_id"] for run in runs]

    def rows(pick) -> dict[str, list[str]]:
        names: dict[str, None] = {}
        for run in runs:
            names.update(dict.fromkeys(pick(run)))
        return {name: [pick(run).get(name, "-") for run in runs] for name in names}

    def values(run: dict[str, Any]) -> dict[str, str]:
        return {k: str(v) for k, v in (run.get("values") or {}).items()}

    def metrics(run: dict[str, Any]) -> dict[str, str]:
        return {k: f"{v:.6g}" for k, v in record.metrics_of(run).items()}

    def steps(run: dict[str, Any]) -> dict[str, str]:
        return {
            s["name"]: f"{s.get('state', '?')} {(s.get('key') or '')[:8]}".strip()
            for s in run["steps"]
        }

    def fingerprints(run: dict[str, Any]) -> dict[str, str]:
        return {
            f"{s['name']} {part}": digest[:12]
            for s in run["steps"]
            for part, digest in sorted((s.get("fingerprint") or {}).items())
        }

    changed = {k: v for k, v in rows(fingerprints).items() if len(set(v)) > 1}
    head = {
        "pipeline": [str(r.get("pipeline", "")) for r in runs],
        "status": [str(r.get("status", "")) for r in runs],
        "duration": [f"{r.get('seconds', 0):.1f} s" for r in runs],
    }
    return [
        f"comparing {len(runs)} runs (* where they differ)",
        *table("run", head, ids),
        *table("inputs", rows(values), ids),
        *table("metrics", rows(metrics), ids),
        *table("steps (state, cache key)", rows(steps), ids),
        *(
            table("what changed (code and input digests)", changed, ids)
            or ["", "what changed: nothing in code or inputs"]
        ),
    ]
