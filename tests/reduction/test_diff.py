"""The diff of two lists: version over version and year over year, through the service and the page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from app.auth.models import User
from app.core.errors import ServiceError
from app.reduction.domain.vocabulary import AlertLevel, Category, Grade
from app.reduction.models import Enterprise, ListState, Measure, ReductionList
from app.reduction.services import diff as diff_service
from app.reduction.services import lists as list_service
from app.reduction.services import policies
from tests.reduction import test_lists
from tests.reduction.test_lists import YEAR, build_list, enterprise, html

people = test_lists.people  # the shared fixture


def publish(session: Any, lst: ReductionList, decider: Any) -> None:
    now = datetime.now(UTC)
    lst.state, lst.submitted_at, lst.decided_at, lst.published_at = ListState.published, now, now, now
    lst.decided_by_id = decider.id
    session.commit()


def changed_version(session: Any, people: Any) -> tuple[ReductionList, ReductionList, dict[str, Enterprise]]:
    built = build_list(session, people)
    publish(session, built.lst, people.city_user)
    user = session.get(User, people.district_user.id)
    new = list_service.new_version(session, built.lst, user)
    session.commit()
    by_name = {e.name: e for e in session.scalars(select(Enterprise).where(Enterprise.list_id == new.id))}
    by_name["市中区恒通玻璃有限公司"].grade = Grade.B  # regraded A → B
    by_name["市中区小型家具加工厂"].category = Category.other  # no longer micro
    session.delete(by_name["市中区嘉禾供热有限公司"])  # closed down
    policies.save_level(
        session,
        by_name["市中区鑫源页岩砖厂"],
        AlertLevel.yellow,
        [
            policies.MeasureInput("limit", "power_meter", percent=50),
            policies.MeasureInput("truck_ban", "gate_records"),
            policies.MeasureInput("outdoor_work_ban", "video"),
        ],
        user,
    )
    enterprise(session, new, 40, "市中区新建陶瓷有限公司", industry="ceramics", grade=Grade.C)
    session.commit()
    return built.lst, new, by_name


def test_version_over_version(people, session) -> None:  # type: ignore[no-untyped-def]
    old, new, _ = changed_version(session, people)
    d = diff_service.diff_lists(session, old, new)
    assert d.counts == {"added": 1, "removed": 1, "category": 1, "grade": 1, "measures": 1}
    assert [r.name for r in d.added] == ["市中区新建陶瓷有限公司"]
    assert [r.name for r in d.removed] == ["市中区嘉禾供热有限公司"]
    assert [(c.ref.name, c.before, c.after) for c in d.grade_changes] == [("市中区恒通玻璃有限公司", "A级", "B级")]
    assert [(c.before, c.after) for c in d.category_changes] == [("小微涉气企业", "其他企业")]
    (change,) = d.measure_changes
    assert change.ref.name == "市中区鑫源页岩砖厂" and change.level is AlertLevel.yellow
    assert change.added == ["全厂：限产50%（用电监控）"] and change.removed == ["全厂：限产30%（用电监控）"]
    assert d.unchanged == 1  # the cement plant
    with pytest.raises(ServiceError):
        diff_service.diff_lists(session, old, old)


def test_year_over_year_on_the_page(app, people, make_bureau, login_as, session) -> None:  # type: ignore[no-untyped-def]
    old, new, _ = changed_version(session, people)
    publish(session, new, people.city_user)
    next_year = list_service.open_list(
        session,
        session.get(type(people.district), people.district.id),
        YEAR + 1,
        session.get(User, people.district_user.id),
    )
    enterprise(session, next_year, 41, "市中区华兴水泥有限公司二厂")
    session.commit()
    client = login_as(people.district_user)
    page = html(client.get(f"/lists/{next_year.id}/diff"))
    # compared by default with the latest version of the previous year
    assert f"{YEAR} 年应急减排清单（第 2 版） → " in page
    # the new year started as a copy of the list in force (v2): only the enterprise added since is new
    assert "新增企业 1 家" in page and "移出企业 0 家" in page and "未变化 5 家" in page
    explicit = html(client.get(f"/lists/{next_year.id}/diff", query_string={"against": old.id}))
    assert "第 1 版） →" in explicit
    assert "diff-link" in html(client.get(f"/lists/{new.id}"))
    version_page = html(client.get(f"/lists/{new.id}/diff"))
    assert "绩效分级变化 1 家" in version_page and "− 全厂：限产30%（用电监控）" in version_page
    other = list_service.open_list(
        session,
        session.get(type(people.other), people.other.id),
        YEAR,
        session.get(User, people.other_user.id),
    )
    session.commit()
    refused = client.get(f"/lists/{new.id}/diff", query_string={"against": other.id})
    assert refused.status_code == 400 and "同一行政区" in html(refused)
    assert client.get(f"/lists/{new.id}/diff", query_string={"against": "x"}).status_code == 400
    lone = html(login_as(people.other_user, app.test_client()).get(f"/lists/{other.id}/diff"))
    assert "没有可比较的其他版本" in lone


def test_a_changed_measure_note_is_a_change(people, login_as, session) -> None:  # type: ignore[no-untyped-def]
    built = build_list(session, people)
    publish(session, built.lst, people.city_user)
    new = list_service.new_version(session, built.lst, session.get(User, people.district_user.id))
    session.commit()
    measure = session.scalars(
        select(Measure).join(Enterprise, Enterprise.id == Measure.enterprise_id).where(Enterprise.list_id == new.id)
    ).first()
    measure.note = "夜间22时后停产"
    session.commit()
    d = diff_service.diff_lists(session, built.lst, new)
    assert d.counts["measures"] == 1
    (change,) = d.measure_changes
    assert change.ref.id == measure.enterprise_id
    assert any("备注：夜间22时后停产" in text for text in change.added)
    assert not any("夜间22时后停产" in text for text in change.removed)
    page = html(login_as(people.district_user).get(f"/lists/{new.id}/diff", query_string={"against": built.lst.id}))
    assert "备注：夜间22时后停产" in page
