"""The measure rule library (inventories/measure_rules/*.yaml): the minimum measures by industry, category,
grade and alert level. Policies are checked against it by the one rule engine (domain/bulk.py).

Pure: files in, frozen dataclasses out; every problem is collected with its file and entry before anything is
returned, so a bad file changes nothing. The schema is described in inventories/measure_rules/README.md.

Which rules apply to an enterprise (`RuleLibrary.match`):
1. one *base* rule, the first found of: the enterprise's industry file, `general.yaml`, `other.yaml` (the
   fallback industry), matching its category and, for key enterprises, its grade;
2. every *addition* rule (`mode: addition`) whose categories and grades include the enterprise, and every
   `every_plant` addition (seed 002 §4.3.3.3's machinery ban: every industrial plant, whatever its class);
   an addition limited to `plans` only where one of those plans' zones covers the enterprise.
A voluntary base rule (A-grade, leading) has no minimum of its own and takes only the `every_plant` additions. A
requirement an earlier rule already makes, as strictly and of as many enterprises, is not listed twice.
Every rule names the `clause` its flags cite, as an official writes it (never a file path).

A rule marked `verified: false` (with a `reason`) still applies; its flags say that its minimum has not been
checked against the guide's text, so a bureau knows which numbers are the library's own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml
from flask_babel import gettext as _

from app.core.errors import ProblemsError
from app.reduction.domain.policy import EPS, EnterpriseFacts
from app.reduction.domain.vocabulary import LEVELS, AlertLevel, Category, Grade, MachineryStage, MeasureKind

GENERAL, FALLBACK = "*", "other"
_ENTRY_KEYS = {
    "id", "category", "categories", "grade", "grades", "mode", "every_plant", "voluntary", "source", "clause",
    "verified", "reason", "note", "plans", *AlertLevel,
}  # fmt: skip
_REQUIREMENT_KEYS = {"kind", "percent", "share", "max_stage", "min_truck_visits", "note"}
_GRADE_ORDER = (Grade.B, Grade.C, Grade.D)  # each at least as strict as the one before, per level


class RuleError(ProblemsError):
    pass


@dataclass(frozen=True)
class Requirement:
    """A minimum measure. `percent`: for `limit` the least production cut, for `output_cap` the highest load
    allowed (None: any approved cap). `min_truck_visits`: applies only to enterprises with at least that many
    heavy-truck visits a day. `offroad_ban` applies only to enterprises with machinery at or below
    `max_stage`."""

    kind: MeasureKind
    percent: float | None = None
    max_stage: MachineryStage | None = None
    min_truck_visits: int = 0
    note: str = ""
    # `stop` only: stop whole lines (process units) making up at least this % of the reduction base; the
    # policy names which lines stop (停产50%生产线). None: the whole plant stops.
    share: float | None = None

    @property
    def demanded_cut(self) -> float:
        if self.kind is MeasureKind.stop:
            return 1.0 if self.share is None else self.share / 100
        if self.kind is MeasureKind.limit:
            return float(self.percent or 0) / 100
        if self.kind is MeasureKind.output_cap:
            return 1 - float(self.percent) / 100 if self.percent is not None else EPS * 10
        return 0.0

    def describe(self) -> str:
        """The measure as the guide words it, in the reader's language; the rule's `note` (data) in brackets."""
        if self.kind is MeasureKind.limit:
            text = _("限产%(percent)s%%", percent=f"{self.percent:g}")
        elif self.kind is MeasureKind.stop and self.share is not None:
            text = _("停产%(share)s%%，以生产线计", share=f"{self.share:g}")
        elif self.kind is MeasureKind.output_cap and self.percent is not None:
            text = _("%(measure)s（最大负荷不超过%(percent)s%%）", measure=self.kind.label, percent=f"{self.percent:g}")
        elif self.kind is MeasureKind.offroad_ban and self.max_stage is not None:
            text = _("停用%(stage)s及以下非道路移动机械", stage=self.max_stage.label)
        else:
            text = self.kind.label
        if self.min_truck_visits:
            text += _("（日进出重型货车%(visits)s辆次及以上的企业）", visits=self.min_truck_visits)
        return text + (_("（%(note)s）", note=self.note) if self.note else "")

    def applies_to(self, facts: EnterpriseFacts) -> bool:
        if facts.truck_visits_per_day < self.min_truck_visits:
            return False
        if self.kind is MeasureKind.offroad_ban and self.max_stage is not None:
            top = self.max_stage.order
            return any(n > 0 and MachineryStage(s).order <= top for s, n in facts.machinery.items())
        return True


@dataclass(frozen=True)
class Rule:
    id: str
    file: str  # "measure_rules/cement_clinker.yaml"
    industry: str  # "*" for general.yaml
    categories: tuple[Category, ...]
    grades: tuple[Grade, ...]  # for key enterprises; empty = any grade
    levels: Mapping[AlertLevel, tuple[Requirement, ...]]
    source: str
    voluntary: bool = False
    addition: bool = False
    # False: the minimum was not checked against the text `source` names; `reason` says what is missing and why
    verified: bool = True
    reason: str = ""
    every_plant: bool = False  # an addition for every enterprise, voluntary grades included
    # the clause the flags cite, as an official writes it: 《重污染天气重点行业应急减排措施制定技术指南（2020年
    # 修订版）》水泥熟料C级企业减排措施
    clause: str = ""
    # an addition of a plan (the Kashgar plan's machinery ban): only for enterprises its zones cover; empty =
    # wherever the library applies
    plans: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.file}#{self.id}"

    def at(self, level: AlertLevel) -> tuple[Requirement, ...]:
        return self.levels.get(level, ())

    def in_plans(self, plans: Collection[str]) -> bool:
        return not self.plans or any(code in plans for code in self.plans)

    def covers(self, category: Category, grade: Grade | None) -> bool:
        if category not in self.categories:
            return False
        return category is not Category.key or not self.grades or grade in self.grades


@dataclass(frozen=True)
class Industry:
    code: str
    name: str
    national_codes: tuple[str, ...]
    file: str
    source: str


@dataclass(frozen=True)
class Required:
    rule: Rule
    requirement: Requirement


def _covers(have: Requirement, wanted: Requirement) -> bool:
    """`have` asks for at least what `wanted` asks, of at least the same enterprises: `wanted` is not listed
    again (the base rule and the plan-wide addition both ask for the truck ban)."""
    if have.kind is not wanted.kind or have.min_truck_visits > wanted.min_truck_visits:
        return False
    if have.kind is MeasureKind.offroad_ban:
        return have.max_stage == wanted.max_stage  # a wider ban applies to fewer enterprises: both stay
    return have.demanded_cut >= wanted.demanded_cut - EPS


@dataclass(frozen=True)
class RuleMatch:
    industry: str  # the library industry the rules came from
    rules: tuple[Rule, ...]
    fallback: bool  # the enterprise's industry has no file: other.yaml applied
    voluntary: bool
    by_level: Mapping[AlertLevel, tuple[Required, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_level = {}
        for lv in LEVELS:
            found: list[Required] = []
            for r in self.rules:
                for q in r.at(lv):
                    if not any(_covers(have.requirement, q) for have in found):
                        found.append(Required(r, q))
            by_level[lv] = tuple(found)
        object.__setattr__(self, "by_level", by_level)

    def at(self, level: AlertLevel) -> tuple[Required, ...]:
        return self.by_level[level]


@dataclass(frozen=True)
class RuleLibrary:
    industries: Mapping[str, Industry]
    rules: tuple[Rule, ...]
    checksums: Mapping[str, str] = field(default_factory=dict)
    _matches: dict[tuple[str, Grade | None, Category, tuple[str, ...]], RuleMatch] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def industry_of(self, code: str) -> str:
        """The library industry for a library code or a GB/T 4754 code; `other` when unknown."""
        code = (code or "").strip()
        if code in self.industries and code != GENERAL:
            return code
        for industry in self.industries.values():
            if code in industry.national_codes:
                return industry.code
        return FALLBACK

    def match(self, industry: str, grade: Grade | None, category: Category = Category.key,
              plans: Sequence[str] = ()) -> RuleMatch:  # fmt: skip
        """The rules for an enterprise covered by `plans` (plan codes); none for a key enterprise without a
        grade (a classification problem)."""
        key = (industry, grade, category, tuple(sorted(plans)))
        found = self._matches.get(key)
        if found is None:  # a province has ~20,000 enterprises but only a few hundred distinct keys
            found = self._matches[key] = self._match(industry, grade, category, key[3])
        return found

    def _match(self, industry: str, grade: Grade | None, category: Category, plans: tuple[str, ...]) -> RuleMatch:
        own = self.industry_of(industry)
        fallback = own == FALLBACK and industry != FALLBACK
        if category is Category.key and grade is None:
            return RuleMatch(own, (), fallback, False)
        base = None
        for where in dict.fromkeys((own, GENERAL, FALLBACK)):
            base = next((r for r in self.rules if r.industry == where and not r.addition
                         and r.covers(category, grade)), None)  # fmt: skip
            if base is not None:
                break
        if base is None:
            return RuleMatch(own, (), fallback, False)
        additions = [r for r in self.rules if r.addition and r.in_plans(plans)]
        everyone = tuple(r for r in additions if r.every_plant)
        if base.voluntary:
            return RuleMatch(own, (base, *everyone), fallback, True)
        extra = tuple(r for r in additions if not r.every_plant and r.covers(category, grade))
        extra += everyone
        return RuleMatch(own, (base, *extra), fallback, False)

    def required(self, industry: str, grade: Grade | None, level: AlertLevel,
                 category: Category = Category.key, plans: Sequence[str] = ()) -> tuple[Required, ...]:  # fmt: skip
        """The minimum measures for (industry, grade, level) under `plans`, each with the rule it comes from."""
        return self.match(industry, grade, category, plans).at(level)

    def plan_codes(self) -> set[str]:
        """The plans some rule is limited to (checked against the plan files by the inventory load's tests)."""
        return {code for r in self.rules for code in r.plans}


def load(root: Path) -> RuleLibrary:
    """Read every root/*.yaml; raise RuleError naming every problem with its file and entry."""
    industries: dict[str, Industry] = {}
    rules: list[Rule] = []
    checksums: dict[str, str] = {}
    problems: list[str] = []
    paths = sorted(root.glob("*.yaml"))
    if not paths:
        problems.append(f"{root}: no rule files (*.yaml)")
    for path in paths:
        _read_file(path, industries, rules, checksums, problems)
    ids: dict[str, str] = {}
    for r in rules:
        if r.id in ids:
            problems.append(f"{r.file} rule {r.id}: id already used in {ids[r.id]}")
        ids.setdefault(r.id, r.file)
    codes: dict[str, str] = {}
    for ind in industries.values():
        for code in ind.national_codes:
            if code in codes:
                problems.append(f"{ind.file}: national code {code} already belongs to {codes[code]}")
            codes.setdefault(code, ind.code)
    for required in (GENERAL, FALLBACK):
        if required not in industries:
            problems.append(f"measure_rules: the library needs a file with industry '{required}'")
    if problems:
        raise RuleError(problems)
    return RuleLibrary(industries, tuple(rules), checksums)


def _read_file(path: Path, industries: dict[str, Industry], rules: list[Rule], checksums: dict[str, str],
               problems: list[str]) -> None:  # fmt: skip
    name = f"measure_rules/{path.name}"
    try:
        raw = path.read_bytes()
        doc = yaml.safe_load(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        problems.append(f"{name}: cannot be read ({e})")
        return
    checksums[name] = hashlib.sha256(raw).hexdigest()
    if not isinstance(doc, dict):
        problems.append(f"{name}: must be a mapping with industry, name, source and rules")
        return
    before = len(problems)
    for key in ("industry", "name", "source"):
        if not isinstance(doc.get(key), str) or not doc[key].strip():
            problems.append(f"{name}: '{key}' is required")
    check_keys(name, doc, ("industry", "name", "source", "national_codes", "rules"), problems)
    national = doc.get("national_codes", [])
    if not isinstance(national, list) or not all(isinstance(c, str) and c.isdigit() for c in national):
        problems.append(f"{name}: national_codes must be a list of quoted GB/T 4754 digit codes")
        national = []
    entries = doc.get("rules")
    if not isinstance(entries, list) or not entries:
        problems.append(f"{name}: 'rules' must be a non-empty list")
        entries = []
    if len(problems) > before:
        return
    code = doc["industry"].strip()
    if code in industries:
        problems.append(f"{name}: industry '{code}' is already defined in {industries[code].file}")
        return
    industries[code] = Industry(code, doc["name"].strip(), tuple(national), name, doc["source"].strip())
    own: list[Rule] = []
    for i, entry in enumerate(entries, start=1):
        rule = _read_entry(name, code, i, entry, problems)
        if rule is not None:
            own.append(rule)
    _check_file(name, own, problems)
    rules.extend(own)


def _enum_list(value: Any, enum: type, where: str, what: str, problems: list[str]) -> tuple[Any, ...] | None:
    values = value if isinstance(value, list) else [value]
    try:
        return tuple(enum(str(v)) for v in values)
    except ValueError:
        problems.append(f"{where}: {what} {value!r} is not one of {', '.join(enum)}")
        return None


def _read_entry(name: str, industry: str, i: int, entry: Any, problems: list[str]) -> Rule | None:
    if not isinstance(entry, dict):
        problems.append(f"{name} rule {i}: must be a mapping")
        return None
    rule_id = str(entry.get("id") or "").strip()
    where = f"{name} rule {rule_id or i}"
    before = len(problems)
    if not rule_id:
        problems.append(f"{where}: 'id' is required")
    if not isinstance(entry.get("source"), str) or not entry["source"].strip():
        problems.append(f"{where}: 'source' note is required")
    clause = entry.get("clause")
    if not isinstance(clause, str) or not clause.strip():
        problems.append(f"{where}: 'clause' (the document and clause a flag cites) is required")
    elif any(bad in clause for bad in ("seed", "/", ".yaml", "。")):
        problems.append(f"{where}: 'clause' names the document as an official cites it (no file, no seed, no 。)")
    check_keys(where, entry, _ENTRY_KEYS, problems)
    mode = entry.get("mode", "base")
    if mode not in ("base", "addition"):
        problems.append(f"{where}: mode {mode!r} must be base or addition")
    addition = mode == "addition"
    many = ("categories", "grades") if addition else ("category", "grade")
    if entry.get("every_plant") is True:
        for key in ("categories", "grades"):
            if key in entry:
                problems.append(f"{where}: an every_plant addition applies to every enterprise, without '{key}'")
    wrong = ("category", "grade") if addition else ("categories", "grades")
    for key in wrong:
        if key in entry:
            problems.append(f"{where}: a {mode} rule uses '{many[0]}'/'{many[1]}', not '{key}'")
    categories = _enum_list(entry.get(many[0], "key"), Category, where, many[0], problems) or ()
    if entry.get("every_plant") is True:
        categories = tuple(Category)
    grades = () if entry.get(many[1]) is None else _enum_list(entry[many[1]], Grade, where, many[1], problems) or ()
    if not addition:
        if Category.key in categories and not grades:
            problems.append(f"{where}: a rule for key enterprises names its grade")
        if grades and Category.key not in categories:
            problems.append(f"{where}: only key enterprises have a grade")
    plans = entry.get("plans", [])
    if not isinstance(plans, list) or not all(isinstance(c, str) and c.strip() for c in plans):
        problems.append(f"{where}: plans must be a list of plan codes")
        plans = []
    elif plans and not addition:
        problems.append(f"{where}: only an addition is limited to plans")
    every_plant = entry.get("every_plant", False)
    if not isinstance(every_plant, bool) or (every_plant and not addition):
        problems.append(f"{where}: every_plant must be true or false, and only on an addition")
    voluntary = entry.get("voluntary", False)
    if not isinstance(voluntary, bool) or (voluntary and addition):
        problems.append(f"{where}: voluntary must be true or false, and only on a base rule")
    verified = entry.get("verified", True)
    if "reason" in entry and "note" in entry:
        problems.append(f"{where}: 'note' is the older name of 'reason': give one of them")
    reason = entry.get("reason", entry.get("note", ""))
    if not isinstance(verified, bool):
        problems.append(f"{where}: verified must be true or false")
    if not isinstance(reason, str):
        problems.append(f"{where}: reason must be text")
    elif verified is False and not reason.strip():
        problems.append(f"{where}: a rule with verified: false needs a 'reason' saying what was not checked and why")
    levels: dict[AlertLevel, tuple[Requirement, ...]] = {}
    for level in AlertLevel.ascending():
        if level.value not in entry:
            if not voluntary:
                problems.append(f"{where}: level '{level}' is missing (use [] for no minimum)")
            continue
        if voluntary:
            problems.append(f"{where}: a voluntary rule has no levels")
            continue
        items = entry[level.value]
        if not isinstance(items, list):
            problems.append(f"{where} {level}: must be a list of measures")
            continue
        reqs = [_read_requirement(f"{where} {level} measure {n}", item, problems) for n, item in enumerate(items, 1)]
        levels[level] = tuple(r for r in reqs if r is not None)
    if len(problems) > before:
        return None
    return Rule(
        rule_id, name, industry, categories, grades, levels, entry["source"].strip(), voluntary, addition,
        verified, reason.strip(), every_plant is True, clause.strip(), tuple(c.strip() for c in plans),
    )  # fmt: skip


def check_keys(where: str, mapping: Mapping[Any, Any], allowed: Collection[str], problems: list[str]) -> None:
    """Name the keys of a data file's mapping that its schema does not know."""
    unknown = set(mapping) - set(allowed)
    if unknown:
        problems.append(f"{where}: unknown keys {', '.join(sorted(map(str, unknown)))}")


def _read_requirement(where: str, item: Any, problems: list[str]) -> Requirement | None:
    if not isinstance(item, dict):
        problems.append(f"{where}: must be a mapping with 'kind'")
        return None
    before = len(problems)
    check_keys(where, item, _REQUIREMENT_KEYS, problems)
    try:
        kind = MeasureKind(str(item.get("kind")))
    except ValueError:
        problems.append(f"{where}: kind {item.get('kind')!r} is not one of {', '.join(MeasureKind)}")
        return None
    percent = item.get("percent")
    if percent is not None and (isinstance(percent, bool) or not isinstance(percent, int | float)):
        problems.append(f"{where}: percent must be a number")
        percent = None
    if kind is MeasureKind.limit and (percent is None or not 0 < percent <= 100):
        problems.append(f"{where}: limit needs a percent above 0 and at most 100")
    elif kind is MeasureKind.output_cap and percent is not None and not 0 <= percent < 100:
        problems.append(f"{where}: output_cap percent is the highest load allowed, 0 to below 100")
    elif not kind.takes_percent and percent is not None:
        problems.append(f"{where}: {kind} takes no percent")
    stage = None
    if kind is MeasureKind.offroad_ban:
        try:
            stage = MachineryStage(str(item.get("max_stage")))
        except ValueError:
            stage = None
        if stage is None or stage is MachineryStage.electric:
            problems.append(f"{where}: offroad_ban needs max_stage (pre_china_1 … china_4)")
    elif "max_stage" in item:
        problems.append(f"{where}: only offroad_ban takes max_stage")
    share = item.get("share")
    if share is not None and (kind is not MeasureKind.stop or isinstance(share, bool)
                              or not isinstance(share, int | float) or not 0 < share < 100):  # fmt: skip
        problems.append(f"{where}: share (the % of lines a stop covers, above 0 and below 100) only on stop")
        share = None
    visits = item.get("min_truck_visits", 0)
    if not isinstance(visits, int) or isinstance(visits, bool) or visits < 0:
        problems.append(f"{where}: min_truck_visits must be a whole number ≥ 0")
    if len(problems) > before:
        return None
    return Requirement(
        kind,
        None if percent is None else float(percent),
        stage,
        visits,
        str(item.get("note") or ""),
        None if share is None else float(share),
    )


def _demand_gaps(strong: Sequence[Requirement], weak: Sequence[Requirement]) -> list[str]:
    """What `weak` asks for that `strong` does not (requirement lists compared like measure levels)."""
    cut = max((r.demanded_cut for r in strong), default=0.0)
    stop = cut >= 1 - EPS
    gaps = []
    for r in weak:
        if r.kind.stationary:
            ok = cut >= r.demanded_cut - EPS
        elif r.kind is MeasureKind.offroad_ban:
            top = r.max_stage.order if r.max_stage else 0
            ok = stop or any(s.kind is r.kind and s.max_stage and s.max_stage.order >= top for s in strong)
        else:
            accepted = {r.kind, MeasureKind.truck_ban} if r.kind is MeasureKind.staggered_transport else {r.kind}
            ok = stop or any(s.kind in accepted and s.min_truck_visits <= r.min_truck_visits for s in strong)
        if not ok:
            gaps.append(r.describe())
    return gaps


def _check_file(name: str, rules: Sequence[Rule], problems: list[str]) -> None:
    """The library itself must escalate (red ⊇ orange ⊇ yellow) and be stricter for worse grades
    (B ≤ C ≤ D)."""
    for r in rules:
        levels = AlertLevel.ascending()
        for lo, hi in pairwise(levels):
            for gap in _demand_gaps(r.at(hi), r.at(lo)):
                problems.append(f"{name} rule {r.id}: {hi} is weaker than {lo} (lacks {gap})")
    seen: dict[tuple[Category, Grade | None], str] = {}
    for r in rules:
        if r.addition:
            continue
        for c in r.categories:
            for g in r.grades or (None,):
                if (c, g) in seen:
                    problems.append(f"{name} rule {r.id}: {c}/{g or '-'} is already covered by rule {seen[(c, g)]}")
                seen.setdefault((c, g), r.id)
    by_grade = {g: r for r in rules if not r.addition and Category.key in r.categories for g in r.grades}
    present = [g for g in _GRADE_ORDER if g in by_grade]
    for lighter, stricter in pairwise(present):
        for level in AlertLevel.ascending():
            for gap in _demand_gaps(by_grade[stricter].at(level), by_grade[lighter].at(level)):
                rule_id = by_grade[stricter].id
                problems.append(f"{name} rule {rule_id}: {level} is lighter than grade {lighter} (lacks {gap})")
