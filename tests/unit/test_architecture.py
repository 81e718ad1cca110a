"""The layout is the architecture: an import-graph test over rag/ (issue 19).

Modules map to packages by their first name under rag (`rag.kb.store` -> `rag.kb`, the
top-level module `rag.settings` -> `rag.settings`). Every import counts, also one inside a
function or under TYPE_CHECKING: a deferred import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

RAG = Path(__file__).resolve().parents[2] / "rag"

STAGES = (
    "rag.loaders",
    "rag.splitters",
    "rag.embeddings",
    "rag.vectorstores",
    "rag.lexical",
    "rag.retrieval",
    "rag.llms",
    "rag.chains",
    "rag.kb",
    "rag.ingestion",
    "rag.conversations",
    "rag.documents",
    "rag.webfetch",
    "rag.ocr",
)
"""Packages below the service layer."""
ABOVE_STAGES = ("rag.api", "rag.ui", "rag.cli", "rag.factory")
"""What the stages never import: the app's front ends and the factory that builds it."""
MAX_FUNCTION_LINES = 60


def modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(RAG.rglob("*.py")):
        parts = path.relative_to(RAG.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), ast.parse(path.read_text(encoding="utf-8"), str(path))


def package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def imported(tree: ast.Module) -> Iterator[str]:
    """The rag modules `tree` imports (`from rag import x` names rag.x)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module == "rag":
                yield from (f"rag.{alias.name}" for alias in node.names)
            else:
                yield node.module


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, tree in modules():
        source = package(module)
        targets = graph.setdefault(source, set())
        for name in imported(tree):
            if name == "rag" or name.startswith("rag."):
                target = package(name)
                if target not in (source, "rag"):
                    targets.add(target)
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` (as a path that ends where it starts), or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for target in sorted(graph.get(node, ())):
            found = visit(target, [*path, node])
            if found:
                return found
        done.add(node)
        return None

    for node in sorted(graph):
        found = visit(node, [])
        if found:
            return found
    return None


def test_no_cycle_between_packages():
    found = cycle(package_graph())
    assert found is None, "packages import each other in a circle: " + " -> ".join(found or [])


def test_stages_never_import_the_front_ends_or_the_factory():
    graph = package_graph()
    wrong = sorted(
        f"{stage} imports {target}"
        for stage in STAGES
        for target in graph.get(stage, ())
        if target in ABOVE_STAGES
    )
    assert wrong == []


def test_every_stage_package_exists():
    """A renamed package must be renamed here too, or the checks above would pass vacuously."""
    graph = package_graph()
    assert [stage for stage in STAGES if stage not in graph] == []


def test_no_function_is_longer_than_60_lines():
    long = []
    for module, tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{module}.{node.name} (line {node.lineno}): {lines} lines")
    assert long == [], "functions over 60 lines:\n" + "\n".join(long)


def test_the_cycle_finder_finds_a_cycle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
