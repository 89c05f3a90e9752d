"""Conflicts of interest of an expert for one enterprise, and the other-province rule (seed 001 六: the two
provinces invite each other's experts to grading reviews). Pure: plain values in, reasons out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

RECENT_MONTHS = 12  # a review of the same enterprise within this many months is a conflict


class Conflict:
    own_employer = "own_employer"  # works for the enterprise (same credit code)
    own_jurisdiction = "own_jurisdiction"  # the expert's jurisdiction holds the enterprise, or lies within its place
    recent_review = "recent_review"  # reviewed the same enterprise within RECENT_MONTHS
    same_province = "same_province"  # not from the other province
    inactive = "inactive"


@dataclass(frozen=True)
class Candidate:
    expert_id: int
    employer_uscc: str | None
    jurisdiction_path: str  # "/500000/500152/"
    active: bool = True


def province_of(path: str) -> str:
    return path.strip("/").split("/")[0] if path.strip("/") else ""


def conflicts(c: Candidate, *, enterprise_uscc: str, enterprise_path: str, last_reviewed: datetime | None,
              now: datetime) -> list[str]:  # fmt: skip
    """Why this expert may not review this enterprise (empty: invitable)."""
    reasons = []
    if not c.active:
        reasons.append(Conflict.inactive)
    if province_of(c.jurisdiction_path) == province_of(enterprise_path):
        reasons.append(Conflict.same_province)
    if c.employer_uscc and c.employer_uscc == enterprise_uscc:
        reasons.append(Conflict.own_employer)
    own = c.jurisdiction_path.count("/") > 2  # a province-level expert has no local jurisdiction of their own
    if own and (enterprise_path.startswith(c.jurisdiction_path) or c.jurisdiction_path.startswith(enterprise_path)):
        reasons.append(Conflict.own_jurisdiction)
    if last_reviewed is not None and last_reviewed >= now - timedelta(days=round(RECENT_MONTHS * 365 / 12)):
        reasons.append(Conflict.recent_review)
    return reasons


def invitable(candidates: Iterable[Candidate], **kw: object) -> list[int]:
    return [c.expert_id for c in candidates if not conflicts(c, **kw)]  # type: ignore[arg-type]
