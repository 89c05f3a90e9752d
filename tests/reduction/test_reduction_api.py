"""The reduction JSON API: lists, enterprises with filters and pages, one enterprise with units, measures per
level, expected reductions and flags, a level's measures updated, lifecycle actions; scoped like the screens,
errors naming the field, and every route documented in the OpenAPI file."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from sqlalchemy import update

from app.auth.models import User
from app.auth.services import create_token
from app.core.masking import mask_phone
from app.reduction.models import Enterprise, ListState, ReductionList
from tests.conftest import ROOT, audit_actions, csrf_token
from tests.reduction import test_lists
from tests.reduction.test_lists import YEAR, build_list
from tests.test_masking import LENGTHS, number

OPENAPI = ROOT / "app" / "api" / "openapi.yaml"

people = test_lists.people  # the shared fixture


@pytest.fixture
def world(people, session):  # type: ignore[no-untyped-def]
    return build_list(session, people)


def bearer(session: Any, user: Any) -> dict[str, str]:
    _token, raw = create_token(session, session.get(User, user.id), "测试", days=1)
    session.commit()
    return {"Authorization": f"Bearer {raw}"}


def test_lists_and_one_list(client, people, world, session) -> None:  # type: ignore[no-untyped-def]
    headers = bearer(session, people.city_user)
    listing = client.get("/api/v1/reduction/lists", headers=headers)
    assert listing.status_code == 200
    (row,) = [r for r in listing.json["lists"] if r["id"] == world.lst.id]
    assert row["jurisdiction"] == "511002" and row["state"] == "draft" and row["enterprises"] == 5
    assert row["actions"] == [] and row["deadline"] is None
    assert client.get("/api/v1/reduction/lists?state=draft", headers=headers).json["count"] == 1
    assert client.get("/api/v1/reduction/lists?state=published", headers=headers).json["count"] == 0
    bad = client.get("/api/v1/reduction/lists?year=19", headers=headers)
    assert bad.status_code == 400 and bad.json["error"]["field"] == "year"
    one = client.get(f"/api/v1/reduction/lists/{world.lst.id}", headers=headers).json
    assert one["versions"] == [{"id": world.lst.id, "year": YEAR, "version": 1, "state": "draft"}]
    assert client.get("/api/v1/reduction/lists/999999", headers=headers).status_code == 404
    assert any(e.action == "api.request" for e in audit_actions("api.request"))


def test_enterprises_filtered_and_paged(client, people, world, session) -> None:  # type: ignore[no-untyped-def]
    headers = bearer(session, people.district_user)
    url = f"/api/v1/reduction/lists/{world.lst.id}/enterprises"
    everything = client.get(url, headers=headers).json
    assert everything["total"] == 5 and everything["flagged_total"] == 1
    page = client.get(url, query_string={"per_page": 2, "page": 2, "sort": "so2"}, headers=headers).json
    assert page["pages"] == 3 and len(page["enterprises"]) == 2
    flagged = client.get(url, query_string={"flags": "flagged"}, headers=headers).json["enterprises"]
    assert [e["name"] for e in flagged] == ["市中区鑫源页岩砖厂"] and flagged[0]["problem_codes"] == ["below_rule"]
    keyed = client.get(url, query_string={"category": "key", "grade": "B"}, headers=headers).json
    assert [e["name"] for e in keyed["enterprises"]] == ["市中区华兴水泥有限公司"]
    for field, value in (("category", "x"), ("per_page", "0"), ("sort", "evil")):
        bad = client.get(url, query_string={field: value}, headers=headers)
        assert bad.status_code == 400 and bad.json["error"]["field"] == field and bad.json["error"]["code"] == "invalid"


def test_one_enterprise_with_policy_reductions_and_flags(client, people, world, session) -> None:  # type: ignore[no-untyped-def]
    own = client.get(
        f"/api/v1/reduction/enterprises/{world.brick.id}", headers=bearer(session, people.district_user)
    ).json
    assert own["contact_phone"] == "13812345678" and not own["contact_phone_masked"] and own["editable"]
    assert [u["code"] for u in own["units"]] == ["C1", "K1"] and own["units"][1]["reduction_base"] == 30
    yellow = own["policy"]["yellow"]
    assert [m["kind"] for m in yellow["measures"]] == ["limit", "truck_ban", "outdoor_work_ban"]
    assert yellow["expected_reduction_t_per_day"]["so2"] == pytest.approx(18.25 * 0.3 / 365)
    assert yellow["required"][0]["rule"] == "measure_rules/brick.yaml#brick.C"
    assert yellow["required"][0]["verified"] is False  # brick's numbers are not yet checked against the guide
    assert [f["rule"] for f in own["flags"]] == ["measure_rules/brick.yaml#brick.C"]
    assert own["staggered_production"]["excluded_units"] == ["原料陈化"]
    schedule = own["staggered_production"]["schedule"]
    assert schedule["ref"] == "staggered/chuanyu_2025.yaml#brick" and schedule["verified"] is False
    city = client.get(f"/api/v1/reduction/enterprises/{world.brick.id}", headers=bearer(session, people.city_user)).json
    assert city["contact_phone"] == "138****5678" and city["contact_phone_masked"] and not city["editable"]
    for n in LENGTHS:  # every length, through the API itself
        session.execute(update(Enterprise).where(Enterprise.id == world.brick.id).values(contact_phone=number(n)))
        session.commit()
        got = client.get(f"/api/v1/reduction/enterprises/{world.brick.id}", headers=bearer(session, people.city_user))
        assert (got.json["contact_phone"] or "") == mask_phone(number(n)), n
    outsider = client.get(f"/api/v1/reduction/enterprises/{world.brick.id}", headers=bearer(session, people.other_user))
    assert outsider.status_code == 404 and outsider.json["error"]["code"] == "not_found"


def test_update_a_level(client, people, world, session) -> None:  # type: ignore[no-untyped-def]
    headers = bearer(session, people.district_user)
    url = f"/api/v1/reduction/enterprises/{world.brick.id}/policy/yellow"
    fingerprint = client.get(f"/api/v1/reduction/enterprises/{world.brick.id}", headers=headers).json["policy"][
        "yellow"
    ]["fingerprint"]
    good = {
        "fingerprint": fingerprint,
        "measures": [
            {"kind": "limit", "verification": "power_meter", "percent": 50},
            {"kind": "truck_ban", "verification": "gate_records"},
            {"kind": "outdoor_work_ban", "verification": "video"},
        ],
    }
    saved = client.put(url, json=good, headers=headers)
    assert saved.status_code == 200 and saved.json["flags"] == []
    assert saved.json["policy"]["yellow"]["measures"][0]["percent"] == 50
    stale = client.put(url, json=good, headers=headers)
    assert stale.status_code == 409 and stale.json["error"]["code"] == "conflict"
    cases = [
        ({"measures": "all"}, "measures"),
        ({"measures": [{"kind": "limit", "verification": "power_meter"}]}, "measures[1].percent"),
        (
            {"measures": [{"kind": "limit", "verification": "power_meter", "percent": "50"}]},
            "measures[1].percent",
        ),
        (
            {"measures": [{"kind": "stop", "verification": "power_meter", "unit": "Z"}]},
            "measures[1].unit_code",
        ),
        ({"measures": [{"kind": "truck_ban", "verification": "dcs"}]}, "measures"),
    ]
    for body, field in cases:
        bad = client.put(url, json=body, headers=headers)
        assert bad.status_code == 400, body
        assert bad.json["error"]["field"] == field, (body, bad.json)
    weaker = client.put(
        f"/api/v1/reduction/enterprises/{world.brick.id}/policy/orange",
        json={"measures": [{"kind": "limit", "verification": "power_meter", "percent": 10}]},
        headers=headers,
    )
    assert weaker.status_code == 400 and "低于黄色预警" in weaker.json["error"]["message"]
    assert (
        client.put(f"/api/v1/reduction/enterprises/{world.brick.id}/policy/purple", json=good, headers=headers).json[
            "error"
        ]["field"]
        == "level"
    )
    city = client.put(url, json=good, headers=bearer(session, people.city_user))
    assert city.status_code == 403 and city.json["error"]["code"] == "forbidden"
    assert audit_actions("access.denied")[-1].detail["path"] == url


def test_lifecycle_actions(client, people, world, session) -> None:  # type: ignore[no-untyped-def]
    district, city = bearer(session, people.district_user), bearer(session, people.city_user)
    base = f"/api/v1/reduction/lists/{world.lst.id}"
    assert client.get(f"{base}/actions", headers=district).json["available"] == ["submit"]
    assert client.post(f"{base}/submit", json={"lock_version": -1}, headers=district).status_code == 409
    assert client.post(f"{base}/decide", json={"decision": "approve"}, headers=district).status_code == 403
    submitted = client.post(f"{base}/submit", headers=district)
    assert submitted.status_code == 200 and submitted.json["state"] == "submitted"
    assert client.get(f"{base}/actions", headers=city).json["available"] == ["return", "approve"]
    no_reason = client.post(f"{base}/decide", json={"decision": "return"}, headers=city)
    assert no_reason.status_code == 400 and no_reason.json["error"]["field"] == "reason"
    assert client.post(f"{base}/decide", json={"decision": "maybe"}, headers=city).json["error"]["field"] == "decision"
    approved = client.post(f"{base}/decide", json={"decision": "approve"}, headers=city)
    assert approved.json["state"] == "approved"
    published = client.post(f"{base}/publish", headers=district)
    assert published.json["state"] == "published"
    history = client.get(f"{base}/actions", headers=district).json
    assert [h["action"] for h in history["history"]] == ["create", "submit", "approve", "publish"]
    assert history["available"] == ["new_version"]
    new = client.post(f"{base}/new-version", headers=district)
    assert new.status_code == 201 and new.json["version"] == 2 and new.json["based_on"] == world.lst.id
    assert session.get(ReductionList, new.json["id"]).state is ListState.draft


def test_session_clients_need_the_csrf_header(app, people, world, login_as) -> None:  # type: ignore[no-untyped-def]
    client = login_as(people.district_user)
    url = f"/api/v1/reduction/lists/{world.lst.id}/submit"
    assert client.post(url).status_code == 400
    token = csrf_token(client, "/lists/")
    assert client.post(url, headers={"X-CSRFToken": token}).json["state"] == "submitted"


def test_every_reduction_route_is_documented(app) -> None:  # type: ignore[no-untyped-def]
    spec = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    documented = {(path, method) for path, ops in spec["paths"].items() for method in ops if method != "parameters"}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/reduction"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in documented, f"{method} {path} is not in openapi.yaml"
    assert app.test_client().get("/api/v1/openapi.yaml").status_code == 200
