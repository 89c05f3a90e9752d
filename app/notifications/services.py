"""Sending notifications with each step of the work, and reading them: always by the reader's own bureau."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from app.audit.services import record
from app.auth.models import Bureau, User
from app.core.scoping import unscoped
from app.notifications.models import Notification, NotificationKind, NotificationRead

TEXTS = {
    NotificationKind.case_transferred: _l("新移交线索待签收：%(subject)s（%(detail)s移交）"),
    NotificationKind.case_received: _l("线索 %(subject)s 已由%(detail)s签收"),
    NotificationKind.case_returned: _l("线索 %(subject)s 被退回：%(detail)s"),
    NotificationKind.case_overdue: _l("线索 %(subject)s 已超期：%(detail)s"),
    NotificationKind.case_escalated: _l("线索 %(subject)s 升级督办：%(detail)s"),
    NotificationKind.list_submitted: _l("%(subject)s 已报送，待审核（%(detail)s）"),
    NotificationKind.list_returned: _l("%(subject)s 被退回：%(detail)s"),
    NotificationKind.list_approved: _l("%(subject)s 已审核通过（%(detail)s）"),
    NotificationKind.alert_approval: _l("预警建议待审批：%(subject)s（%(detail)s）"),
    NotificationKind.alert_approved: _l("预警建议已批准，待发布：%(subject)s（%(detail)s）"),
    NotificationKind.alert_refused: _l("预警建议未获批准：%(subject)s：%(detail)s"),
    NotificationKind.alert_issued: _l("%(subject)s 已发布，请启动并确认（%(detail)s）"),
    NotificationKind.response_tasks: _l("应急响应任务：%(subject)s（%(detail)s）"),
    NotificationKind.response_lifted: _l("应急响应已解除：%(subject)s（%(detail)s）"),
    NotificationKind.report_late: _l("日报逾期：%(subject)s（%(detail)s）"),
    NotificationKind.case_assigned: _l("线索 %(subject)s 已指派给您承办（%(detail)s）"),
    NotificationKind.alert_observed: _l("实测升级待审批：%(subject)s（实测已达%(detail)s）"),
    NotificationKind.review_to_conclude: _l("绩效评级复核待完成：%(subject)s（专家意见已录入：%(detail)s）"),
}
PAGE = 50


def notify(
    session: Session, bureau_ids: Iterable[int | None], kind: NotificationKind, *, subject: str, detail: str = "",
    endpoint: str, object_id: int, officer: User | None = None,
) -> None:  # fmt: skip
    """One message to each named bureau, in the transaction of the step that sends it; with `officer`, to that
    officer alone (in their bureau: `notify_officer`)."""
    for bureau_id in sorted({b for b in bureau_ids if b is not None}):
        session.add(
            Notification(
                bureau_id=bureau_id, user_id=officer.id if officer is not None else None, kind=kind,
                subject=subject[:300], detail=(detail or "")[:300], endpoint=endpoint, object_id=object_id,
            )
        )  # fmt: skip


def notify_officer(
    session: Session, user: User, kind: NotificationKind, *, subject: str, detail: str = "", endpoint: str,
    object_id: int,
) -> None:  # fmt: skip
    """One message to one officer, read by them alone."""
    notify(session, [user.bureau_id], kind, subject=subject, detail=detail, endpoint=endpoint, object_id=object_id,
           officer=user)  # fmt: skip


def bureaus_of(session: Session, jurisdiction_id: int | None) -> list[int]:
    """The active bureaus of a jurisdiction, also outside the sender's scope (a county writes to its city)."""
    if jurisdiction_id is None:
        return []
    with unscoped(session):
        return list(session.scalars(select(Bureau.id).where(Bureau.jurisdiction_id == jurisdiction_id, Bureau.active)))


@dataclass(frozen=True)
class Item:
    id: int
    kind: NotificationKind
    text: str
    endpoint: str
    object_id: int
    created_at: datetime
    read: bool


def _mine(user: User) -> Any:
    """The reader's bureau's messages, less those addressed to another of its officers."""
    return (Notification.bureau_id == user.bureau_id) & (
        Notification.user_id.is_(None) | (Notification.user_id == user.id)
    )


def _unread(user: Any) -> Any:
    """Not read by `user`: an officer, or the `User` class itself for a subquery correlated to the reader's row
    (the correlation named, since the reader's row stands in the enclosing statement)."""
    read = exists().where(NotificationRead.notification_id == Notification.id, NotificationRead.user_id == user.id)
    return ~read.correlate(Notification, User)


def unread_count(session: Session, user: User) -> int:
    return session.scalar(select(func.count()).where(_mine(user), _unread(user))) or 0


def unread_count_of_reader() -> Any:
    """The badge's count as a subquery correlated to the reader's `User` row: the request cycle reads it in the
    statement that identifies the reader (auth.services), so the layout costs no statement of its own."""
    return select(func.count()).where(_mine(User), _unread(User)).correlate(User).scalar_subquery()  # type: ignore[arg-type]


def for_user(session: Session, user: User, *, limit: int = PAGE) -> list[Item]:
    read = (
        select(NotificationRead.notification_id)
        .where(NotificationRead.user_id == user.id, NotificationRead.notification_id == Notification.id)
        .exists()
    )
    rows = session.execute(
        select(Notification, read).where(_mine(user)).order_by(Notification.id.desc()).limit(limit)
    ).all()
    return [
        Item(n.id, n.kind, str(TEXTS[n.kind]) % {"subject": n.subject, "detail": n.detail}, n.endpoint,
             n.object_id, n.created_at, bool(is_read))
        for n, is_read in rows
    ]  # fmt: skip


def mark_read(session: Session, user: User, notification_id: int | None = None) -> int:
    """Mark one of the reader's notifications, or all of them, as read; returns how many were unread."""
    stmt = select(Notification.id).where(_mine(user), _unread(user))
    if notification_id is not None:
        stmt = stmt.where(Notification.id == notification_id)
    ids = list(session.scalars(stmt))
    for nid in ids:
        session.add(NotificationRead(notification_id=nid, user_id=user.id))
    if ids:
        session.flush()
        record(session, "notification.read", object_type="notification", object_id=notification_id or "all",
               after={"count": len(ids)})  # fmt: skip
    return len(ids)
