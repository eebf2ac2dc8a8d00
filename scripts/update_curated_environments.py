"""Regenerate the pruned definitions of Azure ML's curated environments that `run --local`
builds a step's environment from.

Azure ML builds a job on a curated environment (``azureml:AzureML-sklearn-1.5@latest``,
``azureml://registries/azureml/environments/sklearn-1.5/labels/latest``) from its published
definition: a Docker build context whose Dockerfile creates a conda environment and pip-installs
packages. Those definitions are public in the repository Azure/azureml-assets (MIT licence),
one folder per environment (``assets/**/environments/<folder>/``: ``asset.yaml``,
``spec.yaml``, ``environment.yaml``, ``context/``). The local runner carries a pruned copy:
per environment its Python version, conda packages, pip requirements and base image, read
the way the Dockerfile installs them. Run this to move to a newer azureml-assets commit:

    git clone https://github.com/Azure/azureml-assets /tmp/azureml-assets
    git -C /tmp/azureml-assets checkout <commit>
    python scripts/update_curated_environments.py /tmp/azureml-assets

It writes `amlctl/src/amlctl/local_run/data/curated_environments.json` with the commit it
was read from, and the upstream licence beside it.

What is read, in the Dockerfile's order (a later install of a package replaces an earlier one,
as ``pip install --upgrade`` does): ``conda create``/``conda install`` arguments into the
environment (not into ``-n base``, conda's own), conda files the Dockerfile creates or updates
the environment from (``conda env create -f``), and ``pip install`` arguments and ``-r``
files of the context (not those of the base image's own pip). The Python version is the
conda pin, else the environment's ``Python`` tag, else the base image's (``-py310-``,
``python:3.11``). Build placeholders are resolved as the publishing pipeline does for a
local build: ``=={{latest-pypi-version}}`` means the newest release (no pin) and
``{{latest-image-tag}}`` the ``latest`` tag.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

TEMPLATE = Path(__file__).resolve().parent.parent
SOURCE_URL = "https://github.com/Azure/azureml-assets"
LICENCE_FILES = ("LICENSE.txt", "LICENSE")
JINJA = ("{{", "{%", "{#", "%}", "#}")  # the data must not hold what a template engine reads
LATEST_PIN = re.compile(r"\s*==\s*\{\{\s*latest-pypi-version[^}]*\}\}")
IMAGE_TAG = re.compile(r"\{\{\s*latest-image-tag.*\}\}")  # a tag pattern may hold {6}
CONDA_FILE_NAMES = ("conda_dependencies.yaml", "conda_dependencies.yml", "conda.yaml", "conda.yml")
# arguments of conda / pip that take a value (skipped with it)
CONDA_VALUE_OPTIONS = {"-p", "--prefix", "-n", "--name", "-c", "--channel", "--file", "-f"}
PIP_VALUE_OPTIONS = {
    "-c",
    "--constraint",
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "-t",
    "--target",
    "--prefix",
    "--root",
    "--trusted-host",
    "--cache-dir",
    "--python",
    "-p",
    "--config-settings",
    "--platform",
    "--python-version",
    "--implementation",
    "--abi",
    "--progress-bar",
    "--upgrade-strategy",
    "--log",
    "--src",
    "--timeout",
    "--retries",
    "--proxy",
    "--cert",
    "--exists-action",
    "--no-binary",
    "--only-binary",
    "--report",
}
ELSEWHERE = {"-t", "--target", "--prefix", "--root"}  # installs outside the environment
NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
INDEX_OPTIONS = ("-i", "--index-url", "--extra-index-url")  # e.g. PyTorch's CUDA wheels
BASE_PIPS = ("/opt/miniconda/bin/", "/opt/conda/bin/")  # the base image's pip, not the env's


def package_data_dir() -> Path:
    return TEMPLATE / "amlctl" / "src" / "amlctl" / "local_run" / "data"


def _key(requirement: str) -> str:
    match = NAME.match(requirement.split("::")[-1])
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else requirement


def _clean(requirement: str) -> str | None:
    """A requirement with build placeholders resolved; None for what is not one (a path,
    an URL, a shell variable)."""
    text = LATEST_PIN.sub("", requirement.split("#", 1)[0]).strip().strip("'\"").strip()
    if not text or text.startswith("-") or "$" in text or "{{" in text:
        return None
    if "/" in text or text.endswith((".whl", ".tar.gz", ".zip")) or not NAME.match(text):
        return None
    return text


def _requirement_file(path: Path) -> list[str]:
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        clean = _clean(line)
        if clean:
            found.append(clean)
    return found


def _conda_file(path: Path) -> tuple[list[str], list[str], list[str]]:
    """(conda specs, pip requirements, package indexes of the pip section) of a conda file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    conda, pip, indexes = [], [], []
    for dependency in data.get("dependencies") or []:
        if isinstance(dependency, dict):
            for item in map(str, dependency.get("pip") or []):
                if item.strip().startswith("-"):  # -r file, --extra-index-url URL
                    pip += _pip_arguments(item.split(), path.parent, indexes)
                elif _clean(item):
                    pip.append(str(_clean(item)))
        else:
            clean = _clean(str(dependency))
            if clean:
                conda.append(clean)
    return conda, pip, indexes


def _commands(dockerfile: str) -> list[list[str]]:
    """Each shell command of the Dockerfile's RUN instructions, as words: split at ``;``,
    ``&&``, ``||``, ``|`` and parentheses outside quotes, shell comments dropped, leading
    ``VAR=value`` assignments and ``then``/``do``/``else`` dropped."""
    lines = [line for line in dockerfile.splitlines() if not line.lstrip().startswith("#")]
    text = re.sub(r"\\\s*\n", " ", "\n".join(lines))
    commands = []
    for line in text.splitlines():
        match = re.match(r"\s*RUN\s+(.*)", line)
        if not match:
            continue
        body = match.group(1)
        if body.lstrip().startswith("["):  # exec form: RUN ["pip", "install", "x"]
            with contextlib.suppress(ValueError):
                commands.append([str(w) for w in json.loads(body)])
            continue
        lexer = shlex.shlex(body, posix=True, punctuation_chars=";&|()")
        lexer.whitespace_split = True
        try:
            tokens = list(lexer)
        except ValueError:  # unbalanced quotes: words as they stand
            tokens = body.split()
        current: list[str] = []
        for token in [*tokens, ";"]:
            if token and set(token) <= set(";&|()"):
                while current and (
                    re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", current[0])
                    or current[0] in ("then", "do", "else", "elif", "if", "!", "time", "exec")
                ):
                    current = current[1:]
                if current:
                    commands.append(current)
                current = []
            else:
                current.append(token)
    return commands


def _arguments(words: list[str], value_options: set[str]) -> tuple[list[str], dict[str, str]]:
    """(positional words, {option: value}) of a command's arguments."""
    positional, options = [], {}
    index = 0
    while index < len(words):
        word = words[index]
        if word in value_options and index + 1 < len(words):
            options[word] = words[index + 1]
            index += 2
            continue
        if "=" in word and word.split("=", 1)[0] in value_options:
            options[word.split("=", 1)[0]] = word.split("=", 1)[1]
        elif not word.startswith("-"):
            positional.append(word)
        index += 1
    return positional, options


def read_context(context: Path, dockerfile: Path) -> dict:
    """{"image", "steps"} of a build context: each conda or pip install of its Dockerfile in
    order, as ``{"conda": [...]}`` or ``{"pip": [...], "indexes": [...]}`` (``indexes``, when
    any: the package indexes that install reads besides PyPI)."""
    text = dockerfile.read_text(encoding="utf-8") if dockerfile.is_file() else ""
    images = re.findall(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)", text, re.MULTILINE | re.IGNORECASE)
    image = IMAGE_TAG.sub("latest", images[-1]) if images else None
    steps: list[dict] = []

    def add(kind: str, requirements: list[str], indexes: list[str] | None = None) -> None:
        unique = {_key(r): r for r in requirements}  # within one install the last one counts
        if unique:
            steps.append({kind: list(unique.values()), **({"indexes": indexes} if indexes else {})})

    for words in _commands(text):
        while words and words[0] in ("conda", "mamba", "micromamba") and words[1:2] == ["run"]:
            words = words[2:]  # conda run -p $PREFIX pip install ...
            while words and words[0].startswith("-"):
                words = words[2:] if words[0] in CONDA_VALUE_OPTIONS else words[1:]
        if not words:
            continue
        program = Path(words[0]).name
        if words[0].startswith(BASE_PIPS):
            continue
        if program in ("conda", "mamba", "micromamba"):
            verb = [w for w in words[1:3] if not w.startswith("-")]
            positional, options = _arguments(words[1:], CONDA_VALUE_OPTIONS)
            if options.get("-n", options.get("--name")) == "base":
                continue
            if verb[:2] in (["env", "create"], ["env", "update"]) or "--file" in options:
                name = options.get("-f") or options.get("--file")
                if name and (context / Path(name).name).is_file():
                    conda, pip, indexes = _conda_file(context / Path(name).name)
                    add("conda", conda)  # conda solves its packages, then pip installs its list
                    add("pip", pip, indexes)
            elif verb[:1] in (["create"], ["install"]):
                add("conda", [c for c in map(_clean, positional[1:]) if c])
        elif program in ("pip", "pip3") or (
            program.startswith("python") and words[1:3] == ["-m", "pip"]
        ):
            rest = words[1:] if program.startswith("pip") else words[3:]
            if rest[:1] != ["install"] or ELSEWHERE & {w.split("=")[0] for w in rest}:
                continue
            indexes = []
            add("pip", _pip_arguments(rest[1:], context, indexes), indexes)
        elif program == "uv" and words[1:3] == ["pip", "install"]:
            indexes = []
            add("pip", _pip_arguments(words[3:], context, indexes), indexes)
    return {"image": image, "steps": steps}


def _pip_arguments(words: list[str], context: Path, indexes: list[str]) -> list[str]:
    """Requirements a pip install names (``-r`` files of the context read); the package
    indexes it installs from besides PyPI go to ``indexes``."""
    found: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if word in INDEX_OPTIONS and index + 1 < len(words):
            url = words[index + 1]
            if "$" not in url and "{{" not in url and url not in indexes:
                indexes.append(url)
        if word in ("-r", "--requirement") and index + 1 < len(words):
            file = context / Path(words[index + 1]).name
            if file.is_file():
                found += _requirement_file(file)
            index += 2
            continue
        if word in PIP_VALUE_OPTIONS:
            index += 2
            continue
        clean = _clean(word)
        if clean:
            found.append(clean)
        index += 1
    return found


def python_version(conda: list[str], tags: dict, image: str | None) -> str | None:
    for spec in conda:
        match = re.match(r"^python\s*(?:==?|\s)\s*(\d+(?:\.\d+){0,2})", spec)
        if match:
            return match.group(1)
    tag = str(tags.get("Python") or "").strip()
    if re.fullmatch(r"\d+\.\d+(\.\d+)?", tag):
        return tag
    match = re.search(r"[-/]py(\d)(\d{1,2})(?:[-:/]|$)", image or "") or re.search(
        r"/python:(\d)\.(\d+)", image or ""
    )
    return f"{match.group(1)}.{match.group(2)}" if match else None


def read_environment(folder: Path, source: Path) -> tuple[str, dict] | None:
    """(name, definition) of one environment asset folder, or None for another asset."""
    asset = yaml.safe_load((folder / "asset.yaml").read_text(encoding="utf-8")) or {}
    if asset.get("type") != "environment" or not asset.get("name"):
        return None
    spec_file = folder / str(asset.get("spec") or "spec.yaml")
    spec = yaml.safe_load(spec_file.read_text(encoding="utf-8")) if spec_file.is_file() else {}
    extra_file = folder / str(asset.get("extra_config") or "environment.yaml")
    extra = yaml.safe_load(extra_file.read_text(encoding="utf-8")) if extra_file.is_file() else {}
    image_config = (extra or {}).get("image") or {}
    context_config = image_config.get("context") or {}
    context = folder / str(context_config.get("dir") or "context")
    definition = read_context(
        context, context / str(context_config.get("dockerfile") or "Dockerfile")
    )
    if not definition["image"] and isinstance((spec or {}).get("image"), str):
        definition["image"] = IMAGE_TAG.sub("latest", spec["image"])
    tags = (spec or {}).get("tags") or {}
    conda = [c for step in definition["steps"] for c in step.get("conda", [])]
    definition["python"] = python_version(conda, tags, definition["image"])
    for step in definition["steps"]:
        if "conda" in step:
            step["conda"] = [c for c in step["conda"] if _key(c) != "python"]
    definition["steps"] = [step for step in definition["steps"] if step.get("conda", True)]
    definition["version"] = str(asset.get("version") or "auto")
    definition["path"] = folder.relative_to(source).as_posix()
    return str(asset["name"]), definition


def build(source: Path) -> tuple[dict, list[str]]:
    assets = source / "assets"
    if not assets.is_dir():
        raise SystemExit(f"{source} is not a checkout of {SOURCE_URL} (no assets/ folder)")
    environments: dict[str, dict] = {}
    problems: list[str] = []
    for asset_file in sorted(assets.glob("**/environments/**/asset.yaml")):
        try:
            found = read_environment(asset_file.parent, source)
        except (OSError, yaml.YAMLError) as exc:
            problems.append(f"{asset_file.relative_to(source)}: {exc}")
            continue
        if found is None:
            continue
        name, definition = found
        if name in environments:
            problems.append(
                f"{name}: defined twice ({environments[name]['path']}, {definition['path']})"
            )
        environments[name] = definition
    return environments, problems


def source_commit(source: Path) -> str | None:
    git = shutil.which("git")
    if git is None or not (source / ".git").exists():
        return None
    done = subprocess.run(
        [git, "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help=f"a checkout of {SOURCE_URL}")
    parser.add_argument("--commit", help="the checkout's commit, when it is not a git clone")
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    commit = args.commit or source_commit(args.source)
    if not commit:
        print(f"{args.source}: not a git clone; name its commit with --commit", file=sys.stderr)
        return 1
    licence = next((args.source / n for n in LICENCE_FILES if (args.source / n).is_file()), None)
    if licence is None:
        print(
            f"{args.source}: no LICENSE.txt (the MIT notice must ship with the data)",
            file=sys.stderr,
        )
        return 1
    environments, problems = build(args.source)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    data = {
        "source": SOURCE_URL,
        "commit": commit,
        "licence": "MIT; see LICENSE-azureml-assets beside this file",
        "environments": environments,
    }
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    clash = [token for token in JINJA if token in text]
    if clash:
        print(f"the definitions hold {clash}, which Jinja would read", file=sys.stderr)
        return 1
    out = args.out or package_data_dir()
    out.mkdir(parents=True, exist_ok=True)
    (out / "curated_environments.json").write_text(text, encoding="utf-8")
    shutil.copy(licence, out / "LICENSE-azureml-assets")
    print(f"{len(environments)} environments at {commit[:12]}, {len(text) // 1024} KiB -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
