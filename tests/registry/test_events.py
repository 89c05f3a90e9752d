"""The registry kept through the ORM (editors, the demo): a new enterprise and its codes are registered, a
second listing is `listed`, a rename is `changed`, a deleted version row is `delisted`; nothing leaves the
registry."""

from __future__ import annotations

from sqlalchemy import select

from app.reduction.models import Enterprise, Meter, ProcessUnit, ReductionList
from app.registry.models import RegisteredEnterprise, RegisteredMeter, RegisteredUnit, RegistryAction, RegistryEvent
from tests.reduction.test_excel_import import district_user, place_id


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
