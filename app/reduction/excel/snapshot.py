"""A validated workbook: read and checked (parsing.py), or taken from the snapshot the preview left beside the
upload, HMAC-signed with the app's key, with the comparison with the list it was made against."""

from __future__ import annotations

import hashlib
import hmac
import marshal
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.core.batch import bulk
from app.places.models import Jurisdiction
from app.reduction.excel import parsing, reader, safety
from app.reduction.excel.lookups import industries, places_of
from app.reduction.excel.reader import Issue
from app.reduction.excel.records import Bundle, Parsed, Places
from app.reduction.excel.uploads import Upload, snapshot_path, verify

VALIDATOR_VERSION = "excel-import-3"  # change with the parsing rules or safety checks: older snapshots are re-validated


def _sign(key: str, data: bytes) -> bytes:
    return hmac.new(key.encode(), data, hashlib.sha256).digest()


def _digest(value: Any) -> str:
    return hashlib.sha256(repr(value).encode()).hexdigest()


def parse_key(upload: Upload, root: Jurisdiction, places: Places, limits: safety.Limits) -> tuple[Any, ...]:
    """What a validated parse depends on besides the code (VALIDATOR_VERSION): the file's bytes and name
    (what the safety checks passed, under these limits), whose upload and which year it is, the list's
    jurisdiction subtree and the rule library's files."""
    library = _rule_checksums()
    return (
        VALIDATOR_VERSION,
        upload.sha256,
        upload.user_id,
        upload.year,
        root.id,
        _digest((places.root_is_county, sorted(places.by_key.items()))),
        _digest(library),
        _digest((upload.filename, limits)),
    )


def _rule_checksums() -> tuple[tuple[str, str], ...]:
    from app.reduction.services import rule_library

    return tuple(sorted(rule_library.current().checksums.items()))


@dataclass
class Validated:
    """A validated file, and the comparison with the list (made at preview) that came with its snapshot."""

    parsed: Parsed
    key: tuple[Any, ...]
    stamp: tuple[int, int, int] | None = None  # the list as it was when `plan` was made
    plan: tuple[Any, ...] | None = None  # services/import_plan.Plan.dump()
    from_snapshot: bool = False


def save_snapshot(upload: Upload, v: Validated, key: str) -> None:
    data = marshal.dumps(
        (
            v.key,
            [b.dump() for b in v.parsed.bundles],
            [i.as_tuple() for i in v.parsed.issues],
            v.stamp,
            v.plan,
            v.parsed.in_file,
        )
    )
    tmp = snapshot_path(upload).with_suffix(".snapshot-part")
    tmp.write_bytes(_sign(key, data) + data)
    tmp.replace(snapshot_path(upload))  # a reader sees the old snapshot or the new one, never half of one


def _load_snapshot(upload: Upload, parse: tuple[Any, ...], key: str) -> Validated | None:
    try:
        raw = snapshot_path(upload).read_bytes()
    except OSError:
        return None
    mac, data = raw[:32], raw[32:]
    if not hmac.compare_digest(mac, _sign(key, data)):
        return None
    try:
        with bulk():
            found, bundles, issues, stamp, plan_dump, in_file = marshal.loads(data)  # noqa: S302 - signed by us, checked
    except (ValueError, EOFError, TypeError):
        return None
    if found != parse:
        return None
    with bulk():
        parsed = Parsed([Bundle.load(b) for b in bundles], [Issue(*i) for i in issues], in_file)
    return Validated(parsed, parse, stamp, plan_dump, from_snapshot=True)


def reuse_enabled(config: Any) -> bool:
    return bool(config.get("IMPORT_REUSE_VALIDATION", True))


def validated(session: Session, upload: Upload, root: Jurisdiction, config: Any) -> Validated:
    """The file's records and problems: from the snapshot the preview left when it is still valid, else read
    and checked anew. Either way the file is first verified against its sha256; a file that is read is put
    through the safety checks again first.

    The snapshot (IMPORT_REUSE_VALIDATION, on by default) is HMAC-signed with the app's key and holds the
    key it was made under (`parse_key`: validator version, file sha256 and name, the safety limits, user,
    year, the list's jurisdiction subtree, the rule library's checksums); any difference and it is ignored.
    A snapshot is only written after these very bytes passed the safety checks under these very limits, and
    with it the file is not parsed at all, so the checks are not run a third time then (at 1,000 enterprises
    they were two thirds of a one-enterprise re-import's commit): a limit lowered since invalidates the
    snapshot, and the file is checked (and refused) before it is read. The comparison with the list it may
    also hold is used only while `list_stamp` is unchanged.
    """
    verify(upload)
    limits = safety.Limits.from_config(config)
    places = places_of(session, root)
    key = parse_key(upload, root, places, limits)
    if reuse_enabled(config) and (found := _load_snapshot(upload, key, config["SECRET_KEY"])) is not None:
        return found
    checked = safety.checked(upload.path, upload.filename, limits)
    with bulk():
        workbook = reader.read(checked)  # the file as checked just now, else checked again
        parsed = parsing.parse(workbook, places, industries())
    return Validated(parsed, key)


def validate(session: Session, upload: Upload, root: Jurisdiction, config: Any) -> Parsed:
    """The file's records and problems (see `validated`)."""
    return validated(session, upload, root, config).parsed
