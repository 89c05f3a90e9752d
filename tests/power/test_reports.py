"""Reports made in advance on the screen and over the API (issue 14 point 3): a planned stoppage, maintenance,
retrofit or power cut of an enterprise of the own area is listed and added (CSRF, work_response, audited); a bad
value is named by its field and nothing is written, never a 500; another area's enterprise is refused; and a
report added over the API makes the check show the flag it covers as explained."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from sqlalchemy import func, select

from app.auth.roles import Role
from app.power.models import FlagState, PowerFlag, PowerReport
from tests.conftest import ROOT, audit_actions, csrf_token
from tests.power import world as w
from tests.power.helpers import bearer, enterprise
from tests.response.conftest import zone  # noqa: F401  the fixture

OWN, OTHER = "91510100MA6CPW0011", "91511000MA6CPW0012"
SPEC: dict[str, Any] = yaml.safe_load((ROOT / "app" / "api" / "openapi.yaml").read_text(encoding="utf-8"))


def reports_count(session: Any) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(PowerReport))


def schema(name: str) -> Draft202012Validator:
    return Draft202012Validator({**SPEC["components"]["schemas"][name], "components": SPEC["components"]})


def test_the_screen_lists_and_adds_a_report_of_the_own_area(app, session, make_user, login_as) -> None:  # type: ignore[no-untyped-def]
    ent = enterprise(session, OWN, "510100", name="成都测试水泥厂")
    enterprise(session, OTHER, "511000", name="眉山测试砖厂")
    session.commit()
    client = login_as(make_user("power_reporter", code="510100"))
    assert 'href="/power/reports"' in client.get("/power/").get_data(as_text=True)
    page = client.get("/power/reports").get_data(as_text=True)
    assert "停产检修报备" in page and 'data-testid="power-report-form"' in page and "暂无报备。" in page
    assert f'<option value="{OWN}">成都测试水泥厂</option>' in page and OTHER not in page  # own area only
    form = {"csrf_token": csrf_token(client, "/power/reports"), "uscc": OWN.lower(), "kind": "maintenance",
            "starts_at": "2026-12-06T08:00", "ends_at": "2026-12-09T20:00", "note": "1#窑年度检修"}  # fmt: skip
    r = client.post("/power/reports", data=form, follow_redirects=True)
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "已报备：成都测试水泥厂 检修，2026-12-06 08:00 至 2026-12-09 20:00。" in page
    table = page.split('data-testid="power-reports"')[1]
    assert "成都测试水泥厂" in table and "检修" in table and "1#窑年度检修" in table
    assert "2026-12-06 08:00 至 2026-12-09 20:00" in table
    session.expire_all()
    (report,) = session.scalars(select(PowerReport)).all()
    assert (report.registry_enterprise_id, report.kind) == (ent.id, "maintenance")
    assert report.starts_at == datetime(2026, 12, 6, 0, tzinfo=UTC)  # 08:00 Beijing
    (entry,) = audit_actions("power.report_added")
    assert entry.detail["uscc"] == OWN and entry.detail["kind"] == "maintenance"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"ends_at": "2026-12-05T08:00"}, "ends_at", "报备的结束时间应晚于开始时间。"),
        ({"starts_at": "12/06 早上"}, "starts_at", "“开始时间”格式不正确（应为 2026-12-06 08:00）：12/06 早上"),
        ({"starts_at": ""}, "starts_at", "请填写“开始时间”。"),
        ({"kind": "holiday"}, "kind", "报备类型应为：stoppage（计划停产）、maintenance（检修）"),
        ({"uscc": OTHER}, "uscc", f"未登记的企业，或不在本辖区：{OTHER}"),
        ({"uscc": "91510100MA6CPW9999"}, "uscc", "未登记的企业，或不在本辖区：91510100MA6CPW9999"),
        ({"ends_at": "2028-12-09T20:00"}, "ends_at", "一次报备最长 366 天，请分段报备。"),
        ({"note": "长" * 501}, "note", "“说明”不能超过 500 个字符。"),
    ],
)
def test_a_bad_value_on_the_screen_is_named_under_its_field_and_nothing_is_written(  # type: ignore[no-untyped-def]
    app, session, make_user, login_as, change, field, message
) -> None:
    enterprise(session, OWN, "510100")
    enterprise(session, OTHER, "511000")
    session.commit()
    client = login_as(make_user("power_reporter_bad", code="510100"))
    form = {"csrf_token": csrf_token(client, "/power/reports"), "uscc": OWN, "kind": "stoppage",
            "starts_at": "2026-12-06T08:00", "ends_at": "2026-12-09T20:00", **change}  # fmt: skip
    r = client.post("/power/reports", data=form)
    page = r.get_data(as_text=True)
    assert r.status_code == 400
    block = page.split(f'name="{field}"')[1].split("</div>")[0]
    assert message in block, block[:400]  # the message under its field
    assert reports_count(session) == 0 and not audit_actions("power.report_added")


def test_without_csrf_or_the_role_nothing_is_written(app, session, make_user, login_as) -> None:  # type: ignore[no-untyped-def]
    enterprise(session, OWN, "510100")
    session.commit()
    form = {"uscc": OWN, "kind": "stoppage", "starts_at": "2026-12-06T08:00", "ends_at": "2026-12-09T20:00"}
    client = login_as(make_user("power_reporter_csrf", code="510100"))
    assert client.post("/power/reports", data=form).status_code == 400  # no CSRF token
    approver = login_as(make_user("power_reporter_viewer", code="510100", roles=(Role.approver,)), app.test_client())
    page = approver.get("/power/reports").get_data(as_text=True)
    assert "暂无报备。" in page and 'data-testid="power-report-form"' not in page  # reads, may not add
    r = approver.post("/power/reports", data={**form, "csrf_token": csrf_token(approver, "/power/reports")})
    assert r.status_code == 403
    assert reports_count(session) == 0


def test_the_api_adds_and_lists_reports_and_names_a_bad_field(app, session, make_user) -> None:  # type: ignore[no-untyped-def]
    enterprise(session, OWN, "510100", name="成都测试水泥厂")
    enterprise(session, OTHER, "511000")
    session.commit()
    auth = bearer(session, make_user("power_reports_api", code="510100"))
    client = app.test_client()
    body = {"uscc": OWN, "kind": "retrofit", "starts_at": "2026-12-06 08:00", "ends_at": "2026-12-20T08:00:00+08:00",
            "note": "脱硝改造"}  # fmt: skip
    r = client.post("/api/v1/power/reports", json=body, headers=auth)
    assert r.status_code == 201, r.get_json()
    created = r.get_json()
    schema("PowerReport").validate(created)
    assert (created["uscc"], created["kind"], created["kind_label"]) == (OWN, "retrofit", "改造")
    assert (created["starts_at"], created["ends_at"]) == ("2026-12-06T08:00:00+08:00", "2026-12-20T08:00:00+08:00")
    listed = client.get("/api/v1/power/reports", headers=auth).get_json()
    assert [x["id"] for x in listed["reports"]] == [created["id"]]
    for x in listed["reports"]:
        schema("PowerReport").validate(x)
    assert client.get(f"/api/v1/power/reports?uscc={OTHER}", headers=auth).get_json() == {"reports": []}
    assert audit_actions("power.report_added")

    bad = [
        ({**body, "kind": "holiday"}, "kind"),
        ({**body, "starts_at": "2026-13-06 08:00"}, "starts_at"),
        ({**body, "ends_at": "2026-12-01 08:00"}, "ends_at"),
        ({**body, "starts_at": None}, "starts_at"),
        ({**body, "uscc": OTHER}, "uscc"),
        ({**body, "uscc": "x"}, "uscc"),
        ({**body, "note": ["a"] * 300}, "note"),
        ({**body, "ends_at": {"at": 1}}, "ends_at"),
    ]
    for payload, field in bad:
        r = client.post("/api/v1/power/reports", json=payload, headers=auth)
        error = r.get_json()["error"]
        assert (r.status_code, error["code"], error.get("field")) == (400, "invalid", field), (payload, error)
        schema("Error").validate(r.get_json())
    for raw in ("[1, 2]", "not json", json.dumps("text")):
        r = client.post("/api/v1/power/reports", data=raw, headers=auth, content_type="application/json")
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid"
    assert reports_count(session) == 1
    viewer = bearer(session, make_user("power_reports_viewer", code="510100", roles=(Role.approver,)))
    assert client.get("/api/v1/power/reports", headers=viewer).status_code == 200
    assert client.post("/api/v1/power/reports", json=body, headers=viewer).status_code == 403
    assert reports_count(session) == 1


def test_a_power_cut_reported_over_the_api_explains_the_silent_meter(app, session, runner, zone, make_user) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    world = w.build(session, zone, ["silent", "pretends"])
    args = ["power", "check", str(world.episode), "--as-of", w.AS_OF]
    assert runner.invoke(args=args).exit_code == 0
    silent = world.by_behaviour["silent"]

    def states() -> set[tuple[str, FlagState]]:
        session.expire_all()
        return {(f.kind, f.state) for f in session.scalars(select(PowerFlag).where(
            PowerFlag.registry_enterprise_id == silent.id))}  # fmt: skip

    assert states() == {("meter_silent", FlagState.raised)}
    auth = bearer(session, make_user("power_reports_grid", code="510100"))
    body = {"uscc": silent.uscc, "kind": "power_cut", "starts_at": "2026-12-07", "ends_at": "2026-12-11"}
    assert app.test_client().post("/api/v1/power/reports", json=body, headers=auth).status_code == 201
    assert runner.invoke(args=args).exit_code == 0
    assert states() == {("meter_silent", FlagState.explained)}  # the same flags, now explained by the report
    pretender = world.by_behaviour["pretends"]
    assert {f.state for f in session.scalars(select(PowerFlag).where(
        PowerFlag.registry_enterprise_id == pretender.id))} == {FlagState.raised}  # fmt: skip
