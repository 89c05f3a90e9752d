"""Episodes: what is in force where and when, and the hook other features hang on an episode's changes.

`level_in_force(session, jurisdiction_id, at)` answers from the activation periods (`episode_unit`): the
highest level of a period of the member unit that has begun at `at` and not ended (`starts_at <= at <
ends_at`, an open end while in force). A Sichuan county asks through its city (`in_force_for`).

**The change hook.** Issuing a proposal (issue, upgrade, downgrade, lift) changes the periods of its units and
then calls every callback of `ON_CHANGE`, in the same transaction, as `callback(session, episode, user)`. The
response feature (app/response) registers its own with `register_on_change` when the app is created (its
blueprint's or extension's init), so the alerts never import it: activation creates and updates the response
tasks from `episode.units` (open rows are the levels in force). A callback flushes and never commits; an
exception it raises refuses the whole issue (nothing of it is kept).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.alerts.models import Episode, EpisodeUnit
from app.alerts.vocabulary import EpisodeState
from app.places.models import Jurisdiction, path_codes
from app.reduction.domain.vocabulary import AlertLevel

OnChange = Callable[[Session, Episode, Any], None]
ON_CHANGE: list[OnChange] = []


def register_on_change(callback: OnChange) -> None:
    """Call `callback(session, episode, user)` after every issued proposal (idempotent per callback)."""
    if callback not in ON_CHANGE:
        ON_CHANGE.append(callback)


def changed(session: Session, episode: Episode, user: Any) -> None:
    """Tell every registered feature that the episode's periods changed (called by the issue transition)."""
    session.flush()
    for callback in list(ON_CHANGE):
        callback(session, episode, user)


def _in_force_at(at: datetime) -> Any:
    return (EpisodeUnit.starts_at <= at) & or_(EpisodeUnit.ends_at.is_(None), EpisodeUnit.ends_at > at)


def level_in_force(session: Session, jurisdiction_id: int, at: datetime) -> AlertLevel | None:
    """The alert level in force for the member unit at `at` (None: no alert)."""
    levels = session.scalars(
        select(EpisodeUnit.level).where(EpisodeUnit.jurisdiction_id == jurisdiction_id, _in_force_at(at))
    ).all()
    return max(levels, key=lambda lv: lv.order) if levels else None


def levels_in_force(session: Session, at: datetime, jurisdiction_ids: list[int] | None = None) -> dict[
    int, AlertLevel]:  # fmt: skip
    """Member unit id → the level in force at `at`, for every unit with one (or for the ids given)."""
    stmt = select(EpisodeUnit.jurisdiction_id, EpisodeUnit.level).where(_in_force_at(at))
    if jurisdiction_ids is not None:
        stmt = stmt.where(EpisodeUnit.jurisdiction_id.in_(jurisdiction_ids))
    found: dict[int, AlertLevel] = {}
    for jid, level in session.execute(stmt):
        if jid not in found or level.order > found[jid].order:
            found[jid] = level
    return found


def levels_issued(session: Session, at: datetime) -> dict[int, AlertLevel]:
    """Member unit id → the highest level issued for it that has not ended by `at`: in force, or issued to
    start later (the situation map shows both; `levels_in_force` only the first)."""
    stmt = select(EpisodeUnit.jurisdiction_id, EpisodeUnit.level).where(
        or_(EpisodeUnit.ends_at.is_(None), EpisodeUnit.ends_at > at)
    )
    found: dict[int, AlertLevel] = {}
    for jid, level in session.execute(stmt):
        if jid not in found or level.order > found[jid].order:
            found[jid] = level
    return found


def in_force_for(session: Session, jurisdiction_id: int, at: datetime) -> AlertLevel | None:
    """The level in force for any jurisdiction: its own periods, or those of the member unit above it (a
    Sichuan county is covered by its prefecture city's alert)."""
    path = session.scalar(select(Jurisdiction.path).where(Jurisdiction.id == jurisdiction_id)) or ""
    codes = path_codes(path)
    ids = list(session.scalars(select(Jurisdiction.id).where(Jurisdiction.code.in_(codes)))) if codes else []
    levels = [lv for lv in levels_in_force(session, at, ids or [jurisdiction_id]).values()]
    return max(levels, key=lambda lv: lv.order) if levels else None


def active(session: Session) -> list[Episode]:
    """The episodes proposed or in force that the reader may see, newest first."""
    return list(session.scalars(
        select(Episode).where(Episode.state.in_([EpisodeState.proposed, EpisodeState.issued]))
        .order_by(Episode.id.desc())
    ))  # fmt: skip
