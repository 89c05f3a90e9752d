"""The share criterion has two SQL forms (models.WIDE_SCOPE: `= ANY(ARRAY(...))` for narrow scopes, `IN
(subquery)` for wide ones on PostgreSQL); whichever a bureau gets, it sees exactly the same cases, timeline
and evidence."""

from __future__ import annotations

import io
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.auth.models import User
from app.auth.services import scope_for
from app.cases import models
from app.cases.models import Case, CaseEvent, Evidence
from app.cases.services import queries, records
from app.cases.vocabulary import EvidenceKind
from app.core.scoping import Scope, criteria_for, set_scope
from app.db import utcnow
from tests.cases.conftest import png_bytes


class Upload:
    def __init__(self, name: str, data: bytes) -> None:
        self.filename, self.stream = name, io.BytesIO(data)


def forms(session, scope: Scope) -> set[str]:  # type: ignore[no-untyped-def]
    """The share criterion's forms ("wide"/"narrow") that the scoping applies to this reach right now."""
    pg = session.get_bind().dialect.name == "postgresql"
    options = criteria_for(scope.readable, scope.bureau_id or 0, pg)
    return {
        o.where_criteria.fn.__name__
        for o in options
        if getattr(getattr(o, "entity", None), "class_", None) in (Case, CaseEvent, Evidence)
        and hasattr(o.where_criteria, "fn")
    }


def seen(session, user_id: int) -> tuple[set[str], set[int], set[int], set[str], set[str]]:  # type: ignore[no-untyped-def]
    set_scope(session, Scope.everything())
    user = session.get(User, user_id)
    scope = scope_for(session, user)
    set_scope(session, scope)
    try:
        numbers = set(session.scalars(select(Case.number)))
        events = set(session.scalars(select(CaseEvent.case_id)))
        evidence = set(session.scalars(select(Evidence.case_id)))
        overdue = set(session.scalars(queries.overdue().with_only_columns(Case.number)))
        return numbers, events, evidence, overdue, forms(session, scope)
    finally:
        session.expunge_all()
        set_scope(session, Scope.everything())


def test_both_forms_show_the_same_cases(app, world, session, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():  # the services translate messages and store the upload
        inspector = session.get(User, world.inspector.id)
        set_scope(session, scope_for(session, inspector))
        case = records.create_case(session, inspector, {
            "source_type": "industrial", "topic": "超标排放", "source_name": "隆昌某砖厂", "place": "511083",
            "problem": "烟气超标", "origin": "field_inspection",
        })  # fmt: skip
        records.add_evidence(session, case, inspector, [Upload("现场.png", png_bytes())], EvidenceKind.discovery)
        records.create_transfer(session, inspector, [case.id], world.neijiang.id)
        session.execute(update(Case).where(Case.id == case.id).values(due_at=utcnow() - timedelta(hours=1)))
        session.commit()
    number = case.number
    users = {
        "rc": world.inspector.id, "nj": world.nj_staff.id, "sc": world.sc_staff.id, "cq": world.cq_staff.id,
        "zg": world.zg_staff.id, "yc": world.yc_staff.id,
    }  # fmt: skip
    results = {}
    for threshold in (0, 10**6):  # every scope wide, then every scope narrow
        monkeypatch.setattr(models, "WIDE_SCOPE", threshold)
        results[threshold] = {who: seen(session, uid) for who, uid in users.items()}
    # the two runs compared really used the two forms (the criteria cache is keyed with WIDE_SCOPE) …
    assert {who: r[4] for who, r in results[0].items()} == {who: {"wide"} for who in users}
    assert {who: r[4] for who, r in results[10**6].items()} == {who: {"narrow"} for who in users}
    # … and saw the same rows
    assert {who: r[:4] for who, r in results[0].items()} == {who: r[:4] for who, r in results[10**6].items()}
    visible = {who: r[:4] for who, r in results[0].items()}
    for who in ("rc", "nj", "sc", "cq"):
        assert number in visible[who][0] and number in visible[who][3], who
        assert case.id in visible[who][1] and case.id in visible[who][2], who
    for who in ("zg", "yc"):
        assert visible[who] == (set(), set(), set(), set()), who


def test_the_narrow_form_is_an_array_on_postgresql_and_in_elsewhere() -> None:
    criterion = models.in_ids(Case.id, select(models.CaseShare.case_id).where(models.CaseShare.bureau_id == 7))
    pg = str(select(Case.id).where(criterion).compile(dialect=postgresql.dialect()))
    assert "case_record.id = ANY (array((SELECT case_share.case_id" in pg
    lite = str(select(Case.id).where(criterion).compile(dialect=sqlite.dialect()))
    assert "case_record.id IN (SELECT case_share.case_id" in lite and "= 1" not in lite
