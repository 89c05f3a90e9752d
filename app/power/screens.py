"""What the power screens show: read-only queries through the session's scope."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.power.models import PowerDevice, PowerFlag


def index(session: Session) -> dict[str, Any]:
    flags = session.execute(
        select(PowerFlag.episode_id, PowerFlag.state, func.count()).group_by(PowerFlag.episode_id, PowerFlag.state)
    ).all()
    episodes: dict[int, dict[str, int]] = {}
    for episode_id, state, n in flags:
        episodes.setdefault(episode_id, {})[state.value] = n
    devices = session.scalar(select(func.count()).select_from(PowerDevice)) or 0
    return {"episodes": sorted(episodes.items(), reverse=True), "devices": devices}
