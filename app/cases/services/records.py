"""Creating cases (from the phone or the desk), transferring them with a transfer form, and the form's PDF."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.services import record
from app.auth.models import Bureau, BureauKind, User
from app.cases.locate import AUTO, enterprise_place, place_at
from app.cases.models import COPY, DISCOVERED_BY, Case, CaseShare, CaseTransfer, Evidence, TransferItem
from app.cases.services import numbering
from app.cases.services.inspections import enterprise_code, inspection_row
from app.cases.services.workflow import RULES, WORKERS, Action, add_event, can, due_for, transition
from app.cases.vocabulary import TOPICS, CaseState, EvidenceKind, Origin, SourceType, label
from app.core.errors import Conflict, Forbidden, NotFound, ServiceError
from app.core.localtime import LOCAL_TZ
from app.core.names import clean_name
from app.core.scoping import get_scope, unscoped
from app.db import utcnow
from app.places.models import Jurisdiction, JurisdictionLevel, path_codes


def _province_of(j: Jurisdiction) -> str:
    return path_codes(j.path)[0]


def create_case(session: Session, user: User, data: Mapping[str, Any]) -> Case:
    """A new case in state `discovered`. The place is where the problem is (any county or city): it decides
    which bureau must handle it. The discovering bureau keeps read access wherever that is."""
    if not user.roles & WORKERS:
        raise Forbidden(_("只有执法检查员和生态环境部门业务人员可以登记问题线索。"))
    fields, place = case_fields(session, data)
    inspected_at, source_name, topic, problem = (fields[k] for k in ("inspected_at", "source_name", "topic", "problem"))
    year = inspected_at.astimezone(LOCAL_TZ).year
    discoverer_code = user.jurisdiction.code
    case = Case(
        number=numbering.case_number(session, discoverer_code, year), **fields,
        discovered_bureau_id=user.bureau_id, jurisdiction_id=place.id, created_by_id=user.id,
    )  # fmt: skip
    scope = get_scope(session)
    in_own_area = scope is None or scope.can_write(place.id)
    # Written under the user's scope: a case, its timeline and its inspection may lie outside the jurisdiction
    # and are the discovering bureau's to write (their `writable_by`).
    session.add(case)
    session.flush()
    if not in_own_area:
        session.add(CaseShare(case_id=case.id, bureau_id=user.bureau_id, reason="discovered_by"))
    case.due_at = due_for(session, case, utcnow())
    add_event(session, case, user, "create", None, CaseState.discovered, note=problem[:200])
    if fields["origin"] is Origin.field_inspection:
        session.add(inspection_row(user, place, case, data, inspected_at, joint=not in_own_area))
    session.flush()
    record(
        session, "case.create", obj=case,
        after={"number": case.number, "place": place.code, "source_name": source_name, "topic": topic},
    )  # fmt: skip
    return case


def case_fields(session: Session, data: Mapping[str, Any]) -> tuple[dict[str, Any], Jurisdiction]:
    """The case's own data, checked (a new case and a corrected one alike), and the place it is in."""
    try:
        source_type = SourceType(str(data.get("source_type") or ""))
    except ValueError:
        raise ServiceError(_("请选择污染源类型。"), field="source_type") from None
    try:
        origin = Origin(str(data.get("origin") or Origin.field_inspection.value))
    except ValueError:
        raise ServiceError(_("线索来源不正确。"), field="origin") from None
    topic = str(data.get("topic") or "").strip()[:100]
    if not topic:
        raise ServiceError(_("请选择或填写问题类别。"), field="topic")
    uscc = enterprise_code(data)
    listed = enterprise_place(session, uscc)
    source_name = str(data.get("source_name") or "").strip()[:200] or (listed[1][:200] if listed else "")
    if not source_name:
        raise ServiceError(_("请填写污染源名称。"), field="source_name")
    problem = str(data.get("problem") or "").strip()
    if not problem:
        problem = topic if topic in TOPICS[source_type] else ""
    if not problem:
        raise ServiceError(_("请描述发现的问题。"), field="problem")
    code = str(data.get("place") or "").strip()
    if code == AUTO:  # from the listed enterprise, else from the location
        place = listed[0] if listed else place_at(session, *_coordinates(data))
        if place is None:
            raise ServiceError(_("无法按位置或企业确定所在区县，请选择问题所在的区县。"), field="place")
    else:
        with unscoped(session):  # a problem may be anywhere: places are reference data
            place = session.scalars(select(Jurisdiction).where(Jurisdiction.code == code)).first()
    if place is None:
        raise ServiceError(_("请选择问题所在的区县。"), field="place")
    inspected_at = data.get("inspected_at") or utcnow()
    if isinstance(inspected_at, str):
        try:
            inspected_at = datetime.fromisoformat(inspected_at)
        except ValueError:
            raise ServiceError(_("检查时间格式不正确。"), field="inspected_at") from None
    if not isinstance(inspected_at, datetime):  # a number or a list sent over the API
        raise ServiceError(_("检查时间格式不正确。"), field="inspected_at")
    if inspected_at.tzinfo is None:
        inspected_at = inspected_at.replace(tzinfo=LOCAL_TZ)
    if inspected_at > utcnow():
        raise ServiceError(_("检查时间不能晚于现在。"), field="inspected_at")
    lat, lon = _coordinates(data)
    complainant = str(data.get("complainant_name") or "").strip()[:64] or None
    if complainant and origin is not Origin.complaint:
        raise ServiceError(_("只有信访投诉线索记录投诉人。"), field="complainant_name")
    complainant_phone = (str(data.get("complainant_phone") or "").strip()[:32] or None) if complainant else None
    fields = {
        "source_type": source_type, "topic": topic, "origin": origin, "inspected_at": inspected_at,
        "source_name": source_name, "source_address": str(data.get("source_address") or "").strip()[:300],
        "enterprise_uscc": uscc, "problem": problem[:4000], "latitude": lat, "longitude": lon,
        "complainant_name": complainant, "complainant_phone": complainant_phone,
    }  # fmt: skip
    return fields, place


def _coordinates(data: Mapping[str, Any]) -> tuple[float | None, float | None]:
    lat, lon = data.get("latitude"), data.get("longitude")
    if lat in (None, "") and lon in (None, ""):
        return None, None
    try:
        la, lo = float(lat), float(lon)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ServiceError(_("位置坐标不正确。"), field="latitude") from None
    if not (-90 <= la <= 90 and -180 <= lo <= 180):
        raise ServiceError(_("位置坐标超出范围。"), field="latitude")
    return la, lo


def bureaus_for(session: Session, case: Case) -> list[Bureau]:
    """Bureaus that can take the case: active bureaus whose jurisdiction is the case's place or above it,
    nearest first (a county bureau before its city bureau)."""
    with unscoped(session):
        place = session.get(Jurisdiction, case.jurisdiction_id)
        codes = path_codes(place.path)
        rows = session.scalars(
            select(Bureau)
            .join(Jurisdiction, Jurisdiction.id == Bureau.jurisdiction_id)
            .where(Bureau.active, Jurisdiction.code.in_(codes))
            .where(Bureau.kind.in_([BureauKind.department, BureauKind.bureau, BureauKind.branch]))
        ).all()
    return sorted(rows, key=lambda b: -len(b.jurisdiction.path))


def transfer_candidates(session: Session, user: User, case_ids: Sequence[int]) -> tuple[list[Case], list[str]]:
    """The chosen cases the reader can see, and why any of them cannot be transferred by the reader now."""
    cases = [c for c in (session.get(Case, cid) for cid in dict.fromkeys(case_ids)) if c is not None]
    problems = [] if len(cases) == len(set(case_ids)) else [_("有线索不存在或无权查看。")]
    for case in cases:
        if not can(case, Action.transfer, user):
            if case.state not in RULES[Action.transfer].sources:
                problems.append(_("线索 %(n)s 当前状态为“%(s)s”，不能移交。", n=case.number, s=label(case.state)))
            else:
                problems.append(_("只有发现单位可以移交线索 %(n)s。", n=case.number))
    return cases, problems


def common_targets(session: Session, user: User, cases: Sequence[Case]) -> list[Bureau]:
    """The bureaus that can take every one of the cases (one form goes to one bureau), nearest first."""
    if not cases:
        return []
    common = [b for b in bureaus_for(session, cases[0]) if b.id != user.bureau_id]
    for case in cases[1:]:
        ids = {b.id for b in bureaus_for(session, case)}
        common = [b for b in common if b.id in ids]
    return common


# One form stays a page or a few (seed 001's form lists a handful of cases): a bigger selection is split into
# several forms by a background job (app/jobs/tasks.py), so no request renders or writes hundreds of cases.
MAX_CASES_PER_FORM = 30


def create_transfer(session: Session, user: User, case_ids: Sequence[int], to_bureau_id: int) -> CaseTransfer:
    """One transfer form for several cases, all to one bureau; cross-province forms are copied to both
    provincial bureaus (seed 001 (二)); the receiving bureau finds them in its inbox."""
    if not case_ids:
        raise ServiceError(_("请选择要移交的线索。"), field="cases")
    if len(set(case_ids)) > MAX_CASES_PER_FORM:
        raise ServiceError(
            _("一张移交单最多载 %(n)d 条线索；更多的线索请分批移交。", n=MAX_CASES_PER_FORM), field="cases"
        )
    cases = [session.get(Case, cid) for cid in dict.fromkeys(case_ids)]
    if any(c is None for c in cases):
        raise NotFound(_("有线索不存在或无权查看。"))
    with unscoped(session):
        to_bureau = session.get(Bureau, to_bureau_id)
    if to_bureau is None or not to_bureau.active:
        raise ServiceError(_("请选择接收单位。"), field="to_bureau")
    if to_bureau.id == user.bureau_id:
        raise ServiceError(_("不能移交给本单位；本辖区的问题请直接受理。"), field="to_bureau")
    for case in cases:
        assert case is not None
        # who and from which state: the transition's rules, checked for every case before anything is written
        if not can(case, Action.transfer, user):
            if case.state not in RULES[Action.transfer].sources:
                raise Conflict(_("线索 %(n)s 当前状态为“%(s)s”，不能移交。", n=case.number, s=label(case.state)))
            raise Forbidden(_("只有发现单位可以移交线索 %(n)s。", n=case.number))
        if to_bureau not in bureaus_for(session, case):
            raise ServiceError(
                _("线索 %(n)s 的问题不在%(b)s辖区，不能移交给该单位。", n=case.number, b=to_bureau.name),
                field="to_bureau",
            )
    with unscoped(session):
        from_j = session.get(Jurisdiction, user.jurisdiction_id)
        to_j = session.get(Jurisdiction, to_bureau.jurisdiction_id)
        cross = _province_of(from_j) != _province_of(to_j)
        now = utcnow()
        number = numbering.transfer_number(session, from_j.code, now.astimezone(LOCAL_TZ).year)
        copies = _provincial_bureaus(session, {_province_of(from_j), _province_of(to_j)}) if cross else []
    transfer = CaseTransfer(
        number=number, from_bureau_id=user.bureau_id, to_bureau_id=to_bureau.id, cross_province=cross,
        created_by_id=user.id, transferred_at=now, jurisdiction_id=to_j.id,
    )  # fmt: skip
    session.add(transfer)
    session.flush()
    for ordinal, case in enumerate(cases, start=1):
        assert case is not None
        session.add(TransferItem(transfer_id=transfer.id, case_id=case.id, ordinal=ordinal))
        transition(session, case, Action.transfer, user, {"to_bureau": to_bureau, "transfer": transfer, "now": now})
        _share(session, case, user.bureau_id, DISCOVERED_BY)
        for bureau in copies:
            _share(session, case, bureau.id, COPY)
    session.flush()
    record(
        session, "case.transfer", obj=transfer,
        after={"number": transfer.number, "to": to_bureau.name, "cases": [c.number for c in cases if c],
               "copied_to": [b.name for b in copies]},
    )  # fmt: skip
    return transfer


def _share(session: Session, case: Case, bureau_id: int, reason: str) -> None:
    if session.get(CaseShare, (case.id, bureau_id)) is None:
        session.add(CaseShare(case_id=case.id, bureau_id=bureau_id, reason=reason))


def _provincial_bureaus(session: Session, province_codes: set[str]) -> list[Bureau]:
    return list(
        session.scalars(
            select(Bureau)
            .join(Jurisdiction, Jurisdiction.id == Bureau.jurisdiction_id)
            .where(Bureau.kind == BureauKind.department, Bureau.active)
            .where(Jurisdiction.code.in_(province_codes), Jurisdiction.level == JurisdictionLevel.province)
            .order_by(Jurisdiction.code)
        )
    )


def store_all(session: Session, files: Sequence[Any], kind: EvidenceKind, user: User, **owner: Any) -> list[Evidence]:
    """Store every upload for its owner (`case=` or `transfer=`): all of them or, on a refusal, none."""
    from app.cases.services.evidence import discard_files, store

    stored: list[Evidence] = []
    try:
        for f in files:
            stored.append(store(session, f.stream, f.filename, kind, user.id, **owner))
    except ServiceError:
        discard_files(stored)
        raise
    return stored


def add_evidence(session: Session, case: Case, user: User, files: Sequence[Any], kind: EvidenceKind) -> list[Evidence]:
    """Attach uploads to a case; the case's discoverer or responsible bureau may add evidence."""
    from app.cases.services.evidence import MAX_FILES

    allowed = user.bureau_id in (case.discovered_bureau_id, case.responsible_bureau_id) and user.roles & WORKERS
    if not allowed:
        raise Forbidden(_("只有发现单位和接收单位可以上传佐证材料。"))
    if case.state is CaseState.closed:
        raise Conflict(_("线索已销号，不能再上传材料。"))
    files = [f for f in files if getattr(f, "filename", "")]
    if len(files) > MAX_FILES:
        raise ServiceError(_("一次最多上传 %(n)d 个文件。", n=MAX_FILES), field="evidence")
    stored = store_all(session, files, kind, user, case=case)
    if stored:
        record(session, "case.evidence", obj=case,
               after={"kind": kind.value,
                      "files": [{"name": e.filename, "sha256": e.sha256} for e in stored]})  # fmt: skip
    return stored


def transfer_context(session: Session, transfer: CaseTransfer) -> tuple[dict[str, Any], list[Path]]:
    """What the transfer form template needs (forms/README.md), and the evidence images it may load."""
    from app.cases.services.evidence import print_copy

    images: list[Path] = []
    rows = []
    with unscoped(session):
        for item in transfer.items:
            case = item.case
            evidence = []
            for e in case.evidence:
                if e.kind is not EvidenceKind.discovery:
                    continue
                entry: dict[str, Any] = {"name": clean_name(e.filename)}
                path = print_copy(e)  # never the original: a copy of at most 1600 px (app.core.images)
                if path is not None:
                    images.append(path)
                    entry["thumbnail"] = str(path)
                evidence.append(entry)
            rows.append({
                "case_no": case.number,
                "inspected_at": case.inspected_at,
                "source_name": case.source_name, "source_address": case.source_address, "problem": case.problem,
                "evidence": evidence,
            })  # fmt: skip
        inspectors = sorted({e.actor_name for item in transfer.items for e in item.case.events if e.action == "create"})
        # Loaded by id: relationships of a row read under a scope keep that scope's criteria.
        names = dict(session.execute(
            select(Bureau.id, Bureau.name).where(Bureau.id.in_([transfer.from_bureau_id, transfer.to_bureau_id]))
        ).all())  # fmt: skip
        context = {
            "form_no": transfer.number,
            "from_bureau": names[transfer.from_bureau_id],
            "to_bureau": names[transfer.to_bureau_id],
            "campaign": "川渝地区秋冬季大气污染联防联控帮扶检查",
            "inspectors": "、".join(inspectors),
            "transferred_at": transfer.transferred_at,
            "cases": rows,
            # seed 001 annex 2: both parties sign and seal, copies go to the two provincial bureaus
            "copies_to": ["重庆市生态环境局", "四川省生态环境厅"],
        }
    return context, images
