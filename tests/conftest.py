"""Fixtures: one migrated database per run (SQLite, or PostgreSQL from TEST_DATABASE_URL) with the
inventories loaded; every test runs inside a transaction that is rolled back."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("LIANFANG_ENV", "testing")
os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 32)

from app import create_app  # noqa: E402
from app.auth.models import Bureau, BureauKind, BureauScopeRoot, User, UserRole  # noqa: E402
from app.auth.passwords import hash_password  # noqa: E402
from app.auth.roles import Role  # noqa: E402
from app.core.scoping import Scope, set_scope  # noqa: E402
from app.db import make_engine  # noqa: E402
from app.extensions import db  # noqa: E402
from app.places.models import Jurisdiction  # noqa: E402

PASSWORD = "Qz!8tLm#4wRp"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def database_url(tmp_dir: Path) -> str:
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_dir / 'test.db'}"


def reset_database(url: str) -> None:
    """Start from an empty database: drop every object the previous run left."""
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and Path(path).exists():
            Path(path).unlink()
        return
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@contextmanager
def scratch_database(suffix: str, tmp_dir: Path) -> Iterator[str]:
    """An empty database of the test run's kind: a SQLite file, or `<test db>_<suffix>` beside
    TEST_DATABASE_URL, dropped afterwards (and first, if a killed run left it)."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_dir / f'{suffix}.db'}"
        return
    url = make_url(base)
    name = f"{url.database}_{suffix}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    quoted = admin.dialect.identifier_preparer.quote(name)
    try:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {quoted}"))
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
    finally:
        admin.dispose()


@contextmanager
def private_sessions(suffix: str, tmp_dir: Path, audit_key: str) -> Iterator[Callable[[], Any]]:
    """New sessions, each with its own connection, on a migrated database of the test's own (scratch_database)
    with the inventories loaded: for tests whose connections must see each other's commits. Operator's
    scope; the engine is made as the app makes it (SQLite gets WAL and BEGIN IMMEDIATE)."""
    from sqlalchemy.orm import sessionmaker

    from app.places.services import load

    with scratch_database(suffix, tmp_dir) as url:
        migrate(url)
        engine = make_engine(url)
        factory = sessionmaker(bind=engine, expire_on_commit=False)

        def new() -> Any:
            s = factory()
            set_scope(s, Scope.everything())
            s.info["audit_key"] = audit_key
            return s

        try:
            with new() as s:
                load(s, ROOT / "inventories")
                s.commit()
            yield new
        finally:
            engine.dispose()


def migrate(url: str) -> None:
    from alembic import command

    from app.cli import alembic_config

    cfg = alembic_config(url)
    cfg.attributes["skip_logging"] = True
    command.upgrade(cfg, "head")


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = database_url(tmp_path_factory.mktemp("db"))
    reset_database(url)
    migrate(url)
    return url


@pytest.fixture(scope="session")
def app(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    application = create_app(
        {
            "DATABASE_URL": database,
            "UPLOAD_DIR": str(tmp_path_factory.mktemp("uploads")),
            "LOGIN_RATE_LIMIT": "10000 per minute",
            "SESSION_COOKIE_SECURE": False,
        }
    )
    with application.app_context():
        from app.places.services import load

        s = db.session()
        set_scope(s, Scope.everything())
        load(s, ROOT / "inventories")
        s.commit()
        db.session.remove()
    yield application
    db.engine.dispose()


@pytest.fixture(autouse=True)
def _transaction(request: pytest.FixtureRequest) -> Iterator[None]:
    """Bind every session of the test to one connection whose outer transaction is rolled back."""
    if "app" not in request.fixturenames or request.node.get_closest_marker("no_transaction"):
        yield
        return
    request.getfixturevalue("app")
    connection = db.engine.connect()
    outer = connection.begin()
    db.session.remove()
    db.session_factory.configure(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield
    finally:
        db.session.remove()
        db.session_factory.configure(bind=db.engine, join_transaction_mode="conditional_savepoint")
        outer.rollback()
        connection.close()


def plain_session(app: Flask) -> Any:
    """A session outside any application context, so that requests made by the test keep their own
    contexts (and their own `g`, as in production). Audit entries it records are chained with the app's key."""
    s = db.session_factory()
    set_scope(s, Scope.everything())
    s.info["audit_key"] = app.config["AUDIT_KEY"]
    return s


@pytest.fixture
def session(app: Flask) -> Iterator[Any]:
    """A session with the operator's scope, inside the test's transaction."""
    s = plain_session(app)
    yield s
    s.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


def place(code: str) -> Jurisdiction:
    s = db.session()
    j = s.scalars(
        select(Jurisdiction).where(Jurisdiction.code == code).execution_options(include_all_jurisdictions=True)
    ).one()
    return j


@pytest.fixture
def make_bureau(app: Flask) -> Callable[..., Bureau]:
    counter = {"n": 0}

    def make(
        code: str, name: str | None = None, kind: BureauKind = BureauKind.bureau, roots: tuple[str, ...] = ()
    ) -> Bureau:
        with app.app_context():
            s = db.session()
            set_scope(s, Scope.everything())
            counter["n"] += 1
            j = place(code)
            bureau = Bureau(name=name or f"{j.name}测试局{counter['n']}", kind=kind, jurisdiction_id=j.id)
            s.add(bureau)
            s.flush()
            for root in roots:
                s.add(BureauScopeRoot(bureau_id=bureau.id, jurisdiction_id=place(root).id))
            s.commit()
            return bureau

    return make


_HASH: dict[str, str] = {}


@pytest.fixture
def make_user(app: Flask, make_bureau: Callable[..., Bureau]) -> Callable[..., User]:
    def make(username: str, code: str = "511000", roles: tuple[Role, ...] = (Role.city_staff,),
             bureau: Bureau | None = None, password: str = PASSWORD, **fields: Any) -> User:  # fmt: skip
        if password not in _HASH:
            _HASH[password] = hash_password(password)
        with app.app_context():
            s = db.session()
            set_scope(s, Scope.everything())
            bureau = bureau or make_bureau(code)
            user = User(
                username=username, display_name=fields.pop("display_name", username), bureau_id=bureau.id,
                jurisdiction_id=bureau.jurisdiction_id, password_hash=_HASH[password],
                role_rows=[UserRole(role=r) for r in roles], **fields,
            )  # fmt: skip
            s.add(user)
            s.commit()
            return user

    return make


@pytest.fixture
def login_as(app: Flask, client: FlaskClient) -> Callable[[User], FlaskClient]:
    """Log a user in without the form (the form has its own tests): a real server-side session."""

    def login(user: User, c: FlaskClient | None = None) -> FlaskClient:
        c = c or client
        with app.test_request_context():
            from app.auth.services import start_session

            s = db.session()
            set_scope(s, Scope.everything())
            raw = start_session(s, s.get(User, user.id), ip="127.0.0.1", user_agent="pytest")
            s.commit()
        with c.session_transaction() as sess:
            sess.clear()
            sess["sid"] = raw
        return c

    return login


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the client's session, read from a page as a browser would."""
    html = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


def post_form(client: FlaskClient, path: str, data: dict[str, Any], *, token_from: str = "/", **kw: Any) -> Any:
    data = {**data, "csrf_token": csrf_token(client, token_from)}
    return client.post(path, data=data, **kw)


def audit_actions(action_prefix: str = "") -> list[Any]:
    from app.audit.models import AuditEntry

    s = db.session_factory()
    stmt = select(AuditEntry).order_by(AuditEntry.seq)
    if action_prefix:
        stmt = stmt.where(AuditEntry.action.startswith(action_prefix))
    entries = list(s.scalars(stmt))
    s.close()
    return entries


def is_postgres() -> bool:
    return db.engine.dialect.name == "postgresql"
