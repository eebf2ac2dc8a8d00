"""Command jobs (and a sweep's trials) as Azure ML runs them, on this machine.

A fresh working directory (workdir.py), the command through bash with the step's
environment first on PATH (resolve.py, envs.py), one process per rank for
distributed jobs (distributed.py), and ./outputs and ./logs collected into the
job's ``artifacts`` output afterwards.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...pipeline.expand import DEFAULT_OUTPUT, yaml_key
from .. import workdir
from ..distributed import processes
from ..resolve import resolve_command, shell_argv, shim_dir
from ..steps import StepFailed, run_process

if TYPE_CHECKING:
    from ...pipeline.graph import Step
    from ..context import StepContext

PATH_TYPES = ("uri_folder", "uri_file", "mltable", "mlflow_model", "custom_model", "triton_model")


def run(
    step: Step,
    ctx: StepContext,
    *,
    log_name: str = "log.txt",
    prefix: str | None = None,
    timeout: float | None = None,
    started: Any = None,
) -> None:
    """Run the step's command; a non-zero exit raises StepFailed with how to rerun it."""
    where = yaml_key(step.name)
    paths = path_inputs(step)
    command = resolve_command(step.component.command, ctx.inputs, ctx.outputs, where, paths)
    code, log_file, code_dir = run_job(
        step, ctx, command, log_name, prefix or step.name, timeout, started
    )
    if code != 0:
        # the outputs folder is moved to <step>/failed-outputs when a step fails (the
        # executor removes it instead when the disk is full)
        rerun_outputs = {
            n: str(ctx.step_dir / "failed-outputs" / Path(p).relative_to(ctx.workspace))
            for n, p in ctx.outputs.items()
        }
        rerun = resolve_command(step.component.command, ctx.inputs, rerun_outputs, where, paths)
        if "\n" in rerun:
            rerun = f"bash -c {shlex.quote(rerun)}"
        raise StepFailed(
            f"exit code {code}",
            rerun=f"cd {shlex.quote(str(code_dir))} && {rerun}",
            log=log_file,
        )


def path_inputs(step: Step) -> set[str]:
    return {n for n, spec in step.component.inputs.items() if spec.get("type") in PATH_TYPES}


def job_env(step: Step, ctx: StepContext, name: str = "job") -> dict[str, str]:
    """The step's variables with its environment's python and pip first on PATH.

    The processes run in a layer of their own (``env-<name>`` in the step's folder) over
    the step's environment, as an Azure ML job runs in its own container: a ``pip install``
    in the command changes neither amlctl's environment nor a concurrent trial's.
    """
    env = ctx.env(step)
    base = ctx.services.environment_bin(step)
    bin_dir = ctx.services.isolated_bin(step, ctx.step_dir / f"env-{name}")
    first = [bin_dir] if bin_dir != base else [str(shim_dir(ctx.services.runs_dir, bin_dir))]
    # the base's programs (mldesigner, spark-submit) after the layer's python and pip
    env["PATH"] = os.pathsep.join([*first, base, env.get("PATH", os.defpath)])
    env.pop("PYTHONHOME", None)
    if Path(bin_dir) != Path(sys.executable).parent:
        env["VIRTUAL_ENV"] = str(Path(bin_dir).parent)
    return env


def run_job(
    step: Step,
    ctx: StepContext,
    command: str,
    log_name: str,
    prefix: str,
    timeout: float | None,
    started: Any = None,
) -> tuple[int, Path, Path]:
    """(exit code, log file, working directory of node 0); the folder is removed on success."""
    step_dir, outputs, console = ctx.step_dir, ctx.outputs, ctx.console
    stem = Path(log_name).stem
    env = job_env(step, ctx, stem)
    ranks = processes(step.distribution, step.instance_count, f"{ctx.services.run_id}_{step.name}")
    nodes = sorted({p.node for p in ranks})
    folders = {
        node: workdir.prepare(
            step.component.code_dir, step_dir / (f"wd-{stem}" + (f"-node{node}" if node else ""))
        )
        for node in nodes
    }
    argv = shell_argv(command)
    log_file = step_dir / log_name
    # what ran, for a rerun by hand and for the benchmark against hand-run commands
    step_dir.mkdir(parents=True, exist_ok=True)
    (step_dir / f"{stem}.job.json").write_text(
        json.dumps(
            {
                "code": step.component.code_dir,
                "command": command,
                "python": shutil.which("python", path=env["PATH"]),
                "processes": len(ranks),
            },
            indent=2,
        )
    )
    if len(ranks) == 1:
        code = run_process(
            argv,
            folders[0],
            {**env, **ranks[0].env},
            log_file,
            prefix,
            console,
            timeout,
            started,
        )
    else:
        codes: dict[int, int] = {}

        def one(process: Any) -> None:
            log = log_file if process.rank == 0 else step_dir / f"{stem}-rank{process.rank}.txt"
            codes[process.rank] = run_process(
                argv,
                folders[process.node],
                {**env, **process.env},
                log,
                f"{prefix}/rank{process.rank}",
                console,
                timeout,
                started,
            )

        threads = [threading.Thread(target=one, args=(p,)) for p in ranks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        failed = [rank for rank, value in sorted(codes.items()) if value != 0]
        code = codes[failed[0]] if failed else 0
        if failed and failed[0] != 0:
            log_file = step_dir / f"{stem}-rank{failed[0]}.txt"
    if code == 0:
        artifacts = outputs.get(DEFAULT_OUTPUT)
        for node in reversed(nodes):  # node 0's files win
            workdir.collect_artifacts(folders[node], Path(artifacts) if artifacts else None)
            shutil.rmtree(folders[node], ignore_errors=True)
        shutil.rmtree(step_dir / f"env-{stem}", ignore_errors=True)  # what the step installed
    return code, log_file, folders[0]
