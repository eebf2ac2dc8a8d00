"""A small project on disk for the cloud tests: every kind of asset the commands handle."""

from __future__ import annotations

import json
import os
import stat
import sys
import textwrap
from pathlib import Path

SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"


def ref(expression: str) -> str:
    """An Azure ML input/output expression, spelled so the template engine leaves it alone."""
    return "${" + "{" + expression + "}}"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_repository(root: Path, files: dict[str, str]) -> Path:
    """A repository of its own at ``root`` (``.git``, so .runs/ goes there) holding
    ``files`` ({relative path: text, dedented})."""
    (root / ".git").mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root


def command_component(name: str, inputs: str, outputs: str, command: str) -> str:
    return f"""$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
name: {name}
version: "1"
type: command
inputs:
{inputs}
outputs:
{outputs}
code: ./src
environment:
  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest
  conda_file: ../../environments/sklearn/conda.yml
command: {command}
"""


def make_project(root: Path) -> Path:
    write(root / "pyproject.toml", "[project]\nname = 'fixture'\n")
    write(
        root / "config" / "dev.yml",
        f"subscription_id: {SUBSCRIPTION}\nresource_group: rg-fixture-dev\n"
        "workspace_name: mlw-fixture-dev\nlocation: westeurope\n"
        "batch_endpoint: fixture-training-dev\n",
    )
    write(
        root / "environments" / "sklearn" / "environment.yml",
        "name: fixture-sklearn\nversion: '1'\n"
        "image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest\nconda_file: conda.yml\n",
    )
    write(
        root / "environments" / "sklearn" / "conda.yml",
        "name: sklearn\ndependencies:\n  - python=3.11\n  - pip:\n    - scikit-learn\n",
    )
    write(
        root / "data" / "sample-data.yml",
        "name: fixture-raw\nversion: '1'\ntype: uri_folder\npath: ./sample\n",
    )
    write(root / "data" / "sample" / "rows.csv", "a,b,target\n1,2,0\n3,4,1\n")
    write(
        root / "components" / "prep" / "component.yml",
        command_component(
            "prep",
            "  raw_data:\n    type: uri_folder",
            "  out:\n    type: uri_folder",
            f"python prep.py --raw {ref('inputs.raw_data')} --out {ref('outputs.out')}",
        ),
    )
    write(root / "components" / "prep" / "src" / "prep.py", "print('prep')\n")
    write(root / "components" / "prep" / "src" / ".amlignore", "scratch/\n*.tmp\n")
    write(
        root / "components" / "train" / "component.yml",
        command_component(
            "train",
            "  train_data:\n    type: uri_folder\n  n_estimators:\n    type: integer\n"
            "    default: 10",
            "  model:\n    type: uri_folder",
            f"python train.py --data {ref('inputs.train_data')} "
            f"--n {ref('inputs.n_estimators')} --model {ref('outputs.model')}",
        ),
    )
    write(root / "components" / "train" / "src" / "train.py", "print('train')\n")
    jobs = f"""jobs:
  prep:
    type: command
    component: ../COMPONENTS/prep/component.yml
    inputs:
      raw_data: {ref("parent.inputs.raw_data")}
  train:
    type: command
    component: ../COMPONENTS/train/component.yml
    inputs:
      train_data: {ref("parent.jobs.prep.outputs.out")}
      n_estimators: {ref("parent.inputs.n_estimators")}
"""
    write(
        root / "pipelines" / "training.yml",
        "$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json\n"
        "type: pipeline\nexperiment_name: training\n"
        "settings:\n  default_compute: azureml:cpu-cluster\n"
        "inputs:\n  raw_data:\n    type: uri_folder\n    path: azureml:fixture-raw@latest\n"
        "  n_estimators: 10\n" + jobs.replace("COMPONENTS", "components"),
    )
    write(
        root / "pipelines" / "publish" / "training-component.yml",
        "$schema: https://azuremlschemas.azureedge.net/latest/pipelineComponent.schema.json\n"
        "name: training_pipeline\ntype: pipeline\n"
        "inputs:\n  raw_data:\n    type: uri_folder\n  n_estimators:\n    type: integer\n"
        "    default: 10\n" + jobs.replace("COMPONENTS", "../components"),
    )
    write(
        root / "pipelines" / "publish" / "batch-endpoint.yml",
        "name: fixture-training\ndescription: Runs the training pipeline.\nauth_mode: aad_token\n",
    )
    write(
        root / "pipelines" / "publish" / "training-deployment.yml",
        "name: training\nendpoint_name: fixture-training\ntype: pipeline\n"
        "component: azureml:training_pipeline@latest\n"
        "settings:\n  default_compute: cpu-cluster\n  continue_on_step_failure: false\n",
    )
    write(
        root / "pipelines" / "schedules" / "training-cron.yml",
        "name: training-weekly\n"
        "trigger:\n  type: cron\n  expression: '0 2 * * 1'\n  time_zone: UTC\n"
        "create_job: ../training.yml\n",
    )
    write(root / "infra" / "main.bicep", "param location string = resourceGroup().location\n")
    write(
        root / "infra" / "params" / "dev.parameters.json",
        json.dumps({"parameters": {"environmentName": {"value": "dev"}}}),
    )
    return root


def make_prod(root: Path, registry: str | None = "mlr-fixture") -> Path:
    """config/prod.yml: a second environment that reads from an Azure ML registry (or none)."""
    text = (
        f"subscription_id: {SUBSCRIPTION}\nresource_group: rg-fixture-prod\n"
        "workspace_name: mlw-fixture-prod\nlocation: westeurope\n"
        "batch_endpoint: fixture-training-prod\n"
    )
    if registry is not None:
        text += f"registry: {registry}\n"
    write(root / "config" / "prod.yml", text)
    return root


def fake_bicep(folder: Path, template: dict | None = None, fail: str | None = None) -> Path:
    """A `bicep` executable that prints an ARM template (or fails), for PATH."""
    template = template or {"$schema": "deploymentTemplate.json#", "resources": []}
    script = folder / "bicep"
    if fail:
        body = f"import sys\nsys.stderr.write({fail!r})\nsys.exit(1)\n"
    else:
        body = f"print({json.dumps(json.dumps(template))})\n"
    script.write_text(f"#!{sys.executable}\n{body}", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def path_with(folder: Path) -> str:
    return f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"


def make_online(root: Path) -> Path:
    """The online serving files of a project (deploy/online) and its online settings."""
    online = root / "deploy" / "online"
    with (root / "config" / "dev.yml").open("a", encoding="utf-8") as config:
        config.write(
            "online_endpoint: fixture-online-dev\n"
            "online_instance_type: Standard_DS2_v2\nonline_instance_count: 3\n"
        )
    write(
        online / "endpoint.yml",
        "$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json\n"
        "name: fixture-online\nauth_mode: key\n",
    )
    write(
        online / "deployment.yml",
        "$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json\n"
        "name: model-v1\nendpoint_name: fixture-online\nmodel: azureml:fixture-model:1\n"
        "code_configuration:\n  code: scoring\n  scoring_script: score.py\n"
        "environment: azureml:fixture-sklearn:1\n"
        "instance_type: Standard_DS3_v2\ninstance_count: 1\n"
        "request_settings:\n  request_timeout_ms: 5000\n"
        "  max_concurrent_requests_per_instance: 2\n",
    )
    write(
        online / "scoring" / "score.py",
        "def init():\n    pass\n\n\ndef run(data):\n    return []\n",
    )
    write(online / "sample-request.json", json.dumps({"data": [{"a": 1.0, "b": 2.0}] * 2}))
    write(
        online / "monitor.yml",
        "$schema: http://azureml/sdk-2-0/Schedule.json\nname: fixture-monitor\n"
        "trigger:\n  type: recurrence\n  frequency: day\n  interval: 1\n"
        "create_monitor:\n  compute:\n    instance_type: standard_e4s_v3\n"
        "    runtime_version: '3.4'\n  monitoring_target:\n    ml_task: classification\n"
        "    endpoint_deployment_id: azureml:fixture-online:model-v1\n"
        "  monitoring_signals:\n    prediction_drift:\n      type: prediction_drift\n"
        "      metric_thresholds:\n        numerical:\n          jensen_shannon_distance: 0.1\n"
        "    data_drift:\n      type: data_drift\n      reference_data:\n"
        "        input_data:\n          path: azureml:fixture-raw:1\n          type: mltable\n"
        "        data_context: training\n",
    )
    return root
