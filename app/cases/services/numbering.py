"""Gap-free yearly serial numbers (case numbers XS-2026-500153-00001, transfer forms YJ-2026-500153-0001).

The counter row is taken with an UPDATE (a row lock on PostgreSQL, the write lock on SQLite), so two
transactions never get the same number and a rolled-back one gives its number back.
"""

from __future__ import annotations

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.cases.models import SerialCounter

T = SerialCounter.__table__


def next_serial(session: Session, prefix: str, scope_code: str, year: int) -> int:
    where = (T.c.prefix == prefix) & (T.c.scope_code == scope_code) & (T.c.year == year)
    row = session.execute(update(T).where(where).values(value=T.c.value + 1).returning(T.c.value)).first()
    if row is not None:
        return int(row.value)
    # First number of the year for this scope: a concurrent first insert loses on the primary key and
    # retries as an update.
    nested = session.begin_nested()
    try:
        session.execute(insert(T).values(prefix=prefix, scope_code=scope_code, year=year, value=1))
        nested.commit()
        return 1
    except IntegrityError:
        nested.rollback()
        row = session.execute(update(T).where(where).values(value=T.c.value + 1).returning(T.c.value)).one()
        return int(row.value)


def case_number(session: Session, jurisdiction_code: str, year: int) -> str:
    return f"XS-{year}-{jurisdiction_code}-{next_serial(session, 'XS', jurisdiction_code, year):05d}"


def transfer_number(session: Session, jurisdiction_code: str, year: int) -> str:
    return f"YJ-{year}-{jurisdiction_code}-{next_serial(session, 'YJ', jurisdiction_code, year):04d}"
