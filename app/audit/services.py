"""Recording audit entries in the caller's transaction, and verifying the chain.

`record()` queues an entry on the session; the entries are chained and inserted just before the session
commits, after every other write, so the chain head is locked only for the last instant of a transaction.
A rollback drops them with everything else.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app, g, has_app_context, has_request_context, request
from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import Session

from app.audit import anchor
from app.audit.models import AuditEntry, AuditHead, Outcome
from app.db import utcnow

log = logging.getLogger(__name__)

GENESIS = "0" * 64
PENDING = "audit_pending"
ANCHOR_FILE = "audit_anchor_file"  # session.info: where the head is anchored (anchor.py), from the config
ANCHOR_NEXT = "audit_anchor_next"  # session.info: the head this commit makes, anchored once it is committed
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
        session.info[ANCHOR_FILE] = current_app.config.get("AUDIT_ANCHOR_FILE") or None


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
    if session.info.get(ANCHOR_FILE):
        session.info[ANCHOR_NEXT] = (key, seq, prev)


@event.listens_for(Session, "after_commit")
def _anchor_head(session: Session) -> None:
    """The committed head, appended to the anchor file (anchor.py). After the commit: an anchor is never
    ahead of what the database holds."""
    pending = session.info.pop(ANCHOR_NEXT, None)
    path = session.info.get(ANCHOR_FILE)
    if pending is None or not path:
        return
    key, seq, head_hash = pending
    try:
        anchor.append(path, key, seq, head_hash)
    except OSError:
        # The data is committed; a missing anchor only weakens the next check. Say so loudly.
        log.exception("audit head %s could not be anchored in %s", seq, path)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(PENDING, None)
    session.info.pop(ANCHOR_NEXT, None)


@dataclass
class Problem:
    seq: int | None
    message: str


def verify(
    session: Session, key: str, batch: int = 5000, anchors: list[anchor.Anchor] | None = None
) -> tuple[int, list[Problem]]:
    """Walk the chain in order; return the number of entries checked and every problem found.

    With `anchors` (heads anchored outside the database, anchor.py), the chain must reach the newest of them
    and hold the same hash at its number: otherwise its end was cut off."""
    problems: list[Problem] = []
    last = anchor.newest(anchors or [])
    at_anchor: str | None = None
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
        if last is not None and entry.seq == last.seq:
            at_anchor = entry.hash
        prev, expected_seq = entry.hash, entry.seq + 1
    head = session.get(AuditHead, 1, populate_existing=True)
    if head is not None and (head.seq != expected_seq - 1 or head.last_hash != prev):
        problems.append(Problem(head.seq, f"the chain ends at {expected_seq - 1} but its head says {head.seq}"))
    if head is None and count:
        problems.append(Problem(None, "the chain head is missing"))
    if last is not None:
        end = expected_seq - 1
        if end < last.seq:
            problems.append(Problem(last.seq, (
                f"truncated: the chain ends at {end} but the head anchored at {last.at} ({last.source}) is "
                f"{last.seq}: entries {end + 1}–{last.seq} were cut off"
            )))  # fmt: skip
        elif at_anchor is not None and not hmac.compare_digest(at_anchor, last.hash):
            problems.append(Problem(last.seq, (
                f"entry {last.seq} is not the one anchored at {last.at} ({last.source}): the chain was cut "
                "there and written again"
            )))  # fmt: skip
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
