"""background jobs (Huey runs them; the row holds state, progress, result and error)

Revision ID: e7a1b2c3d4f5
Revises: e7b1d2c4a9f0
Create Date: 2026-12-07 06:09:07.209784
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db
from sqlalchemy.dialects import postgresql

revision: str = 'e7a1b2c3d4f5'
down_revision: str | None = 'e7b1d2c4a9f0'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('job',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('state', sa.Enum('queued', 'running', 'done', 'failed', 'cancelled', name='jobstate', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('params', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('progress_done', sa.Integer(), nullable=False),
    sa.Column('progress_total', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('cancel_requested', sa.Boolean(), nullable=False),
    sa.Column('created_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('started_at', app.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', app.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('result_file', sa.String(length=300), nullable=True),
    sa.Column('result_name', sa.String(length=300), nullable=True),
    sa.Column('result', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('bureau_id', sa.Integer(), nullable=True),
    sa.Column('jurisdiction_id', sa.Integer(), nullable=True),
    sa.Column('request_ip', sa.String(length=64), nullable=True),
    sa.CheckConstraint("state NOT IN ('done', 'failed', 'cancelled') OR (finished_at IS NOT NULL)", name=op.f('ck_job_finished_at_set')),
    sa.CheckConstraint("state NOT IN ('failed') OR (error IS NOT NULL)", name=op.f('ck_job_failed_has_error')),
    sa.CheckConstraint("state NOT IN ('running') OR (started_at IS NOT NULL)", name=op.f('ck_job_running_started')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_job_attempts_positive')),
    sa.CheckConstraint('progress_done >= 0 AND progress_total >= 0', name=op.f('ck_job_progress_positive')),
    sa.ForeignKeyConstraint(['bureau_id'], ['bureau.id'], name=op.f('fk_job_bureau_id_bureau'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdiction.id'], name=op.f('fk_job_jurisdiction_id_jurisdiction'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user_account.id'], name=op.f('fk_job_requested_by_id_user_account'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job'))
    )
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.create_index('ix_job_bureau_id_created_at', ['bureau_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_requested_by_id'), ['requested_by_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_requested_by_id'))
        batch_op.drop_index('ix_job_bureau_id_created_at')

    op.drop_table('job')
