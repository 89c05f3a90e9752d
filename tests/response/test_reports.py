"""Daily reports come in by the plan's deadline (Chaoyang 17:00 with photos); one is late, one missing; after
the lift the summary is due (Chaoyang 10:00 the next day, Kashgar within 24 h); the office's daily summary."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from app.auth.roles import Role
from app.core.errors import Conflict, Forbidden, ServiceError
from app.core.localtime import LOCAL_TZ
from app.plans.models import Plan
from app.plans.services import rules_of
from app.response.domain import reports as dom
from app.response.models import ResponseUnit
from app.response.services import reports
from app.response.services.activation import UnitChange, apply
from tests.response.conftest import ISSUED, ON, Zone, jpeg

PLAIN = ["510100", "510600", "511400", "511800"]
FIELDS = {"leaders_activities": "副市长带队检查", "bureau_work": "检查企业 40 家", "next_plans": "继续驻场督导",
          "issue_list_rectification": "问题清单已核查"}  # fmt: skip


def local(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=LOCAL_TZ).astimezone(UTC)


def rule(code: str, session: Any) -> dom.ReportRule:
    return dom.ReportRule.of(rules_of(session.scalars(select(Plan).where(Plan.code == code)).one()).reporting)


def test_deadlines_follow_each_plan(session: Any) -> None:
    chaoyang, kashgar, chuanyu = rule("chaoyang", session), rule("kashgar", session), rule("chuanyu", session)
    day = date(2026, 12, 8)
    assert dom.daily_due(chaoyang, day) == datetime(2026, 12, 8, 17, 0, tzinfo=LOCAL_TZ)
    assert chaoyang.photos and "on_site_supervision" in chaoyang.fields
    assert dom.daily_due(chuanyu, day) == datetime(2026, 12, 9, 0, 0, tzinfo=LOCAL_TZ)  # no hour: by the day's end
    assert dom.daily_due(kashgar, day) == datetime(2026, 12, 10, 0, 0, tzinfo=LOCAL_TZ)  # the previous day's response
    lifted = local(date(2026, 12, 10), 15)
    assert dom.summary_due(chaoyang, lifted) == datetime(2026, 12, 11, 10, 0, tzinfo=LOCAL_TZ)  # 翌日10时前
    assert dom.summary_due(kashgar, lifted) == lifted + timedelta(hours=24)  # 解除后1日内
    assert dom.summary_due(chuanyu, lifted) is None
    assert dom.status(local(day, 17), local(day, 16, 59), local(day, 18)) == dom.ON_TIME
    assert dom.status(local(day, 17), local(day, 17, 1), local(day, 18)) == dom.LATE
    assert dom.status(local(day, 17), None, local(day, 18)) == dom.MISSING
    assert dom.status(local(day, 17), None, local(day, 16)) == dom.PENDING


def test_a_plan_naming_an_unknown_report_field_is_refused(tmp_path: Any) -> None:
    import tomllib

    from app.plans import schema

    text = '[reporting]\nsource = "x"\ndaily_report_fields = ["leaders_activities", "weather_gossip"]\n'
    _, problems = schema.check(tomllib.loads(text), text, "plans/x.toml")
    assert problems == [
        "plans/x.toml line 3 reporting.daily_report_fields: 'weather_gossip' is not one of "
        + ", ".join(schema.REPORT_FIELDS)
    ]


def test_report_field_labels_cover_the_plans_vocabulary() -> None:
    from app.plans.schema import REPORT_FIELDS
    from app.response.vocabulary import REPORT_FIELDS as LABELLED

    assert tuple(LABELLED) == REPORT_FIELDS


def _issue(session: Any, zone: Zone) -> dict[str, ResponseUnit]:
    apply(session, episode_id=zone.episode, plan_id=zone.plan_id, on=ON, now=ISSUED,
          units=[UnitChange(zone.ids[c], "orange", ISSUED) for c in PLAIN])  # fmt: skip
    session.commit()
    units = session.scalars(select(ResponseUnit).where(ResponseUnit.episode_id == zone.episode))
    return {u.jurisdiction.code: u for u in units}


def test_daily_reports_come_in_one_is_late_one_missing(session: Any, zone: Zone, make_user: Any) -> None:
    units = _issue(session, zone)
    chengdu = make_user("resp_rep_cd", code="510100", roles=(Role.city_staff,))
    deyang = make_user("resp_rep_dy", code="510600", roles=(Role.city_staff,))
    day = ON
    on_time = reports.submit(session, chengdu, units["510100"], "daily", day, FIELDS, now=local(day, 20))
    late = reports.submit(session, deyang, units["510600"], "daily", day, FIELDS, now=local(day + timedelta(days=1), 9))
    session.commit()
    assert not on_time.late and late.late
    assert on_time.figures["tasks"] == 3 and on_time.figures["onsite"] == 1

    now = local(day + timedelta(days=1), 12)
    standing = {
        (o.name, o.standing.expected.day): o.standing.status for o in reports.owed(session, list(units.values()), now)
    }
    assert standing[("成都市", day)] == dom.ON_TIME
    assert standing[("德阳市", day)] == dom.LATE
    assert standing[("眉山市", day)] == dom.MISSING
    assert standing[("眉山市", day + timedelta(days=1))] == dom.PENDING

    summary = {r.name: r.status for r in reports.daily_summary(session, day, now)}
    assert summary == {"成都市": "on_time", "德阳市": "late", "眉山市": "missing", "雅安市": "missing"}
    ctx = reports.summary_context(session, day, now, "四川省生态环境厅")
    assert (ctx["late"], ctx["missing"]) == (1, 2)

    with pytest.raises(Conflict):  # once a day
        reports.submit(session, chengdu, units["510100"], "daily", day, FIELDS, now=now)
    with pytest.raises(Forbidden):  # another unit's report
        reports.submit(session, chengdu, units["511400"], "daily", day, FIELDS, now=now)
    with pytest.raises(ServiceError, match="后续工作计划"):  # every field of the plan
        reports.submit(session, chengdu, units["510100"], "daily", day + timedelta(days=1),
                       {**FIELDS, "next_plans": " "}, now=now)  # fmt: skip
    with pytest.raises(Conflict, match="尚未解除"):
        reports.submit(session, chengdu, units["510100"], "summary", day, {}, now=now)


def test_chaoyang_asks_for_photos_and_a_summary_by_ten_the_next_day(
    app: Any, session: Any, zone: Zone, make_user: Any
) -> None:
    chaoyang = session.scalars(select(Plan).where(Plan.code == "chaoyang")).one()
    apply(session, episode_id=zone.episode_chaoyang, plan_id=chaoyang.id, on=ON, now=ISSUED,
          units=[UnitChange(zone.ids["510100"], "yellow", ISSUED)])  # fmt: skip
    session.commit()
    unit = session.scalars(select(ResponseUnit).where(ResponseUnit.episode_id == zone.episode_chaoyang)).one()
    user = make_user("resp_rep_cy", code="510100", roles=(Role.city_staff,))
    fields = {"on_site_supervision": "驻场 3 家", "patrols": "巡查 12 家", "online_supervision": "在线监控无异常",
              "area_source_control": "秸秆焚烧巡查"}  # fmt: skip
    with pytest.raises(ServiceError, match="影像资料"):
        reports.submit(session, user, unit, "daily", ON, fields, now=local(ON, 16))
    photo = FileStorage(*jpeg("现场.jpg"))
    with app.app_context():
        r = reports.submit(session, user, unit, "daily", ON, fields, [photo], now=local(ON, 16))
    assert not r.late and [p.filename for p in r.photos] == ["现场.jpg"]

    lifted = local(ON + timedelta(days=2), 15)
    apply(session, episode_id=zone.episode_chaoyang, plan_id=chaoyang.id, on=ON, now=lifted,
          units=[UnitChange(zone.ids["510100"], None, ISSUED, lifted)])  # fmt: skip
    session.commit()
    s = reports.submit(
        session, user, unit, "summary", ON, {"work_summary": "过程总结"}, now=local(ON + timedelta(days=3), 10, 30)
    )
    assert s.late and s.due_at == datetime(2026, 12, 10, 10, 0, tzinfo=LOCAL_TZ)


def test_a_lift_at_midnight_owes_no_report_for_the_lifts_day() -> None:
    """Lifted at 00:00 on 12-10 (the forecast's day boundary), a unit is under response on 12-08 and 12-09 only:
    no daily report is owed for 12-10."""
    start = datetime(2026, 12, 8, tzinfo=LOCAL_TZ)
    lifted = datetime(2026, 12, 10, tzinfo=LOCAL_TZ)
    later = datetime(2026, 12, 11, 12, tzinfo=LOCAL_TZ)
    assert dom.report_days(start, lifted, later) == [date(2026, 12, 8), date(2026, 12, 9)]
    assert dom.report_days(start, lifted + timedelta(minutes=1), later)[-1] == date(2026, 12, 10)
    assert dom.report_days(start, lifted, datetime(2026, 12, 9, 8, tzinfo=LOCAL_TZ))[-1] == date(2026, 12, 9)
    rule = dom.ReportRule(summary_next_day="10:00")
    kinds = [(e.kind, e.day) for e in dom.expected(rule, 1, start, lifted, later)]
    assert kinds[-1] == ("summary", date(2026, 12, 10)) and ("daily", date(2026, 12, 10)) not in kinds
