"""Joint-enforcement figures (issue 12.2, seed 003): every bureau named, totals, districts taking part and key
enterprises and industries among those checked, an Excel export that runs nothing, season presets."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select

from app.cases.services.figures import seasons
from app.places.models import Jurisdiction
from app.reduction.domain.vocabulary import Category
from app.reduction.models import Enterprise, ReductionList
from tests.conftest import audit_actions, csrf_token

USCC_A, USCC_B = "91511083MA62A0001X", "91511011MA62A0002X"


def post(client: Any, url: str, data: dict[str, Any]) -> Any:
    return client.post(url, data={**data, "csrf_token": csrf_token(client, "/")})


def listed(session: Any, bureau: Any, items: list[tuple[str, str, str]]) -> None:
    lst = ReductionList(jurisdiction_id=bureau.jurisdiction_id, bureau_id=bureau.id, year=2026)
    session.add(lst)
    session.flush()
    for code, uscc, industry in items:
        place = session.scalars(select(Jurisdiction).where(Jurisdiction.code == code)).one()
        session.add(Enterprise(list_id=lst.id, jurisdiction_id=place.id, uscc=uscc, name="某厂", industry=industry,
                               category=Category.key))  # fmt: skip
    session.commit()


def table_rows(page: str) -> list[list[str]]:
    import re

    body = page.split('data-testid="figures"', 1)[1].split("</table>", 1)[0]
    return [re.findall(r"<t[dh][^>]*>([^<]*)</t[dh]>", tr) for tr in body.split("<tr")[2:]]


def test_figures_name_every_bureau_with_totals_and_seed_003s_counts(app, world, login_as, session) -> None:  # type: ignore[no-untyped-def]
    listed(session, world.neijiang, [("511083", USCC_A, "ceramics"), ("511011", USCC_B, "cement")])
    rc = login_as(world.inspector, app.test_client())
    team = {"team_name": ["张三", "李四"], "team_cert": ["渝0012", "渝0345"], "joint": "1"}
    post(rc, "/cases/new", {"source_type": "industrial", "topic": "超标排放", "source_name": "隆昌某陶瓷厂",
                            "place": "511083", "problem": "烟气超标", "enterprise_uscc": USCC_A, **team,
                            "round_label": "第一轮"})  # fmt: skip
    post(rc, "/cases/inspections", {"source_name": "东兴某水泥厂", "place": "511011", "enterprise_uscc": USCC_B,
                                    **team, "staff": "3", "round_label": "第二轮"})  # fmt: skip
    post(rc, "/cases/inspections", {"source_name": "东兴某小作坊", "place": "511011", **team, "round_label": "第二轮"})
    nj = login_as(world.nj_staff, app.test_client())
    post(nj, "/cases/inspections", {"source_name": "隆昌某陶瓷厂", "place": "511083", "enterprise_uscc": USCC_A,
                                    "team_name": "王五", "round_label": "第一轮"})  # fmt: skip

    page = nj.get("/cases/figures").get_data(as_text=True)
    rows = table_rows(page)
    head = page.split('data-testid="figures"', 1)[1].split("</thead>", 1)[0]
    for word in ("参与区县", "检查轮次", "出动人次", "其中重点企业", "重点行业", "移交问题线索", "查处违法违规问题"):
        assert word in head
    # 荣昌's row is named although 荣昌 is outside 内江's scope (it was a bare id before)
    by_name = {r[0]: r[1:] for r in rows}
    assert set(by_name) == {"重庆市荣昌区生态环境局", "内江市生态环境局", "合计"}
    # districts, rounds, staff, inspections, enterprises, key enterprises, key industries, found, transferred, ...
    assert by_name["重庆市荣昌区生态环境局"][:8] == ["2", "2", "7", "3", "3", "2", "2", "1"]
    assert by_name["内江市生态环境局"][:7] == ["1", "1", "1", "1", "1", "1", "1"]
    assert by_name["合计"][:8] == ["2", "2", "8", "4", "3", "2", "2", "1"]  # distinct over the bureaus

    xlsx = nj.get("/cases/figures?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][:3] == ["单位", "参与区县", "检查轮次"] and values[-1][0] == "合计" and values[-1][3] == 8
    assert audit_actions("cases.figures_export")


def test_the_export_runs_no_formula(app, world, login_as, session) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    from app.auth.models import Bureau

    session.execute(update(Bureau).where(Bureau.id == world.rongchang.id).values(name='=HYPERLINK("http://x")'))
    session.commit()
    rc = login_as(world.inspector, app.test_client())
    post(rc, "/cases/inspections", {"source_name": "荣昌某厂", "place": "500153", "team_name": "张三"})
    sheet = load_workbook(io.BytesIO(rc.get("/cases/figures?format=xlsx").data)).active
    names = [row[0].value for row in sheet.iter_rows()]
    assert '\'=HYPERLINK("http://x")' in names and all(row[0].data_type != "f" for row in sheet.iter_rows())


def test_season_presets(app, world, login_as) -> None:  # type: ignore[no-untyped-def]
    winter = next(s for s in seasons(date(2026, 3, 15)) if s.key == "winter-2025")
    assert (winter.start, winter.end) == (date(2025, 11, 1), date(2026, 2, 28))
    assert next(s for s in seasons(date(2028, 3, 1)) if s.key == "winter-2027").end == date(2028, 2, 29)
    rc = login_as(world.inspector, app.test_client())
    page = rc.get("/cases/figures?season=winter-2025").get_data(as_text=True)
    assert 'data-testid="seasons"' in page and 'value="2025-11-01"' in page and 'value="2026-02-28"' in page
