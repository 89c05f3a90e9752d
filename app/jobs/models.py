"""A job: one piece of long work a user asked for (an export, an import, a batch of transfer forms), its
progress, its result file or its error. The job row and the work it does are committed in one transaction."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, enum_type, state_check, utcnow


class JobState(enum.StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"


FINISHED = (JobState.done, JobState.failed, JobState.cancelled)


class Job(Base):
    """Visible to the bureau that asked for it (`bureau_id`); the work runs with the requester's scope.
    `jurisdiction_id` is the root of that scope when the job was asked for (NULL: a periodic system job)."""

    __tablename__ = "job"
    __table_args__ = (
        CheckConstraint("progress_done >= 0 AND progress_total >= 0", name="progress_positive"),
        CheckConstraint("attempts >= 0", name="attempts_positive"),
        state_check("running_started", (JobState.running,), "started_at IS NOT NULL"),
        state_check("finished_at_set", FINISHED, "finished_at IS NOT NULL"),
        state_check("failed_has_error", (JobState.failed,), "error IS NOT NULL"),
        Index("ix_job_bureau_id_created_at", "bureau_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    state: Mapped[JobState] = mapped_column(enum_type(JobState, 16), default=JobState.queued)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    progress_done: Mapped[int] = mapped_column(default=0)
    progress_total: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    result_file: Mapped[str | None] = mapped_column(String(300))  # a name under UPLOAD_DIR/jobs
    result_name: Mapped[str | None] = mapped_column(String(300))  # the download's file name
    result: Mapped[dict[str, Any] | None]  # a summary the page shows (counts, links)
    error: Mapped[str | None] = mapped_column(Text)  # for the user, in Chinese
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"), index=True)
    bureau_id: Mapped[int | None] = mapped_column(ForeignKey("bureau.id", ondelete="RESTRICT"))
    jurisdiction_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdiction.id", ondelete="RESTRICT"))
    request_ip: Mapped[str | None] = mapped_column(String(64))

    @property
    def finished(self) -> bool:
        return self.state in FINISHED
