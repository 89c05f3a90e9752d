"""Readings in from a user (the upload screen, the bulk API, their background job): the meters the user may write
(registry meters of enterprises in the user's own area, by credit code and number), the rows checked, then one
`store`. The service flushes; the request or the job commits."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd
from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.scoping import get_scope
from app.power.domain import rows
from app.power.store import Stored, store
from app.registry.models import RegisteredEnterprise, RegisteredMeter

USCC_ALIASES = ("uscc", "credit_code", "统一社会信用代码", "信用代码", "社会信用代码")
SEPARATOR = "/"


def writable_meters(session: Session) -> dict[str, int]:
    """`credit code/meter number` → registry_meter.id, for the meters of enterprises the session may write
    (a bureau's own area: a meter of another area reads as unknown, and is named)."""
    scope = get_scope(session)
    found = session.execute(
        select(RegisteredEnterprise.uscc, RegisteredEnterprise.jurisdiction_id, RegisteredMeter.number,
               RegisteredMeter.id)
        .join(RegisteredMeter, RegisteredMeter.registry_enterprise_id == RegisteredEnterprise.id)
    ).all()  # fmt: skip
    return {f"{u}{SEPARATOR}{n}": m for u, j, n, m in found if scope is None or scope.can_write(j)}


def _with_uscc(name: str, raw: pd.DataFrame) -> pd.DataFrame:
    """The meter column as `credit code/number` (meter numbers are unique within an enterprise only)."""
    columns = {str(c).strip().lower().replace(" ", ""): c for c in raw.columns}
    uscc = next((columns[a] for a in USCC_ALIASES if a in columns), None)
    meter = next((columns[a] for a in rows.ALIASES["meter"] if a in columns), None)
    if uscc is None:
        raise rows.RowsError([gettext("%(name)s：缺少「统一社会信用代码」列", name=name)])
    if meter is not None:
        raw = raw.copy()
        code = raw[uscc].astype(str).str.strip().str.upper()
        number = raw[meter].astype(str).str.strip()
        raw[meter] = (code + SEPARATOR + number).where(number != "", "")
    return raw


def parse(session: Session, name: str, content: bytes) -> rows.Batch:
    raw, first_line = rows.read_table(name, content)
    return rows.parse_table(name, _with_uscc(name, raw), first_line, writable_meters(session))


def parse_items(session: Session, items: Any) -> rows.Batch:
    """The bulk API's JSON readings (already decoded)."""
    raw = rows.json_table("readings", items)
    return rows.parse_table("readings", _with_uscc("readings", raw), 1, writable_meters(session))


def ingest(session: Session, name: str, content: bytes, source: str) -> Stored:
    """Check a file's rows and store them; RowsError (nothing kept) when any row is wrong."""
    return store(session, parse(session, name, content), source)


def summary(stored: Stored) -> dict[str, int]:
    return asdict(stored)


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def keep_file(upload_dir: str, suffix: str, content: bytes) -> str:
    """A large batch kept for its background job; the job's parameters name it by this token."""
    folder = Path(upload_dir) / "power"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = secrets.token_urlsafe(16) + suffix
    (folder / token).write_bytes(content)
    return token


def kept_file(upload_dir: str, token: str) -> Path:
    if "/" in token or token.startswith("."):
        raise ValueError("bad token")
    return Path(upload_dir) / "power" / token
