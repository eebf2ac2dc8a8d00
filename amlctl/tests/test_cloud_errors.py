"""Failure messages built from real HTTP error responses (loopback server)."""

from __future__ import annotations

import pytest
from azure.core import PipelineClient
from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest
from fakes.http import ScriptedServer
from fakes.project import make_project

from amlctl.cloud.config import load_settings
from amlctl.cloud.errors import describe_azure_error


@pytest.fixture
def settings(tmp_path):
    return load_settings("dev", make_project(tmp_path / "project"), environ={})


def failure(status, error):
    """The HttpResponseError an SDK raises for this response."""
    with ScriptedServer() as server:
        server.add("GET", "/thing", (status, {"error": error}))
        client = PipelineClient(base_url=server.url)
        response = client.send_request(HttpRequest("GET", server.url + "/thing"))
        return HttpResponseError(response=response)


def test_missing_resource_group_is_named_with_its_source(settings):
    exc = failure(
        404,
        {
            "code": "ResourceGroupNotFound",
            "message": "Resource group 'rg-fixture-dev' could not be found.",
        },
    )

    message = describe_azure_error(exc, settings)

    assert "resource group 'rg-fixture-dev' does not exist" in message
    assert "config/dev.yml (resource_group)" in message
    assert "provision --env dev" in message


def test_missing_workspace_is_named(settings):
    exc = failure(
        404,
        {
            "code": "ResourceNotFound",
            "message": "The Resource 'Microsoft.MachineLearningServices/workspaces/"
            "mlw-fixture-dev' under resource group 'rg-fixture-dev' was not found.",
        },
    )

    message = describe_azure_error(exc, settings)

    assert "workspace 'mlw-fixture-dev' was not found in resource group rg-fixture-dev" in message


def test_workspace_permission_error_names_the_action(settings):
    exc = failure(
        403,
        {
            "code": "UserError",
            "message": "User does not have permissions for "
            "Microsoft.MachineLearningServices/workspaces/components/write actions.",
        },
    )

    message = describe_azure_error(exc, settings)

    assert (
        "lacks permission Microsoft.MachineLearningServices/workspaces/components/write" in message
    )
    assert "workspace mlw-fixture-dev" in message


def test_other_errors_show_nested_details(settings):
    exc = failure(
        400,
        {
            "code": "InvalidTemplate",
            "message": "Deployment template validation failed.",
            "details": [{"code": "InvalidParameter", "message": "sku 'Basic' is not allowed."}],
        },
    )

    message = describe_azure_error(exc, settings)

    assert message.splitlines() == [
        "Azure returned 400: InvalidTemplate: Deployment template validation failed.",
        "  InvalidParameter: sku 'Basic' is not allowed.",
    ]
