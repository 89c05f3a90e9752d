"""plan rules and forecasts

Revision ID: e7a2c9d41b03
Revises: e7a1b2c3d4f5
Create Date: 2026-12-07 06:40:00

A plan's checked rules (alert levels, trigger, approval chains, reporting, targets) are stored with it; forecasts
and observations come in as issues (one per distinct content) of values per unit and day or hour; two roles
(vice_governor, vice_mayor) join the user_role CHECK constraint.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'e7a2c9d41b03'
down_revision: str | None = 'e7a1b2c3d4f5'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_ROLES = ['system_admin', 'audit_admin', 'province_staff', 'city_staff', 'district_staff', 'inspector',
             'forecast_center', 'reviewer', 'approver', 'group_leader', 'deputy_leader', 'commander',
             'deputy_commander', 'office_director']
# The regional red alert's approvers (seed 000 四(四)): a plan's approval chain names these roles.
NEW_ROLES = [*OLD_ROLES, 'vice_governor', 'vice_mayor']


def _roles(values: list[str]) -> None:
    with op.batch_alter_table('user_role', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_user_role_role'), type_='check')
        batch_op.create_check_constraint('role', 'role IN (' + ', '.join(f"'{v}'" for v in values) + ')')


JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    _roles(NEW_ROLES)
    with op.batch_alter_table('plan', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rules', JSON, nullable=True))
    op.create_table(
        'forecast_issue',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.Enum('forecast', 'observation', name='readingkind', native_enum=False,
                                  create_constraint=True, length=16), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('resolution', sa.String(length=8), nullable=False),
        sa.Column('source_name', sa.String(length=255), nullable=False),
        sa.Column('row_count', sa.Integer(), nullable=False),
        sa.Column('first_start', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_start', sa.DateTime(timezone=True), nullable=False),
        sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['uploaded_by_id'], ['user_account.id'],
                                name=op.f('fk_forecast_issue_uploaded_by_id_user_account'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_forecast_issue')),
        sa.UniqueConstraint('kind', 'digest', name=op.f('uq_forecast_issue_kind_digest')),
    )
    with op.batch_alter_table('forecast_issue', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_forecast_issue_created_at'), ['created_at'], unique=False)
    op.create_table(
        'forecast_value',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('issue_id', sa.Integer(), nullable=False),
        sa.Column('jurisdiction_id', sa.Integer(), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('hours', sa.Integer(), nullable=False),
        sa.Column('aqi', sa.Integer(), nullable=True),
        sa.Column('aqi_min', sa.Integer(), nullable=True),
        sa.Column('aqi_max', sa.Integer(), nullable=True),
        sa.Column('pm25', sa.Double(), nullable=True),
        sa.Column('aqi_pm25', sa.Integer(), nullable=True),
        sa.Column('aqi_table', sa.String(length=32), nullable=True),
        sa.Column('primary_pollutant', sa.String(length=16), nullable=True),
        sa.Column('dust', sa.Boolean(), nullable=False),
        sa.CheckConstraint('hours IN (1, 24)', name=op.f('ck_forecast_value_day_or_hour')),
        sa.CheckConstraint('aqi IS NOT NULL OR aqi_max IS NOT NULL OR pm25 IS NOT NULL',
                           name=op.f('ck_forecast_value_has_a_value')),
        sa.CheckConstraint('aqi_min IS NULL OR aqi_max IS NULL OR aqi_min <= aqi_max',
                           name=op.f('ck_forecast_value_range_ordered')),
        sa.ForeignKeyConstraint(['issue_id'], ['forecast_issue.id'],
                                name=op.f('fk_forecast_value_issue_id_forecast_issue'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdiction.id'],
                                name=op.f('fk_forecast_value_jurisdiction_id_jurisdiction'), ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_forecast_value')),
        sa.UniqueConstraint('issue_id', 'jurisdiction_id', 'starts_at', name=op.f('uq_forecast_value_issue_id_jurisdiction_id_starts_at')),
    )
    with op.batch_alter_table('forecast_value', schema=None) as batch_op:
        batch_op.create_index('ix_forecast_value_unit_time', ['jurisdiction_id', 'starts_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('forecast_value', schema=None) as batch_op:
        batch_op.drop_index('ix_forecast_value_unit_time')
    op.drop_table('forecast_value')
    with op.batch_alter_table('forecast_issue', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_forecast_issue_created_at'))
    op.drop_table('forecast_issue')
    with op.batch_alter_table('plan', schema=None) as batch_op:
        batch_op.drop_column('rules')
    _roles(OLD_ROLES)
