"""The request cycle is lean and never stale: who the reader is, what they may see and the inventory version
in one statement; nothing written when nothing changed; no per-process cache older than the last
`flask inventories load`."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import event, select, update

from app.auth import services as auth
from app.auth.models import User
from app.auth.roles import Role
from app.core import memo
from app.extensions import db
from app.places.models import InventoryFile, Jurisdiction
from app.places.services import inventory_digest, load
from tests.conftest import ROOT


def _standalone_scope(session, user: User) -> frozenset[int]:  # type: ignore[no-untyped-def]
    return frozenset(
        session.scalars(auth._scope_statement(), {"bureau_id": user.bureau_id, "jurisdiction_id": user.jurisdiction_id})
    )


def test_the_reader_and_their_scope_come_in_one_statement(app, make_bureau, make_user) -> None:  # type: ignore[no-untyped-def]
    users = [
        make_user("cycle_province", code="510000", roles=(Role.province_staff,)),
        make_user("cycle_city", code="511000"),
        make_user(
            "cycle_roots",
            bureau=make_bureau("500000", roots=("500153", "500151")),
            roles=(Role.province_staff, Role.reviewer),
        ),
    ]
    for user in users:
        with app.test_request_context():
            s = db.session()
            raw = auth.start_session(s, s.get(User, user.id), ip="127.0.0.1", user_agent="t")
            s.commit()
            statements: list[str] = []

            def count(conn, cursor, statement, *args, statements=statements) -> None:  # type: ignore[no-untyped-def]
                if not statement.startswith(("SAVEPOINT", "RELEASE")):  # the test's own transaction
                    statements.append(statement)

            event.listen(db.engine, "before_cursor_execute", count)
            try:
                found, _row = auth.resume_session(s, raw, idle=app.config["SESSION_IDLE_TIMEOUT"],
                                                  absolute=app.config["SESSION_ABSOLUTE_TIMEOUT"])  # fmt: skip
                scope = auth.scope_for(s, found)
            finally:
                event.remove(db.engine, "before_cursor_execute", count)
            assert len(statements) == 1, statements
            assert found.username == user.username and found.roles == set(user.roles)
            expected = _standalone_scope(s, found)
            assert scope.readable == expected and expected, user.username
            assert found.bureau.name  # the bureau came with it


def test_an_authenticated_page_reads_once_and_writes_nothing(app, make_user, login_as) -> None:  # type: ignore[no-untyped-def]
    client = login_as(make_user("cycle_reader", code="500153", roles=(Role.district_staff,)))
    client.get("/account")  # the first request of a session may touch it; the next ones within the minute do not
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if not statement.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):  # the test's own transaction
            statements.append(statement.lstrip().split(None, 1)[0].upper())

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert client.get("/healthz").status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert statements == ["SELECT", "SELECT"], statements  # the reader (with scope and version), the page's


def test_what_is_parsed_from_the_files_follows_the_inventory_version(app, session) -> None:  # type: ignore[no-untyped-def]
    calls: list[str | None] = []

    @memo.by_inventory_version
    def parsed() -> int:
        calls.append(memo.inventory_version())
        return len(calls)

    from flask import g

    current = session.get(InventoryFile, memo.INVENTORY_VERSION).sha256
    with app.test_request_context():
        g.inventory_version = current  # as identify reads it with the reader
        assert parsed() == 1 and parsed() == 1
    with app.test_request_context():
        g.inventory_version = current
        assert parsed() == 1  # same version, next request: still parsed once
    with app.test_request_context():
        g.inventory_version = "f" * 64  # after a `flask inventories load` that changed a file
        assert parsed() == 2 and calls[-1] == "f" * 64


def test_inventories_load_bumps_the_version_when_a_file_changes(app, session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "inventories"
    shutil.copytree(ROOT / "inventories", root)
    version = session.get(InventoryFile, memo.INVENTORY_VERSION).sha256
    assert version == inventory_digest(ROOT / "inventories")
    rules = next((root / "measure_rules").glob("*.yaml"))
    rules.write_text(rules.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    with app.test_request_context():
        load(session, root)
    session.flush()
    assert session.get(InventoryFile, memo.INVENTORY_VERSION).sha256 == inventory_digest(root) != version


def test_places_are_read_per_transaction(app, session) -> None:  # type: ignore[no-untyped-def]
    from app.reduction.services.enterprises import places

    code = "500153"
    assert places(session).by_code[code].name == "荣昌区"
    session.execute(update(Jurisdiction).where(Jurisdiction.code == code).values(name="荣昌区（改）"))
    assert places(session).by_code[code].name == "荣昌区"  # the same transaction reads it once
    session.commit()
    assert places(session).by_code[code].name == "荣昌区（改）"
    assert session.scalar(select(Jurisdiction.name).where(Jurisdiction.code == code)) == "荣昌区（改）"


def test_the_layouts_badge_comes_with_the_reader(app, make_user, login_as) -> None:  # type: ignore[no-untyped-def]
    """The unread count is read in the reader's statement: a page in the layout asks nothing more for it, and
    it counts the bureau's messages and the reader's own, not another officer's nor what the reader read (a
    colleague's reading leaves them unread for the reader)."""
    from app.auth.models import Bureau
    from app.core.scoping import Scope, set_scope
    from app.notifications.models import Notification, NotificationKind, NotificationRead
    from app.notifications.services import notify, notify_officer

    reader = make_user("badge_reader", code="500153", roles=(Role.district_staff,))
    with app.app_context():
        bureau = db.session.get(Bureau, reader.bureau_id)
        db.session.expunge(bureau)
    other = make_user("badge_other", code="500153", roles=(Role.district_staff,), bureau=bureau)
    with app.app_context():
        s = db.session()
        set_scope(s, Scope.everything())
        me, colleague = s.get(User, reader.id), s.get(User, other.id)
        kind = NotificationKind.case_transferred
        for n in range(3):
            notify(s, [me.bureau_id], kind, subject=f"XS-{n}", endpoint="cases.show", object_id=n + 1)
        notify_officer(s, me, kind, subject="XS-mine", endpoint="cases.show", object_id=9)
        notify_officer(s, colleague, kind, subject="XS-theirs", endpoint="cases.show", object_id=10)
        s.flush()
        assert colleague.bureau_id == me.bureau_id
        read = dict(s.execute(select(Notification.subject, Notification.id)).all())
        s.add(NotificationRead(notification_id=read["XS-0"], user_id=me.id))
        s.add(NotificationRead(notification_id=read["XS-1"], user_id=colleague.id))  # still unread for the reader
        s.commit()
    client = login_as(reader)
    client.get("/account")  # the first request of a session may touch it
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if not statement.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        page = client.get("/account").get_data(as_text=True)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert 'data-testid="unread-badge">3<' in page  # XS-1, XS-2 and XS-mine
    assert sum("notification" in st for st in statements) == 1, statements  # the reader's statement alone
