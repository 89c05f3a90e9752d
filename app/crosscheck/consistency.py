"""The consistency page's data (seed 001 五/六): measure strength per industry, grade and level, a reader's
jurisdictions against the region's medians, from the lists in force. The region's enterprises are read for the
aggregates only (unscoped, system work); what leaves this module is medians and counts, and the reader's own
jurisdictions' rows of them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.localtime import LOCAL_TZ
from app.core.scoping import get_scope, unscoped
from app.crosscheck.domain import consistency as dom
from app.places.models import Jurisdiction
from app.reduction.domain.vocabulary import MeasureKind
from app.reduction.models import Enterprise, ListState, Measure, ProcessUnit, ReductionList
from app.reduction.services.in_force import lists_in_force

TRANSPORT = (MeasureKind.truck_ban.value, MeasureKind.staggered_transport.value)


@dataclass(frozen=True)
class View:
    regional: list[dict[str, Any]]  # the region's medians, in the groups the reader has
    own: list[dict[str, Any]]  # the reader's jurisdictions' medians beside the region's
    outliers: list[dict[str, Any]]
    names: dict[int, str]


def rows(session: Session) -> list[dict[str, Any]]:
    """One row per enterprise and alert level of every list in force (the domain's input)."""
    today = datetime.now(LOCAL_TZ).date()
    with unscoped(session):
        ids = session.scalars(
            select(ReductionList.jurisdiction_id).where(ReductionList.state == ListState.published).distinct()
        ).all()
        lists = [lst.id for lst in lists_in_force(session, ids, today).values()]
        if not lists:
            return []
        ents = session.execute(
            select(Enterprise.id, Enterprise.list_id, Enterprise.industry, Enterprise.grade).where(
                Enterprise.list_id.in_(lists)
            )
        ).all()
        owner = dict(session.execute(select(ReductionList.id, ReductionList.jurisdiction_id).where(
            ReductionList.id.in_(lists))).all())  # fmt: skip
        units = dict(session.execute(
            select(ProcessUnit.enterprise_id, func.count()).join(Enterprise, Enterprise.id == ProcessUnit.enterprise_id)
            .where(Enterprise.list_id.in_(lists)).group_by(ProcessUnit.enterprise_id)
        ).all())  # fmt: skip
        measures = session.execute(
            select(Measure.enterprise_id, Measure.level, Measure.kind, Measure.percent, Measure.process_unit_id)
            .join(Enterprise, Enterprise.id == Measure.enterprise_id).where(Enterprise.list_id.in_(lists))
        ).all()  # fmt: skip
    by: dict[tuple[int, str], list[Any]] = defaultdict(list)
    for m in measures:
        by[(m.enterprise_id, m.level.value)].append(m)
    info = {e.id: e for e in ents}
    out = []
    for (eid, level), ms in by.items():
        e = info[eid]
        out.append({"bureau": owner[e.list_id], "enterprise_id": eid, "industry": e.industry,
                    "grade": e.grade.value if e.grade else "-", "level": level,
                    **strength(ms, units.get(eid, 0))})  # fmt: skip
    return out


def strength(measures: list[Any], n_units: int) -> dict[str, float]:
    """The production cut (% of the base), the share of lines stopped (%), the transport measures (count)."""
    plant_stop = any(m.kind.value == "stop" and m.process_unit_id is None for m in measures)
    if plant_stop:
        cut, lines = 100.0, 100.0
    else:
        plant_limit = [m.percent or 0.0 for m in measures if m.kind.value == "limit" and m.process_unit_id is None]
        per_unit: dict[int, float] = {}
        for m in measures:
            if m.process_unit_id is None:
                continue
            v = 100.0 if m.kind.value == "stop" else (m.percent or 0.0) if m.kind.value == "limit" else 0.0
            per_unit[m.process_unit_id] = max(per_unit.get(m.process_unit_id, 0.0), v)
        stopped = sum(1 for v in per_unit.values() if v >= 100.0)
        unit_cut = sum(per_unit.values()) / n_units if n_units else 0.0
        cut = max([unit_cut, *plant_limit])
        lines = 100.0 * stopped / n_units if n_units else 0.0
    transport = float(sum(1 for m in measures if m.kind.value in TRANSPORT))
    return {"cut_pct": round(cut, 2), "lines_pct": round(lines, 2), "transport": transport}


def for_reader(session: Session, user: Any) -> View:
    data = rows(session)
    if not data:
        return View([], [], [], {})
    analysis = dom.analyse(dom.frame(data))
    scope = get_scope(session)
    mine = analysis.bureaus
    outliers = analysis.outliers
    if scope is not None and not scope.unrestricted:
        mine = mine[mine["bureau"].isin(scope.readable)]
        outliers = outliers[outliers["bureau"].isin(scope.readable)]
    groups = {tuple(r) for r in mine[dom.KEYS].itertuples(index=False)}
    regional = [r for r in analysis.regional.to_dict("records") if (r["industry"], r["grade"], r["level"]) in groups]
    ids = {int(b) for b in mine["bureau"]}
    with unscoped(session):
        names = dict(session.execute(select(Jurisdiction.id, Jurisdiction.name).where(Jurisdiction.id.in_(ids))).all())
    return View(regional=regional, own=mine.to_dict("records"), outliers=outliers.to_dict("records"), names=names)
