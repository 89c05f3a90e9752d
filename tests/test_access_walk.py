"""Every route of the URL map, as every role, against objects in an own, a child, a sibling, a parent and
another province's jurisdiction: any access that should be denied and is not fails the test.

The expectation comes from the access rule each view declares (`app.core.access`) and the jurisdiction of
the object in the URL. A new route whose URL parameters this test cannot resolve fails it too, so that
every route added later is walked. No GET may change data: the walk counts every table's rows around each
GET and records every write statement it sends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import event, func, select

from app.auth.models import ApiToken, User
from app.auth.roles import Role, roles_allow
from app.core.access import access_of
from app.db import Base
from app.extensions import db
from app.jobs.models import Job
from tests.alerts.walk import ALERT_PARAMS, add_alert_objects
from tests.cases.walk import CASE_PARAMS, add_case_objects
from tests.crosscheck.walk import CROSSCHECK_PARAMS, add_crosscheck_objects
from tests.power.walk import POWER_PARAMS, add_power_objects
from tests.response.walk import RESPONSE_PARAMS, add_response_objects

# Actor's bureau sits at 内江市; targets around it.
OWN, CHILD, SIBLING, PARENT, OTHER = "511000", "511002", "510300", "510000", "500153"
IN_SCOPE = {OWN, CHILD}
STATIC_OK = {"filename": "css/app.css"}


@dataclass
class Target:
    where: str
    params: dict[str, Any]
    in_scope: bool


@pytest.fixture
def world(app, make_bureau, make_user, session):  # type: ignore[no-untyped-def]
    """A user and an API token in each jurisdiction around the actor's, and a draft reduction list with one
    enterprise (a unit and a measure) in each."""
    from app.reduction.demo import MeasureSpec, UnitSpec, add_enterprise
    from app.reduction.domain.uscc import generate
    from app.reduction.models import ReductionList

    objects: dict[str, dict[str, Any]] = {}
    for n, code in enumerate((OWN, CHILD, SIBLING, PARENT, OTHER)):
        bureau = make_bureau(code)
        user = make_user(f"target_{code}", bureau=bureau, roles=(Role.district_staff,))
        token = ApiToken(user_id=user.id, name="t", prefix=f"lf_{code}", token_hash=f"{code:0<64}")
        session.add(token)
        lst = ReductionList(jurisdiction_id=bureau.jurisdiction_id, bureau_id=bureau.id, year=2026)
        session.add(lst)
        session.flush()
        enterprise = add_enterprise(
            session, lst, uscc=generate(900 + n, region=code), name=f"走查企业{code}", category="key",
            grade="B", industry="cement_clinker", contact_phone="13812345678",
            units=[UnitSpec("L1", "1号线", {"so2": 1.0, "nox": 1.0, "pm": 1.0}, 100, 90, 80)],
            measures={"yellow": [MeasureSpec("truck_ban", "gate_records")]},
        )  # fmt: skip
        job = Job(kind="reduction.export", params={"list_id": lst.id}, requested_by_id=user.id,
                  bureau_id=bureau.id, jurisdiction_id=bureau.jurisdiction_id)  # fmt: skip
        session.add(job)  # queued, never run: the walk reads its page, status, download and cancel
        session.commit()
        objects[code] = {
            "bureau": bureau, "user": user, "token": token, "list": lst, "enterprise": enterprise, "job": job,
        }  # fmt: skip
    add_case_objects(app, session, make_bureau, objects)
    forecast_issue = add_alert_objects(session, objects)
    for o in objects.values():
        o["forecast_issue"] = forecast_issue
    add_response_objects(app, session, objects)
    # Campaign grants of the actor's bureau that must open nothing the walk expects denied.
    add_crosscheck_objects(session, objects, OWN, {"expired": SIBLING, "closed": PARENT, "outside": OTHER})
    add_power_objects(session, objects)
    from app.notifications.models import Notification, NotificationKind

    for o in objects.values():
        o["notification"] = Notification(
            bureau_id=o["bureau"].id, kind=NotificationKind.case_transferred, subject="走查", endpoint="cases.detail",
            object_id=o["case"].id,
        )  # fmt: skip
        session.add(o["notification"])
    session.commit()
    return objects


# Who may change what, beyond the scope: a list's content and its submission belong to the owning bureau,
# the decision to the bureau one level up, publishing to either. Routes not named here: the scope decides.
OWNER_ONLY = {
    "reduction.submit", "reduction.new_version", "reduction.save_policy", "reduction.staggered_add",
    "reduction.staggered_remove", "api.reduction_list_submit", "api.reduction_list_new_version",
    "api.reduction_enterprise_policy", "reduction.enterprise_new", "reduction.enterprise_create",
    "reduction.enterprise_edit", "reduction.enterprise_update", "reduction.enterprise_remove_confirm",
    "reduction.enterprise_remove",
}  # fmt: skip
ABOVE_ONLY = {"reduction.decide", "api.reduction_list_decide"}
OWNER_OR_ABOVE = {"reduction.publish", "api.reduction_list_publish"}
DECIDERS = {Role.city_staff, Role.province_staff, Role.approver, Role.reviewer}


def reachable(rule, code: str, actor) -> bool:  # type: ignore[no-untyped-def]
    if rule.endpoint in OWNER_ONLY:
        return code == OWN
    if rule.endpoint in ABOVE_ONLY:
        return code == CHILD
    if rule.endpoint in OWNER_OR_ABOVE:
        return code == OWN or (code == CHILD and actor is not None and bool(actor.roles & DECIDERS))
    return code in IN_SCOPE


def targets_for(rule, world, actor, actor_token) -> list[Target]:  # type: ignore[no-untyped-def]
    args = set(rule.arguments)
    if not args:
        return [Target("none", {}, True)]
    if args == {"filename"}:
        return [Target("static", STATIC_OK, True)]
    if args == {"user_id"}:
        return [Target(code, {"user_id": o["user"].id}, code in IN_SCOPE) for code, o in world.items()]
    if args == {"token_id"}:
        # Tokens are personal: only the actor's own token is reachable, whatever the jurisdiction.
        others = [Target(code, {"token_id": o["token"].id}, False) for code, o in world.items()]
        return [*others, Target("own token", {"token_id": actor_token.id}, True)]
    if args == {"job_id"}:
        # A job is its requesting bureau's only (the actor's bureau is the one at OWN), whatever the reach.
        return [Target(code, {"job_id": o["job"].id}, code == OWN) for code, o in world.items()]
    if args == {"notification_id"}:
        # Notifications are the bureau's own: the actor's bureau is the one at OWN.
        return [Target(code, {"notification_id": o["notification"].id}, code == OWN) for code, o in world.items()]
    if args == {"code"}:
        # Places are reference data every logged-in user may read.
        return [Target(code, {"code": code}, True) for code in world]
    if args == {"expert_id"}:
        # The expert pool is shared reference data of both provinces: every reader finds an expert.
        return [Target("pool", {"expert_id": world[OWN]["expert"].id}, True)]
    if args == {"plan"}:
        # Plans are reference data: the plan code names rules, not a jurisdiction's rows.
        return [Target("plan", {"plan": "chuanyu"}, True)]
    # Reduction lists: a draft list with one enterprise in each jurisdiction around the actor.
    params = {
        frozenset({"list_id"}): lambda o: {"list_id": o["list"].id},
        frozenset({"enterprise_id"}): lambda o: {"enterprise_id": o["enterprise"].id},
        frozenset({"registry_id"}): lambda o: {"registry_id": o["enterprise"].registry_id},
        frozenset({"enterprise_id", "level"}): lambda o: {"enterprise_id": o["enterprise"].id, "level": "yellow"},
    }.get(frozenset(args))
    if params is not None:
        return [Target(code, params(o), reachable(rule, code, actor)) for code, o in world.items()]
    if args == {"issue_id"}:
        # Forecast issues are the forecast centre's data for every alert reader (no jurisdiction of their own).
        return [Target("forecast", {"issue_id": world[OWN]["forecast_issue"].id}, True)]
    if args == {"issue_id", "plan"}:
        # A stored issue's evaluation under a plan: the same reference data, replayed.
        return [Target("forecast", {"issue_id": world[OWN]["forecast_issue"].id, "plan": "chuanyu"}, True)]
    # Alert episodes, proposals and periods: one in each jurisdiction, reaching that jurisdiction only.
    params = ALERT_PARAMS.get(frozenset(args))
    if params is not None:
        return [Target(code, params(o), code in IN_SCOPE) for code, o in world.items()]
    # Cases, their evidence and transfers: a case found in each jurisdiction by its own bureau; response tasks;
    # cross-check campaigns of each jurisdiction's own bureau.
    params = (CASE_PARAMS.get(frozenset(args)) or RESPONSE_PARAMS.get(frozenset(args))
              or CROSSCHECK_PARAMS.get(frozenset(args)) or POWER_PARAMS.get(frozenset(args)))  # fmt: skip
    if params is not None:
        return [Target(code, params(o), code in IN_SCOPE) for code, o in world.items()]
    raise AssertionError(f"route {rule.rule} has URL parameters {args} this test cannot resolve: extend it")


def login(app, user: User):  # type: ignore[no-untyped-def]
    """A fresh client with a server-side session and a CSRF token, without touching the login form."""
    from app.auth.services import start_session
    from app.core.scoping import Scope, set_scope

    client = app.test_client()
    with app.test_request_context():
        s = db.session()
        set_scope(s, Scope.everything())
        raw = start_session(s, s.get(User, user.id), ip="127.0.0.1", user_agent="walk")
        s.commit()
    with client.session_transaction() as sess:
        sess["sid"] = raw
        sess["csrf_token"] = "walk-csrf-raw-token"
    token = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps("walk-csrf-raw-token")
    return client, token


def row_counts(session) -> dict[str, int]:  # type: ignore[no-untyped-def]
    skip = {"audit_entry", "audit_head", "user_session"}
    tables = [t for t in Base.metadata.sorted_tables if t.name not in skip]
    return {t.name: session.scalar(select(func.count()).select_from(t)) for t in tables}


# A GET may keep the reader's session alive and log a denied access to the audit chain; it changes nothing
# else.
GET_MAY_WRITE = ("user_session", "audit_entry", "audit_head")


@contextmanager
def writes_recorded(engine) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    """Every INSERT, UPDATE or DELETE sent to the database meanwhile, but to the tables a GET may write."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        head = statement.lstrip().split(None, 3)
        verb = head[0].upper() if head else ""
        if verb in ("INSERT", "UPDATE", "DELETE") and not any(t in statement[:80] for t in GET_MAY_WRITE):
            seen.append(" ".join(statement.split())[:120])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def request(client, method: str, url: str, token: str | None):  # type: ignore[no-untyped-def]
    if method == "GET":
        response = client.get(url)
    else:
        response = client.open(url, method=method, data={"csrf_token": token} if token else {})
    response.close()
    return response


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_walk_every_route_as_role(app, world, make_user, session, role: Role) -> None:  # type: ignore[no-untyped-def]
    actor = make_user(f"actor_{role.value}", bureau=world[OWN]["bureau"], roles=(role,))
    actor_token = ApiToken(user_id=actor.id, name="mine", prefix="lf_actor", token_hash="a" * 64)
    session.add(actor_token)
    session.commit()
    failures: list[str] = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        access = access_of(view)
        if rule.endpoint != "static":
            assert access is not None, f"{rule.endpoint} declares no access rule"
        kind, permission = access if access else ("public", None)
        role_ok = kind in ("public", "login") or roles_allow({role}, permission)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for target in targets_for(rule, world, actor, actor_token):
                client, token = login(app, actor)
                url = _build(app, rule, target.params)
                before = row_counts(session)
                with writes_recorded(db.engine) as writes:
                    response = request(client, method, url, token)
                allowed = role_ok and (target.in_scope or kind == "public")
                status = response.status_code
                where = f"{method} {url} as {role.value} on {target.where}: {status}"
                if status >= 500:
                    failures.append(f"{where} (server error)")
                if method == "GET" and (writes or row_counts(session) != before):
                    failures.append(f"{where} (a GET changed data: {writes[:1] or 'row counts'})")
                elif allowed and status in (401, 403, 404):
                    failures.append(f"{where} (should be allowed)")
                elif not allowed:
                    if status not in (403, 404):
                        failures.append(f"{where} (should be denied)")
                    if row_counts(session) != before:
                        failures.append(f"{where} (denied, but data changed)")
    assert not failures, "\n".join(failures)


def _build(app, rule, params: dict[str, Any]) -> str:  # type: ignore[no-untyped-def]
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **params)


def test_anonymous_reaches_only_public_routes(app, world) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    for rule in app.url_map.iter_rules():
        kind = (access_of(app.view_functions[rule.endpoint]) or ("public", None))[0]
        if kind == "public" or rule.endpoint == "static":
            continue
        for target in targets_for(rule, world, None, world[OWN]["token"]):
            url = _build(app, rule, target.params)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                response = request(client, method, url, None)
                if method == "GET":
                    expected = 401 if url.startswith("/api/") else 302
                    assert response.status_code == expected, f"{method} {url}: {response.status_code}"
                    if expected == 302:
                        assert "/login" in response.headers["Location"]
                else:
                    assert response.status_code in (400, 401, 302), f"{method} {url}: {response.status_code}"


def test_lists_show_only_the_users_own_jurisdiction(app, world, make_user) -> None:  # type: ignore[no-untyped-def]
    admin = make_user("walk_admin", bureau=world[OWN]["bureau"], roles=(Role.system_admin,))
    client, _ = login(app, admin)
    html = client.get("/admin/users").get_data(as_text=True)
    assert "target_511000" in html and "target_511002" in html
    for code in (SIBLING, PARENT, OTHER):
        assert f"target_{code}" not in html
    bureaus = client.get("/admin/bureaus").get_data(as_text=True)
    assert world[OWN]["bureau"].name in bureaus
    assert world[OTHER]["bureau"].name not in bureaus
