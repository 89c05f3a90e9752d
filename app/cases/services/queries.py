"""Reading cases: the inbox, filtered lists, the overdue list, the board and joint-enforcement figures.
All queries go through central scoping (a bureau sees its area's cases and the ones shared with it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from app.cases.models import (
    COPY,
    Case,
    CaseEvent,
    CaseShare,
    CaseTransfer,
    TransferItem,
    in_inbox,
    is_open,
    is_overdue,
)
from app.cases.services.workflow import WORKERS
from app.cases.vocabulary import CaseState, Escalation, Origin, SourceType
from app.core.inputs import parse_id
from app.db import utcnow

PAGE_SIZE = 50


def can_see_complainant(case: Case, user: Any) -> bool:
    """Complainants are confidential: only the handlers of the bureau that handles the case see them (before a
    transfer, the person who logged it)."""
    handler = bool(user.roles & WORKERS)
    if case.responsible_bureau_id is not None:
        return handler and user.bureau_id == case.responsible_bureau_id
    return handler and user.id == case.created_by_id


def mask_name(value: str | None) -> str:
    """A confidential name as others see it: its first character, the rest hidden."""
    if not value:
        return ""
    return value[0] + "＊" * max(len(value) - 1, 2)


@dataclass
class Filters:
    state: CaseState | None = None
    overdue: bool = False
    source_type: SourceType | None = None
    origin: Origin | None = None
    escalation: Escalation | None = None
    bureau_id: int | None = None  # responsible or discovering bureau
    enterprise: str = ""  # USCC or part of the source name
    q: str = ""
    assignee_id: int | None = None  # 指派给我: the reader's id, when `mine` is asked

    @classmethod
    def from_args(cls, args: Mapping[str, str], me: int | None = None) -> Filters:
        def enum_or_none(enum: Any, key: str) -> Any:
            try:
                return enum(args.get(key)) if args.get(key) else None
            except ValueError:
                return None

        return cls(
            state=enum_or_none(CaseState, "state"), overdue=args.get("overdue") in ("1", "on", "true"),
            source_type=enum_or_none(SourceType, "source_type"), origin=enum_or_none(Origin, "origin"),
            escalation=enum_or_none(Escalation, "escalation"), bureau_id=parse_id(args.get("bureau_id")),
            enterprise=(args.get("enterprise") or "").strip()[:64], q=(args.get("q") or "").strip()[:64],
            assignee_id=me if args.get("mine") in ("1", "on", "true") else None,
        )  # fmt: skip

    def as_args(self) -> dict[str, str]:
        out = {
            "state": self.state.value if self.state else "", "overdue": "1" if self.overdue else "",
            "source_type": self.source_type.value if self.source_type else "",
            "origin": self.origin.value if self.origin else "", "bureau_id": str(self.bureau_id or ""),
            "escalation": self.escalation.value if self.escalation else "", "enterprise": self.enterprise, "q": self.q,
            "mine": "1" if self.assignee_id else "",
        }  # fmt: skip
        return {k: v for k, v in out.items() if v}


def _like(text: str) -> str:
    return "%" + text.replace("\\", "").replace("%", "").replace("_", "") + "%"


def filtered(f: Filters, now: datetime | None = None) -> Select[Any]:
    stmt = select(Case)
    if f.state:
        stmt = stmt.where(Case.state == f.state)
    if f.overdue:
        stmt = stmt.where(is_overdue(now or utcnow()))
    if f.source_type:
        stmt = stmt.where(Case.source_type == f.source_type)
    if f.origin:
        stmt = stmt.where(Case.origin == f.origin)
    if f.escalation:
        stmt = stmt.where(Case.escalation == f.escalation)
    if f.assignee_id:
        stmt = stmt.where(Case.assignee_id == f.assignee_id)
    if f.bureau_id:
        stmt = stmt.where(or_(Case.responsible_bureau_id == f.bureau_id, Case.discovered_bureau_id == f.bureau_id))
    if f.enterprise:
        stmt = stmt.where(or_(Case.enterprise_uscc == f.enterprise.upper(), Case.source_name.like(_like(f.enterprise))))
    if f.q:
        stmt = stmt.where(or_(Case.number == f.q, Case.source_name.like(_like(f.q)), Case.problem.like(_like(f.q))))
    return stmt


def page(session: Session, stmt: Select[Any], page_no: int, order: Any = None) -> tuple[list[Case], int]:
    """One page, newest first; `pages` is computed from a capped count so a huge list stays cheap."""
    order = order if order is not None else Case.id.desc()
    rows = session.scalars(stmt.order_by(order).limit(PAGE_SIZE + 1).offset((page_no - 1) * PAGE_SIZE)).all()
    return list(rows[:PAGE_SIZE]), (page_no + 1 if len(rows) > PAGE_SIZE else page_no)


def inbox(bureau_id: int) -> Select[Any]:
    """Cases waiting for the bureau to sign for them (签收) or act on them (the partial index
    ix_case_record_inbox_due holds exactly these states)."""
    return select(Case).where(Case.responsible_bureau_id == bureau_id, in_inbox())


def to_verify(bureau_id: int) -> Select[Any]:
    """Cases the bureau discovered that wait for it: rectification reported, or returned to it."""
    return select(Case).where(
        Case.discovered_bureau_id == bureau_id,
        or_(
            and_(Case.state == CaseState.rectifying, Case.rectified_at.is_not(None)),
            Case.state.in_([CaseState.verified, CaseState.returned, CaseState.discovered]),
        ),
    )


def overdue(now: datetime | None = None) -> Select[Any]:
    return select(Case).where(is_overdue(now or utcnow()))


def next_step_due(now: datetime | None = None) -> Select[Any]:
    """The open cases whose time limit (or the last step's period) has run out: what the escalation job steps up."""
    return select(Case).where(is_open(), Case.due_at < (now or utcnow()))


class ListRow(NamedTuple):
    """One case as a list screen shows it (templates/cases/list.html)."""

    id: int
    number: str
    source_name: str
    source_type: SourceType
    topic: str
    state: CaseState
    escalation: Escalation | None
    due_at: datetime | None
    responsible_bureau_id: int | None
    discovered_bureau_id: int

    def overdue(self, now: datetime) -> bool:
        return self.state is not CaseState.closed and (
            (self.due_at is not None and self.due_at < now) or self.escalation is not None
        )


def list_page(session: Session, stmt: Select[Any], page_no: int, order: Any) -> tuple[list[ListRow], int]:
    """A list screen's page as plain rows of the columns it shows: no case objects to build (the statement
    is still an ORM one, so the scope's criteria apply)."""
    columns = stmt.with_only_columns(
        Case.id, Case.number, Case.source_name, Case.source_type, Case.topic, Case.state, Case.escalation,
        Case.due_at, Case.responsible_bureau_id, Case.discovered_bureau_id,
    )  # fmt: skip
    found = session.execute(columns.order_by(order).limit(PAGE_SIZE + 1).offset((page_no - 1) * PAGE_SIZE)).all()
    rows = [ListRow(*r) for r in found[:PAGE_SIZE]]
    return rows, (page_no + 1 if len(found) > PAGE_SIZE else page_no)


def for_view(view: str, f: Filters, bureau_id: int | None, now: datetime | None = None) -> tuple[Select[Any], Any]:
    """A list screen's query with the filters, and its order: the inbox and the overdue list most urgent first
    (the partial indexes on due_at), the others newest first. The conditions are added to the one statement,
    not as `id IN (subquery)`: the subquery would carry the scope criterion a second time."""
    stmt = filtered(f, now)
    if view == "inbox":
        stmt = stmt.where(inbox(bureau_id or 0).whereclause)  # type: ignore[arg-type]
    elif view == "verify":
        stmt = stmt.where(to_verify(bureau_id or 0).whereclause)  # type: ignore[arg-type]
    elif view == "overdue":
        stmt = stmt.where(overdue(now).whereclause)  # type: ignore[arg-type]
    return stmt, (Case.due_at.asc() if view in ("inbox", "overdue") else Case.id.desc())


def board(session: Session, f: Filters) -> dict[CaseState, tuple[int, list[Case]]]:
    """Per state: how many cases, and the first few (most urgent first)."""
    base = filtered(f).subquery()
    counts = dict(session.execute(select(base.c.state, func.count()).group_by(base.c.state)).all())
    result: dict[CaseState, tuple[int, list[Case]]] = {}
    for state in CaseState:
        top = session.scalars(
            filtered(f).where(Case.state == state).order_by(Case.due_at.asc().nulls_last(), Case.id).limit(8)
        ).all() if counts.get(state) else []  # fmt: skip
        result[state] = (int(counts.get(state, 0)), list(top))
    return result


def timeline(session: Session, case: Case) -> list[CaseEvent]:
    """The whole timeline of a case the reader can see (the case was read under the scope). Its events keep the
    place they were written in, and a case corrected to another place takes its earlier events along."""
    from app.core.scoping import unscoped

    with unscoped(session):
        return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)))


def copied_to(session: Session, bureau_id: int) -> list[CaseTransfer]:
    """The transfer forms copied to a (provincial) bureau, newest first: 抄送我单位."""
    ids = (
        select(TransferItem.transfer_id)
        .join(CaseShare, CaseShare.case_id == TransferItem.case_id)
        .where(CaseShare.bureau_id == bureau_id, CaseShare.reason == COPY)
    )
    return list(
        session.scalars(
            select(CaseTransfer).where(CaseTransfer.id.in_(ids)).order_by(CaseTransfer.id.desc()).limit(200)
        )
    )


def copies_of(session: Session, transfer: CaseTransfer) -> list[int]:
    """The bureaus a transfer form is copied to."""
    return sorted(
        set(
            session.scalars(
                select(CaseShare.bureau_id)
                .join(TransferItem, TransferItem.case_id == CaseShare.case_id)
                .where(TransferItem.transfer_id == transfer.id, CaseShare.reason == COPY)
            )
        )
    )
