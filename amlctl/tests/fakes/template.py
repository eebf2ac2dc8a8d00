"""A default project baked from this repository's template: realistic input for the tool's tests.

The tool is developed beside the template, so its tests check it on what a team actually
gets (the template's infra, workflows, config and pipelines), baked once per test process.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[3]


@functools.cache
def template_project(**answers: object) -> Path:
    """A bake with the default answers, or with these answers on top (once per answer set)."""
    from cookiecutter.main import cookiecutter

    output = Path(tempfile.mkdtemp(prefix="amlctl-template-"))
    atexit.register(shutil.rmtree, output, ignore_errors=True)
    project = cookiecutter(
        str(TEMPLATE),
        no_input=True,
        output_dir=str(output),
        default_config=True,
        extra_context=answers or None,
    )
    return Path(project)
