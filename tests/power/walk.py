"""Power objects for the route walk: a stored flag in each jurisdiction, on the walk's episode and the registry
entry of its enterprise there (the enterprise screens and a flag's dismissal and confirmation)."""

from __future__ import annotations

from datetime import date
from typing import Any

from app.power.models import PowerFlag
from app.registry.models import RegisteredEnterprise

POWER_PARAMS = {
    frozenset({"episode_id", "enterprise_id"}): lambda o: {"episode_id": o["episode"].id,
                                                           "enterprise_id": o["enterprise"].registry_id},
    frozenset({"flag_id"}): lambda o: {"flag_id": o["power_flag"].id},
}  # fmt: skip


def add_power_objects(session: Any, objects: dict[str, dict[str, Any]]) -> None:
    for o in objects.values():
        ent = session.get(RegisteredEnterprise, o["enterprise"].registry_id)
        flag = PowerFlag(episode_id=o["episode"].id, registry_enterprise_id=ent.id, jurisdiction_id=ent.jurisdiction_id,
                         day=date(2026, 12, 8), kind="meter_silent", about="2026-12-08", reason="走查",
                         evidence={"expected_hours": 24.0, "hours_received": 0.0})  # fmt: skip
        session.add(flag)
        session.flush()
        o["power_flag"] = flag
