"""The power screens (issue 14 point 5): per jurisdiction the compliance rate by day and the flags, sortable and
exported formula-safe; per enterprise its load-curve chart, daily figures, and the flags to dismiss or confirm."""

from __future__ import annotations

import io
import json

from openpyxl import load_workbook
from sqlalchemy import select

from app.cases.models import Case
from app.power.models import FlagState, PowerFlag
from tests.conftest import csrf_token
from tests.power import world as w
from tests.response.conftest import zone  # noqa: F401  the fixture


def test_jurisdiction_and_enterprise_screens(app, session, runner, zone, make_user, login_as) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    world = w.build(session, zone)
    assert runner.invoke(args=["power", "check", str(world.episode), "--as-of", w.AS_OF]).exit_code == 0
    client = login_as(make_user("power_screens", code="510100"))
    assert "用电监测" in client.get("/").get_data(as_text=True)  # the nav entry
    index = client.get("/power/").get_data(as_text=True)
    assert f'href="/power/episodes/{world.episode}"' in index
    r = client.get(f"/power/episodes/{world.episode}")
    page = r.get_data(as_text=True)
    assert r.status_code == 200, page[page.find("<main") :][:600]
    assert "每日达标率" in page and "2026-12-08" in page
    pretender = world.by_behaviour["pretends"]
    assert pretender.name in page and "生产用电未按要求下降" in page
    by_kind = client.get(f"/power/episodes/{world.episode}?sort=kind&desc=1").get_data(as_text=True)
    table = by_kind.split('data-testid="power-flags"')[1]
    assert table.index("生产用电未按要求下降") < table.index("电表无数据")  # production… after meter… descending

    flag = session.scalars(select(PowerFlag).where(PowerFlag.kind == "production_not_reduced")
                           .order_by(PowerFlag.day)).first()  # fmt: skip
    ent_url = f"/power/episodes/{world.episode}/enterprises/{pretender.id}"
    ent = client.get(ent_url).get_data(as_text=True)
    assert f"{ent_url}/chart.png" in ent and 'data-testid="power-days"' in ent
    png = client.get(f"{ent_url}/chart.png")
    assert png.mimetype == "image/png" and png.data.startswith(b"\x89PNG")
    r = client.post(f"/power/flags/{flag.id}/dismiss", data={"csrf_token": csrf_token(client, ent_url),
                                                           "reason": "=HYPERLINK(\"http://x\")"},
                    follow_redirects=True)  # fmt: skip
    assert "已排除：生产用电未按要求下降" in r.get_data(as_text=True)
    session.expire_all()
    assert session.get(PowerFlag, flag.id).state is FlagState.dismissed
    other = session.scalars(select(PowerFlag).where(PowerFlag.kind == "meter_silent",
                                                    PowerFlag.state == FlagState.raised)).first()  # fmt: skip
    r = client.post(f"/power/flags/{other.id}/confirm", data={"csrf_token": csrf_token(client, ent_url)},
                    follow_redirects=True)  # fmt: skip
    case = session.scalar(select(Case).where(Case.origin == "power_check"))
    assert case is not None and f"已确认，并已登记问题线索 {case.number}。" in r.get_data(as_text=True)

    export = client.get(f"/power/episodes/{world.episode}?format=xlsx")
    assert export.status_code == 200
    book = load_workbook(io.BytesIO(export.data))
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert rows[0][:4] == ("日期", "企业", "问题", "状态")
    notes = [r[5] for r in rows[1:] if r[5]]
    assert notes == ['\'=HYPERLINK("http://x")']  # text, never a formula
    assert all(c.data_type != "f" for row in book.worksheets[0].iter_rows() for c in row)
    assert json.dumps(rows)  # plain values


def test_another_jurisdiction_sees_none_of_the_flags(app, session, runner, zone, make_user, login_as) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    world = w.build(session, zone)
    assert runner.invoke(args=["power", "check", str(world.episode), "--as-of", w.AS_OF]).exit_code == 0
    client = login_as(make_user("power_far", code="511400"))
    page = client.get(f"/power/episodes/{world.episode}").get_data(as_text=True)
    assert "生产用电未按要求下降" not in page and "本辖区没有处于预警响应中的企业。" in page
    flag = session.scalars(select(PowerFlag)).first()
    r = client.post(f"/power/flags/{flag.id}/dismiss", data={"csrf_token": csrf_token(client, "/power/"),
                                                           "reason": "x"})  # fmt: skip
    assert r.status_code == 404
