"""Correcting a case before it is transferred or after it was returned: the discovering bureau edits what it
logged (the same checks as a new case); the timeline and the audit keep what changed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.audit.services import record
from app.auth.models import User
from app.cases.models import DISCOVERED_BY, Case, CaseShare, Evidence, Inspection
from app.cases.services.records import case_fields
from app.cases.services.workflow import WORKERS, add_event
from app.cases.vocabulary import CaseState
from app.core.errors import Conflict, Forbidden
from app.core.scoping import get_scope, unscoped

EDITABLE = (CaseState.discovered, CaseState.returned)
# Kept out of the timeline's note: confidential.
CONFIDENTIAL = ("complainant_name", "complainant_phone")


def can_edit(case: Case, user: User) -> bool:
    return case.state in EDITABLE and user.bureau_id == case.discovered_bureau_id and bool(user.roles & WORKERS)


def update_case(
    session: Session, case: Case, user: User, data: Mapping[str, Any], *, expected_version: int | None = None
) -> dict[str, Any]:
    """Correct a case; returns what changed (field → [before, after]). The number and the discoverer stay."""
    if case.state not in EDITABLE:
        raise Conflict(_("线索已移交，不能再修改；被退回后可修改。"))
    if not can_edit(case, user):
        raise Forbidden(_("只有发现单位可以修改线索。"))
    if expected_version is not None and expected_version != case.lock_version:
        raise Conflict(_("该线索已被他人修改，请刷新后再试。"))
    fields, place = case_fields(session, data)
    fields["jurisdiction_id"] = place.id
    changed = {k: [_plain(getattr(case, k)), _plain(v)] for k, v in fields.items() if getattr(case, k) != v}
    if not changed:
        return {}
    with session.no_autoflush:
        for key, value in fields.items():
            setattr(case, key, value)
    if "jurisdiction_id" in changed:
        # Its evidence and inspection follow it to its new place; its timeline is append-only and is read with
        # the case (queries.timeline).
        with unscoped(session):
            for model in (Evidence, Inspection):
                session.execute(
                    update(model).where(model.case_id == case.id).values(jurisdiction_id=place.id)
                    .execution_options(synchronize_session=False)
                )  # fmt: skip
        scope = get_scope(session)
        if (
            scope is not None
            and not scope.can_write(place.id)
            and session.get(CaseShare, (case.id, user.bureau_id)) is None
        ):
            session.add(CaseShare(case_id=case.id, bureau_id=user.bureau_id, reason=DISCOVERED_BY))
    shown = [k for k in changed if k not in CONFIDENTIAL]
    note = "、".join(dict.fromkeys(FIELD_LABELS.get(k, k) for k in shown))  # stored data: Chinese
    add_event(session, case, user, "edit", case.state, case.state, note=note, data={"fields": shown})
    session.flush()
    public = {k: v for k, v in changed.items() if k not in CONFIDENTIAL}
    record(session, "case.edit", obj=case, before={k: v[0] for k, v in public.items()},
           after={k: v[1] for k, v in public.items()})  # fmt: skip
    return changed


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return getattr(value, "value", value)


FIELD_LABELS = {
    "source_type": "污染源类型", "topic": "问题类别", "origin": "线索来源", "inspected_at": "检查时间",
    "source_name": "污染源名称", "source_address": "污染源地址", "enterprise_uscc": "统一社会信用代码",
    "problem": "问题描述", "latitude": "位置", "longitude": "位置", "complainant_name": "投诉人",
    "complainant_phone": "投诉人电话", "jurisdiction_id": "所在区县",
}  # fmt: skip
