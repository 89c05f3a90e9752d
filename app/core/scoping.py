"""Jurisdiction scoping: the one place that decides which rows a user may see or change.

Every model that belongs to a jurisdiction mixes in `Scoped`. When a session carries a `Scope`, every ORM
SELECT gets a loader criterion limiting scoped entities to the scope's jurisdictions, and every flush refuses
to write a scoped row outside them. Views never filter by jurisdiction themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import ARRAY, ForeignKey, Integer, any_, bindparam, event, false, inspect, or_
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column, with_loader_criteria

from app.core.errors import ServiceError


class ScopeViolation(PermissionError):
    """A write to a row outside the acting user's jurisdiction."""


@dataclass(frozen=True)
class Scope:
    """The jurisdictions a user may read and write; `unrestricted` is the CLI operator's scope."""

    readable: frozenset[int] = field(default_factory=frozenset)
    writable: frozenset[int] = field(default_factory=frozenset)
    unrestricted: bool = False
    bureau_id: int | None = None  # for read access shared with a bureau (a transferred case)

    @classmethod
    def everything(cls) -> Scope:
        return cls(unrestricted=True)

    @classmethod
    def nothing(cls) -> Scope:
        return cls()

    def can_read(self, jurisdiction_id: int | None) -> bool:
        return self.unrestricted or jurisdiction_id in self.readable

    def can_write(self, jurisdiction_id: int | None) -> bool:
        return self.unrestricted or jurisdiction_id in self.writable


class Scoped:
    """Mixin for models owned by a jurisdiction through their `jurisdiction_id` column.

    A model may override `scope_owner_ids` to name the jurisdictions whose users may write it. Wider read
    access (a case shared with the bureau that transferred it) comes as another mixin with its own criterion.
    """

    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id", ondelete="RESTRICT"), index=True)

    def scope_owner_ids(self) -> tuple[int | None, ...]:
        return (self.jurisdiction_id,)  # type: ignore[attr-defined]


# Further loader criteria for models that widen reads beyond the jurisdiction subtree (a case stays
# readable by the bureau that transferred it). Each factory returns a with_loader_criteria option.
EXTRA_CRITERIA: list[Callable[[list[int], int], Any]] = []
# What else a factory's choice depends on (a module setting such as cases.models.WIDE_SCOPE): part of the
# cache key, so that a changed setting is never answered with criteria built under the old one.
CRITERIA_VARIANTS: list[Callable[[], Hashable]] = []


def register_criteria(factory: Callable[[list[int], int], Any], variant: Callable[[], Hashable] | None = None) -> None:
    EXTRA_CRITERIA.append(factory)
    if variant is not None:
        CRITERIA_VARIANTS.append(variant)
    _criteria_for.cache_clear()


# A read grant on Scoped models (a cross-check campaign lets the reviewing bureau read the sampled enterprises
# of a neighbour's list while it is open): which column of each granted class names the granted object, and a
# factory giving, for a bureau, the subquery of the ids it is granted. The jurisdiction criterion of such a
# class becomes `jurisdiction_id IN scope OR column IN (granted ids)`, one extra indexed subquery; reads only,
# writes stay the jurisdiction's. Further sources of grants would union their subqueries in one factory.
GRANT_COLUMNS: dict[type, str] = {}
GRANT_IDS: list[Callable[[int], Any]] = []


def register_grant(columns: dict[type, str], granted_ids: Callable[[int], Any]) -> None:
    GRANT_COLUMNS.update(columns)
    GRANT_IDS[:] = [granted_ids]
    _criteria_for.cache_clear()


def _granted(cls: Any, granted_ids: Any) -> Any:
    """The grant condition of the entity the criterion is applied to, or `false()` (which `or_` drops)."""
    try:
        subject = object.__getattribute__(cls, "subject")  # the loader criteria's wrapper of the entity
    except AttributeError:
        subject = cls
    info = inspect(subject, raiseerr=False)  # the mixin itself when SQLAlchemy first runs the lambda
    column = GRANT_COLUMNS.get(info.mapper.class_) if info is not None else None
    return getattr(cls, column).in_(granted_ids) if column else false()


def _variant() -> tuple[Hashable, ...]:
    return tuple(v() for v in CRITERIA_VARIANTS)


class SharedWritable:
    """A model whose rows some bureaus outside the jurisdiction may also change (the discovering bureau
    verifies a transferred case): it answers for itself."""

    def writable_by(self, scope: Scope) -> bool:
        # The default is the jurisdiction rule; a model widens it for the bureaus it names.
        return scope.can_write(self.jurisdiction_id)  # type: ignore[attr-defined]


def set_scope(session: Session, scope: Scope) -> None:
    session.info["scope"] = scope


def get_scope(session: Session) -> Scope | None:
    return session.info.get("scope")


@event.listens_for(Session, "do_orm_execute")
def _limit_reads(state: ORMExecuteState) -> None:
    scope: Scope | None = state.session.info.get("scope")
    if scope is None or scope.unrestricted or not state.is_select:
        return
    if state.execution_options.get("include_all_jurisdictions"):
        return
    pg = state.session.get_bind().dialect.name == "postgresql"
    state.statement = state.statement.options(*criteria_for(scope.readable, scope.bureau_id or 0, pg))


def criteria_for(readable_ids: frozenset[int], bureau_id: int, pg: bool = False) -> tuple[Any, ...]:
    """The loader criteria of a reach: the jurisdiction subtree's and every registered factory's."""
    return _criteria_for(readable_ids, bureau_id, pg, _variant())


@lru_cache(maxsize=512)
def _criteria_for(
    readable_ids: frozenset[int], bureau_id: int, pg: bool, _variant: tuple[Hashable, ...]
) -> tuple[Any, ...]:
    # Shared by every request with the same reach: building the lambdas costs about half a millisecond.
    readable = sorted(readable_ids)
    # The grants of the bureau, built once per reach: a prebuilt subquery is a cacheable SQL element.
    granted = GRANT_IDS[0](bureau_id) if GRANT_IDS and bureau_id else None
    if granted is not None and pg:
        ids = bindparam("scope_ids", readable, type_=ARRAY(Integer))
        own = with_loader_criteria(
            Scoped, lambda cls: or_(cls.jurisdiction_id == any_(ids), _granted(cls, granted)), include_aliases=True
        )
    elif granted is not None:
        own = with_loader_criteria(
            Scoped, lambda cls: or_(cls.jurisdiction_id.in_(readable), _granted(cls, granted)), include_aliases=True
        )
    elif pg:
        # One array parameter: the SQL text stays the same whatever the reach, so SQLAlchemy compiles it
        # once; an expanding IN renders one placeholder per jurisdiction on every
        # execution (a province reads 40 to 130 of them, in every scoped statement).
        ids = bindparam("scope_ids", readable, type_=ARRAY(Integer))
        own = with_loader_criteria(Scoped, lambda cls: cls.jurisdiction_id == any_(ids), include_aliases=True)
    else:
        # The list must appear directly in the lambda so that SQLAlchemy caches the statement with the list
        # as an expanding bound parameter, not baked into the cached SQL.
        own = with_loader_criteria(Scoped, lambda cls: cls.jurisdiction_id.in_(readable), include_aliases=True)
    return (own, *(factory(readable, bureau_id) for factory in EXTRA_CRITERIA))


@event.listens_for(Session, "before_flush")
def _limit_writes(session: Session, _ctx: Any, _instances: Any) -> None:
    scope: Scope | None = session.info.get("scope")
    if scope is None or scope.unrestricted:
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, SharedWritable):
            if not obj.writable_by(scope):
                raise ScopeViolation(f"{type(obj).__name__} outside the user's reach")
        elif isinstance(obj, Scoped) and not any(scope.can_write(j) for j in obj.scope_owner_ids()):
            raise ScopeViolation(f"{type(obj).__name__} outside the user's jurisdiction")


class unscoped:
    """Lift the scope for system work inside a request (authentication, audit), then restore it."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.saved: Scope | None = None

    def __enter__(self) -> Session:
        self.saved = self.session.info.get("scope")
        self.session.info["scope"] = Scope.everything()
        return self.session

    def __exit__(self, exc_type: type[BaseException] | None, *_exc: object) -> None:
        try:
            # Write what was changed while unscoped before the scope returns; a refusal (ServiceError)
            # may still have changes to keep, such as a failed-login count.
            if exc_type is None or issubclass(exc_type, ServiceError):
                self.session.flush()
        finally:
            self._restore()

    def _restore(self) -> None:
        if self.saved is None:
            self.session.info.pop("scope", None)
        else:
            self.session.info["scope"] = self.saved
