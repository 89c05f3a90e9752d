"""notifications of an observed upgrade and of a grading review to conclude

Revision ID: a6c3e9f1b2d8
Revises: b4d7e1a9c3f2
Create Date: 2026-12-07 19:30:00

Two new notification kinds: `alert_observed` (an observed upgrade the plan's rule submitted into the approval
chain, worded with the units and the observed level) and `review_to_conclude` (a grading review of one of the
bureau's enterprises has an expert opinion and waits for the bureau that keeps the list to conclude it).
"""

from collections.abc import Sequence

from alembic import op

from migrations.helpers import replace_choices_check

revision: str = "a6c3e9f1b2d8"
down_revision: str | None = "b4d7e1a9c3f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = ["case_transferred", "case_received", "case_returned", "case_overdue", "case_escalated",
             "list_submitted", "list_returned", "list_approved", "alert_approval", "alert_approved", "alert_refused",
             "alert_issued", "response_tasks", "response_lifted", "report_late", "case_assigned"]  # fmt: skip
ADDED = ["alert_observed", "review_to_conclude"]
NEW_KINDS = [*OLD_KINDS, *ADDED]


def _kinds(values: list[str]) -> None:
    replace_choices_check("notification", "notificationkind", "kind", values)


def upgrade() -> None:
    _kinds(NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM notification WHERE kind IN (" + ", ".join(f"'{v}'" for v in ADDED) + ")")
    _kinds(OLD_KINDS)
