"""Curated and registry environments run locally on the definitions Azure ML publishes.

A step on ``azureml://registries/azureml/environments/<name>/labels/latest`` (or
``/versions/<n>``, or a workspace's ``azureml:AzureML-<name>@latest``) gets that
environment's Python and packages (local_run/data/curated_environments.json, read from
Azure/azureml-assets), built with uv once and reused; a name Azure ML does not offer runs in
amlctl's environment with one line saying so.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
from fakes.project import write_repository as write

from amlctl.local_run import command as run_command
from amlctl.local_run import curated, envs

PROBE = (
    'python -c "import sys, setuptools, mldesigner; '
    "print('python', *sys.version_info[:2], 'setuptools', setuptools.__version__, "
    "'mldesigner', '.runs/envs/' in mldesigner.__file__)\""
)


@pytest.fixture(autouse=True)
def shared_tracking(tmp_path_factory, monkeypatch):
    store = tmp_path_factory.getbasetemp() / "curated-mlflow"
    store.mkdir(exist_ok=True)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
    monkeypatch.setenv("AMLCTL_TRACKING_IDLE_SECONDS", "120")
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)


def run(pipeline: Path, **options) -> tuple[int, str]:
    stream = io.StringIO()
    code = run_command.run_pipeline(pipeline, [], stream=stream, **options)
    return code, stream.getvalue()


def pipeline(environment: str, command: str = PROBE) -> str:
    return f"""
    type: pipeline
    jobs:
      probe:
        command: {json.dumps(command)}
        environment: {environment}
    """


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "azureml://registries/azureml/environments/sklearn-1.5/labels/latest",
            curated.Reference("sklearn-1.5", label="latest"),
        ),
        (
            "azureml://registries/azureml/environments/sklearn-1.5/versions/21",
            curated.Reference("sklearn-1.5", version="21"),
        ),
        ("azureml:AzureML-sklearn-1.5@latest", curated.Reference("sklearn-1.5", label="latest")),
        ("azureml:AzureML-sklearn-1.5:7", curated.Reference("sklearn-1.5", version="7")),
        # azure-ai-ml hands a component's environment over without `azureml:`
        ("AzureML-sklearn-1.5@latest", curated.Reference("sklearn-1.5", label="latest")),
        (
            "azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest",
            curated.Reference("sklearn-1.0-ubuntu20.04-py38-cpu", label="latest"),
        ),
        # not curated: another registry's, a workspace's own
        ("azureml://registries/my-registry/environments/sklearn-1.5/versions/1", None),
        ("azureml:my-training-env:3", None),
        ("my-training-env@latest", None),
    ],
)
def test_each_reference_form_names_its_curated_environment(text, expected):
    assert curated.reference(text) == expected


def test_a_curated_definition_is_its_python_and_pinned_packages():
    found = curated.definition(curated.reference("azureml:AzureML-sklearn-1.5@latest"))
    steps, python, conda_only = envs.install_steps(found)
    assert python == "3.10" and conda_only == []
    # its Dockerfile's three installs, in order: conda's (pip itself left out), two pip ones
    assert steps[0] == (["pandas~=1.5.3", "scipy~=1.10.0", "numpy~=1.22.0"], [])
    assert {"scikit-learn~=1.5.0", "azureml-mlflow"} <= set(steps[1][0])
    assert steps[2] == (
        ["aiohttp>=3.14.0", "cryptography==48.0.1", "distributed>=2026.1.0", "pyarrow>=23.0.1"],
        [],
    )
    torch = envs.install_steps(curated.data()["environments"]["acpt-pytorch-2.2-cuda12.1"])[0]
    assert (
        ["torch==2.10.0+cu126", "torchvision==0.25.0+cu126", "torchaudio==2.10.0+cu126"],
        [
            "--extra-index-url",
            "https://download.pytorch.org/whl/cu126",
            "--index-strategy",
            "unsafe-best-match",
        ],
    ) in torch
    # a retired name is not among today's curated environments
    assert curated.definition(curated.reference("AzureML-sklearn-1.0-ubuntu20.04-py38-cpu")) is None


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("numpy=1.26", ("numpy", "1.26", "numpy==1.26.*")),
        ("numpy==1.26.4", ("numpy", "1.26.4", "numpy==1.26.4")),
        ("numpy=1.26.4=py311h64a7726_0", ("numpy", "1.26.4", "numpy==1.26.4")),
        ("numpy 1.26.*", ("numpy", "1.26", "numpy==1.26.*")),
        ("pandas~=1.5.3", ("pandas", None, "pandas~=1.5.3")),
        ("psutil>=5.2.2,<6.0.0", ("psutil", None, "psutil>=5.2.2,<6.0.0")),
        ("conda-forge::tzdata", ("tzdata", None, "tzdata")),
        ("python=3.7.6", ("python", "3.7.6", "python==3.7.6")),
        ("setuptools<82", ("setuptools", None, "setuptools<82")),
    ],
)
def test_conda_package_specs_become_pip_requirements(spec, expected):
    assert envs.conda_match_spec(spec) == expected


def test_a_step_on_a_curated_environment_gets_its_python_and_packages(tmp_path, monkeypatch):
    """mldesigner-minimal: Python 3.10, `setuptools<82` (a conda pin) and mldesigner (pip)."""
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")
    reference = "azureml://registries/azureml/environments/mldesigner-minimal/labels/latest"
    root = write(tmp_path / "repo", {"pipeline.yml": pipeline(reference)})
    code, out = run(root / "pipeline.yml")
    assert code == 0, out
    assert "(curated mldesigner-minimal, 2 packages)" in out
    line = next(x for x in out.splitlines() if x.startswith("[probe] python "))
    _, _, major, minor, _, setuptools, _, own = line.split()
    assert int(setuptools.split(".")[0]) < 82 and own == "True"  # in the step's environment
    if envs.find_python("3.10", None, None) is not None:
        assert (major, minor) == ("3", "10"), out
    else:  # this machine has no Python 3.10: the host's, and one line that says so
        assert "Python 3.10 is not installed here and uv cannot download it" in out
        assert (major, minor) == tuple(map(str, sys.version_info[:2]))
    built = list((root / ".runs" / "envs").glob("*/.complete"))
    assert [json.loads(p.read_text()) for p in built] == [
        {
            "pip": ["setuptools<82", "mldesigner"],
            "python": "3.10",
            "steps": [[["setuptools<82"], []], [["mldesigner"], []]],  # conda's, then pip's
        }
    ]
    # the same definition by a workspace name and a version: the built environment is reused
    (root / "pipeline.yml").write_text(
        textwrap.dedent(pipeline("azureml:AzureML-mldesigner-minimal:3", PROBE + " && echo v3"))
    )
    code, again = run(root / "pipeline.yml")
    assert code == 0, again
    assert "building environment" not in again and line in again
    assert len(list((root / ".runs" / "envs").glob("*/.complete"))) == 1


def test_a_missing_python_version_builds_on_the_host_python_with_one_line(tmp_path, monkeypatch):
    """No interpreter of the definition's version and no download: the pins still hold."""
    data = {
        "source": "https://github.com/Azure/azureml-assets",
        "commit": "0" * 40,
        "licence": "MIT",
        "environments": {
            "tiny-9.9": {
                "image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest",
                "path": "assets/training/general/environments/tiny-9.9",
                "steps": [{"conda": ["pip=26.1"]}, {"pip": ["tabulate==0.8.10"]}],
                "python": "3.99",
                "version": "auto",
            }
        },
    }
    (tmp_path / "curated.json").write_text(json.dumps(data))
    monkeypatch.setattr(curated, "DATA", tmp_path / "curated.json")
    curated.data.cache_clear()
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(tmp_path / "no-managed-pythons"))
    command = "python -c \"import tabulate; print('tabulate', tabulate.__version__)\""
    root = write(
        tmp_path / "repo",
        {
            "pipeline.yml": pipeline(
                "azureml://registries/azureml/environments/tiny-9.9/versions/4", command
            )
        },
    )
    try:
        code, out = run(root / "pipeline.yml", env_manager="uv")
    finally:
        curated.data.cache_clear()
    assert code == 0, out
    assert "[probe] tabulate 0.8.10" in out  # amlctl's environment has another or none
    assert (
        "(curated tiny-9.9 version 4 as defined at azureml-assets 000000000000, 1 packages)" in out
    )
    warnings = [x for x in out.splitlines() if "Python 3.99" in x]
    assert warnings == [
        "-- jobs.probe: Python 3.99 is not installed here and uv cannot download it; its "
        f"environment uses Python {sys.version.split()[0]}"
    ]


def test_an_unknown_curated_name_runs_in_amlctls_environment_with_one_line(tmp_path):
    root = write(
        tmp_path / "repo",
        {
            "pipeline.yml": """
            type: pipeline
            jobs:
              first:
                command: echo first
                environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
              second:
                command: echo second
                environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
            """
        },
    )
    code, out = run(root / "pipeline.yml")
    assert code == 0, out
    warnings = [x for x in out.splitlines() if "is not a curated environment" in x]
    assert len(warnings) == 1, out  # once per environment
    assert warnings[0].endswith(
        ": environment AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest is not a curated "
        f"environment of azureml-assets {curated.commit()[:12]} (its successor today: "
        "sklearn-1.0); the step runs in amlctl's environment"
    )
    assert "building environment" not in out and "[second] second" in out


def test_a_curated_environment_installs_from_the_package_index_its_dockerfile_names(
    tmp_path, monkeypatch
):
    """`--extra-index-url` (PyTorch's CUDA wheels in azureml-assets) reaches uv: here a
    loopback index holds a pycep-parser that PyPI does not have."""
    import functools
    import http.server
    import threading

    from test_runner_semantics import fake_wheel

    project = tmp_path / "index" / "simple" / "pycep-parser"
    project.mkdir(parents=True)
    fake_wheel(project, "0.0.9")
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "index")
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    index = f"http://127.0.0.1:{server.server_port}/simple"
    data = {
        "source": "https://github.com/Azure/azureml-assets",
        "commit": "0" * 40,
        "licence": "MIT",
        "environments": {
            "cuda-like": {
                "image": "mcr.microsoft.com/azureml/openmpi5.0-ubuntu24.04:latest",
                "path": "assets/training/general/environments/cuda-like",
                "steps": [{"pip": ["pycep-parser==0.0.9"], "indexes": [index]}],
                "python": None,
                "version": "auto",
            }
        },
    }
    (tmp_path / "curated.json").write_text(json.dumps(data))
    monkeypatch.setattr(curated, "DATA", tmp_path / "curated.json")
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    curated.data.cache_clear()
    command = "python -c \"import pycep; print('pycep', pycep.__version__)\""
    root = write(
        tmp_path / "repo",
        {"pipeline.yml": pipeline("azureml:AzureML-cuda-like@latest", command)},
    )
    try:
        code, out = run(root / "pipeline.yml")
    finally:
        server.shutdown()
        server.server_close()  # connections refused from here on
        curated.data.cache_clear()
    assert code == 0, out
    assert "[probe] pycep 0.0.9-fake" in out
    (built,) = (root / ".runs" / "envs").glob("*/.complete")
    assert json.loads(built.read_text())["options"] == [
        "--extra-index-url",
        index,
        "--index-strategy",
        "unsafe-best-match",
    ]
    # the index gone: one line naming it, nothing half-built kept
    shutil.rmtree(root / ".runs" / "envs")
    again = pipeline("azureml:AzureML-cuda-like@latest", command + " && echo again")
    (root / "pipeline.yml").write_text(textwrap.dedent(again))  # not the cached step
    code, out = run(root / "pipeline.yml")
    assert code == 1
    assert f"its environment cannot be built (cannot reach {index}/pycep-parser/" in out
    assert not list((root / ".runs" / "envs").glob("*/.complete"))


def test_an_environment_built_without_its_python_is_rebuilt_once_that_python_is_here(
    tmp_path, monkeypatch
):
    """Built on this Python for want of the pinned one: not reused once the pin is installed."""
    import os

    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    others = [f"3.{minor}" for minor in range(13, 7, -1) if f"3.{minor}" != here]
    found = {v: envs.find_python(v, None, None) for v in others}
    version, interpreter = next(((v, p) for v, p in found.items() if p), (None, None))
    if interpreter is None:
        pytest.skip(f"no Python other than {here} here (looked for {', '.join(others)})")
    data = {
        "source": "https://github.com/Azure/azureml-assets",
        "commit": "0" * 40,
        "licence": "MIT",
        "environments": {
            "pinned": {
                "image": "mcr.microsoft.com/azureml/openmpi5.0-ubuntu24.04:latest",
                "path": "assets/training/general/environments/pinned",
                "steps": [{"pip": ["tabulate==0.8.10"]}],
                "python": version,
                "version": "auto",
            }
        },
    }
    (tmp_path / "curated.json").write_text(json.dumps(data))
    monkeypatch.setattr(curated, "DATA", tmp_path / "curated.json")
    curated.data.cache_clear()
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(tmp_path / "no-managed-pythons"))
    # first no interpreter of that version: PATH without it, an empty pyenv
    path = [
        d
        for d in os.environ["PATH"].split(os.pathsep)
        if not envs._reports_version(str(Path(d) / f"python{version}"), version)
    ]
    monkeypatch.setenv("PATH", os.pathsep.join(path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    command = 'python -c "import sys, tabulate; print(*sys.version_info[:2], tabulate.__version__)"'
    root = write(
        tmp_path / "repo",
        {"pipeline.yml": pipeline("azureml:AzureML-pinned@latest", command)},
    )
    try:
        code, out = run(root / "pipeline.yml")
        assert code == 0, out
        assert f"Python {version} is not installed here" in out
        assert f"[probe] {sys.version_info.major} {sys.version_info.minor} 0.8.10" in out
        # now it is (pyenv's layout), and the next run builds on it
        versions = tmp_path / "pyenv" / "versions" / f"{version}.0" / "bin"
        versions.mkdir(parents=True)
        (versions / f"python{version}").symlink_to(interpreter)
        again = pipeline("azureml:AzureML-pinned@latest", command + " && echo again")
        (root / "pipeline.yml").write_text(textwrap.dedent(again))
        code, out = run(root / "pipeline.yml")
    finally:
        curated.data.cache_clear()
    assert code == 0, out
    assert "-- building environment" in out and "is not installed here" not in out
    assert f"[probe] {version.replace('.', ' ')} 0.8.10" in out


def test_without_an_installed_interpreter_uv_is_asked_to_download_one(tmp_path, monkeypatch):
    """uv's managed Python where the network allows: the download is tried (here against a
    loopback mirror that refuses), and its failure leaves the caller to warn."""
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(tmp_path / "managed"))
    monkeypatch.setenv("UV_PYTHON_INSTALL_MIRROR", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    monkeypatch.delenv("UV_PYTHON_DOWNLOADS", raising=False)
    version = "3.12" if sys.version_info[:2] != (3, 12) else "3.11"
    log = io.StringIO()
    assert envs.find_python(version, envs.uv_binary(), log) is None
    assert f"$ uv python install {version}\n" in log.getvalue()
    assert f"127.0.0.1:{port}" in log.getvalue()  # it went to the mirror, and failed
    # told not to download: not tried
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")
    log = io.StringIO()
    assert envs.find_python(version, envs.uv_binary(), log) is None
    assert "python install" not in log.getvalue()
