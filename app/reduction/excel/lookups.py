"""The names a workbook uses for places and industries, and the codes they stand for."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.memo import by_inventory_version
from app.places.models import Jurisdiction, JurisdictionLevel
from app.reduction.excel import template as t
from app.reduction.excel.records import Industries, Places


def places_of(session: Session, root: Jurisdiction) -> Places:
    rows = session.execute(
        select(Jurisdiction.id, Jurisdiction.code, Jurisdiction.name, Jurisdiction.short_name).where(
            Jurisdiction.path.startswith(root.path)
        )
    ).all()
    by_key: dict[str, int] = {}
    names: dict[str, set[int]] = defaultdict(set)
    for r in rows:
        by_key[r.code] = r.id
        for n in (r.name, r.short_name):
            if n:
                names[n].add(r.id)
                names[t.norm(n)].add(r.id)
    for n, ids in names.items():
        if n not in by_key:
            by_key[n] = next(iter(ids)) if len(ids) == 1 else -1
    return Places(root.id, root.level is JurisdictionLevel.county, by_key)


@by_inventory_version  # follows the rule library (app/core/memo.py)
def industries() -> Industries:
    from app.reduction.services import rule_library

    library = rule_library.current()
    by_key: dict[str, str] = {}
    names = []
    for code, industry in library.industries.items():
        if code == "*":
            continue
        by_key[code] = by_key[t.norm(code)] = code
        by_key[industry.name] = by_key[t.norm(industry.name)] = code
        names.append(industry.name)
    return Industries(by_key, library.industry_of, "、".join(names))


def industry_labels() -> dict[str, str]:
    from app.reduction.services import rule_library

    return {code: ind.name for code, ind in rule_library.current().industries.items() if code != "*"}
