"""The list in force (issue 11 point 2): the latest published version by the end of the local day."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from app.auth.models import BureauKind
from app.reduction.models import ListState, ReductionList
from app.reduction.services.in_force import list_in_force, lists_in_force


def make_list(
    session: Any, bureau: Any, year: int, version: int, state: ListState, at: datetime | None, decider: int
) -> int:
    lst = ReductionList(
        jurisdiction_id=bureau.jurisdiction_id, bureau_id=bureau.id, year=year, version=version, state=state
    )
    if state is not ListState.draft:
        lst.submitted_at = lst.decided_at = at or datetime(2026, 1, 1, tzinfo=UTC)
        lst.decided_by_id = decider
    if state is ListState.published:
        lst.published_at = at
    session.add(lst)
    session.flush()
    return lst.id


def test_latest_published_by_the_end_of_the_local_day(make_bureau, make_user, session) -> None:  # type: ignore[no-untyped-def]
    district = make_bureau("511002", name="市中区测试分局", kind=BureauKind.branch)
    other = make_bureau("500153", name="荣昌测试分局", kind=BureauKind.branch)
    jid = district.jurisdiction_id
    city = make_user("in_force_city").id
    # 2026 v1 published 2026-03-01 10:00 local; v2 published 2026-06-30 17:30 UTC = 2026-07-01 01:30 local
    v1 = make_list(session, district, 2026, 1, ListState.published, datetime(2026, 3, 1, 2, 0, tzinfo=UTC), city)
    v2 = make_list(session, district, 2026, 2, ListState.published, datetime(2026, 6, 30, 17, 30, tzinfo=UTC), city)
    make_list(session, district, 2026, 3, ListState.approved, None, city)  # approved, never published
    draft_next_year = make_list(session, district, 2027, 1, ListState.draft, None, city)
    session.commit()

    assert list_in_force(session, jid, date(2026, 2, 28)) is None  # before the first publication
    assert list_in_force(session, jid, date(2026, 3, 1)).id == v1  # the day it is published on
    # 2026-06-30 local: v2 is not yet published (01:30 on 07-01 local, though 06-30 in UTC)
    assert list_in_force(session, jid, date(2026, 6, 30)).id == v1
    assert list_in_force(session, jid, date(2026, 7, 1)).id == v2
    # the approved v3 and next year's draft never count
    assert list_in_force(session, jid, date(2027, 5, 1)).id == v2
    assert draft_next_year != v2

    # across years: next year's list once published replaces this year's
    v2027 = make_list(session, district, 2028, 1, ListState.published, datetime(2027, 12, 1, tzinfo=UTC), city)
    session.commit()
    assert list_in_force(session, jid, date(2027, 12, 1)).id == v2027
    assert list_in_force(session, jid, date(2027, 11, 30)).id == v2

    # several jurisdictions at once; one without any published list is left out
    assert {
        j: lst.id for j, lst in lists_in_force(session, [jid, other.jurisdiction_id], date(2026, 7, 1)).items()
    } == {jid: v2}
    assert lists_in_force(session, [], date(2026, 7, 1)) == {}
