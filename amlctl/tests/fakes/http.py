"""A loopback HTTP(S) server that plays scripted responses and records every request."""

from __future__ import annotations

import datetime
import json
import re
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from azure.core.credentials import AccessToken
from azure.core.pipeline.policies import SansIOHTTPPolicy


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    responses: list[tuple[int, Any, dict[str, str]]] = field(default_factory=list)


class ScriptedServer:
    """Routes (method, path regex) -> responses played in order; the last one repeats.

    `{base}` in a response header or body is replaced by the server's own URL.
    """

    def __init__(self, tls_files: tuple[Path, Path] | None = None) -> None:
        self.routes: list[Route] = []
        self.requests: list[Recorded] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                fake.requests.append(
                    Recorded(self.command, self.path, dict(self.headers.items()), body)
                )
                status, payload, headers = fake.respond(self.command, self.path)
                data = b"" if payload is None else json.dumps(payload).encode()
                data = data.replace(b"{base}", fake.url.encode())
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value.replace("{base}", fake.url))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        if tls_files is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls_files[0]), str(tls_files[1]))
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, method: str, pattern: str, *responses: tuple) -> None:
        normalized = [
            (r[0], r[1] if len(r) > 1 else None, r[2] if len(r) > 2 else {}) for r in responses
        ]
        self.routes.append(Route(method, re.compile(pattern, re.IGNORECASE), normalized))

    def respond(self, method: str, path: str) -> tuple[int, Any, dict[str, str]]:
        for route in self.routes:
            if route.method == method and route.pattern.search(path):
                if len(route.responses) > 1:
                    return route.responses.pop(0)
                return route.responses[0]
        return 404, {"error": {"code": "NotScripted", "message": f"{method} {path}"}}, {}

    def sent(self, method: str, pattern: str) -> list[Recorded]:
        regex = re.compile(pattern, re.IGNORECASE)
        return [r for r in self.requests if r.method == method and regex.search(r.path)]

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeCredential:
    """A TokenCredential that hands out a fixed token and counts the requests for one."""

    def __init__(self, granted: str = "fake-token") -> None:
        self.token = granted
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)


class PlainHttpBearer(SansIOHTTPPolicy):
    """Bearer authentication that also works over http (the loopback fake)."""

    def __init__(self, credential: FakeCredential, scope: str) -> None:
        self.credential, self.scope = credential, scope

    def on_request(self, request: Any) -> None:
        token = self.credential.get_token(self.scope).token
        request.http_request.headers["Authorization"] = f"Bearer {token}"


def self_signed_cert(folder: Path, *names: str) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1/localhost (and ``names``) and its key, written to folder."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    # UTC, spelt so that it works on Python 3.10 and no ruff target flags it
    now = datetime.datetime.now(datetime.timezone(datetime.timedelta(0)))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    *(x509.DNSName(name) for name in names),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file
