"""A loopback fake of the part of GitHub's REST API that holds environments.

Stateful, like GitHub: PUT creates or updates an environment, the deployment branch
policies are their own resources, GET returns what was stored in GitHub's shape (protection
rules derived from the settings). Every request is recorded with its headers.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

USERS = {"octocat": 583231, "reviewer-two": 1000002}
TEAMS = {("my-org", "ml-leads"): 7000001}


class FakeGitHub:
    def __init__(self, repository: str, token: str = "test-token") -> None:  # noqa: S107
        self.repository = repository
        self.token = token
        self.environments: dict[str, dict[str, Any]] = {}
        self.policies: dict[str, list[dict[str, Any]]] = {}
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []
        self._next_id = 1
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                fake.requests.append((self.command, self.path, dict(self.headers), body))
                status, payload = fake.handle(self.command, self.path, self.headers, body)
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeGitHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def view(self, name: str) -> dict[str, Any]:
        stored = self.environments[name]
        rules: list[dict[str, Any]] = []
        if stored.get("reviewers"):
            rules.append(
                {
                    "id": stored["id"] + 1,
                    "type": "required_reviewers",
                    "prevent_self_review": bool(stored.get("prevent_self_review")),
                    "reviewers": [
                        {"type": r["type"], "reviewer": {"id": r["id"]}}
                        for r in stored["reviewers"]
                    ],
                }
            )
        if stored.get("deployment_branch_policy"):
            rules.append({"id": stored["id"] + 2, "type": "branch_policy"})
        return {
            "id": stored["id"],
            "name": name,
            "protection_rules": rules,
            "deployment_branch_policy": stored.get("deployment_branch_policy"),
        }

    def handle(self, method: str, path: str, headers: Any, body: Any) -> tuple[int, Any]:
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"message": "Bad credentials"}
        if headers.get("X-GitHub-Api-Version") != "2022-11-28":
            return 400, {"message": "missing API version"}
        if match := re.fullmatch(r"/users/([^/]+)", path):
            login = unquote(match.group(1))
            return (
                (200, {"login": login, "id": USERS[login]})
                if login in USERS
                else (404, {"message": "Not Found"})
            )
        if match := re.fullmatch(r"/orgs/([^/]+)/teams/([^/]+)", path):
            key = (unquote(match.group(1)), unquote(match.group(2)))
            return (
                (200, {"slug": key[1], "id": TEAMS[key]})
                if key in TEAMS
                else (404, {"message": "Not Found"})
            )
        prefix = f"/repos/{self.repository}/environments/"
        if not path.startswith(prefix):
            return 404, {"message": "Not Found"}
        parts = [unquote(part) for part in path[len(prefix) :].split("/")]
        name = parts[0]
        if len(parts) == 1:
            if method == "PUT":
                stored = self.environments.setdefault(name, {"id": self.new_id() * 10})
                for key in (
                    "reviewers",
                    "prevent_self_review",
                    "wait_timer",
                    "deployment_branch_policy",
                ):
                    if body and key in body:
                        stored[key] = body[key]
                if not (stored.get("deployment_branch_policy") or {}).get("custom_branch_policies"):
                    self.policies.pop(name, None)
                return 200, self.view(name)
            if method == "GET":
                return (
                    (200, self.view(name))
                    if name in self.environments
                    else (404, {"message": "Not Found"})
                )
        if name not in self.environments:
            return 404, {"message": "Not Found"}
        if parts[1:2] == ["deployment-branch-policies"]:
            policies = self.policies.setdefault(name, [])
            if len(parts) == 2 and method == "GET":
                return 200, {"total_count": len(policies), "branch_policies": policies}
            if len(parts) == 2 and method == "POST":
                policy = {
                    "id": self.new_id(),
                    "name": body["name"],
                    "type": body.get("type", "branch"),
                }
                policies.append(policy)
                return 200, policy
            if len(parts) == 3 and method == "DELETE":
                self.policies[name] = [p for p in policies if str(p["id"]) != parts[2]]
                return 204, None
        return 404, {"message": "Not Found"}
