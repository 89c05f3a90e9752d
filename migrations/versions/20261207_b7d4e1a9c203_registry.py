"""registry: stable identities of enterprises, units, facilities and meters

Revision ID: b7d4e1a9c203
Revises: f3a9c1d27b54
Create Date: 2026-12-07 14:30:00

Issue 11 point 1. Creates the registry tables and carries today's data across, set-based: one registry
enterprise per distinct credit code (name and jurisdiction from its latest version row: the latest year and
version, then the highest id), units and facilities by (credit code, code), meters by (credit code, number);
fills the version rows' `registry_id`, the cases' and response tasks' `registry_enterprise_id`, and writes a
`registered` event per registry enterprise. The downgrade drops all of it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "b7d4e1a9c203"
down_revision: str | None = "f3a9c1d27b54"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JsonType = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(astext_type=sa.Text()), "postgresql")
# (version table, registry table, key column, the column copied with it)
CHILDREN = (
    ("process_unit", "registry_unit", "code", "name"),
    ("control_facility", "registry_facility", "code", "name"),
    ("meter", "registry_meter", "number", "kind"),
)
# the newest version row first: year, version, then id
LATEST = "ORDER BY l.year DESC, l.version DESC, e.id DESC"


def _child_table(name: str, key: str, key_len: int, extra: str, extra_len: int) -> None:
    op.create_table(
        name,
        sa.Column("id", BigId, nullable=False),
        sa.Column(key, sa.String(length=key_len), nullable=False),
        sa.Column(extra, sa.String(length=extra_len), nullable=False),
        sa.Column("registry_enterprise_id", BigId, nullable=False),
        sa.Column("created_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["registry_enterprise_id"],
            ["registry_enterprise.id"],
            name=op.f(f"fk_{name}_registry_enterprise_id_registry_enterprise"),
            ondelete="RESTRICT",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint("registry_enterprise_id", key, name=op.f(f"uq_{name}_registry_enterprise_id_{key}")),
    )


def upgrade() -> None:
    op.create_table(
        "registry_enterprise",
        sa.Column("id", BigId, nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["jurisdiction_id"],
            ["jurisdiction.id"],
            name=op.f("fk_registry_enterprise_jurisdiction_id_jurisdiction"),
            ondelete="RESTRICT",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_enterprise")),
        sa.UniqueConstraint("uscc", name=op.f("uq_registry_enterprise_uscc")),
    )
    op.create_index(op.f("ix_registry_enterprise_jurisdiction_id"), "registry_enterprise", ["jurisdiction_id"])
    _child_table("registry_unit", "code", 32, "name", 200)
    _child_table("registry_facility", "code", 32, "name", 200)
    _child_table("registry_meter", "number", 64, "kind", 16)
    op.create_table(
        "registry_event",
        sa.Column("id", BigId, nullable=False),
        sa.Column("registry_enterprise_id", BigId, nullable=False),
        sa.Column(
            "entity",
            sa.Enum(
                "enterprise",
                "unit",
                "facility",
                "meter",
                name="entitykind",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),  # fmt: skip
        sa.Column("entity_id", BigId, nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "registered",
                "changed",
                "listed",
                "delisted",
                name="registryaction",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),  # fmt: skip
        sa.Column("list_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=80), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("changes", JsonType, nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["reduction_list.id"],
            name=op.f("fk_registry_event_list_id_reduction_list"),
            ondelete="SET NULL",
        ),  # fmt: skip
        sa.ForeignKeyConstraint(
            ["registry_enterprise_id"],
            ["registry_enterprise.id"],
            name=op.f("fk_registry_event_registry_enterprise_id_registry_enterprise"),
            ondelete="RESTRICT",
        ),  # fmt: skip
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_registry_event_user_id_user_account"), ondelete="RESTRICT"
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_event")),
    )
    op.create_index("ix_registry_event_enterprise_at", "registry_event", ["registry_enterprise_id", "at"])

    for table in ("enterprise", "process_unit", "control_facility", "meter"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("registry_id", BigId, nullable=True))
    with op.batch_alter_table("case_record") as batch_op:
        batch_op.add_column(sa.Column("registry_enterprise_id", BigId, nullable=True))
    with op.batch_alter_table("response_task") as batch_op:
        batch_op.add_column(sa.Column("registry_enterprise_id", BigId, nullable=True))

    _carry_across()

    with op.batch_alter_table("enterprise") as batch_op:
        batch_op.alter_column("registry_id", existing_type=BigId, nullable=False)
        batch_op.create_index(op.f("ix_enterprise_registry_id"), ["registry_id"])
        batch_op.create_foreign_key(
            op.f("fk_enterprise_registry_id_registry_enterprise"), "registry_enterprise", ["registry_id"], ["id"],
            ondelete="RESTRICT",
        )  # fmt: skip
    for table, registry, _key, _extra in CHILDREN:
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column("registry_id", existing_type=BigId, nullable=False)
            batch_op.create_foreign_key(
                op.f(f"fk_{table}_registry_id_{registry}"), registry, ["registry_id"], ["id"], ondelete="RESTRICT"
            )
    with op.batch_alter_table("case_record") as batch_op:
        batch_op.create_index(op.f("ix_case_record_registry_enterprise_id"), ["registry_enterprise_id"])
        batch_op.create_foreign_key(
            op.f("fk_case_record_registry_enterprise_id_registry_enterprise"), "registry_enterprise",
            ["registry_enterprise_id"], ["id"], ondelete="RESTRICT",
        )  # fmt: skip
    with op.batch_alter_table("response_task") as batch_op:
        batch_op.alter_column("registry_enterprise_id", existing_type=BigId, nullable=False)
        batch_op.create_index(op.f("ix_response_task_registry_enterprise_id"), ["registry_enterprise_id"])
        batch_op.create_foreign_key(
            op.f("fk_response_task_registry_enterprise_id_registry_enterprise"), "registry_enterprise",
            ["registry_enterprise_id"], ["id"], ondelete="RESTRICT",
        )  # fmt: skip


def _carry_across() -> None:
    conn = op.get_bind()
    pg = conn.dialect.name == "postgresql"
    now = sa.bindparam("now", app.db.utcnow(), type_=app.db.UtcDateTime())

    def run(sql: str, **params: object) -> None:
        conn.execute(sa.text(sql).bindparams(now) if ":now" in sql else sa.text(sql), params)

    run(
        "INSERT INTO registry_enterprise (uscc, name, jurisdiction_id, created_at) "
        "SELECT uscc, name, jurisdiction_id, :now FROM ("
        f"  SELECT e.uscc, e.name, e.jurisdiction_id, row_number() OVER (PARTITION BY e.uscc {LATEST}) AS n"
        "  FROM enterprise e JOIN reduction_list l ON l.id = e.list_id"
        ") latest WHERE n = 1 ORDER BY uscc"
    )
    run("UPDATE enterprise SET registry_id = (SELECT r.id FROM registry_enterprise r WHERE r.uscc = enterprise.uscc)")
    for table, registry, key, extra in CHILDREN:
        run(
            f"INSERT INTO {registry} (registry_enterprise_id, {key}, {extra}, created_at) "  # noqa: S608 - constants
            f"SELECT registry_id, {key}, {extra}, :now FROM ("
            f"  SELECT e.registry_id, c.{key}, c.{extra}, "
            f"  row_number() OVER (PARTITION BY e.registry_id, c.{key} {LATEST}) AS n"
            f"  FROM {table} c JOIN enterprise e ON e.id = c.enterprise_id JOIN reduction_list l ON l.id = e.list_id"
            f") latest WHERE n = 1 ORDER BY registry_id, {key}"
        )
        run(
            f"UPDATE {table} SET registry_id = (SELECT r.id FROM {registry} r JOIN enterprise e "  # noqa: S608
            f"ON e.registry_id = r.registry_enterprise_id WHERE e.id = {table}.enterprise_id AND r.{key} = {table}.{key})"
        )
    run(
        "UPDATE case_record SET registry_enterprise_id = "
        "(SELECT r.id FROM registry_enterprise r WHERE r.uscc = case_record.enterprise_uscc) "
        "WHERE enterprise_uscc IS NOT NULL"
    )
    run(
        "UPDATE response_task SET registry_enterprise_id = "
        "(SELECT e.registry_id FROM enterprise e WHERE e.id = response_task.enterprise_id)"
    )
    empty = "'{}'::jsonb" if pg else "'{}'"
    run(
        "INSERT INTO registry_event (registry_enterprise_id, entity, entity_id, action, list_id, source, user_id, "
        f"at, changes) SELECT id, 'enterprise', id, 'registered', NULL, 'migration b7d4e1a9c203', NULL, :now, {empty} "
        "FROM registry_enterprise ORDER BY id"
    )


def downgrade() -> None:
    with op.batch_alter_table("response_task") as batch_op:
        batch_op.drop_constraint(
            op.f("fk_response_task_registry_enterprise_id_registry_enterprise"), type_="foreignkey"
        )
        batch_op.drop_index(op.f("ix_response_task_registry_enterprise_id"))
        batch_op.drop_column("registry_enterprise_id")
    with op.batch_alter_table("case_record") as batch_op:
        batch_op.drop_constraint(op.f("fk_case_record_registry_enterprise_id_registry_enterprise"), type_="foreignkey")
        batch_op.drop_index(op.f("ix_case_record_registry_enterprise_id"))
        batch_op.drop_column("registry_enterprise_id")
    for table, registry, _key, _extra in CHILDREN:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(op.f(f"fk_{table}_registry_id_{registry}"), type_="foreignkey")
            batch_op.drop_column("registry_id")
    with op.batch_alter_table("enterprise") as batch_op:
        batch_op.drop_constraint(op.f("fk_enterprise_registry_id_registry_enterprise"), type_="foreignkey")
        batch_op.drop_index(op.f("ix_enterprise_registry_id"))
        batch_op.drop_column("registry_id")
    op.drop_index("ix_registry_event_enterprise_at", table_name="registry_event")
    op.drop_table("registry_event")
    for _table, registry, _key, _extra in reversed(CHILDREN):
        op.drop_table(registry)
    op.drop_index(op.f("ix_registry_enterprise_jurisdiction_id"), table_name="registry_enterprise")
    op.drop_table("registry_enterprise")
