"""The audit chain's head, anchored outside the database.

The chain (services.py) shows an edited or removed entry in the middle, but not the newest entries cut off
together with `audit_head` moved back: what is left is a valid, shorter chain. So after every commit that wrote
audit entries, the new head (sequence number and hash) is appended, signed with an HMAC of the audit key, to an
append-only file in the instance folder, and every audit export carries the head signed the same way. `flask
audit verify` compares the chain with the newest anchor it has: a chain that ends before it, or whose entry at
the anchor's number has another hash, was cut off. docs/security.md says what this does and does not protect
against.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from app.db import utcnow

DOMAIN = "lianfang-audit-anchor"
EXPORT_MARK = "#audit-head"


@dataclass(frozen=True)
class Anchor:
    seq: int
    hash: str
    at: str
    source: str  # where it was read: "anchor file line 12", "export audit-log.csv"


def signature(key: str, seq: int, head_hash: str, at: str) -> str:
    message = f"{DOMAIN}\n{seq}\n{head_hash}\n{at}"
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def signed_head(key: str, seq: int, head_hash: str, at: datetime | None = None) -> dict[str, object]:
    stamp = (at or utcnow()).isoformat()
    return {"seq": seq, "hash": head_hash, "at": stamp, "sig": signature(key, seq, head_hash, stamp)}


def append(path: str | os.PathLike[str], key: str, seq: int, head_hash: str) -> None:
    """One line per commit, written with O_APPEND in a single write (several workers append to one file; a
    line this short is written whole). Not fsync'ed: an anchor lost to a crash only makes the check weaker
    (an anchor behind the chain is never an alarm), never wrong."""
    line = json.dumps(signed_head(key, seq, head_hash), separators=(",", ":")) + "\n"
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


class BadAnchor(ValueError):
    pass


def parse(key: str, fields: dict[str, object], source: str) -> Anchor:
    try:
        seq, head_hash, at, sig = int(fields["seq"]), str(fields["hash"]), str(fields["at"]), str(fields["sig"])  # type: ignore[call-overload]
    except (KeyError, TypeError, ValueError) as e:
        raise BadAnchor(f"{source} is not an anchor") from e
    if not hmac.compare_digest(signature(key, seq, head_hash, at), sig):
        raise BadAnchor(f"{source} has no valid signature (forged or made with another key)")
    return Anchor(seq, head_hash, at, source)


def read_file(path: str | os.PathLike[str], key: str) -> tuple[list[Anchor], list[str]]:
    """Every anchor of the file and every line that is not a validly signed anchor."""
    anchors, bad = [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                anchors.append(parse(key, json.loads(line), f"anchor file line {n}"))
            except (BadAnchor, json.JSONDecodeError) as e:
                bad.append(str(e) if isinstance(e, BadAnchor) else f"anchor file line {n} is not an anchor")
    return anchors, bad


def export_row(key: str, seq: int, head_hash: str) -> list[object]:
    """The last row of an audit export: the chain's head when the export was made, signed."""
    head = signed_head(key, seq, head_hash)
    return [EXPORT_MARK, head["seq"], head["hash"], head["at"], head["sig"]]


def read_export(lines: Iterable[str], key: str, source: str) -> Anchor:
    import csv

    for row in csv.reader(lines):
        if row and row[0].lstrip("'\ufeff") == EXPORT_MARK and len(row) >= 5:
            return parse(key, {"seq": row[1], "hash": row[2], "at": row[3], "sig": row[4]}, source)
    raise BadAnchor(f"{source} carries no signed audit head")


def newest(anchors: Iterable[Anchor]) -> Anchor | None:
    return max(anchors, key=lambda a: a.seq, default=None)
