"""What an import would change: the stored list content (by credit code) compared with the validated file."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ARRAY, BigInteger, String, any_, cast, func, select, type_coerce
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import Session

from app.reduction.excel import records
from app.reduction.excel.records import ENT_FIELDS, Bundle, Parsed
from app.reduction.excel.snapshot import Validated
from app.reduction.models import ControlFacility, Enterprise, Measure, Meter, ProcessUnit, ReductionList


def list_stamp(session: Session, list_id: int, *, lock: bool = False) -> tuple[int, int, int]:
    """What says the list's content may have changed: its lock_version (moved by every edit through the
    services) and its latest audit entry (imports, lifecycle steps), read from the database, not the
    session. With `lock` the list's row is locked until the transaction ends (SELECT … FOR UPDATE on
    PostgreSQL; SQLite's writers are serialised by BEGIN IMMEDIATE), so no edit can slip in between the
    comparison and the writes."""
    from app.audit.models import AuditEntry

    query = select(ReductionList.lock_version).where(ReductionList.id == list_id)
    version = session.execute(query.with_for_update() if lock else query).scalar_one()
    # audit_entry is not scoped: a plain Core query on the session's connection
    seq = session.connection().scalar(
        select(func.max(AuditEntry.seq)).where(
            AuditEntry.object_type == ReductionList.__tablename__, AuditEntry.object_id == str(list_id)
        )
    )
    return (list_id, version, seq or 0)


def canon_bundle(
    ent: Sequence[Any],
    units: Iterable[Sequence[Any]],
    measures: Iterable[Sequence[Any]],
    facilities: Iterable[Sequence[Any]],
    meters: Iterable[Sequence[Any]],
) -> tuple[Any, ...]:
    """The comparable form of an enterprise and its children: the values as the importer writes them (dates
    as ISO text, enums as their values: `stored_content` reads the database so), each kind of child as a
    multiset, as the order of rows means nothing. Compared with ==, so the JSON fields' dicts compare by
    content and a count of 2 equals 2.0."""
    return (
        tuple(ent),
        Counter(map(tuple, units)),
        Counter(map(tuple, measures)),
        Counter(map(tuple, facilities)),
        Counter(map(tuple, meters)),
    )


@dataclass
class Stored:
    id: int
    uscc: str
    name: str
    jurisdiction_id: int
    canon: tuple[Any, ...] | None = None


def _of_list(session: Session, list_id: int) -> Any:
    """A condition on a child table's enterprise_id: the enterprise is on the list.

    PostgreSQL gets `= ANY(<the list's ids as one array>)`, computed once: right after a bulk import the
    tables have no statistics yet, and for a join the planner then picks a nested loop that re-reads the
    whole jurisdiction index (added by the scope) once per enterprise: minutes for a list that takes a
    second this way."""
    if session.connection().dialect.name == "postgresql":
        agg = select(func.array_agg(Enterprise.id)).where(Enterprise.list_id == list_id).scalar_subquery()
        ids = cast(agg, ARRAY(BigInteger))  # an array expression, not ANY(subquery)
        return lambda column: column == any_(ids)
    ids = select(Enterprise.id).where(Enterprise.list_id == list_id)
    return lambda column: column.in_(ids)


_GRADED_ON = ENT_FIELDS.index("graded_on")


def _as_text(column: Any) -> Any:
    """Enum columns as the plain text they hold (what the parser produces), without building members."""
    return type_coerce(column, String) if isinstance(column.type, SAEnum) else column


def stored_content(session: Session, list_id: int, wanted: set[str]) -> dict[str, Stored]:
    """The list's enterprises by credit code; the full comparable form only for those in `wanted`."""
    cols = [_as_text(getattr(Enterprise, f)) for f in ENT_FIELDS]
    rows = session.execute(select(Enterprise.id, *cols).where(Enterprise.list_id == list_id)).all()
    out: dict[str, Stored] = {}
    full: dict[int, tuple[Any, ...]] = {}
    for r in rows:
        uscc = r[1]
        out[uscc] = Stored(r[0], uscc, r[2], r[-1])
        if uscc in wanted:
            values = list(r[1:])
            if (graded := values[_GRADED_ON]) is not None and not isinstance(graded, str):
                values[_GRADED_ON] = graded.isoformat()
            full[r[0]] = tuple(values)
    if not full:
        return out
    units: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    codes: dict[int, str] = {}
    on_list = _of_list(session, list_id)
    ucols = [getattr(ProcessUnit, f) for f in records.UNIT_FIELDS]
    for r in session.execute(
        select(ProcessUnit.enterprise_id, ProcessUnit.id, *ucols).where(on_list(ProcessUnit.enterprise_id))
    ):
        codes[r[1]] = r[2]
        if r[0] in full:
            units[r[0]].append(tuple(r[2:]))
    measures: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for r in session.execute(
        select(
            Measure.enterprise_id,
            _as_text(Measure.level),
            Measure.process_unit_id,
            _as_text(Measure.kind),
            Measure.percent,
            _as_text(Measure.verification),
            _as_text(Measure.max_stage),
            _as_text(Measure.basis),
            Measure.note,
        ).where(on_list(Measure.enterprise_id))
    ):
        if r[0] in full:
            measures[r[0]].append((r[1], codes.get(r[2]) if r[2] else None, *r[3:]))
    facilities: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    fcodes: dict[int, str] = {}
    for r in session.execute(
        select(
            ControlFacility.enterprise_id,
            ControlFacility.id,
            ControlFacility.code,
            ControlFacility.name,
            ControlFacility.kind,
            ControlFacility.pollutants,
            ControlFacility.process_unit_id,
        ).where(on_list(ControlFacility.enterprise_id))
    ):
        fcodes[r[1]] = r[2]
        if r[0] in full:
            facilities[r[0]].append((r[2], r[3], r[4], r[5], codes.get(r[6]) if r[6] else None))
    meters: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for r in session.execute(
        select(
            Meter.enterprise_id,
            Meter.number,
            _as_text(Meter.kind),
            Meter.process_unit_id,
            Meter.control_facility_id,
        ).where(on_list(Meter.enterprise_id))
    ):
        if r[0] in full:
            meters[r[0]].append((r[1], r[2], codes.get(r[3]) if r[3] else None, fcodes.get(r[4]) if r[4] else None))
    for stored in out.values():
        if stored.id in full:
            i = stored.id
            stored.canon = canon_bundle(full[i], units[i], measures[i], facilities[i], meters[i])
    return out


@dataclass
class Plan:
    new: list[Bundle] = field(default_factory=list)
    changed: list[tuple[Stored, Bundle]] = field(default_factory=list)
    unchanged: int = 0
    removed: list[Stored] = field(default_factory=list)

    @property
    def writes(self) -> bool:
        return bool(self.new or self.changed or self.removed)

    def dump(self, bundles: list[Bundle]) -> tuple[Any, ...]:
        """Plain data for the preview's snapshot: bundles by their position in the parsed file."""
        at = {id(b): i for i, b in enumerate(bundles)}
        return (
            [at[id(b)] for b in self.new],
            [(s.id, s.uscc, s.name, s.jurisdiction_id, at[id(b)]) for s, b in self.changed],
            self.unchanged,
            [(s.id, s.uscc, s.name, s.jurisdiction_id) for s in self.removed],
        )

    @classmethod
    def load(cls, data: tuple[Any, ...], bundles: list[Bundle]) -> Plan:
        new, changed, unchanged, removed = data
        return cls(
            [bundles[i] for i in new],
            [(Stored(*c[:4]), bundles[c[4]]) for c in changed],
            unchanged,
            [Stored(*r) for r in removed],
        )


def plan(session: Session, lst: ReductionList | None, parsed: Parsed) -> Plan:
    result = Plan()
    if lst is None:
        result.new = list(parsed.bundles)
        return result
    in_file = {b.ent[0] for b in parsed.bundles}
    stored = stored_content(session, lst.id, in_file)
    for b in parsed.bundles:
        old = stored.get(b.ent[0])
        if old is None:
            result.new.append(b)
        elif old.canon == canon_bundle(b.ent, b.units, b.measures, b.facilities, b.meters):
            result.unchanged += 1
        else:
            result.changed.append((old, b))
    result.removed = [s for u, s in stored.items() if u not in in_file]
    return result


def stored_plan(v: Validated, stamp: tuple[int, int, int]) -> Plan | None:
    """The comparison stored with the snapshot, only if the list has not changed since (same list, same stamp)."""
    if v.plan is None or v.stamp != stamp:
        return None
    return Plan.load(v.plan, v.parsed.bundles)
