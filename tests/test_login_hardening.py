"""Login and passwords: the redirect after login stays on this site, the failure counter is one atomic update
whose result decides the lock, the login counter lives in a store every worker shares, and the own account
page's current-password check is throttled and locked like the login."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.auth import passwords
from app.auth import services as auth
from app.auth.models import Bureau, BureauKind, User, UserRole
from app.auth.roles import Role
from app.config import ConfigError, check_rate_limit_store
from app.extensions import limiter
from app.places.models import Jurisdiction
from tests.conftest import PASSWORD, ROOT, audit_actions, csrf_token, post_form, private_sessions

EVIL_TARGETS = [
    "/%09/evil.example/",
    "/\t/evil.example/",
    "/%0A/evil.example/",
    "/%0D%0ALocation:%20https://evil.example/",
    "/\n/evil.example/",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example/",
    "/%5Cevil.example/",
    "\\\\evil.example/",
    "https://evil.example/",
    "http:/evil.example",
    "javascript:alert(1)",
    "evil.example",
    "/%00/evil.example/",
    "/%7F/evil.example/",
    "/%C2%85/evil.example/",
    " //evil.example/",
]


def login_to(client, username: str, password: str, target: str):  # type: ignore[no-untyped-def]
    data = {"csrf_token": csrf_token(client), "username": username, "password": password}
    return client.post("/login", query_string={"next": target}, data=data)


@pytest.mark.parametrize("target", EVIL_TARGETS)
def test_next_is_only_ever_a_path_of_this_site(app, make_user, target: str) -> None:  # type: ignore[no-untyped-def]
    make_user("nexter")
    client = app.test_client()
    response = login_to(client, "nexter", PASSWORD, target)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location == "/", location
    # the login page itself, with such a target, is no 500 either
    assert app.test_client().get("/login", query_string={"next": target}).status_code == 200


def test_next_raw_query_strings_never_answer_500(app, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("nexter_raw")
    client = app.test_client()
    token = csrf_token(client)
    for raw in ("next=/%0A/evil.example/", "next=/%09/evil.example/", "next=%2F%2Fevil.example", "next=/%E0%A4%A"):
        response = client.post(
            f"/login?{raw}", data={"csrf_token": token, "username": "nexter_raw", "password": "wrong-Pass1"}
        )
        assert response.status_code == 401, raw


def test_a_path_of_this_site_is_kept(app, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("nexter_ok")
    response = login_to(app.test_client(), "nexter_ok", PASSWORD, "/cases/?page=2&q=%E8%8D%A3")
    assert response.headers["Location"] == "/cases/?page=2&q=%E8%8D%A3"


# --- the failure counter under parallel attempts ---------------------------------------------------------


@pytest.mark.no_transaction
def test_parallel_wrong_passwords_check_no_more_than_the_lock_allows(app, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    lock_after, attempts = app.config["LOCKOUT_THRESHOLD"], 20
    with private_sessions("lockout", tmp_path, app.config["AUDIT_KEY"]) as new:
        with new() as s:
            place = s.scalar(select(Jurisdiction).where(Jurisdiction.code == "511000"))
            bureau = Bureau(name="内江并发测试局", kind=BureauKind.bureau, jurisdiction_id=place.id)
            s.add(bureau)
            s.flush()
            s.add(User(username="racer", display_name="racer", bureau_id=bureau.id, jurisdiction_id=place.id,
                       password_hash=passwords.hash_password(PASSWORD),
                       role_rows=[UserRole(role=Role.city_staff)]))  # fmt: skip
            s.commit()
        checked: list[int] = []
        real_verify = passwords.verify_password

        def counting_verify(stored: str, password: str) -> bool:
            checked.append(1)
            return real_verify(stored, password)

        monkeypatch.setattr(auth, "verify_password", counting_verify)
        barrier = threading.Barrier(attempts)
        outcomes: list[str] = []

        def attempt() -> None:
            with app.app_context(), new() as s:
                barrier.wait()
                try:
                    auth.authenticate(
                        s, "racer", "wrong-Password-1", lock_after=lock_after, lock_for=app.config["LOCKOUT_DURATION"]
                    )
                except auth.LoginFailed as e:
                    outcomes.append(e.message)
                s.commit()  # as the login view does (commit_anyway): the count and its audit entry are kept

        threads = [threading.Thread(target=attempt) for _ in range(attempts)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(checked) == lock_after, f"{len(checked)} passwords checked before the lock"
        assert sum("已锁定 30 分钟" in m for m in outcomes) == 1
        assert sum("账号已锁定，请 30 分钟后再试" in m for m in outcomes) == attempts - lock_after
        with new() as s:
            user = s.scalar(select(User).where(User.username == "racer"))
            assert user.locked_until is not None and user.failed_logins == 0
            from app.audit.models import AuditEntry

            failures = s.scalars(
                select(AuditEntry).where(AuditEntry.user_id == user.id, AuditEntry.action == "login")
            ).all()
            assert sorted(e.detail.get("failed_logins", 0) for e in failures if e.detail["reason"] == "password") == [
                1, 2, 3, 4, 5,
            ]  # fmt: skip


# --- the rate-limit store ---------------------------------------------------------------------------------


def test_production_refuses_a_per_process_store_with_several_workers() -> None:
    prod = {"LIANFANG_ENV": "production", "RATELIMIT_STORAGE_URI": "memory://"}
    with pytest.raises(ConfigError, match="redis://"):
        check_rate_limit_store(prod, workers=4)
    check_rate_limit_store(prod, workers=1)
    check_rate_limit_store({**prod, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0"}, workers=4)
    check_rate_limit_store({**prod, "LIANFANG_ENV": "development"}, workers=4)


def test_the_app_and_gunicorn_refuse_to_start_so(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from app.config import load_config

    monkeypatch.setenv("LIANFANG_ENV", "production")
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    monkeypatch.delenv("RATELIMIT_STORAGE_URI", raising=False)
    with pytest.raises(ConfigError, match="4 workers"):
        load_config({"SECRET_KEY": "s" * 40})
    conf: dict[str, object] = {}
    exec(compile((ROOT / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), conf)  # noqa: S102
    with pytest.raises(SystemExit, match="RATELIMIT_STORAGE_URI"):
        conf["on_starting"](SimpleNamespace(cfg=SimpleNamespace(workers=3)))  # type: ignore[operator]
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379/0")
    conf["on_starting"](SimpleNamespace(cfg=SimpleNamespace(workers=3)))  # type: ignore[operator]
    assert os.environ["WEB_CONCURRENCY"] == "3"


def _redis_url() -> str | None:
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/2")
    try:
        import redis

        redis.Redis.from_url(url, socket_timeout=1).ping()
    except Exception:
        return None
    return url


HIT = """
import os, sys
os.environ.update(LIANFANG_ENV="testing", SECRET_KEY="k" * 40, RATELIMIT_STORAGE_URI=sys.argv[1])
from limits import parse
from app import create_app
from app.extensions import limiter
app = create_app()
with app.app_context():
    print(type(limiter.storage).__name__, [limiter.limiter.hit(parse("3 per minute"), sys.argv[2]) for _ in range(2)])
"""


def test_workers_share_one_login_counter_in_redis() -> None:
    """Two processes (two workers) count into one store: the limit holds across them."""
    url = _redis_url()
    if url is None:
        pytest.skip("no Redis answers")
    prefix = f"lf-test-{uuid.uuid4().hex}"
    runs = [
        subprocess.run(
            [sys.executable, "-c", HIT, url, prefix], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    ]
    assert runs == ["RedisStorage [True, True]", "RedisStorage [True, False]"], runs


# --- the own account page ---------------------------------------------------------------------------------


def test_current_password_guesses_lock_the_account_like_the_login(app, make_user, login_as, session) -> None:  # type: ignore[no-untyped-def]
    user = make_user("guessed")
    client = login_as(user)
    lock_after = app.config["LOCKOUT_THRESHOLD"]
    for n in range(lock_after):
        wrong = post_form(
            client, "/account", {"action": "password", "pw-current": f"guess-{n}", "pw-new": "Another-Lf-9#x"}
        )
        assert wrong.status_code == 400
    assert "已锁定 30 分钟" in wrong.get_data(as_text=True)
    right = post_form(client, "/account", {"action": "password", "pw-current": PASSWORD, "pw-new": "Another-Lf-9#x"})
    assert right.status_code == 400 and "账号已锁定" in right.get_data(as_text=True)
    session.expire_all()
    row = session.get(User, user.id)
    assert row.locked_until is not None and passwords.verify_password(row.password_hash, PASSWORD)
    fresh = app.test_client()
    assert "账号已锁定" in fresh.post(
        "/login", data={"csrf_token": csrf_token(fresh), "username": "guessed", "password": PASSWORD}
    ).get_data(as_text=True)
    assert [e.outcome.value for e in audit_actions("password.change") if e.user_id == user.id][-1] == "denied"


def test_current_password_check_is_rate_limited(app, make_user, login_as) -> None:  # type: ignore[no-untyped-def]
    client = login_as(make_user("throttled"))
    app.config["LOGIN_RATE_LIMIT"] = "2 per minute"
    limiter.reset()
    try:
        codes = [
            post_form(
                client, "/account", {"action": "password", "pw-current": "x", "pw-new": "Another-Lf-9#x"}
            ).status_code
            for _ in range(3)
        ]
        assert codes == [400, 400, 429]
        # creating a token is no password check: not throttled
        assert post_form(client, "/account", {"action": "token", "tk-name": "ci", "tk-days": "30"}).status_code == 200
    finally:
        app.config["LOGIN_RATE_LIMIT"] = "10000 per minute"
        limiter.reset()
