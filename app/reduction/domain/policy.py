"""One plant one policy (一厂一策): an enterprise's facts, its process units, its measures per alert
level, the expected reductions derived from them, and the checks on them.

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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from app.reduction.domain.vocabulary import (
    LEVELS,
    POLLUTANTS,
    STATIONARY,
    SUITABLE_VERIFICATION,
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
_NO_STAGE = -1
_TOP_STAGE = MachineryStage.china_4.order


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


@dataclass(frozen=True)
class Effect:
    """What one level's measures amount to, the strongest measure winning wherever they overlap."""

    whole_cut: float = 0.0
    unit_cuts: Mapping[str, float] = field(default_factory=dict)
    truck_ban: bool = False
    staggered_transport: bool = False
    offroad_stage: int = _NO_STAGE  # order of the highest banned machinery stage
    outdoor_whole: bool = False
    outdoor_units: frozenset[str] = frozenset()

    def cut_of(self, unit_id: str) -> float:
        return max(self.unit_cuts.get(unit_id, 0.0), self.whole_cut)


def effect(measures: Iterable[Measure]) -> Effect:
    whole, units = 0.0, dict[str, float]()
    truck = staggered = outdoor_whole = False
    stage, outdoor = _NO_STAGE, set[str]()
    for m in measures:
        if m.kind in STATIONARY:
            if m.unit_id is None:
                whole = max(whole, m.cut)
            else:
                units[m.unit_id] = max(units.get(m.unit_id, 0.0), m.cut)
        elif m.kind is MeasureKind.truck_ban:
            truck = True
        elif m.kind is MeasureKind.staggered_transport:
            staggered = True
        elif m.kind is MeasureKind.offroad_ban and m.max_stage is not None:
            stage = max(stage, m.max_stage.order)
        elif m.kind is MeasureKind.outdoor_work_ban:
            if m.unit_id is None:
                outdoor_whole = True
            else:
                outdoor.add(m.unit_id)
    if whole >= 1 - EPS:  # a stopped plant neither ships nor runs machinery nor works outdoors
        truck = staggered = outdoor_whole = True
        stage = _TOP_STAGE
    return Effect(whole, units, truck, staggered or truck, stage, outdoor_whole, frozenset(outdoor))


_FULL_STOP = effect((Measure(MeasureKind.stop, Verification.power_meter),))


def _require_known_units(units: Sequence[ProcessUnit], measures: Iterable[Measure]) -> None:
    known = {u.id for u in units}
    unknown = sorted({m.unit_id for m in measures if m.unit_id is not None and m.unit_id not in known})
    if unknown:
        raise MeasureError(f"措施指向不存在的工序：{'、'.join(unknown)}")


def _fractions(units: Sequence[ProcessUnit], eff: Effect, outdoor: bool) -> dict[Pollutant, float]:
    """Fraction of the stationary emission of each pollutant removed; the unallocated rest of a pollutant
    is reached by whole-plant cuts only. (Inlined cut_of and the outdoor test: this runs for every enterprise
    and level of a province.)"""
    whole, unit_cuts = eff.whole_cut, eff.unit_cuts
    outdoor_whole, outdoor_units = outdoor and eff.outdoor_whole, eff.outdoor_units if outdoor else ()
    allocated = dict.fromkeys(POLLUTANTS, 0.0)
    removed = dict.fromkeys(POLLUTANTS, 0.0)
    for u in units:
        if (outdoor_whole and u.outdoor) or u.id in outdoor_units:
            cut = 1.0
        else:
            cut = unit_cuts.get(u.id, 0.0)
            cut = cut if cut > whole else whole
        for p, share in u.shares.items():
            allocated[p] += share
            removed[p] += share * cut
    return {p: removed[p] + (1 - allocated[p] if allocated[p] < 1 else 0.0) * whole for p in POLLUTANTS}


def _reduction(facts: EnterpriseFacts, units: Sequence[ProcessUnit], eff: Effect) -> dict[Pollutant, float]:
    fractions = _fractions(units, eff, outdoor=True) if units else None
    banned = [amounts for stage, amounts in facts.machinery_emissions.items()
              if MachineryStage(stage).order <= eff.offroad_stage]  # fmt: skip
    trucks = facts.truck_emissions if eff.truck_ban else {}
    days, emissions = facts.operating_days, facts.emissions
    out: dict[Pollutant, float] = {}
    for p in POLLUTANTS:
        fraction = fractions[p] if fractions is not None else eff.whole_cut
        amount = emissions.get(p, 0.0) * fraction + trucks.get(p, 0.0)
        for amounts in banned:
            amount += amounts.get(p, 0.0)
        out[p] = amount / days
    return out


def _bases(units: Sequence[ProcessUnit]) -> list[float] | None:
    """The units' reduction bases, or None unless every unit has a positive one."""
    bases = [u.reduction_base for u in units]
    return [b for b in bases if b is not None and b > 0] if units and all(b and b > 0 for b in bases) else None


def _production_cut(
    facts: EnterpriseFacts, units: Sequence[ProcessUnit], eff: Effect, bases: list[float] | None
) -> float:
    if bases is not None:
        return sum(b * eff.cut_of(u.id) for u, b in zip(units, bases, strict=True)) / sum(bases)
    fractions = _fractions(units, eff, outdoor=False)
    cut = [fractions[p] for p in POLLUTANTS if facts.emissions.get(p, 0.0) > 0]
    return min(cut) if cut else eff.whole_cut


def expected_reduction(
    facts: EnterpriseFacts, units: Sequence[ProcessUnit], measures: Iterable[Measure]
) -> dict[Pollutant, float]:
    """Expected reduction in t/day per pollutant of one level's measures (see the module notes)."""
    measures = tuple(measures)
    _require_known_units(units, measures)
    return _reduction(facts, units, effect(measures))


def full_stop_reduction(facts: EnterpriseFacts) -> dict[Pollutant, float]:
    """What the enterprise would cut in t/day if it stopped altogether: the most it can contribute."""
    return _reduction(facts, (), _FULL_STOP)


def production_cut(facts: EnterpriseFacts, units: Sequence[ProcessUnit], measures: Iterable[Measure]) -> float:
    """Fraction of production one level's measures remove (what a rule's 限产 p % / 停产 is checked on).

    Weighted by the units' reduction bases when every unit has one; otherwise by emissions, taking the
    pollutant cut least (a plant without bases must not pass on its best pollutant). Outdoor-work bans cut
    no production.
    """
    measures = tuple(measures)
    _require_known_units(units, measures)
    return _production_cut(facts, units, effect(measures), _bases(units))


@dataclass(frozen=True)
class Evaluation:
    """Everything derived from one enterprise's policy, computed once per level: what the checks, the
    list's reduction columns and the targets read."""

    effects: Mapping[AlertLevel, Effect]
    reductions: Mapping[AlertLevel, Mapping[Pollutant, float]]  # t/day
    production_cuts: Mapping[AlertLevel, float]
    full_stop: Mapping[Pollutant, float]  # t/day


def evaluate(facts: EnterpriseFacts, units: Sequence[ProcessUnit], policy: PlantPolicy) -> Evaluation:
    """Raises MeasureError when a measure names an unknown unit (policy_problems reports it first)."""
    _require_known_units(units, (m for level in LEVELS for m in policy.at(level)))
    effects = {level: effect(policy.at(level)) for level in LEVELS}
    bases = _bases(units)
    return Evaluation(
        effects,
        {level: _reduction(facts, units, eff) for level, eff in effects.items()},
        {level: _production_cut(facts, units, eff, bases) for level, eff in effects.items()},
        full_stop_reduction(facts),
    )


def _where(unit_id: str | None, names: Mapping[str, str]) -> str:
    return "全厂" if unit_id is None else f"工序“{names.get(unit_id, unit_id)}”"


def escalation_problems(
    policy: PlantPolicy,
    facts: EnterpriseFacts | None = None,
    units: Sequence[ProcessUnit] = (),
    evaluation: Evaluation | None = None,
) -> list[Problem]:
    """Every way a higher level is weaker than the level below it (red ⊇ orange ⊇ yellow).

    Works on the policy alone; with the facts and units it also knows which units work outdoors and
    compares the expected reductions per pollutant. Pass `evaluation` when it is at hand.
    """
    names = {u.id: u.name for u in units}
    if evaluation is None and facts is not None:
        try:
            evaluation = evaluate(facts, units, policy)
        except MeasureError:  # a measure on an unknown unit: policy_problems names it; compare measures only
            evaluation = None
    effects = evaluation.effects if evaluation else {lv: effect(policy.at(lv)) for lv in LEVELS}
    found: list[Problem] = []
    for lo, hi in pairwise(LEVELS):
        a, b = effects[lo], effects[hi]
        before = len(found)

        def weaker(what: str, unit_id: str | None = None, lo: AlertLevel = lo, hi: AlertLevel = hi) -> None:
            found.append(Problem(
                "escalation_weaker",
                f"{hi.label}{what}弱于{lo.label}：高一级预警的措施不得弱于低一级（红色 ⊇ 橙色 ⊇ 黄色）",
                hi, unit_id,
            ))  # fmt: skip

        if b.whole_cut < a.whole_cut - EPS:
            weaker(f"全厂停限产力度（{b.whole_cut:.0%}，{lo.label}为{a.whole_cut:.0%}）")
        for unit_id in sorted(set(a.unit_cuts) | set(b.unit_cuts) | set(names)):
            if unit_id not in a.unit_cuts and unit_id not in b.unit_cuts:
                continue  # only whole-plant cuts reach it: compared above
            high, low = b.cut_of(unit_id), a.cut_of(unit_id)
            if high < low - EPS:
                weaker(f"{_where(unit_id, names)}停限产力度（{high:.0%}，{lo.label}为{low:.0%}）", unit_id)
        if a.truck_ban and not b.truck_ban:
            weaker(f"缺少“{MeasureKind.truck_ban.label}”，")
        elif a.staggered_transport and not b.staggered_transport:
            weaker(f"缺少“{MeasureKind.staggered_transport.label}”，")
        if b.offroad_stage < a.offroad_stage:
            weaker(
                f"停用非道路移动机械的范围（{_stage_text(b.offroad_stage)}，{lo.label}为{_stage_text(a.offroad_stage)}）"
            )
        found.extend(_outdoor_weaker(a, b, units, names, lo, hi))
        if evaluation is not None and len(found) == before:
            low, high = evaluation.reductions[lo], evaluation.reductions[hi]
            for p in POLLUTANTS:
                if high[p] < low[p] - EPS:
                    weaker(f"{p.label}预计减排量（{high[p]:.4f} 吨/日，{lo.label}为{low[p]:.4f} 吨/日）")
    return found


def _stage_text(order: int) -> str:
    if order == _NO_STAGE:
        return "未停用"
    stage = next(s for s in MachineryStage if s.order == order)
    return f"{stage.label}及以下"


def _outdoor_weaker(
    a: Effect,
    b: Effect,
    units: Sequence[ProcessUnit],
    names: Mapping[str, str],
    lo: AlertLevel,
    hi: AlertLevel,
) -> list[Problem]:
    def covered(unit_id: str, outdoor: bool) -> bool:
        return (b.outdoor_whole and outdoor) or unit_id in b.outdoor_units or b.cut_of(unit_id) >= 1 - EPS

    missing: list[str | None] = []
    if a.outdoor_whole and not b.outdoor_whole:
        outdoor_units = [u for u in units if u.outdoor]
        # without the units we cannot tell that unit-level bans reach every outdoor unit
        if not outdoor_units or not all(covered(u.id, True) for u in outdoor_units):
            missing.append(None)
    is_outdoor = {u.id: u.outdoor for u in units}
    missing += [u for u in sorted(a.outdoor_units) if not covered(u, is_outdoor.get(u, False))]
    return [
        Problem(
            "escalation_weaker",
            f"{hi.label}缺少{lo.label}在{_where(u, names)}的“{MeasureKind.outdoor_work_ban.label}”："
            "高一级预警的措施不得弱于低一级（红色 ⊇ 橙色 ⊇ 黄色）",
            hi, u,
        )
        for u in missing
    ]  # fmt: skip


def classification_problems(facts: EnterpriseFacts) -> list[Problem]:
    """A key enterprise without a grade, a grade on a non-key one, a `micro` one that is not micro
    (DOMAIN §5)."""
    found: list[Problem] = []
    if facts.category is Category.key and facts.grade is None:
        found.append(Problem("key_without_grade", "重点企业必须有绩效分级（A级、B级、C级、D级或绩效引领性）"))
    if facts.category is not Category.key and facts.grade is not None:
        found.append(Problem(
            "grade_not_key", f"只有重点企业评定绩效分级，{facts.category.label}不应标注“{facts.grade.label}”",
        ))  # fmt: skip
    if facts.category is Category.micro:
        reasons = [why for flag, why in (
            (facts.uses_coal, "燃煤"), (facts.uses_oil, "燃油"), (facts.toxic, "排放有毒有害大气污染物"),
        ) if flag]  # fmt: skip
        total = sum(float(facts.emissions.get(p, 0.0)) for p in Pollutant)
        if total >= MICRO_LIMIT_T - EPS:
            reasons.append(f"二氧化硫、氮氧化物、颗粒物、挥发性有机物合计{total * 1000:g}千克/年，不低于100千克")
        if reasons:
            found.append(Problem(
                "not_micro",
                f"不符合小微涉气企业条件（非燃煤、非燃油、无有毒有害物质、四项污染物合计年排放100千克以下）：{'；'.join(reasons)}",
            ))  # fmt: skip
    return found


def fact_problems(facts: EnterpriseFacts, units: Sequence[ProcessUnit]) -> list[Problem]:
    """Values that cannot be right: negative amounts, shares outside 0–1 or over 1 in sum, duplicate units."""
    found: list[Problem] = []
    for what, amounts in (("排放量", facts.emissions), ("重型货车排放量", facts.truck_emissions)):
        for p, v in amounts.items():
            if v < 0:
                found.append(Problem("negative_value", f"{Pollutant(p).label}{what}不能为负数（{v:g}）"))
    for stage, amounts in facts.machinery_emissions.items():
        for p, v in amounts.items():
            if v < 0:
                found.append(
                    Problem(
                        "negative_value",
                        f"{MachineryStage(stage).label}非道路移动机械{Pollutant(p).label}排放量不能为负数",
                    )
                )
    if facts.truck_visits_per_day < 0 or any(n < 0 for n in facts.machinery.values()):
        found.append(Problem("negative_value", "车辆进出次数和机械数量不能为负数"))
    if not 1 <= facts.operating_days <= 366:
        found.append(Problem("operating_days", f"年生产天数应在1–366之间，实际为{facts.operating_days}"))
    seen: set[str] = set()
    for u in units:
        if u.id in seen:
            found.append(Problem("duplicate_unit", f"工序编号“{u.id}”重复", unit_id=u.id))
        seen.add(u.id)
        for p, share in u.shares.items():
            if not 0 <= share <= 1:
                what = f"工序“{u.name}”的{Pollutant(p).label}占比{share:g}"
                found.append(Problem("share_range", f"{what}应在0–1之间", unit_id=u.id))
        for label, v in (("环评批复产能", u.eia_capacity), ("排污许可产能", u.permit_capacity),
                         ("上年实际产量", u.last_year_output)):  # fmt: skip
            if v is not None and v < 0:
                found.append(Problem("base_value", f"工序“{u.name}”的{label}不能为负数", unit_id=u.id))
    for p in Pollutant:
        total = sum(float(u.shares.get(p, 0.0)) for u in units)
        if total > 1 + 1e-6:
            found.append(Problem("shares_exceed", f"各工序{p.label}占比合计{total:.4g}，超过1（100%）"))
    return found


def policy_problems(units: Sequence[ProcessUnit], policy: PlantPolicy) -> list[Problem]:
    """Measures pointing at unknown units, and verification that cannot prove the measure."""
    known = {u.id for u in units}
    found: list[Problem] = []
    for level in LEVELS:
        for m in policy.at(level):
            if m.unit_id is not None and m.unit_id not in known:
                message = f"{level.label}的“{m.describe()}”指向不存在的工序“{m.unit_id}”"
                found.append(Problem("unknown_unit", message, level, m.unit_id))
            if m.verification not in SUITABLE_VERIFICATION[m.kind]:
                choices = "、".join(v.label for v in Verification if v in SUITABLE_VERIFICATION[m.kind])
                found.append(Problem(
                    "verification_unsuitable",
                    f"{level.label}的“{m.describe()}”无法用{m.verification.label}核查，应为{choices}之一",
                    level, m.unit_id,
                ))  # fmt: skip
    return found
