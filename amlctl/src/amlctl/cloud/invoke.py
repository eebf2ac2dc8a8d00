"""`invoke`: start the published training pipeline through its batch endpoint's REST API.

The SDK v2 form of calling a v1 published pipeline's REST endpoint
(`requests.post(published.endpoint, headers=aad_token, json={"ParameterAssignments": ...})`):
a POST to the batch endpoint's invocation URL with an Entra ID bearer token for
https://ml.azure.com/.default, pipeline inputs given with --set.
"""

from __future__ import annotations

import argparse
import uuid
from pathlib import Path
from typing import Any

from ..overrides import add_set_option, parse_overrides
from ..project import ProjectError, layout, project_root
from .errors import describing, report

LITERAL_TYPES = {"integer", "number", "string", "boolean"}
DATA_TYPES = {"uri_file": "UriFile", "uri_folder": "UriFolder", "mltable": "MLTable"}


def pipeline_inputs(root: Path) -> dict[str, dict[str, Any]]:
    """Input name -> specification (type, default, optional) of the published pipeline."""
    from .assets import read_yaml

    path = layout(root).publish / "training-component.yml"
    if not path.is_file():
        raise ProjectError(f"{path.relative_to(root)} is missing: nothing is published to invoke")
    inputs = read_yaml(path).get("inputs") or {}
    return {
        name: spec if isinstance(spec, dict) else {"type": "string", "default": spec}
        for name, spec in inputs.items()
    }


def with_data_defaults(
    root: Path, overrides: dict[str, Any], inputs: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Required data inputs not given with --set get the project's registered data asset."""
    from .assets import discover_data

    missing = [
        name
        for name, spec in inputs.items()
        if name not in overrides
        and spec.get("type") in DATA_TYPES
        and "default" not in spec
        and not spec.get("optional")
    ]
    if not missing:
        return overrides
    data_assets = discover_data(root)
    if len(data_assets) != 1:
        raise ProjectError(
            f"give the pipeline's data inputs: --set {missing[0]}=azureml:<data>:<ver>"
        )
    return {**overrides, **{name: data_assets[0].reference for name in missing}}


def request_body(
    overrides: dict[str, Any], inputs: dict[str, dict[str, Any]], experiment: str | None
) -> dict[str, Any]:
    """The invocation body, as the SDK's batch_endpoints.invoke sends it."""

    input_data: dict[str, Any] = {}
    for name, value in overrides.items():
        kind = str(inputs[name].get("type", "string"))
        if kind in LITERAL_TYPES:
            input_data[name] = {"jobInputType": "Literal", "value": value}
        elif kind in DATA_TYPES:
            input_data[name] = {"jobInputType": DATA_TYPES[kind], "uri": str(value)}
        else:
            raise ProjectError(f"--set {name}: inputs of type {kind} cannot be set here")
    properties: dict[str, Any] = {"inputData": input_data}
    if experiment:
        properties["properties"] = {"experimentName": experiment}
    return {"properties": properties}


def invoke(
    settings: Any,
    ml_client: Any,
    cred: Any,
    name: str,
    body: dict[str, Any],
    deployment: str | None = None,
    **pipeline_options: Any,
) -> str:
    """POST the invocation; return the batch job's name."""
    from azure.core.exceptions import HttpResponseError
    from azure.core.rest import HttpRequest

    from .clients import ml_pipeline

    endpoint = ml_client.batch_endpoints.get(name=name)
    scoring_uri = getattr(endpoint, "scoring_uri", None)
    if not scoring_uri:
        raise ProjectError(f"batch endpoint {name!r} has no invocation URL yet; run `publish`")
    headers = {
        "Content-Type": "application/json",
        # Lets the retry policy repeat the POST safely: the service starts one job per id.
        "Repeatability-Request-ID": str(uuid.uuid4()),
    }
    if deployment:
        headers["azureml-model-deployment"] = deployment
    client = ml_pipeline(cred, **pipeline_options)
    response = client.send_request(HttpRequest("POST", scoring_uri, headers=headers, json=body))
    if response.status_code >= 400:
        raise HttpResponseError(response=response)
    job = response.json()
    job_name = job.get("name") or str(job.get("id", "")).rsplit("/", 1)[-1]
    if not job_name:
        raise ProjectError(f"the endpoint answered without a job name: {response.text()[:300]}")
    return job_name


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", default="dev", help="environment (config/<env>.yml), default dev")
    add_set_option(parser, "set a pipeline input (repeatable)")
    parser.add_argument("--deployment", help="deployment to use (default: the endpoint's default)")
    parser.add_argument("--experiment", help="experiment name of the started job")


@report
def main(args: argparse.Namespace, ml_client: Any = None, cred: Any = None) -> int:
    from . import clients
    from .config import load_settings

    root = project_root()
    settings = load_settings(args.env, root)
    name = settings.batch_endpoint
    inputs = pipeline_inputs(root)
    given = parse_overrides(args.overrides, inputs, "the published pipeline")
    overrides = with_data_defaults(root, given, inputs)
    body = request_body(overrides, inputs, args.experiment)
    with describing(settings):
        cred = cred or clients.credential()
        ml_client = ml_client or clients.ml_client(settings, cred)
        job_name = invoke(settings, ml_client, cred, name, body, args.deployment)
    print(f"started {job_name} on batch endpoint {name}")
    print(f"studio: {settings.studio_url(job_name)}")
    return 0
