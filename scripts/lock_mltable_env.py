"""Regenerate the hash-locked requirements of the MLTable tool environment.

`run --local` reads MLTable inputs (parallel and AutoML steps) with Microsoft's `mltable`
package in an environment of its own, built with uv from this lock: the package pins
`azure-identity<=1.17` (amlctl needs 1.27 or later) and its `to_pandas_dataframe` needs
`pandas<3` (amlctl's projects have 3.x). It needs no setuptools: mltable 1.7.0 and
azureml-dataprep 5.5.0 import `pkg_resources` only where `importlib.metadata` is missing
(Python < 3.8); measured: a table read in a venv without setuptools. Run this when the pins
below move:

    python scripts/lock_mltable_env.py
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent
LOCK = TEMPLATE / "amlctl" / "src" / "amlctl" / "local_run" / "data" / "mltable-env.txt"
# azureml-dataprep-rslex 2.26.1 has a macOS wheel only (measured 2026-12-04): a universal lock
# would pick it and fail to install on Linux and Windows
REQUIREMENTS = ["mltable==1.7.0", "pandas<3", "azureml-dataprep-rslex==2.26.0"]
OLDEST_PYTHON = "3.10"  # mltable 1.7.0: Requires-Python >=3.10,<3.14
HEADER = """\
# The MLTable tool environment of `run --local` (amlctl/local_run/mltable_env.py), built with
# `uv pip install --require-hashes -r` this file. Regenerate it with
#   python scripts/lock_mltable_env.py
# (uv pip compile of {requirements}, --universal --generate-hashes --python-version {python})
"""


def main() -> int:
    from uv import find_uv_bin

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "mltable-env.in"
        source.write_text("\n".join(REQUIREMENTS) + "\n", encoding="utf-8")
        out = Path(tmp) / "mltable-env.txt"
        if LOCK.is_file():  # keep the pins that need not move
            out.write_text(LOCK.read_text(encoding="utf-8"), encoding="utf-8")
        command = [
            find_uv_bin(), "pip", "compile", str(source), "--universal", "--generate-hashes",
            "--python-version", OLDEST_PYTHON, "--no-header", "--quiet", "-o", str(out),
        ]  # fmt: skip
        done = subprocess.run(command, check=False, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stderr.strip(), file=sys.stderr)
            return 1
        body = out.read_text(encoding="utf-8")
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    header = HEADER.format(requirements=", ".join(REQUIREMENTS), python=OLDEST_PYTHON)
    LOCK.write_text(header + body, encoding="utf-8")
    count = len(re.findall(r"^\S+==", body, flags=re.MULTILINE))
    print(f"{count} packages locked with hashes -> {LOCK.relative_to(TEMPLATE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
