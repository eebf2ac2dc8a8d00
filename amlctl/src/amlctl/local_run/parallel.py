"""Parallel nodes run locally, in the way Azure ML's parallel run step drives an entry script.

The runner starts this file as a script (``python parallel.py spec.json``, cwd = the
component's code folder), so it imports nothing from the package. Files of a
uri_folder input (or rows of a CSV / mltable input) are cut into mini-batches; each
worker process imports the entry script and calls ``init()`` once, then
``run(mini_batch)`` per mini-batch. Failed mini-batches are retried
``max_retries`` times; failed items count against ``error_threshold`` (-1: ignore).
With ``output_action: append_row`` the returned rows go to the ``append_row_to`` file.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

_entry: Any = None


def _init_worker(code_dir: str, entry_script: str, arguments: list[str]) -> None:
    global _entry
    sys.path.insert(0, code_dir)
    sys.argv = [entry_script, *arguments]
    spec = importlib.util.spec_from_file_location("entry_script", Path(code_dir) / entry_script)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {entry_script}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if hasattr(module, "init"):
        module.init()
    _entry = module


def _run_batch(index: int, batch: Any, retries: int) -> tuple[int, list[Any] | None, int, str]:
    """(index, rows or None, number of failed items, error text)."""
    size = len(batch)
    error = ""
    for _attempt in range(retries + 1):
        try:
            result = _entry.run(batch)
        except Exception:
            error = traceback.format_exc(limit=3)
            continue
        rows = _rows(result)
        return index, rows, max(0, size - len(rows)), ""
    return index, None, size, error


def _rows(result: Any) -> list[Any]:
    if result is None:
        return []
    if hasattr(result, "to_csv") and hasattr(result, "itertuples"):  # a pandas DataFrame
        text = result.to_csv(header=False, index=False, sep=" ")
        return text.splitlines()
    return list(result)


def _parse_size(value: Any) -> tuple[int, bool]:
    """mini_batch_size as (count, is_bytes): '10' -> 10 items, '1mb' -> bytes."""
    text = str(value).strip().lower()
    match = re.fullmatch(r"(\d+)\s*(kb|mb|gb)?", text)
    if not match:
        raise SystemExit(f"error: mini_batch_size '{value}' is not a number or size (10kb, 1mb)")
    number, unit = int(match.group(1)), match.group(2)
    factor = {"kb": 1024, "mb": 1024**2, "gb": 1024**3}.get(unit or "", 1)
    return number * factor, unit is not None


def mini_batches(inputs: list[str], size_setting: Any) -> list[Any]:
    """File lists for folders, DataFrame slices for a CSV file or an mltable folder."""
    size, is_bytes = _parse_size(size_setting)
    source = Path(inputs[0])
    csv = None
    if source.is_file():
        csv = source
    elif (source / "MLTable").is_file():
        csv = next(iter(sorted(source.glob("*.csv"))), None)
    if csv is not None:
        import pandas as pd

        frame = pd.read_csv(csv)
        if is_bytes:
            per_row = max(1, csv.stat().st_size // max(1, len(frame)))
            size = max(1, size // per_row)
        return [frame.iloc[i : i + size] for i in range(0, len(frame), size)]
    files = sorted(str(p) for p in source.rglob("*") if p.is_file())
    if is_bytes:
        batches: list[list[str]] = [[]]
        total = 0
        for file in files:
            if batches[-1] and total + os.path.getsize(file) > size:
                batches.append([])
                total = 0
            batches[-1].append(file)
            total += os.path.getsize(file)
        return [b for b in batches if b]
    return [files[i : i + size] for i in range(0, len(files), size)]


def main(spec_file: str) -> int:
    spec = json.loads(Path(spec_file).read_text())
    batches = mini_batches(spec["inputs"], spec["mini_batch_size"])
    items = sum(len(b) for b in batches)
    workers = max(1, min(int(spec.get("workers") or 1), len(batches)))
    print(f"{items} items in {len(batches)} mini-batches, {workers} worker processes", flush=True)
    initargs = (spec["code_dir"], spec["entry_script"], spec["arguments"])
    try:
        return _run_all(spec, batches, items, workers, initargs)
    except BrokenProcessPool:
        print(
            "error: a worker process died; did init() of the entry script raise? "
            "(its traceback is above)",
            file=sys.stderr,
            flush=True,
        )
        return 1


def _run_all(
    spec: dict[str, Any], batches: list[Any], items: int, workers: int, initargs: tuple[Any, ...]
) -> int:
    threshold = spec.get("error_threshold")
    threshold = -1 if threshold is None else int(threshold)
    batch_threshold = spec.get("mini_batch_error_threshold")
    batch_threshold = -1 if batch_threshold is None else int(batch_threshold)
    failed_items = failed_batches = 0
    results: dict[int, list[Any]] = {}
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=initargs) as pool:
        futures = [
            pool.submit(_run_batch, i, batch, int(spec.get("max_retries") or 0))
            for i, batch in enumerate(batches)
        ]
        for future in as_completed(futures):
            index, rows, failed, error = future.result()
            if rows is None:
                failed_batches += 1
                print(f"mini-batch {index} failed: {error.strip().splitlines()[-1]}", flush=True)
            else:
                results[index] = rows
            failed_items += failed
            if (threshold >= 0 and failed_items > threshold) or (
                batch_threshold >= 0 and failed_batches > batch_threshold
            ):
                for pending in futures:
                    pending.cancel()
                print(
                    f"error: {failed_items} failed items / {failed_batches} failed mini-batches "
                    f"exceed error_threshold={threshold}, "
                    f"mini_batch_error_threshold={batch_threshold}",
                    file=sys.stderr,
                    flush=True,
                )
                return 1
    if spec.get("output_action") == "append_row" and spec.get("append_row_to"):
        target = Path(spec["append_row_to"])
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8") as handle:
            for index in sorted(results):
                for row in results[index]:
                    handle.write(f"{row}\n")
    print(
        f"done: {items - failed_items} of {items} items succeeded, "
        f"{failed_batches} mini-batches failed",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
