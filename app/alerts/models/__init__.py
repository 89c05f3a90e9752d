"""The alerts' tables: forecasts and observations as they came in (forecasts.py), and the episodes with their
proposals, decisions, activation periods and timeline (episodes.py)."""

from app.alerts.models.episodes import (
    Episode,
    EpisodeEvent,
    EpisodeReach,
    EpisodeUnit,
    Proposal,
    ProposalDecision,
)
from app.alerts.models.forecasts import ForecastIssue, ForecastValue, ReadingKind

__all__ = [
    "Episode",
    "EpisodeEvent",
    "EpisodeReach",
    "EpisodeUnit",
    "ForecastIssue",
    "ForecastValue",
    "Proposal",
    "ProposalDecision",
    "ReadingKind",
]
