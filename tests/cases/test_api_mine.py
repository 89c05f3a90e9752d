"""The cases API's 指派给我 filter (`mine=1`), as on the case list page: only the cases assigned to the caller,
with any view; any other value than the documented ones is refused by name."""

from __future__ import annotations

from typing import Any

from app.auth.roles import Role
from tests.cases.test_api_input import bearer

CASE = {"source_type": "industrial", "topic": "超标排放", "place": "511083", "problem": "烟气超标"}


def numbers(api: Any, query: str, headers: dict[str, str]) -> list[str]:
    r = api.get(f"/api/v1/cases?{query}", headers=headers)
    assert r.status_code == 200, r.get_json()
    return sorted(c["number"] for c in r.get_json()["cases"])


def test_mine_lists_only_the_cases_assigned_to_the_caller(app, world, session, make_user) -> None:  # type: ignore[no-untyped-def]
    officer = make_user("nj_mine_off", bureau=world.neijiang, roles=(Role.city_staff,), display_name="内江执法员")
    other = make_user("nj_mine_oth", bureau=world.neijiang, roles=(Role.city_staff,), display_name="内江另一员")
    api = app.test_client()
    insp, chief = bearer(session, world.inspector), bearer(session, world.nj_staff)
    me, colleague = bearer(session, officer), bearer(session, other)
    cases = []
    for name in ("隆昌甲砖厂", "隆昌乙砖厂"):
        created = api.post("/api/v1/cases", headers=insp, json={**CASE, "source_name": name}).get_json()
        moved = api.post(f"/api/v1/cases/{created['id']}/transitions", headers=insp,
                         json={"action": "transfer", "to_bureau_id": world.neijiang.id}).get_json()  # fmt: skip
        got = api.post(f"/api/v1/cases/{created['id']}/transitions", headers=chief,
                       json={"action": "receive", "version": moved["version"]}).get_json()  # fmt: skip
        cases.append(got)
    first, second = cases
    assert numbers(api, "mine=1", me) == []  # nothing assigned yet: an empty list, not the bureau's
    r = api.post(f"/api/v1/cases/{first['id']}/transitions", headers=chief,
                 json={"action": "assign", "assignee_id": officer.id, "version": first["version"]})  # fmt: skip
    assert r.status_code == 200, r.get_json()

    both = sorted([first["number"], second["number"]])
    assert numbers(api, "mine=1", me) == [first["number"]]
    assert numbers(api, "mine=true&view=inbox", me) == [first["number"]]
    assert numbers(api, f"mine=on&q={second['number']}", me) == []
    assert numbers(api, "mine=1", colleague) == [] and numbers(api, "mine=1", chief) == []
    assert numbers(api, "", me) == both and numbers(api, "mine=0", me) == both  # the bureau's list, unfiltered
    refused = api.get("/api/v1/cases?mine=me", headers=me)
    assert refused.status_code == 400 and refused.get_json()["error"]["field"] == "mine"


def test_mine_is_documented() -> None:
    from tests.test_openapi import SPEC

    params = {p["name"]: p for p in SPEC["paths"]["/cases"]["get"]["parameters"]}
    assert params["mine"]["in"] == "query" and "1" in params["mine"]["schema"]["enum"]
