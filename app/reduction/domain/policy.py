"""One plant one policy (一厂一策): an enterprise's facts, its process units and its measures per alert
level, as plain values with their shape checked. The expected reductions derived from them and every check on
them are computed by the one rule engine, domain/bulk.py (for one enterprise: `bulk.check`); the notes below
are what it follows.

Conventions a reviewer should know:
- `EnterpriseFacts.emissions` are the stationary (industrial) emissions in t/a; heavy trucks and non-road
  machinery serving the plant are separate facts (`truck_emissions`, `machinery_emissions`), also t/a.
- Daily figures divide annual ones by the enterprise's `operating_days`, 365 unless the bureau enters the
  real number: spreading over the whole year never overstates a day's reduction, and a plant that runs
  330 days says so.
- A unit's `shares` are its fractions of the enterprise's stationary emission of each pollutant; they sum
  to at most 1 per pollutant. The rest (unallocated, e.g. fugitive) is reached only by whole-plant measures.
- Measures on the same part do not add up: the strongest cut counts (stop = 100 %, limit p % = p %,
  output_cap at p % load = 100 − p %). A whole-plant stop also ends transport and machinery work (the
  guide's 停产 lists nothing else), so it counts as a truck ban, a ban of every machinery stage and an
  outdoor-work ban.
- Transport and machinery measures cut only the mobile emissions the facts carry: with no truck or
  machinery emissions entered they count 0 t/day. Staggered transport (错峰运输) moves transport out of
  the alert rather than removing it, so it counts 0 as well; it still satisfies a rule that asks for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from app.reduction.domain.vocabulary import (
    AlertLevel,
    Category,
    Grade,
    MachineryStage,
    MeasureKind,
    OutputBasis,
    Pollutant,
    Verification,
)

OPERATING_DAYS = 365
MICRO_LIMIT_T = 0.1  # SO2 + NOx + PM + VOCs below 100 kg a year (seed 002 §4.3.1.1 (2))
EPS = 1e-9


@dataclass(frozen=True)
class EnterpriseFacts:
    name: str
    category: Category
    grade: Grade | None = None
    industry: str = "other"  # a rule-library industry code (rules.RuleLibrary.industry_of resolves GB/T 4754 codes)
    emissions: Mapping[Pollutant, float] = field(default_factory=dict)  # stationary, t/a
    uses_coal: bool = False
    uses_oil: bool = False
    toxic: bool = False  # emits toxic or hazardous air pollutants (有毒有害大气污染物)
    truck_visits_per_day: int = 0
    machinery: Mapping[MachineryStage, int] = field(default_factory=dict)  # count by emission stage
    truck_emissions: Mapping[Pollutant, float] = field(default_factory=dict)  # China-IV-and-below heavy trucks, t/a
    machinery_emissions: Mapping[MachineryStage, Mapping[Pollutant, float]] = field(default_factory=dict)  # t/a
    operating_days: int = OPERATING_DAYS
    uscc: str = ""

    def __post_init__(self) -> None:
        # stored rows and imports carry the vocabulary's strings; the checks compare enum members
        object.__setattr__(self, "category", Category(self.category))
        object.__setattr__(self, "grade", Grade(self.grade) if self.grade else None)


@dataclass(frozen=True)
class ProcessUnit:
    id: str
    name: str
    shares: Mapping[Pollutant, float] = field(default_factory=dict)
    eia_capacity: float | None = None  # 环评批复产能
    permit_capacity: float | None = None  # 排污许可产能
    last_year_output: float | None = None  # 上年实际产量
    outdoor: bool = False  # open-air work (堆场、露天喷涂 …) that an outdoor-work ban stops

    @property
    def reduction_base(self) -> float | None:
        """The smallest of the capacities given: a plant cannot cut what it neither may nor did produce."""
        given = [v for v in (self.eia_capacity, self.permit_capacity, self.last_year_output) if v is not None]
        return min(given) if given else None


class MeasureError(ValueError):
    pass


@dataclass(frozen=True)
class Measure:
    """One measure of one level. `unit_id` None = the whole plant.

    `percent` means what the order says: for `limit` the cut (限产 20 % → 20), for `output_cap` the
    approved maximum load (以量定产 at 80 % → 80, a cut of 20 %). `max_stage` is the highest machinery
    stage an `offroad_ban` covers.
    """

    kind: MeasureKind
    verification: Verification
    unit_id: str | None = None
    percent: float | None = None
    max_stage: MachineryStage | None = None
    basis: OutputBasis | None = None
    note: str = ""

    def __post_init__(self) -> None:
        # Accept the vocabulary's string values (importers, JSON) but nothing outside it.
        for name, enum, what in (
            ("kind", MeasureKind, "措施类型"),
            ("verification", Verification, "核查方式"),
        ):
            value = getattr(self, name)
            choices = "、".join(m.label for m in enum)
            if value is None or value == "":
                # 可操作、可监测、可核查: a measure nobody can check is not a measure
                raise MeasureError(f"措施必须写明{what}（{choices}之一）")
            try:
                object.__setattr__(self, name, enum(value))
            except ValueError:
                raise MeasureError(f"{what}“{value}”不在词表中，应为{choices}之一") from None
        for name, enum in (("max_stage", MachineryStage), ("basis", OutputBasis)):
            value = getattr(self, name)
            if value is not None:
                try:
                    object.__setattr__(self, name, enum(value))
                except ValueError:
                    raise MeasureError(f"“{value}”不在词表中") from None
        problem = _shape_problem(self)
        if problem:
            raise MeasureError(f"{self.kind.label}：{problem}")

    @property
    def cut(self) -> float:
        """Fraction of production removed on the part it covers (0 for transport and machinery measures)."""
        if self.kind is MeasureKind.stop:
            return 1.0
        if self.kind is MeasureKind.limit:
            return float(self.percent or 0) / 100
        if self.kind is MeasureKind.output_cap:
            return 1 - float(self.percent or 0) / 100
        return 0.0

    def describe(self) -> str:
        if self.kind is MeasureKind.limit:
            return f"限产{self.percent:g}%"
        if self.kind is MeasureKind.output_cap:
            basis = self.basis.label if self.basis else self.kind.label
            return f"{basis}（最大负荷{self.percent:g}%）"
        if self.kind is MeasureKind.offroad_ban and self.max_stage is not None:
            return f"停用{self.max_stage.label}及以下非道路移动机械"
        return self.kind.label


def _shape_problem(m: Measure) -> str | None:
    if m.kind.takes_percent:
        if m.percent is None:
            return "必须填写百分比"
        low_ok = m.percent > 0 if m.kind is MeasureKind.limit else m.percent >= 0
        if not (low_ok and m.percent <= 100) or (m.kind is MeasureKind.output_cap and m.percent >= 100):
            bounds = "大于0且不超过100" if m.kind is MeasureKind.limit else "不小于0且小于100（最大允许负荷）"
            return f"百分比{m.percent:g}应{bounds}"
    elif m.percent is not None:
        return "不带百分比"
    if m.kind is MeasureKind.offroad_ban:
        if m.max_stage is None or m.max_stage is MachineryStage.electric:
            return "必须写明停用到哪一排放阶段（如国Ⅱ及以下）"
    elif m.max_stage is not None:
        return "不带排放阶段"
    if m.basis is not None and m.kind is not MeasureKind.output_cap:
        return "只有以量定产/以热定产写明定产依据"
    if m.unit_id is not None and m.kind in (
        MeasureKind.truck_ban, MeasureKind.staggered_transport, MeasureKind.offroad_ban,
    ):  # fmt: skip
        return "运输和非道路移动机械措施针对全厂，不针对单个工序"
    return None


@dataclass(frozen=True)
class PlantPolicy:
    measures: Mapping[AlertLevel, Sequence[Measure]] = field(default_factory=dict)

    def at(self, level: AlertLevel) -> tuple[Measure, ...]:
        return tuple(self.measures.get(level, ()))


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    level: AlertLevel | None = None
    unit_id: str | None = None
    rule: str | None = None  # "measure_rules/<file>#<id>" for a rule the policy breaks
