"""Compare amlctl's own MLTable reader with Microsoft's mltable package on real MLTable files.

Reads every MLTable folder under a directory (Microsoft's public examples, MIT: a clone of
github.com/Azure/azureml-examples) with the package, in the tool environment `run --local`
uses (amlctl/local_run/mltable_env.py, built on first use), and with amlctl's own reader
(standins/mltable_read.py, the reader of last resort when that environment cannot be had),
then prints per folder whether both give the same table (columns, column kinds, values),
and the totals:

    git clone --depth 1 https://github.com/Azure/azureml-examples /tmp/azureml-examples
    .venv/bin/python scripts/compare_mltable_examples.py /tmp/azureml-examples

It asserts nothing; run it when the package's pin (scripts/lock_mltable_env.py) moves.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from amlctl.local_run import mltable_env
from amlctl.local_run.steps import Console

SPEC = importlib.util.spec_from_file_location("mltable_read", mltable_env.READER)
mltable_read = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(mltable_read)


def plain(frame) -> tuple[list[str], list[str], list[list]]:
    import pandas as pd

    kinds = [
        {"i": "int", "f": "float", "b": "bool", "M": "datetime"}.get(frame[c].dtype.kind, "other")
        for c in frame.columns
    ]
    rows = []
    for record in frame.itertuples(index=False):
        row = []
        for value in record:
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                value = None
            elif isinstance(value, pd.Timestamp):
                value = value.isoformat()
            elif hasattr(value, "item"):
                value = value.item()
            row.append(value)
        rows.append(row)
    return [str(c) for c in frame.columns], kinds, rows


def same_rows(a: list[list], b: list[list]) -> bool:
    if len(a) != len(b):
        return False
    for left, right in zip(a, b, strict=True):
        for x, y in zip(left, right, strict=True):
            if isinstance(x, float) and isinstance(y, float):
                if not math.isclose(x, y, rel_tol=1e-14):
                    return False
            elif x != y:
                return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="a clone of Azure/azureml-examples")
    args = parser.parse_args()
    folders = sorted({p.parent for p in args.root.rglob("MLTable") if p.is_file()})
    python = mltable_env.MLTableReader(Console(io.StringIO())).python()
    if python is None:
        print("the mltable package's environment cannot be built", file=sys.stderr)
        return 1
    counts = {"same": 0, "differ": 0, "both refuse": 0, "own refuses": 0, "package refuses": 0}
    with tempfile.TemporaryDirectory() as tmp:
        argv = [python, str(mltable_env.READER)]
        for index, folder in enumerate(folders):
            argv += [str(folder), f"{tmp}/{index}.json"]
        began = time.monotonic()
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        package_seconds = time.monotonic() - began
        refusals = [ln for ln in done.stderr.splitlines() if ln.startswith("error: ")]
        own_seconds = 0.0
        for index, folder in enumerate(folders):
            name = folder.relative_to(args.root)
            out = Path(f"{tmp}/{index}.json")
            began = time.monotonic()
            try:
                own = plain(mltable_read.read_own(str(folder)))
            except Exception as exc:
                own = f"{type(exc).__name__}: {str(exc).splitlines()[0][:140]}"
            own_seconds += time.monotonic() - began
            package = plain(mltable_read.from_json(str(out))) if out.is_file() else None
            if package is None:
                why = next((r for r in refusals if f"{folder}:" in r), "refused")
                verdict = "both refuse" if isinstance(own, str) else "package refuses"
                print(f"{verdict:15} {name}: {why[:160]}")
            elif isinstance(own, str):
                verdict = "own refuses"
                print(f"{verdict:15} {name}: {own}")
            elif own[:2] == package[:2] and same_rows(own[2], package[2]):
                verdict = "same"
                print(f"{verdict:15} {name} ({len(own[2])} rows)")
            else:
                verdict = "differ"
                columns = [
                    f"{c} {k1}/{k2}"
                    for c, k1, k2 in zip(package[0], package[1], own[1], strict=False)
                    if k1 != k2
                ]
                print(f"{verdict:15} {name}: kinds (package/own) {columns[:4]}")
            counts[verdict] += 1
    print(
        f"{len(folders)} MLTable folders: "
        + ", ".join(f"{n} {verdict}" for verdict, n in counts.items())
        + f"; package {package_seconds:.1f} s in one process, own reader {own_seconds:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
