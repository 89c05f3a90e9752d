"""The list in force: for a jurisdiction and a local date, the published list version that applies.

Rule (issue 11 point 2): among the jurisdiction's lists in state ``published``, the one with the latest
``published_at`` at or before the end of that date in the local time zone (``app.core.localtime.LOCAL_TZ``),
whatever its year. A newer published version replaces the older one from the day it is published on; drafts,
submitted, returned and approved versions never count. Before the first publication there is none.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.localtime import LOCAL_TZ
from app.reduction.models import ListState, ReductionList


def end_of_day(on: date) -> datetime:
    """The first UTC instant after the local day ``on``."""
    return datetime.combine(on + timedelta(days=1), time(), tzinfo=LOCAL_TZ).astimezone(UTC)


def lists_in_force(session: Session, jurisdiction_ids: Iterable[int], on: date) -> dict[int, ReductionList]:
    """The list in force on ``on`` for each of ``jurisdiction_ids`` that has one, in two statements."""
    ids = sorted(set(jurisdiction_ids))
    if not ids:
        return {}
    published = (
        ReductionList.state == ListState.published,
        ReductionList.published_at.is_not(None),
        ReductionList.published_at < end_of_day(on),
        ReductionList.jurisdiction_id.in_(ids),
    )
    ranked = (
        select(
            ReductionList.id,
            func.row_number()
            .over(
                partition_by=ReductionList.jurisdiction_id,
                order_by=(
                    ReductionList.published_at.desc(),
                    ReductionList.year.desc(),
                    ReductionList.version.desc(),
                ),
            )
            .label("rank"),
        )
        .where(*published)
        .subquery()
    )
    rows = session.scalars(
        select(ReductionList).join(ranked, ranked.c.id == ReductionList.id).where(ranked.c.rank == 1)
    )
    return {lst.jurisdiction_id: lst for lst in rows}


def list_in_force(session: Session, jurisdiction_id: int, on: date) -> ReductionList | None:
    """The published list version that applies in ``jurisdiction_id`` on the local date ``on``, if any."""
    return lists_in_force(session, [jurisdiction_id], on).get(jurisdiction_id)
