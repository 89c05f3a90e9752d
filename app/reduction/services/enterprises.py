"""Reading enterprises: the list page's search, filters, sort and pagination (fast over 100,000 rows), and
one enterprise with everything the enterprise page and the API show.

Every query goes through central scoping (an enterprise outside the user's scope is simply not found). The
flags column, the "flagged" filter and the count of flagged enterprises read the assessment stored with every
enterprise (models.EnterpriseAssessment): plain SQL, whatever the size of the list.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import String, exists, func, or_, select, type_coerce
from sqlalchemy.orm import Session, aliased, selectinload

from app.core.errors import NotFound, ServiceError
from app.core.i18n import N_
from app.core.inputs import bounded_int
from app.core.masking import mask_phone
from app.core.memo import per_transaction
from app.core.scoping import get_scope
from app.places.models import Jurisdiction
from app.reduction.domain import uscc as uscc_rules
from app.reduction.domain.vocabulary import Category, Grade
from app.reduction.models import Enterprise, EnterpriseAssessment, ReductionList
from app.reduction.services import rule_library

PER_PAGE = 50
MAX_PER_PAGE = 200
_S = String()

SORTS: dict[str, tuple[Any, ...]] = {
    "name": (Enterprise.name.asc(),),
    "-name": (Enterprise.name.desc(),),
    "uscc": (Enterprise.uscc.asc(),),
    "county": (Enterprise.jurisdiction_id.asc(), Enterprise.name.asc()),
    "so2": (Enterprise.so2.desc(),),
    "nox": (Enterprise.nox.desc(),),
    "pm": (Enterprise.pm.desc(),),
    "vocs": (Enterprise.vocs.desc(),),
}
SORT_LABELS = {
    "name": N_("名称（升序）"),
    "-name": N_("名称（降序）"),
    "uscc": N_("统一社会信用代码"),
    "county": N_("区县"),
    "so2": N_("二氧化硫排放量"),
    "nox": N_("氮氧化物排放量"),
    "pm": N_("颗粒物排放量"),
    "vocs": N_("挥发性有机物排放量"),
}
FLAG_FILTERS = ("", "flagged", "clean")
_CODE_CHARS = re.compile(r"^[0-9A-Z]{4,18}$")


@dataclass(frozen=True)
class Filters:
    q: str = ""
    county: str = ""
    industry: str = ""
    category: str = ""
    grade: str = ""
    flags: str = ""
    sort: str = "name"
    page: int = 1
    per_page: int = PER_PAGE

    def args(self, **changes: Any) -> dict[str, Any]:
        """Query arguments that reproduce these filters (for links), without empty ones."""
        values = {
            "q": self.q,
            "county": self.county,
            "industry": self.industry,
            "category": self.category,
            "grade": self.grade,
            "flags": self.flags,
            "sort": self.sort if self.sort != "name" else "",
            "per_page": self.per_page if self.per_page != PER_PAGE else "",
            **changes,
        }
        return {k: v for k, v in values.items() if v not in ("", None)}

    @property
    def active(self) -> bool:
        return any((self.q, self.county, self.industry, self.category, self.grade, self.flags))


def _int(args: Mapping[str, Any], name: str, default: int, low: int, high: int, label: str) -> int:
    raw = str(args.get(name) or "").strip()
    return bounded_int(raw, low, high, label=label, field=name) if raw else default


def parse_filters(args: Mapping[str, Any]) -> Filters:
    """Filters from query arguments; a value outside its vocabulary is refused naming the field."""
    q = str(args.get("q") or "").strip()[:100]
    category = str(args.get("category") or "").strip()
    if category and category not in {c.value for c in Category}:
        raise ServiceError(_("“企业类别”的取值“%(v)s”无效。", v=category[:20]), field="category")
    grade = str(args.get("grade") or "").strip()
    if grade and grade not in {g.value for g in Grade} | {"none"}:
        raise ServiceError(_("“绩效分级”的取值“%(v)s”无效。", v=grade[:20]), field="grade")
    flags = str(args.get("flags") or "").strip()
    if flags not in FLAG_FILTERS:
        raise ServiceError(_("“问题标记”的取值“%(v)s”无效。", v=flags[:20]), field="flags")
    sort = str(args.get("sort") or "name").strip()
    if sort not in SORTS:
        raise ServiceError(_("“排序”的取值“%(v)s”无效。", v=sort[:20]), field="sort")
    industry = str(args.get("industry") or "").strip()[:32]
    if industry and industry not in industries():
        raise ServiceError(_("“行业”的取值“%(v)s”无效。", v=industry), field="industry")
    county = str(args.get("county") or "").strip()[:12]
    if county and not county.isalnum():
        raise ServiceError(_("“区县”的取值“%(v)s”无效。", v=county), field="county")
    return Filters(
        q=q,
        county=county,
        industry=industry,
        category=category,
        grade=grade,
        flags=flags,
        sort=sort,
        page=_int(args, "page", 1, 1, 1_000_000, _("页码")),
        per_page=_int(args, "per_page", PER_PAGE, 1, MAX_PER_PAGE, _("每页条数")),
    )


def industries() -> dict[str, str]:
    """Rule-library industry code → name (the `industry` column's vocabulary)."""
    library = rule_library.current()
    if _INDUSTRIES and _INDUSTRIES[0] is library:  # the library is read once per process
        return _INDUSTRIES[1]
    found = {code: ind.name for code, ind in library.industries.items() if code != "*"}
    _INDUSTRIES[:] = [library, dict(sorted(found.items(), key=lambda kv: (kv[0] == "other", kv[0])))]
    return _INDUSTRIES[1]


_INDUSTRIES: list[Any] = []


@dataclass(frozen=True)
class Place:
    id: int
    code: str
    name: str
    path: str


@dataclass
class Places:
    """The jurisdiction tree as plain values: reference data, changed only by `flask inventories load`."""

    by_code: dict[str, Place]
    by_id: dict[int, Place]
    loaded_at: float

    def subtree(self, path: str) -> list[Place]:
        return sorted((p for p in self.by_id.values() if p.path.startswith(path)), key=lambda p: p.path)


def places(session: Session) -> Places:
    """The jurisdictions (about 200), read once per transaction: never older than the last
    `flask inventories load`."""
    return per_transaction(session, "places", lambda: _read_places(session))


def _read_places(session: Session) -> Places:
    rows = session.execute(select(Jurisdiction.id, Jurisdiction.code, Jurisdiction.name, Jurisdiction.path))
    every = [Place(*r) for r in rows]
    return Places({p.code: p for p in every}, {p.id: p for p in every}, 0.0)


def counties(session: Session, lst: ReductionList) -> list[Place]:
    """Jurisdictions below the list's (the counties of a city list); empty for a county's own list."""
    own = places(session).by_id.get(lst.jurisdiction_id)
    if own is None:
        return []
    return [p for p in places(session).subtree(own.path) if p.id != own.id]


@dataclass
class Row:
    id: int
    uscc: str
    name: str
    industry: str
    category: str
    grade: str | None
    so2: float
    nox: float
    pm: float
    vocs: float
    jurisdiction_id: int
    county: str = ""
    problems: int | None = None  # None: no stored assessment (not checked yet)
    codes: tuple[str, ...] = ()

    @property
    def amounts(self) -> tuple[str, str, str, str]:
        """The four emissions as shown in the table (t/a, two decimals)."""
        return (f"{self.so2:.2f}", f"{self.nox:.2f}", f"{self.pm:.2f}", f"{self.vocs:.2f}")


@dataclass
class Page:
    rows: list[Row]
    total: int
    page: int
    per_page: int
    flagged_total: int  # flagged enterprises of the whole list (that the user may see)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def _conditions(session: Session, lst: ReductionList, f: Filters, county_ids: list[int] | None) -> list[Any]:
    e = Enterprise
    conds: list[Any] = [e.list_id == lst.id]
    if f.q:
        code = uscc_rules.normalise(f.q)
        name_match = e.name.contains(f.q, autoescape=True)
        conds.append(
            or_(name_match, e.uscc.startswith(code, autoescape=True)) if _CODE_CHARS.match(code) else name_match
        )
    if county_ids is not None:
        conds.append(e.jurisdiction_id.in_(county_ids))
    if f.industry:
        conds.append(e.industry == f.industry)
    if f.category:
        conds.append(e.category == Category(f.category))
    if f.grade == "none":
        conds.append(e.grade.is_(None))
    elif f.grade:
        conds.append(e.grade == Grade(f.grade))
    if f.flags:
        a = aliased(EnterpriseAssessment)  # the page's query joins the table itself
        problems = a.problems > 0 if f.flags == "flagged" else a.problems == 0
        conds.append(exists().where(a.enterprise_id == e.id, problems))
    return conds


def _county_ids(session: Session, code: str) -> list[int]:
    j = places(session).by_code.get(code)
    if j is None:
        raise ServiceError(_("“区县”的取值“%(v)s”无效。", v=code), field="county")
    return [p.id for p in places(session).subtree(j.path)]


# Counts of filtered lists, per list version: paging through a filtered list counts it once. The key holds
# everything the count depends on: the list (its id and creation time, so that a reused id cannot match) and
# its lock_version, which every change of its enterprises or of their assessments moves
# (assessments.recount, lists.touch); the filters; the reader's reach.
_COUNTS: OrderedDict[tuple[Any, ...], int] = OrderedDict()
COUNTS_KEPT = 2048


def _count_key(session: Session, lst: ReductionList, f: Filters) -> tuple[Any, ...]:
    scope = get_scope(session)
    reach = None if scope is None or scope.unrestricted else scope.readable
    where = (f.q, f.county, f.industry, f.category, f.grade, f.flags)
    return (str(session.get_bind().engine.url), lst.id, lst.created_at, lst.lock_version, where, reach)


def _remember(key: tuple[Any, ...], total: int) -> None:
    _COUNTS[key] = total
    if len(_COUNTS) > COUNTS_KEPT:
        _COUNTS.popitem(last=False)


def _within_scope(session: Session, county_ids: list[int] | None) -> bool:
    """The county filter alone keeps the rows inside the reader's scope (every jurisdiction of the county is
    readable). Then the scope's criterion adds nothing but, on PostgreSQL 15, takes the index: an `= ANY`
    on the county column makes the scan one descent per readable jurisdiction, out of name order, so the
    page sorted the whole county (12 ms) instead of reading its first rows in order (1 ms)."""
    scope = get_scope(session)
    if not county_ids or scope is None or scope.unrestricted:
        return False
    return set(county_ids) <= scope.readable


_COLUMNS = (
    Enterprise.id,
    Enterprise.uscc,
    Enterprise.name,
    Enterprise.industry,
    type_coerce(Enterprise.category, _S),
    type_coerce(Enterprise.grade, _S),
    Enterprise.so2,
    Enterprise.nox,
    Enterprise.pm,
    Enterprise.vocs,
    Enterprise.jurisdiction_id,
)


def search(session: Session, lst: ReductionList, f: Filters) -> Page:
    """One page of the list's enterprises under the filters, with their flags."""
    a = EnterpriseAssessment
    county_ids = _county_ids(session, f.county) if f.county else None
    conds = _conditions(session, lst, f, county_ids)
    # count(*), not count(id): the covering index answers it without reading the table. It rides along with
    # the page as an uncorrelated subquery (run once): one statement instead of two.
    count = select(func.count()).select_from(Enterprise).where(*conds)
    options = {"include_all_jurisdictions": True} if _within_scope(session, county_ids) else {}
    key = _count_key(session, lst, f)
    known = _COUNTS.get(key)
    columns = [*_COLUMNS, a.problems, a.codes]
    if known is None:
        columns.append(count.correlate(None).scalar_subquery())
    raw = session.execute(
        select(*columns)
        .outerjoin(a, a.enterprise_id == Enterprise.id)
        .where(*conds)
        .order_by(*SORTS[f.sort], Enterprise.id.asc())
        .limit(f.per_page)
        .offset((f.page - 1) * f.per_page)
        .execution_options(**options)
    ).all()
    if known is not None:
        total = known
    else:
        # past the last page there is no row to carry the count
        total = raw[0][-1] if raw else session.scalar(count.execution_options(**options)) or 0
        raw = [r[:-1] for r in raw]
        _remember(key, total)
    rows = [Row(*r[:-2], problems=r[-2], codes=tuple(r[-1] or ())) for r in raw]
    by_id = places(session).by_id
    for r in rows:
        found = by_id.get(r.jurisdiction_id)
        r.county = found.name if found else ""
    return Page(rows, total or 0, f.page, f.per_page, flagged_count(session, lst))


def flagged_count(session: Session, lst: ReductionList) -> int:
    """Enterprises of the list with at least one flag that the user may see: the list's stored count per
    jurisdiction (services/assessments.recount), summed over the reader's jurisdictions."""
    scope = get_scope(session)
    if scope is None or scope.unrestricted:
        return sum(lst.flagged.values())
    readable = scope.readable
    return sum(n for j, n in lst.flagged.items() if int(j) in readable)


# --- one enterprise ---------------------------------------------------------------------------------------


def get_enterprise(session: Session, enterprise_id: int) -> Enterprise:
    e = session.scalar(
        select(Enterprise)
        .where(Enterprise.id == enterprise_id)
        .options(
            selectinload(Enterprise.units),
            selectinload(Enterprise.measures),
            selectinload(Enterprise.facilities),
            selectinload(Enterprise.meters),
            selectinload(Enterprise.staggered_periods),
        )
    )
    if e is None or e.reduction_list is None:
        # Not found, or readable only through a cross-check grant (the list itself is not granted): the
        # reviewer reads it on the cross-check screens.
        raise NotFound(_("企业不存在，或不在您的辖区范围内。"))
    return e


def sees_contact(user: Any, e: Enterprise) -> bool:
    """Only the bureau that owns the enterprise's list sees the contact phone in full."""
    return user is not None and user.bureau_id == e.reduction_list.bureau_id


def contact_phone(user: Any, e: Enterprise) -> str:
    """The contact phone as this user may see it (app/core/masking.py, as in the export and the API)."""
    return e.contact_phone if sees_contact(user, e) else mask_phone(e.contact_phone)


@dataclass
class UnitView:
    code: str
    name: str
    shares: dict[str, float]
    eia_capacity: float | None
    permit_capacity: float | None
    last_year_output: float | None
    reduction_base: float | None
    capacity_unit: str
    outdoor: bool
    under_rectification: bool
    meters: list[str] = field(default_factory=list)


def unit_views(e: Enterprise) -> list[UnitView]:
    meters: dict[int | None, list[str]] = {}
    for m in e.meters:
        meters.setdefault(m.process_unit_id, []).append(m.number)
    return [
        UnitView(
            u.code,
            u.name,
            {"so2": u.share_so2, "nox": u.share_nox, "pm": u.share_pm, "vocs": u.share_vocs},
            u.eia_capacity,
            u.permit_capacity,
            u.last_year_output,
            u.reduction_base,
            u.capacity_unit,
            u.outdoor,
            u.under_rectification,
            meters.get(u.id, []),
        )
        for u in e.units
    ]
