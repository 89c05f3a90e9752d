"""case list indexes and plan case limits

The inbox and overdue lists read partial indexes of the open cases in due order; the scope criterion reads a
bureau's shared case ids from (bureau_id, case_id) alone. (state, due_at) and (responsible_bureau_id, state)
served none of the lists any more (EXPLAINs in docs/cases.md, "Speed"). Plans get their case time limits.

Revision ID: 269af9e34e3e
Revises: 29b4e24a37b6
Create Date: 2026-11-23 12:38:58.231574
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '269af9e34e3e'
down_revision: str | None = '29b4e24a37b6'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INBOX = sa.text("state IN ('transferred', 'received', 'handling', 'rectifying')")
OPEN = sa.text("state <> 'closed'")


def upgrade() -> None:
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_record_due'))
        batch_op.drop_index(batch_op.f('ix_case_record_inbox'))
        batch_op.create_index('ix_case_record_inbox_due', ['responsible_bureau_id', 'due_at'], unique=False,
                              postgresql_where=INBOX, sqlite_where=INBOX)
        batch_op.create_index('ix_case_record_open_due', ['jurisdiction_id', 'due_at'], unique=False,
                              postgresql_where=OPEN, sqlite_where=OPEN)
        batch_op.create_index('ix_case_record_overdue', ['due_at'], unique=False,
                              postgresql_where=OPEN, sqlite_where=OPEN)

    with op.batch_alter_table('case_share', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_share_bureau_id'))
        batch_op.create_index('ix_case_share_bureau_case', ['bureau_id', 'case_id'], unique=False)

    with op.batch_alter_table('plan', schema=None) as batch_op:
        batch_op.add_column(sa.Column('case_limits', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()),
                                                                           'postgresql'), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('plan', schema=None) as batch_op:
        batch_op.drop_column('case_limits')

    with op.batch_alter_table('case_share', schema=None) as batch_op:
        batch_op.drop_index('ix_case_share_bureau_case')
        batch_op.create_index(batch_op.f('ix_case_share_bureau_id'), ['bureau_id'], unique=False)

    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.drop_index('ix_case_record_overdue')
        batch_op.drop_index('ix_case_record_open_due')
        batch_op.drop_index('ix_case_record_inbox_due')
        batch_op.create_index(batch_op.f('ix_case_record_inbox'), ['responsible_bureau_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_record_due'), ['state', 'due_at'], unique=False)
