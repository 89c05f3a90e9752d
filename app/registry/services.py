"""The registry kept through the ORM (the editors, the demo, a case naming an enterprise), and its reads.

A flush that adds an enterprise, process unit, control facility or meter without its registry entry finds
the entry by code (credit code; code or meter number within the enterprise) or registers it, with a
`registered` event; a changed name or jurisdiction of a listed enterprise moves its entry along (`changed`),
and so does a changed grade (`changed` with the grade: its history), a renamed unit or facility and a meter's
changed kind (`changed` with its code and the change); a deleted version enterprise leaves its
list (`delisted`), its registry entry stays. A case naming a
registered credit code is tied to it. Bulk writers (the import) do the same set-based (registry/bulk.py);
a new version copies `registry_id` and writes nothing here.
"""

from __future__ import annotations

from typing import Any

from flask import g, has_app_context
from flask_babel import gettext as _
from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session

from app.cases.models import Case
from app.core.errors import NotFound
from app.db import utcnow
from app.reduction.models import ControlFacility, Enterprise, Meter, ProcessUnit, ReductionList
from app.registry.models import (
    EntityKind,
    RegisteredEnterprise,
    RegisteredFacility,
    RegisteredMeter,
    RegisteredUnit,
    RegistryAction,
    RegistryEvent,
)
from app.response.models import ResponseTask

_ALL = {"include_all_jurisdictions": True}  # a credit code is one identity, whoever reads it
_PENDING = "registry.pending_events"
_CHILDREN = (
    (ProcessUnit, RegisteredUnit, "units", "code", EntityKind.unit),
    (ControlFacility, RegisteredFacility, "facilities", "code", EntityKind.facility),
    (Meter, RegisteredMeter, "meters", "number", EntityKind.meter),
)


class _Pending:
    """What the flush already holds, indexed once per flush: the registry entries being added (by credit code; by
    enterprise and code) and which enterprise's collection holds each new child. Scanning `session.new` for every
    new row made a flush of n new rows cost n² (the demo, a large editor save)."""

    def __init__(self, session: Session) -> None:
        self.enterprises: dict[str, RegisteredEnterprise] = {}
        self.entries: dict[tuple[type, int, Any], Any] = {}
        self.owners: dict[int, Enterprise] = {}
        entry_keys = {entry: key for _m, entry, _c, key, _k in _CHILDREN}
        for obj in session.new:
            if isinstance(obj, RegisteredEnterprise):
                self.enterprises.setdefault(obj.uscc, obj)
            elif type(obj) in entry_keys and obj.__dict__.get("enterprise") is not None:
                self.add_entry(obj.enterprise, obj, getattr(obj, entry_keys[type(obj)]))
        for obj in (*session.new, *session.identity_map.values()):
            if isinstance(obj, Enterprise):
                for _m, _r, coll, _k, _e in _CHILDREN:
                    for child in obj.__dict__.get(coll, ()):
                        self.owners.setdefault(id(child), obj)

    def add_entry(self, reg: RegisteredEnterprise, entry: Any, code: Any) -> None:
        self.entries.setdefault((type(entry), id(reg), code), entry)

    def entry(self, model: type, reg: RegisteredEnterprise, code: Any) -> Any:
        return self.entries.get((model, id(reg), code))


def enterprise_by_uscc(session: Session, pending: _Pending, uscc: str | None) -> RegisteredEnterprise | None:
    if not uscc:
        return None
    if uscc in pending.enterprises:
        return pending.enterprises[uscc]
    with session.no_autoflush:
        return session.scalar(
            select(RegisteredEnterprise).where(RegisteredEnterprise.uscc == uscc).execution_options(**_ALL)
        )


def _registered_id(session: Session, pending: _Pending, uscc: str | None) -> int | None:
    reg = enterprise_by_uscc(session, pending, uscc)
    return reg.id if reg is not None else None


def _actor() -> int | None:
    user = g.get("user") if has_app_context() else None
    return getattr(user, "id", None)


def _queue(session: Session, reg: RegisteredEnterprise, kind: EntityKind, entity: Any, action: RegistryAction,
           listing: Enterprise, changes: dict[str, Any]) -> None:  # fmt: skip
    """Events are written after the flush, when the new entries (and the listing's list) have their ids."""
    session.info.setdefault(_PENDING, []).append((reg, kind, entity, action, listing, changes))


def _owner(session: Session, pending: _Pending, child: Any) -> Enterprise | None:
    if isinstance(child, ProcessUnit) and child.enterprise is not None:
        return child.enterprise
    if child.enterprise_id is not None:
        with session.no_autoflush:
            return session.get(Enterprise, child.enterprise_id)
    return pending.owners.get(id(child))


def _register_enterprise(session: Session, pending: _Pending, e: Enterprise) -> RegisteredEnterprise:
    reg = enterprise_by_uscc(session, pending, e.uscc)
    if reg is None:
        reg = RegisteredEnterprise(uscc=e.uscc, name=e.name, jurisdiction_id=e.jurisdiction_id)
        if e.jurisdiction_id is None:
            reg.jurisdiction = e.jurisdiction
        session.add(reg)
        pending.enterprises[e.uscc] = reg
        _queue(session, reg, EntityKind.enterprise, reg, RegistryAction.registered, e,
               {"uscc": e.uscc, "name": e.name})  # fmt: skip
    else:
        moved = {f: [getattr(reg, f), getattr(e, f)] for f in ("name", "jurisdiction_id")
                 if getattr(e, f) is not None and getattr(reg, f) != getattr(e, f)}  # fmt: skip
        for f, (_old, new) in moved.items():
            setattr(reg, f, new)
        _queue(session, reg, EntityKind.enterprise, reg, RegistryAction.listed, e,
               {"uscc": e.uscc, "name": e.name, **moved})  # fmt: skip
    return reg


def _register_child(session: Session, pending: _Pending, child: Any, model: type, key: str, kind: EntityKind) -> None:
    owner = _owner(session, pending, child)
    if owner is None:
        return  # no enterprise: the NOT NULL registry_id refuses the row
    reg = owner.registered or _register_enterprise(session, pending, owner)
    owner.registered = reg
    code = getattr(child, key)
    entry = pending.entry(model, reg, code)
    if entry is None and reg.id is not None:
        with session.no_autoflush:
            entry = session.scalar(
                select(model).where(model.registry_enterprise_id == reg.id, getattr(model, key) == code)
            )
    extra, value = _described(child, model)
    if entry is None:
        entry = model(enterprise=reg, **{key: code, extra: value})
        session.add(entry)
        pending.add_entry(reg, entry, code)
        _queue(session, reg, kind, entry, RegistryAction.registered, owner, {key: code})
    else:
        _describe(session, reg, kind, entry, key, extra, value, owner)
    child.registered = entry


def _described(child: Any, model: type) -> tuple[str, Any]:
    """The attribute a registry child keeps of its latest listing (a meter's kind, the others' name), and its
    value on the version row."""
    extra = "kind" if model is RegisteredMeter else "name"
    value = getattr(child, extra)
    return extra, getattr(value, "value", value)


def _describe(session: Session, reg: RegisteredEnterprise, kind: EntityKind, entry: Any, key: str, extra: str,
              value: Any, listing: Enterprise) -> None:  # fmt: skip
    """The entry takes the listing's name (kind), with a `changed` event naming the code and the change."""
    old = getattr(entry, extra)
    if old == value:
        return
    setattr(entry, extra, value)
    _queue(session, reg, kind, entry, RegistryAction.changed, listing, {key: getattr(entry, key), extra: [old, value]})


def _child_changed(session: Session, pending: _Pending, child: Any, model: type, key: str, kind: EntityKind) -> None:
    """A listed unit or facility renamed (a meter's kind changed) in an editor: its registry entry follows."""
    entry = child.registered
    owner = _owner(session, pending, child)
    if entry is None or owner is None or owner.registered is None:
        return
    extra, value = _described(child, model)
    if _changed(child, extra):
        _describe(session, owner.registered, kind, entry, key, extra, value, owner)


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _ctx: Any, _instances: Any) -> None:
    new = list(session.new)
    pending = _Pending(session)
    for obj in new:
        if isinstance(obj, Enterprise) and obj.registry_id is None and obj.registered is None:
            obj.registered = _register_enterprise(session, pending, obj)
    for obj in new:
        for model, entry, _coll, key, kind in _CHILDREN:
            if isinstance(obj, model) and obj.registry_id is None and obj.__dict__.get("registered") is None:
                _register_child(session, pending, obj, entry, key, kind)
        if isinstance(obj, ResponseTask) and obj.registry_enterprise_id is None and obj.enterprise_id is not None:
            with session.no_autoflush:
                listed = session.get(Enterprise, obj.enterprise_id)
            obj.registry_enterprise_id = listed.registry_id if listed is not None else None
        if isinstance(obj, Case) and obj.registry_enterprise_id is None and obj.enterprise_uscc:
            obj.registry_enterprise_id = _registered_id(session, pending, obj.enterprise_uscc)
    for obj in session.dirty:
        if isinstance(obj, Case) and _changed(obj, "enterprise_uscc"):
            obj.registry_enterprise_id = _registered_id(session, pending, obj.enterprise_uscc)
        elif isinstance(obj, Enterprise) and any(_changed(obj, a) for a in ("name", "jurisdiction_id", "grade")):
            _enterprise_changed(session, obj)
        else:
            for model, entry, _coll, key, kind in _CHILDREN:
                if isinstance(obj, model):
                    _child_changed(session, pending, obj, entry, key, kind)
    for obj in session.deleted:
        if isinstance(obj, Enterprise) and obj.registered is not None:
            _queue(session, obj.registered, EntityKind.enterprise, obj.registered, RegistryAction.delisted, obj,
                   {"uscc": obj.uscc, "name": obj.name})  # fmt: skip


def _changed(obj: Any, attr: str) -> bool:
    from sqlalchemy import inspect

    return inspect(obj).attrs[attr].history.has_changes()


def _enterprise_changed(session: Session, e: Enterprise) -> None:
    reg = e.registered
    if reg is None:
        return
    changes: dict[str, Any] = {
        f: [getattr(reg, f), getattr(e, f)] for f in ("name", "jurisdiction_id") if getattr(reg, f) != getattr(e, f)
    }
    grade = _grade_change(e)
    if grade is not None:
        changes["grade"] = grade  # the registry's history of the grade (a grading review, the editor)
    if not changes:
        return
    for f, (_old, new) in changes.items():
        setattr(reg, f, new)
    _queue(session, reg, EntityKind.enterprise, reg, RegistryAction.changed, e, changes)


def _grade_change(e: Enterprise) -> list[str | None] | None:
    from sqlalchemy import inspect

    hist = inspect(e).attrs["grade"].history
    if not hist.has_changes():
        return None
    old = hist.deleted[0] if hist.deleted else None
    values = [getattr(v, "value", v) for v in (old, e.grade)]
    return None if values[0] == values[1] else values


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _ctx: Any) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    now, user_id = utcnow(), _actor()
    session.connection().execute(
        insert(RegistryEvent.__table__),
        [
            {"registry_enterprise_id": reg.id, "entity": kind.value, "entity_id": entity.id, "action": action.value,
             "list_id": listing.list_id, "source": None, "user_id": user_id, "at": now, "changes": changes}
            for reg, kind, entity, action, listing, changes in pending
        ],
    )  # fmt: skip


# --- reads ----------------------------------------------------------------------------------------------


def get_enterprise(session: Session, registry_id: int) -> RegisteredEnterprise:
    """A registry enterprise in the reader's scope."""
    reg = session.scalar(select(RegisteredEnterprise).where(RegisteredEnterprise.id == registry_id))
    if reg is None:
        raise NotFound(_("企业不存在，或不在您的辖区范围内。"))
    return reg


def history(session: Session, reg: RegisteredEnterprise) -> list[RegistryEvent]:
    """Every event of the enterprise and its units, facilities and meters, oldest first."""
    return list(
        session.scalars(
            select(RegistryEvent)
            .where(RegistryEvent.registry_enterprise_id == reg.id)
            .order_by(RegistryEvent.at, RegistryEvent.id)
        )
    )


def listings(session: Session, reg: RegisteredEnterprise) -> list[tuple[Enterprise, ReductionList]]:
    """The list versions that hold the enterprise (its version rows), newest first."""
    rows = session.execute(
        select(Enterprise, ReductionList)
        .join(ReductionList, ReductionList.id == Enterprise.list_id)
        .where(Enterprise.registry_id == reg.id)
        .order_by(ReductionList.year.desc(), ReductionList.version.desc())
    )
    return [(e, lst) for e, lst in rows]
