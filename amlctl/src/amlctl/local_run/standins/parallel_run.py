"""Parallel nodes run locally, in the way Azure ML's parallel run step drives an entry script.

The runner starts this file as a script (``python parallel.py spec.json``, cwd = the
job's working directory, with the step environment's Python), so it imports nothing
from the package. Files of a uri_folder input are cut into mini-batches of
``mini_batch_size`` files (default 10); rows of a tabular input (CSV, Parquet or JSON
Lines file, or an mltable folder read through its MLTable file) into mini-batches of
``mini_batch_size`` bytes or rows (default 1 MB), or with ``partition_keys`` into one
mini-batch per partition. ``instance_count x max_concurrency_per_instance`` worker
processes each import the entry script and call ``init()`` once, then
``run(mini_batch)`` (or ``run(mini_batch, mini_batch_context)``, whose
``partition_key_value`` names the partition) per mini-batch. A mini-batch that
raises or exceeds ``retry_settings.timeout`` is retried ``max_retries`` times; failed
items count against ``error_threshold`` and failed mini-batches against
``mini_batch_error_threshold`` (-1: ignore). With ``output_action: append_row`` the
returned rows go to the ``append_row_to`` file.
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


class MiniBatchContext:
    """What Azure ML passes as run()'s second argument."""

    def __init__(self, index: int, partition: dict[str, Any] | None) -> None:
        self.minibatch_index = index
        self.partition_key_value = partition or {}
        self.global_row_index_lower_bound = 0


def _init_worker(code_dir: str, entry_script: str, arguments: list[str], level: str) -> None:
    global _entry
    import logging

    logging.basicConfig(
        level=getattr(logging, str(level).upper(), logging.INFO),
        format=f"%(asctime)s %(levelname)s [worker {os.getpid()}] %(message)s",
    )
    sys.path.insert(0, code_dir)
    sys.argv = [entry_script, *arguments]
    spec = importlib.util.spec_from_file_location("entry_script", Path(code_dir) / entry_script)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {entry_script}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if hasattr(module, "init"):
        module.init()
        print(f"init() done in worker {os.getpid()}", flush=True)
    _entry = module


def _wants_context(function: Any) -> bool:
    import inspect

    try:
        return len(inspect.signature(function).parameters) >= 2
    except (TypeError, ValueError):
        return False


class _Timeout(Exception):
    pass


def _call(batch: Any, context: MiniBatchContext, timeout: float | None) -> Any:
    import signal

    def expire(*_: Any) -> None:
        raise _Timeout(f"run() exceeded retry_settings.timeout={timeout:g} s")

    if timeout:
        signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, float(timeout))
    try:
        if _wants_context(_entry.run):
            return _entry.run(batch, context)
        return _entry.run(batch)
    finally:
        if timeout:
            signal.setitimer(signal.ITIMER_REAL, 0)


def _run_batch(
    index: int,
    batch: Any,
    retries: int,
    partition: dict[str, Any] | None = None,
    timeout: float | None = None,
) -> tuple[int, list[Any] | None, int, str]:
    """(index, rows or None, number of failed items, error text)."""
    size = len(batch)
    error = ""
    context = MiniBatchContext(index, partition)
    for _attempt in range(retries + 1):
        try:
            result = _call(batch, context, timeout)
        except (Exception, _Timeout):
            error = traceback.format_exc(limit=3)
            continue
        rows = _rows(result)
        if partition is not None:  # one result per partition is the usual shape
            return index, rows, 0, ""
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


def _read(files: list[Path]) -> Any:
    """A CSV, Parquet or JSON Lines file given as the input itself."""
    import pandas as pd

    frames = []
    for file in files:
        if file.suffix == ".parquet":
            frames.append(pd.read_parquet(file))
        elif file.suffix == ".jsonl":
            frames.append(pd.read_json(file, lines=True))
        else:
            frames.append(pd.read_csv(file))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _table(source: Path, table: str | None = None) -> tuple[Any, int] | None:
    """(DataFrame, size in bytes) of a tabular input; None for a folder of files.

    An MLTable folder's table comes read by the mltable package (``table``: its table
    JSON), else from amlctl's own reader (mltable_read.py beside this file)."""
    if source.is_file():
        return _read([source]), source.stat().st_size
    if (source / "MLTable").is_file():
        import mltable_read

        if mltable_read.is_file_table(str(source)):
            return None  # no read_* step: a file dataset, its files in mini-batches
        try:
            frame = mltable_read.from_json(table) if table else mltable_read.read_own(str(source))
            size = sum(f.stat().st_size for f in mltable_read.data_files(str(source)))
        except mltable_read.Problem as exc:
            raise SystemExit(f"error: {exc}") from None
        return frame, size
    return None


def mini_batches(
    inputs: list[str],
    size_setting: Any,
    partition_keys: list[str] | None = None,
    table_json: str | None = None,
) -> list[tuple[Any, dict[str, Any] | None]]:
    """(mini-batch, partition key values) pairs: file lists, or DataFrame slices / partitions."""
    source = Path(inputs[0])
    table = _table(source, table_json)
    if table is not None:
        frame, total_bytes = table
        if partition_keys:
            missing = [k for k in partition_keys if k not in frame.columns]
            if missing:
                raise SystemExit(f"error: partition_keys {missing} are not columns of {source}")
            groups = frame.groupby(list(partition_keys), sort=True, dropna=False)
            found = []
            for values, part in groups:
                values = values if isinstance(values, tuple) else (values,)
                key = {k: _plain(v) for k, v in zip(partition_keys, values, strict=True)}
                found.append((part.reset_index(drop=True), key))
            return found
        size, is_bytes = _parse_size(size_setting or "1mb")
        if is_bytes:
            per_row = max(1, total_bytes // max(1, len(frame)))
            size = max(1, size // per_row)
        return [(frame.iloc[i : i + size], None) for i in range(0, len(frame), size)]
    if partition_keys:
        raise SystemExit(
            f"error: partition_keys need a table (an mltable input with a read_* "
            f"transformation); {source} is files"
        )
    size, is_bytes = _parse_size(size_setting or 10)
    if (source / "MLTable").is_file():  # the files its paths name, in the package's order
        import mltable_read

        try:
            files = [str(p) for p in mltable_read.data_files(str(source))]
        except mltable_read.Problem as exc:
            raise SystemExit(f"error: {exc}") from None
    else:
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
        return [(b, None) for b in batches if b]
    return [(files[i : i + size], None) for i in range(0, len(files), size)]


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def main(spec_file: str) -> int:
    spec = json.loads(Path(spec_file).read_text())
    batches = mini_batches(
        spec["inputs"], spec["mini_batch_size"], spec.get("partition_keys"), spec.get("table")
    )
    items = sum(len(b) for b, _ in batches)
    workers = max(1, min(int(spec.get("workers") or 1), len(batches)))
    print(f"{items} items in {len(batches)} mini-batches, {workers} worker processes", flush=True)
    initargs = (
        spec["code_dir"],
        spec["entry_script"],
        spec["arguments"],
        spec.get("logging_level") or "INFO",
    )
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
            pool.submit(
                _run_batch,
                i,
                batch,
                int(spec.get("max_retries") or 0),
                partition,
                spec.get("timeout"),
            )
            for i, (batch, partition) in enumerate(batches)
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
