"""Plain graph helpers over adjacency (no Flask, no database): used by tests and the regional trigger."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import TypeVar

N = TypeVar("N", bound=Hashable)


def neighbours(edges: Iterable[tuple[N, N]]) -> dict[N, set[N]]:
    graph: dict[N, set[N]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set()).add(a)
    return graph


def components(nodes: Iterable[N], edges: Iterable[tuple[N, N]]) -> list[set[N]]:
    """Connected groups of `nodes` using only edges between them, largest first."""
    members = set(nodes)
    graph = neighbours((a, b) for a, b in edges if a in members and b in members)
    seen: set[N] = set()
    groups: list[set[N]] = []
    for start in sorted(members, key=str):
        if start in seen:
            continue
        group, stack = set(), [start]
        while stack:
            node = stack.pop()
            if node in group:
                continue
            group.add(node)
            stack.extend(graph.get(node, set()) - group)
        seen |= group
        groups.append(group)
    return sorted(groups, key=lambda g: (-len(g), sorted(map(str, g))))
