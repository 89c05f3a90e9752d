"""User administration, the own account page and API tokens, from the UI, the API and the CLI."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.auth.models import ApiToken, User
from app.auth.roles import Role
from tests.conftest import PASSWORD, audit_actions, csrf_token, post_form


def test_admin_creates_a_user_who_can_log_in(app, make_bureau, make_user, login_as, session) -> None:  # type: ignore[no-untyped-def]
    bureau = make_bureau("511000", name="内江测试局")
    admin = make_user("creator", bureau=bureau, roles=(Role.system_admin,))
    client = login_as(admin)
    form = client.get("/admin/users/new").get_data(as_text=True)
    assert "内江测试局" in form and "审计管理员" not in form  # audit admins come from the CLI only
    weak = post_form(
        client,
        "/admin/users/new",
        {
            "username": "newbie",
            "display_name": "新人",
            "bureau_id": bureau.id,
            "roles": ["city_staff"],
            "password": "password1",
        },
    )
    assert weak.status_code == 400 and "至少三类" in weak.get_data(as_text=True)
    ok = post_form(
        client,
        "/admin/users/new",
        {
            "username": "newbie",
            "display_name": "新人",
            "bureau_id": bureau.id,
            "roles": ["city_staff"],
            "password": "Huanbao-Lf-7#q",
        },
    )
    assert ok.status_code == 302
    fresh = app.test_client()
    login = fresh.post(
        "/login", data={"csrf_token": csrf_token(fresh), "username": "newbie", "password": "Huanbao-Lf-7#q"}
    )
    assert login.status_code == 302, re.findall(r'error-message">([^<]+)', login.get_data(as_text=True))
    assert "您好，新人" in fresh.get("/").get_data(as_text=True)
    duplicate = post_form(
        client,
        "/admin/users/new",
        {
            "username": "newbie",
            "display_name": "重名",
            "bureau_id": bureau.id,
            "roles": ["city_staff"],
            "password": "Huanbao-Lf-7#q",
        },
    )
    assert duplicate.status_code == 400 and "已被使用" in duplicate.get_data(as_text=True)


def test_admin_cannot_create_users_in_another_jurisdiction(make_bureau, make_user, login_as, session) -> None:  # type: ignore[no-untyped-def]
    own = make_bureau("511000")
    other = make_bureau("500153")
    client = login_as(make_user("scoped_admin", bureau=own, roles=(Role.system_admin,)))
    assert other.name not in client.get("/admin/users/new").get_data(as_text=True)
    response = post_form(
        client,
        "/admin/users/new",
        {
            "username": "smuggled",
            "display_name": "x",
            "bureau_id": other.id,
            "roles": ["district_staff"],
            "password": "Huanbao-Lf-7#q",
        },
    )
    assert response.status_code == 400
    assert session.scalars(select(User).where(User.username == "smuggled")).first() is None


def test_admin_unlocks_and_resets_password(app, make_bureau, make_user, login_as, session) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from app.db import utcnow

    bureau = make_bureau("511000")
    admin = make_user("unlocker", bureau=bureau, roles=(Role.system_admin,))
    locked = make_user("locked_one", bureau=bureau, locked_until=utcnow() + timedelta(minutes=20))
    client = login_as(admin)
    assert "锁定至" in client.get(f"/admin/users/{locked.id}").get_data(as_text=True)
    assert post_form(client, f"/admin/users/{locked.id}/status", {"action": "unlock"}).status_code == 302
    assert post_form(client, f"/admin/users/{locked.id}/password", {"password": "Reset-Lf-2026#"}).status_code == 302
    fresh = app.test_client()
    assert (
        fresh.post(
            "/login", data={"csrf_token": csrf_token(fresh), "username": "locked_one", "password": "Reset-Lf-2026#"}
        ).status_code
        == 302
    )
    assert {"account.unlock", "password.reset"} <= {e.action for e in audit_actions() if e.object_id == str(locked.id)}


def test_user_changes_own_password_and_language(app, make_user, login_as) -> None:  # type: ignore[no-untyped-def]
    user = make_user("self_service")
    client = login_as(user)
    wrong = post_form(client, "/account", {"action": "password", "pw-current": "nope", "pw-new": "Another-Lf-9#x"})
    assert wrong.status_code == 400 and "当前密码不正确" in wrong.get_data(as_text=True)
    ok = post_form(client, "/account", {"action": "password", "pw-current": PASSWORD, "pw-new": "Another-Lf-9#x"})
    assert ok.status_code == 302 and "/login" in ok.headers["Location"]
    assert client.get("/").status_code == 302, "changing the password ends the sessions"
    client = login_as(user)
    post_form(client, "/language", {"lang": "en"})
    with app.app_context():
        from app.extensions import db

        assert db.session.get(User, user.id).locale == "en"


def test_token_created_on_account_page_works_once_shown_and_is_revocable(app, make_user, login_as, session) -> None:  # type: ignore[no-untyped-def]
    user = make_user("token_owner", code="511000", roles=(Role.city_staff,))
    client = login_as(user)
    page = post_form(client, "/account", {"action": "token", "tk-name": "预报中心对接", "tk-days": "30"})
    raw = re.search(r'data-testid="new-token">(lf_[^<]+)<', page.get_data(as_text=True)).group(1)
    stored = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).one()
    assert stored.token_hash != raw and raw not in stored.token_hash  # only the hash is kept
    api = app.test_client()
    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert me.status_code == 200 and me.get_json()["username"] == "token_owner"
    assert [e for e in audit_actions("api.request") if e.username == "token_owner"][-1].detail["path"] == "/api/v1/me"
    # A token acts with its user's roles: no admin pages, and no cookie-less CSRF bypass for HTML routes.
    assert api.get("/admin/users", headers={"Authorization": f"Bearer {raw}"}).status_code == 302
    client.post(f"/account/tokens/{stored.id}/revoke", data={"csrf_token": csrf_token(client, "/account")})
    refused = api.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "unauthorized"


def test_bearer_token_from_cli_and_bad_tokens(app, make_user, runner) -> None:  # type: ignore[no-untyped-def]
    make_user("cli_token_user", code="500153", roles=(Role.district_staff,))
    result = runner.invoke(args=["users", "token", "cli_token_user", "--name", "区域平台"])
    assert result.exit_code == 0, result.output
    raw = result.output.strip().splitlines()[-1]
    api = app.test_client()
    assert api.get("/api/v1/places?under=500153", headers={"Authorization": f"Bearer {raw}"}).get_json()["count"] == 1
    for bad in ("lf_not-a-real-token", "garbage", ""):
        r = api.get("/api/v1/places", headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401 and r.is_json
    prefix = raw[:10]
    assert runner.invoke(args=["users", "revoke-token", prefix]).exit_code == 0
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


def test_cli_creates_an_audit_admin_and_refuses_bad_input(app, make_bureau, runner, session) -> None:  # type: ignore[no-untyped-def]
    bureau = make_bureau("510000", name="四川测试厅")
    ok = runner.invoke(
        args=[
            "users",
            "create",
            "--username",
            "auditor2",
            "--name",
            "审计员",
            "--bureau",
            "四川测试厅",
            "--role",
            "audit_admin",
            "--password",
            "Audit-Lf-2026#",
        ]
    )
    assert ok.exit_code == 0, ok.output
    assert session.scalars(select(User).where(User.username == "auditor2")).one().roles == {Role.audit_admin}
    both = runner.invoke(
        args=[
            "users",
            "create",
            "--username",
            "both",
            "--name",
            "x",
            "--bureau",
            "四川测试厅",
            "--role",
            "audit_admin",
            "--role",
            "system_admin",
            "--password",
            "Audit-Lf-2026#",
        ]
    )
    assert both.exit_code != 0 and "不能由同一人担任" in both.output
    nobureau = runner.invoke(
        args=[
            "users",
            "create",
            "--username",
            "nb",
            "--name",
            "x",
            "--bureau",
            "不存在的局",
            "--role",
            "city_staff",
            "--password",
            "Audit-Lf-2026#",
        ]
    )
    assert nobureau.exit_code != 0 and "没有名为" in nobureau.output
    badrole = runner.invoke(
        args=[
            "users",
            "create",
            "--username",
            "br",
            "--name",
            "x",
            "--bureau",
            "四川测试厅",
            "--role",
            "king",
            "--password",
            "Audit-Lf-2026#",
        ]
    )
    assert badrole.exit_code != 0 and "unknown role" in badrole.output
    assert session.scalars(select(User).where(User.username.in_(["both", "nb", "br"]))).all() == []
    assert bureau.id


def test_token_use_is_recorded_at_most_once_a_minute(app, make_user, runner, session) -> None:  # type: ignore[no-untyped-def]
    make_user("busy_client", code="500153", roles=(Role.district_staff,))
    raw = runner.invoke(args=["users", "token", "busy_client", "--name", "批量对接"]).output.strip().splitlines()[-1]
    api, auth = app.test_client(), {"Authorization": f"Bearer {raw}"}

    def last_used() -> object:
        session.expire_all()
        return session.scalars(select(ApiToken).where(ApiToken.name == "批量对接")).one().last_used_at

    assert api.get("/api/v1/me", headers=auth).status_code == 200
    first = last_used()
    assert first is not None  # the account page shows when a token was last used
    assert api.get("/api/v1/me", headers=auth).status_code == 200
    assert last_used() == first  # a second call within the minute writes nothing to the token row
