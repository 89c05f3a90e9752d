"""Alerts' services: forecasts stored and evaluated (forecasts.py), episodes and what is in force (episodes.py),
proposals through their approval chain (proposals.py). `from app.alerts import services` keeps the forecast
functions at hand (store, frame_of, evaluate, member_codes)."""

from app.alerts.models import ReadingKind
from app.alerts.services.forecasts import evaluate, frame_of, member_codes, store

__all__ = ["ReadingKind", "evaluate", "frame_of", "member_codes", "store"]
