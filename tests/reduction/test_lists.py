"""The list screens: lifecycle (draft → submitted → returned / approved → published → new version), deadline,
the enterprises table (search, filters, sort, pagination, flags), masking, and scoping.

The builders here (`people`, `build_list`) are shared by the other screen tests of the reduction lists."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select, update

from app.auth.models import BureauKind, User
from app.auth.roles import Role
from app.core.masking import mask_phone
from app.places.models import Jurisdiction
from app.reduction.demo import MeasureSpec, UnitSpec, add_enterprise, facts_for, rule_measures
from app.reduction.domain.uscc import generate
from app.reduction.domain.vocabulary import AlertLevel, Category, Grade
from app.reduction.models import (
    ControlFacility,
    Enterprise,
    ListState,
    Measure,
    Meter,
    ProcessUnit,
    ReductionList,
    StaggeredPeriod,
    TotalEmissions,
)
from app.reduction.services import lists as list_service
from app.reduction.services import policies
from tests.conftest import audit_actions, post_form
from tests.test_masking import LENGTHS, number

YEAR = 2026
CEMENT_UNITS = [
    UnitSpec(
        "L1",
        "1号熟料线",
        {"so2": 0.5, "nox": 0.5, "pm": 0.4},
        100,
        100,
        90,
        "万吨",
        facility=("SCR", "脱硝", "NOx"),
    ),
    UnitSpec("L2", "2号熟料线", {"so2": 0.5, "nox": 0.5, "pm": 0.4}, 100, 100, 90, "万吨"),
    UnitSpec("Y1", "原料堆场", {"pm": 0.2}, 100, 100, 90, "万吨", outdoor=True),
]


@pytest.fixture
def people(make_bureau, make_user):  # type: ignore[no-untyped-def]
    city = make_bureau("511000", name="内江测试市局")
    district = make_bureau("511002", name="市中区测试分局", kind=BureauKind.branch)
    other = make_bureau("500153", name="荣昌测试分局", kind=BureauKind.branch)
    province = make_bureau("510000", name="四川测试厅", kind=BureauKind.department)
    return SimpleNamespace(
        city=city,
        district=district,
        other=other,
        province=province,
        district_user=make_user("sz_user", bureau=district, roles=(Role.district_staff,)),
        city_user=make_user("nj_user", bureau=city, roles=(Role.city_staff, Role.approver)),
        other_user=make_user("rc_user", bureau=other, roles=(Role.district_staff,)),
        inspector=make_user("nj_inspector", bureau=city, roles=(Role.inspector,)),
        province_user=make_user("sc_user", bureau=province, roles=(Role.province_staff, Role.reviewer)),
    )


def enterprise(
    session: Any,
    lst: ReductionList,
    n: int,
    name: str,
    *,
    industry: str = "cement_clinker",
    category: Category = Category.key,
    grade: Grade | None = Grade.B,
    units: list[UnitSpec] | None = None,
    measures: dict[AlertLevel, list[MeasureSpec]] | None = None,
    code: str | None = None,
    emissions: tuple[float, float, float, float] = (36.5, 73.0, 18.25, 3.65),
    trucks: int = 0,
    per_unit: bool = False,
    **facts: Any,
) -> Enterprise:
    """One enterprise; measures default to the rule library's minimum (so: no flags)."""
    units = CEMENT_UNITS if units is None else units
    em = dict(zip(("so2", "nox", "pm", "vocs"), emissions, strict=True))
    if measures is None:
        machinery = facts.get("machinery")
        facts_ = facts_for(name, category, grade, industry, em, trucks, machinery)
        measures = rule_measures(facts_, units, per_unit=per_unit)
    return add_enterprise(
        session,
        lst,
        uscc=generate(7000 + n, region=code or place_code(session, lst)),
        name=name,
        category=category,
        grade=grade,
        industry=industry,
        units=units,
        measures=measures,
        jurisdiction_id=jurisdiction(session, code).id if code else None,
        truck_visits_per_day=trucks,
        contact_phone=facts.pop("contact_phone", "13812345678"),
        **em,
        **facts,
    )


def place_code(session: Any, lst: ReductionList) -> str:
    return lst.jurisdiction.code


def jurisdiction(session: Any, code: str) -> Jurisdiction:
    return session.scalar(select(Jurisdiction).where(Jurisdiction.code == code))


def build_list(session: Any, people: SimpleNamespace, *, totals: bool = True) -> SimpleNamespace:
    """The district's 2026 draft: a compliant cement plant, a C-grade brick plant below its rule (flagged),
    a micro workshop, an A-grade plant without measures (voluntary) and a guarantee heating plant."""
    user = session.get(User, people.district_user.id)
    lst = list_service.open_list(session, session.get(type(people.district), people.district.id), YEAR, user)
    cement = enterprise(session, lst, 1, "市中区华兴水泥有限公司", trucks=20, machinery={"china_2": 2}, per_unit=True)
    brick = enterprise(
        session,
        lst,
        2,
        "市中区鑫源页岩砖厂",
        industry="brick",
        grade=Grade.C,
        emissions=(18.25, 18.25, 36.5, 0.0),
        units=[
            UnitSpec("K1", "隧道窑", {"so2": 0.9, "nox": 0.9, "pm": 0.6}, 50, 40, 30, "万块"),
            UnitSpec("C1", "原料陈化", {"pm": 0.3}, 50, 40, 30, "万块", outdoor=True, rectifying=True),
        ],
        measures={
            AlertLevel.yellow: [
                MeasureSpec("limit", "power_meter", percent=30),
                MeasureSpec("truck_ban", "gate_records"),
                MeasureSpec("outdoor_work_ban", "video"),
            ],
            AlertLevel.orange: [MeasureSpec("stop", "power_meter")],
            AlertLevel.red: [MeasureSpec("stop", "power_meter")],
        },
    )
    micro = enterprise(
        session,
        lst,
        3,
        "市中区小型家具加工厂",
        industry="furniture",
        category=Category.micro,
        grade=None,
        emissions=(0.0, 0.0, 0.01, 0.04),
        units=[],
    )
    voluntary = enterprise(
        session,
        lst,
        4,
        "市中区恒通玻璃有限公司",
        industry="flat_glass",
        grade=Grade.A,
        measures={},
        emissions=(50.0, 100.0, 10.0, 2.0),
    )
    heating = enterprise(
        session,
        lst,
        5,
        "市中区嘉禾供热有限公司",
        industry="other",
        category=Category.guarantee,
        grade=None,
        units=[UnitSpec("B1", "燃煤锅炉", {"so2": 1.0, "nox": 1.0, "pm": 1.0}, 100, 80, 70, "蒸吨")],
        measures={
            lv: [MeasureSpec("output_cap", "dcs", percent=p, basis="output_by_heat")]
            for lv, p in zip(AlertLevel, (80, 70, 60), strict=True)
        },
    )
    if totals:
        session.add(
            TotalEmissions(
                jurisdiction_id=lst.jurisdiction_id,
                year=YEAR,
                so2=3650,
                nox=7300,
                pm=3650,
                vocs=3650,
                source="测试",
            )
        )
    session.commit()
    return SimpleNamespace(lst=lst, cement=cement, brick=brick, micro=micro, voluntary=voluntary, heating=heating)


def html(response: Any) -> str:
    return response.get_data(as_text=True)


def test_lifecycle_through_the_screens(app, people, login_as, session) -> None:  # type: ignore[no-untyped-def]
    district = login_as(people.district_user)
    opened = post_form(district, "/lists/open", {"year": YEAR})
    assert opened.status_code == 302
    list_id = int(opened.headers["Location"].rstrip("/").split("/")[-1])
    lst = session.get(ReductionList, list_id)
    assert (lst.state, lst.year, lst.version, lst.bureau_id) == (ListState.draft, YEAR, 1, people.district.id)
    enterprise(session, lst, 1, "市中区华兴水泥有限公司")
    session.commit()

    page = html(district.get(f"/lists/{list_id}"))
    assert "草稿" in page and 'data-testid="submit-list"' in page and "市中区华兴水泥有限公司" in page
    # the same year opened again is the same list while it is not published
    again = post_form(district, "/lists/open", {"year": YEAR})
    assert again.headers["Location"].endswith(f"/lists/{list_id}")

    city = login_as(people.city_user, app.test_client())
    index = html(city.get("/lists/"))
    assert "下级单位报送的清单" in index and f"/lists/{list_id}" in index
    assert 'data-testid="submit-list"' not in html(city.get(f"/lists/{list_id}"))
    assert post_form(city, f"/lists/{list_id}/submit", {}).status_code == 403, "not the owning bureau"

    submitted = post_form(district, f"/lists/{list_id}/submit", {"version": lst.lock_version})
    assert submitted.status_code == 302
    session.refresh(lst)
    assert lst.state is ListState.submitted and lst.submitted_by_id == people.district_user.id

    no_reason = post_form(city, f"/lists/{list_id}/decide", {"decision": "return", "reason": "  "})
    assert no_reason.status_code == 400 and "退回时必须填写退回原因" in html(no_reason)
    session.refresh(lst)
    assert lst.state is ListState.submitted

    returned = post_form(city, f"/lists/{list_id}/decide", {"decision": "return", "reason": "水泥企业红色预警措施不全"})
    assert returned.status_code == 302
    assert "水泥企业红色预警措施不全" in html(district.get(f"/lists/{list_id}"))
    assert post_form(district, f"/lists/{list_id}/submit", {}).status_code == 302
    assert post_form(city, f"/lists/{list_id}/decide", {"decision": "approve"}).status_code == 302
    session.refresh(lst)
    assert lst.state is ListState.approved and lst.decided_by_id == people.city_user.id and lst.return_reason is None
    approved_again = post_form(city, f"/lists/{list_id}/decide", {"decision": "approve"})
    assert approved_again.status_code == 409 and "已审核通过" in html(approved_again)

    assert post_form(district, f"/lists/{list_id}/publish", {}).status_code == 302
    session.refresh(lst)
    assert lst.state is ListState.published and lst.published_at is not None
    actions = [e.action for e in audit_actions("reduction_list.") if e.object_id == str(list_id)]
    assert actions == [
        "reduction_list.create",
        "reduction_list.submit",
        "reduction_list.return",
        "reduction_list.submit",
        "reduction_list.approve",
        "reduction_list.publish",
    ]

    # a published list is never edited: a change starts a new version with the same content
    version2 = post_form(district, f"/lists/{list_id}/new-version", {})
    assert version2.status_code == 302
    new_id = int(version2.headers["Location"].rstrip("/").split("/")[-1])
    new = session.get(ReductionList, new_id)
    assert (new.version, new.state, new.based_on_id) == (2, ListState.draft, list_id)
    assert post_form(district, f"/lists/{list_id}/new-version", {}).status_code == 409, "v2 exists already"
    assert "第 2 版" in html(district.get(f"/lists/{new_id}"))

    outsider = login_as(people.other_user, app.test_client())
    assert outsider.get(f"/lists/{list_id}").status_code == 404
    assert post_form(outsider, f"/lists/{new_id}/submit", {}).status_code == 404


def test_new_version_copies_units_measures_meters_and_periods(people, session) -> None:  # type: ignore[no-untyped-def]
    built = build_list(session, people)
    session.add(
        StaggeredPeriod(
            enterprise_id=built.cement.id,
            jurisdiction_id=built.cement.jurisdiction_id,
            starts_on=date(2026, 12, 15),
            ends_on=date(2027, 1, 20),
            reason="错峰",
        )
    )
    lst = built.lst
    lst.state, lst.submitted_at, lst.decided_at = ListState.published, datetime.now(UTC), datetime.now(UTC)
    lst.decided_by_id, lst.published_at = people.city_user.id, datetime.now(UTC)
    session.commit()
    new = list_service.new_version(session, lst, session.get(User, people.district_user.id))
    session.commit()

    def count(model: Any, list_id: int) -> int:
        return session.scalar(
            select(func.count(model.id))
            .join(Enterprise, Enterprise.id == model.enterprise_id)
            .where(Enterprise.list_id == list_id)
        )

    for model in (ProcessUnit, Measure, Meter, ControlFacility, StaggeredPeriod):
        assert count(model, new.id) == count(model, lst.id) > 0, model.__name__
    # measures point at the new version's units, never at the old ones
    old_units = set(
        session.scalars(
            select(ProcessUnit.id)
            .join(Enterprise, Enterprise.id == ProcessUnit.enterprise_id)
            .where(Enterprise.list_id == lst.id)
        )
    )
    new_refs = set(
        session.scalars(
            select(Measure.process_unit_id)
            .join(Enterprise, Enterprise.id == Measure.enterprise_id)
            .where(Enterprise.list_id == new.id, Measure.process_unit_id.is_not(None))
        )
    )
    assert new_refs and not new_refs & old_units

    # every control facility keeps its process unit: the new version's unit of the same code (issue 11)
    def facility_units(list_id: int) -> set[tuple[str, str | None]]:
        rows = session.execute(
            select(Enterprise.uscc, ControlFacility.code, ProcessUnit.code, ProcessUnit.enterprise_id)
            .join(Enterprise, Enterprise.id == ControlFacility.enterprise_id)
            .outerjoin(ProcessUnit, ProcessUnit.id == ControlFacility.process_unit_id)
            .where(Enterprise.list_id == list_id)
        ).all()
        owners = {e.id: e.list_id for e in session.scalars(select(Enterprise))}
        assert all(owner is None or owners[owner] == list_id for *_, owner in rows)
        return {(f"{u}/{f}", unit) for u, f, unit, _ in rows}

    old_links = facility_units(lst.id)
    assert any(unit is not None for _, unit in old_links)
    assert facility_units(new.id) == old_links


def test_deadline_from_the_plan_and_lateness(app, make_bureau, make_user, login_as, session) -> None:  # type: ignore[no-untyped-def]
    kashgar = make_bureau("653101", name="喀什市测试局", kind=BureauKind.branch)
    user = make_user("ks_county", bureau=kashgar, roles=(Role.district_staff,))
    lst = list_service.open_list(session, session.get(type(kashgar), kashgar.id), YEAR, session.get(User, user.id))
    session.commit()
    deadline = list_service.deadline_for(session, lst, date(2026, 11, 23))
    assert deadline is not None and deadline.due == date(2026, 9, 15) and deadline.late
    assert list_service.submission_deadline(lst, (9, 15), date(2026, 9, 1)).late is False
    page = html(login_as(user).get(f"/lists/{lst.id}"))
    assert "2026-09-15" in page and "已逾期" in page
    # a plan without a deadline (川渝) shows none
    sichuan = make_bureau("511011", name="东兴测试局", kind=BureauKind.branch)
    other = list_service.open_list(
        session,
        session.get(type(sichuan), sichuan.id),
        YEAR,
        session.get(User, make_user("dx", bureau=sichuan, roles=(Role.district_staff,)).id),
    )
    assert list_service.deadline_for(session, other, date(2026, 11, 23)) is None


def city_list(session: Any, people: SimpleNamespace) -> ReductionList:
    """The city's own list, with enterprises in three counties (22 in all, for paging)."""
    user = session.get(User, people.city_user.id)
    lst = list_service.open_list(session, session.get(type(people.city), people.city.id), YEAR, user)
    counties = ("511011", "511024", "511025")
    for n in range(18):
        enterprise(
            session,
            lst,
            100 + n,
            f"测试{'甲乙丙丁戊己庚辛壬癸'[n % 10]}{n:02d}水泥有限公司",
            code=counties[n % 3],
            emissions=(10.0 + n, 20.0, 5.0, 1.0),
        )
    enterprise(
        session,
        lst,
        130,
        "东兴区宏达页岩砖厂",
        industry="brick",
        grade=Grade.C,
        code="511011",
        measures={lv: [MeasureSpec("truck_ban", "gate_records")] for lv in AlertLevel},
    )
    enterprise(
        session,
        lst,
        131,
        "威远县瑞丰包装印务",
        industry="packaging_printing",
        category=Category.other,
        grade=None,
        code="511024",
        units=[],
    )
    enterprise(session, lst, 132, "资中县无分级玻璃厂", industry="flat_glass", grade=None, code="511025")
    enterprise(
        session,
        lst,
        133,
        "资中县小微彩印",
        industry="packaging_printing",
        category=Category.micro,
        grade=None,
        code="511025",
        units=[],
        emissions=(0.0, 0.0, 0.0, 0.05),
    )
    session.commit()
    return lst


def names(page: str) -> list[str]:
    body = page.split('data-testid="enterprise-table"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'/lists/enterprises/\d+">([^<]+)</a>', body)


def test_enterprise_table_search_filters_sort_and_pages(app, people, login_as, session) -> None:  # type: ignore[no-untyped-def]
    lst = city_list(session, people)
    client = login_as(people.city_user)
    url = f"/lists/{lst.id}"
    first = html(client.get(url))
    assert "共 22 家" in first and "有问题 2 家" in first
    assert len(names(first)) == 22
    assert names(html(client.get(url, query_string={"per_page": 10})))[:1] == sorted(names(first))[:1]
    page3 = html(client.get(url, query_string={"per_page": 10, "page": 3}))
    assert len(names(page3)) == 2 and "第 3 / 3 页" in page3

    assert names(html(client.get(url, query_string={"q": "宏达"}))) == ["东兴区宏达页岩砖厂"]
    brick = session.scalar(select(Enterprise).where(Enterprise.list_id == lst.id, Enterprise.industry == "brick"))
    assert names(html(client.get(url, query_string={"q": brick.uscc[:12].lower()}))) == ["东兴区宏达页岩砖厂"]
    assert names(html(client.get(url, query_string={"q": " ".join(brick.uscc)}))) == ["东兴区宏达页岩砖厂"]
    weiyuan = names(html(client.get(url, query_string={"county": "511024"})))
    assert len(weiyuan) == 7 and "威远县瑞丰包装印务" in weiyuan
    assert names(html(client.get(url, query_string={"category": "micro"}))) == ["资中县小微彩印"]
    assert names(html(client.get(url, query_string={"grade": "none", "category": "key"}))) == ["资中县无分级玻璃厂"]
    assert names(html(client.get(url, query_string={"industry": "brick"}))) == ["东兴区宏达页岩砖厂"]
    flagged = names(html(client.get(url, query_string={"flags": "flagged"})))
    assert sorted(flagged) == ["东兴区宏达页岩砖厂", "资中县无分级玻璃厂"]
    assert len(names(html(client.get(url, query_string={"flags": "clean"})))) == 20
    by_so2 = names(html(client.get(url, query_string={"sort": "so2", "category": "key", "industry": "cement_clinker"})))
    assert by_so2[0].endswith("17水泥有限公司")

    for field, value in (
        ("category", "huge"),
        ("grade", "E"),
        ("flags", "maybe"),
        ("sort", "drop table"),
        ("page", "0"),
        ("per_page", "100000"),
        ("industry", "x"),
        ("county", "99999'"),
    ):
        bad = client.get(url, query_string={field: value})
        assert bad.status_code == 400, (field, value)
        assert (f'data-field="{field}"' in html(bad) and "无效" in html(bad)) or "之间的整数" in html(bad)
    assert client.get(url, query_string={"county": "999999"}).status_code == 400


def test_enterprise_table_escapes_what_the_list_holds(people, login_as, session) -> None:  # type: ignore[no-untyped-def]
    built = build_list(session, people)
    enterprise(session, built.lst, 77, '<script>alert("x")</script>&Co', code="511002")
    session.commit()
    page = html(login_as(people.district_user).get(f"/lists/{built.lst.id}"))
    body = page.split('data-testid="enterprise-table"', 1)[1].split("</table>", 1)[0]
    assert "<script>" not in body
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;Co</a>" in body
    row = body.split("&amp;Co</a>", 1)[1].split("</tr>", 1)[0]
    assert '<td class="num">36.50</td><td class="num">73.00</td>' in row  # the emissions, t/a


def test_flag_filter_follows_a_policy_edit(people, login_as, session) -> None:  # type: ignore[no-untyped-def]
    built = build_list(session, people)
    client = login_as(people.district_user)
    url = f"/lists/{built.lst.id}"
    assert names(html(client.get(url, query_string={"flags": "flagged"}))) == ["市中区鑫源页岩砖厂"]
    user = session.get(User, people.district_user.id)
    brick = session.get(Enterprise, built.brick.id)
    rows = [
        policies.MeasureInput("limit", "power_meter", percent=50),
        policies.MeasureInput("truck_ban", "gate_records"),
        policies.MeasureInput("outdoor_work_ban", "video"),
    ]
    assert not policies.save_level(session, brick, AlertLevel.yellow, rows, user).problems
    session.commit()
    assert names(html(client.get(url, query_string={"flags": "flagged"}))) == []
    assert "有问题 0 家" in html(client.get(url))


def test_contact_phone_is_masked_outside_the_owning_bureau(people, login_as, session) -> None:  # type: ignore[no-untyped-def]
    built = build_list(session, people)
    url = f"/lists/enterprises/{built.cement.id}"
    assert "13812345678" in html(login_as(people.district_user).get(url))
    city_view = html(login_as(people.city_user).get(url))
    assert "13812345678" not in city_view and "138****5678" in city_view
    assert "仅清单所属单位可见完整号码" in city_view
    city = login_as(people.city_user)
    for n in LENGTHS:  # every length, through the enterprise page itself
        session.execute(update(Enterprise).where(Enterprise.id == built.cement.id).values(contact_phone=number(n)))
        session.commit()
        page = city.get(url).get_data(as_text=True)
        shown = re.search(r'data-testid="contact-phone">([^<]*?)(?: <span|</dd>)', page)
        assert shown is not None and shown.group(1) == (mask_phone(number(n)) or "—"), n


def test_a_second_return_keeps_the_first_in_the_lists_history(app, people, login_as, session) -> None:  # type: ignore[no-untyped-def]
    district, city = login_as(people.district_user), login_as(people.city_user, app.test_client())
    list_id = int(post_form(district, "/lists/open", {"year": YEAR}).headers["Location"].rstrip("/").split("/")[-1])
    for reason in ("水泥企业红色预警措施不全", "砖瓦企业未列明停产时间"):
        assert post_form(district, f"/lists/{list_id}/submit", {}).status_code == 302
        assert post_form(city, f"/lists/{list_id}/decide", {"decision": "return", "reason": reason}).status_code == 302
    lst = session.get(ReductionList, list_id)
    steps = [(h.action.value, h.reason) for h in list_service.history(session, lst)]
    assert steps == [
        ("create", None),
        ("submit", None),
        ("return", "水泥企业红色预警措施不全"),
        ("submit", None),
        ("return", "砖瓦企业未列明停产时间"),
    ]
    page = html(district.get(f"/lists/{list_id}"))
    history = page[page.index('data-testid="list-history"') :]
    assert "流转记录（5 步）" in history
    assert "退回原因：水泥企业红色预警措施不全" in history and "退回原因：砖瓦企业未列明停产时间" in history
    assert people.city.name in history  # who returned it
    api = district.get(f"/api/v1/reduction/lists/{list_id}/actions").get_json()
    assert [h.get("reason") for h in api["history"] if h["action"] == "return"] == [
        "水泥企业红色预警措施不全",
        "砖瓦企业未列明停产时间",
    ]


def test_the_lists_history_cannot_be_rewritten(people, session) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy.exc import DatabaseError

    from app.reduction.models import ReductionListEvent

    lst = list_service.open_list(session, people.district, YEAR, people.district_user)
    session.commit()
    with pytest.raises(DatabaseError, match="append-only"):
        session.execute(update(ReductionListEvent).where(ReductionListEvent.list_id == lst.id).values(reason="x"))
    session.rollback()


def test_who_may_act_on_a_list_is_written_once(people, session) -> None:  # type: ignore[no-untyped-def]
    """The actions the page offers are exactly those the transition function lets through."""
    from app.core.errors import ServiceError
    from app.reduction.models import LIFECYCLE, ListAction

    lst = list_service.open_list(session, people.district, YEAR, people.district_user)
    session.flush()
    for who in (people.district_user, people.city_user, people.other_user):
        user = session.get(User, who.id)
        offered = set(list_service.available_actions(lst, user))
        for action in LIFECYCLE:
            if action is ListAction.new_version:
                continue
            nested = session.begin_nested()
            try:
                list_service.transition(session, lst, action, user, reason="理由")
                allowed = True
            except ServiceError:
                allowed = False
            nested.rollback()
            session.refresh(lst)
            assert allowed == (action in offered), (user.username, action)


def test_a_new_year_starts_as_a_copy_of_the_list_in_force(app, people, login_as, session) -> None:  # type: ignore[no-untyped-def]
    built = build_list(session, people)
    cement = built.cement
    season = {"starts_on": date(YEAR, 12, 15), "ends_on": date(YEAR + 1, 1, 20), "reason": "错峰"}
    session.add(StaggeredPeriod(enterprise_id=cement.id, jurisdiction_id=cement.jurisdiction_id, **season))
    lst = built.lst
    lst.state, lst.submitted_at, lst.decided_at = ListState.published, datetime.now(UTC), datetime.now(UTC)
    lst.decided_by_id, lst.published_at = people.city_user.id, datetime.now(UTC)
    session.commit()
    district = login_as(people.district_user)
    hint = html(district.get("/lists/"))
    assert f"以现行生效清单（{YEAR} 年第 1 版）为底稿复制建立" in hint
    opened = post_form(district, "/lists/open", {"year": YEAR + 1})
    new_id = int(opened.headers["Location"].rstrip("/").split("/")[-1])
    new = session.get(ReductionList, new_id)
    assert (new.year, new.version, new.state, new.based_on_id) == (YEAR + 1, 1, ListState.draft, lst.id)
    pairs = session.execute(
        select(Enterprise.list_id, Enterprise.registry_id, Enterprise.name)
        .where(Enterprise.list_id.in_([lst.id, new_id]))
    ).all()  # fmt: skip
    old = {(r, n) for lid, r, n in pairs if lid == lst.id}
    assert old and {(r, n) for lid, r, n in pairs if lid == new_id} == old, "every enterprise, same registry entry"
    for model in (ProcessUnit, Measure, Meter, ControlFacility):
        counts = dict(session.execute(
            select(Enterprise.list_id, func.count(model.id)).join(Enterprise, Enterprise.id == model.enterprise_id)
            .where(Enterprise.list_id.in_([lst.id, new_id])).group_by(Enterprise.list_id)
        ).all())  # fmt: skip
        assert counts.get(new_id) == counts.get(lst.id), model.__name__
    periods = session.scalar(
        select(func.count(StaggeredPeriod.id)).join(Enterprise, Enterprise.id == StaggeredPeriod.enterprise_id)
        .where(Enterprise.list_id == new_id)
    )  # fmt: skip
    assert periods == 0, "last season's staggered periods are not the new year's"
    page = html(district.get(f"/lists/{new_id}"))
    assert "市中区华兴水泥有限公司" in page and f"{YEAR + 1}" in page
    # without a list in force the year starts empty
    other = login_as(people.other_user, app.test_client())
    empty = post_form(other, "/lists/open", {"year": YEAR + 1})
    empty_id = int(empty.headers["Location"].rstrip("/").split("/")[-1])
    assert session.scalar(select(func.count(Enterprise.id)).where(Enterprise.list_id == empty_id)) == 0
