"""Import a reduction list from Excel: store → validate → preview → commit (all or nothing).

- `store()` keeps the upload outside the web root (UPLOAD_DIR/imports, a random name, its sha256 and owner
  in a JSON file beside it) after the safety checks.
- `preview()` verifies the file against its sha256, runs the safety checks again, reads and validates it
  (parsing.py), compares it with the list it would replace and returns the counts and every problem. The
  validated records, and the comparison with the list, are kept beside the file as a snapshot, HMAC-signed
  with the app's key (see `validated`; IMPORT_REUSE_VALIDATION, on by default).
- `commit()` checks the list's state, the user's right and scope again, verifies the file against its
  sha256 and runs the safety checks again, then takes the validated records from the snapshot when it was
  made for this file, user, year, jurisdiction subtree, rule library and validator version (else it reads
  and validates the file anew). It locks the list's row and takes the preview's comparison only while the
  list's stamp (lock_version, last audit entry) is the one the preview saw; otherwise it compares again.
  Then, only without errors: enterprises match by credit code; new ones are inserted, changed ones updated
  (their process units, measures, facilities and meters replaced), unchanged ones left alone, and
  enterprises missing from the file removed (the import replaces the list's content). PostgreSQL gets COPY
  and set-based UPDATE/DELETE, SQLite executemany; one audit entry sums it up. A file equal to the list
  writes nothing (one `reduction_list.import_nochange` note).
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import json
import marshal
import re
import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import ARRAY, BigInteger, String, any_, cast, func, select, type_coerce
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import Session

from app.audit.services import record
from app.core.errors import Forbidden, NotFound, ServiceError
from app.core.memo import by_inventory_version
from app.core.names import clean_name
from app.core.scoping import ScopeViolation, get_scope
from app.places.models import Jurisdiction, JurisdictionLevel
from app.reduction.excel import parsing, reader, safety
from app.reduction.excel import template as t
from app.reduction.excel.parsing import ENT_FIELDS, Bundle, Industries, Parsed, Places
from app.reduction.excel.reader import Issue
from app.reduction.models import (
    ControlFacility,
    Enterprise,
    ListState,
    Measure,
    Meter,
    ProcessUnit,
    ReductionList,
    StaggeredPeriod,
)
from app.reduction.services import assessments
from app.reduction.services.lists import STATE_LABELS
from app.registry import bulk as registry
from app.registry.models import EntityKind, RegistryAction

VALIDATOR_VERSION = "excel-import-2"  # change with the parsing rules: older snapshots are then re-validated
TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
KEEP_SECONDS = 24 * 3600
_JSON_FIELDS = ("machinery", "truck_emissions", "machinery_emissions")


@contextmanager
def bulk() -> Iterator[None]:
    """A block that builds millions of small acyclic objects (cells, records, rows): the cycle collector
    would walk them over and over for nothing (a third of the parse time), so it waits until the block
    ends. Reference counting still frees everything as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# --- uploads --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    token: str
    path: Path
    filename: str
    sha256: str
    kind: str
    size: int
    user_id: int
    year: int


def _dir(upload_dir: str | Path) -> Path:
    d = Path(upload_dir) / "imports"
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    return d


def _clean(d: Path) -> None:
    limit = time.time() - KEEP_SECONDS
    for p in d.iterdir():
        try:
            if p.stat().st_mtime < limit:
                p.unlink()
        except OSError:
            pass


def store(stream: Any, filename: str, upload_dir: str | Path, user_id: int, year: int, limits: safety.Limits) -> Upload:
    """Copy an upload to a random name (stopping at the size limit), check it, remember its sha256."""
    d = _dir(upload_dir)
    _clean(d)
    token = secrets.token_urlsafe(24)
    ext = Path(filename or "").suffix.lower()
    tmp = d / f"{token}.part"
    digest, size = hashlib.sha256(), 0
    try:
        with tmp.open("wb") as out:
            while chunk := stream.read(1024 * 1024):
                size += len(chunk)
                if size > limits.max_bytes:
                    break
                digest.update(chunk)
                out.write(chunk)
        if size > limits.max_bytes:
            raise safety.ExcelRefused(
                _("文件大小超过了 %(limit)s MB 的上限。", limit=f"{limits.max_bytes / safety.MB:.1f}")
            )
        kind = safety.check(tmp, filename, limits)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    path = d / f"{token}{ext}"
    tmp.rename(path)
    upload = Upload(token, path, clean_name(filename), digest.hexdigest(), kind, size, user_id, year)
    meta = {
        "filename": upload.filename,
        "sha256": upload.sha256,
        "kind": kind,
        "size": size,
        "user_id": user_id,
        "year": year,
        "ext": ext,
    }
    (d / f"{token}.json").write_text(json.dumps(meta), encoding="utf-8")
    return upload


def load_upload(upload_dir: str | Path, token: str, user_id: int) -> Upload:
    """The stored upload of this user; NotFound for an unknown token or another user's file."""
    if not TOKEN.match(token or ""):
        raise NotFound(_("找不到该导入文件，请重新上传。"))
    d = _dir(upload_dir)
    try:
        meta = json.loads((d / f"{token}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise NotFound(_("找不到该导入文件（可能已过期），请重新上传。")) from None
    if meta.get("user_id") != user_id:
        raise NotFound(_("找不到该导入文件，请重新上传。"))
    path = d / f"{token}{meta['ext']}"
    if not path.exists():
        raise NotFound(_("找不到该导入文件（可能已过期），请重新上传。"))
    return Upload(token, path, meta["filename"], meta["sha256"], meta["kind"], meta["size"], user_id, meta["year"])


def _verify(upload: Upload) -> None:
    digest = hashlib.sha256()
    with upload.path.open("rb") as f:
        while chunk := f.read(4 * 1024 * 1024):
            digest.update(chunk)
    if not hmac.compare_digest(digest.hexdigest(), upload.sha256):
        raise ServiceError(_("导入文件在预览后被改动，请重新上传。"))


def discard(upload: Upload) -> None:
    for p in (upload.path, _snapshot_path(upload), upload.path.with_suffix(".json")):
        p.unlink(missing_ok=True)


# --- validation (with its snapshot) ---------------------------------------------------------------------


def places_of(session: Session, root: Jurisdiction) -> Places:
    rows = session.execute(
        select(Jurisdiction.id, Jurisdiction.code, Jurisdiction.name, Jurisdiction.short_name).where(
            Jurisdiction.path.startswith(root.path)
        )
    ).all()
    by_key: dict[str, int] = {}
    names: dict[str, set[int]] = defaultdict(set)
    for r in rows:
        by_key[r.code] = r.id
        for n in (r.name, r.short_name):
            if n:
                names[n].add(r.id)
                names[t.norm(n)].add(r.id)
    for n, ids in names.items():
        if n not in by_key:
            by_key[n] = next(iter(ids)) if len(ids) == 1 else -1
    return Places(root.id, root.level is JurisdictionLevel.county, by_key)


@by_inventory_version  # follows the rule library (app/core/memo.py)
def industries() -> Industries:
    from app.reduction.services import rule_library

    library = rule_library.current()
    by_key: dict[str, str] = {}
    names = []
    for code, industry in library.industries.items():
        if code == "*":
            continue
        by_key[code] = by_key[t.norm(code)] = code
        by_key[industry.name] = by_key[t.norm(industry.name)] = code
        names.append(industry.name)
    return Industries(by_key, library.industry_of, "、".join(names))


def industry_labels() -> dict[str, str]:
    from app.reduction.services import rule_library

    return {code: ind.name for code, ind in rule_library.current().industries.items() if code != "*"}


def _snapshot_path(upload: Upload) -> Path:
    return upload.path.with_suffix(".snapshot")


def _sign(key: str, data: bytes) -> bytes:
    return hmac.new(key.encode(), data, hashlib.sha256).digest()


def _digest(value: Any) -> str:
    return hashlib.sha256(repr(value).encode()).hexdigest()


def parse_key(upload: Upload, root: Jurisdiction, places: Places) -> tuple[Any, ...]:
    """What a validated parse depends on besides the code (VALIDATOR_VERSION): the file's bytes, whose upload
    and which year it is, the list's jurisdiction subtree and the rule library's files."""
    library = _rule_checksums()
    return (
        VALIDATOR_VERSION,
        upload.sha256,
        upload.user_id,
        upload.year,
        root.id,
        _digest((places.root_is_county, sorted(places.by_key.items()))),
        _digest(library),
    )


def _rule_checksums() -> tuple[tuple[str, str], ...]:
    from app.reduction.services import rule_library

    return tuple(sorted(rule_library.current().checksums.items()))


def list_stamp(session: Session, list_id: int, *, lock: bool = False) -> tuple[int, int, int]:
    """What says the list's content may have changed: its lock_version (moved by every edit through the
    services) and its latest audit entry (imports, lifecycle steps), read from the database, not the
    session. With `lock` the list's row is locked until the transaction ends (SELECT … FOR UPDATE on
    PostgreSQL; SQLite's writers are serialised by BEGIN IMMEDIATE), so no edit can slip in between the
    comparison and the writes."""
    from app.audit.models import AuditEntry

    query = select(ReductionList.lock_version).where(ReductionList.id == list_id)
    version = session.execute(query.with_for_update() if lock else query).scalar_one()
    # audit_entry is not scoped: a plain Core query on the session's connection
    seq = session.connection().scalar(
        select(func.max(AuditEntry.seq)).where(
            AuditEntry.object_type == ReductionList.__tablename__, AuditEntry.object_id == str(list_id)
        )
    )
    return (list_id, version, seq or 0)


@dataclass
class Validated:
    """A validated file, and the comparison with the list (made at preview) that came with its snapshot."""

    parsed: Parsed
    key: tuple[Any, ...]
    stamp: tuple[int, int, int] | None = None  # the list as it was when `plan` was made
    plan: tuple[Any, ...] | None = None  # Plan.dump()
    from_snapshot: bool = False

    def plan_for(self, stamp: tuple[int, int, int]) -> Plan | None:
        """The stored comparison, only if the list has not changed since (same list, same stamp)."""
        if self.plan is None or self.stamp != stamp:
            return None
        return Plan.load(self.plan, self.parsed.bundles)


def _save_snapshot(upload: Upload, v: Validated, key: str) -> None:
    data = marshal.dumps(
        (
            v.key,
            [b.dump() for b in v.parsed.bundles],
            [i.as_tuple() for i in v.parsed.issues],
            v.stamp,
            v.plan,
        )
    )
    tmp = _snapshot_path(upload).with_suffix(".snapshot-part")
    tmp.write_bytes(_sign(key, data) + data)
    tmp.replace(_snapshot_path(upload))  # a reader sees the old snapshot or the new one, never half of one


def _load_snapshot(upload: Upload, parse: tuple[Any, ...], key: str) -> Validated | None:
    try:
        raw = _snapshot_path(upload).read_bytes()
    except OSError:
        return None
    mac, data = raw[:32], raw[32:]
    if not hmac.compare_digest(mac, _sign(key, data)):
        return None
    try:
        with bulk():
            found, bundles, issues, stamp, plan_dump = marshal.loads(data)  # noqa: S302 - signed by us, checked
    except (ValueError, EOFError, TypeError):
        return None
    if found != parse:
        return None
    with bulk():
        parsed = Parsed([Bundle.load(b) for b in bundles], [Issue(*i) for i in issues])
    return Validated(parsed, parse, stamp, plan_dump, from_snapshot=True)


def reuse_enabled(config: Any) -> bool:
    return bool(config.get("IMPORT_REUSE_VALIDATION", True))


def validated(session: Session, upload: Upload, root: Jurisdiction, config: Any) -> Validated:
    """The file's records and problems: from the snapshot the preview left when it is still valid, else read
    and checked anew. Either way the file is first verified against its sha256 and the safety checks run
    again; only then is it parsed (or its snapshot read).

    The snapshot (IMPORT_REUSE_VALIDATION, on by default) is HMAC-signed with the app's key and holds the
    key it was made under (`parse_key`: validator version, file sha256, user, year, the list's jurisdiction
    subtree, the rule library's checksums); any difference and it is ignored. The comparison with the list
    it may also hold is used only while `list_stamp` is unchanged.
    """
    _verify(upload)
    checked = safety.checked(upload.path, upload.filename, safety.Limits.from_config(config))
    places = places_of(session, root)
    key = parse_key(upload, root, places)
    if reuse_enabled(config) and (found := _load_snapshot(upload, key, config["SECRET_KEY"])) is not None:
        return found
    with bulk():
        workbook = reader.read(checked)  # the file as checked just now, else checked again
        parsed = parsing.parse(workbook, places, industries())
    return Validated(parsed, key)


def validate(session: Session, upload: Upload, root: Jurisdiction, config: Any) -> Parsed:
    """The file's records and problems (see `validated`)."""
    return validated(session, upload, root, config).parsed


# --- the list it goes into ------------------------------------------------------------------------------


def current_list(session: Session, user: Any, year: int) -> ReductionList | None:
    """The newest version of the bureau's list for the year (what open_list works on), creating nothing."""
    if not 2000 <= year <= 2100:
        raise ServiceError(_("年份不正确。"), field="year")
    return session.scalars(
        select(ReductionList)
        .where(ReductionList.jurisdiction_id == user.bureau.jurisdiction_id, ReductionList.year == year)
        .order_by(ReductionList.version.desc())
        .limit(1)
    ).first()


def blocked(lst: ReductionList | None, user: Any) -> str | None:
    """Why this user cannot import into the year's list, or None."""
    if user.jurisdiction_id != user.bureau.jurisdiction_id:
        return _("只能导入本单位的清单。")
    if lst is None or lst.state is ListState.published:
        return None if lst is None or lst.can_new_version(user) else _("您所在单位无权修改该清单。")
    if not lst.editable:
        return _("清单当前状态为“%(state)s”，不能导入；退回后方可修改。", state=_(STATE_LABELS[lst.state]))
    if not lst.can_edit(user):
        return _("您所在单位无权修改该清单。")
    return None


# --- comparing with the stored list ---------------------------------------------------------------------


def _canon_bundle(
    ent: Sequence[Any],
    units: Iterable[Sequence[Any]],
    measures: Iterable[Sequence[Any]],
    facilities: Iterable[Sequence[Any]],
    meters: Iterable[Sequence[Any]],
) -> tuple[Any, ...]:
    """The comparable form of an enterprise and its children: the values as the importer writes them (dates
    as ISO text, enums as their values: `stored_content` reads the database so), each kind of child as a
    multiset, as the order of rows means nothing. Compared with ==, so the JSON fields' dicts compare by
    content and a count of 2 equals 2.0."""
    return (
        tuple(ent),
        Counter(map(tuple, units)),
        Counter(map(tuple, measures)),
        Counter(map(tuple, facilities)),
        Counter(map(tuple, meters)),
    )


@dataclass
class Stored:
    id: int
    uscc: str
    name: str
    jurisdiction_id: int
    canon: tuple[Any, ...] | None = None


def _of_list(session: Session, list_id: int) -> Any:
    """A condition on a child table's enterprise_id: the enterprise is on the list.

    PostgreSQL gets `= ANY(<the list's ids as one array>)`, computed once: right after a bulk import the
    tables have no statistics yet, and for a join the planner then picks a nested loop that re-reads the
    whole jurisdiction index (added by the scope) once per enterprise: minutes for a list that takes a
    second this way."""
    if session.connection().dialect.name == "postgresql":
        agg = select(func.array_agg(Enterprise.id)).where(Enterprise.list_id == list_id).scalar_subquery()
        ids = cast(agg, ARRAY(BigInteger))  # an array expression, not ANY(subquery)
        return lambda column: column == any_(ids)
    ids = select(Enterprise.id).where(Enterprise.list_id == list_id)
    return lambda column: column.in_(ids)


_GRADED_ON = ENT_FIELDS.index("graded_on")


def _as_text(column: Any) -> Any:
    """Enum columns as the plain text they hold (what the parser produces), without building members."""
    return type_coerce(column, String) if isinstance(column.type, SAEnum) else column


def stored_content(session: Session, list_id: int, wanted: set[str]) -> dict[str, Stored]:
    """The list's enterprises by credit code; the full comparable form only for those in `wanted`."""
    cols = [_as_text(getattr(Enterprise, f)) for f in ENT_FIELDS]
    rows = session.execute(select(Enterprise.id, *cols).where(Enterprise.list_id == list_id)).all()
    out: dict[str, Stored] = {}
    full: dict[int, tuple[Any, ...]] = {}
    for r in rows:
        uscc = r[1]
        out[uscc] = Stored(r[0], uscc, r[2], r[-1])
        if uscc in wanted:
            values = list(r[1:])
            if (graded := values[_GRADED_ON]) is not None and not isinstance(graded, str):
                values[_GRADED_ON] = graded.isoformat()
            full[r[0]] = tuple(values)
    if not full:
        return out
    units: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    codes: dict[int, str] = {}
    on_list = _of_list(session, list_id)
    ucols = [getattr(ProcessUnit, f) for f in parsing.UNIT_FIELDS]
    for r in session.execute(
        select(ProcessUnit.enterprise_id, ProcessUnit.id, *ucols).where(on_list(ProcessUnit.enterprise_id))
    ):
        codes[r[1]] = r[2]
        if r[0] in full:
            units[r[0]].append(tuple(r[2:]))
    measures: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for r in session.execute(
        select(
            Measure.enterprise_id,
            _as_text(Measure.level),
            Measure.process_unit_id,
            _as_text(Measure.kind),
            Measure.percent,
            _as_text(Measure.verification),
            _as_text(Measure.max_stage),
            _as_text(Measure.basis),
            Measure.note,
        ).where(on_list(Measure.enterprise_id))
    ):
        if r[0] in full:
            measures[r[0]].append((r[1], codes.get(r[2]) if r[2] else None, *r[3:]))
    facilities: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    fcodes: dict[int, str] = {}
    for r in session.execute(
        select(
            ControlFacility.enterprise_id,
            ControlFacility.id,
            ControlFacility.code,
            ControlFacility.name,
            ControlFacility.kind,
            ControlFacility.pollutants,
            ControlFacility.process_unit_id,
        ).where(on_list(ControlFacility.enterprise_id))
    ):
        fcodes[r[1]] = r[2]
        if r[0] in full:
            facilities[r[0]].append((r[2], r[3], r[4], r[5], codes.get(r[6]) if r[6] else None))
    meters: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for r in session.execute(
        select(
            Meter.enterprise_id,
            Meter.number,
            _as_text(Meter.kind),
            Meter.process_unit_id,
            Meter.control_facility_id,
        ).where(on_list(Meter.enterprise_id))
    ):
        if r[0] in full:
            meters[r[0]].append((r[1], r[2], codes.get(r[3]) if r[3] else None, fcodes.get(r[4]) if r[4] else None))
    for stored in out.values():
        if stored.id in full:
            i = stored.id
            stored.canon = _canon_bundle(full[i], units[i], measures[i], facilities[i], meters[i])
    return out


@dataclass
class Plan:
    new: list[Bundle] = field(default_factory=list)
    changed: list[tuple[Stored, Bundle]] = field(default_factory=list)
    unchanged: int = 0
    removed: list[Stored] = field(default_factory=list)

    @property
    def writes(self) -> bool:
        return bool(self.new or self.changed or self.removed)

    def dump(self, bundles: list[Bundle]) -> tuple[Any, ...]:
        """Plain data for the preview's snapshot: bundles by their position in the parsed file."""
        at = {id(b): i for i, b in enumerate(bundles)}
        return (
            [at[id(b)] for b in self.new],
            [(s.id, s.uscc, s.name, s.jurisdiction_id, at[id(b)]) for s, b in self.changed],
            self.unchanged,
            [(s.id, s.uscc, s.name, s.jurisdiction_id) for s in self.removed],
        )

    @classmethod
    def load(cls, data: tuple[Any, ...], bundles: list[Bundle]) -> Plan:
        new, changed, unchanged, removed = data
        return cls(
            [bundles[i] for i in new],
            [(Stored(*c[:4]), bundles[c[4]]) for c in changed],
            unchanged,
            [Stored(*r) for r in removed],
        )


def plan(session: Session, lst: ReductionList | None, parsed: Parsed) -> Plan:
    result = Plan()
    if lst is None:
        result.new = list(parsed.bundles)
        return result
    in_file = {b.ent[0] for b in parsed.bundles}
    stored = stored_content(session, lst.id, in_file)
    for b in parsed.bundles:
        old = stored.get(b.ent[0])
        if old is None:
            result.new.append(b)
        elif old.canon == _canon_bundle(b.ent, b.units, b.measures, b.facilities, b.meters):
            result.unchanged += 1
        else:
            result.changed.append((old, b))
    result.removed = [s for u, s in stored.items() if u not in in_file]
    return result


# --- preview --------------------------------------------------------------------------------------------


@dataclass
class Preview:
    upload: Upload
    year: int
    issues: list[Issue]
    counts: dict[str, int]
    removed: list[tuple[str, str]]  # (credit code, name)
    blocked: str | None
    target: str  # which list the file goes into, in words

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.error]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if not i.error]

    @property
    def can_commit(self) -> bool:
        return not self.blocked and not self.errors


def _counts(parsed: Parsed, p: Plan | None) -> dict[str, int]:
    b = parsed.bundles
    return {
        "enterprises": len(b),
        "new": len(p.new) if p else 0,
        "changed": len(p.changed) if p else 0,
        "unchanged": p.unchanged if p else 0,
        "removed": len(p.removed) if p else 0,
        "units": sum(len(x.units) for x in b),
        "measures": sum(len(x.measures) for x in b),
        "facilities": sum(len(x.facilities) for x in b),
        "meters": sum(len(x.meters) for x in b),
    }


def target_words(lst: ReductionList | None, year: int) -> str:
    if lst is None:
        return _("将新建 %(year)d 年清单（草稿）", year=year)
    if lst.state is ListState.published:
        return _("%(year)d 年清单第 %(v)d 版已发布，将建立第 %(n)d 版", year=year, v=lst.version, n=lst.version + 1)
    return _("%(year)d 年清单第 %(v)d 版（%(state)s）", year=year, v=lst.version, state=_(STATE_LABELS[lst.state]))


def preview(session: Session, user: Any, upload: Upload, config: Any) -> Preview:
    """Validate the stored file and compare it with the list it would replace; changes nothing in the
    database. The validated records and the comparison are kept as the upload's snapshot for the commit."""
    lst = current_list(session, user, upload.year)
    v = validated(session, upload, user.bureau.jurisdiction, config)
    parsed = v.parsed
    why = blocked(lst, user)
    p = None
    save = not v.from_snapshot
    if not parsed.errors:
        # the stamp is read before the list's content: a change in between makes it stale, never the reverse
        stamp = list_stamp(session, lst.id) if lst is not None else None
        p = v.plan_for(stamp) if stamp is not None else None
        if p is None:
            p = plan(session, lst, parsed)
            if stamp is not None:
                v.stamp, v.plan, save = stamp, p.dump(parsed.bundles), True
    if save and reuse_enabled(config):
        _save_snapshot(upload, v, config["SECRET_KEY"])
    removed = [(s.uscc, s.name) for s in p.removed] if p else []
    return Preview(upload, upload.year, parsed.issues, _counts(parsed, p), removed, why, target_words(lst, upload.year))


# --- commit ---------------------------------------------------------------------------------------------


def commit(session: Session, user: Any, upload: Upload, config: Any) -> Preview:
    """Validate again against the database as it is now and, without errors, replace the list's content."""
    from app.reduction.services.lists import open_list

    lst = current_list(session, user, upload.year)
    why = blocked(lst, user)
    if why:
        raise Forbidden(why)
    v = validated(session, upload, user.bureau.jurisdiction, config)
    parsed = v.parsed
    if parsed.errors:
        raise ServiceError(_("文件中还有 %(n)d 处错误，未导入任何数据；请改正后重新上传。", n=parsed.errors))
    lst = open_list(session, user.bureau, upload.year, user)
    if not lst.can_edit(user):
        raise Forbidden(_("您所在单位无权修改该清单。"))
    session.flush()
    # the list is locked from here to the end of the transaction; the preview's comparison stands only if
    # the list is the one it compared with and nothing has changed it since
    p = v.plan_for(list_stamp(session, lst.id, lock=True))
    if p is None:
        p = plan(session, lst, parsed)
    counts = _counts(parsed, p)
    detail = {
        **counts,
        "sha256": upload.sha256,
        "file": upload.filename,
        "year": upload.year,
        "warnings": len(parsed.issues) - parsed.errors,
    }
    if not p.writes:
        record(session, "reduction_list.import_nochange", obj=lst, detail=detail)
    else:
        _check_scope(session, lst, p)
        owners = apply(session, lst, p, source=f"import {upload.sha256}", user_id=user.id)
        # the stored assessments of the written enterprises, from the records in hand (services/assessments)
        assessments.store_bundles(session, lst.id, owners, replace=[s.id for s, _b in p.changed])
        if not owners:  # removals only: no assessment was written, and theirs went with them
            assessments.recount(session, [lst.id])
        record(session, "reduction_list.import", obj=lst, detail=detail)
    removed = [(s.uscc, s.name) for s in p.removed]
    return Preview(upload, upload.year, parsed.issues, counts, removed, None, target_words(lst, upload.year))


def _check_scope(session: Session, lst: ReductionList, p: Plan) -> None:
    """Bulk writes bypass the ORM's flush hook: the session's scope is asked here for every jurisdiction."""
    scope = get_scope(session)
    if scope is None or scope.unrestricted:
        return
    touched = {lst.jurisdiction_id, *(b.ent[-1] for b in p.new)}
    touched |= {x for s, b in p.changed for x in (s.jurisdiction_id, b.ent[-1])}
    touched |= {s.jurisdiction_id for s in p.removed}
    outside = [j for j in touched if not scope.can_write(j)]
    if outside:
        raise ScopeViolation("import writes outside the user's jurisdiction")


# --- bulk writing ---------------------------------------------------------------------------------------

ENT_COLUMNS = ("id", "list_id", "registry_id", *ENT_FIELDS)
UNIT_COLUMNS = ("id", "enterprise_id", "jurisdiction_id", "registry_id", *parsing.UNIT_FIELDS)
MEASURE_COLUMNS = (
    "enterprise_id",
    "jurisdiction_id",
    "level",
    "process_unit_id",
    "kind",
    "percent",
    "verification",
    "max_stage",
    "basis",
    "note",
)
FACILITY_COLUMNS = (
    "id",
    "enterprise_id",
    "jurisdiction_id",
    "code",
    "name",
    "kind",
    "pollutants",
    "process_unit_id",
    "registry_id",
)
METER_COLUMNS = (
    "enterprise_id",
    "jurisdiction_id",
    "registry_id",
    "number",
    "kind",
    "process_unit_id",
    "control_facility_id",
)
_ENT_JSON = {ENT_FIELDS.index(f) for f in _JSON_FIELDS}
_PG_TYPES = {
    "latitude": "float8",
    "longitude": "float8",
    "so2": "float8",
    "nox": "float8",
    "pm": "float8",
    "vocs": "float8",
    "uses_coal": "bool",
    "uses_oil": "bool",
    "toxic": "bool",
    "ultra_low": "bool",
    "truck_visits_per_day": "int4",
    "operating_days": "int4",
    "jurisdiction_id": "int4",
    "graded_on": "date",
    "machinery": "jsonb",
    "truck_emissions": "jsonb",
    "machinery_emissions": "jsonb",
}


def _db_ent(ent: Sequence[Any]) -> list[Any]:
    row = list(ent)
    for i in _ENT_JSON:
        row[i] = json.dumps(row[i], ensure_ascii=False, sort_keys=True) if row[i] else "{}"
    return row


class Writer:
    """Bulk statements on the session's own connection (inside its transaction)."""

    def __init__(self, session: Session) -> None:
        self.conn = session.connection()
        self.pg = self.conn.dialect.name == "postgresql"
        self.raw = self.conn.connection.driver_connection

    def ids(self, table: str, n: int) -> list[int]:
        if n == 0:
            return []
        cur = self.raw.cursor()
        try:
            if self.pg:
                cur.execute(
                    f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)",  # noqa: S608
                    (n,),
                )
                return [r[0] for r in cur.fetchall()]
            cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608 - fixed table names
            start = cur.fetchone()[0] + 1
            return list(range(start, start + n))
        finally:
            cur.close()

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        cols = ", ".join(columns)
        cur = self.raw.cursor()
        try:
            if self.pg:
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" * len(columns))
                cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)  # noqa: S608
        finally:
            cur.close()

    def delete_in(self, table: str, column: str, ids: Sequence[int]) -> None:
        if not ids:
            return
        cur = self.raw.cursor()
        try:
            if self.pg:
                cur.execute(f"DELETE FROM {table} WHERE {column} = ANY(%s)", (list(ids),))  # noqa: S608
            else:
                for k in range(0, len(ids), 500):
                    chunk = ids[k : k + 500]
                    cur.execute(
                        f"DELETE FROM {table} WHERE {column} IN ({', '.join('?' * len(chunk))})",  # noqa: S608
                        chunk,
                    )
        finally:
            cur.close()

    def update_enterprises(self, rows: list[list[Any]]) -> None:
        """rows: [id, *ENT_FIELDS values] each."""
        if not rows:
            return
        cur = self.raw.cursor()
        try:
            if self.pg:
                columns = list(zip(*rows, strict=True))
                names = ["id", *ENT_FIELDS]
                types = [
                    "int8",
                    *("text" if _PG_TYPES.get(f) in (None, "jsonb", "date") else _PG_TYPES[f] for f in ENT_FIELDS),
                ]
                unnest = ", ".join(f"%s::{tp}[]" for tp in types)
                sets = ", ".join(
                    f"{f} = v.{f}::{_PG_TYPES[f]}" if _PG_TYPES.get(f) in ("jsonb", "date") else f"{f} = v.{f}"
                    for f in ENT_FIELDS
                )
                cur.execute(
                    f"UPDATE enterprise e SET {sets} FROM unnest({unnest}) AS v({', '.join(names)}) "  # noqa: S608
                    "WHERE e.id = v.id",
                    [list(c) for c in columns],
                )
            else:
                sets = ", ".join(f"{f} = ?" for f in ENT_FIELDS)
                cur.executemany(
                    f"UPDATE enterprise SET {sets} WHERE id = ?",  # noqa: S608
                    [[*r[1:], r[0]] for r in rows],
                )
        finally:
            cur.close()


@bulk()
def apply(
    session: Session, lst: ReductionList, p: Plan, *, source: str | None = None, user_id: int | None = None
) -> list[tuple[int, Bundle]]:
    """Write the plan: deletes, updates, then the inserts of new rows (ids allocated up front). Returns the
    written enterprises' ids with their records.

    The registry (app/registry) follows by code: new credit codes, unit and facility codes and meter numbers
    are registered, a changed enterprise gets a `changed` event saying what changed, one the file leaves out
    a `delisted` event naming this version; registry rows are never deleted."""
    w = Writer(session)
    sync = registry.Sync(w, lst.id, source, user_id)
    changed_ids = [s.id for s, _b in p.changed]
    removed_ids = [s.id for s in p.removed]
    changes = registry.changes_of(w, [(s.id, b) for s, b in p.changed], ENT_FIELDS, parsing.UNIT_FIELDS)
    reg_of_version = registry.registry_ids_of(w, changed_ids + removed_ids)
    for s in p.removed:
        r = reg_of_version[s.id]
        sync.event(r, EntityKind.enterprise, r, RegistryAction.delisted, {"uscc": s.uscc, "name": s.name})
    replaced = changed_ids + removed_ids
    for table in ("meter", "measure", "control_facility", "process_unit"):
        w.delete_in(table, "enterprise_id", replaced)
    moved = [s.id for s, b in p.changed if s.jurisdiction_id != b.ent[-1]]
    periods = _take_periods(session, w, moved, removed_ids)
    w.delete_in("enterprise", "id", removed_ids)
    written = [*(b for _s, b in p.changed), *p.new]
    reg, fresh = sync.enterprises([(b.ent[0], b.ent[-1], b.ent[1]) for b in written])
    for s, _b in p.changed:
        r = reg_of_version[s.id]
        sync.event(r, EntityKind.enterprise, r, RegistryAction.changed, changes[s.id])
    for b in p.new:
        r = reg[b.ent[0]]
        if r in fresh:
            codes = {
                "uscc": b.ent[0], "name": b.ent[1], "units": [u[0] for u in b.units],
                "facilities": [f[0] for f in b.facilities], "meters": [m[0] for m in b.meters],
            }  # fmt: skip
            sync.event(r, EntityKind.enterprise, r, RegistryAction.registered, codes)
        else:  # known to the registry, new on this list
            sync.event(r, EntityKind.enterprise, r, RegistryAction.listed, {"uscc": b.ent[0], "name": b.ent[1]})
    w.update_enterprises([[s.id, *_db_ent(b.ent)] for s, b in p.changed])
    new_ids = w.ids("enterprise", len(p.new))
    w.insert(
        "enterprise",
        ENT_COLUMNS,
        ([i, lst.id, reg[b.ent[0]], *_db_ent(b.ent)] for i, b in zip(new_ids, p.new, strict=True)),
    )
    owners = [*((s.id, b) for s, b in p.changed), *zip(new_ids, p.new, strict=True)]
    _insert_children(w, owners, sync, reg, fresh)
    sync.flush_events()
    if periods:
        jid = {s.id: b.ent[-1] for s, b in p.changed}
        w.insert(
            "staggered_period",
            ("enterprise_id", "jurisdiction_id", "starts_on", "ends_on", "reason"),
            [(e, jid[e], a.isoformat(), z.isoformat(), r) for e, a, z, r in periods],
        )
    session.expire_all()
    return owners


def _take_periods(session: Session, w: Writer, moved: list[int], removed: list[int]) -> list[tuple[Any, ...]]:
    """Staggered periods are not in the file: kept, but re-tied when their enterprise changes jurisdiction."""
    w.delete_in("staggered_period", "enterprise_id", removed)
    if not moved:
        return []
    rows = [
        tuple(r)
        for r in session.execute(
            select(
                StaggeredPeriod.enterprise_id,
                StaggeredPeriod.starts_on,
                StaggeredPeriod.ends_on,
                StaggeredPeriod.reason,
            ).where(StaggeredPeriod.enterprise_id.in_(moved))
        )
    ]
    w.delete_in("staggered_period", "enterprise_id", moved)
    return rows


def _insert_children(
    w: Writer, owners: list[tuple[int, Bundle]], sync: registry.Sync, reg: dict[str, int], fresh: set[int]
) -> None:
    reg_unit = sync.children(
        "registry_unit", "code", ((reg[b.ent[0]], u[0], u[1]) for _e, b in owners for u in b.units), fresh,
        EntityKind.unit,
    )  # fmt: skip
    reg_fac = sync.children(
        "registry_facility", "code", ((reg[b.ent[0]], f[0], f[1]) for _e, b in owners for f in b.facilities),
        fresh, EntityKind.facility,
    )  # fmt: skip
    reg_meter = sync.children(
        "registry_meter", "number", ((reg[b.ent[0]], m[0], m[1]) for _e, b in owners for m in b.meters), fresh,
        EntityKind.meter,
    )  # fmt: skip
    n_units = sum(len(b.units) for _e, b in owners)
    n_fac = sum(len(b.facilities) for _e, b in owners)
    unit_ids = iter(w.ids("process_unit", n_units))
    fac_ids = iter(w.ids("control_facility", n_fac))
    unit_of: dict[tuple[int, str], int] = {}
    fac_of: dict[tuple[int, str], int] = {}
    units, facilities = [], []
    for e, b in owners:
        jid, r = b.ent[-1], reg[b.ent[0]]
        for u in b.units:
            uid = next(unit_ids)
            unit_of[(e, u[0])] = uid
            units.append((uid, e, jid, reg_unit[(r, u[0])], *u))
        for f in b.facilities:
            fid = next(fac_ids)
            fac_of[(e, f[0])] = fid
            facilities.append(
                (fid, e, jid, f[0], f[1], f[2], f[3], unit_of[(e, f[4])] if f[4] else None, reg_fac[(r, f[0])])
            )
    w.insert("process_unit", UNIT_COLUMNS, units)
    del units
    w.insert(
        "measure",
        MEASURE_COLUMNS,
        (
            (e, b.ent[-1], m[0], unit_of[(e, m[1])] if m[1] is not None else None, *m[2:])
            for e, b in owners
            for m in b.measures
        ),
    )
    w.insert("control_facility", FACILITY_COLUMNS, facilities)
    w.insert(
        "meter",
        METER_COLUMNS,
        [
            (
                e,
                b.ent[-1],
                reg_meter[(reg[b.ent[0]], m[0])],
                m[0],
                m[1],
                unit_of[(e, m[2])] if m[2] else None,
                fac_of[(e, m[3])] if m[3] else None,
            )
            for e, b in owners
            for m in b.meters
        ],
    )
