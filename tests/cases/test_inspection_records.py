"""Inspection records carry the team (names and 执法证号), the round and the number of staff as typed fields; a
joint inspection is recorded in another bureau's area (issue 12.2)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.cases.models import Inspection
from tests.conftest import audit_actions, csrf_token


def post(client: Any, url: str, data: dict[str, Any]) -> Any:
    return client.post(url, data={**data, "csrf_token": csrf_token(client, "/")})


TEAM = {"team_name": ["张三", "李四", ""], "team_cert": ["渝执字0012", "渝执字0345", ""]}


def test_the_case_form_and_the_inspection_form_show_the_team_as_typed_fields(app, world, login_as) -> None:  # type: ignore[no-untyped-def]
    rc = login_as(world.inspector, app.test_client())
    for url in ("/cases/new", "/cases/inspections"):
        answer = rc.get(url)
        page = answer.get_data(as_text=True)
        assert answer.status_code == 200, page[-2000:]
        team = page.split('data-testid="team"', 1)[1].split("</fieldset>", 1)[0]
        assert 'type="text" name="team_name"' in team and 'name="team_cert"' in team
        assert 'type="number" id="staff" name="staff"' in team and 'type="text" id="round_label"' in team
        assert 'type="hidden" name="staff"' not in page


def test_a_case_keeps_its_team_round_and_staff(app, world, login_as, session) -> None:  # type: ignore[no-untyped-def]
    rc = login_as(world.inspector, app.test_client())
    created = post(rc, "/cases/new", {"source_type": "industrial", "topic": "超标排放", "source_name": "隆昌某厂",
                                      "place": "511083", "problem": "烟气超标", "origin": "field_inspection",
                                      **TEAM, "round_label": "第二轮"})  # fmt: skip
    assert created.status_code == 302
    row = session.scalars(select(Inspection)).one()
    assert row.team == [{"name": "张三", "cert_no": "渝执字0012"}, {"name": "李四", "cert_no": "渝执字0345"}]
    assert row.staff == 2 and row.round_label == "第二轮" and row.joint  # 内江 is not 荣昌's area


def test_a_joint_inspection_in_another_bureaus_area(app, world, login_as, session) -> None:  # type: ignore[no-untyped-def]
    rc = login_as(world.inspector, app.test_client())
    data = {"source_name": "隆昌某砖厂", "place": "511083", **TEAM, "staff": "4", "round_label": "第一轮"}
    refused = post(rc, "/cases/inspections", data)
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert "联合检查" in page and 'value="隆昌某砖厂"' in page and 'value="渝执字0345"' in page
    assert '<option value="511083" selected' in page
    short = post(rc, "/cases/inspections", {**data, "joint": "1", "staff": "1"})
    assert short.status_code == 400 and "少于检查组成员" in short.get_data(as_text=True)
    done = post(rc, "/cases/inspections", {**data, "joint": "1"})
    assert done.status_code == 302
    page = rc.get("/cases/inspections").get_data(as_text=True)
    table = page.split('data-testid="inspections"', 1)[1]
    assert "张三（渝执字0012）、李四（渝执字0345）" in table and "联合检查" in table and "内江市 隆昌市" in table
    row = session.scalars(select(Inspection)).one()
    assert row.staff == 4 and row.joint and row.bureau_id == world.rongchang.id
    assert audit_actions("inspection.create")[-1].after["team"][0]["name"] == "张三"
    # in its own area no joint flag is needed
    own = post(rc, "/cases/inspections", {"source_name": "荣昌某厂", "place": "500153", "team_name": "张三",
                                          "team_cert": "渝执字0012"})  # fmt: skip
    assert own.status_code == 302
