"""Imports a package only the job's conda environment has (not the runner's)."""

import sys
from pathlib import Path

from tabulate import tabulate

table = tabulate([["python", sys.prefix != sys.base_prefix]], headers=["in a venv", "yes"])
(Path(sys.argv[1]) / "table.txt").write_text(table + "\n")
(Path(sys.argv[1]) / "prefix.txt").write_text(sys.prefix)
print(table)
