"""An inspector checks a task's measures on the phone with photos; one found not carried out becomes a case in
one step, filled in with the enterprise, the measure, the level and the photos."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.auth.roles import Role
from app.cases.models import Case, Evidence
from app.response.models import ResponseTask
from app.response.services.activation import UnitChange, apply
from tests.conftest import csrf_token
from tests.response.conftest import ISSUED, ON, Zone, jpeg

PLAIN = ["510100", "510600", "511400", "511800"]


def _issue(session: Any, zone: Zone) -> None:
    apply(session, episode_id=zone.episode, plan_id=zone.plan_id, on=ON, now=ISSUED,
          units=[UnitChange(zone.ids[c], "orange", ISSUED) for c in PLAIN])  # fmt: skip
    session.commit()


def _task(session: Any, uscc: str) -> ResponseTask:
    return session.scalars(select(ResponseTask).where(ResponseTask.uscc == uscc)).one()


def test_a_failed_check_becomes_a_case(session: Any, zone: Zone, make_user: Any, login_as: Any, client: Any) -> None:
    _issue(session, zone)
    inspector = make_user("resp_insp_cd", code="510100", roles=(Role.inspector,))
    c = login_as(inspector)
    task = _task(session, zone.key_uscc)
    limit, truck = task.measures

    page = c.get("/response/").get_data(as_text=True)
    assert task.enterprise_name in page and "驻场督导" in page and "错峰生产停产中" in page
    page = c.get(f"/response/tasks/{task.id}").get_data(as_text=True)
    assert "限产 50%（1#生产线）" in page and "橙色预警" in page and "Ⅱ级应急响应" in page

    token = csrf_token(c, f"/response/tasks/{task.id}")
    # no photo: refused, nothing written
    r = c.post(f"/response/tasks/{task.id}/measures/{limit.id}", data={"csrf_token": token, "status": "carried_out"})
    assert r.status_code == 400 and "请上传现场照片" in r.get_data(as_text=True)
    r = c.post(f"/response/tasks/{task.id}/measures/{limit.id}", content_type="multipart/form-data",
               data={"csrf_token": token, "status": "carried_out", "photos": [jpeg("电表.jpg")]})  # fmt: skip
    assert r.status_code == 302
    r = c.post(f"/response/tasks/{task.id}/measures/{truck.id}", content_type="multipart/form-data",
               data={"csrf_token": token, "status": "not_carried_out", "remark": "门禁记录显示国Ⅳ货车 6 辆次进厂",
                     "photos": [jpeg("门禁.jpg")]}, follow_redirects=True)  # fmt: skip
    html = r.get_data(as_text=True)
    assert "登记问题线索" in html and "未落实" in html

    session.expire_all()
    task = _task(session, zone.key_uscc)
    assert task.state.value == "done"
    case = session.get(Case, task.measures[1].case_id)
    assert case.origin.value == "field_inspection" and case.source_name == task.enterprise_name
    assert case.enterprise_uscc == task.uscc and case.topic == "未落实应急减排措施"
    assert "橙色预警" in case.problem and "停用国Ⅳ及以下重型货车" in case.problem and "6 辆次" in case.problem
    names = [e.filename for e in session.scalars(select(Evidence).where(Evidence.case_id == case.id))]
    assert names == ["门禁.jpg"]
    # the check's photo is served to the area, and the measure links its case
    page = c.get(f"/response/tasks/{task.id}").get_data(as_text=True)
    assert f"/cases/{case.id}" in page
    served = c.get(f"/response/photos/{task.measures[0].photos[0].id}")
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    served.close()


def test_another_area_does_not_see_the_task(session: Any, zone: Zone, make_user: Any, login_as: Any) -> None:
    _issue(session, zone)
    outsider = make_user("resp_insp_my", code="510700", roles=(Role.inspector,))
    c = login_as(outsider)
    task = _task(session, zone.key_uscc)
    assert c.get(f"/response/tasks/{task.id}").status_code == 404
    assert task.enterprise_name not in c.get("/response/").get_data(as_text=True)


def test_home_page_lists_the_tasks_and_reports_due(session: Any, zone: Zone, make_user: Any, login_as: Any) -> None:
    _issue(session, zone)
    staff = make_user("resp_home_ya", code="511800", roles=(Role.city_staff,))
    html = login_as(staff).get("/").get_data(as_text=True)
    assert "待核查响应任务" in html and "待报送日报和总结" in html
    from datetime import UTC, datetime

    from app.auth.services import scope_for
    from app.core.scoping import set_scope
    from app.notifications.todos import todos

    reader = session.get(type(staff), staff.id)
    set_scope(session, scope_for(session, reader))  # as the page reads: 雅安's tasks only
    found = {t.key: t for t in todos(session, reader, datetime(2026, 12, 8, 12, tzinfo=UTC))}
    assert found["response_tasks"].count == len(zone.listed["511800"]) == 1
    assert found["reports_due"].count == 2 and found["reports_due"].urgent  # 12-07 missing, 12-08 pending


def test_the_case_of_a_failed_check_waits_in_the_inspectors_bureau_inbox(
    session: Any, zone: Zone, make_user: Any, login_as: Any, client: Any
) -> None:
    """Found in its own area, the case is the inspector's bureau's to handle at once (not left 'discovered',
    outside every inbox); a colleague of that bureau finds it in 待我单位办理."""
    from app.auth.models import Bureau

    _issue(session, zone)
    inspector = make_user("resp_insp_inbox", code="510100", roles=(Role.inspector,))
    c = login_as(inspector)
    task = _task(session, zone.key_uscc)
    truck = task.measures[1]
    r = c.post(f"/response/tasks/{task.id}/measures/{truck.id}", content_type="multipart/form-data",
               data={"csrf_token": csrf_token(c, f"/response/tasks/{task.id}"), "status": "not_carried_out",
                     "remark": "货车进厂", "photos": [jpeg("门禁.jpg")]})  # fmt: skip
    assert r.status_code == 302
    session.expire_all()
    case = session.get(Case, _task(session, zone.key_uscc).measures[1].case_id)
    assert case.state.value == "received" and case.responsible_bureau_id == inspector.bureau_id
    colleague = make_user("resp_inbox_mate", roles=(Role.city_staff,), bureau=session.get(Bureau, inspector.bureau_id))
    inbox = login_as(colleague).get("/cases/inbox").get_data(as_text=True)
    assert case.number in inbox and task.enterprise_name in inbox
