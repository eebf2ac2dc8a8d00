"""prep_data defined as a Python function (src/component.py) is the component of component.yml.

The function declares the same inputs, outputs, command, code and environment as the YAML the
YAML pipelines use, and `mldesigner execute` (how Azure ML and the local runner run it) writes
the same split as the script does on its own.
"""

import importlib.util
import logging
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

COMPONENT = Path(__file__).resolve().parents[1]
SRC = COMPONENT / "src"


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def components():
    """(from the function, from component.yml), both as azure-ai-ml CommandComponents."""
    from azure.ai.ml import load_component

    logging.getLogger("azure").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=r".*experimental.*")
    function = load(SRC / "component.py", "prep_data_function_under_test").prep_data
    return function.component, load_component(source=COMPONENT / "component.yml")


def declared(ports: dict) -> dict:
    keys = ("type", "default", "optional", "enum", "min", "max", "description")
    return {
        name: {
            key: getattr(port, key, None) for key in keys if getattr(port, key, None) is not None
        }
        for name, port in ports.items()
    }


def test_function_declares_the_same_inputs_and_outputs_as_the_yaml(components):
    function, yaml = components
    assert declared(function.inputs) == declared(yaml.inputs)
    assert declared(function.outputs) == declared(yaml.outputs)
    assert (function.name, function.version, function.display_name) == (
        yaml.name,
        yaml.version,
        yaml.display_name,
    )
    assert function.is_deterministic is yaml.is_deterministic is True


def test_function_runs_the_same_command_code_and_environment(components):
    function, yaml = components
    assert function.command.split() == yaml.command.split()
    assert Path(function.code).resolve() == (COMPONENT / yaml.code).resolve()
    assert function.environment.image == yaml.environment.image
    assert function.environment.conda_file == yaml.environment.conda_file


@pytest.fixture(autouse=True)
def _no_tracking(no_mlflow_tracking):
    """prep_data logs only when tracking is configured; these tests run without it."""


def test_mldesigner_execute_writes_the_same_split_as_the_script(tmp_path):
    rng = np.random.default_rng(3)
    raw = tmp_path / "raw"
    raw.mkdir()
    pd.DataFrame(
        {"x": rng.normal(size=40), "target": np.r_[np.zeros(30, int), np.ones(10, int)]}
    ).to_csv(raw / "data.csv", index=False)
    mldesigner = shutil.which("mldesigner")
    assert mldesigner, "mldesigner is a dependency of this project: pip install -e ."
    done = subprocess.run(
        [
            *(mldesigner, "execute", "--source", "component.py", "--name", "prep_data"),
            *("--inputs", f"raw_data={raw}", "test_fraction=0.25", "seed=5"),
            *("--outputs", f"train_data={tmp_path / 'f' / 'train'}"),
            f"test_data={tmp_path / 'f' / 'test'}",
        ],
        cwd=SRC,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    script = load(SRC / "prep_data.py", "prep_data_script_under_test")
    assert (
        script.main(
            [
                *("--raw_data", str(raw), "--test_fraction", "0.25", "--seed", "5"),
                *("--train_data", str(tmp_path / "s" / "train")),
                *("--test_data", str(tmp_path / "s" / "test")),
            ]
        )
        == 0
    )
    for part in ("train/train.csv", "test/test.csv"):
        by_function = pd.read_csv(tmp_path / "f" / part)
        pd.testing.assert_frame_equal(by_function, pd.read_csv(tmp_path / "s" / part))
    assert len(pd.read_csv(tmp_path / "f" / "test/test.csv")) == 10
