"""What the API's feature modules share when they answer: times as ISO 8601 text."""

from __future__ import annotations

from typing import Any


def iso(value: Any) -> str | None:
    """A date or time as ISO 8601 text; None (and no value) as null."""
    return value.isoformat() if value else None
