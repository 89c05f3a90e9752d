"""Shared set-up of the power tests: registered enterprises with meters, and a staff member's API token."""

from __future__ import annotations

from typing import Any

from app.auth.models import User
from app.auth.services import create_token
from app.registry.models import RegisteredEnterprise, RegisteredMeter
from tests.conftest import place


def enterprise(session: Any, uscc: str, code: str = "510100", kinds=("production", "control"), name: str = "") -> Any:
    ent = RegisteredEnterprise(uscc=uscc, name=name or f"企业{uscc[-4:]}", jurisdiction_id=place(code).id)
    session.add(ent)
    session.flush()
    for k, kind in enumerate(kinds, start=1):
        session.add(RegisteredMeter(registry_enterprise_id=ent.id, number=f"M{k}", kind=kind))
    session.flush()
    return ent


def bearer(session: Any, user: User) -> dict[str, str]:
    _t, raw = create_token(session, session.get(User, user.id), "power", days=1)
    session.commit()
    return {"Authorization": f"Bearer {raw}"}
