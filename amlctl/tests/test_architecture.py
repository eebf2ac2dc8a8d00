"""The package's import graph has no circles: each module can be read after what it uses.

Every relative import counts, those inside functions too (a lazy import is still a
dependency); imports under ``if TYPE_CHECKING:`` do not, since they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import amlctl

PACKAGE = Path(amlctl.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        test = getattr(node, "test", None)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(test):
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def imports_of(path: Path, for_types_too: bool = False) -> set[str]:
    """The amlctl modules `path` imports (relative imports resolved to module names).

    Imports under ``if TYPE_CHECKING:`` count only with ``for_types_too``.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = set() if for_types_too else _type_checking_lines(tree)
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or node.lineno in skipped or node.level == 0:
            continue
        base = package[: len(package) - (node.level - 1)]
        target = ".".join([*base, node.module] if node.module else base)
        for alias in node.names:
            candidate = f"{target}.{alias.name}"
            found.add(candidate if candidate in MODULES else target)
    return {name for name in found if name in MODULES} - {module_name(path)}


MODULES = {module_name(path) for path in PACKAGE.rglob("*.py")}


def graph(for_types_too: bool = False) -> dict[str, set[str]]:
    return {module_name(path): imports_of(path, for_types_too) for path in PACKAGE.rglob("*.py")}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return [*visiting[visiting.index(node) :], node]
        if node in done:
            return None
        visiting.append(node)
        for target in sorted(edges.get(node, ())):
            cycle = visit(target)
            if cycle:
                return cycle
        visiting.pop()
        done.add(node)
        return None

    for node in sorted(edges):
        cycle = visit(node)
        if cycle:
            return cycle
    return None


def test_the_package_has_no_import_circle():
    edges = graph()
    # __init__ modules re-export nothing here; a package importing its own modules is fine
    edges = {
        node: {t for t in targets if not node.startswith(t + ".")}
        for node, targets in edges.items()
    }
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges) or [])


def _package_of(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_no_step_kind_imports_the_executor_not_even_for_types():
    edges = graph(for_types_too=True)
    kinds = [m for m in edges if _package_of(m, "amlctl.local_run.kinds")]
    assert len(kinds) >= 6, kinds  # the registry and command, sweep, parallel, Spark, AutoML
    offenders = {m for m in kinds if "amlctl.local_run.executor" in edges[m]}
    assert not offenders, f"step kinds importing the executor: {sorted(offenders)}"


def test_the_run_record_and_page_know_nothing_of_the_runner():
    """The runner hands `amlctl.runs` plain JSON at a run's end; the record, the page and
    `amlctl runs` import no part of the runner (only `amlctl ui` borrows its uv finder)."""
    edges = graph(for_types_too=True)
    looked_at = ("amlctl.runs", "amlctl.runs.record", "amlctl.runs.page", "amlctl.runs.command")
    assert set(looked_at) <= set(edges), sorted(m for m in edges if m.startswith("amlctl.runs"))
    upward = {(m, t) for m in looked_at for t in edges[m] if _package_of(t, "amlctl.local_run")}
    assert not upward, f"run records importing the runner: {sorted(upward)}"
    assert "amlctl.runs.page" in edges["amlctl.local_run.executor"]  # the hook at a run's end


def test_the_pipeline_model_is_below_every_command_that_reads_a_pipeline():
    """validate, run and submit read pipelines through amlctl.pipeline; it imports none of them."""
    edges = graph(for_types_too=True)
    model = [m for m in edges if _package_of(m, "amlctl.pipeline")]
    above = ("amlctl.local_run", "amlctl.validation", "amlctl.cloud", "amlctl.serving")
    upward = {(m, t) for m in model for t in edges[m] if any(_package_of(t, p) for p in above)}
    assert not upward, f"the pipeline model imports a user of it: {sorted(upward)}"
    for user in ("amlctl.local_run.command", "amlctl.validation.command", "amlctl.cloud.submit"):
        assert any(_package_of(t, "amlctl.pipeline") for t in edges[user]), user


def test_the_rules_above_can_fail():
    """The import reader sees a TYPE_CHECKING import when asked to (the rule's blind spot)."""
    sweep = PACKAGE / "local_run" / "kinds" / "sweep.py"
    assert "amlctl.pipeline.graph" in imports_of(sweep, for_types_too=True)
    assert "amlctl.pipeline.graph" not in imports_of(sweep)


def test_the_cycle_finder_finds_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
