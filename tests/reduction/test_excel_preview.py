"""Issue 12.1: the import preview lists its problems in row order, each with the name of the enterprise its row
belongs to, and "文件中的企业" counts every enterprise of the file, those an error refuses included."""

from __future__ import annotations

import re

from app.reduction.domain.vocabulary import AlertLevel
from app.reduction.excel import template as t
from tests.conftest import csrf_token
from tests.reduction.test_excel_import import (
    _broken_file,
    column,
    district_user,
    enterprise,
    find,
    place_id,
    preview,
    write_file,
)


def test_each_problem_names_its_enterprise_and_every_enterprise_is_counted(
    app, session, make_bureau, make_user, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    user = district_user(make_bureau, make_user)
    path, c = _broken_file(session, tmp_path)
    p = preview(app, session, user, path)
    s = t.MAIN_SHEET
    # enterprise i occupies rows 3 + 3i to 5 + 3i; a continuation row or a rule-engine refusal names it too
    assert find(p.issues, s, 3, c["uscc"], "第18位校验码").name == "测试企业0有限公司"
    assert find(p.issues, s, 4, c["address"], "不一致").name == "测试企业0有限公司"
    assert find(p.issues, s, 6, c["red_kind"], "红色预警").name == "测试企业1有限公司"
    assert find(p.issues, s, 7, c["unit_name"], "请填写工序名称").name == "测试企业1有限公司"
    assert find(p.issues, s, 19, c["red_pct"], "百分比").name == "测试企业5有限公司"
    assert find(p.issues, t.FACILITY_SHEET, 2, "A", "没有这家企业").name == ""  # names no enterprise
    assert [(i.sheet, i.row) for i in p.issues] == sorted(
        ((i.sheet, i.row) for i in p.issues), key=lambda x: ([s, t.FACILITY_SHEET, t.METER_SHEET].index(x[0]), x[1])
    )
    assert p.counts["enterprises"] == 6  # every enterprise of the file, not only those without an error
    assert p.counts["refused"] == 6  # each of them has an error


def test_the_preview_page_shows_the_enterprise_of_each_problem(
    app, session, make_bureau, make_user, login_as, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    user = district_user(make_bureau, make_user)
    path, _c = _broken_file(session, tmp_path)
    client = login_as(user)
    with path.open("rb") as f:
        r = client.post(
            "/lists/import",
            data={"csrf_token": csrf_token(client, "/lists/import"), "year": "2026", "file": (f, "broken.xlsx")},
            content_type="multipart/form-data",
        )
    assert r.status_code == 302
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert re.search(r'data-testid="count-in-file">6<', page)
    problems = page.split('data-testid="problems"')[1]
    assert "<th>企业</th>" in problems
    assert (
        problems.index("测试企业0有限公司") < problems.index("测试企业1有限公司") < problems.index("测试企业5有限公司")
    )
    token = r.headers["Location"].split("token=")[1]
    csv = client.get(f"/lists/import/problems.csv?token={token}").get_data(as_text=True)
    assert "企业" in csv.splitlines()[0].lstrip("\ufeff") and "测试企业5有限公司" in csv


def test_a_verification_that_cannot_prove_its_measure_is_refused_in_the_editors_words(
    app, session, make_bureau, make_user, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """One rule engine: the import refuses what the editor refuses, worded the same (domain/bulk.py)."""
    user = district_user(make_bureau, make_user)
    jid = place_id(session, "500153")
    bad, good = enterprise(0, jid), enterprise(1, jid)
    bad.measures = [m if m[2] != "truck_ban" else (*m[:4], "power_meter", *m[5:]) for m in bad.measures]
    path = write_file(tmp_path / "verification.xlsx", [bad, good], session)
    p = preview(app, session, user, path)
    orange = t.LEVEL_GROUPS[AlertLevel.orange]
    found = find(p.issues, t.MAIN_SHEET, 5, column("核查方式", orange), "无法用用电监控核查")  # its 全厂 row
    assert found.error and found.name == "测试企业0有限公司"
    assert found.message.startswith("橙色预警的“停用国Ⅳ及以下重型货车”无法用用电监控核查")
    assert (p.counts["enterprises"], p.counts["refused"]) == (2, 1)
