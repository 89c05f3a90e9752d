"""The security baseline (等保 2.0 level 3, ASVS L2): passwords, lockout, sessions, CSRF, headers, limits."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

from app.audit.models import AuditEntry, Outcome
from app.auth.models import User, UserSession
from app.auth.passwords import policy_errors
from app.auth.roles import Role
from app.core.access import public
from app.db import Base, utcnow
from app.extensions import db, limiter
from tests.conftest import PASSWORD, audit_actions, csrf_token, post_form

TEMPLATES = Path(__file__).resolve().parent.parent / "app" / "templates"


def login_form(client, username: str, password: str):  # type: ignore[no-untyped-def]
    return client.post("/login", data={"csrf_token": csrf_token(client), "username": username, "password": password})


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("Ab1!", "至少 8 个字符"),
        ("abcdefgh12", "至少三类"),
        ("P@ssw0rd", "过于常见"),
        ("Password1", "过于常见"),
        ("Woaini1314", "过于常见"),
        ("Zhangsan!2026", "不能包含用户名"),
    ],
)
def test_password_policy_refuses(password: str, fragment: str) -> None:
    errors = policy_errors(password, "zhangsan")
    assert any(fragment in e for e in errors), errors


def test_password_policy_accepts_a_strong_password() -> None:
    assert policy_errors("Huanbao-Lf-7#q", "zhangsan") == []


def test_lockout_after_five_failures_for_thirty_minutes(client, make_user, session) -> None:  # type: ignore[no-untyped-def]
    user = make_user("lockme")
    for _ in range(4):
        response = login_form(client, "lockme", "wrong-password")
        assert response.status_code == 401
        assert "用户名或密码错误" in response.get_data(as_text=True)
    fifth = login_form(client, "lockme", "wrong-password")
    assert "账号已锁定 30 分钟" in fifth.get_data(as_text=True)
    # Locked: even the right password is refused.
    locked = login_form(client, "lockme", PASSWORD)
    assert locked.status_code == 401 and "账号已锁定" in locked.get_data(as_text=True)
    row = session.get(User, user.id, populate_existing=True)
    remaining = row.locked_until - utcnow()
    assert timedelta(minutes=29) < remaining <= timedelta(minutes=30)
    actions = [(e.action, e.outcome) for e in audit_actions() if e.user_id == user.id]
    assert ("account.lock", Outcome.success) in actions
    assert actions.count(("login", Outcome.failure)) == 5
    assert ("login", Outcome.denied) in actions
    # Thirty minutes later the right password works again.
    session.execute(update(User).where(User.id == user.id).values(locked_until=utcnow() - timedelta(seconds=1)))
    session.commit()
    assert login_form(client, "lockme", PASSWORD).status_code == 302


def test_unknown_user_gets_the_same_message(client) -> None:  # type: ignore[no-untyped-def]
    response = login_form(client, "nobody-here", "whatever-Pass1")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert audit_actions("login")[-1].detail["reason"] == "unknown"


def test_login_is_rate_limited(app, client, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("ratelimited")
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    limiter.reset()
    try:
        responses = [login_form(client, "ratelimited", "bad-Password1") for _ in range(4)]
        assert [r.status_code for r in responses] == [401, 401, 401, 429]
        assert "操作过于频繁" in responses[3].get_data(as_text=True)
    finally:
        app.config["LOGIN_RATE_LIMIT"] = "10000 per minute"
        limiter.reset()


def test_new_session_id_at_login_and_nothing_carried_over(client, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("fixation")
    with client.session_transaction() as sess:
        sess["sid"] = "attacker-chosen-id"
        sess["planted"] = "x"
    assert login_form(client, "fixation", PASSWORD).status_code == 302
    with client.session_transaction() as sess:
        assert sess["sid"] != "attacker-chosen-id"
        assert "planted" not in sess
        first = sess["sid"]
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login_form(client, "fixation", PASSWORD)
    with client.session_transaction() as sess:
        assert sess["sid"] != first


def test_logout_ends_the_session_on_the_server(client, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("replayer")
    login_form(client, "replayer", PASSWORD)
    old_cookie = client.get_cookie("lianfang_session").value
    assert client.get("/").status_code == 200
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 302
    client.set_cookie("lianfang_session", old_cookie)  # replay the cookie from before logout
    replay = client.get("/")
    assert replay.status_code == 302 and "/login" in replay.headers["Location"]
    assert audit_actions("logout")[-1].username == "replayer"


def test_idle_timeout_after_thirty_minutes(client, make_user, login_as, session) -> None:  # type: ignore[no-untyped-def]
    user = make_user("idle")
    login_as(user)
    assert client.get("/").status_code == 200
    session.execute(
        update(UserSession).where(UserSession.user_id == user.id).values(last_seen_at=utcnow() - timedelta(minutes=31))
    )
    session.commit()
    response = client.get("/")
    assert response.status_code == 302
    login_page = client.get(response.headers["Location"])
    assert "会话已超时" in login_page.get_data(as_text=True) or login_page.status_code == 200
    row = session.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    session.refresh(row)
    assert row.end_reason.value == "idle"


def test_absolute_timeout_after_twelve_hours(client, make_user, login_as, session) -> None:  # type: ignore[no-untyped-def]
    user = make_user("absolute")
    login_as(user)
    session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id)
        .values(created_at=utcnow() - timedelta(hours=12, minutes=1), last_seen_at=utcnow())
    )
    session.commit()
    assert client.get("/").status_code == 302
    row = session.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    session.refresh(row)
    assert row.end_reason.value == "expired"


def test_disabling_a_user_ends_their_sessions(app, make_user, login_as, make_bureau) -> None:  # type: ignore[no-untyped-def]
    bureau = make_bureau("511000")
    admin = make_user("disabler", roles=(Role.system_admin,), bureau=bureau)
    victim = make_user("victim", bureau=bureau)
    victim_client = login_as(victim, app.test_client())
    assert victim_client.get("/").status_code == 200
    admin_client = login_as(admin, app.test_client())
    response = post_form(admin_client, f"/admin/users/{victim.id}/status", {"action": "disable"})
    assert response.status_code == 302
    assert victim_client.get("/").status_code == 302
    # And the disabled user cannot log in again.
    fresh = app.test_client()
    assert "账号已停用" in login_form(fresh, "victim", PASSWORD).get_data(as_text=True)


def test_state_changes_need_a_csrf_token(client, make_user, login_as) -> None:  # type: ignore[no-untyped-def]
    login_as(make_user("csrf_user"))
    response = client.post("/logout")
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert client.get("/").status_code == 200, "the refused logout changed nothing"
    api = client.post("/api/v1/places")
    assert api.status_code in (400, 405)


def test_security_headers(client) -> None:  # type: ignore[no-untyped-def]
    headers = client.get("/login").headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"


def test_templates_have_no_inline_script_or_style() -> None:
    for path in TEMPLATES.rglob("*.html"):
        html = path.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"inline <script> in {path}"
        assert not re.search(r"\son[a-z]+=", html), f"inline event handler in {path}"
        assert not re.search(r"\sstyle=", html), f"inline style in {path}"


def test_request_size_limit(client, app) -> None:  # type: ignore[no-untyped-def]
    body = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = client.post("/login", data=body, content_type="application/octet-stream")
    assert response.status_code == 413
    assert "超过了大小限制" in response.get_data(as_text=True)


def test_no_state_change_on_get(app, make_user, login_as, session) -> None:  # type: ignore[no-untyped-def]
    """Every GET route, as the most privileged users, leaves every table but the audit log as it was."""
    admin = make_user("get_admin", code="510000", roles=(Role.system_admin,))
    auditor = make_user("get_auditor", code="510000", roles=(Role.audit_admin,))
    watched = [t for t in Base.metadata.sorted_tables if t.name not in {"audit_entry", "audit_head"}]

    def snapshot() -> dict[str, int]:
        return {t.name: session.scalar(select(func.count()).select_from(t)) for t in watched}

    clients = [login_as(u, app.test_client()) for u in (admin, auditor)]
    before = snapshot()
    sessions_before = session.scalar(text("SELECT count(*) FROM user_session WHERE ended_at IS NULL"))
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments - {"filename"}:
            continue
        for c in clients:
            c.get(rule.rule.replace("<path:filename>", "css/app.css")).close()
    assert snapshot() == before
    assert session.scalar(text("SELECT count(*) FROM user_session WHERE ended_at IS NULL")) == sessions_before


def test_errors_are_chinese_pages_without_tracebacks(app, client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and "页面不存在" in missing.get_data(as_text=True)
    api_missing = client.get("/api/v1/no-such-thing")
    assert api_missing.status_code == 404 and api_missing.get_json()["error"]["status"] == 404

    @public
    def boom():  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internal detail")

    monkeypatch.setitem(app.view_functions, "core.health", boom)
    response = client.get("/healthz")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "服务器内部错误" in body and "secret internal detail" not in body and "Traceback" not in body


def test_denials_are_audited(client, make_user, login_as) -> None:  # type: ignore[no-untyped-def]
    user = make_user("denied_user")
    login_as(user)
    assert client.get("/admin/users").status_code == 403
    entry = audit_actions("access.denied")[-1]
    assert entry.user_id == user.id and entry.outcome is Outcome.denied
    assert entry.detail["path"] == "/admin/users"
    assert (
        db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "access.denied")) >= 1
    )


def test_an_id_too_large_for_the_database_is_not_found(client, make_user, login_as) -> None:  # type: ignore[no-untyped-def]
    login_as(make_user("huge_id_user", code="500153", roles=(Role.district_staff,)))
    huge = 2**64
    api = ("/api/v1/reduction/lists/{}/actions", "/api/v1/cases/{}")
    for path in (f"/lists/{huge}", f"/cases/{huge}", *(p.format(huge) for p in api)):
        r = client.get(path)
        assert r.status_code == 404, (path, r.status_code)
