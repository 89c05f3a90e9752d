"""The migrations: one head, `upgrade head` equals the models, and every revision goes down and up again."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CheckConstraint, create_engine, func, inspect, select, table, text
from sqlalchemy.engine import make_url

from app.cli import alembic_config
from app.db import Base, make_engine


@pytest.fixture
def scratch_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of the same kind as the test database."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    name = f"lf_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(base).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def config(url: str):  # type: ignore[no-untyped-def]
    cfg = alembic_config(url)
    cfg.attributes["skip_logging"] = True
    return cfg


def test_single_head_and_date_prefixed_files() -> None:
    script = ScriptDirectory.from_config(config("sqlite://"))
    assert len(script.get_heads()) == 1
    for rev in script.walk_revisions():
        name = Path(rev.path).name
        assert name[:8].isdigit() and name[8] == "_", f"{name} is not date-prefixed"


def test_upgrade_head_matches_models(scratch_url: str) -> None:
    command.upgrade(config(scratch_url), "head")
    engine = make_engine(scratch_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    engine.dispose()
    assert diff == [], f"schema differs from the models: {diff}"


def test_every_check_constraint_of_the_models_is_in_the_database(scratch_url: str) -> None:
    """Alembic's comparison ignores CHECK constraints: a constraint added to a model (one generated from a
    workflow's states, say) without a migration would exist only in tests that build from the models."""
    command.upgrade(config(scratch_url), "head")
    engine = make_engine(scratch_url)
    inspector = inspect(engine)
    missing = []
    for model_table in Base.metadata.sorted_tables:
        expected = {c.name for c in model_table.constraints if isinstance(c, CheckConstraint) and c.name}
        found = {c["name"] for c in inspector.get_check_constraints(model_table.name)}
        missing += [f"{model_table.name}.{name}" for name in sorted(expected - found)]
    engine.dispose()
    assert missing == [], f"CHECK constraints of the models missing in the migrated database: {missing}"


def test_every_revision_goes_down_and_up(scratch_url: str) -> None:
    cfg = config(scratch_url)
    script = ScriptDirectory.from_config(cfg)
    revisions = list(reversed(list(script.walk_revisions())))
    for rev in revisions:  # up one step at a time, and down and up again at each step
        command.upgrade(cfg, rev.revision)
        command.downgrade(cfg, rev.down_revision or "base")
        command.upgrade(cfg, rev.revision)
    command.downgrade(cfg, "base")
    engine = make_engine(scratch_url)
    tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
    engine.dispose()
    assert tables == set(), f"downgrade to base left tables behind: {tables}"
    command.upgrade(cfg, "head")
    engine = make_engine(scratch_url)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()


@pytest.mark.no_transaction
def test_the_newest_revision_keeps_every_row_of_a_filled_database(app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Down and up again across the newest revision with the demo's lists, units, facilities, meters, measures
    and cases in place: every row is still there. On SQLite a batch rebuild with foreign keys on emptied the
    rebuilt table first and cascaded into the tables pointing to it."""
    from app.demo import load
    from tests.conftest import private_sessions

    with private_sessions("filled", tmp_path, "migration-test-audit-key") as new:
        with new() as s, app.app_context():
            load(s)
            s.commit()
            url = s.get_bind().url.render_as_string(hide_password=False)
            s.get_bind().dispose()

        def rows() -> dict[str, int]:
            engine = make_engine(url)
            with engine.connect() as conn:
                names = sorted(set(inspect(conn).get_table_names()) - {"alembic_version"})
                counted = {n: conn.scalar(select(func.count()).select_from(table(n))) for n in names}
            engine.dispose()
            return counted

        before = rows()
        assert before["measure"] > 1000 and before["meter"] > 0 and before["control_facility"] > 0
        cfg = config(url)
        script = ScriptDirectory.from_config(cfg)
        previous = script.get_revision(script.get_current_head()).down_revision
        command.downgrade(cfg, previous)
        down = rows()
        # Tables the newest revision creates go with its downgrade; every other table keeps every row.
        created = set(before) - set(down)
        assert {n: c for n, c in before.items() if n not in created} == down
        command.upgrade(cfg, "head")
        assert {n: c for n, c in rows().items() if n not in created} == down
