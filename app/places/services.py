"""Loading the place inventories into the database (idempotent) and reading the graph back."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.services import record
from app.core.memo import INVENTORY_VERSION
from app.db import utcnow
from app.places import inventory
from app.places.models import Adjacency, InventoryFile, Jurisdiction, JurisdictionLevel
from app.plans import services as plans


@dataclass
class LoadReport:
    added: dict[str, int] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)

    def count(self, kind: str, what: str, n: int = 1) -> None:
        bucket = getattr(self, kind)
        bucket[what] = bucket.get(what, 0) + n

    @property
    def changes(self) -> int:
        return sum(self.added.values()) + sum(self.changed.values()) + sum(self.removed.values())


def load(session: Session, root: Path) -> LoadReport:
    """Bring the database in line with the files. Rows that other data may reference are never deleted:
    a jurisdiction missing from the file is reported and kept."""
    data = inventory.read(root)
    report = LoadReport()
    by_code = _load_jurisdictions(session, data, report)
    _load_adjacency(session, data, by_code, report)
    plans.load(session, data.plans, by_code, report)
    _load_checksums(session, data)
    _store_version(session, root)
    if report.changes:
        record(
            session, "inventory.load", object_type="inventory", object_id="places",
            after={"added": report.added, "changed": report.changed, "removed": report.removed},
        )  # fmt: skip
    return report


def _load_jurisdictions(session: Session, data: inventory.Places, report: LoadReport) -> dict[str, Jurisdiction]:
    existing = {j.code: j for j in session.scalars(select(Jurisdiction))}
    # Parents before children, so that parent ids exist when children are written.
    ordered = sorted(data.places.values(), key=lambda p: data.path_of(p.code).count("/"))
    for row in ordered:
        values = {
            "name": row.name,
            "short_name": row.short_name,
            "level": JurisdictionLevel(row.level),
            "kind": row.kind,
            "official": row.official,
            "parent_id": existing[row.parent_code].id if row.parent_code else None,
            "path": data.path_of(row.code),
        }
        current = existing.get(row.code)
        if current is None:
            current = Jurisdiction(code=row.code, **values)
            session.add(current)
            session.flush()
            existing[row.code] = current
            report.count("added", "jurisdiction")
        elif any(getattr(current, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(current, k, v)
            report.count("changed", "jurisdiction")
    for code in sorted(set(existing) - set(data.places)):
        report.kept.append(f"jurisdiction {code} {existing[code].name} is no longer in the file; kept")
    session.flush()
    return existing


def _load_adjacency(
    session: Session, data: inventory.Places, by_code: dict[str, Jurisdiction], report: LoadReport
) -> None:
    wanted = set()
    for a, b in data.edges:
        ia, ib = by_code[a].id, by_code[b].id
        wanted.add((min(ia, ib), max(ia, ib)))
    current = {(r.a_id, r.b_id): r for r in session.scalars(select(Adjacency))}
    for pair in sorted(wanted - set(current)):
        session.add(Adjacency(a_id=pair[0], b_id=pair[1]))
        report.count("added", "adjacency")
    for pair in sorted(set(current) - wanted):
        session.delete(current[pair])
        report.count("removed", "adjacency")
    session.flush()


def inventory_digest(root: Path) -> str:
    """A digest of every inventory file (places, plans, measure rules, staggered schedules)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _store_version(session: Session, root: Path) -> None:
    """The inventory version that workers key what they parse from the files by (app/core/memo.py): each
    load whose files differ bumps it, and every worker reads the files again at its next request."""
    version = inventory_digest(root)
    row = session.get(InventoryFile, INVENTORY_VERSION)
    if row is None:
        session.add(InventoryFile(name=INVENTORY_VERSION, sha256=version, source=str(root)[:2000]))
    elif row.sha256 != version:
        row.sha256, row.loaded_at = version, utcnow()


def _load_checksums(session: Session, data: inventory.Places) -> None:
    for name, sha in data.checksums.items():
        row = session.get(InventoryFile, name)
        source = data.adjacency_source[:2000] if name.endswith("adjacency.yaml") else None
        if row is None:
            session.add(InventoryFile(name=name, sha256=sha, source=source))
        elif row.sha256 != sha:
            row.sha256, row.source = sha, source


# --- reading ---------------------------------------------------------------------------------------------
