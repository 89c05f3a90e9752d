"""Issue 12, point 1: one enterprise added to an editable list in the web with its units, facilities and
meters, edited, and taken off the list (its registry entry and history stay, a case keeps its link); the
import's rules refuse what is wrong, naming the field, with what was typed kept."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from app.auth.models import User
from app.cases.services import records
from app.reduction.domain.uscc import generate
from app.reduction.models import ControlFacility, Enterprise, Meter, ProcessUnit
from app.registry.models import RegisteredEnterprise, RegisteredUnit
from tests.conftest import audit_actions, csrf_token
from tests.reduction import test_lists
from tests.reduction.test_lists import build_list, html

people = test_lists.people  # the shared fixture

NEW_USCC = generate(7012, region="511002")


def form(**changes: str) -> dict[str, str]:
    """The add form as a district officer fills it: the facts, one unit, one facility, two meters."""
    data = {
        "e-uscc": NEW_USCC, "e-name": "市中区新建陶瓷有限公司", "e-county": "511002", "e-industry": "",
        "e-industry_code": "", "e-category": "key", "e-grade": "C", "e-so2": "12.5", "e-nox": "20", "e-pm": "3",
        "e-vocs": "0.5", "e-address": "市中区白马镇工业园 8 号", "e-longitude": "105.06", "e-latitude": "29.58",
        "e-contact_name": "王工", "e-contact_phone": "13800001111", "e-operating_days": "300",
        "u-0-code": "K1", "u-0-name": "辊道窑", "u-0-share_so2": "0.8", "u-0-share_nox": "80%",
        "u-0-share_pm": "0.5", "u-0-eia_capacity": "120", "u-0-permit_capacity": "100",
        "u-0-last_year_output": "90", "u-0-capacity_unit": "万平方米",
        "f-0-code": "F1", "f-0-name": "双碱法脱硫塔", "f-0-kind": "脱硫", "f-0-unit": "K1",
        "m-0-number": "DB-001", "m-0-kind": "production", "m-0-unit": "K1",
        "m-1-number": "DB-002", "m-1-kind": "control", "m-1-facility": "F1",
    }  # fmt: skip
    return data | changes


def action(page: str) -> str:
    """Where a form page posts to (its own path would answer 405 to a POST with an id past the column's range)."""
    return re.sub(
        r"/enterprises/new$", "/enterprises", re.sub(r"/edit$", "/update", re.sub(r"/remove$", "/delete", page))
    )


def post(client: Any, path: str, data: dict[str, str], page: str) -> Any:
    return client.post(action(path), data={"csrf_token": csrf_token(client, page), **data})


def add(client: Any, list_id: int, **changes: str) -> Any:
    return post(client, f"/lists/{list_id}/enterprises/new", form(**changes), f"/lists/{list_id}/enterprises/new")


def error_of(page: str, field: str) -> str:
    found = re.search(rf'data-testid="field-error" data-field="{re.escape(field)}">(.*?)</small>', page, re.S)
    assert found, f"no error beside {field}"
    return found.group(1)


def new_enterprise(session: Any, list_id: int) -> Enterprise | None:
    session.expire_all()
    return session.scalar(select(Enterprise).where(Enterprise.list_id == list_id, Enterprise.uscc == NEW_USCC))


def test_add_one_with_a_unit_facility_and_meters_then_it_is_listed_with_its_flags(people, login_as, session) -> None:  # type: ignore[no-untyped-def]
    built = build_list(session, people)
    client = login_as(people.district_user)
    page = html(client.get(f"/lists/{built.lst.id}"))
    assert 'data-testid="add-enterprise"' in page
    form_page = html(client.get(f"/lists/{built.lst.id}/enterprises/new"))
    assert 'data-testid="enterprise-form"' in form_page and "统一社会信用代码" in form_page and "工序编码" in form_page

    r = add(client, built.lst.id)
    assert r.status_code == 302, html(r)
    e = new_enterprise(session, built.lst.id)
    assert e is not None and e.name == "市中区新建陶瓷有限公司" and e.latitude == 29.58
    assert [(u.code, u.share_nox, u.permit_capacity) for u in e.units] == [("K1", 0.8, 100)]
    assert [(f.code, f.process_unit_id) for f in e.facilities] == [("F1", e.units[0].id)]
    assert sorted((m.number, m.kind.value) for m in e.meters) == [("DB-001", "production"), ("DB-002", "control")]
    shown = html(client.get(r.headers["Location"]))
    assert 'data-testid="enterprise-saved"' in shown and "辊道窑" in shown and "DB-002" in shown

    # on the list page, with its flags: a C-grade key ceramics plant without measures is below its rule
    listed = html(client.get(f"/lists/{built.lst.id}?q=新建陶瓷"))
    row = listed.split("市中区新建陶瓷有限公司", 1)[1].split("</tr>", 1)[0]
    assert 'data-testid="flag-count"' in row
    assert "enterprise.create" in [a.action for a in audit_actions("enterprise.")]
    # the registry knows it with its unit
    reg = session.scalar(select(RegisteredEnterprise).where(RegisteredEnterprise.uscc == NEW_USCC))
    assert (
        reg is not None
        and session.scalar(select(RegisteredUnit.code).where(RegisteredUnit.registry_enterprise_id == reg.id)) == "K1"
    )


def test_refusals_name_the_field_keep_what_was_typed_and_write_nothing(people, login_as, session) -> None:  # type: ignore[no-untyped-def]
    built = build_list(session, people)
    client = login_as(people.district_user)
    before = session.scalar(select(func.count()).select_from(Enterprise))

    r = add(client, built.lst.id, **{"e-uscc": NEW_USCC[:-1] + ("0" if NEW_USCC[-1] != "0" else "1")})
    page = html(r)
    assert r.status_code == 400 and 'data-testid="editor-error"' in page
    assert "统一社会信用代码" in error_of(page, "e-uscc")
    assert 'value="市中区新建陶瓷有限公司"' in page and 'value="辊道窑"' in page, "what was typed is kept"

    page = html(add(client, built.lst.id, **{"e-county": "500153"}))
    assert "所在区县" in error_of(page, "e-county") and "不在本清单的辖区内" in error_of(page, "e-county")

    page = html(add(client, built.lst.id, **{"u-1-code": "K1", "u-1-name": "另一条窑"}))
    assert "工序编码" in error_of(page, "u-1-code") and "重复" in error_of(page, "u-1-code")

    page = html(add(client, built.lst.id, **{"m-0-unit": "K9"}))
    assert "K9" in error_of(page, "m-0-unit")

    page = html(add(client, built.lst.id, **{"e-uscc": built.cement.uscc}))
    assert "本清单已有" in error_of(page, "e-uscc")

    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Enterprise)) == before, "nothing half-written"
    assert session.scalar(select(func.count()).select_from(ProcessUnit).where(ProcessUnit.name == "辊道窑")) == 0


def test_edit_facts_units_facilities_and_meters(people, login_as, session) -> None:  # type: ignore[no-untyped-def]
    built = build_list(session, people)
    client = login_as(people.district_user)
    assert add(client, built.lst.id).status_code == 302
    e = new_enterprise(session, built.lst.id)
    path = f"/lists/enterprises/{e.id}/edit"
    assert 'data-testid="edit-enterprise"' in html(client.get(f"/lists/enterprises/{e.id}"))
    page = html(client.get(path))
    assert 'value="辊道窑"' in page and NEW_USCC in page
    fp = re.search(r'name="fingerprint" value="(\w+)"', page).group(1)

    data = form(**{"e-name": "市中区新建陶瓷股份有限公司", "e-grade": "B", "u-1-code": "K2", "u-1-name": "喷雾干燥塔",
                   "u-1-share_pm": "0.3", "m-1-number": "", "m-1-kind": "", "m-1-facility": "",
                   "m-2-number": "DB-009", "m-2-kind": "total", "fingerprint": fp})  # fmt: skip
    r = post(client, path, data, path)
    assert r.status_code == 302, html(r)
    e = new_enterprise(session, built.lst.id)
    assert e.name == "市中区新建陶瓷股份有限公司" and e.grade.value == "B"
    assert [u.code for u in e.units] == ["K1", "K2"]
    assert sorted(m.number for m in e.meters) == ["DB-001", "DB-009"]
    assert "enterprise.update" in [a.action for a in audit_actions("enterprise.")]
    reg = session.get(RegisteredEnterprise, e.registry_id)
    assert reg.name == "市中区新建陶瓷股份有限公司"

    # the form shown before that save is refused, not applied over it
    r = post(client, path, form(**{"e-name": "旧名称", "fingerprint": fp}), path)
    assert r.status_code == 409 and "已被他人修改" in html(r)

    # an edit the import would refuse: a share above 100 %
    r = post(client, path, form(**{"u-0-share_so2": "1.5"}), path)
    assert r.status_code == 400 and "二氧化硫占比" in error_of(html(r), "u-0-share_so2")


def test_take_off_the_list_keeps_the_registry_entry_its_history_and_a_case(people, login_as, session, app) -> None:  # type: ignore[no-untyped-def]
    built = build_list(session, people)
    client = login_as(people.district_user)
    assert add(client, built.lst.id).status_code == 302
    e = new_enterprise(session, built.lst.id)
    reg_id = e.registry_id
    with app.test_request_context():
        case = records.create_case(session, session.get(User, people.district_user.id), {
            "source_type": "industrial", "topic": "超标排放", "source_name": e.name, "place": "511002",
            "problem": "烟气超标", "origin": "field_inspection", "enterprise_uscc": NEW_USCC,
        })  # fmt: skip
        session.commit()
    assert case.registry_enterprise_id == reg_id

    confirm = html(client.get(f"/lists/enterprises/{e.id}/remove"))
    assert 'data-testid="remove-summary"' in confirm and "1 个工序" in confirm
    # without the confirmation: nothing happens
    r = post(client, f"/lists/enterprises/{e.id}/remove", {}, f"/lists/enterprises/{e.id}/remove")
    assert r.status_code == 400 and new_enterprise(session, built.lst.id) is not None
    r = post(client, f"/lists/enterprises/{e.id}/remove", {"confirm": "1"}, f"/lists/enterprises/{e.id}/remove")
    assert r.status_code == 302
    listed = html(client.get(r.headers["Location"]))
    assert (
        "已从清单删除" in listed and "市中区新建陶瓷有限公司" not in listed.split('data-testid="enterprise-table"')[1]
    )
    assert new_enterprise(session, built.lst.id) is None
    assert session.scalar(select(func.count()).select_from(ControlFacility).where(ControlFacility.code == "F1")) == 0
    assert session.scalar(select(func.count()).select_from(Meter).where(Meter.number == "DB-001")) == 0
    assert "enterprise.delete" in [a.action for a in audit_actions("enterprise.")]

    history = html(client.get(f"/registry/enterprises/{reg_id}"))
    table = history.split('data-testid="registry-history"', 1)[1]
    assert "移出清单" in table, "the registry history shows it left the list"
    session.expire_all()
    assert session.get(type(case), case.id).registry_enterprise_id == reg_id


def test_another_bureau_cannot_add_edit_or_remove(people, login_as, session) -> None:  # type: ignore[no-untyped-def]
    built = build_list(session, people)
    e = built.cement
    for user in (people.other_user, people.city_user):
        client = login_as(user)
        for path in (f"/lists/{built.lst.id}/enterprises/new", f"/lists/enterprises/{e.id}/edit",
                     f"/lists/enterprises/{e.id}/remove"):  # fmt: skip
            assert client.get(path).status_code in (403, 404), (user.username, path)
            token = csrf_token(client, "/")
            assert client.post(action(path), data={"csrf_token": token, **form(), "confirm": "1"}).status_code in (
                403,
                404,
            )
    assert login_as(people.city_user).get(f"/lists/enterprises/{e.id}").status_code == 200
    session.expire_all()
    assert session.get(Enterprise, e.id) is not None and new_enterprise(session, built.lst.id) is None


def test_a_form_without_csrf_is_refused(people, login_as, session) -> None:  # type: ignore[no-untyped-def]
    built = build_list(session, people)
    client = login_as(people.district_user)
    r = client.post(f"/lists/{built.lst.id}/enterprises", data=form())
    assert r.status_code in (400, 403) and new_enterprise(session, built.lst.id) is None


def test_a_unit_with_measures_is_not_dropped_and_an_edit_keeps_the_measures(people, login_as, session) -> None:  # type: ignore[no-untyped-def]
    built = build_list(session, people)
    cement = built.cement
    held = {u.id for u in cement.units} & {m.process_unit_id for m in cement.measures}
    assert held, "the cement plant has measures on its units"
    measures_before = len(cement.measures)
    client = login_as(people.district_user)
    path = f"/lists/enterprises/{cement.id}/edit"
    page = html(client.get(path))
    fp = re.search(r'name="fingerprint" value="(\w+)"', page).group(1)
    data = dict(re.findall(r'<input type="\w+" id="[^"]+" name="((?:e|u|f|m)-[\w-]+)" value="([^"]*)"', page))
    data |= dict(
        re.findall(
            r'<select id="[^"]+" name="((?:e|u|f|m)-[\w-]+)">(?:(?!</select>).)*?<option value="([^"]*)" selected',
            page,
            re.S,
        )
    )
    data |= {name: "1" for name in re.findall(r'name="((?:e|u)-[\w-]+)" value="1" checked', page)}
    held_code = next(u.code for u in cement.units if u.id in held)
    n = next(k.split("-")[1] for k, v in data.items() if k.endswith("-code") and k.startswith("u-") and v == held_code)
    r = post(client, path, {**data, f"u-{n}-remove": "1", "fingerprint": fp}, path)
    assert r.status_code == 400, html(r)
    assert "有减排措施" in html(r) and held_code in html(r), re.findall(r"editor-error.*?</p>", html(r), re.S)

    # the same form unchanged but for the address: saved, the measures stay
    r = post(client, path, {**data, "e-address": "市中区新地址 1 号", "fingerprint": fp}, path)
    assert r.status_code == 302, re.findall(r"editor-error.*?</p>", html(r), re.S)
    session.expire_all()
    e = session.get(Enterprise, cement.id)
    assert e.address == "市中区新地址 1 号" and len(e.measures) == measures_before


def test_a_city_list_moves_an_enterprise_to_another_county_with_its_rows(people, login_as, session) -> None:  # type: ignore[no-untyped-def]
    from app.places.models import Jurisdiction
    from app.reduction.domain.vocabulary import AlertLevel
    from app.reduction.services import lists as list_service
    from app.reduction.services import policies

    user = session.get(User, people.city_user.id)
    lst = list_service.open_list(session, session.get(type(people.city), people.city.id), test_lists.YEAR, user)
    session.commit()
    client = login_as(people.city_user)
    assert add(client, lst.id).status_code == 302
    e = new_enterprise(session, lst.id)
    with client.application.test_request_context():
        for level in (AlertLevel.red, AlertLevel.orange, AlertLevel.yellow):
            measure = policies.MeasureInput("limit", "power_meter", unit_code="K1", percent=30)
            policies.save_level(session, e, level, [measure], user)
        session.commit()
    other = session.scalar(select(Jurisdiction).where(Jurisdiction.code == "511011"))
    assert other is not None
    path = f"/lists/enterprises/{e.id}/edit"
    fp = re.search(r'name="fingerprint" value="(\w+)"', html(client.get(path))).group(1)
    r = post(client, path, form(**{"e-county": "511011", "fingerprint": fp}), path)
    assert r.status_code == 302, html(r)
    session.expire_all()
    e = new_enterprise(session, lst.id)
    assert e.jurisdiction_id == other.id and [u.code for u in e.units] == ["K1"]
    assert {(m.kind.value, m.percent, m.jurisdiction_id) for m in e.measures} == {("limit", 30.0, other.id)}
    assert len(e.measures) == 3
    assert {m.number for m in e.meters} == {"DB-001", "DB-002"}
    assert session.get(RegisteredEnterprise, e.registry_id).jurisdiction_id == other.id
    assert "东兴区" in html(client.get(f"/lists/enterprises/{e.id}"))
