"""The bundled definitions of Azure ML's curated environments, and the script that
regenerates them from an Azure/azureml-assets checkout (run here on a small fake tree)."""

from __future__ import annotations

import json
import re
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import update_curated_environments as script  # noqa: E402


def bundled() -> dict:
    path = script.package_data_dir() / "curated_environments.json"
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_licence_source_and_commit_travel_with_the_data():
    data = bundled()
    assert data["source"] == script.SOURCE_URL
    assert re.fullmatch(r"[0-9a-f]{40}", data["commit"])
    licence = script.package_data_dir() / "LICENSE-azureml-assets"
    assert "MIT License" in licence.read_text(encoding="utf-8")
    assert "local_run/data/LICENSE-*" in (ROOT / "amlctl" / "pyproject.toml").read_text()


def test_the_bundled_data_holds_the_curated_environments_examples_use():
    environments = bundled()["environments"]
    sklearn = environments["sklearn-1.5"]
    assert sklearn["python"] == "3.10"
    conda, pip, upgrade = sklearn["steps"]
    assert "pandas~=1.5.3" in conda["conda"] and "scikit-learn~=1.5.0" in pip["pip"]
    assert upgrade == {
        "pip": [
            "aiohttp>=3.14.0",
            "cryptography==48.0.1",
            "distributed>=2026.1.0",
            "pyarrow>=23.0.1",
        ]
    }
    assert sklearn["image"] == "mcr.microsoft.com/azureml/openmpi5.0-ubuntu24.04:latest"
    assert sklearn["path"] == "assets/training/general/environments/sklearn-1.5"
    assert environments["mldesigner-minimal"]["steps"] == [
        {"conda": ["pip=26.1", "setuptools<82"]},
        {"pip": ["mldesigner"]},
    ]
    for name, definition in environments.items():
        keys = {"image", "path", "python", "steps", "version"}
        assert set(definition) == keys, name
        text = json.dumps(definition)
        assert "{{" not in text and "$" not in text, name  # no build placeholder left


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def fake_checkout(root: Path) -> Path:
    """Three environments in the layout of azureml-assets: a conda file the Dockerfile
    creates the environment from, a Dockerfile that installs with conda and pip (and then
    upgrades one package), and requirements.txt; plus a component (not an environment)."""
    env = "assets/training/general/environments"
    spec = """
        name: "{{asset.name}}"
        version: "{{asset.version}}"
        build:
          path: "{{image.context.path}}"
          dockerfile_path: "{{image.dockerfile.path}}"
        tags:
          Python: "3.9"
        """
    extra = """
        image:
          name: azureml/curated/x
          context:
            dir: context
            dockerfile: Dockerfile
        """
    write(
        root,
        {
            "LICENSE.txt": "Copyright (c) Microsoft Corporation.\n\nMIT License\n",
            f"{env}/tiny/asset.yaml": "name: tiny\nversion: auto\ntype: environment\n"
            "spec: spec.yaml\nextra_config: environment.yaml\n",
            f"{env}/tiny/spec.yaml": spec,
            f"{env}/tiny/environment.yaml": extra,
            f"{env}/tiny/context/Dockerfile": """
                FROM mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:{{latest-image-tag}}
                ENV CONDA_PREFIX=/azureml-envs/tiny
                COPY conda_dependencies.yaml .
                # RUN pip install commented-out==1.0
                RUN conda env create -p $CONDA_PREFIX -f conda_dependencies.yaml -q && \\
                    rm conda_dependencies.yaml
                """,
            f"{env}/tiny/context/conda_dependencies.yaml": """
                name: tiny
                channels: [conda-forge]
                dependencies:
                - python=3.10
                - pip=26.1
                - numpy=1.26
                - pip:
                  - azureml-core=={{latest-pypi-version}}
                  - tabulate==0.9.0  # a comment
                  - --extra-index-url https://example.org/simple
                """,
            f"{env}/split/asset.yaml": "name: split\nversion: 3\ntype: environment\n"
            "spec: spec.yaml\nextra_config: environment.yaml\n",
            f"{env}/split/spec.yaml": spec,
            f"{env}/split/environment.yaml": extra,
            f"{env}/split/context/Dockerfile": """
                FROM mcr.microsoft.com/aifx/acpt/stable-ubuntu2204-cu126-py310-torch280:TAG
                RUN conda create -p $CONDA_PREFIX -q -y python=3.11 pip=26.1.2 'pandas~=1.5.3' \\
                    -c conda-forge && conda clean -a -y
                RUN conda run -p $CONDA_PREFIX pip install --no-cache-dir \\
                    'scikit-learn~=1.5.0' six==1.16.0 \\
                    -r requirements.txt \\
                    --extra-index-url https://download.pytorch.org/whl/cu126 torch==2.10.0+cu126
                RUN conda run -p $CONDA_PREFIX pip install --upgrade six==1.17.0 ./local.whl
                RUN /opt/miniconda/bin/pip install --upgrade 'idna>=3.15'
                RUN conda install -n base -c conda-forge -y 'urllib3=2.7.0'
                RUN MAX_JOBS=$(nproc) pip install --progress-bar off nltk==3.9.4 # Fixes a CVE.
                RUN pip install idna==3.15 --target "$(python -c 'import site; print(1)')/x" && \\
                    if true; then pip install "h11>=0.16"; fi
                """,
            f"{env}/split/context/requirements.txt": "# pins\ntqdm~=4.66.3\n-e ./src\n",
            f"{env}/image-only/asset.yaml": "name: image-only\nversion: auto\n"
            "type: environment\nspec: spec.yaml\nextra_config: environment.yaml\n",
            f"{env}/image-only/spec.yaml": spec.replace('Python: "3.9"', "OS: Ubuntu"),
            f"{env}/image-only/environment.yaml": extra,
            f"{env}/image-only/context/Dockerfile": """
                FROM mcr.microsoft.com/devcontainers/python:3.11
                RUN python3.11 -m pip install -e ./ --no-cache-dir && rm -rf ~/.cache/pip
                RUN pip install "jinja2>=3.1.6"
                """,
            f"{env}/tiny/tests/component/asset.yaml": "name: train\ntype: component\n",
        },
    )
    dockerfile = root / env / "split" / "context" / "Dockerfile"
    pattern = r"{{latest-image-tag:biweekly\.\d{6}\.\d{1}.*}}"  # as azureml-assets writes it
    dockerfile.write_text(dockerfile.read_text().replace("TAG", pattern))
    return root


EXPECTED = {
    "image-only": {
        "image": "mcr.microsoft.com/devcontainers/python:3.11",
        "path": "assets/training/general/environments/image-only",
        "python": "3.11",
        "steps": [{"pip": ["jinja2>=3.1.6"]}],
        "version": "auto",
    },
    "split": {
        "image": "mcr.microsoft.com/aifx/acpt/stable-ubuntu2204-cu126-py310-torch280:latest",
        "path": "assets/training/general/environments/split",
        "python": "3.11",
        "steps": [
            {"conda": ["pip=26.1.2", "pandas~=1.5.3"]},
            {
                "pip": [
                    "scikit-learn~=1.5.0",
                    "six==1.16.0",
                    "tqdm~=4.66.3",
                    "torch==2.10.0+cu126",
                ],
                "indexes": ["https://download.pytorch.org/whl/cu126"],
            },
            {"pip": ["six==1.17.0"]},
            {"pip": ["nltk==3.9.4"]},  # the comment is no package, `off` no requirement
            {"pip": ["h11>=0.16"]},  # not the install into another folder (--target)
        ],
        "version": "3",
    },
    "tiny": {
        "image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest",
        "path": "assets/training/general/environments/tiny",
        "python": "3.10",
        "steps": [
            {"conda": ["pip=26.1", "numpy=1.26"]},
            {"pip": ["azureml-core", "tabulate==0.9.0"], "indexes": ["https://example.org/simple"]},
        ],
        "version": "auto",
    },
}


def test_the_script_writes_each_environment_as_its_dockerfile_installs_it(tmp_path):
    source = fake_checkout(tmp_path / "azureml-assets")
    out = tmp_path / "data"
    code = script.main([str(source), "--commit", "a" * 40, "--out", str(out)])
    assert code == 0
    data = json.loads((out / "curated_environments.json").read_text(encoding="utf-8"))
    assert data == {
        "source": "https://github.com/Azure/azureml-assets",
        "commit": "a" * 40,
        "licence": "MIT; see LICENSE-azureml-assets beside this file",
        "environments": EXPECTED,
    }
    assert "MIT License" in (out / "LICENSE-azureml-assets").read_text(encoding="utf-8")


def test_the_script_takes_the_commit_of_a_clone_and_refuses_without_one(tmp_path, capsys):
    import subprocess

    source = fake_checkout(tmp_path / "azureml-assets")
    out = tmp_path / "data"
    assert script.main([str(source), "--out", str(out)]) == 1
    assert "not a git clone; name its commit with --commit" in capsys.readouterr().err
    assert not out.exists()  # nothing written
    for command in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "assets"],
    ):
        subprocess.run(["git", *command], cwd=source, check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert script.main([str(source), "--out", str(out)]) == 0
    assert json.loads((out / "curated_environments.json").read_text())["commit"] == head


def test_the_script_refuses_a_folder_that_is_not_azureml_assets(tmp_path):
    import pytest

    with pytest.raises(SystemExit, match="is not a checkout of"):
        script.build(tmp_path)
