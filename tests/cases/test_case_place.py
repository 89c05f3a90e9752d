"""The county of a new case comes from the chosen enterprise or the location; the county picker is searchable
with a small script of our own and works without it (issue 12.2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.cases.models import Case
from app.places.models import Jurisdiction
from app.reduction.domain.vocabulary import Category
from app.reduction.models import Enterprise, ReductionList
from tests.conftest import csrf_token

CASE = {"source_type": "industrial", "topic": "超标排放", "problem": "烟气超标", "origin": "field_inspection"}


def post(client: Any, url: str, data: dict[str, Any]) -> Any:
    return client.post(url, data={**data, "csrf_token": csrf_token(client, "/")})


def place_code(session: Any, response: Any) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:600]
    case = session.get(Case, int(response.headers["Location"].rsplit("/", 1)[1]))
    return session.get(Jurisdiction, case.jurisdiction_id).code


def test_the_county_comes_from_the_location(app, world, login_as, session) -> None:  # type: ignore[no-untyped-def]
    rc = login_as(world.inspector, app.test_client())

    # a point in 荣昌 (重庆's outlines are its districts), one in 内江 (四川's are its cities)
    def make(name: str, place: str, lat: str, lon: str) -> str:
        data = {**CASE, "source_name": name, "place": place, "latitude": lat, "longitude": lon}
        return place_code(session, post(rc, "/cases/new", data))

    assert make("甲", "auto", "29.40", "105.55") == "500153"
    assert make("乙", "auto", "29.58", "105.06") == "511000"
    assert make("丙", "511083", "29.40", "105.55") == "511083"  # chosen by hand, the choice wins
    refused = post(rc, "/cases/new", {**CASE, "source_name": "丁", "place": "auto"})
    assert refused.status_code == 400 and "无法按位置或企业确定所在区县" in refused.get_data(as_text=True)


def test_the_county_comes_from_the_listed_enterprise(app, world, login_as, session) -> None:  # type: ignore[no-untyped-def]
    lst = ReductionList(jurisdiction_id=world.neijiang.jurisdiction_id, bureau_id=world.neijiang.id, year=2026)
    session.add(lst)
    session.flush()
    longchang = session.scalars(select(Jurisdiction).where(Jurisdiction.code == "511083")).one()
    session.add(Enterprise(list_id=lst.id, jurisdiction_id=longchang.id, uscc="91511083MA62A0001X",
                           name="隆昌某陶瓷有限公司", industry="ceramics", category=Category.key))  # fmt: skip
    session.commit()
    rc = login_as(world.inspector, app.test_client())
    made = post(rc, "/cases/new", {**CASE, "source_name": "", "place": "auto", "enterprise_uscc": "91511083ma62a0001x",
                                   "latitude": "29.40", "longitude": "105.55"})  # fmt: skip
    assert place_code(session, made) == "511083"  # the enterprise before the location
    page = rc.get(made.headers["Location"]).get_data(as_text=True)
    assert "隆昌某陶瓷有限公司" in page and "内江市生态环境局" in page  # its name; offered to 内江


def test_the_picker_is_searchable_with_our_own_script_and_plain_without_it(app, world, login_as) -> None:  # type: ignore[no-untyped-def]
    html = login_as(world.inspector, app.test_client()).get("/cases/new").get_data(as_text=True)
    assert 'class="place-picker"' in html and 'data-search-label="搜索区县（名称或代码）"' in html
    assert '<script src="/static/js/place-picker.js" defer></script>' in html
    assert "<optgroup" in html  # the select itself stays a grouped select
    script = (Path(app.static_folder) / "js" / "place-picker.js").read_text(encoding="utf-8")
    assert "select.place-picker" in script and "http" not in script.split("\n", 3)[3]
