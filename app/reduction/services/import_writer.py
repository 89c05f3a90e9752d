"""Write an import plan set-based: COPY and set-based UPDATE/DELETE on PostgreSQL, executemany on SQLite; the
registry (app/registry) follows by code."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.batch import bulk
from app.reduction.excel import records
from app.reduction.excel.records import ENT_FIELDS, Bundle
from app.reduction.models import ReductionList, StaggeredPeriod
from app.reduction.services.import_plan import Plan
from app.registry import bulk as registry
from app.registry.models import EntityKind, RegistryAction

_JSON_FIELDS = ("machinery", "truck_emissions", "machinery_emissions")

ENT_COLUMNS = ("id", "list_id", "registry_id", *ENT_FIELDS)
UNIT_COLUMNS = ("id", "enterprise_id", "jurisdiction_id", "registry_id", *records.UNIT_FIELDS)
MEASURE_COLUMNS = (
    "enterprise_id",
    "jurisdiction_id",
    "level",
    "process_unit_id",
    "kind",
    "percent",
    "verification",
    "max_stage",
    "basis",
    "note",
)
FACILITY_COLUMNS = (
    "id",
    "enterprise_id",
    "jurisdiction_id",
    "code",
    "name",
    "kind",
    "pollutants",
    "process_unit_id",
    "registry_id",
)
METER_COLUMNS = (
    "enterprise_id",
    "jurisdiction_id",
    "registry_id",
    "number",
    "kind",
    "process_unit_id",
    "control_facility_id",
)
_ENT_JSON = {ENT_FIELDS.index(f) for f in _JSON_FIELDS}
_PG_TYPES = {
    "latitude": "float8",
    "longitude": "float8",
    "so2": "float8",
    "nox": "float8",
    "pm": "float8",
    "vocs": "float8",
    "uses_coal": "bool",
    "uses_oil": "bool",
    "toxic": "bool",
    "ultra_low": "bool",
    "truck_visits_per_day": "int4",
    "operating_days": "int4",
    "jurisdiction_id": "int4",
    "graded_on": "date",
    "machinery": "jsonb",
    "truck_emissions": "jsonb",
    "machinery_emissions": "jsonb",
}


def _db_ent(ent: Sequence[Any]) -> list[Any]:
    row = list(ent)
    for i in _ENT_JSON:
        row[i] = json.dumps(row[i], ensure_ascii=False, sort_keys=True) if row[i] else "{}"
    return row


class Writer:
    """Bulk statements on the session's own connection (inside its transaction)."""

    def __init__(self, session: Session) -> None:
        self.conn = session.connection()
        self.pg = self.conn.dialect.name == "postgresql"
        self.raw = self.conn.connection.driver_connection

    def ids(self, table: str, n: int) -> list[int]:
        if n == 0:
            return []
        cur = self.raw.cursor()
        try:
            if self.pg:
                cur.execute(
                    f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)",  # noqa: S608
                    (n,),
                )
                return [r[0] for r in cur.fetchall()]
            cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608 - fixed table names
            start = cur.fetchone()[0] + 1
            return list(range(start, start + n))
        finally:
            cur.close()

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        cols = ", ".join(columns)
        cur = self.raw.cursor()
        try:
            if self.pg:
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" * len(columns))
                cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)  # noqa: S608
        finally:
            cur.close()

    def delete_in(self, table: str, column: str, ids: Sequence[int]) -> None:
        if not ids:
            return
        cur = self.raw.cursor()
        try:
            if self.pg:
                cur.execute(f"DELETE FROM {table} WHERE {column} = ANY(%s)", (list(ids),))  # noqa: S608
            else:
                for k in range(0, len(ids), 500):
                    chunk = ids[k : k + 500]
                    cur.execute(
                        f"DELETE FROM {table} WHERE {column} IN ({', '.join('?' * len(chunk))})",  # noqa: S608
                        chunk,
                    )
        finally:
            cur.close()

    def update_enterprises(self, rows: list[list[Any]]) -> None:
        """rows: [id, *ENT_FIELDS values] each."""
        if not rows:
            return
        cur = self.raw.cursor()
        try:
            if self.pg:
                columns = list(zip(*rows, strict=True))
                names = ["id", *ENT_FIELDS]
                types = [
                    "int8",
                    *("text" if _PG_TYPES.get(f) in (None, "jsonb", "date") else _PG_TYPES[f] for f in ENT_FIELDS),
                ]
                unnest = ", ".join(f"%s::{tp}[]" for tp in types)
                sets = ", ".join(
                    f"{f} = v.{f}::{_PG_TYPES[f]}" if _PG_TYPES.get(f) in ("jsonb", "date") else f"{f} = v.{f}"
                    for f in ENT_FIELDS
                )
                cur.execute(
                    f"UPDATE enterprise e SET {sets} FROM unnest({unnest}) AS v({', '.join(names)}) "  # noqa: S608
                    "WHERE e.id = v.id",
                    [list(c) for c in columns],
                )
            else:
                sets = ", ".join(f"{f} = ?" for f in ENT_FIELDS)
                cur.executemany(
                    f"UPDATE enterprise SET {sets} WHERE id = ?",  # noqa: S608
                    [[*r[1:], r[0]] for r in rows],
                )
        finally:
            cur.close()


@bulk()
def apply(
    session: Session, lst: ReductionList, p: Plan, *, source: str | None = None, user_id: int | None = None
) -> list[tuple[int, Bundle]]:
    """Write the plan: deletes, updates, then the inserts of new rows (ids allocated up front). Returns the
    written enterprises' ids with their records.

    The registry (app/registry) follows by code: new credit codes, unit and facility codes and meter numbers
    are registered, a changed enterprise gets a `changed` event saying what changed, one the file leaves out
    a `delisted` event naming this version; registry rows are never deleted."""
    w = Writer(session)
    sync = registry.Sync(w, lst.id, source, user_id)
    changed_ids = [s.id for s, _b in p.changed]
    removed_ids = [s.id for s in p.removed]
    changes = registry.changes_of(w, [(s.id, b) for s, b in p.changed], ENT_FIELDS, records.UNIT_FIELDS)
    reg_of_version = registry.registry_ids_of(w, changed_ids + removed_ids)
    for s in p.removed:
        r = reg_of_version[s.id]
        sync.event(r, EntityKind.enterprise, r, RegistryAction.delisted, {"uscc": s.uscc, "name": s.name})
    replaced = changed_ids + removed_ids
    for table in ("meter", "measure", "control_facility", "process_unit"):
        w.delete_in(table, "enterprise_id", replaced)
    moved = [s.id for s, b in p.changed if s.jurisdiction_id != b.ent[-1]]
    periods = _take_periods(session, w, moved, removed_ids)
    w.delete_in("enterprise", "id", removed_ids)
    written = [*(b for _s, b in p.changed), *p.new]
    reg, fresh = sync.enterprises([(b.ent[0], b.ent[-1], b.ent[1]) for b in written])
    for s, _b in p.changed:
        r = reg_of_version[s.id]
        sync.event(r, EntityKind.enterprise, r, RegistryAction.changed, changes[s.id])
    for b in p.new:
        r = reg[b.ent[0]]
        if r in fresh:
            codes = {
                "uscc": b.ent[0], "name": b.ent[1], "units": [u[0] for u in b.units],
                "facilities": [f[0] for f in b.facilities], "meters": [m[0] for m in b.meters],
            }  # fmt: skip
            sync.event(r, EntityKind.enterprise, r, RegistryAction.registered, codes)
        else:  # known to the registry, new on this list
            sync.event(r, EntityKind.enterprise, r, RegistryAction.listed, {"uscc": b.ent[0], "name": b.ent[1]})
    w.update_enterprises([[s.id, *_db_ent(b.ent)] for s, b in p.changed])
    new_ids = w.ids("enterprise", len(p.new))
    w.insert(
        "enterprise",
        ENT_COLUMNS,
        ([i, lst.id, reg[b.ent[0]], *_db_ent(b.ent)] for i, b in zip(new_ids, p.new, strict=True)),
    )
    owners = [*((s.id, b) for s, b in p.changed), *zip(new_ids, p.new, strict=True)]
    _insert_children(w, owners, sync, reg, fresh)
    sync.flush_events()
    if periods:
        jid = {s.id: b.ent[-1] for s, b in p.changed}
        w.insert(
            "staggered_period",
            ("enterprise_id", "jurisdiction_id", "starts_on", "ends_on", "reason"),
            [(e, jid[e], a.isoformat(), z.isoformat(), r) for e, a, z, r in periods],
        )
    session.expire_all()
    return owners


def _take_periods(session: Session, w: Writer, moved: list[int], removed: list[int]) -> list[tuple[Any, ...]]:
    """Staggered periods are not in the file: kept, but re-tied when their enterprise changes jurisdiction."""
    w.delete_in("staggered_period", "enterprise_id", removed)
    if not moved:
        return []
    rows = [
        tuple(r)
        for r in session.execute(
            select(
                StaggeredPeriod.enterprise_id,
                StaggeredPeriod.starts_on,
                StaggeredPeriod.ends_on,
                StaggeredPeriod.reason,
            ).where(StaggeredPeriod.enterprise_id.in_(moved))
        )
    ]
    w.delete_in("staggered_period", "enterprise_id", moved)
    return rows


def _insert_children(
    w: Writer, owners: list[tuple[int, Bundle]], sync: registry.Sync, reg: dict[str, int], fresh: set[int]
) -> None:
    reg_unit = sync.children(
        "registry_unit", "code", ((reg[b.ent[0]], u[0], u[1]) for _e, b in owners for u in b.units), fresh,
        EntityKind.unit,
    )  # fmt: skip
    reg_fac = sync.children(
        "registry_facility", "code", ((reg[b.ent[0]], f[0], f[1]) for _e, b in owners for f in b.facilities),
        fresh, EntityKind.facility,
    )  # fmt: skip
    reg_meter = sync.children(
        "registry_meter", "number", ((reg[b.ent[0]], m[0], m[1]) for _e, b in owners for m in b.meters), fresh,
        EntityKind.meter,
    )  # fmt: skip
    n_units = sum(len(b.units) for _e, b in owners)
    n_fac = sum(len(b.facilities) for _e, b in owners)
    unit_ids = iter(w.ids("process_unit", n_units))
    fac_ids = iter(w.ids("control_facility", n_fac))
    unit_of: dict[tuple[int, str], int] = {}
    fac_of: dict[tuple[int, str], int] = {}
    units, facilities = [], []
    for e, b in owners:
        jid, r = b.ent[-1], reg[b.ent[0]]
        for u in b.units:
            uid = next(unit_ids)
            unit_of[(e, u[0])] = uid
            units.append((uid, e, jid, reg_unit[(r, u[0])], *u))
        for f in b.facilities:
            fid = next(fac_ids)
            fac_of[(e, f[0])] = fid
            facilities.append(
                (fid, e, jid, f[0], f[1], f[2], f[3], unit_of[(e, f[4])] if f[4] else None, reg_fac[(r, f[0])])
            )
    w.insert("process_unit", UNIT_COLUMNS, units)
    del units
    w.insert(
        "measure",
        MEASURE_COLUMNS,
        (
            (e, b.ent[-1], m[0], unit_of[(e, m[1])] if m[1] is not None else None, *m[2:])
            for e, b in owners
            for m in b.measures
        ),
    )
    w.insert("control_facility", FACILITY_COLUMNS, facilities)
    w.insert(
        "meter",
        METER_COLUMNS,
        [
            (
                e,
                b.ent[-1],
                reg_meter[(reg[b.ent[0]], m[0])],
                m[0],
                m[1],
                unit_of[(e, m[2])] if m[2] else None,
                fac_of[(e, m[3])] if m[3] else None,
            )
            for e, b in owners
            for m in b.meters
        ],
    )
