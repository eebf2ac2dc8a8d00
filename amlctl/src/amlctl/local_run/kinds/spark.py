"""Spark components run locally: ``spark-submit`` of the installed pyspark, in local mode.

What the component declares is what Spark gets: the entry file, ``py_files``, ``jars``,
``files`` and ``archives`` as the matching ``spark-submit`` options, every ``conf`` entry
(the driver and executor sizes included) as ``--conf``, and ``args`` with the inputs and
outputs filled in as local paths. The master is ``local[N]``, N being the executor cores
times the executors (the most dynamic allocation may use), capped at this machine's cores.

Needs pyspark in the project's environment and Java 17 or newer; both are checked before
anything starts, each with a one-line error that names what to install. A node whose
``resources.runtime_version`` names another Spark than the installed pyspark's runs in an
environment built for that runtime (pyspark of that version at the runtime's Python, like
any other step environment: with uv, by content, reused); where it cannot be built, on the
installed pyspark with a warning naming both. Like any job, it runs in a snapshot of its
code (``<step>/wd``).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...pipeline.expand import yaml_key
from ...project import ProjectError
from .. import workdir
from ..resolve import display, resolve_command
from ..steps import StepFailed, run_process

if TYPE_CHECKING:
    from ...pipeline.graph import Step
    from ..context import StepContext

MIN_JAVA = 17
# Azure ML's serverless Spark runtimes (Azure Synapse's): their Python, and what Spark's
# Python API needs beside pyspark, held to releases that Spark version works with
RUNTIMES: dict[str, tuple[str | None, list[str]]] = {
    "3.3": ("3.10", ["numpy<2", "pandas<2", "pyarrow<13"]),
    "3.4": ("3.10", ["numpy<2", "pandas<2.1", "pyarrow<15"]),
}
PYSPARK_HINT = "pip install pyspark==4.3.0 (in a generated project: pip install -e '.[spark]')"
JAVA_HINT = (
    f"install a Java {MIN_JAVA}+ runtime (e.g. apt-get install openjdk-17-jre-headless) "
    "and put it on PATH or set JAVA_HOME"
)


def spark_submit() -> Path:
    """The spark-submit script of the installed pyspark (one-line error when there is none)."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        raise ProjectError(
            f"Spark steps run locally on pyspark, which is not installed: {PYSPARK_HINT}"
        )
    script = Path(next(iter(spec.submodule_search_locations))) / "bin" / "spark-submit"
    if not script.is_file():
        raise ProjectError(
            f"pyspark has no bin/spark-submit at {script}: reinstall it ({PYSPARK_HINT})"
        )
    return script


def installed_pyspark() -> str | None:
    """The version of the pyspark that spark-submit comes from, if any."""
    from importlib import metadata

    try:
        return metadata.version("pyspark")
    except metadata.PackageNotFoundError:
        return None


def runtime_note(wanted: str, installed: str | None) -> str:
    """Why the local Spark is not the one a node's ``resources.runtime_version`` asks for
    ("" when it is: the same major.minor)."""
    if not wanted or installed is None:
        return ""
    if installed.split(".")[:2] == wanted.split(".")[:2]:
        return ""
    return (
        f"resources.runtime_version asks for Spark {wanted}; it runs on the installed pyspark "
        f"{installed} (jars built for {wanted} may not load: pip install "
        f"'pyspark=={'.'.join(wanted.split('.')[:2])}.*' into this environment to match)"
    )


def java_command(env: dict[str, str] | None = None) -> str:
    """The java executable Spark will use, checked to be version 17 or newer."""
    env = os.environ if env is None else env
    home = env.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java", path=env.get("PATH"))
    if not java or not Path(java).is_file():
        where = f"JAVA_HOME={home} has no bin/java" if home else "no java on PATH"
        raise ProjectError(f"Spark steps run locally on Java, and {where}: {JAVA_HINT}")
    try:
        done = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ProjectError(f"{java} -version failed ({exc}): {JAVA_HINT}") from None
    major = java_major(done.stderr + done.stdout)
    if major is None or major < MIN_JAVA:
        found = f"Java {major}" if major else "an unknown Java version"
        raise ProjectError(f"Spark steps need Java {MIN_JAVA}+, {java} is {found}: {JAVA_HINT}")
    return java


def java_major(version_text: str) -> int | None:
    """17 from 'openjdk version "17.0.15"', 8 from 'java version "1.8.0_392"'."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_text)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def preflight(steps: list[Step]) -> None:
    """Before a run starts: what its Spark steps need is there (pyspark installed for a step
    that names no runtime version: one that does gets an environment built for it)."""
    spark = [step for step in steps if step.component.kind == "spark"]
    if any(not step.runtime_version for step in spark):
        spark_submit()
    if spark:
        java_command()


def local_master(conf: dict[str, str]) -> str:
    def number(key: str, default: int) -> int:
        try:
            return max(1, int(conf.get(key, default)))
        except ValueError:
            return default

    cores = number("spark.executor.cores", 1)
    dynamic = conf.get("spark.dynamicAllocation.enabled", "false").lower() == "true"
    executors = number(
        "spark.dynamicAllocation.maxExecutors" if dynamic else "spark.executor.instances", 1
    )
    return f"local[{max(1, min(cores * executors, os.cpu_count() or 1))}]"


def submit_argv(
    settings: dict[str, Any], arguments: str, where: str, submit: Path | None = None
) -> list[str]:
    """The spark-submit command line for the component's settings and resolved args
    (``submit``: the spark-submit script, default the installed pyspark's)."""
    if settings.get("entry_class"):
        raise ProjectError(
            f"{where}: entry.class_name ({settings['entry_class']}) is a JVM entry point; "
            "only entry.file runs locally"
        )
    if not settings.get("entry_file"):
        raise ProjectError(f"{where}: the Spark component has no entry.file")
    argv = [str(submit or spark_submit()), "--master", local_master(settings["conf"])]
    for option in ("py_files", "jars", "files", "archives"):
        if settings.get(option):
            argv += [f"--{option.replace('_', '-')}", ",".join(settings[option])]
    conf = dict(settings["conf"])
    conf.setdefault("spark.log.level", "WARN")  # Spark's INFO lines would drown the step's
    for key, value in sorted(conf.items()):
        argv += ["--conf", f"{key}={value}"]
    return [*argv, settings["entry_file"], *shlex.split(arguments)]


def environment_spec(step: Step) -> dict[str, Any]:
    """The environment a Spark step runs in: its component's own while the installed pyspark
    is the Spark its ``resources.runtime_version`` names (or none is named); else one built
    for that runtime: its Python, pyspark of that version and what Spark's Python API uses
    (the executor falls back to the component's own, with a warning, where it cannot be
    built)."""
    own: dict[str, Any] = step.component.environment_build
    wanted = step.runtime_version
    installed = installed_pyspark()
    if not wanted or (installed is not None and not runtime_note(wanted, installed)):
        return own
    minor = ".".join(wanted.split(".")[:2])
    python, libraries = RUNTIMES.get(minor, (None, []))
    extra: list[str] = []
    if own:
        from ..envs import requirements

        extra = requirements(own)[0]
    pip = [f"pyspark=={minor}.*", *libraries, *extra]
    dependencies: list[Any] = [f"python={python}"] if python else []
    return {"conda": {"dependencies": [*dependencies, {"pip": pip}]}}


def pyspark_of(python: str, where: str) -> tuple[Path, str]:
    """(spark-submit, version) of the pyspark that ``python`` imports."""
    probe = subprocess.run(
        [python, "-c", "import os, pyspark; print(os.path.dirname(pyspark.__file__)); "
         "print(pyspark.__version__)"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    lines = probe.stdout.split()
    if probe.returncode != 0 or len(lines) != 2:
        raise StepFailed(f"{where}: its environment ({python}) has no pyspark: {PYSPARK_HINT}")
    return Path(lines[0]) / "bin" / "spark-submit", lines[1]


def run(step: Step, ctx: StepContext) -> None:
    from .command import job_env

    where = yaml_key(step.name)
    settings = step.component.spark
    arguments = resolve_command(step.component.command, ctx.inputs, ctx.outputs, where)
    submit_argv(settings, arguments, where, Path("spark-submit"))  # refuses what cannot run
    source = Path(step.component.code_dir)
    for name in (settings["entry_file"], *settings["py_files"], *settings["files"]):
        if not (source / name).exists():
            raise StepFailed(f"{where}: {name} is not in the component's code ({source})")
    # the step's environment (built for its runtime where needed), in a layer of its own
    env = job_env(step, ctx, "spark")
    python = shutil.which("python", path=env["PATH"]) or sys.executable
    submit, version = pyspark_of(python, where)
    note = runtime_note(step.runtime_version, version)
    if note:
        ctx.console.line(f"-- {step.name}: warning: {note}")
    argv = submit_argv(settings, arguments, where, submit)
    # as Azure ML runs a job from its code's snapshot, not from the source folder
    code_dir = workdir.prepare(source, ctx.step_dir / "wd")
    # the driver and the workers run the environment's Python, where pyspark is installed
    env["PYSPARK_PYTHON"] = env["PYSPARK_DRIVER_PYTHON"] = python
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    for folder in ctx.outputs.values():  # Spark writes its output folders itself
        path = Path(folder)
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    log_file = ctx.step_dir / "log.txt"
    code = run_process(argv, code_dir, env, log_file, step.name, ctx.console)
    for folder in ctx.outputs.values():
        Path(folder).mkdir(parents=True, exist_ok=True)
    if code == 0:
        shutil.rmtree(code_dir, ignore_errors=True)
    if code != 0:
        raise StepFailed(
            f"exit code {code}",
            rerun=f"cd {shlex.quote(str(code_dir))} && {display(argv)}",
            log=log_file,
        )
