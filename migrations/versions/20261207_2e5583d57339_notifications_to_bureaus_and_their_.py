"""notifications to bureaus and their readers

Revision ID: 2e5583d57339
Revises: c4a5e1d0f7b2
Create Date: 2026-12-07 06:00:25.286236

Notifications are addressed to a bureau; each officer marks them read on their own.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db


revision: str = '2e5583d57339'
down_revision: str | None = 'c4a5e1d0f7b2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('notification',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('bureau_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('case_transferred', 'case_received', 'case_returned', 'case_overdue', 'case_escalated', 'list_submitted', 'list_returned', 'list_approved', name='notificationkind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('detail', sa.String(length=300), nullable=False),
    sa.Column('endpoint', sa.String(length=64), nullable=False),
    sa.Column('object_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bureau_id'], ['bureau.id'], name=op.f('fk_notification_bureau_id_bureau'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification'))
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_bureau_recent', ['bureau_id', 'id'], unique=False)

    op.create_table('notification_read',
    sa.Column('notification_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('read_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['notification_id'], ['notification.id'], name=op.f('fk_notification_read_notification_id_notification'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_notification_read_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('notification_id', 'user_id', name=op.f('pk_notification_read'))
    )


def downgrade() -> None:
    op.drop_table('notification_read')
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_bureau_recent')

    op.drop_table('notification')
