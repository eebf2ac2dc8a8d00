"""Cost of the cloud commands on a small project, against the in-memory workspace fakes.

    python amlctl/benchmarks/bench_cloud.py [PROJECT]

PROJECT defaults to the tests' fixture project (tests/fakes/project.py), made in a temporary
folder; give a generated project's folder to measure that one.

Prints, for `register` on an unchanged project, the write calls (target 0) and wall time,
for a full `publish` into an empty workspace and a repeated one, and for `promote` of a dev
model into an empty Azure ML registry and again (target 0 writes), the service calls made (each
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
    bench_promote(root, quiet)
    return 0


def bench_promote(root: Path, quiet) -> None:
    """`promote` of dev's model, components and environment into an empty registry, and again."""
    from fakes.ml import FakeMLClient

    from amlctl.cloud.assets import default_model_name
    from amlctl.cloud.promote import promote
    from amlctl.cloud.register import register_project
    from amlctl.cloud.registry import PROMOTER_ROLE, RegistryAccess
    from amlctl.project import ProjectError

    try:
        model = default_model_name(root)
    except ProjectError:  # the fixture project's pipeline names no model
        model = "fixture-model"
    dev = FakeMLClient()
    register_project(root, dev, echo=quiet)
    dev.models.store[model] = ["1"]
    registry = RegistryAccess("mlr-bench", "bench", PROMOTER_ROLE, dev.registry("mlr-bench"))
    for label in ("into an empty registry", "again, unchanged"):
        dev.reset_calls()
        registry.client.reset_calls()
        started = time.perf_counter()
        outcomes = promote(root, dev, registry, model, echo=quiet)
        seconds = time.perf_counter() - started
        calls = dev.calls + registry.client.calls
        writes = dev.writes + registry.client.writes
        print(
            f"promote ({label}, {len(outcomes)} assets): {len(calls)} requests "
            f"({len(writes)} writes), {seconds:.2f}s"
        )


if __name__ == "__main__":
    sys.exit(main())
