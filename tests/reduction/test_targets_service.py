"""Targets through the service and the screen: percentages worked by hand, cities and zones, the variants,
missing totals, the closing enterprises, the chart, the shared index, and the total-emissions form."""

from __future__ import annotations

import math
from typing import Any

import pytest
from sqlalchemy import select

from app.auth.models import BureauKind, User
from app.auth.roles import Role
from app.core.errors import ServiceError
from app.places.models import Jurisdiction, LinkageZone
from app.reduction.demo import MeasureSpec, UnitSpec
from app.reduction.domain.vocabulary import AlertLevel, Category, Grade, Pollutant
from app.reduction.models import ReductionList, TotalEmissions
from app.reduction.services import lists as list_service
from app.reduction.services import targets as target_service
from tests.conftest import audit_actions, csrf_token
from tests.reduction import test_lists
from tests.reduction.test_lists import YEAR, build_list, enterprise, html

YELLOW, ORANGE, RED = AlertLevel.yellow, AlertLevel.orange, AlertLevel.red

people = test_lists.people  # the shared fixture


def jurisdiction(session: Any, code: str) -> Jurisdiction:
    return session.scalar(select(Jurisdiction).where(Jurisdiction.code == code))


def one_plant_list(
    session: Any, bureau: Any, user: Any, code: str, *, so2: float, limit: float, n: int
) -> ReductionList:
    """A list with one plant of one unit (all of its emissions) limited by `limit` % at every level."""
    lst = list_service.open_list(session, session.get(type(bureau), bureau.id), YEAR, session.get(User, user.id))
    unit = [UnitSpec("U1", "生产线", {"so2": 1.0, "nox": 1.0, "pm": 1.0, "vocs": 1.0}, 100, 100, 100)]
    enterprise(
        session,
        lst,
        n,
        f"{code}测试企业",
        industry="other",
        category=Category.other,
        grade=None,
        units=unit,
        emissions=(so2, so2, so2, so2),
        measures={lv: [MeasureSpec("limit", "power_meter", "U1", limit)] for lv in AlertLevel},
    )
    session.commit()
    return lst


def test_percentages_pass_fail_and_shortfall_worked_by_hand(people, session) -> None:  # type: ignore[no-untyped-def]
    built = build_list(session, people)
    district = jurisdiction(session, "511002")
    result = target_service.compute(session, YEAR, [district], YELLOW)
    by_key = {g.key: g for g in result.result.groups}
    so2 = by_key["so2"]
    assert so2.total_t_per_day == pytest.approx(10.0)  # 3650 t/a
    # cement: the B-grade yellow minimum is a truck ban only → 0 (no truck emissions entered); brick: a
    # whole-plant 30 % limit of 18.25 t/a → 0.015 t/day; heating: boiler capped at 80 % load → 20 % of its
    # 36.5 t/a; micro and A-grade: nothing
    expected = 18.25 * 0.3 / 365 + 36.5 * 0.2 / 365
    assert so2.reduction_t_per_day == pytest.approx(expected)
    assert so2.percent == pytest.approx(expected / 10 * 100)
    assert not so2.passed and so2.shortfall_t_per_day == pytest.approx(1.0 - expected)
    assert result.result.enterprises == 5
    # the closing list never names the exempt A-grade and guarantee plants
    closing = set(result.result.closing["id"])
    assert built.voluntary.id not in closing and built.heating.id not in closing
    assert built.cement.id in closing


def test_cities_sum_their_counties_and_zones_their_members(people, make_bureau, make_user, session) -> None:  # type: ignore[no-untyped-def]
    a = one_plant_list(session, people.district, people.district_user, "511002", so2=365.0, limit=50, n=1)
    dongxing = make_bureau("511011", name="东兴测试局", kind=BureauKind.branch)
    b = one_plant_list(
        session,
        dongxing,
        make_user("dx_user", bureau=dongxing, roles=(Role.district_staff,)),
        "511011",
        so2=730.0,
        limit=10,
        n=2,
    )
    for code, amount in (("511002", 3650.0), ("511011", 3650.0)):
        session.add(
            TotalEmissions(
                jurisdiction_id=jurisdiction(session, code).id,
                year=YEAR,
                so2=amount,
                nox=amount,
                pm=amount,
                vocs=amount,
            )
        )
    session.commit()
    city = jurisdiction(session, "511000")
    with pytest.raises(ServiceError) as missing:
        target_service.compute(session, YEAR, [city], YELLOW)
    assert "威远县" in missing.value.message and missing.value.field == "totals"
    for code in ("511024", "511025", "511083"):
        session.add(
            TotalEmissions(jurisdiction_id=jurisdiction(session, code).id, year=YEAR, so2=0, nox=0, pm=0, vocs=0)
        )
    session.commit()
    result = target_service.compute(session, YEAR, [city], RED)
    so2 = next(g for g in result.result.groups if g.key == "so2")
    # (365 × 50 % + 730 × 10 %) / 365 = 0.7 t/day of 20 t/day
    assert so2.reduction_t_per_day == pytest.approx(0.7) and so2.percent == pytest.approx(3.5)
    assert {lst.id for lst in result.lists} == {a.id, b.id}
    # a city's own figure wins over its counties'
    session.add(TotalEmissions(jurisdiction_id=city.id, year=YEAR, so2=365, nox=365, pm=365, vocs=365))
    session.commit()
    assert next(g for g in target_service.compute(session, YEAR, [city], RED).result.groups).percent == pytest.approx(
        70.0
    )

    combined = target_service.compute(session, YEAR, [city], RED, combine_so2_nox=True)
    assert [g.key for g in combined.result.groups] == ["so2+nox", "pm", "vocs"]
    ozone = target_service.compute(session, YEAR, [city], RED, ozone=True)
    assert [g.key for g in ozone.result.groups] == ["nox", "vocs"]
    with pytest.raises(ServiceError) as both:
        target_service.compute(session, YEAR, [city], RED, ozone=True, combine_so2_nox=True)
    assert both.value.field == "ozone"


def test_zone_choices_follow_the_scope(app, people, session) -> None:  # type: ignore[no-untyped-def]
    from app.auth.services import scope_for
    from app.core.scoping import Scope, set_scope

    south = session.scalar(select(LinkageZone).where(LinkageZone.code == "south"))
    values = {c.value for c in target_service.choices(session)}
    assert f"z:{south.id}" in values and "j:500153" in values
    set_scope(session, scope_for(session, session.get(User, people.city_user.id)))
    try:
        mine = {c.value for c in target_service.choices(session)}
        assert "j:511000" in mine and "j:511002" in mine and "j:500153" not in mine
        assert f"z:{south.id}" not in mine, "盆地南部 has Chongqing members the city cannot read"
        with pytest.raises(ServiceError):
            target_service.resolve(session, f"z:{south.id}")
        with pytest.raises(ServiceError):
            target_service.resolve(session, "j:500153")
        assert target_service.resolve(session, "j:511002")[0] == "市中区"
    finally:
        set_scope(session, Scope.everything())


def test_targets_page_with_chart_and_closing_list(people, login_as, session) -> None:  # type: ignore[no-untyped-def]
    build_list(session, people)
    client = login_as(people.district_user)
    page = html(client.get("/lists/targets", query_string={"jurisdiction": "j:511002", "year": YEAR, "level": "red"}))
    assert 'data-testid="target-chart"' in page and "<svg" in page and "chart-threshold" in page
    assert 'data-testid="target-verdict">未达标' in page and 'data-testid="closing"' in page
    assert "市中区华兴水泥有限公司" in page.split('data-testid="closing"', 1)[1]
    default = client.get("/lists/targets")
    assert default.status_code == 200 and 'value="j:511002" selected' in html(default)
    bad = client.get("/lists/targets", query_string={"level": "purple"})
    assert bad.status_code == 400 and "黄色、橙色或红色" in html(bad)
    other = client.get("/lists/targets", query_string={"jurisdiction": "j:500153"})
    assert other.status_code == 400 and "不在您的辖区内" in html(other)
    missing = client.get("/lists/targets", query_string={"jurisdiction": "j:511002", "year": 2030})
    assert missing.status_code == 200 and "缺少 2030 年" in html(missing)


def test_total_emissions_form(app, people, login_as, session) -> None:  # type: ignore[no-untyped-def]
    client = login_as(people.district_user)
    token = csrf_token(client, "/lists/totals")
    data = {
        "csrf_token": token,
        "jurisdiction": "511002",
        "year": "2026",
        "so2": "1200",
        "nox": "2,400",
        "pm": "800.5",
        "vocs": "0",
        "source": "2025年排放清单",
    }
    saved = client.post("/lists/totals", data=data)
    assert saved.status_code == 302
    row = session.scalar(select(TotalEmissions).where(TotalEmissions.year == 2026))
    assert (row.so2, row.nox, row.pm, row.vocs) == (1200.0, 2400.0, 800.5, 0.0)
    assert "2025年排放清单" in html(client.get("/lists/totals?year=2026"))
    corrected = client.post("/lists/totals", data={**data, "so2": "1300"})
    assert corrected.status_code == 302
    entry = audit_actions("total_emissions.set")[-1]
    assert entry.before["so2"] == 1200.0 and entry.after["so2"] == 1300.0

    for field, value, message in (
        ("nox", "-1", "氮氧化物"),
        ("pm", "abc", "颗粒物"),
        ("year", "1999", "年份"),
        ("jurisdiction", "999999", "行政区"),
        ("vocs", "", "挥发性有机物"),
    ):
        bad = client.post("/lists/totals", data={**data, field: value})
        assert bad.status_code == 400, field
        assert message in html(bad) and f'data-field="{field}"' in html(bad), field
    session.expire_all()
    assert session.scalar(select(TotalEmissions.so2).where(TotalEmissions.year == 2026)) == 1300.0
    outside = client.post("/lists/totals", data={**data, "jurisdiction": "500153"})
    assert outside.status_code == 403
    reader = login_as(people.inspector, app.test_client())
    assert reader.get("/lists/totals").status_code == 200
    assert (
        reader.post("/lists/totals", data={**data, "csrf_token": csrf_token(reader, "/lists/totals")}).status_code
        == 403
    )


def test_chart_geometry() -> None:
    from app.reduction.domain import targets as dt

    groups = (
        dt.GroupResult("so2", (Pollutant.so2,), 10, 1.5, 15.0, 10.0, True, 0.0, True),
        dt.GroupResult("nox", (Pollutant.nox,), 0, 0, math.nan, 10.0, False, 0.0, True),
    )
    result = dt.TargetResult(YELLOW, groups, dt.frame([]).iloc[0:0], 0)
    bars, height, top = target_service.chart(result, width=300)
    assert top == 15.0 and height == 68
    assert bars[0].width == 300.0 and bars[0].threshold_x == 200.0 and bars[1].width == 0.0


def test_the_plans_say_who_is_never_asked_to_close() -> None:
    """seed 002 §4.3.1 (1): A-grade and guarantee enterprises only (leading ones were exempt too before)."""
    assert target_service.exempt(Category.key, Grade.A) and target_service.exempt(Category.guarantee, None)
    assert not target_service.exempt(Category.key, Grade.leading) and not target_service.exempt(Category.key, Grade.B)
    from app.reduction.domain import targets as dt

    own = dt.TargetRules(dt.DEFAULT_RULES.percent, frozenset({Grade.A, Grade.leading}), frozenset())
    assert target_service.exempt(Category.key, Grade.leading, own)
    assert not target_service.exempt(Category.guarantee, None, own)


def test_the_plan_covering_the_place_sets_the_percentages_and_who_is_exempt(people, session) -> None:  # type: ignore[no-untyped-def]
    """Issue 11.3: the targets' percentages and the exempt grades are data of each plan (inventories/plans)."""
    from app.plans.models import Plan

    built = build_list(session, people)
    district = jurisdiction(session, "511002")  # 市中区 of 内江, a member of the 川渝 plan through its city
    plan = session.scalar(select(Plan).where(Plan.code == "chuanyu"))
    assert plan is not None and plan.rules["targets"]["percent"] == {"yellow": 10, "orange": 20, "red": 30}
    assert plan.rules["targets"]["exempt_grades"] == ["A"]
    assert plan.rules["targets"]["exempt_categories"] == ["guarantee"]
    shipped = target_service.compute(session, YEAR, [district], YELLOW)
    assert shipped.rules.exempt_grades == {Grade.A} and shipped.result.groups[0].threshold_percent == 10.0
    assert built.cement.id in set(shipped.result.closing["id"])
    plan.rules = {
        **plan.rules,
        "targets": {
            **plan.rules["targets"],
            "percent": {"yellow": 15, "orange": 25, "red": 35},
            "exempt_grades": ["A", "B"],
            "exempt_categories": [],
        },
    }
    session.commit()
    own = target_service.compute(session, YEAR, [district], YELLOW)
    assert own.result.groups[0].threshold_percent == 15.0
    closing = set(own.result.closing["id"])
    assert built.cement.id not in closing  # B-grade: exempt under this plan
    assert built.heating.id in closing  # guarantee: no longer exempt
    assert target_service.compute(session, YEAR, [district], RED).result.groups[0].threshold_percent == 35.0


def test_targets_read_the_lists_in_force_by_default(people, login_as, session) -> None:  # type: ignore[no-untyped-def]
    """A draft never counts toward the targets of the lists in force; once published it does, from that day."""
    from datetime import UTC, datetime

    from app.reduction.models import ListState

    built = build_list(session, people)
    client = login_as(people.district_user)
    page = html(client.get("/lists/targets", query_string={"jurisdiction": "j:511002", "level": "red"}))
    assert "所选范围内没有生效（已发布）的减排清单" in page, "the only list is a draft"
    lst = session.get(ReductionList, built.lst.id)
    lst.state, lst.submitted_at, lst.decided_at = (
        ListState.published,
        datetime(YEAR, 10, 1, tzinfo=UTC),
        datetime(YEAR, 10, 2, tzinfo=UTC),
    )
    lst.decided_by_id, lst.published_at = people.city_user.id, datetime(YEAR, 10, 3, 4, tzinfo=UTC)
    session.commit()
    before = html(client.get("/lists/targets", query_string={"jurisdiction": "j:511002", "level": "red",
                                                               "on": f"{YEAR}-10-02"}))  # fmt: skip
    assert "所选范围内没有生效（已发布）的减排清单" in before
    page = html(client.get("/lists/targets", query_string={"jurisdiction": "j:511002", "level": "red",
                                                             "on": f"{YEAR}-10-03"}))  # fmt: skip
    listed = page.split('data-testid="target-lists"', 1)[1].split("</p>", 1)[0]
    assert f"{YEAR}-10-03 生效的 1 份清单" in listed and f"{YEAR}·第 1 版" in listed
    assert f"全社会总排放量取 {YEAR} 年" in listed
    closing = page.split('data-testid="closing"', 1)[1]
    assert any(f"<tr><td>{p.label}</td>" in closing for p in Pollutant), "pollutants named in Chinese"
    assert not any(f"<td>{p.value}" in closing for p in Pollutant), closing


def test_the_targets_page_opens_on_the_latest_year_with_totals(people, login_as, session) -> None:  # type: ignore[no-untyped-def]
    build_list(session, people)  # totals for YEAR
    page = html(login_as(people.district_user).get("/lists/targets", query_string={"basis": "working"}))
    assert f'name="year" min="2000" max="2100" value="{YEAR}"' in page


def test_a_value_label_never_sits_on_the_target_line() -> None:
    from app.reduction.domain import targets as dt

    for percent in (0.0, 5.0, 9.0, 10.0, 11.0, 14.0, 30.0, 200.0):
        group = dt.GroupResult("so2", (Pollutant.so2,), 100.0, percent, percent, 10.0, percent >= 10, 0.0, True)
        result = dt.TargetResult(AlertLevel.red, (group,), None, 0)  # type: ignore[arg-type]
        (bar,), _h, _top = target_service.chart(result)
        line = target_service.CHART_LEFT + bar.threshold_x
        text_span = (bar.value_x - 45, bar.value_x) if bar.value_inside else (bar.value_x, bar.value_x + 45)
        assert not text_span[0] <= line <= text_span[1], (percent, bar)
        assert text_span[1] <= target_service.CHART_LEFT + target_service.CHART_WIDTH + 20
