"""The response over JSON: tasks scoped, a measure checked with a photo (multipart), a failed check's case, the
reports owed with one late, a report sent, the daily summary."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.auth.roles import Role
from app.auth.services import create_token
from app.response.models import ResponseTask, ResponseUnit
from app.response.services import reports
from app.response.services.activation import UnitChange, apply
from tests.response.conftest import ISSUED, ON, Zone, jpeg

PLAIN = ["510100", "510600", "511400", "511800"]


def _bearer(session: Any, user: Any) -> dict[str, str]:
    _, raw = create_token(session, session.get(type(user), user.id), "t")
    session.commit()
    return {"Authorization": f"Bearer {raw}"}


def test_tasks_checks_and_reports_over_json(session: Any, zone: Zone, make_user: Any, client: Any) -> None:
    apply(session, episode_id=zone.episode, plan_id=zone.plan_id, on=ON, now=ISSUED,
          units=[UnitChange(zone.ids[c], "orange", ISSUED) for c in PLAIN])  # fmt: skip
    session.commit()
    inspector = make_user("resp_api_insp", code="510600", roles=(Role.inspector,))
    h = _bearer(session, inspector)
    body = client.get("/api/v1/response/tasks?state=open", headers=h).get_json()
    assert {t["uscc"] for t in body["tasks"]} == set(zone.listed["510600"])  # 德阳 and its county only
    assert client.get("/api/v1/response/tasks?state=nope", headers=h).get_json()["error"]["field"] == "state"
    key = next(t for t in body["tasks"] if t["category"] == "key")
    task = client.get(f"/api/v1/response/tasks/{key['id']}", headers=h).get_json()
    assert task["supervision"] == "onsite_supervision" and task["level"] == "orange"
    truck = next(m for m in task["measures"] if m["kind"] == "truck_ban")
    other = session.scalars(select(ResponseTask).where(ResponseTask.uscc == zone.key_uscc)).one()  # 成都's
    assert client.get(f"/api/v1/response/tasks/{other.id}", headers=h).status_code == 404

    url = f"/api/v1/response/tasks/{key['id']}/measures/{truck['id']}/check"
    r = client.post(url, headers=h, data={"status": "carried_out"}, content_type="multipart/form-data")
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "photos"
    r = client.post(url, headers=h, content_type="multipart/form-data",
                    data={"status": "not_carried_out", "remark": "国Ⅳ货车进厂", "photos": [jpeg()]})  # fmt: skip
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["case"]["number"].startswith("XS-")
    r = client.post(url, headers=h, content_type="multipart/form-data", data={"status": "carried_out"})
    assert r.status_code == 409

    staff = make_user("resp_api_dy", code="510600", roles=(Role.city_staff,))
    hs = _bearer(session, staff)
    unit = session.scalars(select(ResponseUnit).where(ResponseUnit.jurisdiction_id == zone.ids["510600"])).one()
    fields = {"leaders_activities": "a", "bureau_work": "b", "next_plans": "c", "issue_list_rectification": "d"}
    r = client.post("/api/v1/response/reports", headers=hs, content_type="multipart/form-data",
                    data={"unit_id": str(unit.id), "kind": "daily", "day": ON.isoformat(), **fields})  # fmt: skip
    assert r.status_code == 201, r.get_json()
    # the report was sent today for the activation day of 2026-12-07: its deadline has passed by now
    sent = r.get_json()
    late = datetime.fromisoformat(sent["submitted_at"]) > datetime.fromisoformat(sent["due_at"])  # as instants
    assert sent["late"] == late
    owed = client.get("/api/v1/response/reports", headers=hs).get_json()["reports"]
    mine = [o for o in owed if o["unit_id"] == unit.id and o["day"] == ON.isoformat()]
    assert mine and mine[0]["status"] in ("on_time", "late") and mine[0]["report_id"]
    summary = client.get(f"/api/v1/response/summary?day={ON.isoformat()}", headers=hs).get_json()
    assert [u["unit"] for u in summary["units"]] == ["德阳市"]  # the city sees its own unit only
    assert client.get("/api/v1/response/summary?day=12-07", headers=hs).status_code == 400
    assert reports.owed(session, [], ISSUED + timedelta(days=1)) == []
