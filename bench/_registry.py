"""Registry entries for the enterprises (and process units) a benchmark writes itself, past the importer.

Every version row carries its registry id (app/registry, 2026-12-07): a benchmark that inserts `enterprise` or
`process_unit` rows registers them first, the way an import does (`app.registry.bulk.Sync`: one SELECT of the
codes already registered, one COPY on PostgreSQL or executemany on SQLite of the new ones), and gives each row
the id it gets here. No history events are written: no benchmark reads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def register(
    session: Any, enterprises: Iterable[tuple[str, int, str]], units: Iterable[tuple[str, str, str]] = ()
) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """Registry ids for (uscc, jurisdiction_id, name) enterprises, by credit code, and for (uscc, code, name)
    process units, by (credit code, unit code); inside the session's transaction (the caller commits)."""
    from app.reduction.services.import_writer import Writer
    from app.registry.bulk import Sync
    from app.registry.models import EntityKind

    sync = Sync(Writer(session), list_id=0, source="bench", user_id=None)
    ids, fresh = sync.enterprises(enterprises)
    units = list(units)
    unit_ids = sync.children(
        "registry_unit", "code", [(ids[u], code, name) for u, code, name in units], fresh, EntityKind.unit
    )
    return ids, {(u, code): unit_ids[(ids[u], code)] for u, code, _name in units}
