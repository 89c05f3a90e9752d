"""A city bureau passes a case on to a county bureau below it (转办), through the one transition function; the
county's officer signs for it; a case is assigned to an officer of the bureau holding it (issue 12.2)."""

from __future__ import annotations

import re
from typing import Any

from app.auth.models import BureauKind
from app.auth.roles import Role
from app.cases.models import Case
from app.cases.vocabulary import CaseState
from tests.conftest import audit_actions, csrf_token

CASE = {"source_type": "industrial", "topic": "超标排放", "problem": "烟气超标", "origin": "field_inspection"}


def post(client: Any, url: str, data: dict[str, Any]) -> Any:
    return client.post(url, data={**data, "csrf_token": csrf_token(client, "/")})


def act(client: Any, case_id: int, action: str, **fields: Any) -> Any:
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', page)
    return post(client, f"/cases/{case_id}/transition",
                {"action": action, "version": version.group(1) if version else "", **fields})  # fmt: skip


def test_neijiang_passes_a_case_on_to_shizhong_whose_officer_signs_for_it(
    app, world, login_as, make_bureau, make_user, session
) -> None:  # type: ignore[no-untyped-def]
    sz = make_bureau("511002", name="内江市生态环境局市中区分局", kind=BureauKind.branch)
    sz_staff = make_user("njsz_st", bureau=sz, roles=(Role.district_staff,), display_name="市中区业务员")
    rc = login_as(world.inspector, app.test_client())
    created = post(rc, "/cases/new", {**CASE, "source_name": "市中区某厂", "place": "511002"})
    case_id = int(created.headers["Location"].rsplit("/", 1)[1])
    post(rc, "/cases/transfers", {"case_id": case_id, "to_bureau": world.neijiang.id, "confirm": "1"})

    nj = login_as(world.nj_staff, app.test_client())
    page = nj.get(f"/cases/{case_id}").get_data(as_text=True)
    form = page[page.index('id="form-pass_on"') : page.index("</form>", page.index('id="form-pass_on"'))]
    assert "内江市生态环境局市中区分局" in form and "荣昌" not in form
    assert act(nj, case_id, "receive").status_code == 302
    refused = act(nj, case_id, "pass_on", to_bureau=world.zigong.id, note="属地办理")
    assert refused.status_code == 400 and "请选择转办的下级单位" in refused.get_data(as_text=True)
    assert 'value="属地办理"' in refused.get_data(as_text=True)
    assert act(nj, case_id, "pass_on", to_bureau=sz.id, note="属地办理").status_code == 302
    case = session.get(Case, case_id)
    assert case.state is CaseState.transferred and case.responsible_bureau_id == sz.id
    assert audit_actions("case.pass_on")
    page = nj.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "转办" in page and "内江市生态环境局 → 内江市生态环境局市中区分局：属地办理" in page

    szc = login_as(sz_staff, app.test_client())
    assert case.number in szc.get("/cases/inbox").get_data(as_text=True)
    assert act(szc, case_id, "receive").status_code == 302
    # assigned to one of its officers
    page = szc.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'id="form-assign"' in page and "市中区业务员" in page
    assert act(szc, case_id, "assign", assignee=world.nj_staff.id).status_code == 400  # not of this bureau
    assert act(szc, case_id, "assign", assignee=sz_staff.id).status_code == 302
    page = szc.get(f"/cases/{case_id}").get_data(as_text=True)
    assert re.search(r'data-testid="assignee">市中区业务员<', page)
    session.expire_all()
    assert session.get(Case, case_id).state is CaseState.received
    assert audit_actions("case.assign")


def test_a_county_bureau_cannot_pass_on_its_own_case(app, world, login_as) -> None:  # type: ignore[no-untyped-def]
    rc = login_as(world.rc_staff, app.test_client())
    created = post(rc, "/cases/new", {**CASE, "source_name": "荣昌某厂", "place": "500153"})
    case_id = int(created.headers["Location"].rsplit("/", 1)[1])
    assert act(rc, case_id, "accept").status_code == 302
    assert 'id="form-pass_on"' not in rc.get(f"/cases/{case_id}").get_data(as_text=True)
    assert act(rc, case_id, "pass_on", to_bureau=world.yongchuan.id).status_code == 403


def _passed_on_to_shizhong(app, world, login_as, make_bureau, *, sign_first: bool = True):  # type: ignore[no-untyped-def]
    """荣昌's inspector transfers a case at a plant in 市中区 to 内江, which passes it on to 市中区's bureau."""
    sz = make_bureau("511002", name="内江市生态环境局市中区分局", kind=BureauKind.branch)
    rc = login_as(world.inspector, app.test_client())
    created = post(rc, "/cases/new", {**CASE, "source_name": "市中区某厂", "place": "511002"})
    case_id = int(created.headers["Location"].rsplit("/", 1)[1])
    assert (
        post(rc, "/cases/transfers", {"case_id": case_id, "to_bureau": world.neijiang.id, "confirm": "1"}).status_code
        == 302
    )
    nj = login_as(world.nj_staff, app.test_client())
    if sign_first:
        assert act(nj, case_id, "receive").status_code == 302
    assert act(nj, case_id, "pass_on", to_bureau=sz.id).status_code == 302
    return sz, rc, nj, case_id


def unread(client: Any) -> str:
    return client.get("/notifications/").get_data(as_text=True)


def test_assignment_notifies_the_assignee_alone_and_lists_as_assigned_to_me(
    app, world, login_as, make_bureau, make_user, session
) -> None:  # type: ignore[no-untyped-def]
    sz, _rc, _nj, case_id = _passed_on_to_shizhong(app, world, login_as, make_bureau)
    chief = make_user("njsz_chief", bureau=sz, roles=(Role.district_staff,), display_name="市中区科长")
    officer = make_user("njsz_off", bureau=sz, roles=(Role.district_staff,), display_name="市中区执法员")
    other = make_user("njsz_oth", bureau=sz, roles=(Role.district_staff,), display_name="市中区另一员")
    boss, me, colleague = (login_as(u, app.test_client()) for u in (chief, officer, other))
    number = session.get(Case, case_id).number
    assert act(boss, case_id, "receive").status_code == 302
    home = me.get("/").get_data(as_text=True)
    assert re.search(r'data-testid="todo-assigned">\s*<strong class="count">0<', home)
    assert number not in me.get("/cases/?view=all&mine=1").get_data(as_text=True)

    assert act(boss, case_id, "assign", assignee=officer.id).status_code == 302
    message = f"线索 {number} 超标排放 已指派给您承办（市中区科长）"
    assert message in unread(me)
    assert message not in unread(colleague) and message not in unread(boss)
    home = me.get("/").get_data(as_text=True)
    assert message in home and re.search(r'data-testid="todo-assigned">\s*<strong class="count">1<', home)
    assert re.search(
        r'data-testid="todo-assigned">\s*<strong class="count">0<', colleague.get("/").get_data(as_text=True)
    )
    # 指派给我: the officer's list holds it, the colleague's does not; the whole bureau's list holds it
    mine = me.get("/cases/?view=all&mine=1").get_data(as_text=True)
    assert number in mine and 'name="mine" value="1" data-testid="filter-mine" checked' in mine
    assert number not in colleague.get("/cases/?view=all&mine=1").get_data(as_text=True)
    assert number in colleague.get("/cases/?view=all").get_data(as_text=True)
    assert number in me.get("/cases/inbox?mine=1").get_data(as_text=True)
    # the colleague cannot open the officer's notification
    from app.notifications.models import Notification

    note = session.query(Notification).filter_by(user_id=officer.id).one()
    assert post(colleague, f"/notifications/{note.id}/open", {}).status_code == 404
    assert post(me, f"/notifications/{note.id}/open", {}).headers["Location"].endswith(f"/cases/{case_id}")
    # assigning oneself sends no message
    assert act(boss, case_id, "assign", assignee=chief.id).status_code == 302
    assert "已指派给您" not in unread(boss)


def test_a_county_returns_a_passed_on_case_to_the_city_that_passed_it_on(
    app, world, login_as, make_bureau, make_user, session
) -> None:  # type: ignore[no-untyped-def]
    sz, rc, nj, case_id = _passed_on_to_shizhong(app, world, login_as, make_bureau)
    county = login_as(make_user("njsz_st2", bureau=sz, roles=(Role.district_staff,)), app.test_client())
    number = session.get(Case, case_id).number
    assert act(county, case_id, "return", reason="不在本区，属东兴区").status_code == 302
    session.expire_all()
    case = session.get(Case, case_id)
    # back with 内江, as it held it (signed for), not with 荣昌 that discovered it
    assert case.state is CaseState.received and case.responsible_bureau_id == world.neijiang.id
    assert f"线索 {number} 超标排放 被退回：不在本区，属东兴区" in unread(nj)
    assert "被退回" not in unread(rc)
    home = rc.get("/").get_data(as_text=True)
    assert re.search(r'data-testid="todo-returned">\s*<strong class="count">0<', home)
    assert number in nj.get("/cases/inbox").get_data(as_text=True)
    page = nj.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "不在本区，属东兴区" in page and 'id="form-pass_on"' in page
    assert audit_actions("case.return")
    # 内江 can pass it on again, or handle it itself
    assert act(nj, case_id, "handle").status_code == 302


def test_a_case_passed_on_unsigned_goes_back_to_the_city_to_sign_for(
    app, world, login_as, make_bureau, make_user, session
) -> None:  # type: ignore[no-untyped-def]
    sz, rc, nj, case_id = _passed_on_to_shizhong(app, world, login_as, make_bureau, sign_first=False)
    county = login_as(make_user("njsz_st3", bureau=sz, roles=(Role.district_staff,)), app.test_client())
    assert act(county, case_id, "return", reason="不在本区").status_code == 302
    session.expire_all()
    case = session.get(Case, case_id)
    assert case.state is CaseState.transferred and case.responsible_bureau_id == world.neijiang.id
    # a return by 内江 itself now goes to 荣昌, which discovered it
    assert act(nj, case_id, "return", reason="应移交自贡").status_code == 302
    session.expire_all()
    case = session.get(Case, case_id)
    assert case.state is CaseState.returned and case.responsible_bureau_id is None
    assert "被退回：应移交自贡" in unread(rc)
