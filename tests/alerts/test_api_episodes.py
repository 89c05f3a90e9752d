"""The alerts API for proposals, decisions, confirmations and episodes (issue 13.8): the done-when path through
JSON, answers valid against app/api/openapi.yaml, scoped (Kashgar sees nothing of 川渝), bad input named."""

from __future__ import annotations

from app.auth.models import BureauKind
from app.auth.roles import Role
from tests.alerts.test_api import VALUES, schema
from tests.test_openapi import bearer


def test_forecast_to_issued_alert_through_the_api(app, session, client, make_user, make_bureau) -> None:  # type: ignore[no-untyped-def]
    office = make_bureau("510000", "工作小组办公室（API）", kind=BureauKind.working_group, roots=("510000", "500000"))
    sc_gov = make_bureau("510000", "四川省人民政府（API）", kind=BureauKind.department)
    cq_gov = make_bureau("500000", "重庆市人民政府（API）", kind=BureauKind.department)
    staff = bearer(session, make_user("api_wg", roles=(Role.province_staff,), bureau=office))
    leader = bearer(session, make_user("api_leader", roles=(Role.group_leader,), bureau=office))
    sc_vg = bearer(session, make_user("api_sc_vg", roles=(Role.vice_governor,), bureau=sc_gov))
    cq_vm = bearer(session, make_user("api_cq_vm", roles=(Role.vice_mayor,), bureau=cq_gov))
    chengdu = bearer(session, make_user("api_cd", code="510100", roles=(Role.city_staff,)))
    kashgar = bearer(session, make_user("api_ks", code="653100", roles=(Role.city_staff,)))

    issue = client.post("/api/v1/alerts/forecasts", json=VALUES, headers=staff).get_json()
    stored = client.get(f"/api/v1/alerts/forecasts/{issue['id']}", headers=staff)
    assert stored.status_code == 200
    schema("StoredForecast").validate(stored.get_json())
    replay = client.get(f"/api/v1/alerts/forecasts/{issue['id']}/evaluation/chuanyu", headers=staff).get_json()
    posted = client.post("/api/v1/alerts/evaluate/chuanyu", json=VALUES, headers=staff).get_json()
    assert replay["activations"] == posted["activations"]

    r = client.post("/api/v1/alerts/proposals", headers=staff,
                    json={"plan": "chuanyu", "forecast_issue": issue["id"], "index": 0, "weather": "静稳"})  # fmt: skip
    assert r.status_code == 201, r.get_json()
    p = r.get_json()
    schema("AlertProposal").validate(p)
    assert p["kind"] == "issue" and p["level"] == "orange" and "成都平原内5个相邻城市" in p["reason"]
    assert p["actions"] == ["submit", "withdraw"]
    pid = p["id"]
    assert client.post(f"/api/v1/alerts/proposals/{pid}/transitions", json={"action": "submit"},
                       headers=staff).status_code == 200  # fmt: skip
    denied = client.post(f"/api/v1/alerts/proposals/{pid}/decisions", json={"decision": "agree"}, headers=sc_vg)
    assert denied.status_code == 403 and "组长" in denied.get_json()["error"]["message"]
    refused = client.post(f"/api/v1/alerts/proposals/{pid}/decisions", json={"decision": "refuse"}, headers=leader)
    assert refused.status_code == 400 and refused.get_json()["error"]["field"] == "opinion"
    agreed = client.post(f"/api/v1/alerts/proposals/{pid}/decisions", json={"decision": "agree"}, headers=leader)
    assert agreed.status_code == 200 and agreed.get_json()["state"] == "approved"
    issued = client.post(f"/api/v1/alerts/proposals/{pid}/transitions", json={"action": "issue"}, headers=staff)
    assert issued.status_code == 200 and issued.get_json()["state"] == "issued"

    listing = client.get("/api/v1/alerts/episodes", headers=chengdu).get_json()
    assert listing["levels"]["510100"] == "orange" and len(listing["episodes"]) == 1
    episode_id = listing["episodes"][0]["id"]
    episode = client.get(f"/api/v1/alerts/episodes/{episode_id}", headers=chengdu).get_json()
    schema("Episode").validate(episode)
    mine = [x for x in episode["periods"] if x["can_confirm"]]
    assert [x["unit"] for x in mine] == ["510100"]
    confirmed = client.post(f"/api/v1/alerts/units/{mine[0]['id']}/confirmation", json={"note": "已启动"},
                            headers=chengdu)  # fmt: skip
    assert confirmed.status_code == 200
    assert [x["confirmed_at"] is not None for x in confirmed.get_json()["periods"] if x["unit"] == "510100"] == [True]
    again = client.post(f"/api/v1/alerts/units/{mine[0]['id']}/confirmation", json={}, headers=chengdu)
    assert again.status_code == 409

    # Kashgar sees none of it.
    assert client.get(f"/api/v1/alerts/proposals/{pid}", headers=kashgar).status_code == 404
    assert client.get(f"/api/v1/alerts/episodes/{episode_id}", headers=kashgar).status_code == 404
    assert client.get("/api/v1/alerts/episodes", headers=kashgar).get_json() == {"episodes": [], "levels": {}}

    # A regional red by hand needs both provinces' approvers.
    red = client.post("/api/v1/alerts/proposals", headers=staff, json={
        "plan": "chuanyu", "kind": "issue", "level": "red", "units": ["510100", "500153"],
        "starts_at": "2026-12-20T00:00", "reason": "手工"}).get_json()  # fmt: skip
    rid = red["id"]
    client.post(f"/api/v1/alerts/proposals/{rid}/transitions", json={"action": "submit"}, headers=staff)
    client.post(f"/api/v1/alerts/proposals/{rid}/decisions", json={"decision": "agree"}, headers=leader)
    half = client.post(f"/api/v1/alerts/proposals/{rid}/decisions", json={"decision": "agree"}, headers=cq_vm)
    assert half.get_json()["state"] == "under_approval" and half.get_json()["open_steps"] == [1]
    done = client.post(f"/api/v1/alerts/proposals/{rid}/decisions", json={"decision": "agree"}, headers=sc_vg)
    assert done.get_json()["state"] == "approved"


def test_bad_proposal_bodies_are_refused_by_field(app, session, client, make_user, make_bureau) -> None:  # type: ignore[no-untyped-def]
    office = make_bureau("510000", "工作小组办公室（API2）", kind=BureauKind.working_group, roots=("510000", "500000"))
    staff = bearer(session, make_user("api_wg2", roles=(Role.province_staff,), bureau=office))
    for body, field in (
        ([], "body"),
        ({"plan": "chuanyu", "kind": "soon"}, "kind"),
        ({"plan": "chuanyu", "kind": "issue", "level": "purple", "units": ["510100"], "starts_at": "2026-12-20"},
         "level"),
        ({"plan": "chuanyu", "kind": "issue", "level": "red", "units": "510100", "starts_at": "2026-12-20"}, "units"),
        ({"plan": "chuanyu", "kind": "issue", "level": "red", "units": ["510100"], "starts_at": "soon"}, "starts_at"),
        ({"plan": "chuanyu", "forecast_issue": "x"}, "forecast_issue"),
    ):  # fmt: skip
        r = client.post("/api/v1/alerts/proposals", json=body, headers=staff)
        assert r.status_code == 400 and r.get_json()["error"]["field"] == field, (body, r.get_json())
