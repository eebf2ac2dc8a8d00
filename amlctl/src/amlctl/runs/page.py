"""`.runs/<run>/index.html`: one local run on a page that opens without a server.

The pipeline graph (inline SVG, steps in columns by their depth), each step's state,
duration, cache reuse, log, outputs, metrics and the plots among its outputs. Every link
is relative to the run's folder, so the page works from the file system, in a browser or
copied with its folder.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

PAGE = "index.html"
COLOURS = {"done": "#2e7d32", "cached": "#1565c0", "failed": "#c62828", "skipped": "#9e9e9e"}
NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 170, 46, 60, 22, 16
MAX_PLOTS = 12  # per step


def depths(steps: list[dict[str, Any]]) -> dict[str, int]:
    """Each step's column: the length of the longest chain of steps before it."""
    upstream = {s["name"]: [u for u in s.get("upstream", [])] for s in steps}
    found: dict[str, int] = {}

    def depth(name: str, seen: frozenset[str] = frozenset()) -> int:
        if name not in found:
            before = [u for u in upstream.get(name, []) if u in upstream and u not in seen]
            found[name] = 1 + max((depth(u, seen | {name}) for u in before), default=-1)
        return found[name]

    for step in steps:
        depth(step["name"])
    return found


def graph_svg(steps: list[dict[str, Any]]) -> str:
    columns = depths(steps)
    rows: dict[int, int] = {}
    where: dict[str, tuple[int, int]] = {}
    for step in steps:  # in run order: a stable layout
        column = columns[step["name"]]
        row = rows.get(column, 0)
        rows[column] = row + 1
        where[step["name"]] = (
            PAD + column * (NODE_W + GAP_X),
            PAD + row * (NODE_H + GAP_Y),
        )
    width = PAD * 2 + (max(columns.values(), default=0) + 1) * (NODE_W + GAP_X) - GAP_X
    height = PAD * 2 + max(rows.values(), default=1) * (NODE_H + GAP_Y) - GAP_Y
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="graph" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="pipeline graph">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
    ]
    for step in steps:
        x2, y2 = where[step["name"]]
        for up in step.get("upstream", []):
            if up in where:
                x1, y1 = where[up]
                parts.append(
                    f'<line class="edge" x1="{x1 + NODE_W}" y1="{y1 + NODE_H / 2}" x2="{x2}" '
                    f'y2="{y2 + NODE_H / 2}" stroke="#555" marker-end="url(#arrow)"/>'
                )
    for step in steps:
        x, y = where[step["name"]]
        name, state = html.escape(step["name"]), html.escape(step.get("state", "?"))
        colour = COLOURS.get(step.get("state", ""), "#6d4c41")
        parts.append(
            f'<a href="#step-{name}"><g class="node" data-step="{name}" data-state="{state}">'
            f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="6" fill="{colour}"/>'
            f'<text x="{x + 10}" y="{y + 19}" fill="#fff" font-weight="bold">{name}</text>'
            f'<text x="{x + 10}" y="{y + 36}" fill="#fff">{state} {duration(step)}</text></g></a>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def duration(step: dict[str, Any]) -> str:
    seconds = step.get("seconds")
    return f"{seconds:.1f} s" if step.get("state") == "done" and seconds is not None else ""


def link(run_dir: Path, target: str | None) -> str | None:
    """``target`` relative to the run's folder (for the page's links), if it exists."""
    if not target or not Path(target).exists():
        return None
    return os.path.relpath(target, run_dir).replace(os.sep, "/")


def plots(output: Path) -> list[Path]:
    if output.is_file():
        return [output] if output.suffix.lower() in (".png", ".svg", ".jpg") else []
    if not output.is_dir():
        return []
    found = sorted(p for p in output.rglob("*") if p.suffix.lower() in (".png", ".svg", ".jpg"))
    return found[:MAX_PLOTS]


def step_section(run_dir: Path, step: dict[str, Any]) -> str:
    name = html.escape(step["name"])
    rows = [
        ("type", html.escape(step.get("type", ""))),
        ("state", html.escape(step.get("state", ""))),
        ("duration", duration(step) or "-"),
        (
            "cache",
            "reused (cached)"
            if step.get("state") == "cached"
            else "ran"
            if step.get("state") == "done"
            else "-",
        ),
        ("cache key", html.escape((step.get("key") or "-")[:16])),
    ]
    if step.get("message"):
        rows.append(("message", html.escape(step["message"])))
    log = link(run_dir, step.get("log"))
    if log:
        rows.append(("log", f'<a class="log" href="{html.escape(log)}">{html.escape(log)}</a>'))
    for output, path in sorted((step.get("outputs") or {}).items()):
        target = run_dir / step["name"] / "outputs" / output
        href = link(run_dir, str(target)) or link(run_dir, path)
        text = html.escape(output)
        rows.append(
            ("output", f'<a class="output" href="{html.escape(href)}">{text}</a>' if href else text)
        )
    table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    metrics = step.get("metrics") or {}
    metric_rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{v:.4g}</td></tr>" for k, v in sorted(metrics.items())
    )
    images = []
    for output in sorted(step.get("outputs") or {}):
        for file in plots(run_dir / step["name"] / "outputs" / output):
            href = link(run_dir, str(file))
            if href:
                images.append(
                    f'<figure><img src="{html.escape(href)}" alt="{html.escape(file.name)}">'
                    f"<figcaption>{html.escape(file.name)}</figcaption></figure>"
                )
    return (
        f'<section id="step-{name}" class="step"><h2>{name}</h2><table>{table}</table>'
        + (f'<h3>Metrics</h3><table class="metrics">{metric_rows}</table>' if metric_rows else "")
        + (f'<div class="plots">{"".join(images)}</div>' if images else "")
        + "</section>"
    )


STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 1.5rem; }
table { border-collapse: collapse; margin: 0.4rem 0; }
th, td { text-align: left; padding: 0.15rem 0.8rem 0.15rem 0; vertical-align: top; }
th { color: #555; font-weight: normal; }
.step { border-top: 1px solid #ddd; }
.plots { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; } img { max-width: 420px; border: 1px solid #eee; }
svg text { font-size: 12px; }
"""


def render(run_dir: Path, record: dict[str, Any]) -> str:
    steps = record["steps"]
    status = html.escape(record.get("status", "?"))
    values = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in sorted((record.get("values") or {}).items())
    )
    head = [
        ("pipeline", html.escape(str(record.get("pipeline", "")))),
        ("status", status),
        ("started", html.escape(str(record.get("started", "")))),
        ("duration", f"{record.get('seconds', 0):.1f} s"),
        ("steps", str(len(steps))),
    ]
    summary = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in head)
    title = (
        f"Run {html.escape(record['run_id'])}: {html.escape(str(record.get('pipeline_name', '')))}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{STYLE}</style></head><body>"
        f'<h1>{title}</h1><table id="summary">{summary}</table>'
        + (f"<h2>Inputs</h2><table>{values}</table>" if values else "")
        + f"<h2>Graph</h2>{graph_svg(steps)}"
        + "".join(step_section(run_dir, step) for step in steps)
        + "</body></html>\n"
    )


def write(run_dir: Path, record: dict[str, Any]) -> Path:
    page = run_dir / PAGE
    tmp = run_dir / f".{PAGE}.tmp"
    tmp.write_text(render(run_dir, record), encoding="utf-8")
    tmp.replace(page)
    return page
