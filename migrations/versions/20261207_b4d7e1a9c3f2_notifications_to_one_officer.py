"""notifications to one officer (a case assigned to them)

Revision ID: b4d7e1a9c3f2
Revises: c5e8a2f91d34
Create Date: 2026-12-07 18:30:00

Issue 12.2: a case assigned to an officer notifies that officer alone (`notification.user_id`, read only by
them within their bureau); one new notification kind, `case_assigned`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.helpers import replace_choices_check

revision: str = "b4d7e1a9c3f2"
down_revision: str | None = "c5e8a2f91d34"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = ["case_transferred", "case_received", "case_returned", "case_overdue", "case_escalated",
             "list_submitted", "list_returned", "list_approved", "alert_approval", "alert_approved", "alert_refused",
             "alert_issued", "response_tasks", "response_lifted", "report_late"]  # fmt: skip
NEW_KINDS = [*OLD_KINDS, "case_assigned"]


def _kinds(values: list[str]) -> None:
    replace_choices_check("notification", "notificationkind", "kind", values)


def upgrade() -> None:
    _kinds(NEW_KINDS)
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_notification_user_id_user_account"), "user_account", ["user_id"], ["id"], ondelete="CASCADE"
        )


def downgrade() -> None:
    op.execute("DELETE FROM notification WHERE user_id IS NOT NULL OR kind = 'case_assigned'")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_notification_user_id_user_account"), type_="foreignkey")
        batch_op.drop_column("user_id")
    _kinds(OLD_KINDS)
