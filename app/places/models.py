"""Places: the jurisdiction tree, linkage zones of a plan and the adjacency graph."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, ForeignKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, enum_type, utcnow

if TYPE_CHECKING:
    from app.plans.models import Plan


class JurisdictionLevel(enum.StrEnum):
    province = "province"
    city = "city"
    county = "county"


class Jurisdiction(Base):
    """A node of province → city → county; Chongqing is a province whose districts sit directly below."""

    __tablename__ = "jurisdiction"
    __table_args__ = (CheckConstraint("(level = 'province') = (parent_id IS NULL)", name="root_is_province"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    short_name: Mapped[str] = mapped_column(String(32))
    level: Mapped[JurisdictionLevel] = mapped_column(enum_type(JurisdictionLevel, 16))
    kind: Mapped[str] = mapped_column(String(32))
    official: Mapped[bool] = mapped_column(default=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdiction.id", ondelete="RESTRICT"), index=True)
    # Materialised path of codes, "/510000/511000/511011/": subtree queries are a prefix match.
    path: Mapped[str] = mapped_column(String(255), index=True)

    parent: Mapped[Jurisdiction | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Jurisdiction]] = relationship(back_populates="parent", order_by="Jurisdiction.code")

    def __repr__(self) -> str:
        return f"<Jurisdiction {self.code} {self.name}>"

    def is_within(self, other: Jurisdiction) -> bool:
        return self.path.startswith(other.path)


def path_codes(path: str) -> list[str]:
    """The codes of a materialised path, from the province down: "/510000/511000/" → ["510000", "511000"]."""
    return [c for c in path.strip("/").split("/") if c]


class LinkageZone(Base):
    __tablename__ = "linkage_zone"
    __table_args__ = (UniqueConstraint("plan_id", "code"), UniqueConstraint("id", "plan_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    ordering: Mapped[int] = mapped_column(default=0)

    plan: Mapped[Plan] = relationship(back_populates="zones")
    members: Mapped[list[ZoneMember]] = relationship(back_populates="zone", cascade="all, delete-orphan")


class ZoneMember(Base):
    """A member unit of a plan, in exactly one of its zones (the composite key enforces both)."""

    __tablename__ = "zone_member"
    __table_args__ = (
        ForeignKeyConstraint(["zone_id", "plan_id"], ["linkage_zone.id", "linkage_zone.plan_id"], ondelete="CASCADE"),
        UniqueConstraint("plan_id", "jurisdiction_id"),
    )

    zone_id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id", ondelete="RESTRICT"), primary_key=True)
    plan_id: Mapped[int] = mapped_column()

    zone: Mapped[LinkageZone] = relationship(back_populates="members")
    jurisdiction: Mapped[Jurisdiction] = relationship()


class Adjacency(Base):
    """An undirected shared land border, stored once with the smaller id first."""

    __tablename__ = "adjacency"
    __table_args__ = (CheckConstraint("a_id < b_id", name="ordered_pair"),)

    a_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id", ondelete="CASCADE"), primary_key=True)
    b_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id", ondelete="CASCADE"), primary_key=True, index=True)


class InventoryFile(Base):
    """Which inventory file was loaded, with its checksum and the source it names."""

    __tablename__ = "inventory_file"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(2000))
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)
