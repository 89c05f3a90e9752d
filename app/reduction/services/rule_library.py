"""The rule library the checks judge by (inventories/measure_rules), read once per inventory version, and where
its plan-limited rules apply (the plans covering an enterprise's jurisdiction)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from app.config import ROOT
from app.core.memo import by_inventory_version
from app.places.models import Jurisdiction
from app.plans import services as plans
from app.reduction.domain import rules as dr

if TYPE_CHECKING:
    from app.reduction.models import Enterprise

RULES_DIR = ROOT / "inventories" / "measure_rules"


@by_inventory_version
def current(root: Path = RULES_DIR) -> dr.RuleLibrary:
    """The rule library, read once per process and inventory version (app/core/memo.py): parsing it costs
    more than a page, and a worker reads it again after the next `flask inventories load`."""
    return dr.load(root)


def plan_codes(session: Session, jurisdiction_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    """For each jurisdiction, the codes of the plans whose zones cover it (itself or an ancestor: a Sichuan
    county through its prefecture city), sorted: a rule of the library limited to plans applies there only."""
    ids = sorted(set(jurisdiction_ids))
    if not ids:
        return {}
    paths = session.execute(select(Jurisdiction.id, Jurisdiction.path).where(Jurisdiction.id.in_(ids))).all()
    return {jid: tuple(sorted(p.code for p in plans.covering(session, path or ""))) for jid, path in paths}


def plans_of(e: Enterprise) -> tuple[str, ...]:
    """The codes of the plans whose zones cover the enterprise's jurisdiction (`plan_codes`)."""
    session = object_session(e)
    if session is None or e.jurisdiction_id is None:
        return ()
    return plan_codes(session, [e.jurisdiction_id]).get(e.jurisdiction_id, ())


def match_of(e: Enterprise, library: dr.RuleLibrary | None = None) -> dr.RuleMatch:
    """The rules that apply to the enterprise, where it is (its plans), as the checks apply them."""
    return (library or current()).match(e.industry or "other", e.grade, e.category, plans_of(e))
