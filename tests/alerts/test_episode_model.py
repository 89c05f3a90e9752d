"""The episode model: activation periods answer "the level in force for J at t", the episode is read across its
reach (a Chongqing district sees the regional alert it is part of; Kashgar does not), and its timeline and
decisions cannot be edited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.alerts.models import Episode, EpisodeEvent, EpisodeReach, EpisodeUnit, Proposal
from app.alerts.services import episodes
from app.alerts.vocabulary import EpisodeState, EventKind, ProposalKind, ProposalState
from app.auth.models import BureauKind
from app.auth.roles import Role
from app.auth.services import scope_for
from app.core.scoping import Scope, set_scope
from app.places.models import Jurisdiction
from app.reduction.domain.vocabulary import AlertLevel

T0 = datetime(2026, 12, 10, 0, 0, tzinfo=UTC)


def _ids(session, *codes: str) -> list[int]:
    rows = dict(session.execute(select(Jurisdiction.code, Jurisdiction.id).where(Jurisdiction.code.in_(codes))).all())
    return [rows[c] for c in codes]


@pytest.fixture
def office(make_bureau):
    return make_bureau("510000", "工作小组办公室（测试）", kind=BureauKind.working_group, roots=("510000", "500000"))


def _episode(session, office, units: tuple[str, ...] = ("510100", "500153")) -> Episode:
    episode = Episode(plan_code="chuanyu", bureau_id=office.id, jurisdiction_id=office.jurisdiction_id,
                      state=EpisodeState.issued, level=AlertLevel.orange, started_at=T0)  # fmt: skip
    session.add(episode)
    session.flush()
    proposal = Proposal(episode_id=episode.id, jurisdiction_id=office.jurisdiction_id, kind=ProposalKind.issue,
                        level=AlertLevel.orange, units=list(units), starts_at=T0,
                        state=ProposalState.drafted)  # fmt: skip
    session.add(proposal)
    session.flush()
    for jid in _ids(session, *units):
        session.add(EpisodeReach(episode_id=episode.id, jurisdiction_id=jid))
        session.add(EpisodeUnit(episode_id=episode.id, jurisdiction_id=jid, proposal_id=proposal.id,
                                level=AlertLevel.orange, starts_at=T0))  # fmt: skip
    session.add(EpisodeEvent(episode_id=episode.id, jurisdiction_id=office.jurisdiction_id, kind=EventKind.issued))
    session.flush()
    return episode


def test_the_level_in_force_is_a_query_over_the_periods(session, office) -> None:
    episode = _episode(session, office)
    chengdu, rongchang = _ids(session, "510100", "500153")
    # An upgrade of 成都 two days in: its period closes and a red one opens.
    first = session.scalars(select(EpisodeUnit).where(EpisodeUnit.jurisdiction_id == chengdu)).one()
    first.ends_at = T0 + timedelta(days=2)
    session.add(EpisodeUnit(episode_id=episode.id, jurisdiction_id=chengdu, proposal_id=first.proposal_id,
                            level=AlertLevel.red, starts_at=T0 + timedelta(days=2)))  # fmt: skip
    session.flush()
    assert episodes.level_in_force(session, chengdu, T0 - timedelta(minutes=1)) is None
    assert episodes.level_in_force(session, chengdu, T0) is AlertLevel.orange
    assert episodes.level_in_force(session, chengdu, T0 + timedelta(days=2)) is AlertLevel.red
    assert episodes.level_in_force(session, rongchang, T0 + timedelta(days=5)) is AlertLevel.orange
    # A Sichuan county is covered by its city's alert.
    (jinjiang,) = _ids(session, "510104")
    assert episodes.in_force_for(session, jinjiang, T0 + timedelta(days=3)) is AlertLevel.red
    assert episodes.levels_in_force(session, T0 + timedelta(hours=1)) == {chengdu: AlertLevel.orange,
                                                                         rongchang: AlertLevel.orange}  # fmt: skip


def test_an_episode_is_read_across_its_reach(app, session, office, make_user) -> None:
    episode = _episode(session, office)
    session.commit()
    rongchang = make_user("rc_episode", code="500153", roles=(Role.district_staff,))
    yongchuan = make_user("yc_episode", code="500118", roles=(Role.district_staff,))
    kashgar = make_user("ks_episode", code="653100", roles=(Role.city_staff,))
    for user, sees in ((rongchang, True), (yongchuan, False), (kashgar, False)):
        s = session
        set_scope(s, scope_for(s, s.get(type(user), user.id)))
        try:
            s.expire_all()
            found = s.scalars(select(Episode).where(Episode.id == episode.id)).first()
            units = s.scalars(select(EpisodeUnit).where(EpisodeUnit.episode_id == episode.id)).all()
            assert (found is not None) is sees, user.username
            assert len(units) == (2 if sees else 0), user.username
        finally:
            set_scope(s, Scope.everything())


def test_the_timeline_is_append_only(session, office) -> None:
    episode = _episode(session, office)
    session.commit()
    with pytest.raises((DBAPIError, IntegrityError)), session.begin_nested():
        session.execute(text("UPDATE episode_event SET actor_name = 'x' WHERE episode_id = :e"), {"e": episode.id})
    with pytest.raises((DBAPIError, IntegrityError)), session.begin_nested():
        session.execute(text("DELETE FROM episode_event WHERE episode_id = :e"), {"e": episode.id})


def test_a_lift_has_no_level_and_an_issued_episode_a_start(session, office) -> None:
    episode = _episode(session, office)
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(Proposal(episode_id=episode.id, jurisdiction_id=office.jurisdiction_id,
                             kind=ProposalKind.lift, level=AlertLevel.yellow, units=[], starts_at=T0))  # fmt: skip
        session.flush()
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(Episode(plan_code="chuanyu", bureau_id=office.id, jurisdiction_id=office.jurisdiction_id,
                            state=EpisodeState.issued, level=AlertLevel.orange))  # fmt: skip
        session.flush()


def test_callbacks_hear_of_every_change(session, office) -> None:
    heard = []

    def callback(s, episode, user) -> None:
        heard.append((episode.id, user))

    episodes.register_on_change(callback)
    episodes.register_on_change(callback)
    try:
        episode = _episode(session, office)
        episodes.changed(session, episode, None)
        assert heard == [(episode.id, None)]
    finally:
        episodes.ON_CHANGE.remove(callback)
