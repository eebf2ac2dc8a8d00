"""Cost of the cloud commands on a small project, against the in-memory workspace fakes.

    python amlctl/benchmarks/bench_cloud.py [PROJECT]

PROJECT defaults to the tests' fixture project (tests/fakes/project.py), made in a temporary
folder; give a generated project's folder to measure that one.

Prints, for `register` on an unchanged project, the write calls (target 0) and wall time, and,
for a full `publish` into an empty workspace and a repeated one, the service calls made (each
call is one request, or the first request of a long-running operation).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

TOOL = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOOL / "tests"))


def main() -> int:
    from fakes.ml import FakeMLClient
    from fakes.project import make_project

    if len(sys.argv) > 1:
        root = Path(sys.argv[1]).resolve()
    else:
        root = make_project(Path(tempfile.mkdtemp(prefix="bench-cloud-")) / "project")

    from amlctl.cloud.publish import publish_project
    from amlctl.cloud.register import register_project

    def quiet(_: str) -> None:
        pass

    ml_client = FakeMLClient()
    started = time.perf_counter()
    first = register_project(root, ml_client, echo=quiet)
    first_seconds = time.perf_counter() - started
    first_writes = len(ml_client.writes)
    ml_client.reset_calls()
    started = time.perf_counter()
    register_project(root, ml_client, echo=quiet)
    seconds = time.perf_counter() - started
    print(f"register (first, {len(first)} assets): {first_writes} writes, {first_seconds:.2f}s")
    print(
        f"register (unchanged project): {len(ml_client.writes)} writes (target 0), "
        f"{len(ml_client.calls)} lookups, {seconds:.2f}s"
    )

    ml_client = FakeMLClient()
    started = time.perf_counter()
    publish_project(root, ml_client, echo=quiet)
    seconds = time.perf_counter() - started
    kinds = Counter(call.method for call in ml_client.calls)
    print(
        f"publish (empty workspace): {len(ml_client.calls)} requests "
        f"({len(ml_client.writes)} writes, {kinds['get']} lookups), {seconds:.2f}s"
    )
    ml_client.reset_calls()
    started = time.perf_counter()
    publish_project(root, ml_client, echo=quiet)
    seconds = time.perf_counter() - started
    print(
        f"publish (again, unchanged): {len(ml_client.calls)} requests "
        f"({len(ml_client.writes)} writes), {seconds:.2f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
