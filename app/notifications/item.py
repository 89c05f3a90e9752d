"""One line of the home page's work list; each feature builds its own lines (notifications/todos.py gathers them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Todo:
    key: str
    label: str
    count: int
    endpoint: str
    args: dict[str, str]
    urgent: bool = False
