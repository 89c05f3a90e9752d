"""Reading the places graph: adjacency by division code (the loader is places.services)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.places.models import Adjacency, Jurisdiction


def edges_by_code(session: Session) -> set[tuple[str, str]]:
    codes = dict(session.execute(select(Jurisdiction.id, Jurisdiction.code)).all())
    return {(codes[r.a_id], codes[r.b_id]) for r in session.scalars(select(Adjacency))}


def neighbour_codes(session: Session) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for a, b in edges_by_code(session):
        result.setdefault(a, []).append(b)
        result.setdefault(b, []).append(a)
    return {k: sorted(v) for k, v in result.items()}
