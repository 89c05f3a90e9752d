"""The registry kept by bulk writers (the Excel import), set-based: one SELECT of the keys already registered
and one COPY (PostgreSQL) or executemany (SQLite) of the new entries and of the events, however many rows.

`w` is the importer's Writer (its `raw` DB-API connection, `pg`, `ids()` and `insert()`): these functions
run inside the import's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from app.db import utcnow
from app.registry.models import EntityKind, RegistryAction

EVENT_COLUMNS = (
    "registry_enterprise_id",
    "entity",
    "entity_id",
    "action",
    "list_id",
    "source",
    "user_id",
    "at",
    "changes",
)
_CHUNK = 500


def _at(w: Any, value: datetime) -> Any:
    # SQLite holds UTC as naive text, in SQLAlchemy's format (app.db.UtcDateTime)
    return value if w.pg else value.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=_plain)


def _plain(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return getattr(value, "value", str(value))


def select_in(w: Any, sql: str, values: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Rows of `sql` (ending in `WHERE <column>`) for the given values: `= ANY(array)` on PostgreSQL, chunks
    of `IN (…)` on SQLite."""
    if not values:
        return []
    cur = w.raw.cursor()
    try:
        if w.pg:
            cur.execute(f"{sql} = ANY(%s)", (list(values),))
            return [tuple(r) for r in cur.fetchall()]
        out: list[tuple[Any, ...]] = []
        for k in range(0, len(values), _CHUNK):
            chunk = list(values[k : k + _CHUNK])
            cur.execute(f"{sql} IN ({', '.join('?' * len(chunk))})", chunk)
            out += [tuple(r) for r in cur.fetchall()]
        return out
    finally:
        cur.close()


def _executemany(w: Any, sql: str, rows: list[Sequence[Any]]) -> None:
    if not rows:
        return
    cur = w.raw.cursor()
    try:
        cur.executemany(sql.replace("?", "%s") if w.pg else sql, rows)
    finally:
        cur.close()


@dataclass
class Sync:
    """The registry side of one import into one list version."""

    w: Any
    list_id: int
    source: str | None
    user_id: int | None
    at: datetime = field(default_factory=utcnow)
    events: list[tuple[Any, ...]] = field(default_factory=list)

    def event(self, reg_id: int, kind: EntityKind, entity_id: int, action: RegistryAction, changes: Any) -> None:
        self.events.append(
            (reg_id, kind.value, entity_id, action.value, self.list_id, self.source, self.user_id,
             _at(self.w, self.at), _json(changes))
        )  # fmt: skip

    def enterprises(self, rows: Iterable[tuple[str, int, str]]) -> tuple[dict[str, int], set[int]]:
        """Registry ids by credit code for (uscc, jurisdiction_id, name) rows, registering the codes not yet
        known, and moving a known one's name and jurisdiction to the listing's. Returns the ids and the set of
        those registered now."""
        wanted = {u: (j, n) for u, j, n in rows}
        known = select_in(
            self.w, "SELECT uscc, id, jurisdiction_id, name FROM registry_enterprise WHERE uscc", list(wanted)
        )
        out = {r[0]: r[1] for r in known}
        moved = [(j, n, r[1]) for r in known for j, n in [wanted[r[0]]] if (r[2], r[3]) != (j, n)]
        _executemany(self.w, "UPDATE registry_enterprise SET jurisdiction_id = ?, name = ? WHERE id = ?", moved)
        missing = [u for u in wanted if u not in out]
        ids = self.w.ids("registry_enterprise", len(missing))
        created = _at(self.w, self.at)
        self.w.insert(
            "registry_enterprise",
            ("id", "uscc", "jurisdiction_id", "name", "created_at"),
            [(i, u, wanted[u][0], wanted[u][1], created) for i, u in zip(ids, missing, strict=True)],
        )
        out.update(zip(missing, ids, strict=True))
        return out, set(ids)

    def children(
        self, table: str, key: str, rows: Iterable[tuple[int, str, Any]], fresh: set[int], kind: EntityKind
    ) -> dict[tuple[int, str], int]:
        """Registry ids by (registry enterprise, code) for (registry enterprise id, code, name or meter kind)
        rows, registering the new codes; a code new under an enterprise registered before gets its own
        `registered` event (those of an enterprise registered now are named in the enterprise's), a known one
        whose name (kind) the file changes a `changed` event."""
        wanted = {(r, c): v for r, c, v in rows}
        old_owners = sorted({r for r, _c in wanted if r not in fresh})
        extra = "name" if table != "registry_meter" else "kind"
        known = select_in(
            self.w,
            f"SELECT registry_enterprise_id, {key}, id, {extra} FROM {table} WHERE registry_enterprise_id",  # noqa: S608
            old_owners,
        )
        out = {(r[0], r[1]): r[2] for r in known}
        renamed = [(r, c, i, old, wanted[(r, c)]) for r, c, i, old in known if wanted.get((r, c), old) != old]
        update = f"UPDATE {table} SET {extra} = ? WHERE id = ?"  # noqa: S608
        _executemany(self.w, update, [(new, i) for _r, _c, i, _old, new in renamed])
        for r, c, i, old, new in renamed:  # as the editors' flush hook words it: the code, and what changed
            self.event(r, kind, i, RegistryAction.changed, {key: c, extra: [old, new]})
        missing = [k for k in wanted if k not in out]
        ids = self.w.ids(table, len(missing))
        created = _at(self.w, self.at)
        self.w.insert(
            table,
            ("id", "registry_enterprise_id", key, extra, "created_at"),
            [(i, r, c, wanted[(r, c)], created) for i, (r, c) in zip(ids, missing, strict=True)],
        )
        for i, (r, c) in zip(ids, missing, strict=True):
            if r not in fresh:
                self.event(r, kind, i, RegistryAction.registered, {key: c})
        out.update(zip(missing, ids, strict=True))
        return out

    def flush_events(self) -> None:
        self.w.insert("registry_event", EVENT_COLUMNS, self.events)
        self.events = []


def registry_ids_of(w: Any, enterprise_ids: Sequence[int]) -> dict[int, int]:
    """Version enterprise id → registry id."""
    return dict(select_in(w, "SELECT id, registry_id FROM enterprise WHERE id", list(enterprise_ids)))


def diff_rows(old: Iterable[Sequence[Any]], new: Iterable[Sequence[Any]]) -> dict[str, list[str]]:
    """Added, removed and changed codes between two sets of child rows keyed by their first value."""
    before = {r[0]: tuple(r) for r in old}
    after = {r[0]: tuple(r) for r in new}
    out = {
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "changed": sorted(c for c in set(before) & set(after) if before[c] != after[c]),
    }
    return {k: v for k, v in out.items() if v}


def normal(value: Any) -> Any:
    """A stored value as the parser gives it (dates as ISO text, enums as values)."""
    if isinstance(value, date):
        return value.isoformat()
    return getattr(value, "value", value)


_JSON_FIELDS = {"machinery", "truck_emissions", "machinery_emissions"}


def changes_of(
    w: Any,
    changed: Sequence[tuple[int, Any]],
    ent_fields: Sequence[str],
    unit_fields: Sequence[str],
) -> dict[int, dict[str, Any]]:
    """What an import changes of each enterprise it rewrites, read before the rewrite: its fields
    (field → [before, after]) and its units', facilities' and meters' codes (added, removed, changed).
    `changed` holds (version enterprise id, the file's record) pairs."""
    ids = [e for e, _b in changed]
    old_ent = {
        r[0]: r[1:]
        for r in select_in(w, f"SELECT id, {', '.join(ent_fields)} FROM enterprise WHERE id", ids)  # noqa: S608
    }
    children: dict[str, dict[int, list[tuple[Any, ...]]]] = {}
    for name, sql in (
        ("units", f"SELECT enterprise_id, {', '.join(unit_fields)} FROM process_unit WHERE enterprise_id"),  # noqa: S608
        ("facilities", "SELECT enterprise_id, code, name, kind, pollutants FROM control_facility WHERE enterprise_id"),
        ("meters", "SELECT enterprise_id, number, kind FROM meter WHERE enterprise_id"),
    ):
        rows: dict[int, list[tuple[Any, ...]]] = {}
        for r in select_in(w, sql, ids):
            rows.setdefault(r[0], []).append(tuple(normal(v) for v in r[1:]))
        children[name] = rows
    out: dict[int, dict[str, Any]] = {}
    for e, b in changed:
        changes: dict[str, Any] = {}
        before = old_ent.get(e, ())
        for f, old, new in zip(ent_fields, before, b.ent, strict=False):
            old = normal(old)
            if f in _JSON_FIELDS and isinstance(old, str):
                old = json.loads(old or "{}")
            if f in _JSON_FIELDS:
                old, new = old or {}, new or {}
            if old != new:
                changes[f] = [old, normal(new)]
        new_children = {
            "units": b.units,
            "facilities": [f[:4] for f in b.facilities],
            "meters": [m[:2] for m in b.meters],
        }
        for name, rows in new_children.items():
            d = diff_rows(children[name].get(e, []), rows)
            if d:
                changes[name] = d
        if not changes:  # the plan found it changed: what is left is its measures
            changes["measures"] = "changed"
        out[e] = changes
    return out
