"""Inputs from the web, downloaded once: what Azure ML fetches for a job, fetched for a local run.

A pipeline or node input whose path is an ``https://`` (or ``http://``) URL, or a public blob
URL (``wasbs://<container>@<account>.blob.core.windows.net/<path>``), is downloaded into
``.runs/downloads/`` before the first step:

- a file (``uri_file`` and any other non-folder type) with one GET; its name is the URL's
  last segment, as Azure ML names it;
- a folder (``uri_folder``, ``mltable``) through the Blob service's listing (the storage
  SDK, anonymously, as a public container allows), every blob under the path.

An ``azureml://datastores/<name>/paths/<path>`` input (or its long form naming the
workspace) is read the same way from the datastore's storage account, as the signed-in
identity (``run --local --env ENV`` names the workspace; the storage SDK over HTTPS, with
the token Azure ML's own data access would use).

What is downloaded is kept by content (``objects/<sha256>/``) with an index by URL
(``index.json``: the digest, the ETag or the listing it came from). A later run asks again
(``If-None-Match``, or a fresh listing) and reuses the copy only if the source says it is
unchanged: nothing stale is reused. Offline, a copy downloaded before is used with one
warning naming its age; without one the run stops with one line naming ``--set``.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from .. import state
from ..project import ProjectError

WEB = re.compile(r"^https?://", re.IGNORECASE)
WASBS = re.compile(
    r"^wasbs?://(?P<container>[^@/]+)@(?P<account>[^./]+)\.blob\.(?P<suffix>[^/]+)/?(?P<path>.*)$",
    re.IGNORECASE,
)
DATASTORE = re.compile(
    r"^azureml://(?:subscriptions/[^/]+/resource[gG]roups/[^/]+/"
    r"(?:providers/Microsoft\.MachineLearningServices/)?workspaces/[^/]+/)?"
    r"datastores/(?P<name>[^/]+)/paths/(?P<path>.*)$",
    re.IGNORECASE,
)
FOLDER_KINDS = ("uri_folder", "mltable")
TIMEOUT = float(os.environ.get("AMLCTL_DOWNLOAD_TIMEOUT", "60"))  # seconds without a byte
CHUNK = 1 << 20
INDEX = "index.json"


def web_url(url: str) -> str | None:
    """The https URL that ``url`` is read from, or None when it is no web or blob URL."""
    if WEB.match(url):
        return url
    match = WASBS.match(url)
    if match:
        scheme = "https" if url.lower().startswith("wasbs") else "http"
        return (
            f"{scheme}://{match['account']}.blob.{match['suffix']}/"
            f"{match['container']}/{match['path']}"
        )
    return None


def fetchable(url: str) -> bool:
    """Whether a local run downloads ``url`` (a web, blob or datastore URL)."""
    return web_url(url) is not None or DATASTORE.match(url) is not None


def _is_index(data: Any) -> bool:
    return isinstance(data, dict) and all(isinstance(v, dict) for v in data.values())


class Downloads:
    """The content-addressed download cache of one ``.runs`` folder."""

    def __init__(
        self,
        folder: Path,
        say: Callable[[str], None] = print,
        workspace: Callable[[], tuple[Any, Any]] | None = None,
    ) -> None:
        self.folder = folder
        self.say = say
        # () -> (MLClient, credential) of the workspace datastores are read from (--env)
        self.workspace = workspace
        self.set_key = ""  # what `--set` takes for the input being fetched

    # -- the index ------------------------------------------------------------------------------
    def _entry(self, url: str) -> dict[str, Any] | None:
        index = state.read_json(self.folder / INDEX, _is_index) or {}
        entry = index.get(url)
        if entry and (self.folder / "objects" / str(entry.get("digest"))).exists():
            return entry
        return None

    def _remember(self, url: str, entry: dict[str, Any]) -> None:
        with state.locked(self.folder / "index.lock"):
            index = state.read_json(self.folder / INDEX, _is_index) or {}
            index[url] = {**entry, "fetched": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            state.write_json(self.folder / INDEX, index, indent=2)

    def _path(self, entry: dict[str, Any]) -> Path:
        found = self.folder / "objects" / entry["digest"]
        return found / entry["name"] if entry.get("name") else found

    def _offline(self, url: str, key: str, reason: str) -> Path:
        entry = self._entry(url)
        if entry is None:
            raise ProjectError(
                f"{key}: {url} cannot be downloaded ({reason}); give a local copy with "
                f"--set {self.set_key}=PATH"
            )
        self.say(
            f"warning: {url} cannot be checked for changes ({reason}); using the copy "
            f"downloaded at {entry.get('fetched', 'an earlier run')}"
        )
        return self._path(entry)

    def _store(self, staged: Path, digest: str) -> Path:
        """Move ``staged`` (a file's or folder's parent) to objects/<digest>, once."""
        target = self.folder / "objects" / digest
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(staged, target)
        except OSError:  # stored already (the same content, from another URL or run)
            if not target.exists():
                raise
            shutil.rmtree(staged, ignore_errors=True)
        return target

    def _staging(self) -> Path:
        staged = self.folder / "tmp" / uuid.uuid4().hex
        staged.mkdir(parents=True)
        return staged

    # -- fetching -------------------------------------------------------------------------------
    def fetch(self, url: str, kind: str, where: str, set_key: str) -> Path:
        """The local copy of ``url``, an input of ``kind`` given at YAML key ``where``
        (``--set set_key=PATH`` replaces it)."""
        self.set_key = set_key
        datastore = DATASTORE.match(url)
        if datastore:
            return self._datastore(url, datastore["name"], datastore["path"], kind, where)
        source = web_url(url)
        if source is None:
            raise ProjectError(f"{where}: {url} is no web URL")
        if kind in FOLDER_KINDS:
            client, prefix = _container(source, None)
            return self._listed(url, client, prefix, where)
        return self._file(url, source, where)

    def _datastore(self, url: str, name: str, path: str, kind: str, where: str) -> Path:
        from azure.core.exceptions import (
            ClientAuthenticationError,
            HttpResponseError,
            ResourceNotFoundError,
        )

        if self.workspace is None:
            raise ProjectError(
                f"{where}: {url} is in the workspace's datastore {name}: run with --env ENV "
                f"to read it as the signed-in identity, or give a local copy with "
                f"--set {self.set_key}=PATH"
            )
        ml, credential = self.workspace()
        try:
            store = ml.datastores.get(name)
        except ResourceNotFoundError:
            raise ProjectError(f"{where}: the workspace has no datastore {name!r}") from None
        except ClientAuthenticationError as exc:
            from ..cloud.errors import sign_in_failure

            raise ProjectError(f"{where}: {sign_in_failure(exc)}") from None
        except HttpResponseError as exc:
            raise ProjectError(
                f"{where}: datastore {name}: HTTP {exc.status_code} {_first_line(exc)}"
            ) from None
        account = getattr(store, "account_name", None)
        container = getattr(store, "container_name", None) or getattr(store, "filesystem", None)
        if not (account and container):
            raise ProjectError(
                f"{where}: datastore {name} ({getattr(store, 'type', 'unknown type')}) cannot "
                "be read locally (blob and Data Lake Gen2 datastores can); give a local copy "
                f"with --set {self.set_key}=PATH"
            )
        protocol = getattr(store, "protocol", None) or "https"
        endpoint = getattr(store, "endpoint", None) or "core.windows.net"
        source = f"{protocol}://{account}.blob.{endpoint}/{container}"
        client, _ = _container(source, credential)
        relative = path.strip("/")
        if kind in FOLDER_KINDS:
            return self._listed(url, client, f"{relative}/" if relative else "", where)
        return self._blob(url, client, relative, where)

    def _blob(self, url: str, client: Any, name: str, key: str) -> Path:
        """One blob of ``client``'s container, downloaded unless its ETag is the one kept."""
        from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError

        blob = client.get_blob_client(name)
        try:
            etag = blob.get_blob_properties().etag
        except ResourceNotFoundError:
            raise ProjectError(f"{key}: {url} does not exist") from None
        except HttpResponseError as exc:
            raise ProjectError(_storage_refusal(key, url, client, exc, self.set_key)) from None
        except AzureError as exc:
            return self._offline(url, key, _first_line(exc))
        entry = self._entry(url)
        if entry is not None and entry.get("etag") == etag:
            self.say(f"{url}: unchanged, the copy downloaded at {entry['fetched']} is used")
            return self._path(entry)
        file_name = _file_name(name)
        staged = self._staging()
        try:
            _write_blob(blob, staged / file_name, key, url)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
        digest = state.file_sha(staged / file_name)
        stored = self._store(staged, digest)
        self._remember(url, {"digest": digest, "name": file_name, "etag": etag})
        self.say(f"{url}: downloaded ({(stored / file_name).stat().st_size:,} bytes)")
        return stored / file_name

    def _file(self, url: str, source: str, key: str) -> Path:
        import http.client
        import urllib.error
        import urllib.request

        entry = self._entry(url)
        headers = {"User-Agent": "amlctl"}
        if entry and entry.get("etag"):
            headers["If-None-Match"] = entry["etag"]
        elif entry and entry.get("last_modified"):
            headers["If-Modified-Since"] = entry["last_modified"]
        # http(s) only: web_url() returned it
        request = urllib.request.Request(source, headers=headers)  # noqa: S310
        try:
            response = urllib.request.urlopen(request, timeout=TIMEOUT)  # noqa: S310
        except urllib.error.HTTPError as exc:
            if exc.code == 304 and entry is not None:
                self.say(f"{url}: unchanged, the copy downloaded at {entry['fetched']} is used")
                return self._path(entry)
            raise ProjectError(f"{key}: {url} answered HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", None) or exc
            return self._offline(url, key, str(reason))
        name = _file_name(source)
        staged = self._staging()
        digest = hashlib.sha256()
        size = 0
        try:
            with response, open(staged / name, "wb") as out:
                while chunk := response.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            announced = response.headers.get("Content-Length")
            if announced and announced.isdigit() and int(announced) != size:
                raise http.client.IncompleteRead(b"", int(announced) - size)
        except (http.client.HTTPException, TimeoutError, ConnectionError) as exc:
            shutil.rmtree(staged, ignore_errors=True)
            what = "it ended early" if isinstance(exc, http.client.IncompleteRead) else str(exc)
            raise ProjectError(f"{key}: {url} could not be downloaded whole ({what})") from None
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
        stored = self._store(staged, digest.hexdigest())
        self._remember(
            url,
            {
                "digest": digest.hexdigest(),
                "name": name,
                "etag": response.headers.get("ETag"),
                "last_modified": response.headers.get("Last-Modified"),
            },
        )
        self.say(f"{url}: downloaded ({size:,} bytes)")
        return stored / name

    def _listed(self, url: str, client: Any, prefix: str, key: str) -> Path:
        """Every blob under ``prefix`` of ``client``'s container, as one folder."""
        from azure.core.exceptions import AzureError, HttpResponseError

        try:
            listing = sorted(
                (blob.name, blob.etag, blob.size)
                for blob in client.list_blobs(name_starts_with=prefix)
                if not blob.name.endswith("/")
            )
        except HttpResponseError as exc:
            raise ProjectError(_storage_refusal(key, url, client, exc, self.set_key)) from None
        except AzureError as exc:
            return self._offline(url, key, str(exc).splitlines()[0] if str(exc) else "no answer")
        if not listing:
            raise ProjectError(f"{key}: {url} holds no files")
        seen = hashlib.sha256(repr(listing).encode()).hexdigest()
        entry = self._entry(url)
        if entry is not None and entry.get("listing") == seen:
            self.say(f"{url}: unchanged, the copy downloaded at {entry['fetched']} is used")
            return self._path(entry)
        staged = self._staging()
        files = []
        try:
            for name, _etag, _size in listing:
                relative = name[len(prefix) :].lstrip("/") if prefix else name
                if not _safe(relative):
                    raise ProjectError(f"{key}: {url} holds a blob named {name!r}, no file name")
                target = staged / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                _write_blob(client.get_blob_client(name), target, key, url)
                files.append((relative, state.file_sha(target)))
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
        digest = hashlib.sha256(repr(sorted(files)).encode()).hexdigest()
        stored = self._store(staged, digest)
        self._remember(url, {"digest": digest, "name": "", "listing": seen})
        self.say(f"{url}: downloaded ({len(files)} files)")
        return stored


def _write_blob(blob: Any, target: Path, key: str, url: str) -> None:
    """The content of ``blob`` (a BlobClient) into ``target``; a failure is one line."""
    from azure.core.exceptions import AzureError

    try:
        with open(target, "wb") as out:
            blob.download_blob().readinto(out)
    except AzureError as exc:
        raise ProjectError(
            f"{key}: {url} could not be downloaded whole ({_first_line(exc)})"
        ) from None


def _storage_refusal(key: str, url: str, client: Any, exc: Any, set_key: str) -> str:
    status = exc.status_code
    code = getattr(exc, "error_code", None) or getattr(exc, "reason", None) or ""
    said = f"HTTP {status}{f' {code}' if code else ''}"
    if status in (401, 403):
        return (
            f"{key}: {url} cannot be read ({said}): the signed-in identity needs Storage Blob "
            f"Data Reader on storage account {client.account_name} (a public URL needs a "
            "container that allows anonymous reads)"
        )
    return f"{key}: {url} cannot be read ({said}); give a local copy with --set {set_key}=PATH"


def _container(source: str, credential: Any) -> tuple[Any, str]:
    """(the storage SDK's client of the URL's container, the path under it); ``credential``
    None reads anonymously, as a public container allows.

    ``https://<account>.blob.core.windows.net/<container>/<path>``; an IP or ``localhost``
    host is read as the storage emulator writes it: ``http://<host>/<account>/<container>/``.
    """
    from azure.storage.blob import ContainerClient, LinearRetry

    parsed = urlparse(source)
    parts = [unquote(p) for p in parsed.path.split("/") if p]
    host = parsed.hostname or ""
    path_style = host == "localhost" or re.fullmatch(r"[\d.]+|\[[0-9a-f:]+\]", host) is not None
    if path_style and parts:
        account_url = f"{parsed.scheme}://{parsed.netloc}/{parts.pop(0)}"
    else:
        account_url = f"{parsed.scheme}://{parsed.netloc}"
    if not parts:
        raise ProjectError(f"{source}: no container in the URL")
    container = parts.pop(0)
    prefix = "/".join(parts)
    if prefix:
        prefix += "/"
    retry = LinearRetry(backoff=1, random_jitter_range=0, retry_total=2)  # not minutes
    client = ContainerClient(
        account_url,
        container,
        credential=credential,
        connection_timeout=TIMEOUT,
        retry_policy=retry,
    )
    return client, prefix


def _file_name(source: str) -> str:
    name = unquote(posixpath.basename(urlparse(source).path))
    return name if _safe(name) and "/" not in name else "download"


def _safe(relative: str) -> bool:
    parts = relative.split("/")
    return bool(relative) and all(p not in ("", ".", "..") and "\\" not in p for p in parts)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def fetch_remote(pipeline: Any, values: dict[str, Any], downloads: Downloads) -> None:
    """Download every web input of ``pipeline`` not replaced with ``--set``: pipeline inputs
    get their local copy in ``values``, node inputs become local path bindings. Every input
    that cannot be had is reported, one line each, before anything runs."""
    from ..pipeline.expand import yaml_key
    from ..pipeline.graph import Binding

    problems: list[str] = []
    for name, spec in pipeline.inputs.items():
        remote = spec.get("remote")
        if remote and values.get(name) is None and fetchable(remote):
            kind = spec.get("type") or "uri_folder"
            try:
                values[name] = str(downloads.fetch(remote, kind, f"inputs.{name}.path", name))
            except ProjectError as exc:
                problems.append(str(exc))
    for step in pipeline.steps.values():
        for name, binding in list(step.inputs.items()):
            if binding.kind != "remote" or not fetchable(str(binding.value)):
                continue
            kind = step.component.inputs.get(name, {}).get("type") or "uri_folder"
            key = binding.keys[0] if binding.keys else f"{yaml_key(step.name)}.inputs.{name}"
            try:
                local = downloads.fetch(str(binding.value), kind, f"{key}.path", key)
            except ProjectError as exc:
                problems.append(str(exc))
                continue
            step.inputs[name] = Binding("path", value=str(local), keys=binding.keys)
    if problems:
        raise ProjectError("\n".join(dict.fromkeys(problems)))
