"""Alembic environment: sees every model through app.models; the URL comes from the caller or DATABASE_URL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from logging.config import fileConfig

from alembic import context

from app import models  # noqa: F401  registers every table on Base.metadata
from app.config import ROOT
from app.db import Base, make_engine

config = context.config
if config.config_file_name is not None and not config.attributes.get("skip_logging"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def database_url() -> str:
    return (
        config.attributes.get("database_url")
        or os.environ.get("DATABASE_URL")
        or f"sqlite:///{ROOT / 'instance' / 'lianfang.db'}"
    )


def run_migrations_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(database_url())
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    sqlite = connection.dialect.name == "sqlite"
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True, render_as_batch=sqlite)
    with _sqlite_keys_off(connection) if sqlite else nullcontext(), context.begin_transaction():
        context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration broke foreign keys (table, rowid, parent, key): {broken[:10]}")


@contextmanager
def _sqlite_keys_off(connection) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Batch mode rebuilds a table: copy, drop the old one, rename. With foreign keys on, SQLite empties a table
    before dropping it and fires the ON DELETE rules of every table pointing to it (rebuilding process_unit
    deleted the measures and meters of every unit). The pragma only takes effect outside a transaction, so it
    goes to the driver's connection before the migration's BEGIN; `_run` checks the keys before COMMIT."""
    raw = connection.connection.driver_connection
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
