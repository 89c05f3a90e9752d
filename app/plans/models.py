"""Plans: a rule set per region (川渝, 喀什, 朝阳 …), loaded from inventories/plans."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base

if TYPE_CHECKING:
    from app.places.models import LinkageZone


class Plan(Base):
    """A rule set (川渝, 喀什, 朝阳 …). Its rules are loaded from inventories/plans; zones hang off it."""

    __tablename__ = "plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(255))
    # Yearly deadline for bureaus' reduction lists, "MM-DD" (Kashgar: 09-15, seed 002 §8.5); None: no deadline.
    list_deadline: Mapped[str | None] = mapped_column(String(5))
    # Hours a case may stay in a state, {"handling": 48} (inventories/README.md); None: the defaults.
    case_limits: Mapped[dict[str, Any] | None] = mapped_column()
    # The checked rules of the plan file (app/plans/schema.py Rules.to_dict): alert levels, trigger, approval
    # chains, reporting deadlines, reduction targets. Read through app.plans.services.rules_of.
    rules: Mapped[dict[str, Any] | None] = mapped_column()

    @property
    def list_deadline_tuple(self) -> tuple[int, int] | None:
        if not self.list_deadline:
            return None
        month, day = self.list_deadline.split("-")
        return int(month), int(day)

    zones: Mapped[list[LinkageZone]] = relationship(back_populates="plan", order_by="LinkageZone.ordering")
