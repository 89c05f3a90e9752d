"""Issuing over the 成都平原 zone gives every listed enterprise its task; level changes re-derive the
measures keeping the checks; lifting closes the tasks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from app.response.domain import activation as dom
from app.response.models import ResponseArea, ResponseMeasure, ResponseTask
from app.response.services.activation import UnitChange, apply
from app.response.vocabulary import CheckStatus, TaskState
from tests.response.conftest import ISSUED, ON, Zone

PLAIN = ["510100", "510600", "511400", "511800"]  # 成都, 德阳, 眉山, 雅安 (绵阳 510700 not activated)


def issue(session: Any, zone: Zone, level: str = "orange", **own: str) -> Any:
    units = [UnitChange(zone.ids[c], own.get(f"u{c}", level), ISSUED) for c in PLAIN]
    done = apply(session, episode_id=zone.episode, plan_id=zone.plan_id, units=units, on=ON, now=ISSUED)
    session.commit()
    return done


def tasks(session: Any, episode: int = 0) -> dict[str, ResponseTask]:
    return {t.uscc: t for t in session.scalars(select(ResponseTask).where(ResponseTask.episode_id == episode))}


def test_covered_places_take_the_highest_level_above_them() -> None:
    units = [dom.Unit(1, "/51/5101/", "orange"), dom.Unit(2, "/51/5101/510104/", "red"), dom.Unit(3, "/51/5106/", None)]
    places = {1: "/51/5101/", 2: "/51/5101/510104/", 4: "/51/5101/510105/", 5: "/51/5106/", 6: "/51/5106/510603/"}
    got = dom.covered(units, places)
    assert {j: (a.unit_id, a.level) for j, a in got.items()} == {1: (1, "orange"), 2: (2, "red"), 4: (1, "orange")}
    assert dom.supervision_for("key") == "onsite_supervision" and dom.supervision_for("micro") == "patrol"


def test_relevel_keeps_checks_and_retires_checked_measures_no_longer_required() -> None:
    sig = lambda kind, pct=None: (kind, 7, pct, None, None)  # noqa: E731
    held = [
        dom.Held(1, sig("limit", 50.0), True),
        dom.Held(2, sig("truck_ban"), True),
        dom.Held(3, sig("offroad_ban"), False),
    ]
    plan = dom.relevel(held, [dom.Wanted(10, sig("stop")), dom.Wanted(11, sig("truck_ban"))])
    assert plan.keep == [(2, dom.Wanted(11, sig("truck_ban")))]
    assert plan.add == [dom.Wanted(10, sig("stop"))]
    assert plan.retire == [1] and plan.drop == [3]


def test_issuing_gives_every_listed_enterprise_of_the_zone_its_task(session: Any, zone: Zone) -> None:
    done = issue(session, zone)
    got = tasks(session, zone.episode)
    listed = {u for c in PLAIN for u in zone.listed[c]}
    assert set(got) == listed  # every enterprise of 成都, 德阳 (and its county's list), 眉山, 雅安; none of 绵阳
    assert not set(zone.listed["510700"]) & set(got)
    assert done.tasks_created == len(listed) and done.measures_created == 2 * len(listed)
    key = got[zone.key_uscc]
    assert key.supervision.value == "onsite_supervision" and key.level.value == "orange"
    assert {t.supervision.value for u, t in got.items() if u != zone.key_uscc and t.category.value != "key"} == {
        "patrol"
    }
    assert [m.describe() for m in key.measures] == ["限产 50%（1#生产线）", "停用国Ⅳ及以下重型货车"]
    assert got[zone.stagger_uscc].staggered_until is not None  # a staggered-production shutdown in force
    assert all(t.state is TaskState.open for t in got.values())
    # the districts below the member units are covered, each from its unit
    areas = session.scalar(
        select(func.count()).select_from(ResponseArea).where(ResponseArea.episode_id == zone.episode)
    )
    assert areas > len(PLAIN)
    # applying the same units again creates nothing twice
    again = issue(session, zone)
    assert again.tasks_created == 0 and len(tasks(session, zone.episode)) == len(listed)


def test_a_units_own_higher_level_wins(session: Any, zone: Zone) -> None:
    issue(session, zone, "orange", u511400="red")
    got = tasks(session, zone.episode)
    assert got[zone.listed["511400"][0]].level.value == "red"
    assert got[zone.listed["511800"][0]].level.value == "orange"
    assert next(m.describe() for m in got[zone.listed["511400"][0]].measures).startswith("停产")


def test_upgrade_rederives_measures_keeping_checks_and_lift_closes(session: Any, zone: Zone, make_user: Any) -> None:
    issue(session, zone, "orange")
    inspector = make_user("resp_up_insp", code="510100")
    task = tasks(session, zone.episode)[zone.listed["511800"][0]]
    truck = next(m for m in task.measures if m.kind.value == "truck_ban")
    truck.status, truck.checked_at, truck.checked_by_id = CheckStatus.carried_out, ISSUED, inspector.id
    session.commit()

    issue(session, zone, "red")  # upgrade
    session.expire_all()
    task = tasks(session, zone.episode)[zone.listed["511800"][0]]
    assert task.level.value == "red"
    shown = {(m.describe(), m.status.value, m.required) for m in task.measures}
    # the truck ban was checked and red asks for it too: kept with its check; the orange 50 % limit, unchecked,
    # is gone; red's stop comes new
    assert shown == {("停用国Ⅳ及以下重型货车", "carried_out", True), ("停产（1#生产线）", "pending", True)}

    lift = [UnitChange(zone.ids[c], None, ISSUED, ISSUED + timedelta(days=3)) for c in PLAIN]
    done = apply(
        session, episode_id=zone.episode, plan_id=zone.plan_id, units=lift, on=ON, now=ISSUED + timedelta(days=3)
    )
    session.commit()
    assert done.tasks_closed == len(tasks(session, zone.episode))
    assert {t.state for t in tasks(session, zone.episode).values()} == {TaskState.closed}
    assert session.scalar(select(func.count()).select_from(ResponseMeasure)) > 0  # checks kept after the lift
