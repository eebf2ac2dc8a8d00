"""Inputs from the web in `run --local`: downloaded once, re-checked, never stale.

A loopback HTTP server (tests/fakes/web.py) plays a web site (ETags, 304s, a body cut
short) and the Blob service (the container listing and blob reads that the storage SDK
sends, path-style as the storage emulator serves them, or over TLS under a storage
account's real host name for datastores).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fakes.http import FakeCredential, ScriptedServer, self_signed_cert
from fakes.project import SUBSCRIPTION
from fakes.web import Site, resolve_to, serve

from amlctl import cli

STEP = """
import argparse, pathlib
parser = argparse.ArgumentParser()
parser.add_argument("--table")
parser.add_argument("--images")
parser.add_argument("--out")
args = parser.parse_args()
table = pathlib.Path(args.table)
images = pathlib.Path(args.images)
files = sorted(p.relative_to(images).as_posix() for p in images.rglob("*") if p.is_file())
text = f"{table.name}:{table.read_text().strip()}|" + ",".join(files)
(pathlib.Path(args.out) / "seen.txt").write_text(text)
print(text)
"""

COMPONENT = """
type: command
name: look
inputs:
  table: {type: uri_file}
  images: {type: uri_folder}
outputs:
  out: {type: uri_folder}
code: ./src
environment: {image: "python:3.11"}
command: >-
  python step.py --table ${{inputs.table}} --images ${{inputs.images}} --out ${{outputs.out}}
"""

PIPELINE = """
type: pipeline
display_name: web
inputs:
  table: {{type: uri_file, path: "{base}/files/iris%20data.csv"}}
jobs:
  look:
    component: ../components/look/component.yml
    inputs:
      table: ${{{{parent.inputs.table}}}}
      images:
        type: uri_folder
        path: {base}/devstoreaccount1/datasets/images/
"""


@pytest.fixture
def site():
    holder = Site()
    holder.files = {"/files/iris data.csv": b"5.1,3.5\n"}
    holder.blobs = {"images/a.png": b"A", "images/sub/b.png": b"BB", "other/c.png": b"C"}
    server = serve(holder)
    holder.base = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    holder.server = server  # type: ignore[attr-defined]
    yield holder
    server.shutdown()
    server.server_close()


@pytest.fixture
def project(tmp_path, site, monkeypatch):
    root = tmp_path / "project"
    (root / "components" / "look" / "src").mkdir(parents=True)
    (root / "components" / "look" / "src" / "step.py").write_text(STEP)
    (root / "components" / "look" / "component.yml").write_text(COMPONENT)
    (root / "pipelines").mkdir()
    (root / "pipelines" / "web.yml").write_text(PIPELINE.format(base=site.base))
    (root / "pyproject.toml").write_text("[project]\nname = 'web'\n")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("AMLCTL_DOWNLOAD_TIMEOUT", "5")
    return root


def run(project: Path, capsys, *args: str) -> tuple[int, str, str]:
    cwd = os.getcwd()
    os.chdir(project)
    try:
        code = cli.main(["run", "pipelines/web.yml", "--local", *args])
    finally:
        os.chdir(cwd)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def seen(project: Path) -> str:
    (found,) = (project / ".runs" / "latest" / "look" / "outputs" / "out").glob("seen.txt")
    return found.read_text()


def test_a_web_file_and_a_public_blob_folder_are_downloaded_and_read(project, site, capsys):
    code, out, err = run(project, capsys)
    assert code == 0, out + err
    # the file keeps its name; the folder holds the blobs under its path only
    assert seen(project) == "iris data.csv:5.1,3.5|a.png,sub/b.png"
    assert "files/iris%20data.csv: downloaded (8 bytes)" in out
    assert "datasets/images/: downloaded (2 files)" in out


def test_a_second_run_asks_again_and_reuses_what_is_unchanged(project, site, capsys):
    assert run(project, capsys)[0] == 0
    before = len([r for r in site.requests if "iris" in r])
    code, out, _ = run(project, capsys)
    assert code == 0
    assert len([r for r in site.requests if "iris" in r]) == before + 1  # asked, 304
    assert "unchanged, the copy downloaded at" in out
    assert " cached " in out or "cached" in out.split("look", 2)[-1]
    blob_reads = [r for r in site.requests if r.startswith("/devstoreaccount1/datasets/images")]
    assert len(blob_reads) == 2  # each blob read once; the second run only listed


def test_a_changed_source_is_downloaded_again_and_the_step_reruns(project, site, capsys):
    assert run(project, capsys)[0] == 0
    site.files["/files/iris data.csv"] = b"6.2,2.9\n"
    site.blobs["images/a.png"] = b"AAA"
    site.blobs["images/new.png"] = b"N"
    code, _, _ = run(project, capsys)
    assert code == 0
    assert seen(project) == "iris data.csv:6.2,2.9|a.png,new.png,sub/b.png"


def test_offline_a_copy_from_before_is_used_with_one_warning(project, site, capsys):
    assert run(project, capsys)[0] == 0
    site.server.shutdown()
    site.server.server_close()
    code, out, err = run(project, capsys)
    assert code == 0, out + err
    warnings = [line for line in out.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 2 and all("cannot be checked for changes" in w for w in warnings)
    assert seen(project) == "iris data.csv:5.1,3.5|a.png,sub/b.png"


def test_offline_without_a_copy_is_one_line_naming_set(project, site, capsys):
    site.server.shutdown()
    site.server.server_close()
    code, _, err = run(project, capsys)
    assert code == 2
    table, images = err.splitlines()  # every input that cannot be had, one line each
    assert table.startswith(f"error: inputs.table.path: {site.base}/files/iris%20data.csv cannot")
    assert table.endswith("give a local copy with --set table=PATH")
    assert images.startswith("error: jobs.look.inputs.images.path: ")
    assert images.endswith("give a local copy with --set jobs.look.inputs.images=PATH")


def test_a_body_cut_short_is_one_line_and_leaves_nothing(project, site, capsys):
    site.short = True
    code, _, err = run(project, capsys)
    assert code == 2
    assert err.splitlines() == [
        f"error: inputs.table.path: {site.base}/files/iris%20data.csv could not be downloaded "
        "whole "
        "(it ended early)"
    ]
    downloads = project / ".runs" / "downloads"
    assert not [p for p in downloads.rglob("*") if p.is_file() and p.suffix == ".csv"]


def test_a_missing_file_and_a_missing_folder_are_one_line_each(project, site, capsys):
    del site.files["/files/iris data.csv"]
    code, _, err = run(project, capsys)
    assert code == 2
    assert err.splitlines() == [
        f"error: inputs.table.path: {site.base}/files/iris%20data.csv answered HTTP 404 Not Found"
    ]
    site.files["/files/iris data.csv"] = b"1\n"
    site.blobs = {"other/c.png": b"C"}
    code, _, err = run(project, capsys)
    assert code == 2
    assert err.splitlines() == [
        f"error: jobs.look.inputs.images.path: {site.base}/devstoreaccount1/datasets/images/ "
        "holds no files"
    ]


def test_a_set_value_replaces_the_url_and_nothing_is_downloaded(project, site, capsys, tmp_path):
    local = tmp_path / "local.csv"
    local.write_text("7\n")
    code, out, err = run(project, capsys, "--set", f"table={local}")
    assert code == 0, out + err
    assert not [r for r in site.requests if "iris" in r]
    assert seen(project).startswith("local.csv:7|")


# -- datastores: read as the signed-in identity -----------------------------------------------

ACCOUNT_HOST = "stfixture.blob.core.windows.net"
DATASTORE_PIPELINE = """
type: pipeline
display_name: datastore
inputs:
  table: {type: uri_file, path: "azureml://datastores/workspaceblobstore/paths/files/iris data.csv"}
jobs:
  look:
    component: ../components/look/component.yml
    inputs:
      table: ${{parent.inputs.table}}
      images:
        type: uri_folder
        path: azureml://datastores/workspaceblobstore/paths/images/
"""
DATASTORE = {
    "id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-fixture-dev/providers/"
    "Microsoft.MachineLearningServices/workspaces/mlw-fixture-dev/datastores/workspaceblobstore",
    "name": "workspaceblobstore",
    "type": "Microsoft.MachineLearningServices/workspaces/datastores",
    "properties": {
        "datastoreType": "AzureBlob",
        "accountName": "stfixture",
        "containerName": "azureml-blobstore",
        "endpoint": "core.windows.net",
        "protocol": "https",
        "credentials": {"credentialsType": "None"},
        "isDefault": True,
    },
}


@pytest.fixture
def workspace(tmp_path, project, monkeypatch):
    """The project's pipeline on datastore paths; the workspace (Azure ML's REST API) and
    the storage account's blob endpoint on loopback over HTTPS, the account's real host
    name resolved to the loopback server; a credential that hands out `storage-token`."""
    cert, key = self_signed_cert(tmp_path, ACCOUNT_HOST)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    (project / "pipelines" / "web.yml").write_text(DATASTORE_PIPELINE)
    (project / "config").mkdir()
    (project / "config" / "dev.yml").write_text(
        f"subscription_id: {SUBSCRIPTION}\nresource_group: rg-fixture-dev\n"
        "workspace_name: mlw-fixture-dev\nlocation: westeurope\n"
        "batch_endpoint: fixture-training-dev\n"
    )
    storage = Site()
    storage.blobs = {"files/iris data.csv": b"5.1,3.5\n", "images/a.png": b"A"}
    storage.container = "/azureml-blobstore"
    storage.token = "storage-token"
    server = serve(storage, tls=(cert, key))
    resolve_to(monkeypatch, {ACCOUNT_HOST}, server.server_address[1])
    credential = FakeCredential("storage-token")
    monkeypatch.setattr("amlctl.cloud.clients.credential", lambda: credential)
    with ScriptedServer(tls_files=(cert, key)) as service:
        monkeypatch.setenv("AZUREML_DEV_URL_MFE", service.url)
        service.add("GET", "/datastores/workspaceblobstore", (200, DATASTORE))
        storage.service = service  # type: ignore[attr-defined]
        storage.credential = credential  # type: ignore[attr-defined]
        yield storage
    server.shutdown()
    server.server_close()


def test_datastore_inputs_are_read_as_the_signed_in_identity(project, workspace, capsys):
    code, out, err = run(project, capsys, "--env", "dev")
    assert code == 0, out + err
    assert seen(project) == "iris data.csv:5.1,3.5|a.png"
    assert ("https://storage.azure.com/.default",) in workspace.credential.scopes
    assert workspace.service.sent("GET", "/datastores/workspaceblobstore")
    # a second run asks for the blob's ETag and the listing, and reads no content again
    reads = [r for r in workspace.requests if r.startswith("/azureml-blobstore/")]
    code, out, err = run(project, capsys, "--env", "dev")
    assert code == 0, out + err
    again = [r for r in workspace.requests if r.startswith("/azureml-blobstore/")][len(reads) :]
    assert len(again) == 1 and again[0].startswith("/azureml-blobstore/files/iris")  # HEAD
    assert out.count("unchanged, the copy downloaded at") == 2


def test_a_datastore_without_a_workspace_is_one_line_naming_env_and_set(project, workspace, capsys):
    code, _, err = run(project, capsys)
    assert code == 2
    table, images = err.splitlines()
    assert table == (
        "error: inputs.table.path: azureml://datastores/workspaceblobstore/paths/files/"
        "iris data.csv is in the workspace's datastore workspaceblobstore: run with --env ENV "
        "to read it as the signed-in identity, or give a local copy with --set table=PATH"
    )
    assert images.endswith("--set jobs.look.inputs.images=PATH")
    assert not workspace.requests


def test_a_datastore_the_identity_cannot_read_names_the_role(project, workspace, capsys):
    workspace.token = "another-token"  # the storage account refuses the signed-in identity
    code, _, err = run(project, capsys, "--env", "dev")
    assert code == 2
    table, images = err.splitlines()
    assert table == (
        "error: inputs.table.path: azureml://datastores/workspaceblobstore/paths/files/"
        "iris data.csv cannot be read (HTTP 403 AuthorizationPermissionMismatch): the "
        "signed-in identity needs Storage Blob Data Reader on storage account stfixture (a "
        "public URL needs a container that allows anonymous reads)"
    )
    assert images.startswith("error: jobs.look.inputs.images.path: ") and "403" in images


def test_an_unknown_datastore_is_one_line(project, workspace, capsys):
    path = project / "pipelines" / "web.yml"
    path.write_text(path.read_text().replace("workspaceblobstore", "nostore"))
    code, _, err = run(project, capsys, "--env", "dev")
    assert code == 2
    assert (
        err.splitlines()[0] == "error: inputs.table.path: the workspace has no datastore 'nostore'"
    )
