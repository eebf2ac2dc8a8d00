"""Make an MLTable folder of the CSV files of a folder: copies of them and an MLTable file."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

# Reads every CSV file beside it, all with the same header (what AutoML nodes load).
MLTABLE = """\
$schema: https://azuremlschemas.azureedge.net/latest/MLTable.schema.json
type: mltable
paths:
  - pattern: ./*.csv
transformations:
  - read_delimited:
      delimiter: ","
      encoding: utf8
      header: all_files_same_headers
      empty_as_string: false
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--table", type=Path, required=True)
    return parser.parse_args(argv)


def make_table(data: Path, table: Path) -> list[str]:
    """Copy the CSV files of `data` into `table` and write its MLTable file; returns the names."""
    files = sorted(data.glob("*.csv")) if data.is_dir() else []
    if not files:
        raise ValueError(f"no CSV file in {data}")
    table.mkdir(parents=True, exist_ok=True)
    for path in files:
        shutil.copyfile(path, table / path.name)
    (table / "MLTable").write_text(MLTABLE, encoding="utf-8")
    return [path.name for path in files]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        names = make_table(args.data, args.table)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"MLTable of {', '.join(names)} in {args.table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
