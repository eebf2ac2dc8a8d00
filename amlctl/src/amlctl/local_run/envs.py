"""Step environments: the Python a step's ``python`` and ``pip`` mean.

Azure ML builds a job's environment from a conda file (its ``pip:`` section, on an
image) or a Docker build context. Locally, ``--env-manager`` chooses:

- ``local``: the environment amlctl runs in;
- ``uv``: a virtual environment built with uv from the pip requirements, kept in
  ``.runs/envs/<content hash>/`` and reused while the requirements are unchanged;
- ``auto`` (default): ``local`` when this environment already has every required
  package at the pinned version (``azureml-*`` packages only talk to Azure and are not
  needed), else ``uv``. A template project's own environment matches its venv, so its
  quickstart builds nothing.

With ``auto`` and ``uv`` each step's processes run in a layer of their own over that
environment (``overlay``), as every Azure ML job runs in its own container: what a step
installs stays in its layer, removed with it, so neither amlctl's environment, a built
environment that later steps reuse, nor a concurrent sweep trial changes. ``local`` runs
steps in amlctl's environment itself, as asked.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..project import ProjectError

ENV_MANAGERS = ("auto", "local", "uv")
# conda packages that are part of the image or the toolchain, not Python packages
CONDA_BUILTINS = {"python", "pip", "setuptools", "wheel", "conda", "ca-certificates", "openssl"}
# conda-forge packages with no PyPI distribution (system libraries, CUDA, MPI)
CONDA_ONLY = {
    "cudatoolkit",
    "cudnn",
    "nccl",
    "openmpi",
    "mpich",
    "libgcc-ng",
    "libstdcxx-ng",
    "libgfortran-ng",
    "_libgcc_mutex",
    "cuda-toolkit",
    "magma-cuda110",
    "blas",
    "openblas",
    "libblas",
    "liblapack",
    "gxx_linux-64",
    "gcc_linux-64",
    "r-base",
}
AZURE_ONLY = re.compile(r"^azureml[-_]", re.IGNORECASE)
REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def requirements(spec: dict[str, Any]) -> tuple[list[str], str | None, list[str]]:
    """(pip requirements, python version, conda-only packages) of an environment spec."""
    import yaml

    conda: Any = spec.get("conda")
    if spec.get("conda_file"):
        conda = yaml.safe_load(Path(spec["conda_file"]).read_text())
    pip: list[str] = []
    python = None
    conda_only: list[str] = []
    context = Path(spec["context"]) if spec.get("context") else None
    if context is not None and conda is None:
        for name in ("conda.yml", "conda.yaml", "environment.yml"):
            if (context / name).is_file():
                conda = yaml.safe_load((context / name).read_text())
                break
        if (context / "requirements.txt").is_file():
            pip += _requirement_lines((context / "requirements.txt").read_text())
        if (context / "Dockerfile").is_file():
            pip += _dockerfile_pip(context / "Dockerfile", context)
    for dependency in (conda or {}).get("dependencies") or []:
        if isinstance(dependency, dict):
            pip += [str(x) for x in dependency.get("pip") or [] if not str(x).startswith("-")]
            continue
        text = str(dependency).split("::")[-1].strip()
        match = re.match(r"^([A-Za-z0-9._-]+)\s*(?:=+\s*([^=\s]+))?", text)
        if not match:
            continue
        name, version = match.group(1).lower(), match.group(2)
        if name == "python":
            python = version
        elif name in CONDA_BUILTINS:
            continue
        elif name in CONDA_ONLY or name.startswith(("lib", "cuda")):
            conda_only.append(name)
        else:  # a conda package also on PyPI under its name (numpy=1.26 -> numpy==1.26.*)
            pip.append(
                f"{name}=={version}.*"
                if version and version.count(".") < 2
                else f"{name}=={version}"
                if version
                else name
            )
    return pip, python, conda_only


def _requirement_lines(text: str) -> list[str]:
    lines = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            lines.append(line)
    return lines


def _dockerfile_pip(dockerfile: Path, context: Path) -> list[str]:
    """Packages a Dockerfile installs with `pip install` (files copied from the context)."""
    found: list[str] = []
    text = dockerfile.read_text().replace("\\\n", " ")
    for match in re.finditer(r"pip3?\s+install\s+([^&;\n]+)", text):
        words = match.group(1).split()
        skip = False
        for index, word in enumerate(words):
            if skip:
                skip = False
                continue
            if word in ("-r", "--requirement") and index + 1 < len(words):
                file = context / Path(words[index + 1]).name
                if file.is_file():
                    found += _requirement_lines(file.read_text())
                skip = True
            elif not word.startswith("-"):
                found.append(word.strip("'\""))
    return found


def _satisfied(requirement: str) -> bool:
    from importlib import metadata

    match = REQUIREMENT_NAME.match(requirement)
    if not match:
        return False
    name = match.group(1)
    try:
        installed = metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    pinned = re.search(r"==\s*([^\s;,]+)", requirement)
    if not pinned:
        return True
    wanted = pinned.group(1)
    if wanted.endswith(".*"):
        return installed.startswith(wanted[:-1]) or installed == wanted[:-2]
    return installed == wanted


class Environments:
    """Resolves each step's environment to a bin folder, building uv environments once."""

    def __init__(self, manager: str, envs_dir: Path, console: Any) -> None:
        if manager not in ENV_MANAGERS:
            raise ProjectError(
                f"--env-manager {manager}: expected one of {', '.join(ENV_MANAGERS)}"
            )
        self.manager = manager
        self.envs_dir = envs_dir
        self.console = console
        self._memo: dict[str, tuple[str, str]] = {}

    def key(self, spec: dict[str, Any], where: str) -> str:
        """What the step runs in, for the cache key ("local" or "uv:<hash>"); builds nothing."""
        return self._plan(spec, where)[0]

    def bin_dir(self, spec: dict[str, Any], where: str) -> str:
        """The bin folder of the step's environment, built first when it is a new uv one."""
        _, plan = self._plan(spec, where)
        if plan is None:
            return str(Path(sys.executable).parent)
        return self._build(*plan, where)

    def isolated_bin(self, spec: dict[str, Any], where: str, folder: Path) -> str:
        """The bin folder one step's processes run in: a fresh layer in ``folder`` over the
        step's environment, so what the step installs stays in it (with ``--env-manager
        local``, the environment amlctl runs in, as chosen)."""
        base = self.bin_dir(spec, where)
        if self.manager == "local":
            return base
        return str(overlay(Path(base), folder))

    def _plan(self, spec: dict[str, Any], where: str) -> tuple[str, Any]:
        memo_key = json.dumps(spec, sort_keys=True, default=str)
        if memo_key not in self._memo:
            self._memo[memo_key] = self._resolve(spec, where)
        return self._memo[memo_key]

    def _resolve(self, spec: dict[str, Any], where: str) -> tuple[str, Any]:
        local = ("local", None)
        if self.manager == "local" or not spec or spec.get("name"):
            return local
        try:
            pip, python, conda_only = requirements(spec)
        except (OSError, ValueError) as exc:
            raise ProjectError(f"{where}: environment cannot be read: {exc}") from None
        if self.manager == "auto":
            # the pinned packages decide: another Python minor version alone (the image's)
            # does not make a step build an environment
            needed = [r for r in pip if not AZURE_ONLY.match(r)]
            if not conda_only and all(_satisfied(r) for r in needed):
                return local
        if conda_only:
            raise ProjectError(
                f"{where}: conda packages with no PyPI distribution: {', '.join(conda_only)}; "
                "install them into this environment and run with --env-manager local"
            )
        return f"uv:{_env_hash(pip, python)}", (pip, python)

    def _build(self, pip: list[str], python: str | None, where: str) -> str:
        key = _env_hash(pip, python)
        folder = self.envs_dir / key
        bin_dir = folder / ("Scripts" if os.name == "nt" else "bin")
        if (folder / ".complete").is_file():
            return str(bin_dir)
        uv = uv_binary()
        if uv is None:
            raise ProjectError(
                f"{where}: building its environment needs uv, an amlctl dependency that is "
                "missing here (pip install uv), or run with --env-manager local"
            )
        self.envs_dir.mkdir(parents=True, exist_ok=True)
        with _locked(self.envs_dir / f"{key}.lock"):
            if (folder / ".complete").is_file():
                return str(bin_dir)
            shutil.rmtree(folder, ignore_errors=True)
            self.console.line(f"-- building environment {key} for {where} ({len(pip)} packages)")
            log = self.envs_dir / f"{key}.log"
            # uv finds an interpreter by version prefix: `python=3.7.6` runs on a 3.7
            wanted = (
                python_prefix(python) if python and _python_available(python) else sys.executable
            )
            with log.open("w") as out:
                for interpreter in dict.fromkeys([wanted, sys.executable]):
                    created = subprocess.run(
                        [uv, "venv", "--seed", "-q", "--python", interpreter, str(folder)],
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        check=False,
                        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
                    )
                    if created.returncode == 0:
                        break
                if python and interpreter == sys.executable and not _python_matches(python):
                    self.console.line(
                        f"-- {where}: Python {python} is not installed here; its environment "
                        f"uses Python {sys.version.split()[0]}"
                    )
                installed = created.returncode == 0 and (
                    not pip
                    or subprocess.run(
                        [uv, "pip", "install", "-q", "-p", str(bin_dir / "python"), *pip],
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        check=False,
                    ).returncode
                    == 0
                )
            if not installed:
                shutil.rmtree(folder, ignore_errors=True)
                missing = re.findall(r"Because (\S+) was not found", log.read_text())
                detail = (
                    f"not on PyPI: {', '.join(sorted(set(missing)))}" if missing else f"see {log}"
                )
                raise ProjectError(f"{where}: its environment cannot be built ({detail})")
            (folder / ".complete").write_text(json.dumps({"pip": pip, "python": python}))
        return str(bin_dir)


def overlay(base_bin: Path, folder: Path) -> Path:
    """A virtual environment in ``folder`` that sees every package of ``base_bin``'s.

    Like Azure ML's per-job container: a step's ``pip install`` writes into the layer only
    (pip leaves packages outside its environment alone, "Not uninstalling ... outside
    environment"), the layer's own packages come first, and neither amlctl's environment
    nor another step's (a concurrent sweep trial's) changes. Written directly, no
    interpreter started: a pyvenv.cfg, the interpreter linked, a .pth file that adds the
    base's site-packages (its own .pth files too: editable installs keep working), and
    ``pip`` scripts that run the layer's interpreter.
    """
    base_python = _interpreter(base_bin)
    real = Path(os.path.realpath(base_python))
    version = _version_of(base_bin.parent) or f"{sys.version_info.major}.{sys.version_info.minor}"
    bin_dir = folder / "bin"
    site_packages = folder / "lib" / f"python{version}" / "site-packages"
    site_packages.mkdir(parents=True, exist_ok=True)
    bin_dir.mkdir(parents=True, exist_ok=True)
    (folder / "pyvenv.cfg").write_text(
        f"home = {real.parent}\ninclude-system-site-packages = false\nversion = {version}\n"
        f"amlctl-base = {base_bin.parent}\n"
    )
    for name in ("python", "python3", f"python{version}"):
        link = bin_dir / name
        if not link.exists():
            link.symlink_to(real)
    bases = _site_packages(base_bin.parent, version)
    (site_packages / "_amlctl_base.pth").write_text(
        "import site; " + "; ".join(f"site.addsitedir({str(b)!r})" for b in bases) + "\n"
    )
    for name in ("pip", "pip3"):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\nexec {shlex.quote(str(bin_dir / "python"))} -m pip "$@"\n')
        script.chmod(0o755)
    return bin_dir


def _interpreter(bin_dir: Path) -> Path:
    for name in ("python", "python3"):
        if (bin_dir / name).exists():
            return bin_dir / name
    return Path(sys.executable)


def _version_of(prefix: Path) -> str | None:
    """major.minor of an environment: this interpreter's, or a venv's from its pyvenv.cfg."""
    if prefix == Path(sys.prefix):
        return f"{sys.version_info.major}.{sys.version_info.minor}"
    cfg = prefix / "pyvenv.cfg"
    for line in cfg.read_text().splitlines() if cfg.is_file() else []:
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info"):
            return ".".join(value.strip().split(".")[:2])
    return None


def _site_packages(prefix: Path, version: str) -> list[Path]:
    """Where an environment's packages are: this interpreter's own, or the venv layout."""
    if prefix == Path(sys.prefix):
        import site

        return [Path(p) for p in site.getsitepackages() if Path(p).is_dir()]
    return [prefix / "lib" / f"python{version}" / "site-packages"]


def uv_binary() -> str | None:
    """uv from its wheel (an amlctl dependency), else from PATH."""
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def _env_hash(pip: list[str], python: str | None) -> str:
    return hashlib.sha256(json.dumps([sorted(pip), python]).encode()).hexdigest()[:16]


def _python_matches(version: str) -> bool:
    wanted = version.rstrip(".*").split(".")
    current = [str(sys.version_info.major), str(sys.version_info.minor)]
    return current[: len(wanted)] == wanted[:2]


def _python_available(version: str) -> bool:
    """An interpreter for a conda pin (`python=3.7.6`, `3.10.*`) by its major.minor prefix."""
    return _python_matches(version) or shutil.which(f"python{python_prefix(version)}") is not None


def python_prefix(version: str) -> str:
    """major.minor of a conda Python pin."""
    return ".".join(version.rstrip(".*").split(".")[:2])


@contextlib.contextmanager
def _locked(path: Path):
    with path.open("w") as handle:
        try:
            import fcntl

            fcntl.flock(handle, fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - Windows: builds are not shared concurrently
            pass
        yield
