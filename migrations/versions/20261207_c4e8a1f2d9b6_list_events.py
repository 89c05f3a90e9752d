"""list events: a list version's lifecycle as append-only events

Revision ID: c4e8a1f2d9b6
Revises: b7d4e1a9c203
Create Date: 2026-12-07 14:11:30

Issue 11 point 6: a second return no longer overwrites the first. Each list's steps so far are carried across
from its timestamps (created, submitted, the last decision with its reason, published): what the old columns
kept is all that is known of the past.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db
from migrations.helpers import create_append_only, drop_append_only

revision: str = "c4e8a1f2d9b6"
down_revision: str | None = "b7d4e1a9c203"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIONS = ("create", "submit", "return", "approve", "publish", "new_version")
STATES = ("draft", "submitted", "returned", "approved", "published")
INSERT = (
    "INSERT INTO reduction_list_event (list_id, jurisdiction_id, action, at, user_id, bureau_id, reason, state) "
)


def upgrade() -> None:
    op.create_table(
        "reduction_list_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.Enum(*ACTIONS, name="listaction", native_enum=False, create_constraint=True,
                                    length=16), nullable=False),  # fmt: skip
        sa.Column("at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("bureau_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=1000), nullable=True),
        sa.Column("state", sa.Enum(*STATES, name="liststate", native_enum=False, create_constraint=True, length=16),
                  nullable=False),  # fmt: skip
        sa.Column("jurisdiction_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["bureau_id"], ["bureau.id"], name=op.f("fk_reduction_list_event_bureau_id_bureau"),
                                ondelete="RESTRICT"),  # fmt: skip
        sa.ForeignKeyConstraint(["jurisdiction_id"], ["jurisdiction.id"],
                                name=op.f("fk_reduction_list_event_jurisdiction_id_jurisdiction"),
                                ondelete="RESTRICT"),  # fmt: skip
        sa.ForeignKeyConstraint(["list_id", "jurisdiction_id"], ["reduction_list.id", "reduction_list.jurisdiction_id"],
                                name=op.f("fk_reduction_list_event_list_id_jurisdiction_id_reduction_list"),
                                ondelete="RESTRICT"),  # fmt: skip
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_reduction_list_event_user_id_user_account"),
                                ondelete="RESTRICT"),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reduction_list_event")),
    )
    with op.batch_alter_table("reduction_list_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reduction_list_event_jurisdiction_id"), ["jurisdiction_id"], unique=False)
        batch_op.create_index("ix_reduction_list_event_list_at", ["list_id", "at"], unique=False)
    who = "(SELECT u.bureau_id FROM user_account u WHERE u.id = {col})"
    op.execute(
        INSERT + "SELECT id, jurisdiction_id, 'create', created_at, created_by_id, bureau_id, NULL, 'draft' "
        "FROM reduction_list"
    )
    op.execute(
        INSERT + "SELECT id, jurisdiction_id, 'submit', submitted_at, submitted_by_id, bureau_id, NULL, 'submitted' "
        "FROM reduction_list WHERE submitted_at IS NOT NULL"
    )
    op.execute(
        INSERT + "SELECT id, jurisdiction_id, "
        "CASE WHEN state IN ('approved', 'published') THEN 'approve' ELSE 'return' END, decided_at, decided_by_id, "
        f"{who.format(col='decided_by_id')}, CASE WHEN state = 'returned' THEN return_reason END, "
        "CASE WHEN state IN ('approved', 'published') THEN 'approved' ELSE 'returned' END "
        "FROM reduction_list WHERE decided_at IS NOT NULL"
    )
    op.execute(
        INSERT + "SELECT id, jurisdiction_id, 'publish', published_at, NULL, bureau_id, NULL, 'published' "
        "FROM reduction_list WHERE published_at IS NOT NULL"
    )
    create_append_only("reduction_list_event")


def downgrade() -> None:
    drop_append_only("reduction_list_event")
    with op.batch_alter_table("reduction_list_event", schema=None) as batch_op:
        batch_op.drop_index("ix_reduction_list_event_list_at")
        batch_op.drop_index(batch_op.f("ix_reduction_list_event_jurisdiction_id"))
    op.drop_table("reduction_list_event")
