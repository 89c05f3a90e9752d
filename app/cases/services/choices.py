"""Whom a case can be passed on to (转办) or assigned to: the choices the case page offers and the transition
checks."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import Bureau, User
from app.auth.roles import STAFF, Role
from app.cases.models import Case
from app.core.scoping import unscoped
from app.places.models import Jurisdiction, path_codes

WORKERS = STAFF | {Role.inspector}


def pass_on_targets(session: Session, case: Case, user: User) -> list[Bureau]:
    """The bureaus below the user's own that the case can be passed on to: active bureaus of the case's place
    or a place between it and the user's jurisdiction, nearest the case first."""
    with unscoped(session):
        place = session.get(Jurisdiction, case.jurisdiction_id)
        own = session.get(Jurisdiction, user.jurisdiction_id)
        if place is None or own is None or not place.path.startswith(own.path) or place.id == own.id:
            return []
        codes = [c for c in path_codes(place.path) if c not in path_codes(own.path)]
        rows = session.execute(
            select(Bureau, Jurisdiction.path).join(Jurisdiction, Jurisdiction.id == Bureau.jurisdiction_id)
            .where(Bureau.active, Jurisdiction.code.in_(codes), Bureau.id != user.bureau_id)
        ).all()  # fmt: skip
    return [b for b, _path in sorted(rows, key=lambda r: -len(r[1]))]


def assignees(session: Session, case: Case) -> list[User]:
    """The officers a case can be assigned to: active handlers of the bureau holding it."""
    if case.responsible_bureau_id is None:
        return []
    with unscoped(session):
        users = session.scalars(
            select(User).where(User.bureau_id == case.responsible_bureau_id, User.active).order_by(User.display_name)
        ).all()
    return [u for u in users if u.roles & WORKERS]
