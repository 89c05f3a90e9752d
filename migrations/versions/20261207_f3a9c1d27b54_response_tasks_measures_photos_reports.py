"""response tasks, measures, photos, reports

Revision ID: f3a9c1d27b54
Revises: f3a9c2d71e05
Create Date: 2026-12-07 11:12:13.189886

The response to an issued alert (issue 13 points 6-7): activated units and the places they cover, one task per
listed enterprise with its measures' snapshot and checks, photos, daily reports and summaries; three new
notification kinds.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db
from migrations.helpers import replace_choices_check

revision: str = "f3a9c1d27b54"
down_revision: str | None = "f3a9c2d71e05"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = ["case_transferred", "case_received", "case_returned", "case_overdue", "case_escalated",
             "list_submitted", "list_returned", "list_approved", "alert_approval", "alert_approved", "alert_refused",
             "alert_issued"]
NEW_KINDS = [*OLD_KINDS, "response_tasks", "response_lifted", "report_late"]


def _kinds(values: list[str]) -> None:
    replace_choices_check("notification", "notificationkind", "kind", values)


def upgrade() -> None:
    _kinds(NEW_KINDS)
    op.create_table(
        "response_unit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("episode_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column(
            "level",
            sa.Enum("yellow", "orange", "red", name="alertlevel", native_enum=False, create_constraint=True, length=16),
            nullable=False,
        ),
        sa.Column("starts_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", app.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("ends_at IS NULL OR ends_at >= starts_at", name=op.f("ck_response_unit_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["jurisdiction_id"],
            ["jurisdiction.id"],
            name=op.f("fk_response_unit_jurisdiction_id_jurisdiction"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plan.id"], name=op.f("fk_response_unit_plan_id_plan"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["episode_id"], ["episode.id"], name=op.f("fk_response_unit_episode_id_episode"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_unit")),
        sa.UniqueConstraint("episode_id", "jurisdiction_id", name=op.f("uq_response_unit_episode_id_jurisdiction_id")),
    )
    with op.batch_alter_table("response_unit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_response_unit_episode_id"), ["episode_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_response_unit_jurisdiction_id"), ["jurisdiction_id"], unique=False)

    op.create_table(
        "response_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("episode_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("daily", "summary", name="reportkind", native_enum=False, create_constraint=True, length=16),
            nullable=False,
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("due_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("submitted_by_id", sa.Integer(), nullable=False),
        sa.Column("bureau_id", sa.Integer(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column(
            "fields", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "figures", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bureau_id"], ["bureau.id"], name=op.f("fk_response_report_bureau_id_bureau"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["jurisdiction_id"],
            ["jurisdiction.id"],
            name=op.f("fk_response_report_jurisdiction_id_jurisdiction"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_id"],
            ["user_account.id"],
            name=op.f("fk_response_report_submitted_by_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["response_unit.id"], name=op.f("fk_response_report_unit_id_response_unit"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_report")),
        sa.UniqueConstraint("unit_id", "kind", "day", name=op.f("uq_response_report_unit_id_kind_day")),
    )
    with op.batch_alter_table("response_report", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_response_report_episode_id"), ["episode_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_response_report_jurisdiction_id"), ["jurisdiction_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_response_report_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "response_area",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("episode_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column(
            "level",
            sa.Enum("yellow", "orange", "red", name="alertlevel", native_enum=False, create_constraint=True, length=16),
            nullable=False,
        ),
        sa.Column("list_id", sa.Integer(), nullable=True),
        sa.Column("closed_at", app.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["jurisdiction_id"],
            ["jurisdiction.id"],
            name=op.f("fk_response_area_jurisdiction_id_jurisdiction"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["reduction_list.id"],
            name=op.f("fk_response_area_list_id_reduction_list"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["response_unit.id"], name=op.f("fk_response_area_unit_id_response_unit"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_area")),
        sa.UniqueConstraint("episode_id", "jurisdiction_id", name=op.f("uq_response_area_episode_id_jurisdiction_id")),
    )
    with op.batch_alter_table("response_area", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_response_area_episode_id"), ["episode_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_response_area_jurisdiction_id"), ["jurisdiction_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_response_area_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "response_task",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("episode_id", sa.Integer(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("enterprise_name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                "key",
                "guarantee",
                "micro",
                "other",
                name="category",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "supervision",
            sa.Enum(
                "onsite_supervision", "patrol", name="supervision", native_enum=False, create_constraint=True, length=24
            ),
            nullable=False,
        ),
        sa.Column(
            "level",
            sa.Enum("yellow", "orange", "red", name="alertlevel", native_enum=False, create_constraint=True, length=16),
            nullable=False,
        ),
        sa.Column(
            "state",
            sa.Enum("open", "done", "closed", name="taskstate", native_enum=False, create_constraint=True, length=16),
            nullable=False,
        ),
        sa.Column("staggered_until", sa.Date(), nullable=True),
        sa.Column("created_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("checked_at", app.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", app.db.UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state NOT IN ('closed') OR (closed_at IS NOT NULL)", name=op.f("ck_response_task_closed_has_time")
        ),
        sa.CheckConstraint(
            "state NOT IN ('done') OR (checked_at IS NOT NULL)", name=op.f("ck_response_task_done_has_time")
        ),
        sa.ForeignKeyConstraint(
            ["area_id"], ["response_area.id"], name=op.f("fk_response_task_area_id_response_area"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id", "jurisdiction_id"],
            ["enterprise.id", "enterprise.jurisdiction_id"],
            name=op.f("fk_response_task_enterprise_id_jurisdiction_id_enterprise"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_task")),
        sa.UniqueConstraint("episode_id", "uscc", name=op.f("uq_response_task_episode_id_uscc")),
    )
    with op.batch_alter_table("response_task", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_response_task_area_id"), ["area_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_response_task_enterprise_id"), ["enterprise_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_response_task_episode_id"), ["episode_id"], unique=False)
        batch_op.create_index("ix_response_task_jurisdiction_state", ["jurisdiction_id", "state"], unique=False)

    op.create_table(
        "response_measure",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("task_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "level",
            sa.Enum("yellow", "orange", "red", name="alertlevel", native_enum=False, create_constraint=True, length=16),
            nullable=False,
        ),
        sa.Column(
            "kind",
            sa.Enum(
                "stop",
                "limit",
                "output_cap",
                "staggered_transport",
                "truck_ban",
                "offroad_ban",
                "outdoor_work_ban",
                name="measurekind",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("percent", sa.Float(), nullable=True),
        sa.Column(
            "verification",
            sa.Enum(
                "power_meter",
                "online_monitoring",
                "dcs",
                "video",
                "gate_records",
                name="verification",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column(
            "max_stage",
            sa.Enum(
                "pre_china_1",
                "china_1",
                "china_2",
                "china_3",
                "china_4",
                "electric",
                name="machinerystage",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=True,
        ),
        sa.Column(
            "basis",
            sa.Enum(
                "output_by_demand",
                "output_by_heat",
                name="outputbasis",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=True,
        ),
        sa.Column("process_unit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("unit_name", sa.String(length=200), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "carried_out",
                "not_carried_out",
                name="checkstatus",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("checked_at", app.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("checked_by_id", sa.Integer(), nullable=True),
        sa.Column("remark", sa.String(length=1000), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.CheckConstraint(
            "case_id IS NULL OR status = 'not_carried_out'",
            name=op.f("ck_response_measure_case_only_when_not_carried_out"),
        ),
        sa.CheckConstraint(
            "status NOT IN ('carried_out', 'not_carried_out') OR (checked_at IS NOT NULL AND checked_by_id IS NOT NULL)",
            name=op.f("ck_response_measure_checked_has_checker"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case_record.id"], name=op.f("fk_response_measure_case_id_case_record"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["checked_by_id"],
            ["user_account.id"],
            name=op.f("fk_response_measure_checked_by_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["response_task.id"],
            name=op.f("fk_response_measure_task_id_response_task"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_measure")),
    )
    with op.batch_alter_table("response_measure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_response_measure_jurisdiction_id"), ["jurisdiction_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_response_measure_task_id"), ["task_id"], unique=False)

    op.create_table(
        "response_photo",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("stored_name", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(measure_id IS NULL) <> (report_id IS NULL)", name=op.f("ck_response_photo_belongs_to_measure_or_report")
        ),
        sa.CheckConstraint("size > 0", name=op.f("ck_response_photo_size_positive")),
        sa.ForeignKeyConstraint(
            ["jurisdiction_id"],
            ["jurisdiction.id"],
            name=op.f("fk_response_photo_jurisdiction_id_jurisdiction"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["measure_id"],
            ["response_measure.id"],
            name=op.f("fk_response_photo_measure_id_response_measure"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["response_report.id"],
            name=op.f("fk_response_photo_report_id_response_report"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["user_account.id"],
            name=op.f("fk_response_photo_uploaded_by_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_photo")),
        sa.UniqueConstraint("stored_name", name=op.f("uq_response_photo_stored_name")),
    )
    with op.batch_alter_table("response_photo", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_response_photo_jurisdiction_id"), ["jurisdiction_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_response_photo_measure_id"), ["measure_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_response_photo_report_id"), ["report_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("response_photo", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_response_photo_report_id"))
        batch_op.drop_index(batch_op.f("ix_response_photo_measure_id"))
        batch_op.drop_index(batch_op.f("ix_response_photo_jurisdiction_id"))

    op.drop_table("response_photo")
    with op.batch_alter_table("response_measure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_response_measure_task_id"))
        batch_op.drop_index(batch_op.f("ix_response_measure_jurisdiction_id"))

    op.drop_table("response_measure")
    with op.batch_alter_table("response_task", schema=None) as batch_op:
        batch_op.drop_index("ix_response_task_jurisdiction_state")
        batch_op.drop_index(batch_op.f("ix_response_task_episode_id"))
        batch_op.drop_index(batch_op.f("ix_response_task_enterprise_id"))
        batch_op.drop_index(batch_op.f("ix_response_task_area_id"))

    op.drop_table("response_task")
    with op.batch_alter_table("response_area", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_response_area_unit_id"))
        batch_op.drop_index(batch_op.f("ix_response_area_jurisdiction_id"))
        batch_op.drop_index(batch_op.f("ix_response_area_episode_id"))

    op.drop_table("response_area")
    with op.batch_alter_table("response_report", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_response_report_unit_id"))
        batch_op.drop_index(batch_op.f("ix_response_report_jurisdiction_id"))
        batch_op.drop_index(batch_op.f("ix_response_report_episode_id"))

    op.drop_table("response_report")
    with op.batch_alter_table("response_unit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_response_unit_jurisdiction_id"))
        batch_op.drop_index(batch_op.f("ix_response_unit_episode_id"))

    op.drop_table("response_unit")
    op.execute("DELETE FROM notification WHERE kind IN ('response_tasks', 'response_lifted', 'report_late')")
    _kinds(OLD_KINDS)
