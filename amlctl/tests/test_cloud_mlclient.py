"""The real MLClient against a loopback HTTPS fake of the Azure ML service (AZUREML_DEV_URL_MFE).

Lookups need no uploads, so `register --dry-run` can run end to end over real HTTPS: the
requests carry the content versions, a 429 is retried by the client's retry policy, and a 403
is reported with the missing permission.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fakes.http import FakeCredential, ScriptedServer, self_signed_cert

from amlctl.cli import guarded
from amlctl.cloud import clients, register
from amlctl.cloud.assets import discover
from amlctl.cloud.config import load_settings

NOT_FOUND = (404, {"error": {"code": "UserError", "message": "Not found."}})
WORKSPACE = "/providers/Microsoft.MachineLearningServices/workspaces/mlw-fixture-dev"


@pytest.fixture
def service(tmp_path, monkeypatch):
    cert, key = self_signed_cert(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    with ScriptedServer(tls_files=(cert, key)) as server:
        monkeypatch.setenv("AZUREML_DEV_URL_MFE", server.url)
        yield server


def real_client(project):
    return clients.ml_client(load_settings("dev", project), FakeCredential("ml-token"))


def test_dry_run_looks_up_content_versions_and_retries_throttling(project, service, capsys):
    versions = {asset.name: asset.version for asset in discover(project)}
    env_id = (
        f"/subscriptions/x/resourceGroups/rg{WORKSPACE}/environments/fixture-sklearn"
        f"/versions/{versions['fixture-sklearn']}"
    )
    service.add(
        "GET",
        "/environments/",
        (200, {"id": env_id, "name": versions["fixture-sklearn"], "properties": {"image": "i"}}),
    )
    service.add("GET", "/data/", NOT_FOUND)
    throttled = (429, {"error": {"code": "TooManyRequests", "message": "x"}}, {"Retry-After": "0"})
    service.add("GET", "/components/", throttled, NOT_FOUND)

    args = SimpleNamespace(env="dev", dry_run=True)
    assert guarded(register.main, args, ml_client=real_client(project)) == 0

    paths = [request.path.split("?")[0] for request in service.requests]
    assert f"{WORKSPACE}/data/fixture-raw/versions/{versions['fixture-raw']}" in paths[1]
    prep = f"{WORKSPACE}/components/prep/versions/{versions['prep']}"
    assert [path for path in paths if path.endswith(prep)] == [paths[2], paths[3]]  # retried
    assert all(r.headers["Authorization"] == "Bearer ml-token" for r in service.requests)
    assert all(r.method == "GET" for r in service.requests)
    out = capsys.readouterr().out
    assert "1 unchanged, 3 would create" in out


def test_forbidden_lookup_names_the_missing_permission(project, service, capsys):
    message = (
        "User does not have permissions for "
        "Microsoft.MachineLearningServices/workspaces/environments/read actions."
    )
    service.add(
        "GET", "/environments/", (403, {"error": {"code": "UserError", "message": message}})
    )

    args = SimpleNamespace(env="dev", dry_run=True)
    assert guarded(register.main, args, ml_client=real_client(project)) == 1

    err = capsys.readouterr().err
    assert "lacks permission Microsoft.MachineLearningServices/workspaces/environments/read" in err
    assert "workspace mlw-fixture-dev" in err
    assert len(service.requests) == 1  # a 403 is not retried
