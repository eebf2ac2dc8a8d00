"""What the data-regeneration scripts share: the commit of the upstream checkout they read.

`update_bicep_types.py` (Azure/bicep-types-az) and `update_curated_environments.py`
(Azure/azureml-assets) record the commit their data was taken from.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def source_commit(source: Path) -> str | None:
    """The commit checked out in ``source`` (a git clone), or None."""
    git = shutil.which("git")
    if git is None or not (source / ".git").exists():
        return None
    done = subprocess.run(
        [git, "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or None
