"""The home page is a work list: to-dos per role with counts, and notifications with an unread badge for each
step that hands work to another bureau (transfer, sign-for, return, overdue, list submitted and returned)."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from app.cases.models import Case
from app.db import utcnow
from tests.cases.conftest import png_bytes
from tests.cases.test_loop import act, post


def log_case(client, place: str = "511083") -> int:  # type: ignore[no-untyped-def]
    created = post(client, "/cases/new", {
        "source_type": "industrial", "topic": "未落实应急减排措施", "source_name": "隆昌某陶瓷有限公司",
        "source_address": "隆昌市古湖街道", "place": place, "problem": "橙色预警期间窑炉未限产",
        "origin": "field_inspection", "photos": (io.BytesIO(png_bytes()), "现场.png"),
    }, content_type="multipart/form-data")  # fmt: skip
    assert created.status_code == 302, created.get_data(as_text=True)[:400]
    return int(created.headers["Location"].rsplit("/", 1)[1])


def todo(page: str, key: str) -> int:
    found = re.search(rf'data-testid="todo-{key}">\s*<strong class="count">(\d+)</strong>', page)
    assert found, f"no to-do {key} on the home page"
    return int(found.group(1))


def badge(page: str) -> int:
    found = re.search(r'data-testid="unread-badge">(\d+)<', page)
    return int(found.group(1)) if found else 0


def test_transfer_sign_for_and_return_reach_the_next_bureau(app, world, login_as, session) -> None:  # type: ignore[no-untyped-def]
    inspector = login_as(world.inspector, app.test_client())
    nj = login_as(world.nj_staff, app.test_client())
    first, second = log_case(inspector), log_case(inspector)
    home = nj.get("/").get_data(as_text=True)
    assert badge(home) == 0 and todo(home, "sign") == 0

    for case_id in (first, second):
        assert (
            post(
                inspector, "/cases/transfers", {"case_id": case_id, "to_bureau": world.neijiang.id, "confirm": "1"}
            ).status_code
            == 302
        )
    home = nj.get("/").get_data(as_text=True)
    number = session.get(Case, first).number
    assert badge(home) == 2 and todo(home, "sign") == 2
    assert f"新移交线索待签收：{number} 未落实应急减排措施（重庆市荣昌区生态环境局移交）" in home
    # Not a word of it to a bureau that is not concerned.
    zg = login_as(world.zg_staff, app.test_client())
    assert badge(zg.get("/").get_data(as_text=True)) == 0 and number not in zg.get("/notifications/").get_data(
        as_text=True
    )

    # Opening a notification marks it read for this officer and leads to the case.
    page = nj.get("/notifications/").get_data(as_text=True)
    open_url = re.findall(r'action="(/notifications/\d+/open)"', page)[-1]
    opened = post(nj, open_url, {})
    assert opened.status_code == 302 and opened.headers["Location"].endswith(f"/cases/{first}")
    assert badge(nj.get("/").get_data(as_text=True)) == 1

    assert act(nj, first, "receive").status_code == 302
    assert act(nj, second, "return", reason="不属于本辖区，应移交自贡").status_code == 302
    home = nj.get("/").get_data(as_text=True)
    assert todo(home, "sign") == 0 and todo(home, "handle") == 1

    rc_home = inspector.get("/").get_data(as_text=True)
    assert badge(rc_home) == 2 and todo(rc_home, "returned") == 1
    assert f"线索 {number} 未落实应急减排措施 已由内江市生态环境局签收" in rc_home
    assert "被退回：不属于本辖区，应移交自贡" in rc_home
    assert post(inspector, "/notifications/read", {}).status_code == 302
    assert badge(inspector.get("/").get_data(as_text=True)) == 0


def test_overdue_and_escalation_are_announced(app, world, login_as, session) -> None:  # type: ignore[no-untyped-def]
    from app.cases.services.workflow import escalate
    from app.core.scoping import Scope, set_scope

    inspector = login_as(world.inspector, app.test_client())
    case_id = log_case(inspector)
    post(inspector, "/cases/transfers", {"case_id": case_id, "to_bureau": world.neijiang.id, "confirm": "1"})
    set_scope(session, Scope.everything())
    case = session.get(Case, case_id)
    case.due_at = utcnow() - timedelta(hours=1)
    session.commit()
    nj = login_as(world.nj_staff, app.test_client())
    assert todo(nj.get("/").get_data(as_text=True), "overdue") == 1
    escalate(session, case, None)
    session.commit()
    page = nj.get("/notifications/").get_data(as_text=True)
    assert f"线索 {case.number} 未落实应急减排措施 已超期：警示" in page


def test_a_submitted_list_waits_for_the_city_and_its_return_for_the_county(
    app, make_user, make_bureau, login_as, session
) -> None:  # type: ignore[no-untyped-def]
    from app.auth.roles import Role
    from app.reduction.models import ReductionList
    from app.reduction.services.lists import ListAction, transition

    county = make_bureau("511011", name="内江市东兴区生态环境局")
    city = make_bureau("511000", name="内江市生态环境局")
    author = make_user("dx_staff", bureau=county, roles=(Role.district_staff,))
    decider = make_user("nj_city", bureau=city, roles=(Role.city_staff,))
    lst = ReductionList(jurisdiction_id=county.jurisdiction_id, bureau_id=county.id, year=2026)
    session.add(lst)
    session.commit()
    transition(session, lst, ListAction.submit, session.merge(author))
    session.commit()

    home = login_as(decider, app.test_client()).get("/").get_data(as_text=True)
    assert todo(home, "approve") == 1 and badge(home) == 1
    assert "东兴区 2026 年应急减排清单（第 1 版） 已报送，待审核（内江市东兴区生态环境局）" in home

    transition(session, lst, ListAction.return_, session.merge(decider), reason="基准排放量缺少依据")
    session.commit()
    county_home = login_as(author, app.test_client()).get("/").get_data(as_text=True)
    assert todo(county_home, "list_returned") == 1
    assert "被退回：基准排放量缺少依据" in county_home


def test_the_navigation_shows_only_modules_that_exist(app, world, login_as) -> None:  # type: ignore[no-untyped-def]
    page = login_as(world.sc_staff, app.test_client()).get("/").get_data(as_text=True)
    assert "后续版本提供" not in page
    for href in re.findall(r'<nav id="mainnav".*?</nav>', page, re.S)[0].split('href="')[1:]:
        assert app.test_client().get(href.split('"')[0]).status_code != 404
