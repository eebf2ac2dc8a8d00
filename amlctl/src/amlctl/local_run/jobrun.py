"""One command job (or sweep trial) as Azure ML runs it, on this machine.

A fresh working directory (workdir.py), the command through bash with the step's
environment first on PATH (resolve.py, envs.py), one process per rank for
distributed jobs (distributed.py), and ./outputs and ./logs collected into the
job's ``artifacts`` output afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import workdir
from .distributed import processes
from .expand import DEFAULT_OUTPUT
from .resolve import shell_argv, shim_dir

if TYPE_CHECKING:
    from .executor import Runner
    from .graph import Step


def job_env(runner: Runner, step: Step, env: dict[str, str]) -> dict[str, str]:
    """The step's variables with its environment's python and pip first on PATH."""
    bin_dir = runner.environment_bin(step)
    shims = shim_dir(runner.runs_dir, bin_dir)
    env = dict(env)
    env["PATH"] = os.pathsep.join([str(shims), bin_dir, env.get("PATH", os.defpath)])
    env.pop("PYTHONHOME", None)
    if Path(bin_dir) != Path(sys.executable).parent:
        env["VIRTUAL_ENV"] = str(Path(bin_dir).parent)
    return env


def run_job(
    runner: Runner,
    step: Step,
    command: str,
    outputs: dict[str, str],
    step_dir: Path,
    env: dict[str, str],
    log_name: str,
    prefix: str,
    timeout: float | None,
    started: Any = None,
) -> tuple[int, Path, Path]:
    """(exit code, log file, working directory of node 0); the folder is removed on success."""
    from .executor import run_process

    stem = Path(log_name).stem
    env = job_env(runner, step, env)
    ranks = processes(step.distribution, step.instance_count, f"{runner.run_id}_{step.name}")
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
            runner.console,
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
                runner.console,
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
    return code, log_file, folders[0]
