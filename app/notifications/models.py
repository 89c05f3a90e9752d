"""A notification is addressed to a bureau (every officer of it sees it) and read by each officer on their own."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, enum_type, utcnow


class NotificationKind(enum.StrEnum):
    case_transferred = "case_transferred"
    case_received = "case_received"
    case_returned = "case_returned"
    case_overdue = "case_overdue"
    case_escalated = "case_escalated"
    list_submitted = "list_submitted"
    list_returned = "list_returned"
    list_approved = "list_approved"
    alert_approval = "alert_approval"
    alert_approved = "alert_approved"
    alert_refused = "alert_refused"
    alert_issued = "alert_issued"
    response_tasks = "response_tasks"
    response_lifted = "response_lifted"
    report_late = "report_late"
    case_assigned = "case_assigned"  # to one officer (Notification.user_id)
    alert_observed = "alert_observed"  # an observed upgrade the plan's rule submitted, to its deciders
    review_to_conclude = "review_to_conclude"  # a grading review with an opinion, to the list's keeper


class Notification(Base):
    """Not jurisdiction-scoped: the sender's bureau writes it for another bureau, and reads are always by the
    reader's own bureau (`services.for_user`). With `user_id`, only that officer of the bureau reads it (a case
    assigned to them)."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_bureau_recent", "bureau_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bureau_id: Mapped[int] = mapped_column(ForeignKey("bureau.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    kind: Mapped[NotificationKind] = mapped_column(enum_type(NotificationKind, 24))
    # Kept as data, worded at display time in the reader's language (services.TEXTS).
    subject: Mapped[str] = mapped_column(String(300))
    detail: Mapped[str] = mapped_column(String(300), default="")
    # Where the message leads: an endpoint of this site and the id of its object (a case, a list).
    endpoint: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationRead(Base):
    __tablename__ = "notification_read"

    notification_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("notification.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    read_at: Mapped[datetime] = mapped_column(default=utcnow)
