"""The done-when path from the alerts' side: the orange proposal for 成都平原 approved and issued gives every
listed enterprise of the zone its task (through the alerts' change hook); the lift closes them. A large
activation runs as a job with its progress."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select

from app.alerts.services import drafts, proposals
from app.alerts.workflow import Action
from app.jobs.models import Job
from app.reduction.domain.vocabulary import AlertLevel
from app.response.models import ResponseTask
from app.response.services import activation
from app.response.services.activation import UnitChange
from app.response.vocabulary import TaskState
from tests.alerts.test_proposals import PLAIN, T_ISSUE, _evaluate, _user, forecast, office, people  # noqa: F401
from tests.response.conftest import ISSUED, Zone


def test_changes_of_the_episodes_periods() -> None:
    t0, t1, t2 = (datetime(2026, 12, d, tzinfo=UTC) for d in (8, 9, 10))
    rows = [SimpleNamespace(jurisdiction_id=1, level=AlertLevel.orange, starts_at=t0, ends_at=t1),
            SimpleNamespace(jurisdiction_id=1, level=AlertLevel.red, starts_at=t1, ends_at=None),
            SimpleNamespace(jurisdiction_id=2, level=AlertLevel.orange, starts_at=t0, ends_at=t2)]  # fmt: skip
    assert activation.changes_of(rows) == [UnitChange(1, "red", t0), UnitChange(2, None, t0, t2)]


def test_an_issued_orange_alert_gives_the_zone_its_tasks_and_the_lift_closes_them(
    session: Any,
    zone: Zone,
    people: Any,  # noqa: F811 - the alerts' fixture
    runner: Any,
    tmp_path: Any,
) -> None:
    assert runner.invoke(args=["inventories", "load"]).exit_code == 0
    staff, leader = _user(session, people["staff"]), _user(session, people["leader"])
    result, issue = _evaluate(session, forecast(tmp_path / "forecast_1208.csv", 24 * 4 + 12))
    draft = drafts.draft_from_evaluation(result, 0, pollution="PM2.5 重度污染", weather="静稳")
    proposal = proposals.create(session, staff, "chuanyu", draft, forecast_issue=issue)
    proposals.transition(session, proposal, Action.submit, staff, now=T_ISSUE)
    proposals.transition(session, proposal, Action.decide, leader, {"decision": "agree"}, now=T_ISSUE)
    proposals.transition(session, proposal, Action.issue, staff, now=T_ISSUE)
    session.commit()
    episode = proposal.episode
    tasks = {t.uscc: t for t in session.scalars(select(ResponseTask).where(ResponseTask.episode_id == episode.id))}
    # every listed enterprise of the whole zone (成都, 德阳 and its county, 眉山, 雅安, and 绵阳 too)
    assert set(tasks) == {u for listed in zone.listed.values() for u in listed}
    assert {t.level for t in tasks.values()} == {AlertLevel.orange}
    assert tasks[zone.key_uscc].supervision.value == "onsite_supervision"

    second = forecast(tmp_path / "forecast_1210.csv", 24 * 4 + 36)
    result2, issue2 = _evaluate(session, second)
    at = next(i for i, p in enumerate(result2["proposals"]) if p["kind"] == "lift")
    lift = proposals.create(session, staff, "chuanyu", drafts.draft_from_evaluation(result2, at), episode=episode,
                            forecast_issue=issue2)  # fmt: skip
    proposals.transition(session, lift, Action.submit, staff)
    proposals.transition(session, lift, Action.decide, _user(session, people["deputy"]), {"decision": "agree"})
    proposals.transition(session, lift, Action.issue, staff)
    session.commit()
    session.expire_all()
    states = {t.state for t in session.scalars(select(ResponseTask).where(ResponseTask.episode_id == episode.id))}
    assert states == {TaskState.closed}


def test_a_large_activation_runs_as_a_job(app: Any, session: Any, zone: Zone, make_user: Any) -> None:
    from app.jobs.services import execute

    user = make_user("resp_job_office", code="510000")
    units = [UnitChange(zone.ids[c], "orange", ISSUED) for c in ("510100", "511400")]
    with app.test_request_context():
        job = activation.start(session, user, episode_id=zone.episode, plan_id=zone.plan_id, units=units,
                               now=ISSUED, min_enterprises=1)  # fmt: skip
        assert isinstance(job, Job) and job.kind == "response.apply"
        session.commit()
    with app.app_context():
        execute(job.id)
    session.expire_all()
    job = session.get(Job, job.id)
    assert job.state.value == "done" and job.result["tasks_created"] == 4
    assert (job.progress_done, job.progress_total) == (5, 5)
    created = session.scalars(select(ResponseTask.uscc).where(ResponseTask.episode_id == zone.episode)).all()
    assert sorted(created) == sorted(zone.listed["510100"] + zone.listed["511400"])
