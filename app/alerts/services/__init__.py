"""Alerts' services: forecasts stored and evaluated (forecasts.py), episodes and what is in force (episodes.py),
proposals through their approval chain (proposals.py). `from app.alerts import services` keeps the forecast
functions at hand (store, frame_of, evaluate, member_codes). Its `store` is the one entry of every upload (the
page, the API, `flask alerts import`): a new observation issue is asked at once whether it calls for an observed
upgrade (observed.arise), whose proposal goes to its deciders."""

from typing import Any

from sqlalchemy.orm import Session

from app.alerts.domain.readings import Readings
from app.alerts.models import ForecastIssue, ReadingKind
from app.alerts.services import forecasts, observed
from app.alerts.services.forecasts import evaluate, frame_of, member_codes


def store(session: Session, readings: Readings, kind: ReadingKind, source_name: str,
          user: Any = None) -> tuple[ForecastIssue, bool]:  # fmt: skip
    """forecasts.store, then, for a new observation issue, the observed upgrades it calls for."""
    issue, created = forecasts.store(session, readings, kind, source_name, user)
    if created and kind is ReadingKind.observation:
        observed.arise(session, issue, user)
    return issue, created


__all__ = ["ReadingKind", "evaluate", "frame_of", "member_codes", "store"]
