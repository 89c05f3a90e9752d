"""Alert objects for the route walks (tests/test_access_walk.py): in each jurisdiction an episode whose reach is
that jurisdiction, a drafted proposal and an activation period; one forecast issue shared by all."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.alerts.models import Episode, EpisodeReach, EpisodeUnit, ForecastIssue, ForecastValue, Proposal, ReadingKind
from app.alerts.vocabulary import EpisodeState, ProposalKind, ProposalState
from app.reduction.domain.vocabulary import AlertLevel

T0 = datetime(2026, 12, 10, tzinfo=UTC)

ALERT_PARAMS = {
    frozenset({"proposal_id"}): lambda o: {"proposal_id": o["proposal"].id},
    frozenset({"proposal_id", "province"}): lambda o: {"proposal_id": o["proposal"].id, "province": "510000"},
    frozenset({"episode_id"}): lambda o: {"episode_id": o["episode"].id},
    frozenset({"unit_id"}): lambda o: {"unit_id": o["period"].id},
}


def add_alert_objects(session: Any, objects: dict[str, dict[str, Any]], member: str = "511000") -> ForecastIssue:
    for code, o in objects.items():
        bureau = o["bureau"]
        episode = Episode(plan_code="chuanyu", bureau_id=bureau.id, jurisdiction_id=bureau.jurisdiction_id,
                          state=EpisodeState.issued, level=AlertLevel.yellow, started_at=T0)  # fmt: skip
        session.add(episode)
        session.flush()
        session.add(EpisodeReach(episode_id=episode.id, jurisdiction_id=bureau.jurisdiction_id))
        proposal = Proposal(episode_id=episode.id, jurisdiction_id=bureau.jurisdiction_id, kind=ProposalKind.issue,
                            level=AlertLevel.yellow, units=[code], starts_at=T0, state=ProposalState.drafted,
                            chain=[{"action": "approve", "role": "group_leader", "jurisdiction": None,
                                    "delegate": None}])  # fmt: skip
        session.add(proposal)
        session.flush()
        period = EpisodeUnit(episode_id=episode.id, jurisdiction_id=bureau.jurisdiction_id, proposal_id=proposal.id,
                             level=AlertLevel.yellow, starts_at=T0)  # fmt: skip
        session.add(period)
        session.flush()
        o.update(episode=episode, proposal=proposal, period=period)
    issue = ForecastIssue(kind=ReadingKind.forecast, digest="w" * 64, resolution="day", source_name="walk.csv",
                          row_count=1, first_start=T0, last_start=T0)  # fmt: skip
    session.add(issue)
    session.flush()
    session.add(ForecastValue(issue_id=issue.id, jurisdiction_id=objects[member]["bureau"].jurisdiction_id,
                              starts_at=T0, hours=24, aqi=120))  # fmt: skip
    session.commit()
    return issue
