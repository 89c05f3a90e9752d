"""The stored assessment of every enterprise (models.EnterpriseAssessment): the number of flags, their codes
and the expected reductions, computed by the vectorised checks (domain/bulk.py) and written in the same
transaction as every change of an enterprise, its units or its measures:

- `refresh` reads enterprises back from the database (the policy editor and the API after a save, the demo
  and test builders, a new list version's enterprises that lack a current row, `flask inventories load`);
- `store_bundles` takes the importer's parsed records directly (no read-back) and writes with COPY on
  PostgreSQL (binary, built by numpy) or executemany on SQLite, like the importer's own rows.

`rules_version` names the rule library's files and the check code: a deployment that changes either makes
the stored rows outdated, and `flask inventories load` recomputes them (`refresh(..., only_outdated=True)`).
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, String, and_, cast, func, select, type_coerce, update
from sqlalchemy.orm import Session

from app.reduction.domain import bulk
from app.reduction.domain import rules as dr
from app.reduction.domain.vocabulary import LEVELS, POLLUTANTS
from app.reduction.models import Enterprise, EnterpriseAssessment, Measure, ProcessUnit, ReductionList
from app.reduction.services import rule_library

CHECKS_VERSION = "3"  # change with the checks (domain/bulk.py, rules.py): stored rows are recomputed

A = EnterpriseAssessment
REDUCTION_COLUMNS = tuple(f"{lv.value}_{p.value}" for lv in LEVELS for p in POLLUTANTS)
FULL_STOP_COLUMNS = tuple(f"full_stop_{p.value}" for p in POLLUTANTS)
COLUMNS = (
    "enterprise_id", "jurisdiction_id", "list_id", "rules_version", "problems", "codes", "exempt",
    *REDUCTION_COLUMNS, *FULL_STOP_COLUMNS,
)  # fmt: skip
_S = String()


def rules_version(library: dr.RuleLibrary | None = None) -> str:
    """A short digest of the rule library's files and of the checks' version."""
    library = library or rule_library.current()
    text = CHECKS_VERSION + "".join(f"\n{name}={sha}" for name, sha in sorted(library.checksums.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --- reading enterprises back ----------------------------------------------------------------------------


def _json(text: str | None) -> Any:
    """A JSON column read as text: most are "{}", which need no parsing."""
    return json.loads(text) if text and text != "{}" else {}


def _plans(session: Session, jurisdictions: Sequence[int]) -> list[tuple[str, ...]]:
    """The plans covering each enterprise, from its jurisdiction (a few hundred distinct ones in a province)."""
    covering = rule_library.plan_codes(session, jurisdictions)
    return [covering.get(j, ()) for j in jurisdictions]


def _load(session: Session, which: ColumnElement[bool]) -> tuple[np.ndarray, bulk.Plants]:
    """The enterprises matching `which` as plain columns, with three column queries (scoped like every read),
    and their (id, jurisdiction, list) as an (n, 3) array."""
    e, u, m = Enterprise, ProcessUnit, Measure
    rows = session.execute(
        select(
            e.id, e.jurisdiction_id, e.list_id, type_coerce(e.category, _S), type_coerce(e.grade, _S), e.industry,
            e.so2, e.nox, e.pm, e.vocs, e.uses_coal, e.uses_oil, e.toxic, e.truck_visits_per_day,
            e.operating_days, cast(e.machinery, _S), cast(e.truck_emissions, _S), cast(e.machinery_emissions, _S),
        ).where(which).order_by(e.id)
    ).all()  # fmt: skip
    row_of = {r[0]: i for i, r in enumerate(rows)}
    ids = select(e.id).where(which).scalar_subquery()
    units = session.execute(
        select(u.enterprise_id, u.code, u.name, u.share_so2, u.share_nox, u.share_pm, u.share_vocs,
               u.eia_capacity, u.permit_capacity, u.last_year_output, u.capacity_unit, u.outdoor)
        .where(u.enterprise_id.in_(ids))
        .order_by(u.enterprise_id, u.code)  # the order the enterprise page adds them up in
    ).all()  # fmt: skip
    measures = session.execute(
        select(m.enterprise_id, type_coerce(m.level, _S), u.code, type_coerce(m.kind, _S), m.percent,
               type_coerce(m.verification, _S), type_coerce(m.max_stage, _S), type_coerce(m.basis, _S))
        .outerjoin(u, u.id == m.process_unit_id)
        .where(m.enterprise_id.in_(ids))
        .order_by(m.id)
    ).all()  # fmt: skip
    n = len(rows)
    plants = bulk.Plants(
        category=[r[3] for r in rows],
        grade=[r[4] for r in rows],
        industry=[r[5] or "other" for r in rows],
        emissions=np.array([(r[6] or 0.0, r[7] or 0.0, r[8] or 0.0, r[9] or 0.0) for r in rows], float).reshape(n, 4),
        uses_coal=np.array([bool(r[10]) for r in rows], bool),
        uses_oil=np.array([bool(r[11]) for r in rows], bool),
        toxic=np.array([bool(r[12]) for r in rows], bool),
        truck_visits=np.array([r[13] or 0 for r in rows], np.int64),
        operating_days=np.array([r[14] or 365 for r in rows], np.int64),
        machinery=[_json(r[15]) for r in rows],
        truck_emissions=[_json(r[16]) for r in rows],
        machinery_emissions=[_json(r[17]) for r in rows],
        units=[tuple(r[1:]) for r in units],
        unit_owner=np.array([row_of[r[0]] for r in units], np.int64),
        measures=[tuple(r[1:]) for r in measures],
        measure_owner=np.array([row_of[r[0]] for r in measures], np.int64),
        plans=_plans(session, [r[1] for r in rows]),
    )  # fmt: skip
    return np.array([(r[0], r[1], r[2]) for r in rows], np.int64).reshape(n, 3), plants


def refresh(
    session: Session, which: ColumnElement[bool], *, only_outdated: bool = False,
    library: dr.RuleLibrary | None = None,
) -> int:  # fmt: skip
    """Recompute and store the assessment of the enterprises matching `which` (an Enterprise condition); with
    `only_outdated`, of those among them without a row of the current rules version. Returns how many."""
    library = library or rule_library.current()
    version = rules_version(library)
    if only_outdated:
        current = select(A.enterprise_id).where(A.enterprise_id == Enterprise.id, A.rules_version == version)
        which = and_(which, ~current.exists())
    session.flush()
    keys, plants = _load(session, which)
    if len(keys):
        ids, jurisdictions, lists = keys.T
        write(session, ids, jurisdictions, lists, bulk.assess(plants, library), version, replace=ids.tolist())
    return len(keys)


# --- from the importer's records -------------------------------------------------------------------------


def store_bundles(
    session: Session, list_id: int, owners: Sequence[tuple[int, Any]], replace: Sequence[int] = ()
) -> None:
    """The assessment of imported enterprises, from the parsed records (excel/records.Bundle, which start
    their units and measures as bulk.UNIT_LAYOUT and MEASURE_LAYOUT say) as written by the importer:
    `owners` pairs each enterprise id with its record; `replace` names the enterprises that had a row.
    Columns are taken with map and itemgetter (no Python step per enterprise, unit or measure)."""
    from app.reduction.excel.judging import plants_of
    from app.reduction.excel.records import E

    if not owners:
        return
    library = rule_library.current()
    n = len(owners)
    ids = np.fromiter(map(itemgetter(0), owners), np.int64, n)
    bundles = list(map(itemgetter(1), owners))
    plants = plants_of(bundles)
    jurisdictions = np.fromiter((b.ent[E["jurisdiction_id"]] for b in bundles), np.int64, n)
    plants.plans = _plans(session, jurisdictions.tolist())
    assessed = bulk.assess(plants, library)
    write(session, ids, jurisdictions, np.full(n, list_id), assessed, rules_version(library), replace=replace)


# --- writing ---------------------------------------------------------------------------------------------


def write(
    session: Session, ids: np.ndarray, jurisdictions: np.ndarray, list_ids: np.ndarray, assessed: bulk.Assessed,
    version: str, replace: Sequence[int] = (),
) -> None:  # fmt: skip
    """Replace the rows of `replace` and insert one per enterprise (with its jurisdiction and list), in bulk on
    the session's connection (inside its transaction)."""
    conn = session.connection()
    raw = conn.connection.driver_connection
    pg = conn.dialect.name == "postgresql"
    n = len(ids)
    distinct, group = _distinct(assessed.codes)
    codes = [json.dumps(list(c)) for c in distinct]
    numbers = np.concatenate([assessed.reductions.reshape(n, -1), assessed.full_stop], 1)
    cur = raw.cursor()
    try:
        _write_rows(cur, pg, ids, jurisdictions, list_ids, assessed, version, replace, codes, group, numbers)
    finally:
        cur.close()
    recount(session, np.unique(list_ids).tolist())


def _write_rows(
    cur: Any, pg: bool, ids: np.ndarray, jurisdictions: np.ndarray, list_ids: np.ndarray, assessed: bulk.Assessed,
    version: str, replace: Sequence[int], codes: list[str], group: np.ndarray, numbers: np.ndarray,
) -> None:  # fmt: skip
    """Delete the rows of `replace`, then COPY (PostgreSQL) or insert (SQLite) the new ones."""
    n = len(ids)
    if replace:
        if pg:
            cur.execute("DELETE FROM enterprise_assessment WHERE enterprise_id = ANY(%s)", (list(replace),))
        else:
            for k in range(0, len(replace), 500):
                chunk = list(replace[k : k + 500])
                marks = ", ".join("?" * len(chunk))
                cur.execute(f"DELETE FROM enterprise_assessment WHERE enterprise_id IN ({marks})", chunk)  # noqa: S608
    if not n:
        return
    if pg:
        with cur.copy(f"COPY enterprise_assessment ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(_binary(ids, jurisdictions, list_ids, version, assessed, codes, group, numbers))
    else:
        rows = zip(
            ids.tolist(), jurisdictions.tolist(), list_ids.tolist(), [version] * n, assessed.problems.tolist(),
            [codes[g] for g in group.tolist()], assessed.exempt.tolist(), *numbers.T.tolist(), strict=True,
        )  # fmt: skip
        marks = ", ".join("?" * len(COLUMNS))
        cur.executemany(f"INSERT INTO enterprise_assessment ({', '.join(COLUMNS)}) VALUES ({marks})", rows)  # noqa: S608


def recount(session: Session, list_ids: Sequence[int]) -> None:
    """Store each list's flagged enterprises per jurisdiction (ReductionList.flagged), from its assessments,
    and move the list's version on (as lists.touch does): its content changed.

    Called after every write of assessments and after enterprises are removed (their rows go with them), in
    the same transaction: one grouped count per list, against one per view of the list page. The version's
    update comes first and locks the list's row, so that two transactions writing one list count one after
    the other, the second seeing the first's rows. Counts kept per list version (services/enterprises) rely
    on every change of a list's enterprises passing here."""
    for list_id in list_ids:
        session.execute(
            update(ReductionList)
            .where(ReductionList.id == list_id)
            .values(lock_version=ReductionList.lock_version + 1)
            .execution_options(synchronize_session=False)
        )
        counts = session.execute(
            select(A.jurisdiction_id, func.count())
            .where(A.list_id == list_id, A.problems > 0)
            .group_by(A.jurisdiction_id)
            .execution_options(include_all_jurisdictions=True)
        ).all()
        session.execute(
            update(ReductionList)
            .where(ReductionList.id == list_id)
            .values(flagged={str(j): n for j, n in sorted(counts)})
            .execution_options(synchronize_session=False)
        )
        found = session.identity_map.get(session.identity_key(ReductionList, list_id))  # type: ignore[arg-type]
        if found is not None:
            session.expire(found, ["flagged", "lock_version"])


def _distinct(codes: Sequence[tuple[str, ...]]) -> tuple[list[tuple[str, ...]], np.ndarray]:
    found: dict[tuple[str, ...], int] = {}
    group = np.fromiter((found.setdefault(c, len(found)) for c in codes), np.int64, len(codes))
    return list(found), group


_HEADER = b"PGCOPY\n\xff\r\n\0" + struct.pack(">ii", 0, 0)
_TRAILER = struct.pack(">h", -1)


def _binary(
    ids: np.ndarray, jids: np.ndarray, lids: np.ndarray, version: str, assessed: bulk.Assessed,
    codes: list[str], group: np.ndarray, numbers: np.ndarray,
) -> bytes:  # fmt: skip
    """PostgreSQL's binary COPY format for the rows, built with numpy a group of rows at a time (the rows of
    one group share their codes, so every field has a fixed width): no Python work per row."""
    text = version.encode()
    parts = [_HEADER]
    for g, code in enumerate(codes):
        rows = np.flatnonzero(group == g)
        body = b"\x01" + code.encode()  # jsonb's binary form: a version byte, then the text
        fields: list[tuple[str, str]] = [("n", ">i2")]
        for name, kind in (("id", ">i8"), ("jid", ">i4"), ("lid", ">i4"), ("ver", f"S{len(text)}"),
                           ("problems", ">i4"), ("codes", f"S{len(body)}"), ("exempt", "?"),
                           *((f"f{j}", ">f8") for j in range(numbers.shape[1]))):  # fmt: skip
            fields += [(f"{name}_len", ">i4"), (name, kind)]
        out = np.empty(len(rows), dtype=np.dtype(fields))
        out["n"] = len(COLUMNS)
        sizes = {"id": 8, "jid": 4, "lid": 4, "ver": len(text), "problems": 4, "codes": len(body), "exempt": 1}
        for name, size in sizes.items():
            out[f"{name}_len"] = size
        out["id"], out["jid"], out["lid"] = ids[rows], jids[rows], lids[rows]
        out["ver"], out["problems"], out["codes"] = text, assessed.problems[rows], body
        out["exempt"] = assessed.exempt[rows]
        for j in range(numbers.shape[1]):
            out[f"f{j}_len"] = 8
            out[f"f{j}"] = numbers[rows, j]
        parts.append(out.tobytes())
    parts.append(_TRAILER)
    return b"".join(parts)
