"""三员分立: no web path lets the system admin and the audit admin act on each other's account or hold both."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.auth import services as auth
from app.auth.models import User
from app.auth.roles import Role
from app.core.errors import Forbidden, ServiceError
from app.db import utcnow
from tests.conftest import PASSWORD, audit_actions, csrf_token, post_form


@pytest.fixture
def pair(make_bureau, make_user):  # type: ignore[no-untyped-def]
    bureau = make_bureau("510000")
    admin = make_user("sod_admin", bureau=bureau, roles=(Role.system_admin,))
    auditor = make_user("sod_auditor", bureau=bureau, roles=(Role.audit_admin,), display_name="审计员甲")
    return admin, auditor


def _roles(session, user: User) -> set[Role]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.get(User, user.id).roles


def test_system_admin_cannot_give_the_audit_admin_a_second_role(pair, login_as, session) -> None:  # type: ignore[no-untyped-def]
    admin, auditor = pair
    client = login_as(admin)
    for roles in (["audit_admin", "system_admin"], ["system_admin"], ["audit_admin", "city_staff"], []):
        response = post_form(
            client, f"/admin/users/{auditor.id}", {"display_name": "审计员甲", "roles": roles},
        )  # fmt: skip
        assert response.status_code == 400, roles
        assert ("命令行" if roles else "至少选择一个角色") in response.get_data(as_text=True)
    assert _roles(session, auditor) == {Role.audit_admin}


def test_saving_the_audit_admins_form_with_only_audit_admin_works(pair, login_as, session) -> None:  # type: ignore[no-untyped-def]
    admin, auditor = pair
    client = login_as(admin)
    page = client.get(f"/admin/users/{auditor.id}").get_data(as_text=True)
    assert "只能由运维人员在命令行中管理" in page
    assert "重置密码" not in page and "停用账号" not in page
    response = post_form(
        client, f"/admin/users/{auditor.id}", {"display_name": "审计员乙", "roles": ["audit_admin"]},
    )  # fmt: skip
    assert response.status_code == 302, response.get_data(as_text=True)
    assert "已保存" in client.get(response.headers["Location"]).get_data(as_text=True)
    session.expire_all()
    saved = session.get(User, auditor.id)
    assert saved.display_name == "审计员乙" and saved.roles == {Role.audit_admin}


def test_system_admin_cannot_reset_disable_or_unlock_the_audit_admin(app, pair, login_as, session) -> None:  # type: ignore[no-untyped-def]
    admin, auditor = pair
    with app.app_context():
        from app.extensions import db

        s = db.session()
        from app.core.scoping import Scope, set_scope

        set_scope(s, Scope.everything())
        s.get(User, auditor.id).locked_until = utcnow() + timedelta(minutes=10)
        s.commit()
    client = login_as(admin)
    reset = post_form(client, f"/admin/users/{auditor.id}/password", {"password": "Taken-Over-2026#"})
    assert reset.status_code == 403 and "命令行" in reset.get_data(as_text=True)
    for action in ("disable", "enable", "unlock"):
        response = post_form(client, f"/admin/users/{auditor.id}/status", {"action": action})
        assert response.status_code == 403, action
    session.expire_all()
    kept = session.get(User, auditor.id)
    assert kept.active and kept.locked_until is not None
    # "Log in as them": the new password was not set, the old one still is the auditor's.
    fresh = app.test_client()
    login = fresh.post(
        "/login", data={"csrf_token": csrf_token(fresh), "username": "sod_auditor", "password": "Taken-Over-2026#"}
    )
    assert login.status_code == 401
    assert any(e.action == "access.denied" for e in audit_actions("access"))


def test_web_never_creates_an_audit_admin_nor_one_holding_both_roles(pair, make_bureau, login_as, session) -> None:  # type: ignore[no-untyped-def]
    admin, _auditor = pair
    client = login_as(admin)
    bureau = make_bureau("511000")
    for roles in (["audit_admin"], ["audit_admin", "system_admin"]):
        response = post_form(
            client, "/admin/users/new",
            {"username": "sod_new", "display_name": "x", "bureau_id": bureau.id, "roles": roles,
             "password": "Huanbao-Lf-7#q"},
        )  # fmt: skip
        assert response.status_code in (400, 403)
    assert session.scalars(select(User).where(User.username == "sod_new")).first() is None


def test_a_cli_made_mixed_account_gets_no_role_from_the_web(make_bureau, make_user, login_as, session) -> None:  # type: ignore[no-untyped-def]
    bureau = make_bureau("510000")
    admin = make_user("sod_admin2", bureau=bureau, roles=(Role.system_admin,))
    # A CLI-made account with the audit role and a staff role: still the audit admin's account.
    mixed = make_user("sod_mixed", bureau=bureau, roles=(Role.audit_admin, Role.province_staff))
    client = login_as(admin)
    response = post_form(
        client, f"/admin/users/{mixed.id}",
        {"display_name": "x", "roles": ["audit_admin", "province_staff", "system_admin"]},
    )  # fmt: skip
    assert response.status_code in (400, 403), response.get_data(as_text=True)[-3000:]
    assert _roles(session, mixed) == {Role.audit_admin, Role.province_staff}


def test_audit_admin_has_no_path_to_any_account(pair, login_as) -> None:  # type: ignore[no-untyped-def]
    admin, auditor = pair
    client = login_as(auditor)
    assert client.get("/admin/users").status_code == 403
    assert client.get(f"/admin/users/{admin.id}").status_code == 403
    assert post_form(client, f"/admin/users/{admin.id}/password", {"password": "Taken-Over-2026#"}).status_code == 403
    assert post_form(client, f"/admin/users/{admin.id}/status", {"action": "disable"}).status_code == 403


def test_the_services_refuse_each_direction_and_both_roles(app, pair, session) -> None:  # type: ignore[no-untyped-def]
    admin, auditor = pair
    admin, auditor = session.get(User, admin.id), session.get(User, auditor.id)
    with app.test_request_context():
        for actor, target in ((admin, auditor), (auditor, admin)):
            with pytest.raises(Forbidden):
                auth.set_password(session, target, "Taken-Over-2026#", action="password.reset", actor=actor)
            with pytest.raises(Forbidden):
                auth.set_active(session, target, False, actor=actor)
            with pytest.raises(Forbidden):
                auth.unlock(session, target, actor=actor)
        # Even the command line cannot make one account hold both roles.
        with pytest.raises(ServiceError, match="不能由同一人担任"):
            auth.update_user(
                session, auditor, display_name="x", phone=None, roles={Role.audit_admin, Role.system_admin}, actor=None
            )
        with pytest.raises(ServiceError, match="不能由同一人担任"):
            auth.update_user(
                session, admin, display_name="x", phone=None, roles={Role.audit_admin, Role.system_admin}, actor=None
            )
        # The own account stays one's own: the audit admin changes their own password.
        auth.change_own_password(session, auditor, PASSWORD, "Own-Choice-2026#")
