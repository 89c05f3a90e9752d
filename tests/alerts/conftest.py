from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest

from app.alerts.domain.evaluate import Geography
from app.config import ROOT
from app.places import inventory


@pytest.fixture(scope="session")
def places() -> inventory.Places:
    return inventory.read(ROOT / "inventories")


def geography(places: inventory.Places, code: str) -> Geography:
    plan = next(p for p in places.plans if p.code == code)
    members = {m for z in plan.zones for m in z.members}
    return Geography(
        {z.code: z.members for z in plan.zones},
        frozenset((a, b) for a, b in places.edges if a in members and b in members),
        {c: places.places[c].short_name for c in members},
        {z.code: z.name for z in plan.zones},
    )


def rules(places: inventory.Places, code: str):  # type: ignore[no-untyped-def]
    return next(p for p in places.plans if p.code == code).rules.alert


def hourly(units, hours: int, value, start: datetime = datetime(2026, 12, 8)) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """An hourly forecast: value(unit, hour) for every unit and hour."""
    rows = [{"unit": u, "start": start + timedelta(hours=h), "hours": 1, "aqi": value(u, h)}
            for u in units for h in range(hours)]  # fmt: skip
    return pd.DataFrame(rows)


CHENGDU_FOUR = ("510100", "510600", "511400", "511800")  # 成都 德阳 眉山 雅安
