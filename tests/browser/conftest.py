"""Fixtures for the browser tests: a live server on its own database, and Debian's headless Chromium.

The live server never shares the per-test transaction database: it gets a SQLite file of its own, or on
PostgreSQL a database `<test db>_browser` created next to TEST_DATABASE_URL and dropped at the end. It is
migrated, loaded with the inventories and the demo accounts, and served by werkzeug from a daemon thread.

Browser tests must not request the `app` fixture (that would wrap them in the rolled-back transaction the
live server cannot see). When Chromium is missing or cannot start, every browser test is skipped with the
reason; Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask, current_app, has_app_context
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from app import create_app
from app.core.scoping import Scope, set_scope
from app.extensions import db
from tests.conftest import ROOT, migrate, scratch_database

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 375, "height": 740}
LIVE: dict[str, Flask] = {}  # the live server's app, for tests that add data of their own to its database
CSP_MARKERS = ("Content Security Policy", "Content-Security-Policy", "securitypolicyviolation")

# Chromium reports CSP violations in the console by itself; this listener (added through the DevTools
# protocol, so the page's own CSP does not block it) makes sure every violation is reported, reports too.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", function (e) {
  console.error("securitypolicyviolation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline"));
});
"""


# --- the live server ------------------------------------------------------------------------------


def own_database(tmp_dir: Path):  # type: ignore[no-untyped-def]
    """An empty database for the live server, beside the test run's."""
    return scratch_database("browser", tmp_dir)


@contextmanager
def isolated_app(config: dict[str, Any]) -> Iterator[tuple[Flask, Engine]]:
    """Create an app whose sessions always use its own engine, whatever else runs in this process.

    `db` is one process-wide object: `init_app` binds its engine and session factory to the newest app,
    and the `_transaction` fixture rebinds the factory around each test. The live server must neither
    take over the `app` fixture's database (when that fixture exists already) nor be taken over by it
    (when it is created later). So the previous binding is put back, and the scoped session's creator
    gives any context of the live app a session bound explicitly to the live engine.
    """
    previous_engine = db._engine
    previous_bind = db.session_factory.kw.get("bind")
    application = create_app(config)
    engine = db.engine
    if previous_engine is not None:
        db._engine = previous_engine
        db.session_factory.configure(bind=previous_bind)

    registry = db.session.registry
    shared_create = registry.createfunc

    def create() -> Session:
        if has_app_context() and current_app._get_current_object() is application:
            return db.session_factory(bind=engine, join_transaction_mode="conditional_savepoint")
        return shared_create()

    registry.createfunc = create
    try:
        yield application, engine
    finally:
        registry.createfunc = shared_create
        engine.dispose()


def seed(application: Flask) -> None:
    """What `flask inventories load` and `flask demo load` do, in one transaction."""
    from app.demo import load as load_demo
    from app.places.services import load as load_inventories

    with application.app_context():
        s = db.session()
        set_scope(s, Scope.everything())
        load_inventories(s, ROOT / "inventories")
        load_demo(s)
        s.commit()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of the app served on 127.0.0.1 (a free port) from its own, seeded database."""
    tmp = tmp_path_factory.mktemp("browser")
    with own_database(tmp) as url:
        migrate(url)
        config = {
            "DATABASE_URL": url,
            "UPLOAD_DIR": str(tmp / "uploads"),
            "SESSION_COOKIE_SECURE": False,
            "LOGIN_RATE_LIMIT": "10000 per minute",
        }
        with isolated_app(config) as (application, _engine):
            seed(application)
            LIVE["app"] = application
            server = make_server("127.0.0.1", 0, application, threaded=True)
            thread = threading.Thread(target=server.serve_forever, name="lianfang-live-server", daemon=True)
            thread.start()
            try:
                yield f"http://127.0.0.1:{server.server_port}"
            finally:
                server.shutdown()
                server.server_close()
                thread.join(timeout=10)


# --- the browser ----------------------------------------------------------------------------------


def chromium_path() -> str:
    return shutil.which("chromium") or "/usr/bin/chromium"


def skip_browser_tests(reason: str) -> None:
    print(f"\nbrowser tests skipped: {reason}")  # shown with -s; -ra lists the reason in the summary
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, launched once per run (never a browser Playwright downloaded)."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_browser_tests("the playwright package is not installed (pip install -e '.[dev]')")
    executable = chromium_path()
    if not os.access(executable, os.X_OK):
        skip_browser_tests(f"no Chromium at {executable}: install Debian's chromium (make browser-deps)")
    playwright = sync_playwright().start()
    try:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, timeout=30_000)
    except PlaywrightError as e:
        playwright.stop()
        first_line = (str(e).strip().splitlines() or ["unknown error"])[0]
        skip_browser_tests(f"Chromium at {executable} failed to launch: {first_line}")
    try:
        yield launched
    finally:
        launched.close()
        playwright.stop()


@dataclass
class Console:
    """What the page wrote to the console and the errors it threw."""

    messages: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def record(self, msg: ConsoleMessage) -> None:
        if msg.type in ("error", "warning"):
            self.messages.append(f"{msg.type}: {msg.text}")

    @property
    def csp_violations(self) -> list[str]:
        return [m for m in self.messages if any(marker in m for marker in CSP_MARKERS)]

    def assert_clean(self) -> None:
        csp, errors = self.csp_violations, self.page_errors
        assert not csp, "Content-Security-Policy violations:\n" + "\n".join(csp)
        assert not errors, "uncaught JavaScript errors:\n" + "\n".join(errors)


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(browser: Browser, live_server: str, console: Console) -> Iterator[Page]:
    """A fresh phone-sized context (375×740, zh-CN) on the live server; fails the test on CSP violations."""
    context = browser.new_context(base_url=live_server, viewport=PHONE, locale="zh-CN")
    context.set_default_timeout(10_000)
    context.add_init_script(CSP_LISTENER)
    tab = context.new_page()
    tab.on("console", console.record)
    tab.on("pageerror", lambda exc: console.page_errors.append(str(exc)))
    try:
        yield tab
    finally:
        context.close()
    console.assert_clean()


@pytest.fixture
def demo_login(page: Page) -> Callable[..., Page]:
    """Log in through the form as a demo account (all share app.demo.DEMO_PASSWORD)."""
    from app.demo import DEMO_PASSWORD

    def login(username: str = "admin", password: str = DEMO_PASSWORD) -> Page:
        page.goto("/login")
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(password)
        page.get_by_role("button", name="登录", exact=True).click()
        return page

    return login
