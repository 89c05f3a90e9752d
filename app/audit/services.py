"""Recording audit entries in the caller's transaction, and verifying the chain.

`record()` queues an entry on the session; the entries are chained and inserted just before the session
commits, after every other write, so the chain head is locked only for the last instant of a transaction.
A rollback drops them with everything else.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app, g, has_app_context, has_request_context, request
from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry, AuditHead, Outcome
from app.db import utcnow

GENESIS = "0" * 64
PENDING = "audit_pending"
HASHED_FIELDS = (
    "seq", "at", "user_id", "username", "bureau_id", "ip", "action", "object_type", "object_id", "outcome",
    "before", "after", "detail",
)  # fmt: skip


def _plain(value: Any) -> Any:
    """JSON-safe and stable across backends: what is hashed is what is read back."""
    if value is None:
        return None
    return json.loads(json.dumps(value, default=_default, ensure_ascii=False))


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(str(v) for v in value)
    return str(value)


def record(
    session: Session,
    action: str,
    *,
    obj: Any = None,
    object_type: str | None = None,
    object_id: Any = None,
    outcome: Outcome = Outcome.success,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
    user: Any = None,
) -> None:
    """Queue an audit entry; it is written when (and only if) the session commits."""
    if obj is not None:
        object_type = object_type or obj.__tablename__
        object_id = object_id if object_id is not None else getattr(obj, "id", None)
    actor = user if user is not None else (g.get("user") if has_app_context() else None)
    token = g.get("api_token") if has_app_context() else None
    if token is not None:
        detail = {**(detail or {}), "api_token": token.prefix}
    entry = {
        "at": utcnow(),
        "user_id": getattr(actor, "id", None),
        "username": getattr(actor, "username", None),
        "bureau_id": getattr(actor, "bureau_id", None),
        "ip": request.remote_addr if has_request_context() else "cli",
        "action": action,
        "object_type": object_type,
        "object_id": None if object_id is None else str(object_id),
        "outcome": Outcome(outcome),
        "before": _plain(before),
        "after": _plain(after),
        "detail": _plain(detail),
    }
    session.info.setdefault(PENDING, []).append(entry)
    if has_app_context():
        session.info["audit_key"] = current_app.config["AUDIT_KEY"]


def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that changed, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def entry_hash(key: str, prev_hash: str, fields: dict[str, Any]) -> str:
    payload = {name: fields[name] for name in HASHED_FIELDS}
    payload["at"] = fields["at"].isoformat()
    payload["outcome"] = str(fields["outcome"])
    message = prev_hash + json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    pending: list[dict[str, Any]] = session.info.pop(PENDING, [])
    if not pending:
        return
    key = session.info.get("audit_key") or current_app.config["AUDIT_KEY"]
    session.flush()
    # Taking the head row's write lock first orders concurrent transactions on the chain.
    head_table = AuditHead.__table__
    row = session.execute(
        update(head_table)
        .where(head_table.c.id == 1)
        .values(seq=head_table.c.seq + len(pending))
        .returning(head_table.c.seq, head_table.c.last_hash)
    ).first()
    if row is None:
        session.execute(insert(head_table).values(id=1, seq=len(pending), last_hash=GENESIS))
        seq, prev = 0, GENESIS
    else:
        seq, prev = row.seq - len(pending), row.last_hash
    rows = []
    for entry in pending:
        seq += 1
        fields = {**entry, "seq": seq}
        fields["hash"] = entry_hash(key, prev, fields)
        fields["prev_hash"] = prev
        prev = fields["hash"]
        rows.append(fields)
    session.execute(insert(AuditEntry.__table__), rows)
    session.execute(update(head_table).where(head_table.c.id == 1).values(last_hash=prev))


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(PENDING, None)


@dataclass
class Problem:
    seq: int | None
    message: str


def verify(session: Session, key: str, batch: int = 5000) -> tuple[int, list[Problem]]:
    """Walk the chain in order; return the number of entries checked and every problem found."""
    problems: list[Problem] = []
    prev, expected_seq, count = GENESIS, 1, 0
    for entry in _iter_entries(session, batch):
        count += 1
        if entry.seq != expected_seq:
            problems.append(Problem(entry.seq, f"entries {expected_seq}–{entry.seq - 1} are missing"))
        fields = {name: getattr(entry, name) for name in HASHED_FIELDS}
        if entry.prev_hash != prev:
            problems.append(Problem(entry.seq, "link to the previous entry is broken"))
        if not hmac.compare_digest(entry_hash(key, entry.prev_hash, fields), entry.hash):
            problems.append(Problem(entry.seq, "entry content does not match its hash (edited)"))
        prev, expected_seq = entry.hash, entry.seq + 1
    head = session.get(AuditHead, 1, populate_existing=True)
    if head is not None and (head.seq != expected_seq - 1 or head.last_hash != prev):
        problems.append(Problem(head.seq, f"the chain ends at {expected_seq - 1} but its head says {head.seq}"))
    if head is None and count:
        problems.append(Problem(None, "the chain head is missing"))
    return count, problems


def _iter_entries(session: Session, batch: int) -> Iterator[AuditEntry]:
    last = 0
    while True:
        rows = session.scalars(
            # populate_existing: verification reads what is stored, never what the session cached.
            select(AuditEntry)
            .where(AuditEntry.seq > last)
            .order_by(AuditEntry.seq)
            .limit(batch)
            .execution_options(populate_existing=True)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
