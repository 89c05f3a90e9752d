"""Several cases on one transfer form chosen in the list, a confirmation before anything is transferred, and a
case corrected before its transfer and after a return (issue 12.2)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from app.cases.models import Case, CaseEvent, CaseTransfer
from app.cases.vocabulary import CaseState
from tests.conftest import audit_actions, csrf_token


def post(client: Any, url: str, data: dict[str, Any], **kw: Any) -> Any:
    return client.post(url, data={**data, "csrf_token": csrf_token(client, "/")}, **kw)


CASE = {"source_type": "industrial", "topic": "超标排放", "place": "511083", "problem": "烟气超标",
        "origin": "field_inspection"}  # fmt: skip


def log(client: Any, name: str) -> int:
    created = post(client, "/cases/new", {**CASE, "source_name": name})
    assert created.status_code == 302, created.get_data(as_text=True)[:400]
    return int(created.headers["Location"].rsplit("/", 1)[1])


def test_two_cases_chosen_in_the_list_go_on_one_form_after_confirmation(app, world, login_as, session) -> None:  # type: ignore[no-untyped-def]
    rc = login_as(world.inspector, app.test_client())
    first, second = log(rc, "隆昌甲厂"), log(rc, "隆昌乙厂")
    listing = rc.get("/cases/?view=verify").get_data(as_text=True)
    for case_id in (first, second):
        assert f'name="case_id" value="{case_id}" form="transfer-selected"' in listing
    assert 'data-testid="transfer-selected"' in listing

    asked = post(rc, "/cases/transfers", {"case_id": [first, second]})
    assert asked.status_code == 200
    page = asked.get_data(as_text=True)
    assert "确认移交" in page and "隆昌甲厂" in page and "隆昌乙厂" in page
    assert re.search(rf'<option value="{world.neijiang.id}"[^>]*>内江市生态环境局</option>', page)
    assert session.scalar(select(func.count()).select_from(CaseTransfer)) == 0  # nothing yet
    assert session.get(Case, first).state is CaseState.discovered

    done = post(rc, "/cases/transfers", {"case_id": [first, second], "to_bureau": world.neijiang.id, "confirm": "1"})
    assert done.status_code == 302
    form = rc.get(done.headers["Location"]).get_data(as_text=True)
    assert "隆昌甲厂" in form and "隆昌乙厂" in form
    assert session.scalar(select(func.count()).select_from(CaseTransfer)) == 1


def test_a_case_in_the_wrong_state_is_named_on_the_confirmation(app, world, login_as) -> None:  # type: ignore[no-untyped-def]
    rc = login_as(world.inspector, app.test_client())
    first, second = log(rc, "隆昌甲厂"), log(rc, "隆昌乙厂")
    post(rc, "/cases/transfers", {"case_id": first, "to_bureau": world.neijiang.id, "confirm": "1"})
    asked = post(rc, "/cases/transfers", {"case_id": [first, second]})
    assert asked.status_code == 409
    page = asked.get_data(as_text=True)
    assert "不能移交" in page and 'data-testid="confirm-transfer"' not in page


def test_a_case_is_corrected_before_its_transfer_and_after_a_return(app, world, login_as, session) -> None:  # type: ignore[no-untyped-def]
    rc = login_as(world.inspector, app.test_client())
    case_id = log(rc, "隆昌某厂")
    assert 'data-testid="edit-case"' in rc.get(f"/cases/{case_id}").get_data(as_text=True)
    form = rc.get(f"/cases/{case_id}/edit").get_data(as_text=True)
    assert 'value="隆昌某厂"' in form and "修改问题线索" in form
    version = re.search(r'name="version" value="(\d+)"', form).group(1)
    refused = post(rc, f"/cases/{case_id}/edit", {**CASE, "source_name": "", "version": version})
    assert refused.status_code == 400 and "请填写污染源名称" in refused.get_data(as_text=True)
    assert "烟气超标</textarea>" in refused.get_data(as_text=True)  # what was typed is kept
    saved = post(rc, f"/cases/{case_id}/edit", {**CASE, "source_name": "隆昌某陶瓷有限公司", "version": version})
    assert saved.status_code == 302
    page = rc.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "隆昌某陶瓷有限公司" in page and "修改" in page and "污染源名称" in page
    assert audit_actions("case.edit")

    post(rc, "/cases/transfers", {"case_id": case_id, "to_bureau": world.neijiang.id, "confirm": "1"})
    assert 'data-testid="edit-case"' not in rc.get(f"/cases/{case_id}").get_data(as_text=True)
    assert rc.get(f"/cases/{case_id}/edit").status_code == 400

    nj = login_as(world.nj_staff, app.test_client())
    page = nj.get(f"/cases/{case_id}").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    returned = post(
        nj, f"/cases/{case_id}/transition", {"action": "return", "reason": "不在本辖区", "version": version}
    )
    assert returned.status_code == 302
    form = rc.get(f"/cases/{case_id}/edit").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', form).group(1)
    moved = post(
        rc, f"/cases/{case_id}/edit", {**CASE, "place": "510302", "source_name": "自贡某厂", "version": version}
    )
    assert moved.status_code == 302
    # It now lies in 自贡: offered to 自贡's bureau, and 自贡 reads its whole timeline.
    assert "自贡市生态环境局" in rc.get(f"/cases/{case_id}").get_data(as_text=True)
    zg = login_as(world.zg_staff, app.test_client())
    assert zg.get(f"/cases/{case_id}").status_code == 200
    actions = session.scalars(select(CaseEvent.action).where(CaseEvent.case_id == case_id)).all()
    assert actions.count("edit") == 2
