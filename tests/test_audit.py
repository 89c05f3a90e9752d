"""The audit log: an entry for every change, login, logout, denial and export; append-only; tamper-evident."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.audit.models import AuditEntry, Outcome
from app.audit.services import record, verify
from app.auth.roles import Role
from tests.conftest import PASSWORD, audit_actions, csrf_token, is_postgres, post_form


def test_a_change_records_before_and_after_in_the_same_transaction(app, make_bureau, make_user, login_as) -> None:  # type: ignore[no-untyped-def]
    bureau = make_bureau("511000")
    admin = make_user("audit_admin_actor", bureau=bureau, roles=(Role.system_admin,))
    target = make_user("audit_target", bureau=bureau, roles=(Role.city_staff,), display_name="旧名字")
    client = login_as(admin)
    response = post_form(
        client, f"/admin/users/{target.id}",
        {"display_name": "新名字", "phone": "", "roles": ["city_staff", "inspector"]},
    )  # fmt: skip
    assert response.status_code == 302
    entry = audit_actions("user.update")[-1]
    assert entry.username == "audit_admin_actor" and entry.object_id == str(target.id)
    assert entry.before == {"display_name": "旧名字", "roles": ["city_staff"]}
    assert entry.after == {"display_name": "新名字", "roles": ["city_staff", "inspector"]}
    assert entry.ip == "127.0.0.1" and entry.outcome is Outcome.success


def test_a_refused_change_leaves_neither_change_nor_change_entry(make_bureau, make_user, login_as) -> None:  # type: ignore[no-untyped-def]
    bureau = make_bureau("511000")
    admin = make_user("audit_refuser", bureau=bureau, roles=(Role.system_admin,))
    client = login_as(admin)
    # A province role at a city bureau is refused by the service after the form validated.
    response = post_form(
        client, "/admin/users/new",
        {"username": "wrong_level", "display_name": "x", "bureau_id": bureau.id, "roles": ["province_staff"],
         "password": "Huanbao-Lf-7#q"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "只适用于省级单位" in response.get_data(as_text=True)
    assert not [e for e in audit_actions("user.create") if e.after and e.after.get("username") == "wrong_level"]


def test_login_and_logout_are_audited(client, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("audited_login")
    client.post("/login", data={"csrf_token": csrf_token(client), "username": "audited_login", "password": PASSWORD})
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    actions = [e.action for e in audit_actions() if e.username == "audited_login"]
    assert actions[-2:] == ["login", "logout"]


def test_the_audit_admin_searches_and_exports_formula_safe(make_bureau, make_user, login_as, session) -> None:  # type: ignore[no-untyped-def]
    auditor = make_user("the_auditor", code="510000", roles=(Role.audit_admin,))
    record(session, "test.formula", detail={"note": '=HYPERLINK("http://evil")'}, object_type="=cmd|' /C calc'!A0")
    session.commit()
    client = login_as(auditor)
    page = client.get("/audit/?action=test.").get_data(as_text=True)
    assert "test.formula" in page
    response = client.get("/audit/export.csv?action=test.")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][0] == "序号"
    data = next(r for r in rows[1:] if r[4] == "test.formula")
    assert data[5].startswith("'=")  # the object type cell cannot run as a formula
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    assert audit_actions("audit.export")[-1].username == "the_auditor"


def test_the_system_admin_cannot_read_the_audit_log(make_user, login_as) -> None:  # type: ignore[no-untyped-def]
    client = login_as(make_user("sysadmin_no_audit", code="510000", roles=(Role.system_admin,)))
    assert client.get("/audit/").status_code == 403
    assert client.get("/audit/export.csv").status_code == 403


def test_no_route_edits_the_audit_log(app) -> None:  # type: ignore[no-untyped-def]
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("audit."):
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule


@pytest.mark.parametrize("statement", ["UPDATE audit_entry SET action = 'x'", "DELETE FROM audit_entry"])
def test_the_database_refuses_update_and_delete(session, statement: str) -> None:  # type: ignore[no-untyped-def]
    record(session, "test.append_only")
    session.commit()
    nested = session.begin_nested()
    with pytest.raises(DBAPIError) as exc:
        session.execute(text(statement))
    nested.rollback()
    assert "append-only" in str(exc.value)


def _disable_trigger(session) -> None:  # type: ignore[no-untyped-def]
    """What an attacker with database access would do first (inside the test's rolled-back transaction)."""
    if is_postgres():
        session.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_no_update_delete"))
    else:
        session.execute(text("DROP TRIGGER audit_entry_no_update"))
        session.execute(text("DROP TRIGGER audit_entry_no_delete"))


def test_verify_reports_an_edited_entry(app, session, runner) -> None:  # type: ignore[no-untyped-def]
    for i in range(3):
        record(session, "test.chain", detail={"i": i})
    session.commit()
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0 and "audit log intact" in ok.output
    target = session.query(AuditEntry).filter(AuditEntry.action == "test.chain").order_by(AuditEntry.seq).all()[1]
    _disable_trigger(session)
    changed = session.execute(
        text("UPDATE audit_entry SET action = 'test.forged' WHERE seq = :s").bindparams(s=target.seq)
    )
    assert changed.rowcount == 1
    session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1, result.output
    assert f"TAMPERED seq {target.seq}: entry content does not match its hash" in result.output


def test_verify_reports_a_deleted_entry(app, session) -> None:  # type: ignore[no-untyped-def]
    for i in range(3):
        record(session, "test.chain", detail={"i": i})
    session.commit()
    entries = session.query(AuditEntry).order_by(AuditEntry.seq).all()
    _disable_trigger(session)
    session.execute(text("DELETE FROM audit_entry WHERE seq = :s").bindparams(s=entries[-2].seq))
    session.commit()
    _count, problems = verify(session, app.config["AUDIT_KEY"])
    messages = [p.message for p in problems]
    assert any("missing" in m for m in messages)
    assert any("link to the previous entry is broken" in m for m in messages)
