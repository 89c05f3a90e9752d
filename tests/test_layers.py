"""The layers of the house, read from the code's own imports: the JSON API and services never import HTML views
(rules such as who sees a complainant live in services, where both the pages and the API find them)."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _is_view(module: str) -> bool:
    parts = module.split(".")
    return parts[0] == "app" and ("views" in parts[1:])


def test_the_api_and_the_services_import_no_html_view() -> None:
    offenders = []
    for path in APP.rglob("*.py"):
        rel = path.relative_to(APP.parent).with_suffix("")
        parts = rel.parts
        if "api" not in parts and "services" not in parts and "domain" not in parts:
            continue
        views = sorted(m for m in _imports(path) if _is_view(m))
        if views:
            offenders.append(f"{'.'.join(parts)} imports {', '.join(views)}")
    assert offenders == [], offenders


def _module_graph() -> dict[str, set[str]]:
    """app's modules and the app modules each imports when it runs: at the top or inside a function, not
    under `if TYPE_CHECKING:` (never executed). `from pkg import name` counts as pkg.name when that is a module."""
    modules: dict[str, Path] = {}
    for path in APP.rglob("*.py"):
        parts = path.relative_to(APP.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for inner in ast.walk(node)
        }
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*up, base] if base else up)
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    found.add(target if target in modules else base)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def test_no_import_cycle() -> None:
    """A cycle held together by an import inside a function is still a cycle: each module needs the other."""
    graph = _module_graph()
    assert len(graph) > 100  # the walk found the house
    cycles = _cycles(graph)
    detail = [" ↔ ".join(group) + ": " + "; ".join(f"{a} → {b}" for a in group for b in sorted(graph[a] & set(group)))
              for group in cycles]  # fmt: skip
    assert cycles == [], detail


def test_the_cycle_finder_sees_a_cycle_through_a_function_level_import() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
