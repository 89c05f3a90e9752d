"""No input answers 500 (issue 10.6), as classes over the whole URL map rather than the inputs that showed them:
ids past their column's range in any route or query parameter, page numbers past any offset, control characters
(NUL first) in any text a request carries; an API write without valid credentials is 401; an unsupported method
is 405 with its Allow header. On PostgreSQL (TEST_DATABASE_URL) a route whose converter is wider than its column
fails the walk with the converter's own maximum."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from werkzeug.routing import IntegerConverter, Rule

from app.auth.models import User
from app.auth.roles import Role
from app.auth.services import create_token
from app.core.inputs import INT32_MAX, INT64_MAX, BigIdConverter, IdConverter
from tests.conftest import csrf_token

WRITE = {"POST", "PUT", "PATCH", "DELETE"}
# Values for the routes' string parts, so that every rule can be built.
STRING_PARTS = {"level": "yellow", "code": "510000", "filename": "css/app.css"}
CONTROL_MESSAGE = "控制字符"


def rules(app: Flask) -> list[Rule]:
    return sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, sorted(r.methods or ())))


def int_parts(rule: Rule) -> dict[str, IntegerConverter]:
    return {k: c for k, c in rule._converters.items() if isinstance(c, IntegerConverter)}


def url(rule: Rule, number: int) -> str:
    """The rule's path with every number part = `number` and every string part a plausible value (built by
    hand: url_for would refuse a number past the converter's range, which is what the walk sends)."""

    def part(m: re.Match[str]) -> str:
        converter = rule._converters[m[2]]
        return str(number) if isinstance(converter, IntegerConverter) else STRING_PARTS.get(m[2], "x")

    return re.sub(r"<(?:(\w+):)?(\w+)>", part, rule.rule)


@pytest.fixture
def everyone(app, make_user, session):  # type: ignore[no-untyped-def]
    """A province user holding every role but the audit admin's (every permission a walk needs), their bearer
    token, and an audit admin."""
    roles = tuple(r for r in Role if r is not Role.audit_admin)
    user = make_user("walker", code="510000", roles=roles)
    auditor = make_user("walk_auditor", code="510000", roles=(Role.audit_admin,))
    _token, raw = create_token(session, session.get(User, user.id), "walk", days=1)
    session.commit()
    return user, {"Authorization": f"Bearer {raw}"}, auditor


def send(client: Any, rule: Rule, method: str, path: str, headers: dict[str, str], token: str, **kw: Any) -> Any:
    if path.startswith("/api/"):
        if method in WRITE:
            kw.setdefault("json", {})
        return client.open(path, method=method, headers=headers, **kw)
    if method in WRITE:
        kw.setdefault("data", {})
        kw["data"] = {**kw["data"], "csrf_token": token}
    return client.open(path, method=method, **kw)


def methods(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


def test_every_number_in_a_route_is_an_id_of_a_known_width(app) -> None:  # type: ignore[no-untyped-def]
    """`<int:...>` says nothing about the column: each number part is `<id:...>` (32-bit) or `<bigid:...>`."""
    plain = [r.rule for r in rules(app) for c in int_parts(r).values() if type(c) not in (IdConverter, BigIdConverter)]
    assert plain == []
    assert any(isinstance(c, BigIdConverter) for r in rules(app) for c in int_parts(r).values())


def test_ids_at_and_past_their_columns_range_are_not_found(app, everyone, login_as) -> None:  # type: ignore[no-untyped-def]
    user, headers, _auditor = everyone
    client = login_as(user, app.test_client())
    token = csrf_token(client, "/")
    walked = 0
    for rule in rules(app):
        parts = int_parts(rule)
        if not parts:
            continue
        top = max(INT64_MAX if isinstance(c, BigIdConverter) else INT32_MAX for c in parts.values())
        for method in methods(rule):
            at = send(client, rule, method, url(rule, top), headers, token)
            past = send(client, rule, method, url(rule, top + 1), headers, token)
            huge = send(client, rule, method, url(rule, 10**30), headers, token)
            assert at.status_code < 500, (method, rule.rule, top, at.status_code)
            assert at.status_code in (400, 404, 409), (method, rule.rule, at.status_code)  # looked up, not found
            assert past.status_code == 404 and huge.status_code == 404, (method, rule.rule, past.status_code)
            walked += 1
    assert walked >= 30


HOSTILE_NUMBERS = ["9223372036854775807", "9223372036854775808", "2147483648", "2147483647", "²", "-1", "0", "1e9"]
# Every query parameter a screen or the API reads a number or a choice from.
QUERY_NAMES = [
    "page", "per_page", "bureau_id", "list_id", "against", "year", "version", "view", "state", "level",
    "jurisdiction", "start", "end", "under", "token", "object_id",
]  # fmt: skip


@pytest.mark.parametrize("value", HOSTILE_NUMBERS)
def test_no_query_number_answers_500_on_any_screen(app, everyone, login_as, value) -> None:  # type: ignore[no-untyped-def]
    user, headers, auditor = everyone
    clients = [login_as(user, app.test_client()), login_as(auditor, app.test_client())]
    query = "&".join(f"{name}={quote(value)}" for name in QUERY_NAMES) + f"&jurisdiction=z:{quote(value)}"
    for rule in rules(app):
        if "GET" not in methods(rule) or rule.endpoint == "static":
            continue
        for client in clients:
            path = url(rule, 1) + "?" + query
            response = client.get(path, headers=headers if path.startswith("/api/") else {})
            assert response.status_code < 500, (path, response.status_code)


def test_the_three_lists_answer_the_last_page_past_any_offset(app, everyone, login_as) -> None:  # type: ignore[no-untyped-def]
    user, _headers, auditor = everyone
    staff, audit = login_as(user, app.test_client()), login_as(auditor, app.test_client())
    for client, path in ((staff, "/cases/"), (staff, "/admin/users"), (audit, "/audit/")):
        response = client.get(f"{path}?page=9223372036854775807")
        assert response.status_code == 200, path


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x08", "\x0b", "\x1b", "\x1f"])
def test_a_control_character_anywhere_is_refused_by_name_before_the_view(app, everyone, login_as, char) -> None:  # type: ignore[no-untyped-def]
    user, headers, _auditor = everyone
    client = login_as(user, app.test_client())
    token = csrf_token(client, "/")
    for rule in rules(app):
        if rule.endpoint == "static":
            continue
        for method in methods(rule):
            path = url(rule, 1) + "?q=" + quote(f"a{char}b")
            response = send(client, rule, method, path, headers, token)
            assert response.status_code == 400, (method, rule.rule, response.status_code)
            shown = response.get_json()["error"]["message"] if response.is_json else response.get_data(as_text=True)
            assert CONTROL_MESSAGE in shown, (method, rule.rule)
    # In a form field, a JSON string or key, a path part: refused, naming the field.
    form = client.post("/cases/new", data={"csrf_token": token, "source_name": f"某{char}厂"})
    assert form.status_code == 400 and "“source_name”中含有不可见的控制字符" in form.get_data(as_text=True)
    api = client.post("/api/v1/cases", json={"problem": ["ok", {"note": f"x{char}"}]}, headers=headers)
    assert api.status_code == 400 and api.get_json()["error"]["code"] == "invalid"
    message = api.get_json()["error"]["message"]
    assert CONTROL_MESSAGE in message and "problem[1].note" in message
    key = client.post("/api/v1/cases", json={f"k{char}": 1}, headers=headers)
    assert key.status_code == 400
    assert client.get(f"/places/51{quote(char)}").status_code == 400


def test_a_nul_on_the_login_form_is_refused_before_anyone_is_known(client) -> None:  # type: ignore[no-untyped-def]
    for field in ("username", "password"):
        data = {"csrf_token": csrf_token(client), "username": "admin", "password": "x"}
        data[field] = "ad\x00min"
        response = client.post("/login", data=data)
        assert response.status_code == 400
        assert f"“{field}”中含有不可见的控制字符" in response.get_data(as_text=True)
    assert client.get("/login?next=/%00/").status_code == 400


def test_tab_and_line_breaks_are_text(app, everyone, login_as) -> None:  # type: ignore[no-untyped-def]
    user, _headers, _auditor = everyone
    client = login_as(user, app.test_client())
    assert client.get("/cases/?q=" + quote("a\tb\r\nc")).status_code == 200


def test_an_api_write_without_valid_credentials_is_unauthorized(app, everyone, login_as) -> None:  # type: ignore[no-untyped-def]
    user, _headers, _auditor = everyone
    cookie_client = login_as(user, app.test_client())
    for rule in rules(app):
        if not rule.rule.startswith("/api/"):
            continue
        for method in set(methods(rule)) & WRITE:
            path = url(rule, 1)
            for headers in ({}, {"Authorization": "Bearer lf_not-a-token"}, {"Authorization": "Basic eDp5"}):
                response = app.test_client().open(path, method=method, json={}, headers=headers)
                assert response.status_code == 401, (method, path, headers, response.status_code)
                assert response.get_json()["error"]["code"] == "unauthorized"
            # A browser session's write still needs its CSRF token.
            assert cookie_client.open(path, method=method, json={}).status_code == 400


def test_an_unsupported_method_is_405_with_its_allow_header(app, client) -> None:  # type: ignore[no-untyped-def]
    for rule in rules(app):
        for method in ("TRACE", "PATCH", "DELETE"):
            if method in (rule.methods or ()):
                continue
            response = client.open(url(rule, 1), method=method)
            assert response.status_code == 405, (method, rule.rule, response.status_code)
            allowed = {m.strip() for m in response.headers.get("Allow", "").split(",")}
            assert set(methods(rule)) <= allowed, (method, rule.rule, response.headers.get("Allow"))


def test_json_nested_past_the_parser_is_refused_not_a_crash(app, everyone) -> None:  # type: ignore[no-untyped-def]
    _user, headers, _auditor = everyone
    client = app.test_client()
    deep = "[" * 100_000 + "]" * 100_000
    for path, extra in (("/api/v1/cases", headers), ("/api/v1/cases", {}), ("/login", {})):
        response = client.post(path, data=deep, content_type="application/json", headers=extra)
        assert response.status_code == 400, (path, response.status_code)
    nested = "[" * 500 + '"a\\u0000"' + "]" * 500  # parsed fine, walked without recursion
    response = client.post("/api/v1/cases", data=nested, content_type="application/json", headers=headers)
    assert response.status_code == 400 and CONTROL_MESSAGE in response.get_json()["error"]["message"]
