"""Cases, their timeline, evidence, transfers (with the printed form) and the bureaus they are shared with.

Reads: a case is visible in its responsible jurisdiction's subtree (Scoped) and, through `case_share`, to the
bureau that discovered it and to the provincial bureaus a cross-province transfer is copied to. Writes: the
responsible jurisdiction's subtree, and the discovering bureau (it verifies the rectification).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ColumnElement,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    Text,
    UniqueConstraint,
    and_,
    any_,
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship, with_loader_criteria
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

from app.cases.vocabulary import CaseState, Escalation, EvidenceKind, Origin, SourceType, from_on
from app.core.scoping import Scope, SharedWritable, register_criteria
from app.db import Base, BigId, JsonType, enum_type, state_check, utcnow

# The states of a bureau's inbox (queries.inbox), and the partial index that serves it.
INBOX_STATES = (CaseState.transferred, CaseState.received, CaseState.handling, CaseState.rectifying)
INBOX_WHERE = text("state IN (" + ", ".join(f"'{s.value}'" for s in INBOX_STATES) + ")")
OPEN_WHERE = text("state <> 'closed'")


class CaseShare(Base):
    """A bureau outside the case's jurisdiction that may read it, and why."""

    __tablename__ = "case_share"
    # The scope criterion reads a bureau's case ids from the index alone (no table rows).
    __table_args__ = (Index("ix_case_share_bureau_case", "bureau_id", "case_id"),)

    case_id: Mapped[int] = mapped_column(BigId, ForeignKey("case_record.id", ondelete="CASCADE"), primary_key=True)
    bureau_id: Mapped[int] = mapped_column(ForeignKey("bureau.id", ondelete="CASCADE"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32))  # DISCOVERED_BY / COPY


DISCOVERED_BY, COPY = "discovered_by", "copy"


class _CaseVisible:
    """Rows readable in their jurisdiction or by a bureau the case is shared with."""

    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id", ondelete="RESTRICT"), index=True)


class Case(_CaseVisible, SharedWritable, Base):
    __tablename__ = "case_record"  # "case" is an SQL keyword
    __table_args__ = (
        Index("ix_case_record_jurisdiction_state", "jurisdiction_id", "state"),
        # Partial indexes on the open cases (four in ten; closed ones have no due_at) for the lists ordered by
        # due_at: the inbox of a bureau, the overdue cases of a small scope (a bitmap with the shared cases) and
        # of a wide one (read in due order until a page is full). docs/cases.md, "Speed".
        Index(
            "ix_case_record_inbox_due",
            "responsible_bureau_id",
            "due_at",
            postgresql_where=INBOX_WHERE,
            sqlite_where=INBOX_WHERE,
        ),
        Index(
            "ix_case_record_open_due", "jurisdiction_id", "due_at", postgresql_where=OPEN_WHERE, sqlite_where=OPEN_WHERE
        ),
        Index("ix_case_record_overdue", "due_at", postgresql_where=OPEN_WHERE, sqlite_where=OPEN_WHERE),
        CheckConstraint("(latitude IS NULL) = (longitude IS NULL)", name="coordinates_paired"),
        state_check("transferred_has_time", from_on(CaseState.transferred), "transferred_at IS NOT NULL"),
        state_check("returned_has_reason", [CaseState.returned], "return_reason IS NOT NULL"),
        state_check("received_has_time", from_on(CaseState.received), "received_at IS NOT NULL"),
        state_check(
            "rectifying_has_order",
            from_on(CaseState.rectifying),
            "enforcement_action IS NOT NULL AND rectify_deadline IS NOT NULL AND rectify_plan IS NOT NULL",
        ),
        # "Rectification reported" is this column, checked against the state: reported before it is verified,
        # and never outside the rectification and after it.
        state_check("verified_was_reported", from_on(CaseState.verified), "rectified_at IS NOT NULL"),
        state_check(
            "reported_only_in_rectification",
            [s for s in CaseState if s not in from_on(CaseState.rectifying)],
            "rectified_at IS NULL",
        ),
        state_check(
            "verified_has_verifier",
            from_on(CaseState.verified),
            "verified_at IS NOT NULL AND verified_by_id IS NOT NULL AND verification_note IS NOT NULL",
        ),
        state_check("closed_has_time", [CaseState.closed], "closed_at IS NOT NULL"),
        CheckConstraint("penalty_amount IS NULL OR penalty_amount >= 0", name="penalty_non_negative"),
        CheckConstraint("origin = 'complaint' OR complainant_name IS NULL", name="complainant_only_for_complaints"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    state: Mapped[CaseState] = mapped_column(enum_type(CaseState, 16), default=CaseState.discovered)
    source_type: Mapped[SourceType] = mapped_column(enum_type(SourceType, 16))
    topic: Mapped[str] = mapped_column(String(100))
    origin: Mapped[Origin] = mapped_column(enum_type(Origin, 24))
    inspected_at: Mapped[datetime] = mapped_column()
    source_name: Mapped[str] = mapped_column(String(200))
    source_address: Mapped[str] = mapped_column(String(300), default="")
    enterprise_uscc: Mapped[str | None] = mapped_column(String(18), index=True)
    # the registry's enterprise when the credit code names one (app/registry): the case stays tied to it
    # through list versions and when the enterprise leaves the list
    registry_enterprise_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("registry_enterprise.id", ondelete="RESTRICT"), index=True
    )
    problem: Mapped[str] = mapped_column(Text)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    complainant_name: Mapped[str | None] = mapped_column(String(64))  # confidential
    complainant_phone: Mapped[str | None] = mapped_column(String(32))  # confidential
    discovered_bureau_id: Mapped[int] = mapped_column(ForeignKey("bureau.id", ondelete="RESTRICT"), index=True)
    responsible_bureau_id: Mapped[int | None] = mapped_column(ForeignKey("bureau.id", ondelete="RESTRICT"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    transferred_at: Mapped[datetime | None] = mapped_column()
    received_at: Mapped[datetime | None] = mapped_column()
    return_reason: Mapped[str | None] = mapped_column(String(1000))
    enforcement_action: Mapped[str | None] = mapped_column(String(1000))
    decision_number: Mapped[str | None] = mapped_column(String(64))
    penalty_amount: Mapped[float | None] = mapped_column(Float)  # yuan
    rectify_deadline: Mapped[date | None] = mapped_column(Date)
    rectify_plan: Mapped[str | None] = mapped_column(Text)
    rectified_at: Mapped[datetime | None] = mapped_column()
    verified_at: Mapped[datetime | None] = mapped_column()
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    verification_note: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column()
    due_at: Mapped[datetime | None] = mapped_column()  # the current state's time limit
    escalation: Mapped[Escalation | None] = mapped_column(enum_type(Escalation, 16))
    lock_version: Mapped[int] = mapped_column(Integer, default=1)

    # --- issue 12.2 (casesui): the officer of the holding bureau the case is assigned to -------------------
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    # --- end casesui ---------------------------------------------------------------------------------------

    __mapper_args__ = {"version_id_col": lock_version}  # noqa: RUF012 - SQLAlchemy reads it once

    discovered_bureau = relationship("Bureau", foreign_keys=[discovered_bureau_id])
    responsible_bureau = relationship("Bureau", foreign_keys=[responsible_bureau_id])
    jurisdiction = relationship("Jurisdiction")
    events: Mapped[list[CaseEvent]] = relationship(order_by="CaseEvent.id", viewonly=True)
    evidence: Mapped[list[Evidence]] = relationship(order_by="Evidence.id", viewonly=True)

    def writable_by(self, scope: Scope) -> bool:
        return scope.can_write(self.jurisdiction_id) or (
            scope.bureau_id is not None and scope.bureau_id == self.discovered_bureau_id
        )

    def overdue(self, now: datetime) -> bool:
        """Past its time limit, or stepped up in its current state (queries.is_overdue says why)."""
        return self.state is not CaseState.closed and (self.next_step_due(now) or self.escalation is not None)

    def next_step_due(self, now: datetime) -> bool:
        return self.due_at is not None and self.due_at < now and self.state is not CaseState.closed


def is_overdue(now: datetime) -> ColumnElement[bool]:
    """Open and past its time limit, or already stepped up in its current state: an escalation moves the time
    limit on to the next step, and the case must stay on the overdue list until it moves (a transition clears
    the escalation)."""
    return and_(is_open(), or_(Case.due_at < now, Case.escalation.is_not(None)))


def is_open() -> ColumnElement[bool]:
    """`state <> 'closed'` with the value written into the SQL, not bound: the planner can then match the partial
    indexes on open cases (SQLite uses one only for an identical term; a prepared statement's generic plan in
    PostgreSQL knows no bound values)."""
    return Case.state != literal_column("'closed'")


def in_inbox() -> ColumnElement[bool]:
    """`state IN ('transferred', ...)` as in ix_case_record_inbox_due's WHERE, written into the SQL likewise."""
    return Case.state.in_([literal_column(f"'{state.value}'") for state in INBOX_STATES])


def _case_writable(obj: Any, case_id: int | None, scope: Scope) -> bool:
    """Rows that belong to a case (its timeline, its evidence) are written by whoever may write the case."""
    if scope.can_write(obj.jurisdiction_id):
        return True
    session = object_session(obj)
    if session is None or case_id is None:
        return False
    with session.no_autoflush:
        case = session.get(Case, case_id)
    return case is not None and case.writable_by(scope)


class CaseEvent(_CaseVisible, SharedWritable, Base):
    """The case's timeline: every transition and escalation, append-only."""

    __tablename__ = "case_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(BigId, ForeignKey("case_record.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    actor_name: Mapped[str] = mapped_column(String(64), default="")
    bureau_name: Mapped[str] = mapped_column(String(128), default="")
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[CaseState | None] = mapped_column(enum_type(CaseState, 16, name="from_state"))
    to_state: Mapped[CaseState | None] = mapped_column(enum_type(CaseState, 16, name="to_state"))
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    def writable_by(self, scope: Scope) -> bool:
        return _case_writable(self, self.case_id, scope)


class StoredFile:
    """The columns of a file saved by `cases.services.evidence.save_upload` (checked by content, outside the web
    root, under a random name with its checksum): a case's evidence and a response check's photos."""

    filename: Mapped[str] = mapped_column(String(200))  # as uploaded, cleaned
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class Evidence(_CaseVisible, StoredFile, SharedWritable, Base):
    """A photo or file of a case, stored outside the web root under a random name with its checksum."""

    __tablename__ = "evidence"
    __table_args__ = (
        CheckConstraint("size > 0", name="size_positive"),
        CheckConstraint("(case_id IS NULL) <> (transfer_id IS NULL)", name="belongs_to_case_or_transfer"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("case_record.id", ondelete="CASCADE"), index=True)
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("case_transfer.id", ondelete="CASCADE"))
    kind: Mapped[EvidenceKind] = mapped_column(enum_type(EvidenceKind, 24))

    def writable_by(self, scope: Scope) -> bool:
        if self.case_id is not None:
            return _case_writable(self, self.case_id, scope)
        session = object_session(self)
        if session is None:
            return False
        with session.no_autoflush:
            transfer = session.get(CaseTransfer, self.transfer_id)
        return transfer is not None and transfer.writable_by(scope)


class CaseTransfer(_CaseVisible, SharedWritable, Base):
    """One transfer form (问题线索移交单): several cases from one bureau to another."""

    __tablename__ = "case_transfer"
    __table_args__ = (CheckConstraint("from_bureau_id <> to_bureau_id", name="to_another_bureau"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    from_bureau_id: Mapped[int] = mapped_column(ForeignKey("bureau.id", ondelete="RESTRICT"), index=True)
    to_bureau_id: Mapped[int] = mapped_column(ForeignKey("bureau.id", ondelete="RESTRICT"), index=True)
    cross_province: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    transferred_at: Mapped[datetime] = mapped_column(default=utcnow)

    from_bureau = relationship("Bureau", foreign_keys=[from_bureau_id])
    to_bureau = relationship("Bureau", foreign_keys=[to_bureau_id])
    items: Mapped[list[TransferItem]] = relationship(order_by="TransferItem.ordinal", cascade="all, delete-orphan")

    def writable_by(self, scope: Scope) -> bool:
        return scope.can_write(self.jurisdiction_id) or scope.bureau_id in (self.from_bureau_id, self.to_bureau_id)


class TransferItem(Base):
    __tablename__ = "transfer_item"
    __table_args__ = (UniqueConstraint("transfer_id", "ordinal"),)

    transfer_id: Mapped[int] = mapped_column(ForeignKey("case_transfer.id", ondelete="CASCADE"), primary_key=True)
    case_id: Mapped[int] = mapped_column(BigId, ForeignKey("case_record.id", ondelete="CASCADE"), primary_key=True)
    ordinal: Mapped[int] = mapped_column()

    case: Mapped[Case] = relationship()


class SerialCounter(Base):
    """Gap-free yearly serials per prefix and jurisdiction (case numbers, transfer form numbers)."""

    __tablename__ = "serial_counter"

    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    scope_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(default=0)


class Inspection(_CaseVisible, SharedWritable, Base):
    """A field inspection visit, with or without a problem found (joint-enforcement figures, seed 003).

    Written by the bureau whose record it is, wherever the visit was (a joint inspection crosses borders)."""

    __tablename__ = "inspection"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bureau_id: Mapped[int] = mapped_column(ForeignKey("bureau.id", ondelete="RESTRICT"), index=True)
    inspected_at: Mapped[datetime] = mapped_column(index=True)
    source_name: Mapped[str] = mapped_column(String(200))
    enterprise_uscc: Mapped[str | None] = mapped_column(String(18))
    staff: Mapped[int] = mapped_column(default=1)
    round_label: Mapped[str] = mapped_column(String(64), default="")
    case_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("case_record.id", ondelete="SET NULL"))
    # --- issue 12.2 (casesui): the team (names and 执法证号) and a joint inspection in another bureau's area ---
    team: Mapped[list[dict[str, str]]] = mapped_column(JsonType, default=list)
    joint: Mapped[bool] = mapped_column(default=False)
    # --- end casesui ---------------------------------------------------------------------------------------

    def writable_by(self, scope: Scope) -> bool:
        return scope.can_write(self.jurisdiction_id) or (
            scope.bureau_id is not None and scope.bureau_id == self.bureau_id
        )


class in_ids(ColumnElement[bool]):
    """`column IN (subquery)`, written `column = ANY(ARRAY(subquery))` on PostgreSQL.

    PostgreSQL plans `x OR id IN (subquery)` as a filter (a hashed subplan), so the scope criterion of cases
    could only be checked row by row: a small bureau's overdue list read the whole table's open cases in
    due order to fill a page (0.4 s with 1M cases). `id = ANY(ARRAY(...))` runs the subquery once and looks
    the ids up in the primary key, so both sides of the OR become index scans (a bitmap OR): 1 ms. SQLite
    plans the IN form as an index lookup already. EXPLAINs in docs/cases.md ("Speed")."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a condition in itself: no "= 1" on SQLite
    _traverse_internals = [  # noqa: RUF012 - SQLAlchemy's traversal declaration
        ("column", InternalTraversal.dp_clauseelement),
        ("subquery", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], subquery: Select[Any]) -> None:
        self.column = column
        self.subquery = subquery


@compiles(in_ids)
def _in_ids(element: in_ids, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.in_(element.subquery), **kw)


@compiles(in_ids, "postgresql")
def _any_array(element: in_ids, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column == any_(func.array(element.subquery.scalar_subquery())), **kw)


# Which form the share criterion takes. A narrow scope (a county, a city: 成都, the largest, reads 21
# jurisdictions) wants `= ANY(ARRAY(...))`: its lists become bitmap scans of its own cases and the shared ones.
# A province (重庆 42, 四川 134) reads so much that PostgreSQL scans in order or in full, checking every row
# outside its area against the shared ids — tens of thousands of copies of cross-province transfers: an array
# is searched element by element (the province's board took 25 s), the IN subquery's hash in one step. Both
# forms select the same rows.
WIDE_SCOPE = 30


def _case_criteria(readable: list[int], bureau_id: int) -> Any:
    def wide(cls: type[Case]) -> Any:
        return or_(
            cls.jurisdiction_id.in_(readable),
            cls.id.in_(select(CaseShare.case_id).where(CaseShare.bureau_id == bureau_id)),
        )

    def narrow(cls: type[Case]) -> Any:
        return or_(
            cls.jurisdiction_id.in_(readable),
            in_ids(cls.id, select(CaseShare.case_id).where(CaseShare.bureau_id == bureau_id)),
        )

    return with_loader_criteria(Case, wide if len(readable) >= WIDE_SCOPE else narrow, include_aliases=True)


def _event_criteria(readable: list[int], bureau_id: int) -> Any:
    def wide(cls: type[CaseEvent]) -> Any:
        return or_(
            cls.jurisdiction_id.in_(readable),
            cls.case_id.in_(select(CaseShare.case_id).where(CaseShare.bureau_id == bureau_id)),
        )

    def narrow(cls: type[CaseEvent]) -> Any:
        return or_(
            cls.jurisdiction_id.in_(readable),
            in_ids(cls.case_id, select(CaseShare.case_id).where(CaseShare.bureau_id == bureau_id)),
        )

    return with_loader_criteria(CaseEvent, wide if len(readable) >= WIDE_SCOPE else narrow, include_aliases=True)


def _evidence_criteria(readable: list[int], bureau_id: int) -> Any:
    # A scan of a signed transfer form belongs to the transfer, not to one case: both bureaus see it.
    def wide(cls: type[Evidence]) -> Any:
        return or_(
            cls.jurisdiction_id.in_(readable),
            cls.case_id.in_(select(CaseShare.case_id).where(CaseShare.bureau_id == bureau_id)),
            cls.transfer_id.in_(
                select(CaseTransfer.id).where(
                    or_(CaseTransfer.from_bureau_id == bureau_id, CaseTransfer.to_bureau_id == bureau_id)
                )
            ),
        )

    def narrow(cls: type[Evidence]) -> Any:
        return or_(
            cls.jurisdiction_id.in_(readable),
            in_ids(cls.case_id, select(CaseShare.case_id).where(CaseShare.bureau_id == bureau_id)),
            cls.transfer_id.in_(
                select(CaseTransfer.id).where(
                    or_(CaseTransfer.from_bureau_id == bureau_id, CaseTransfer.to_bureau_id == bureau_id)
                )
            ),
        )

    return with_loader_criteria(Evidence, wide if len(readable) >= WIDE_SCOPE else narrow, include_aliases=True)


def _transfer_criteria(readable: list[int], bureau_id: int) -> Any:
    # The two bureaus of the form, and the provincial bureaus it is copied to (their share of its cases).
    return with_loader_criteria(
        CaseTransfer,
        lambda cls: or_(
            cls.jurisdiction_id.in_(readable),
            cls.from_bureau_id == bureau_id,
            cls.to_bureau_id == bureau_id,
            cls.id.in_(
                select(TransferItem.transfer_id)
                .join(CaseShare, CaseShare.case_id == TransferItem.case_id)
                .where(CaseShare.bureau_id == bureau_id, CaseShare.reason == COPY)
            ),
        ),
        include_aliases=True,
    )


def _inspection_criteria(readable: list[int], bureau_id: int) -> Any:
    return with_loader_criteria(
        Inspection, lambda cls: or_(cls.jurisdiction_id.in_(readable), cls.bureau_id == bureau_id),
        include_aliases=True,
    )  # fmt: skip


register_criteria(_case_criteria, variant=lambda: WIDE_SCOPE)  # the form chosen depends on it
register_criteria(_event_criteria)
register_criteria(_evidence_criteria)
register_criteria(_transfer_criteria)
register_criteria(_inspection_criteria)
