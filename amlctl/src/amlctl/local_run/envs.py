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
import threading
from pathlib import Path
from typing import Any

from ..project import ProjectError

ENV_MANAGERS = ("auto", "local", "uv")
# conda packages that are part of the image or the toolchain, not Python packages
CONDA_BUILTINS = {"python", "pip", "setuptools", "wheel", "conda", "ca-certificates", "openssl"}
# ... of which a pinned version is installed as asked (`setuptools<82`: a package may need it)
VERSIONED_TOOLS = {"setuptools", "wheel"}
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


def requirements(spec: dict[str, Any]) -> tuple[list[str], str | None, list[str]]:
    """(pip requirements, python version, conda-only packages) of an environment spec."""
    pip, python, conda_only, _ = requirements_and_options(spec)
    return pip, python, conda_only


def requirements_and_options(
    spec: dict[str, Any],
) -> tuple[list[str], str | None, list[str], list[str]]:
    """``requirements`` and the package-index options of the conda file's pip section
    (``--extra-index-url https://download.pytorch.org/whl/cu126``), as pip reads them."""
    import yaml

    conda: Any = spec.get("conda")
    if spec.get("conda_file"):
        conda = yaml.safe_load(Path(spec["conda_file"]).read_text())
    pip: list[str] = []
    python = None
    conda_only: list[str] = []
    options: list[str] = []
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
            items = [str(x).strip() for x in dependency.get("pip") or []]
            pip += [x for x in items if not x.startswith("-")]
            options += [w for x in items if x.startswith("-") for w in _index_option(x)]
            continue
        parsed = conda_match_spec(str(dependency))
        if parsed is None:
            continue
        name, version, requirement = parsed
        if name == "python":
            python = version
        elif name in CONDA_BUILTINS and not (name in VERSIONED_TOOLS and requirement != name):
            continue
        elif name in CONDA_ONLY or name.startswith(("lib", "cuda")):
            conda_only.append(name)
        else:  # a conda package also on PyPI under its name (numpy=1.26 -> numpy==1.26.*)
            pip.append(requirement)
    return pip, python, conda_only, options


def _index_option(line: str) -> list[str]:
    """uv's arguments for a pip-section option line that names where packages come from."""
    option, _, value = line.replace("=", " ", 1).partition(" ")
    names = {"-i": "--index-url", "--index-url": "--index-url"}
    names.update({"--extra-index-url": "--extra-index-url", "-f": "--find-links"})
    names["--find-links"] = "--find-links"
    if option in names and value.strip():
        return [names[option], value.strip()]
    return []


def conda_match_spec(text: str) -> tuple[str, str | None, str] | None:
    """(name, the version an ``=``/``==`` pin names, pip requirement) of a conda package spec.

    ``numpy=1.26`` -> ``numpy==1.26.*`` (conda's ``=`` is a prefix), ``numpy==1.26.4`` and
    ``numpy=1.26.4=py311h_0`` (a build string) -> ``numpy==1.26.4``, ``pandas~=1.5.3``,
    ``psutil>=5.2,<6`` as they are, ``numpy 1.26.*`` -> ``numpy==1.26.*``.
    """
    text = text.split("#", 1)[0].split("::")[-1].strip()
    match = re.match(r"^([A-Za-z0-9._-]+)\s*(.*)$", text)
    if not match:
        return None
    name, rest = match.group(1).lower(), match.group(2).replace(" ", "")
    if not rest:
        return name, None, name
    if rest[0] not in "=<>!~":  # `numpy 1.26.*`
        rest = "=" + rest
    if rest.startswith("==") or (rest.startswith("=") and not rest.startswith("==")):
        exact = rest.startswith("==")
        version = rest.lstrip("=").split("=")[0]
        if "," in version or "|" in version:
            return name, None, f"{name}{'==' if exact else '>='}{version}"
        fuzzy = not exact and version.count(".") < 2 and not version.endswith("*")
        return name, version.rstrip(".*"), f"{name}=={version}{'.*' if fuzzy else ''}"
    return name, None, f"{name}{rest}"


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
    """Whether amlctl's environment has a package at a version the requirement allows."""
    from importlib import metadata

    from packaging.requirements import InvalidRequirement, Requirement

    try:
        wanted = Requirement(requirement)
    except InvalidRequirement:
        return False
    try:
        installed = metadata.version(wanted.name)
    except metadata.PackageNotFoundError:
        return False
    return wanted.specifier.contains(installed, prereleases=True)


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
        self._memo_lock = threading.Lock()

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
        with self._memo_lock:  # steps resolve on worker threads: one resolution, one note
            if memo_key not in self._memo:
                self._memo[memo_key] = self._resolve(spec, where)
            return self._memo[memo_key]

    def _resolve(self, spec: dict[str, Any], where: str) -> tuple[str, Any]:
        local = ("local", None)
        if self.manager == "local" or not spec:
            return local
        if spec.get("name"):
            spec = self._named(str(spec["name"]), where)
            if spec is None:
                return local
        try:
            steps, python, conda_only = install_steps(spec)
        except (OSError, ValueError) as exc:
            raise ProjectError(f"{where}: environment cannot be read: {exc}") from None
        pip = [r for step, _ in steps for r in step]
        if self.manager == "auto":
            # the pinned packages decide: another Python minor version alone (the image's)
            # does not make a step build an environment
            needed = [r for r in pip if not AZURE_ONLY.match(r)]
            # a curated environment's Python is part of its definition, and decides too
            python_ok = not spec.get("curated") or not python or _python_matches(python)
            if not conda_only and python_ok and all(_satisfied(r) for r in needed):
                return local
        if conda_only:
            raise ProjectError(
                f"{where}: conda packages with no PyPI distribution: {', '.join(conda_only)}; "
                "install them into this environment and run with --env-manager local"
            )
        label = str(spec.get("curated") or "")
        return f"uv:{_steps_hash(steps, python)}", (steps, python, label)

    def _named(self, name: str, where: str) -> dict[str, Any] | None:
        """A named environment with no definition in the project: a curated one's published
        definition (its installs in order), else None (the step runs in amlctl's environment)."""
        from . import curated

        ref = curated.reference(name)
        found = curated.definition(ref) if ref else None
        if found is None:
            what = (
                f"is not a curated environment of azureml-assets {curated.commit()[:12]}"
                + (
                    f" (its successor today: {curated.successor(ref)})"
                    if curated.successor(ref)
                    else ""
                )
                if ref
                else "has no definition in the project's environments folder"
            )
            self.console.line(
                f"-- {where}: environment {name} {what}; the step runs in amlctl's environment"
            )
            return None
        label = f"curated {ref.name}"
        if ref.version is not None:  # azureml-assets keeps the current definition only
            label += f" version {ref.version} as defined at azureml-assets {curated.commit()[:12]}"
        return {"steps": found.get("steps") or [], "python": found.get("python"), "curated": label}

    def _build(
        self, steps: list[tuple[list[str], list[str]]], python: str | None, label: str, where: str
    ) -> str:
        key = _steps_hash(steps, python)
        pip = list(dict.fromkeys(r for step, _ in steps for r in step))
        folder = self.envs_dir / key
        bin_dir = folder / ("Scripts" if os.name == "nt" else "bin")
        if _usable(folder, python):
            return str(bin_dir)
        uv = uv_binary()
        if uv is None:
            raise ProjectError(
                f"{where}: building its environment needs uv, an amlctl dependency that is "
                "missing here (pip install uv), or run with --env-manager local"
            )
        self.envs_dir.mkdir(parents=True, exist_ok=True)
        with _locked(self.envs_dir / f"{key}.lock"):
            if _usable(folder, python):
                return str(bin_dir)
            shutil.rmtree(folder, ignore_errors=True)
            what = f"{label}, " if label else ""
            self.console.line(
                f"-- building environment {key} for {where} ({what}{len(pip)} packages)"
            )
            log = self.envs_dir / f"{key}.log"
            with log.open("w") as out:
                # an interpreter of the pinned major.minor (`python=3.7.6` runs on a 3.7)
                interpreter = find_python(python, uv, out) if python else sys.executable
                if interpreter is None:
                    self.console.line(
                        f"-- {where}: Python {python} is not installed here and uv cannot "
                        f"download it; its environment uses Python {sys.version.split()[0]}"
                    )
                for candidate in dict.fromkeys([interpreter or sys.executable, sys.executable]):
                    created = subprocess.run(
                        [uv, "venv", "--seed", "-q", "--python", candidate, str(folder)],
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        check=False,
                        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
                    )
                    if created.returncode == 0:
                        break
                installed = created.returncode == 0
                python_bin = str(bin_dir / "python")
                for requirements, options in steps:  # in order, as its Dockerfile installs
                    installed = installed and (
                        not requirements
                        or subprocess.run(
                            [uv, "pip", "install", "-q", "-p", python_bin, *options, *requirements],
                            stdout=out,
                            stderr=subprocess.STDOUT,
                            check=False,
                        ).returncode
                        == 0
                    )
            if not installed:
                shutil.rmtree(folder, ignore_errors=True)
                text = log.read_text()
                missing = re.findall(r"Because (\S+) was not found", text)
                unreachable = re.findall(r"Failed to fetch: (\S+)", text)
                detail = (
                    f"not on PyPI: {', '.join(sorted(set(missing)))}"
                    if missing
                    else f"cannot reach {unreachable[0]}; see {log}"
                    if unreachable
                    else f"see {log}"
                )
                raise ProjectError(f"{where}: its environment cannot be built ({detail})")
            done: dict[str, Any] = {"pip": pip, "python": python}
            if len(steps) > 1:
                done["steps"] = [list(step) for step in steps]
            elif steps and steps[0][1]:
                done["options"] = steps[0][1]
            if python and interpreter is None:
                done["fallback"] = sys.version.split()[0]  # rebuilt once the version is here
            (folder / ".complete").write_text(json.dumps(done))
        return str(bin_dir)


def _usable(folder: Path, python: str | None) -> bool:
    """A built environment to reuse: complete, and not one built on this Python for want of
    the pinned version when that version is installed now."""
    complete = folder / ".complete"
    if not complete.is_file():
        return False
    if not python:
        return True
    try:
        fallback = json.loads(complete.read_text()).get("fallback")
    except (OSError, ValueError):
        return False
    return not fallback or find_python(python, None, None) is None


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


def install_steps(
    spec: dict[str, Any],
) -> tuple[list[tuple[list[str], list[str]]], str | None, list[str]]:
    """([(pip requirements, uv options) of each install in order], python version, conda-only
    packages) of an environment spec: one install for a conda file or build context, the
    Dockerfile's installs for a curated definition (``{"steps": [{"conda": [...]},
    {"pip": [...], "indexes": [...]}], "python": ...}``)."""
    if spec.get("steps") is None:
        pip, python, conda_only, options = requirements_and_options(spec)
        return [(pip, _with_strategy(options))], python, conda_only
    steps: list[tuple[list[str], list[str]]] = []
    conda_only: list[str] = []
    for step in spec["steps"]:
        if "conda" in step:
            pip, _, only, _ = requirements_and_options({"conda": {"dependencies": step["conda"]}})
            conda_only += only
            options: list[str] = []
        else:
            pip = [str(r) for r in step.get("pip") or []]
            options = [w for url in step.get("indexes") or [] for w in ("--extra-index-url", url)]
        if pip:
            steps.append((pip, _with_strategy(options)))
    return steps, spec.get("python"), conda_only


def _with_strategy(options: list[str]) -> list[str]:
    """pip takes the best match across package indexes; uv's default is the first that has
    the package."""
    if any(o in ("--index-url", "--extra-index-url", "--find-links") for o in options):
        return [*options, "--index-strategy", "unsafe-best-match"]
    return options


def _steps_hash(steps: list[tuple[list[str], list[str]]], python: str | None) -> str:
    if len(steps) <= 1:  # a conda file's: the key it always had
        pip, options = steps[0] if steps else ([], [])
        return _env_hash(pip + options, python)
    text = json.dumps([[sorted(pip), options] for pip, options in steps] + [python])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _env_hash(pip: list[str], python: str | None) -> str:
    return hashlib.sha256(json.dumps([sorted(pip), python]).encode()).hexdigest()[:16]


def _python_matches(version: str) -> bool:
    wanted = version.rstrip(".*").split(".")
    current = [str(sys.version_info.major), str(sys.version_info.minor)]
    return current[: len(wanted)] == wanted[:2]


def _python_available(version: str) -> bool:
    """An interpreter for a conda pin (`python=3.7.6`, `3.10.*`) by its major.minor prefix,
    on PATH or in pyenv's versions folder (uv is not asked, nothing is downloaded)."""
    return find_python(version, None, None) is not None


def find_python(version: str, uv: str | None, log: Any) -> str | None:
    """An interpreter of ``version``'s major.minor: this one, one on PATH or in pyenv's
    versions folder (pyenv's shims fail for versions other than its global one, so each
    candidate is asked its version), uv's managed Pythons; else, with ``uv``, one uv
    downloads where the network allows (not when UV_PYTHON_DOWNLOADS=never)."""
    prefix = python_prefix(version)
    if _python_matches(version):
        return sys.executable
    candidates = [
        str(Path(folder) / f"python{prefix}")
        for folder in os.environ.get("PATH", "").split(os.pathsep)
        if folder and (Path(folder) / f"python{prefix}").is_file()
    ]
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    installed = [
        p
        for p in (root / "versions").glob(f"{prefix}*")
        if p.name.split(".")[:2] == prefix.split(".")
    ]
    for folder in sorted(installed, key=lambda p: _version_key(p.name), reverse=True):
        candidates.append(str(folder / "bin" / f"python{prefix}"))
    for candidate in dict.fromkeys(candidates):
        if _reports_version(candidate, prefix):
            return candidate
    if uv is None:
        return None
    never = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    steps = [["python", "find", "--managed-python", prefix]]
    if os.environ.get("UV_PYTHON_DOWNLOADS", "").lower() != "never":
        steps += [["python", "install", prefix], ["python", "find", "--managed-python", prefix]]
    for step in steps:
        try:
            done = subprocess.run(
                [uv, *step],
                capture_output=True,
                text=True,
                env=never if "find" in step else None,
                timeout=600,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return None
        if log is not None:
            log.write(f"$ uv {' '.join(step)}\n{done.stdout}{done.stderr}")
        if "find" in step and done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip().splitlines()[-1]
        if "install" in step and done.returncode != 0:
            return None
    return None


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name)[:3])


def _reports_version(interpreter: str, prefix: str) -> bool:
    try:
        done = subprocess.run(
            [interpreter, "-c", "import sys; print(*sys.version_info[:2], sep='.')"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.strip() == prefix


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
