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
  writes nothing (one `reduction_list.import_nochange` note)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.services import record
from app.core.errors import Forbidden, ServiceError
from app.core.scoping import ScopeViolation, get_scope
from app.reduction.excel.reader import Issue
from app.reduction.excel.records import Parsed
from app.reduction.excel.snapshot import reuse_enabled, save_snapshot, validated
from app.reduction.excel.uploads import Upload
from app.reduction.models import ListState, ReductionList
from app.reduction.services import assessments
from app.reduction.services.import_plan import Plan, list_stamp, plan, stored_plan
from app.reduction.services.import_writer import apply
from app.reduction.services.lists import STATE_LABELS


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
    in_file = max(parsed.in_file, len(b))
    return {
        "enterprises": in_file,  # every enterprise of the file, those refused included
        "refused": in_file - len(b),
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
        p = stored_plan(v, stamp) if stamp is not None else None
        if p is None:
            p = plan(session, lst, parsed)
            if stamp is not None:
                v.stamp, v.plan, save = stamp, p.dump(parsed.bundles), True
    if save and reuse_enabled(config):
        save_snapshot(upload, v, config["SECRET_KEY"])
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
    p = stored_plan(v, list_stamp(session, lst.id, lock=True))
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
