"""A task's checks: each measure ticked as carried out or not with photo evidence; one found not carried out
opens a case in the same step (app/cases/services/records.create_case, origin field_inspection), filled in with
the enterprise, the measure, the level and the photos, and accepted at once by the inspector's bureau when the
enterprise lies in its area (so the case waits in that bureau's inbox). The task's state moves by one
transition function."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.services import record
from app.auth.models import User
from app.auth.roles import Permission
from app.cases.models import Case
from app.cases.services import evidence as case_evidence
from app.cases.services import records
from app.cases.services import workflow as case_workflow
from app.cases.vocabulary import EvidenceKind, Origin, SourceType
from app.core.errors import Conflict, Forbidden, ServiceError
from app.core.scoping import unscoped
from app.db import utcnow
from app.places.models import Jurisdiction
from app.response.models import ResponseMeasure, ResponsePhoto, ResponseTask
from app.response.services import photos as photo_store
from app.response.vocabulary import CheckStatus, TaskState

CASE_TOPIC = "未落实应急减排措施"  # cases.vocabulary.TOPICS[industrial][0]

# The task's workflow: action → (from states, to state).
TRANSITIONS: dict[str, tuple[frozenset[TaskState], TaskState]] = {
    "complete": (frozenset({TaskState.open}), TaskState.done),
    "reopen": (frozenset({TaskState.done, TaskState.closed}), TaskState.open),
    "close": (frozenset({TaskState.open, TaskState.done}), TaskState.closed),
}


def transition(task: ResponseTask, action: str, now: datetime) -> None:
    sources, target = TRANSITIONS[action]
    if task.state not in sources:
        raise Conflict(_("任务当前状态为“%(s)s”，不能%(a)s。", s=task.state.label, a=action))
    task.state = target
    if target is TaskState.done:
        task.checked_at = now
    elif target is TaskState.closed:
        task.closed_at = now
    else:
        task.closed_at = None


def refresh_state(task: ResponseTask, now: datetime) -> None:
    """Done when every required measure is checked (a task with nothing required is done at once), open when
    one is still to check; a closed task stays closed."""
    if task.state is TaskState.closed:
        return
    pending = any(m.required and m.status is CheckStatus.pending for m in task.measures)
    if task.state is TaskState.open and not pending:
        transition(task, "complete", now)
    elif task.state is TaskState.done and pending:
        transition(task, "reopen", now)


def check(session: Session, user: User, task: ResponseTask, measure: ResponseMeasure, status: str, *,
          remark: str = "", files: Sequence[Any] = (), now: datetime | None = None) -> Case | None:  # fmt: skip
    """Record one measure's check with its photos; `not_carried_out` opens a case at once. Returns the case."""
    now = now or utcnow()
    if not user.can(Permission.work_response):
        raise Forbidden(_("只有执法检查员和生态环境部门业务人员可以核查应急响应任务。"))
    if measure.task_id != task.id:
        raise ServiceError(_("该措施不属于此任务。"), field="measure")
    if task.state is TaskState.closed:
        raise Conflict(_("应急响应已解除，任务已关闭，不能再核查。"))
    try:
        outcome = CheckStatus(status)
    except ValueError:
        raise ServiceError(_("请选择核查结果：已落实或未落实。"), field="status") from None
    if outcome is CheckStatus.pending:
        raise ServiceError(_("请选择核查结果：已落实或未落实。"), field="status")
    if measure.case_id is not None:
        raise Conflict(_("该措施已登记问题线索，不能再改核查结果。"))
    remark = (remark or "").strip()[:1000]
    files = photo_store.uploads(files)
    if not files and not measure.photos:
        raise ServiceError(_("请上传现场照片作为核查佐证。"), field="photos")
    if outcome is CheckStatus.not_carried_out and not remark:
        raise ServiceError(_("请写明未落实的情况。"), field="remark")
    stored = photo_store.store_all(session, files, user.id, measure=measure)
    try:
        before = measure.status.value
        measure.status, measure.checked_at, measure.checked_by_id, measure.remark = outcome, now, user.id, remark
        session.flush()
        case = open_case(session, user, task, measure, now) if outcome is CheckStatus.not_carried_out else None
        session.refresh(measure, ["photos"])
        refresh_state(task, now)
        session.flush()
    except Exception:
        photo_store.discard(stored)
        raise
    record(session, "response_task.check", obj=task,
           before={"measure": measure.id, "status": before},
           after={"measure": measure.id, "status": outcome.value, "case": case.number if case else None,
                  "photos": [{"name": p.filename, "sha256": p.sha256} for p in stored]})  # fmt: skip
    return case


def open_case(session: Session, user: User, task: ResponseTask, measure: ResponseMeasure, now: datetime) -> Case:
    """The case of a measure found not carried out: the enterprise, the measure, the level, the photos."""
    with unscoped(session):
        place = session.get(Jurisdiction, task.jurisdiction_id)
    assert place is not None
    problem = _(
        "%(level)s（%(response)s）期间，%(name)s未落实“一厂一策”减排措施：%(measure)s"
        "（核查方式：%(how)s）。%(remark)s",
        level=task.level.label, response=task.level.response_level.label, name=task.enterprise_name,
        measure=measure.describe(), how=measure.verification.label, remark=measure.remark,
    )  # fmt: skip
    case = records.create_case(session, user, {
        "source_type": SourceType.industrial.value, "origin": Origin.field_inspection.value, "topic": CASE_TOPIC,
        "source_name": task.enterprise_name, "source_address": task.address, "enterprise_uscc": task.uscc,
        "problem": problem, "place": place.code, "inspected_at": now,
    })  # fmt: skip
    copied: list[Any] = []
    try:
        for photo in session.scalars(select(ResponsePhoto).where(ResponsePhoto.measure_id == measure.id)):
            with photo_store.path_of(photo).open("rb") as f:
                copied.append(
                    case_evidence.store(session, f, photo.filename, EvidenceKind.discovery, user.id, case=case)
                )
    except ServiceError:
        case_evidence.discard_files(copied)
        raise
    measure.case_id = case.id
    session.flush()
    # Found in the inspector's own area: its bureau handles it, the case waits in its inbox. Elsewhere (Forbidden)
    # the discovering bureau transfers it (移交) as any case.
    with contextlib.suppress(Forbidden):
        case_workflow.transition(session, case, case_workflow.Action.accept, user)
    return case


def measures_of(task: ResponseTask) -> list[ResponseMeasure]:
    """Required measures first (in policy order), then those kept from an earlier level."""
    return sorted(task.measures, key=lambda m: (not m.required, m.id))
