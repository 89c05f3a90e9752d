"""The OpenAPI file against the app, so the two cannot drift apart: every route under /api/ is documented with
its methods and every documented operation is served; the file is a valid OpenAPI 3.1 document; and real
answers of the cases API (a list, one case, transitions, errors) validate against their documented schemas,
as do the request bodies sent, while a body missing a field the schema requires is refused naming it."""

from __future__ import annotations

import copy
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from openapi_spec_validator import validate as validate_spec

from app.auth.models import User
from app.auth.roles import Role
from app.auth.services import create_token
from app.core.localtime import LOCAL_TZ as LOCAL
from tests.cases.conftest import world  # noqa: F401  the 荣昌 → 内江 scenario
from tests.conftest import ROOT, audit_actions

SPEC: dict[str, Any] = yaml.safe_load((ROOT / "app" / "api" / "openapi.yaml").read_text(encoding="utf-8"))
BASE = "/api/v1"
METHODS = {"get", "put", "post", "delete", "patch"}


def _deref(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        ref = node["$ref"].removeprefix("#/").split("/")
        node = SPEC
        for part in ref:
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def served_operations(app: Any) -> set[tuple[str, str]]:
    out = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        assert rule.rule.startswith(BASE), f"{rule.rule} is outside the documented server URL {BASE}"
        path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule.removeprefix(BASE))
        out |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return out


def documented_operations() -> set[tuple[str, str]]:
    return {(path, m) for path, ops in SPEC["paths"].items() for m in ops if m in METHODS}


def test_every_api_route_is_documented_and_every_documented_operation_is_served(app) -> None:  # type: ignore[no-untyped-def]
    served, documented = served_operations(app), documented_operations()
    assert ("/cases/{case_id}/transitions", "post") in served  # the comparison below sees the cases routes
    assert sorted(served - documented) == [], "served but not in app/api/openapi.yaml"
    assert sorted(documented - served) == [], "in app/api/openapi.yaml but not served"
    for path, method in documented:
        op = SPEC["paths"][path][method]
        params = [_deref(p) for p in SPEC["paths"][path].get("parameters", []) + op.get("parameters", [])]
        declared = {p["name"] for p in params if p["in"] == "path"}
        assert declared == set(re.findall(r"{([^}]+)}", path)), f"{method} {path}: path parameters"
        assert op.get("responses"), f"{method} {path} documents no response"


def test_the_document_is_valid_openapi_3_1_and_is_what_the_app_serves(client) -> None:  # type: ignore[no-untyped-def]
    validate_spec(SPEC)  # raises on any error, including a $ref that leads nowhere
    assert SPEC["openapi"].startswith("3.1")
    served = client.get(f"{BASE}/openapi.yaml")
    assert served.status_code == 200 and served.mimetype == "application/yaml"
    assert yaml.safe_load(served.data) == SPEC


def response_schema(path: str, method: str, status: int) -> dict[str, Any]:
    response = _deref(SPEC["paths"][path][method]["responses"][str(status)])
    return response["content"]["application/json"]["schema"]


def request_schema(path: str, method: str) -> dict[str, Any]:
    return SPEC["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]


def check(schema: dict[str, Any], instance: Any) -> None:
    """Validate against a schema of the document: its `#/components/...` references resolve in the root."""
    root = {"components": SPEC["components"], **schema}
    Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(instance)


def answer(response: Any, path: str, method: str, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    check(response_schema(path, method, status), body)
    return body


def send(client: Any, path: str, url: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    check(request_schema(path, "post"), body)  # what we send is what the document describes
    return client.post(url, json=body, headers=headers)


def today_local() -> Any:
    return datetime.now(LOCAL).date()


def bearer(session: Any, user: Any) -> dict[str, str]:
    _token, raw = create_token(session, session.get(User, user.id), "openapi", days=1)
    session.commit()
    return {"Authorization": f"Bearer {raw}"}


NEW_CASE = {
    "source_type": "industrial", "topic": "超标排放", "source_name": "隆昌某砖厂", "place": "511083",
    "source_address": "隆昌市石燕桥镇", "enterprise_uscc": "91511083MA62Q8XX1X", "problem": "烟气超标排放",
    "latitude": 29.33, "longitude": 105.29, "staff": 2,
}  # fmt: skip


def test_cases_answers_match_their_documented_schemas(app, world, session) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    api = app.test_client()
    rc, nj, zg = bearer(session, world.inspector), bearer(session, world.nj_staff), bearer(session, world.zg_staff)

    created = answer(send(api, "/cases", "/api/v1/cases", NEW_CASE, rc), "/cases", "post", 201)
    assert created["state"] == "discovered" and created["actions"] == []  # found in 内江: not 荣昌's to accept
    assert [b["name"] for b in created["transfer_to"]][:1] == ["内江市生态环境局"]
    url = f"{BASE}/cases/{created['id']}"
    transitions = "/cases/{case_id}/transitions"

    read = answer(api.get(url, headers=rc), "/cases/{case_id}", "get", 200)
    assert read["timeline"][0]["action"] == "create" and read["version"] == created["version"]

    moved = answer(
        send(api, transitions, f"{url}/transitions",
             {"action": "transfer", "to_bureau_id": world.neijiang.id, "version": read["version"]}, rc),
        transitions, "post", 200,
    )  # fmt: skip
    assert moved["state"] == "transferred" and moved["transfer"]["number"].startswith("YJ-")
    assert moved["responsible_bureau"] == "内江市生态环境局"

    inbox = answer(api.get(f"{BASE}/cases?view=inbox", headers=nj), "/cases", "get", 200)
    assert [c["number"] for c in inbox["cases"]] == [created["number"]] and inbox["has_next"] is False

    received = answer(
        send(api, transitions, f"{url}/transitions", {"action": "receive", "version": moved["version"]}, nj),
        transitions, "post", 200,
    )  # fmt: skip
    assert received["state"] == "received" and received["actions"] == ["handle"]

    # The same request again carries the version read before: stale, refused, nothing changed.
    stale = answer(
        api.post(f"{url}/transitions", json={"action": "receive", "version": moved["version"]}, headers=nj),
        transitions, "post", 409,
    )  # fmt: skip
    assert stale["error"]["code"] == "conflict" and "已签收" in stale["error"]["message"]

    refused = answer(api.post(f"{url}/transitions", json={"action": "handle"}, headers=rc), transitions, "post", 403)
    assert refused["error"]["code"] == "forbidden" and "接收单位" in refused["error"]["message"]
    assert audit_actions("access.denied")

    hidden = answer(api.get(url, headers=zg), "/cases/{case_id}", "get", 404)
    assert hidden["error"]["code"] == "not_found"
    assert answer(api.get(f"{BASE}/cases"), "/cases", "get", 401)["error"]["code"] == "unauthorized"

    bad = answer(api.get(f"{BASE}/cases?state=open", headers=nj), "/cases", "get", 400)
    assert bad["error"]["field"] == "state"

    handling = answer(api.post(f"{url}/transitions", json={"action": "handle"}, headers=nj), transitions, "post", 200)
    order = {
        "action": "order", "enforcement_action": "立案查处", "decision_number": "内环罚〔2026〕12号",
        "penalty_amount": 50000, "rectify_deadline": (today_local() + timedelta(days=10)).isoformat(),
        "rectify_plan": "更换布袋除尘器", "version": handling["version"],
    }  # fmt: skip
    ordered = answer(send(api, transitions, f"{url}/transitions", order, nj), transitions, "post", 200)
    assert ordered["state"] == "rectifying" and ordered["penalty_amount"] == 50000
    assert [e["action"] for e in ordered["timeline"]] == ["create", "transfer", "receive", "handle", "order"]
    entries = [e for e in audit_actions("case.") if (e.object_type, e.object_id) == ("case_record", str(created["id"]))]
    assert [e.action for e in entries] == ["case.create", "case.transfer", "case.receive", "case.handle", "case.order"]
    assert audit_actions("case.transfer")[-1].object_type == "case_transfer"  # the last is the form itself


def _without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


def test_a_field_the_schema_requires_is_refused_by_name(app, world, session) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """The required lists of the document and the code agree: leave one out and the answer names it."""
    api = app.test_client()
    rc, nj = bearer(session, world.inspector), bearer(session, world.nj_staff)
    for key in _deref(request_schema("/cases", "post"))["required"]:
        body = _without({**NEW_CASE, "problem": ""}, key)  # an empty problem is taken from a common topic
        with pytest.raises(ValidationError):
            check(request_schema("/cases", "post"), body)
        refused = answer(api.post(f"{BASE}/cases", json=body, headers=rc), "/cases", "post", 400)
        assert refused["error"]["field"] == key

    case = api.post(f"{BASE}/cases", json=NEW_CASE, headers=rc).get_json()
    url = f"{BASE}/cases/{case['id']}/transitions"
    schemas = {_deref(s)["properties"]["action"].get("const"): _deref(s) for s in _deref(
        {"$ref": "#/components/schemas/Transition"})["oneOf"]}  # fmt: skip

    def refuse_each_missing(action: str, body: dict[str, Any], headers: dict[str, str]) -> None:
        required = set(schemas[action]["required"]) - {"action"}
        assert required, action
        for key in required:
            with pytest.raises(ValidationError):
                check(request_schema("/cases/{case_id}/transitions", "post"), _without(body, key))
            refused = api.post(url, json=_without(body, key), headers=headers)
            assert answer(refused, "/cases/{case_id}/transitions", "post", 400)["error"]["field"] == key

    refuse_each_missing("transfer", {"action": "transfer", "to_bureau_id": world.neijiang.id}, rc)
    assert api.post(url, json={"action": "transfer", "to_bureau_id": world.neijiang.id}, headers=rc).status_code == 200
    refuse_each_missing("return", {"action": "return", "reason": "不属于本辖区"}, nj)
    assert api.post(url, json={"action": "receive"}, headers=nj).status_code == 200
    assert api.post(url, json={"action": "handle"}, headers=nj).status_code == 200
    deadline = (today_local() + timedelta(days=3)).isoformat()
    order = {"action": "order", "enforcement_action": "责令改正", "rectify_deadline": deadline, "rectify_plan": "整改"}
    refuse_each_missing("order", order, nj)
    assert api.post(url, json=order, headers=nj).get_json()["state"] == "rectifying"


def test_the_schema_check_is_not_vacuous() -> None:
    case = {
        "id": 1, "number": "XS-2026-500153-00001", "state": "discovered", "source_type": "industrial",
        "topic": "超标排放", "origin": "field_inspection", "inspected_at": "2026-11-23T10:00:00+00:00",
        "source_name": "某厂", "source_address": "", "enterprise_uscc": None, "discovered_bureau": "荣昌",
        "responsible_bureau": None, "due_at": None, "escalation": None, "version": 2,
    }  # fmt: skip
    page = {"page": 1, "has_next": False, "cases": [case]}
    check(response_schema("/cases", "get", 200), page)
    for broken in ({"state": "open"}, {"version": "2"}, {"inspected_at": "yesterday"}, {"surprise": 1}):
        tampered = copy.deepcopy(page)
        tampered["cases"][0].update(broken)
        with pytest.raises(ValidationError):
            check(response_schema("/cases", "get", 200), tampered)
    with pytest.raises(ValidationError):
        check(response_schema("/cases/{case_id}", "get", 404), {"error": {"status": 404, "message": "x"}})


def test_roles_without_handle_cases_are_refused_as_documented(app, world, session, make_user) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    reviewer = make_user("nj_rev", bureau=world.neijiang, roles=(Role.reviewer,))
    headers = bearer(session, reviewer)
    api = app.test_client()
    assert answer(api.get(f"{BASE}/cases", headers=headers), "/cases", "get", 200)["cases"] == []
    refused = answer(api.post(f"{BASE}/cases", json=NEW_CASE, headers=headers), "/cases", "post", 403)
    assert refused["error"]["code"] == "forbidden"
