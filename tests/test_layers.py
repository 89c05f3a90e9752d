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
