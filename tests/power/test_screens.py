"""The power screens (issue 14 point 5): per jurisdiction the compliance rate by day and the flags, sortable and
exported formula-safe; per enterprise its load-curve chart, daily figures, and the flags to dismiss or confirm."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime

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


def compliance_rows(page: str) -> list[list[str]]:
    table = page.split('data-testid="power-compliance"')[1].split("</table>")[0]
    return [re.findall(r"<td>([^<]*)</td>", row) for row in table.split("<tr>")[2:]]


def test_the_episode_page_reads_the_stored_results_and_shows_the_compliance_as_the_check(  # type: ignore[no-untyped-def]
    app,
    session,
    runner,
    zone,  # noqa: F811
    make_user,
    login_as,
    monkeypatch,
) -> None:
    """The page runs no check (the check and the readings' query refuse to be called) and shows the compliance
    the check's own daily figures give; the button runs the check and stores its flags."""
    from app.power import flags
    from app.power.domain import check as check_module
    from app.power.screens import SERIOUS

    world = w.build(session, zone, ["pretends", "stops", "night"])
    now = datetime(2026, 12, 10, 0, tzinfo=UTC)  # w.AS_OF: the page and the button's run, as of the same time
    monkeypatch.setattr(flags, "utcnow", lambda: now)
    user = make_user("power_stored", code="510100")
    client = login_as(user)
    assert "本辖区没有处于预警响应中的企业。" not in client.get(f"/power/episodes/{world.episode}").get_data(
        as_text=True
    )
    r = client.post(f"/power/episodes/{world.episode}/check",
                    data={"csrf_token": csrf_token(client, f"/power/episodes/{world.episode}")},
                    follow_redirects=True)  # fmt: skip
    assert "用电核查已完成：问题" in r.get_data(as_text=True)
    # what the page showed before: the check's daily figures (as of now) against the stored flags
    with app.test_request_context():
        _i, result = flags.compute(session, world.episode)
    stored = list(session.scalars(select(PowerFlag)))
    assert stored and {f.kind for f in stored} & set(SERIOUS)
    bad = {(f.registry_enterprise_id, f.day) for f in stored if f.kind in SERIOUS and f.state.value == "raised"}
    expected = []
    for day, group in result.days.groupby("day"):
        n = group["enterprise_id"].nunique()
        ok = n - sum(1 for e in group["enterprise_id"].unique() if (int(e), day) in bad)
        expected.append([day.isoformat(), str(n), str(ok), str(round(100 * ok / n, 1))])
    assert expected

    def refuse(*_a, **_k):  # type: ignore[no-untyped-def]
        raise AssertionError("the episode page ran the check")

    monkeypatch.setattr(check_module, "check", refuse)
    monkeypatch.setattr(flags, "check", refuse)
    monkeypatch.setattr(flags, "hourly", refuse)
    page = client.get(f"/power/episodes/{world.episode}").get_data(as_text=True)
    assert compliance_rows(page) == expected
    assert any(row[2] != row[1] for row in expected)  # someone failed: the rate is not trivially 100


def test_the_check_button_needs_the_role_and_csrf(app, session, runner, zone, make_user, login_as) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from app.auth.roles import Role

    world = w.build(session, zone)
    url = f"/power/episodes/{world.episode}"
    viewer = login_as(make_user("power_viewer", code="510100", roles=(Role.approver,)))
    assert 'data-testid="power-run-check"' not in viewer.get(url).get_data(as_text=True)
    assert viewer.post(f"{url}/check", data={"csrf_token": csrf_token(viewer, url)}).status_code == 403
    worker = login_as(make_user("power_worker", code="510100"), app.test_client())
    assert worker.post(f"{url}/check").status_code == 400  # no CSRF token
    session.expire_all()
    assert session.scalar(select(PowerFlag)) is None
