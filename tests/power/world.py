"""An episode under response with generated readings stored (the power tests' world): the 成都 unit of the 川渝
zone issued at orange (every listed enterprise limits by 50 %), each enterprise behaving one way, its meters in
the registry, its readings stored through `store` (or handed back, to send them through the API and HJ 212), a
stoppage reported in advance where it behaves so. More behaviours than the zone lists under 成都 add enterprises
to its list before the alert is issued."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pandas as pd
from sqlalchemy import select

from app.power.domain.rows import Batch
from app.power.domain.synthetic import generate
from app.power.models import PowerReport
from app.power.store import store
from app.registry.models import RegisteredEnterprise, RegisteredMeter
from app.response.models import ResponseTask
from app.response.services.activation import UnitChange, apply
from tests.response.conftest import ISSUED, ON, UNITS, Zone, _measures, uscc

BEHAVIOURS = ["pretends", "silent", "reported"]
AS_OF = "2026-12-10 08:00"


@dataclass
class World:
    episode: int
    by_behaviour: dict[str, RegisteredEnterprise]
    # registry meter id → (enterprise's uscc, meter number, kind): how a grid company or a device names it
    meters: dict[int, tuple[str, str, str]] = field(default_factory=dict)
    readings: pd.DataFrame | None = None  # registry meter_id, at (local), kwh: when not stored by `build`
    alert_start: Any = None  # local, naive


def _more_enterprises(session: Any, zone: Zone, n: int) -> None:
    """`n` more enterprises on 成都's list (in its two districts), before the alert is issued."""
    from app.reduction import demo
    from app.reduction.models import ReductionList

    lst = session.get(ReductionList, zone.lists["510100"])
    for k in range(n):
        code = uscc(500 + k)
        demo.add_enterprise(session, lst, assess=False, uscc=code, name=f"用电核查企业{k + 1:02d}", category="other",
                            jurisdiction_id=zone.ids["510104" if k % 2 else "510105"], units=UNITS,
                            measures=_measures(), address=f"核查路{k + 1}号")  # fmt: skip
        zone.listed["510100"].append(code)
    session.flush()


def build(session: Any, zone: Zone, behaviours: list[str] | None = None, store_readings: bool = True) -> World:
    from app.alerts.models import EpisodeReach

    behaviours = behaviours or BEHAVIOURS
    if len(behaviours) > len(zone.listed["510100"]):
        _more_enterprises(session, zone, len(behaviours) - len(zone.listed["510100"]))
    for code in ("510100", "510104", "510105", "511400"):  # its reach: the issued unit, and a city it does not cover
        session.add(EpisodeReach(episode_id=zone.episode, jurisdiction_id=zone.ids[code]))
    apply(session, episode_id=zone.episode, plan_id=zone.plan_id, units=[UnitChange(zone.ids["510100"], "orange",
          ISSUED)], on=ON, now=ISSUED)  # fmt: skip
    tasks = sorted(session.scalars(select(ResponseTask).where(ResponseTask.episode_id == zone.episode)),
                   key=lambda t: t.uscc)  # fmt: skip
    assert len(tasks) >= len(behaviours), [t.uscc for t in tasks]
    hours, alert = 24 * 40, 72
    local_issue = ISSUED.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai")).replace(tzinfo=None)
    gen = generate(behaviours, hours=hours, alert_hours=alert, start=local_issue - timedelta(hours=hours - alert))
    ids: dict[int, int] = {}
    world = World(zone.episode, {}, alert_start=gen.alert_start)
    for n, behaviour in enumerate(behaviours, start=1):
        ent = session.get(RegisteredEnterprise, tasks[n - 1].registry_enterprise_id)
        world.by_behaviour[behaviour] = ent
        free = list(session.scalars(select(RegisteredMeter).where(RegisteredMeter.registry_enterprise_id == ent.id)))
        for k, row in enumerate(gen.meters[gen.meters["enterprise_id"] == n].itertuples(), start=1):
            meter = next((m for m in free if m.kind == row.kind), None)  # the meters the list registered
            if meter is None:
                meter = RegisteredMeter(registry_enterprise_id=ent.id, number=f"P{k}", kind=row.kind)
                session.add(meter)
                session.flush()
            else:
                free.remove(meter)
            ids[row.meter_id] = meter.id
            world.meters[meter.id] = (ent.uscc, meter.number, meter.kind)
        assert not free, "every registered meter of the enterprise gets readings"
    for r in gen.reports.itertuples():
        ent = world.by_behaviour[behaviours[r.enterprise_id - 1]]
        session.add(PowerReport(registry_enterprise_id=ent.id, jurisdiction_id=ent.jurisdiction_id, kind=r.kind,
                                starts_at=r.start.tz_localize("Asia/Shanghai").to_pydatetime(),
                                ends_at=r.end.tz_localize("Asia/Shanghai").to_pydatetime()))  # fmt: skip
    frame = gen.readings.assign(meter_id=gen.readings["meter_id"].map(ids)).sort_values(["meter_id", "at"])
    frame = frame.reset_index(drop=True)[["meter_id", "at", "kwh"]]
    if store_readings:
        store(session, Batch(frame, "generated"), "api")
    else:
        world.readings = frame
    session.commit()
    return world
