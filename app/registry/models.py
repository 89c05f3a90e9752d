"""Registry entries and their history.

A registry row is never deleted: a list version that leaves an enterprise out only ends its listing there
(a `delisted` event). The version rows (`enterprise`, `process_unit`, `control_facility`, `meter`) hold what
belongs to one year and version and point here by `registry_id`; response tasks, cases, readings and checks
hang on these ids.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.scoping import Scoped
from app.db import Base, BigId, JsonType, enum_type, utcnow


class EntityKind(enum.StrEnum):
    enterprise = "enterprise"
    unit = "unit"
    facility = "facility"
    meter = "meter"


class RegistryAction(enum.StrEnum):
    registered = "registered"  # first seen (an import, a new enterprise, the migration of 2026-12-07)
    changed = "changed"  # its record changed through an import or an editor
    listed = "listed"  # back on a list it had left, or on another list
    delisted = "delisted"  # left out of a list version (by a re-import or removed from the version)


class RegisteredEnterprise(Scoped, Base):
    """An enterprise by its unified social credit code (统一社会信用代码), owned by the jurisdiction of its
    latest listing."""

    __tablename__ = "registry_enterprise"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    jurisdiction = relationship("Jurisdiction")
    units: Mapped[list[RegisteredUnit]] = relationship(order_by="RegisteredUnit.code", viewonly=True)
    facilities: Mapped[list[RegisteredFacility]] = relationship(order_by="RegisteredFacility.code", viewonly=True)
    meters: Mapped[list[RegisteredMeter]] = relationship(order_by="RegisteredMeter.number", viewonly=True)


class _RegistryChild:
    """A registry entry under an enterprise, identified by its code (its number for a meter) within it."""

    registry_enterprise_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("registry_enterprise.id", ondelete="RESTRICT")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RegisteredUnit(_RegistryChild, Base):
    """A process unit (生产线/工段/工序) by its code within the enterprise."""

    __tablename__ = "registry_unit"
    __table_args__ = (UniqueConstraint("registry_enterprise_id", "code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))

    enterprise: Mapped[RegisteredEnterprise] = relationship()


class RegisteredFacility(_RegistryChild, Base):
    """A pollution-control facility by its code within the enterprise."""

    __tablename__ = "registry_facility"
    __table_args__ = (UniqueConstraint("registry_enterprise_id", "code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))

    enterprise: Mapped[RegisteredEnterprise] = relationship()


class RegisteredMeter(_RegistryChild, Base):
    """A power meter by its number within the enterprise; readings hang on this id."""

    __tablename__ = "registry_meter"
    __table_args__ = (UniqueConstraint("registry_enterprise_id", "number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # the MeterKind of its latest listing

    enterprise: Mapped[RegisteredEnterprise] = relationship()


class RegistryEvent(Base):
    """One step of a registry entry's history; append-only. `list_id` names the list version it happened
    through, `source` the import (its file's sha256) or job; `changes` what changed (field → [before, after])
    or, for a registered enterprise, the codes registered with it."""

    __tablename__ = "registry_event"
    __table_args__ = (Index("ix_registry_event_enterprise_at", "registry_enterprise_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    registry_enterprise_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("registry_enterprise.id", ondelete="RESTRICT")
    )
    entity: Mapped[EntityKind] = mapped_column(enum_type(EntityKind, 16))
    entity_id: Mapped[int] = mapped_column(BigId)
    action: Mapped[RegistryAction] = mapped_column(enum_type(RegistryAction, 16))
    list_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("reduction_list.id", ondelete="SET NULL"))
    source: Mapped[str | None] = mapped_column(String(80))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    changes: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
