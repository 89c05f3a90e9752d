"""One declarative Base, column types shared by every model, and the per-app database handle."""

from __future__ import annotations

import enum
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from flask import Flask, has_app_context, has_request_context
from flask.globals import app_ctx, request_ctx
from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    create_engine,
    event,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JsonType = JSON().with_variant(JSONB(), "postgresql")
# 64-bit keys for tables that grow without bound; SQLite only auto-increments a plain INTEGER key.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def enum_type(enum_cls: type[enum.Enum], length: int = 32, *, name: str | None = None) -> SAEnum:
    """Store an enum by value as a string with a CHECK constraint (portable, readable in SQL). Two columns
    of one enum in a table need their own `name`s, which name their CHECK constraints."""
    return SAEnum(
        enum_cls,
        native_enum=False,
        create_constraint=True,
        length=length,
        name=name or enum_cls.__name__.lower(),
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


def state_check(name: str, states: Iterable[enum.Enum], condition: str, *, column: str = "state") -> CheckConstraint:
    """`column NOT IN (states) OR (condition)`: what a row in one of `states` must hold, with the state values
    taken from the workflow's enum, so that the constraint cannot drift from the states the code knows."""
    values = ", ".join(f"'{s.value}'" for s in states)
    return CheckConstraint(f"{column} NOT IN ({values}) OR ({condition})", name=name)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads it once
        datetime: UtcDateTime(),
        dict[str, Any]: JsonType,
        str: String(),
    }


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the settings every process needs (web, CLI, Alembic, tests)."""
    if url.startswith("sqlite"):
        if ":memory:" in url or url in ("sqlite://", "sqlite:///"):
            kwargs.setdefault("poolclass", StaticPool)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    # psycopg prepares a statement run five times; PostgreSQL then switches to one generic plan for every
    # parameter set, which cannot see how many rows a scope or a county holds: the list page's query fell
    # from an ordered index scan (0.8 ms) to sorting a whole county (10 ms). So the app's statements are
    # never prepared and each is planned for its values. Not `plan_cache_mode=force_custom_plan`: that also
    # re-plans the foreign-key checks PostgreSQL runs per inserted row (3x slower bulk imports).
    connect_args = kwargs.setdefault("connect_args", {})
    if make_url(url).get_driver_name() == "psycopg":  # psycopg 3's setting; the URLs we document name it
        connect_args.setdefault("prepare_threshold", None)
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT and starts transactions late; take it over
    # (SQLAlchemy docs, "Serializable isolation / Savepoints / Transactional DDL").
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.close()

    # IMMEDIATE: a transaction takes the write lock at BEGIN, so two writers queue instead of one
    # failing with "database is locked" when it upgrades from reading to writing.
    # A long read that writes nothing (a background export) asks for a deferred transaction with the
    # execution option sqlite_begin="deferred", so that it does not hold the write lock all along.
    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        deferred = conn.get_execution_options().get("sqlite_begin") == "deferred"
        conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


def _scope_id() -> int:
    # A request gets its own session even when it runs inside an application context that is already
    # pushed (a test, a CLI command making requests): the request's identity and scope stay its own.
    if has_request_context():
        return id(request_ctx._get_current_object())
    if has_app_context():
        return id(app_ctx._get_current_object())
    return threading.get_ident()


class Database:
    """The engine and a scoped session per application context; created unbound in extensions."""

    def __init__(self) -> None:
        self.session_factory = sessionmaker(expire_on_commit=False)
        self.session: scoped_session[Session] = scoped_session(self.session_factory, scopefunc=_scope_id)
        self._engine: Engine | None = None

    def init_app(self, app: Flask) -> None:
        self._engine = make_engine(app.config["DATABASE_URL"], **app.config.get("DATABASE_OPTIONS", {}))
        self.session_factory.configure(bind=self._engine)
        app.extensions["lianfang.db"] = self

        @app.teardown_request
        @app.teardown_appcontext
        def _remove_session(_exc: BaseException | None) -> None:
            self.session.remove()

    def new_session(self) -> Session:
        """A session of its own, not the context's scoped one, made as the scoped ones are (a background job's
        transactions are its own, beside the request's)."""
        return self.session.registry.createfunc()

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("database not initialised: call init_app first")
        return self._engine
