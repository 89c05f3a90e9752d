"""Bad input to the cases API answers 400 naming the field (never a 500, never silently ignored), and nothing
is written; a stale version refuses a transfer like any other transition."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from app.auth.models import User
from app.auth.services import create_token
from app.cases.models import Case, CaseTransfer

CASE = {"source_type": "industrial", "topic": "超标排放", "source_name": "隆昌砖厂", "place": "511083", "problem": "p"}
HUGE = "9" * 25  # beyond any integer column of either database


def bearer(session: Any, user: Any) -> dict[str, str]:
    _token, raw = create_token(session, session.get(User, user.id), "t", days=1)
    session.commit()
    return {"Authorization": f"Bearer {raw}"}


def count(session: Any, model: Any) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"inspected_at": 5}, "inspected_at"),
        ({"inspected_at": [2026]}, "inspected_at"),
        ({"enterprise_uscc": "9" * 40}, "enterprise_uscc"),  # PostgreSQL refused the row: a 500 before
        ({"latitude": "north", "longitude": 105}, "latitude"),
    ],
)
def test_create_refuses_bad_fields_by_name(app, world, session, extra, field) -> None:  # type: ignore[no-untyped-def]
    api = app.test_client()
    refused = api.post("/api/v1/cases", json={**CASE, **extra}, headers=bearer(session, world.inspector))
    assert refused.status_code == 400, refused.get_data(as_text=True)
    assert refused.get_json()["error"]["field"] == field and refused.get_json()["error"]["code"] == "invalid"
    assert count(session, Case) == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("state=open", "state"),  # was ignored: the whole list came back as if filtered
        ("source_type=smoke", "source_type"),
        ("origin=rumour", "origin"),
        ("overdue=maybe", "overdue"),
        ("view=mine", "view"),
        ("page=0", "page"),
        ("page=abc", "page"),
        ("page=%C2%B2", "page"),  # "²" is a digit to str.isdigit() but not to int(): a 500 before
        (f"page={HUGE}", "page"),  # overflowed the OFFSET: a 500 before
        (f"bureau_id={HUGE}", "bureau_id"),  # overflowed the integer column: a 500 before
        ("bureau_id=%C2%B2", "bureau_id"),
    ],
)
def test_list_refuses_parameters_outside_their_vocabulary(app, world, session, query, field) -> None:  # type: ignore[no-untyped-def]
    refused = app.test_client().get(f"/api/v1/cases?{query}", headers=bearer(session, world.nj_staff))
    assert refused.status_code == 400 and refused.get_json()["error"]["field"] == field


def test_list_views_and_filters(app, world, session) -> None:  # type: ignore[no-untyped-def]
    api = app.test_client()
    rc, nj = bearer(session, world.inspector), bearer(session, world.nj_staff)
    case = api.post("/api/v1/cases", json=CASE, headers=rc).get_json()
    assert [c["id"] for c in api.get("/api/v1/cases?view=verify", headers=rc).get_json()["cases"]] == [case["id"]]
    assert api.get("/api/v1/cases?view=inbox", headers=rc).get_json()["cases"] == []
    assert api.get("/api/v1/cases?state=closed", headers=rc).get_json()["cases"] == []
    assert len(api.get("/api/v1/cases?state=discovered&source_type=industrial", headers=rc).get_json()["cases"]) == 1
    api.post(f"/api/v1/cases/{case['id']}/transitions", json={"action": "transfer", "to_bureau_id": world.neijiang.id},
             headers=rc)  # fmt: skip
    assert [c["id"] for c in api.get("/api/v1/cases?view=inbox", headers=nj).get_json()["cases"]] == [case["id"]]
    by_bureau = api.get(f"/api/v1/cases?bureau_id={world.neijiang.id}", headers=rc).get_json()["cases"]
    assert [c["id"] for c in by_bureau] == [case["id"]]


def test_a_case_id_beyond_any_column_is_not_found(app, world, session) -> None:  # type: ignore[no-untyped-def]
    api, headers = app.test_client(), bearer(session, world.inspector)
    assert api.get(f"/api/v1/cases/{HUGE}", headers=headers).status_code == 404
    assert api.post(f"/api/v1/cases/{HUGE}/transitions", json={"action": "receive"}, headers=headers).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "transfer", "to_bureau_id": "abc"}, "to_bureau_id"),  # a 500 before
        ({"action": "transfer", "to_bureau_id": [1]}, "to_bureau_id"),  # a 500 before
        ({"action": "transfer", "to_bureau_id": int(HUGE)}, "to_bureau_id"),  # a 500 before
        ({"action": "transfer"}, "to_bureau_id"),
        ({"action": "receive", "version": "2"}, "version"),  # was ignored: no stale check at all
        ({"action": "receive", "version": True}, "version"),
        ({"action": "sign"}, "action"),
    ],
)
def test_transition_refuses_bad_fields_by_name(app, world, session, body, field) -> None:  # type: ignore[no-untyped-def]
    api, headers = app.test_client(), bearer(session, world.inspector)
    case = api.post("/api/v1/cases", json=CASE, headers=headers).get_json()
    refused = api.post(f"/api/v1/cases/{case['id']}/transitions", json=body, headers=headers)
    assert refused.status_code == 400, refused.get_data(as_text=True)
    assert refused.get_json()["error"]["field"] == field
    assert session.get(Case, case["id"], populate_existing=True).state.value == "discovered"


def test_a_bureau_that_cannot_take_the_case_is_named_as_the_api_field(app, world, session) -> None:  # type: ignore[no-untyped-def]
    api, headers = app.test_client(), bearer(session, world.inspector)
    case = api.post("/api/v1/cases", json=CASE, headers=headers).get_json()
    assert world.zigong.id not in [b["id"] for b in case["transfer_to"]]
    refused = api.post(f"/api/v1/cases/{case['id']}/transitions", headers=headers,
                       json={"action": "transfer", "to_bureau_id": world.zigong.id})  # fmt: skip
    assert refused.status_code == 400 and refused.get_json()["error"]["field"] == "to_bureau_id"
    assert "自贡市生态环境局" in refused.get_json()["error"]["message"]


def test_a_stale_version_refuses_a_transfer(app, world, session) -> None:  # type: ignore[no-untyped-def]
    api, headers = app.test_client(), bearer(session, world.inspector)
    case = api.post("/api/v1/cases", json=CASE, headers=headers).get_json()
    url = f"/api/v1/cases/{case['id']}/transitions"
    transfer = {"action": "transfer", "to_bureau_id": world.neijiang.id}
    stale = api.post(url, headers=headers, json={**transfer, "version": case["version"] - 1})
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "conflict"
    assert count(session, CaseTransfer) == 0
    ok = api.post(url, headers=headers, json={**transfer, "version": case["version"]})
    assert ok.status_code == 200 and ok.get_json()["version"] > case["version"]


@pytest.mark.parametrize("penalty", ["nan", "inf", "-1", "lots"])
def test_an_order_refuses_a_penalty_that_is_not_a_finite_amount(app, world, session, penalty) -> None:  # type: ignore[no-untyped-def]
    from datetime import datetime, timedelta

    from app.core.localtime import LOCAL_TZ as LOCAL

    api = app.test_client()
    rc, nj = bearer(session, world.inspector), bearer(session, world.nj_staff)
    case = api.post("/api/v1/cases", json=CASE, headers=rc).get_json()
    url = f"/api/v1/cases/{case['id']}/transitions"
    api.post(url, json={"action": "transfer", "to_bureau_id": world.neijiang.id}, headers=rc)
    for action in ("receive", "handle"):
        assert api.post(url, json={"action": action}, headers=nj).status_code == 200
    deadline = (datetime.now(LOCAL).date() + timedelta(days=5)).isoformat()
    refused = api.post(url, headers=nj, json={
        "action": "order", "enforcement_action": "立案", "decision_number": "内环罚〔2026〕1号",
        "penalty_amount": penalty, "rectify_deadline": deadline, "rectify_plan": "整改",
    })  # fmt: skip
    assert refused.status_code == 400 and refused.get_json()["error"]["field"] == "penalty_amount"
    assert session.get(Case, case["id"], populate_existing=True).state.value == "handling"


@pytest.mark.parametrize("bureau", [HUGE, "%C2%B2"])
def test_screens_ignore_a_bureau_filter_that_names_no_bureau(app, world, login_as, bureau) -> None:  # type: ignore[no-untyped-def]
    page = login_as(world.nj_staff).get(f"/cases/?view=all&bureau_id={bureau}")
    assert page.status_code == 200  # a 500 before
