"""A loopback web site and Blob service for tests of inputs read from the web or storage.

``Site`` holds plain web files (ETags, 304s, a body cut short) and the blobs of one
container, answered as the Blob service answers the storage SDK: the container listing,
ranged reads with Content-Range, HEAD for properties, and a 403 without the expected
bearer token. ``serve`` runs it on 127.0.0.1 (over TLS when given a certificate);
``resolve_to`` sends a real host name (``<account>.blob.core.windows.net``) to it.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from xml.sax.saxutils import escape


class Site:
    """What the loopback server holds, and what it was asked."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}  # URL path -> content
        self.blobs: dict[str, bytes] = {}  # blob name -> content
        self.requests: list[str] = []
        self.short = False  # a body cut short of its Content-Length
        self.container = "/devstoreaccount1/datasets"  # path-style, as the emulator serves
        self.token: str | None = None  # a bearer token every blob request must carry


def handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":  # a HEAD is answered with the GET's headers only
                self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            path = url.path.replace("%20", " ")
            site.requests.append(self.path)
            if path in site.files:
                body = site.files[path]
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if site.short:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body) + 100))
                    self.end_headers()
                    self.wfile.write(body)
                    self.close_connection = True
                    return
                self.send(200, body, {"ETag": etag})
                return
            blob_request = path == site.container or path.startswith(site.container + "/")
            authorized = self.headers.get("Authorization") == f"Bearer {site.token}"
            if blob_request and site.token is not None and not authorized:
                self.send(
                    403,
                    b"<Error><Code>AuthorizationPermissionMismatch</Code></Error>",
                    {"x-ms-error-code": "AuthorizationPermissionMismatch"},
                )
                return
            if path == site.container:
                query = parse_qs(url.query)
                prefix = query.get("prefix", [""])[0]
                items = "".join(
                    f"<Blob><Name>{escape(name)}</Name><Properties>"
                    f"<Etag>0x{hashlib.sha256(data).hexdigest()[:8]}</Etag>"
                    f"<Content-Length>{len(data)}</Content-Length>"
                    "<BlobType>BlockBlob</BlobType></Properties></Blob>"
                    for name, data in sorted(site.blobs.items())
                    if name.startswith(prefix)
                )
                xml = (
                    '<?xml version="1.0" encoding="utf-8"?><EnumerationResults '
                    'ContainerName="datasets"><Blobs>'
                    f"{items}</Blobs><NextMarker /></EnumerationResults>"
                ).encode()
                self.send(200, xml, {"Content-Type": "application/xml"})
                return
            blob = path.removeprefix(site.container + "/")
            if path.startswith(site.container + "/") and blob in site.blobs:
                data = site.blobs[blob]
                headers = {
                    "x-ms-blob-type": "BlockBlob",
                    "ETag": f'"0x{hashlib.sha256(data).hexdigest()[:8]}"',
                    "Last-Modified": formatdate(usegmt=True),
                    "Content-Type": "application/octet-stream",
                }
                wanted = self.headers.get("x-ms-range") or self.headers.get("Range")
                if wanted:  # the SDK reads in ranges and needs Content-Range back
                    start, _, end = wanted.removeprefix("bytes=").partition("-")
                    last = min(int(end or len(data) - 1), len(data) - 1)
                    part = data[int(start) : last + 1]
                    headers["Content-Range"] = f"bytes {start}-{last}/{len(data)}"
                    self.send(206, part, headers)
                    return
                self.send(200, data, headers)
                return
            self.send(404, b"not found", {})

        do_HEAD = do_GET

    return Handler


def serve(site: Site, tls: tuple[Path, Path] | None = None) -> ThreadingHTTPServer:
    """Serve ``site`` on a free loopback port in a thread (stop: shutdown, server_close)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(site))
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def resolve_to(monkeypatch: Any, hosts: set[str], port: int) -> None:
    """Resolve ``hosts`` to 127.0.0.1:``port`` in this process (urllib and urllib3 alike)."""
    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host in hosts:
            return real("127.0.0.1", port, *args[1:], **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
