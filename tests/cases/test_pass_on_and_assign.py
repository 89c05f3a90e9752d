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
