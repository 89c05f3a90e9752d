"""Joint-enforcement figures for a period (seed 003: "23个区、市、县230余人开展5轮次联动帮扶，检查重点行业20个、
重点企业242家，移交问题线索159条" and "检查企业24家，查处违法违规问题27起"): per bureau and in total, every
bureau named, and season presets (the autumn-winter campaign, the summer ozone one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.services import bureau_names
from app.cases.models import Case, CaseTransfer, Inspection, TransferItem
from app.core.i18n import N_
from app.core.scoping import unscoped

OTHER_INDUSTRY = "other"


@dataclass
class Figures:
    """One bureau's figures, or the total (bureau_id None): distinct counts are distinct over the rows."""

    bureau_id: int | None
    bureau: str
    districts: set[int] = field(default_factory=set)  # counties (or cities) inspected in
    rounds: set[str] = field(default_factory=set)
    staff: int = 0
    inspections: int = 0
    enterprises: set[str] = field(default_factory=set)
    key_enterprises: set[str] = field(default_factory=set)  # on a reduction list
    key_industries: set[str] = field(default_factory=set)  # their industries
    cases_found: int = 0
    cases_transferred: int = 0
    violations: int = 0

    def counts(self) -> list[int]:
        return [len(self.districts), len(self.rounds), self.staff, self.inspections, len(self.enterprises),
                len(self.key_enterprises), len(self.key_industries), self.cases_found, self.cases_transferred,
                self.violations]  # fmt: skip


# The columns, in the order of seed 003's sentence (the template and the export share them).
COLUMNS = ("参与区县", "检查轮次", "出动人次", "检查次数", "检查企业", "其中重点企业", "重点行业", "发现问题线索",
           "移交问题线索", "查处违法违规问题")  # fmt: skip


def figures(session: Session, start: datetime, end: datetime) -> tuple[list[Figures], Figures]:
    """The rows of the bureaus with anything in the period (readable under the scope), named, and the total."""
    rows: dict[int, Figures] = {}

    def row(bureau_id: int) -> Figures:
        return rows.setdefault(bureau_id, Figures(bureau_id, ""))

    inspections = session.execute(
        select(Inspection.bureau_id, Inspection.jurisdiction_id, Inspection.round_label, Inspection.staff,
               Inspection.enterprise_uscc, Inspection.source_name)
        .where(Inspection.inspected_at >= start, Inspection.inspected_at < end)
    ).all()  # fmt: skip
    codes = {r.enterprise_uscc for r in inspections if r.enterprise_uscc}
    industries = _industries(session, codes)
    for r in inspections:
        f = row(r.bureau_id)
        f.inspections += 1
        f.staff += r.staff or 0
        f.districts.add(r.jurisdiction_id)
        if r.round_label:
            f.rounds.add(r.round_label)
        f.enterprises.add(r.enterprise_uscc or r.source_name)
        if r.enterprise_uscc in industries:
            f.key_enterprises.add(r.enterprise_uscc)
            if industries[r.enterprise_uscc] != OTHER_INDUSTRY:
                f.key_industries.add(industries[r.enterprise_uscc])
    for bureau_id, n in session.execute(
        select(Case.discovered_bureau_id, func.count())
        .where(Case.inspected_at >= start, Case.inspected_at < end).group_by(Case.discovered_bureau_id)
    ).all():  # fmt: skip
        row(bureau_id).cases_found = int(n)
    for bureau_id, n in session.execute(
        select(CaseTransfer.from_bureau_id, func.count(TransferItem.case_id))
        .join(TransferItem, TransferItem.transfer_id == CaseTransfer.id)
        .where(CaseTransfer.transferred_at >= start, CaseTransfer.transferred_at < end)
        .group_by(CaseTransfer.from_bureau_id)
    ).all():  # fmt: skip
        row(bureau_id).cases_transferred = int(n)
    # A violation found = a case its responsible bureau ordered rectified (an enforcement action on record).
    for bureau_id, n in session.execute(
        select(Case.responsible_bureau_id, func.count())
        .where(Case.enforcement_action.is_not(None), Case.inspected_at >= start, Case.inspected_at < end)
        .where(Case.responsible_bureau_id.is_not(None))
        .group_by(Case.responsible_bureau_id)
    ).all():  # fmt: skip
        row(bureau_id).violations = int(n)
    names = bureau_names(session, set(rows))  # every bureau by its name, inside the reader's scope or not
    for bureau_id, f in rows.items():
        f.bureau = names.get(bureau_id, "")
    ordered = sorted(rows.values(), key=lambda f: f.bureau)
    total = Figures(None, "合计")
    for f in ordered:
        for name in ("districts", "rounds", "enterprises", "key_enterprises", "key_industries"):
            getattr(total, name).update(getattr(f, name))
        for name in ("staff", "inspections", "cases_found", "cases_transferred", "violations"):
            setattr(total, name, getattr(total, name) + getattr(f, name))
    return ordered, total


def _industries(session: Session, codes: set[str]) -> dict[str, str]:
    """The industry of each credit code found on a reduction list (a key enterprise), any list, any place: the
    inspected plant may be in another bureau's area (a joint inspection). Counts only leave this function."""
    from app.reduction.models import Enterprise

    if not codes:
        return {}
    found: dict[str, str] = {}
    with unscoped(session):
        for chunk in _chunks(sorted(codes), 500):
            for uscc, industry in session.execute(
                select(Enterprise.uscc, Enterprise.industry).where(Enterprise.uscc.in_(chunk))
            ).all():  # fmt: skip
                found.setdefault(uscc, industry)
    return found


def _chunks(items: list[str], n: int) -> Any:
    for i in range(0, len(items), n):
        yield items[i : i + n]


@dataclass(frozen=True)
class Season:
    key: str
    years: str
    kind: str  # a message id: 秋冬季 / 夏秋季
    start: date
    end: date


def seasons(today: date) -> list[Season]:
    """The campaign periods around today: this and last autumn-winter (Nov 1 – end of Feb, seed 003's 秋冬季
    PM2.5 campaign) and this and last summer-autumn (May 1 – Sep 30, the ozone one), latest first."""
    out = []
    for year in (today.year, today.year - 1):
        winter_end = date(year + 1, 3, 1).toordinal() - 1
        winter = Season(
            f"winter-{year}", f"{year}–{year + 1}", N_("秋冬季"), date(year, 11, 1), date.fromordinal(winter_end)
        )
        out.append(winter)
        out.append(Season(f"summer-{year}", str(year), N_("夏秋季"), date(year, 5, 1), date(year, 9, 30)))
    return sorted((s for s in out if s.start <= today), key=lambda s: s.start, reverse=True)
