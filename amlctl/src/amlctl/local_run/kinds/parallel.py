"""Parallel jobs run locally: the entry script's ``init()``/``run(mini_batch)`` driven over
mini-batches of the input data by ``standins/parallel_run.py``, Azure ML's parallel run
driver as it behaves on a cluster (workers, retries, error thresholds, ``append_row``).
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...pipeline.expand import yaml_key
from ..mltable_env import MLTableReader, TableProblem, is_table, key_part
from ..resolve import display, resolve_command
from ..steps import StepFailed, run_process
from ..workdir import prepare
from .command import job_env

if TYPE_CHECKING:
    from ...pipeline.graph import Step
    from ..cache import Hasher
    from ..context import StepContext

DRIVER = Path(__file__).resolve().parent.parent / "standins" / "parallel_run.py"
DEFAULT_APPEND_ROW_FILE = "parallel_run_step.txt"


def key_parts(step: Step, hasher: Hasher) -> dict[str, Any]:
    """The local driver and the MLTable reader are part of what produced the step's outputs."""
    return {"driver": hasher.file(DRIVER), **key_part(step, hasher)}


def read_table(ctx: StepContext, folder: str, out: Path) -> str | None:
    """The table of an MLTable input as table JSON in ``out`` (the mltable package's), or
    None where the package cannot be had (the step then reads it with amlctl's own reader)."""
    reader = ctx.services.mltable or MLTableReader(ctx.console)
    try:
        who = reader.read(folder, out)
    except TableProblem as exc:
        raise StepFailed(f"its MLTable input cannot be read: {exc}") from None
    ctx.console.line(f"[{ctx.step_dir.name}] MLTable {folder} read by {who}")
    return str(out) if out.is_file() else None


def run(step: Step, ctx: StepContext) -> None:
    inputs, outputs, step_dir = ctx.inputs, ctx.outputs, ctx.step_dir
    settings = dict(step.component.parallel)
    where = yaml_key(step.name)
    arguments = resolve_command(step.component.command, inputs, outputs, where)
    data = resolve_command(str(settings.get("input_data") or ""), inputs, outputs, where)
    append_to = settings.get("append_row_to")
    argv = shlex.split(arguments)
    file_name = DEFAULT_APPEND_ROW_FILE
    if "--append_row_file_name" in argv:
        at = argv.index("--append_row_file_name")
        file_name = argv[at + 1]
    target = None
    if append_to:
        target = shlex.split(resolve_command(str(append_to), inputs, outputs, where))[0]
    elif len(outputs) == 1:  # Azure ML's default: the step's only output
        target = next(iter(outputs.values()))
    append_file = None
    if target:
        # a uri_file output is the file itself; a folder output gets the default file name
        is_file = target in outputs.values() and not Path(target).is_dir()
        append_file = target if is_file else str(Path(target) / file_name)
    data_paths = shlex.split(data)
    table = None
    if data_paths and is_table(data_paths[0]):
        table = read_table(ctx, data_paths[0], step_dir / "table.json")
    code_dir = prepare(step.component.code_dir, step_dir / "wd-log")
    spec = {
        "code_dir": str(code_dir),
        "entry_script": settings["entry_script"],
        "arguments": argv,
        "inputs": data_paths,
        "table": table,
        "mini_batch_size": settings.get("mini_batch_size"),
        "error_threshold": settings.get("error_threshold"),
        "mini_batch_error_threshold": settings.get("mini_batch_error_threshold"),
        "max_retries": settings.get("max_retries") or 0,
        "output_action": settings.get("output_action") or "append_row",
        "append_row_to": append_file,
        **parallel_settings(settings),
    }
    spec_file = step_dir / "parallel.json"
    spec_file.write_text(json.dumps(spec, indent=2))
    env = job_env(step, ctx, "parallel")
    python = shutil.which("python", path=env["PATH"]) or sys.executable
    argv = [python, str(DRIVER), str(spec_file)]
    log_file = step_dir / "log.txt"
    code = run_process(argv, code_dir, env, log_file, step.name, ctx.console)
    if code == 0:
        shutil.rmtree(code_dir, ignore_errors=True)  # kept only when the step failed
        shutil.rmtree(step_dir / "env-parallel", ignore_errors=True)
        if table:  # the table's copy handed to the driver (kept when the step failed)
            Path(table).unlink(missing_ok=True)
    if code != 0:
        raise StepFailed(
            f"exit code {code}",
            rerun=f"cd {shlex.quote(str(code_dir))} && {display(argv)}",
            log=log_file,
        )


def parallel_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Workers (instance_count x max_concurrency_per_instance), partitions, timeout, logging."""
    per_instance = int(settings.get("max_concurrency_per_instance") or 1)
    return {
        "workers": max(1, int(settings.get("instance_count") or 1) * per_instance),
        "partition_keys": list(settings.get("partition_keys") or []),
        "timeout": settings.get("timeout"),
        "logging_level": settings.get("logging_level") or "INFO",
    }
