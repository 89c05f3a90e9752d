"""Plans in the database: loading them from inventories/plans (idempotent) and asking which plans cover a place.

The one place that answers "which plans, zones and rules apply here": cases read their time limits, the
reduction lists their submission deadline, the alerts their rules through these functions. Nothing is cached
beyond the session (a request, a CLI run), so no worker serves plans older than the last `flask inventories
load`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.places.models import Jurisdiction, LinkageZone, ZoneMember, path_codes
from app.plans.models import Plan
from app.plans.schema import Rules

if TYPE_CHECKING:
    from app.places.services import LoadReport
    from app.plans.inventory import PlanRow


def load(session: Session, rows: Iterable[PlanRow], by_code: dict[str, Jurisdiction], report: LoadReport) -> None:
    """Bring the plans, their zones and members and their rules in line with the files."""
    for row in rows:
        plan = session.scalars(select(Plan).where(Plan.code == row.code)).first()
        values = {"name": row.name, "source": row.source, "list_deadline": row.list_deadline,
                  "case_limits": row.case_limits, "rules": row.rules.to_dict() or None}  # fmt: skip
        if plan is None:
            plan = Plan(code=row.code, **values)
            session.add(plan)
            session.flush()
            report.count("added", "plan")
        elif any(getattr(plan, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(plan, k, v)
            report.count("changed", "plan")
        zones = {z.code: z for z in plan.zones}
        for order, zrow in enumerate(row.zones):
            zone = zones.pop(zrow.code, None)
            if zone is None:
                zone = LinkageZone(plan_id=plan.id, code=zrow.code, name=zrow.name, ordering=order)
                session.add(zone)
                session.flush()
                report.count("added", "linkage_zone")
            elif (zone.name, zone.ordering) != (zrow.name, order):
                zone.name, zone.ordering = zrow.name, order
                report.count("changed", "linkage_zone")
            wanted = {by_code[c].id for c in zrow.members}
            have = {m.jurisdiction_id: m for m in zone.members}
            for jid in sorted(set(have) - wanted):
                zone.members.remove(have[jid])
                report.count("removed", "zone_member")
            session.flush()
            for jid in sorted(wanted - set(have)):
                session.add(ZoneMember(zone_id=zone.id, plan_id=plan.id, jurisdiction_id=jid))
                report.count("added", "zone_member")
            session.flush()
        for zone in zones.values():
            session.delete(zone)
            report.count("removed", "linkage_zone")
        session.flush()


# --- queries -----------------------------------------------------------------------------------------------


def by_code(session: Session, code: str) -> Plan | None:
    return session.scalars(select(Plan).where(Plan.code == code)).first()


def rules_of(plan: Plan) -> Rules:
    return Rules.from_dict(plan.rules)


def covering(session: Session, path: str) -> list[Plan]:
    """The plans whose zones hold the place or one of its ancestors (its materialised path of codes,
    "/510000/511000/511011/"): a Sichuan county is covered through its prefecture city, a Chongqing district
    itself. Ordered by name; kept for the session."""
    memo: dict[str, list[Plan]] = session.info.setdefault("plans_covering", {})
    if path not in memo:
        codes = path_codes(path)
        memo[path] = list(session.scalars(
            select(Plan).distinct()
            .join(ZoneMember, ZoneMember.plan_id == Plan.id)
            .join(Jurisdiction, Jurisdiction.id == ZoneMember.jurisdiction_id)
            .where(Jurisdiction.code.in_(codes))
            .order_by(Plan.name)
        )) if codes else []  # fmt: skip
    return memo[path]


def member_plans(session: Session) -> dict[str, list[Plan]]:
    """Member unit code → the plans it is a member of (every plan, one statement)."""
    found: dict[str, list[Plan]] = {}
    for code, plan in session.execute(
        select(Jurisdiction.code, Plan)
        .join(ZoneMember, ZoneMember.jurisdiction_id == Jurisdiction.id)
        .join(Plan, Plan.id == ZoneMember.plan_id)
        .order_by(Plan.name)
    ):
        found.setdefault(code, []).append(plan)
    return found


def zones_by_member(session: Session) -> dict[str, list[dict[str, str]]]:
    """For each member unit's code, the plans and zones it belongs to."""
    rows = session.execute(
        select(Jurisdiction.code, Plan.code, LinkageZone.code, LinkageZone.name)
        .join(ZoneMember, ZoneMember.jurisdiction_id == Jurisdiction.id)
        .join(LinkageZone, LinkageZone.id == ZoneMember.zone_id)
        .join(Plan, Plan.id == LinkageZone.plan_id)
    ).all()
    result: dict[str, list[dict[str, str]]] = {}
    for code, plan, zone, zone_name in rows:
        result.setdefault(code, []).append({"plan": plan, "zone": zone, "zone_name": zone_name})
    return result


def all_plans(session: Session) -> list[Plan]:
    return list(session.scalars(select(Plan).order_by(Plan.code)))


@dataclass(frozen=True)
class PlanGeography:
    """What the alert evaluation needs of a plan's places: zones with their members, names, adjacency."""

    zones: dict[str, tuple[str, ...]]  # zone code → member unit codes
    zone_names: dict[str, str]
    names: dict[str, str]  # unit code → short name
    edges: frozenset[tuple[str, str]]


def geography(session: Session, plan: Plan) -> PlanGeography:
    """The plan's zones and members, and the adjacency among its members (from the places graph)."""
    from app.places.queries import edges_by_code

    zones: dict[str, tuple[str, ...]] = {}
    zone_names: dict[str, str] = {}
    names: dict[str, str] = {}
    for zone in plan.zones:
        members = session.execute(
            select(Jurisdiction.code, Jurisdiction.short_name)
            .join(ZoneMember, ZoneMember.jurisdiction_id == Jurisdiction.id)
            .where(ZoneMember.zone_id == zone.id)
            .order_by(Jurisdiction.code)
        ).all()
        zones[zone.code] = tuple(c for c, _ in members)
        zone_names[zone.code] = zone.name
        names.update(dict(members))
    edges = frozenset((a, b) for a, b in edges_by_code(session) if a in names and b in names)
    return PlanGeography(zones, zone_names, names, edges)


def case_limit_tables(session: Session, path: str) -> list[tuple[str, dict[str, Any] | None]]:
    """(plan name, case limits) of the plans covering the place that set limits."""
    return [(p.name, p.case_limits) for p in covering(session, path) if p.case_limits is not None]
