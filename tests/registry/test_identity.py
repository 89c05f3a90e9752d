"""Issue 11, done when: a meter and a case attached to one enterprise keep their ids and links through a new
version, a re-import with that enterprise changed, and a re-import without it (it leaves the list, stays in
the registry, and its history says when and through which version)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app.auth.models import User
from app.cases.services import records
from app.reduction.excel.records import Bundle
from app.reduction.models import Enterprise, ListState, Meter, ReductionList
from app.reduction.services import lists as list_service
from app.registry import services as registry
from app.registry.models import RegisteredEnterprise, RegisteredMeter, RegistryAction, RegistryEvent
from tests.reduction.test_excel_import import commit, district_user, enterprise, place_id, write_file


def _bundles(jid: int, ids: range | list[int] = range(3), **changed: Any) -> list[Bundle]:
    out = []
    for i in ids:
        b = enterprise(i, jid, **(changed if i == 0 else {}))
        b.facilities = [("F1", "SCR脱硝", "脱硝", "氮氧化物", "L1")]
        b.meters = [("M1", "production", "L1", None), ("M9", "control", None, "F1")]
        out.append(b)
    return out


def _publish(session: Any, lst: ReductionList, user: User) -> None:
    now = datetime.now(UTC)
    lst.state, lst.submitted_at, lst.decided_at = ListState.published, now, now
    lst.decided_by_id, lst.published_at = user.id, now
    session.commit()


def _meter(session: Any, list_id: int, uscc: str, number: str) -> Meter | None:
    return session.scalar(
        select(Meter).join(Enterprise, Enterprise.id == Meter.enterprise_id)
        .where(Enterprise.list_id == list_id, Enterprise.uscc == uscc, Meter.number == number)
    )  # fmt: skip


def test_a_meter_and_a_case_keep_their_ids_through_versions_and_reimports(
    app, session, make_bureau, make_user, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    user = district_user(make_bureau, make_user)
    jid = place_id(session, "500153")
    first = _bundles(jid)
    uscc = first[0].ent[0]
    commit(app, session, user, write_file(tmp_path / "v1.xlsx", first, session))
    v1 = session.scalars(select(ReductionList)).one()
    reg = session.scalar(select(RegisteredEnterprise).where(RegisteredEnterprise.uscc == uscc))
    assert reg is not None and reg.name == "测试企业0有限公司" and reg.jurisdiction_id == jid
    meter = _meter(session, v1.id, uscc, "M1")
    reg_meter_id = meter.registry_id
    assert session.get(RegisteredMeter, reg_meter_id).number == "M1"
    with app.test_request_context():
        case = records.create_case(session, session.get(User, user.id), {
            "source_type": "industrial", "topic": "超标排放", "source_name": "测试企业0有限公司", "place": "500153",
            "problem": "烟气超标", "origin": "field_inspection", "enterprise_uscc": uscc,
        })  # fmt: skip
        session.commit()
    assert case.registry_enterprise_id == reg.id

    # a new version: new version rows, the same registry entries
    _publish(session, v1, user)
    v2 = list_service.new_version(session, v1, session.get(User, user.id))
    session.commit()
    copy = _meter(session, v2.id, uscc, "M1")
    assert copy.id != meter.id and copy.registry_id == reg_meter_id
    copied = session.scalar(select(Enterprise).where(Enterprise.list_id == v2.id, Enterprise.uscc == uscc))
    assert copied.registry_id == reg.id

    # a re-import into the new version with that enterprise changed (renamed, one unit less)
    changed = _bundles(jid, name="改名后的测试企业", units=1)
    commit(app, session, user, write_file(tmp_path / "v2.xlsx", changed, session))
    session.expire_all()
    assert _meter(session, v2.id, uscc, "M1").registry_id == reg_meter_id
    assert session.get(RegisteredEnterprise, reg.id).name == "改名后的测试企业"
    event = session.scalars(
        select(RegistryEvent).where(RegistryEvent.registry_enterprise_id == reg.id,
                                    RegistryEvent.action == RegistryAction.changed)
    ).one()  # fmt: skip
    assert event.list_id == v2.id and event.user_id == user.id and event.source.startswith("import ")
    assert event.changes["name"] == ["测试企业0有限公司", "改名后的测试企业"]
    assert event.changes["units"] == {"removed": ["L2"], "changed": ["L1"]}  # L1 now carries every share

    # a re-import without it: off the list, still in the registry with its meter and its case
    commit(app, session, user, write_file(tmp_path / "v2b.xlsx", _bundles(jid, [1, 2]), session))
    session.expire_all()
    assert session.scalar(select(Enterprise.id).where(Enterprise.list_id == v2.id, Enterprise.uscc == uscc)) is None
    assert session.get(RegisteredEnterprise, reg.id).uscc == uscc
    assert session.get(RegisteredMeter, reg_meter_id).registry_enterprise_id == reg.id
    assert session.get(type(case), case.id).registry_enterprise_id == reg.id
    # version 1 still holds it, under the same identity
    assert _meter(session, v1.id, uscc, "M1").registry_id == reg_meter_id
    history = registry.history(session, session.get(RegisteredEnterprise, reg.id))
    actions = [(e.action, e.list_id) for e in history if e.entity.value == "enterprise"]
    assert actions == [
        (RegistryAction.registered, v1.id),
        (RegistryAction.changed, v2.id),
        (RegistryAction.delisted, v2.id),
    ]
    assert all(e.at is not None for e in history)


def test_an_enterprise_back_on_a_list_is_listed_again_under_its_old_identity(
    app, session, make_bureau, make_user, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    user = district_user(make_bureau, make_user)
    jid = place_id(session, "500153")
    commit(app, session, user, write_file(tmp_path / "a.xlsx", _bundles(jid), session))
    uscc = _bundles(jid)[0].ent[0]
    reg_id = session.scalar(select(RegisteredEnterprise.id).where(RegisteredEnterprise.uscc == uscc))
    units_before = session.scalar(select(func.count()).select_from(RegisteredMeter))
    commit(app, session, user, write_file(tmp_path / "b.xlsx", _bundles(jid, [1, 2]), session))
    commit(app, session, user, write_file(tmp_path / "c.xlsx", _bundles(jid), session))
    e = session.scalar(select(Enterprise).where(Enterprise.uscc == uscc))
    assert e.registry_id == reg_id
    assert session.scalar(select(func.count()).select_from(RegisteredMeter)) == units_before
    actions = [ev.action for ev in registry.history(session, session.get(RegisteredEnterprise, reg_id))]
    assert actions == [RegistryAction.registered, RegistryAction.delisted, RegistryAction.listed]


def test_registering_writes_one_event_per_enterprise_and_per_code_added_later(
    app, session, make_bureau, make_user, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    user = district_user(make_bureau, make_user)
    jid = place_id(session, "500153")
    commit(app, session, user, write_file(tmp_path / "a.xlsx", _bundles(jid), session))
    events = list(session.scalars(select(RegistryEvent)))
    assert [(e.entity.value, e.action) for e in events] == [("enterprise", RegistryAction.registered)] * 3
    assert events[0].changes["meters"] == ["M1", "M9"] and events[0].changes["units"] == ["L1", "L2"]
    more = _bundles(jid)
    more[0].meters.append(("M2", "total", None, None))
    commit(app, session, user, write_file(tmp_path / "b.xlsx", more, session))
    new = session.scalars(select(RegistryEvent).where(RegistryEvent.id > events[-1].id)).all()
    kinds = sorted((e.entity.value, e.action.value) for e in new)
    assert kinds == [("enterprise", "changed"), ("meter", "registered")]
    m2 = session.scalar(select(RegisteredMeter).where(RegisteredMeter.number == "M2"))
    assert m2.kind == "total" and [e.entity_id for e in new if e.entity.value == "meter"] == [m2.id]
    assert next(e for e in new if e.entity.value == "enterprise").changes == {"meters": {"added": ["M2"]}}


def test_a_reimport_that_renames_a_facility_says_so_in_its_registry_history(
    app, session, make_bureau, make_user, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    user = district_user(make_bureau, make_user)
    jid = place_id(session, "500153")
    commit(app, session, user, write_file(tmp_path / "a.xlsx", _bundles(jid), session))
    last = session.scalar(select(func.max(RegistryEvent.id)))
    renamed = _bundles(jid)
    renamed[0].facilities = [("F1", "SCR脱硝（改造后）", "脱硝", "氮氧化物", "L1")]
    commit(app, session, user, write_file(tmp_path / "b.xlsx", renamed, session))
    new = session.scalars(select(RegistryEvent).where(RegistryEvent.id > last).order_by(RegistryEvent.id)).all()
    facility = next(e for e in new if e.entity.value == "facility")
    assert (facility.action, facility.changes) == (
        RegistryAction.changed,
        {"code": "F1", "name": ["SCR脱硝", "SCR脱硝（改造后）"]},
    )
    reg = session.get(RegisteredEnterprise, facility.registry_enterprise_id)
    assert reg.uscc == renamed[0].ent[0] and [f.name for f in reg.facilities] == ["SCR脱硝（改造后）"]
    assert sorted(e.entity.value for e in new) == ["enterprise", "facility"]


def test_the_registry_page_shows_the_listings_and_the_history_in_scope_only(
    app, session, make_bureau, make_user, login_as, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    user = district_user(make_bureau, make_user)
    jid = place_id(session, "500153")
    first = _bundles(jid)
    commit(app, session, user, write_file(tmp_path / "a.xlsx", first, session))
    commit(app, session, user, write_file(tmp_path / "b.xlsx", first[1:], session))
    reg_id = session.scalar(select(RegisteredEnterprise.id).where(RegisteredEnterprise.uscc == first[0].ent[0]))
    page = login_as(user).get(f"/registry/enterprises/{reg_id}").get_data(as_text=True)
    assert "测试企业0有限公司" in page and "目前不在任何清单中。" in page
    assert "登记" in page and "移出清单" in page and "M9" in page
    kept = session.scalar(select(Enterprise).where(Enterprise.uscc == first[1].ent[0]))
    shown = login_as(user).get(f"/lists/enterprises/{kept.id}").get_data(as_text=True)
    assert f"/registry/enterprises/{kept.registry_id}" in shown
    outsider = district_user(make_bureau, make_user, code="511002", name="other")
    assert login_as(outsider).get(f"/registry/enterprises/{reg_id}").status_code == 404
