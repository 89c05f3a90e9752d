"""The registry kept through the ORM (editors, the demo): a new enterprise and its codes are registered, a
second listing is `listed`, a rename is `changed`, a deleted version row is `delisted`; nothing leaves the
registry."""

from __future__ import annotations

from sqlalchemy import select

from app.reduction.models import Enterprise, Meter, ProcessUnit, ReductionList
from app.registry.models import (
    RegisteredEnterprise,
    RegisteredFacility,
    RegisteredMeter,
    RegisteredUnit,
    RegistryAction,
    RegistryEvent,
)
from tests.reduction import test_lists
from tests.reduction.test_excel_import import district_user, place_id

people = test_lists.people  # the shared fixture


def _actions(session, reg_id: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    rows = session.scalars(
        select(RegistryEvent).where(RegistryEvent.registry_enterprise_id == reg_id).order_by(RegistryEvent.id)
    )
    return [(e.entity.value, e.action.value) for e in rows]


def test_orm_writes_register_list_change_and_delist(session, make_bureau, make_user) -> None:  # type: ignore[no-untyped-def]
    user = district_user(make_bureau, make_user)
    jid = place_id(session, "500153")
    lists = [
        ReductionList(jurisdiction_id=jid, bureau_id=user.bureau_id, year=y, created_by_id=user.id)
        for y in (2026, 2027)
    ]
    session.add_all(lists)
    session.flush()
    e = Enterprise(list_id=lists[0].id, jurisdiction_id=jid, uscc="91500153MA5UXXXX1A", name="甲厂", category="key")
    unit = ProcessUnit(code="L1", name="1号线", jurisdiction_id=jid)
    e.units.append(unit)
    e.meters.append(Meter(kind="total", number="M1", jurisdiction_id=jid))
    session.add(e)
    session.flush()
    reg = session.scalar(select(RegisteredEnterprise).where(RegisteredEnterprise.uscc == e.uscc))
    assert e.registry_id == reg.id and reg.name == "甲厂"
    assert unit.registry_id == session.scalar(select(RegisteredUnit.id).where(RegisteredUnit.code == "L1"))
    meter_id = e.meters[0].registry_id
    assert session.get(RegisteredMeter, meter_id).number == "M1"
    assert _actions(session, reg.id) == [("enterprise", "registered"), ("unit", "registered"), ("meter", "registered")]

    other = Enterprise(list_id=lists[1].id, jurisdiction_id=jid, uscc=e.uscc, name="甲厂", category="key")
    other.units.append(ProcessUnit(code="L1", name="1号线", jurisdiction_id=jid))
    session.add(other)
    session.flush()
    assert other.registry_id == reg.id and other.units[0].registry_id == unit.registry_id
    e.name = "甲厂（更名）"
    session.flush()
    assert session.get(RegisteredEnterprise, reg.id).name == "甲厂（更名）"
    session.delete(e)
    session.flush()
    assert session.get(RegisteredMeter, meter_id) is not None
    assert _actions(session, reg.id)[3:] == [
        ("enterprise", "listed"),
        ("enterprise", "changed"),
        ("enterprise", "delisted"),
    ]
    last = session.scalars(select(RegistryEvent).order_by(RegistryEvent.id.desc())).first()
    assert last.action is RegistryAction.delisted and last.list_id == lists[0].id


def _changed_children(session, reg_id: int) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def,type-arg]
    rows = session.scalars(
        select(RegistryEvent)
        .where(RegistryEvent.registry_enterprise_id == reg_id, RegistryEvent.action == RegistryAction.changed)
        .order_by(RegistryEvent.id)
    )
    return [(e.entity.value, e.changes) for e in rows if e.entity.value != "enterprise"]


def test_a_unit_and_a_facility_renamed_in_the_editor_rename_their_registry_entries(people, login_as, session) -> None:  # type: ignore[no-untyped-def]
    from tests.reduction.test_enterprise_editor import add, form, new_enterprise, post
    from tests.reduction.test_lists import build_list, html

    built = build_list(session, people)
    client = login_as(people.district_user)
    assert add(client, built.lst.id).status_code == 302
    e = new_enterprise(session, built.lst.id)
    reg_id, unit_reg, facility_reg = e.registry_id, e.units[0].registry_id, e.facilities[0].registry_id
    path = f"/lists/enterprises/{e.id}/edit"

    # an edit that renames neither writes no event for them
    r = post(client, path, form(**{"e-notes": "复产"}), path)
    assert r.status_code == 302, html(r)
    assert _changed_children(session, reg_id) == []

    r = post(client, path, form(**{"u-0-name": "辊道窑（二期）", "f-0-name": "石灰石-石膏法脱硫塔"}), path)
    assert r.status_code == 302, html(r)
    session.expire_all()
    e = new_enterprise(session, built.lst.id)
    assert (e.units[0].registry_id, e.facilities[0].registry_id) == (unit_reg, facility_reg)
    assert session.get(RegisteredUnit, unit_reg).name == "辊道窑（二期）"
    assert session.get(RegisteredFacility, facility_reg).name == "石灰石-石膏法脱硫塔"
    assert _changed_children(session, reg_id) == [
        ("unit", {"code": "K1", "name": ["辊道窑", "辊道窑（二期）"]}),
        ("facility", {"code": "F1", "name": ["双碱法脱硫塔", "石灰石-石膏法脱硫塔"]}),
    ]
    events = session.scalars(select(RegistryEvent).where(RegistryEvent.action == RegistryAction.changed)).all()
    assert {ev.list_id for ev in events if ev.entity.value != "enterprise"} == {built.lst.id}
    assert {ev.user_id for ev in events if ev.entity.value != "enterprise"} == {people.district_user.id}
    history = html(client.get(f"/registry/enterprises/{reg_id}")).split('data-testid="registry-history"', 1)[1]
    assert "辊道窑（二期）" in history and "石灰石-石膏法脱硫塔" in history
