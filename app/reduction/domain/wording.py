"""The words of the one rule engine (domain/bulk.py): every problem `bulk.assess` counts, worded from the same
arrays, in the reader's language (Flask-Babel; the msgids are the Chinese sentences, the English is in the
catalog). Built only when asked — the enterprise page, the editor and the import's refusals.

A flag reads as an official writes it: the alert level, the clause the minimum comes from (the rule's
`clause`, data from the rule library, never a file path or a seed), what it asks and what the enterprise's
policy has, in one sentence. The rule's reference (`measure_rules/<file>#<id>`) is the problem's `rule`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.reduction.domain import policy as dp
from app.reduction.domain import rules as dr
from app.reduction.domain.vocabulary import (
    LEVELS,
    POLLUTANTS,
    SUITABLE_VERIFICATION,
    Category,
    Grade,
    MachineryStage,
    MeasureKind,
    Verification,
)

EPS = dp.EPS
NO_STAGE = -1
STAGES = tuple(s for s in MachineryStage)  # by order: pre_china_1 … china_4, electric
STAGE_ORDER = {s.value: s.order for s in MachineryStage}
LEVEL_INDEX = {lv.value: i for i, lv in enumerate(LEVELS)}

_BASE_LABELS = (_l("环评批复产能"), _l("排污许可产能"), _l("上年实际产量"))
ESCALATION = _l("高一级预警的减排措施不得弱于低一级（红色 ⊇ 橙色 ⊇ 黄色）")


def escalation_sentence(what: str) -> str:
    """What is weaker, then the rule it breaks: "…，高一级预警的减排措施不得弱于低一级（…）。"."""
    return _("%(what)s，%(rule)s。", what=what, rule=ESCALATION)


def percent(share: float) -> str:
    return f"{share * 100:.0f}%"


def below_rule(q: dr.Required, level: Any, cut: float) -> str:
    """A policy below its rule's minimum at `level`, as an official writes it: 依据<clause>，<level>期间应<measure>，
    本企业<what it has>。"""
    r = q.requirement
    if r.kind is MeasureKind.stop and r.share is not None:
        actual = _("本企业方案中整条停产的生产线合计占减排基数的%(share)s", share=percent(cut))
    elif r.kind.stationary:
        actual = _("本企业方案的停限产比例为%(share)s（按减排基数计）", share=percent(cut))
    else:
        actual = _("本企业方案中没有该项措施")
    if not q.rule.verified:
        actual += _("，该项要求尚待与原文逐条核对")
    return _(
        "依据%(clause)s，%(level)s期间应%(measure)s，%(actual)s。",
        clause=q.rule.clause, level=level.label, measure=r.describe(), actual=actual,
    )  # fmt: skip


class Wording:
    """Every problem counted by `assess`, worded from its arrays (the counts and the words come from the same
    comparisons)."""

    def __init__(self, p: Any, library: dr.RuleLibrary, mt: dict[str, Any], *arrays: Any) -> None:
        (self.emissions, self.shares, self.capacities, self.allocated, self.days, self.trucks, self.machines,
         self.u_owner, self.codes, self.unit_code, self.evaluated, self.w_whole, self.w_unit, self.w_truck,
         self.w_staggered, self.w_offroad, self.w_outdoor_whole, self.w_outdoor_unit, self.w_reduction,
         self.whole, self.cut_of, self.offroad, self.reductions, self.production, failed) = arrays  # fmt: skip
        self.p, self.library, self.mt = p, library, mt
        n = p.n
        self.units_of = rows_by(self.u_owner, n)
        self.measures_of = rows_by(mt["owner"], n)
        required, ent, req, cut = failed
        self.failed: list[list[tuple[dr.Required, int, float]]] = [[] for _ in range(n)]
        for e, r, c in zip(ent.tolist(), req.tolist(), np.asarray(cut).tolist(), strict=True):
            level, q = required[r]
            self.failed[e].append((q, level, c))

    def of(self, i: int) -> list[dp.Problem]:
        found: list[dp.Problem] = []
        units = self.units_of[i]
        names = {self.p.units[u][0]: self.p.units[u][1] for u in units}
        measures = self.measures_of[i]
        mt = self.mt
        for j in measures:
            if not mt["valid"][j]:
                t = mt["distinct"][mt["ids"][j]]
                level = level_of(t[0])
                error = mt["signatures"][mt["ids"][j]].error
                text = (_("%(level)s的一条已存措施无效：%(error)s", level=level.label, error=error) if level
                        else _("一条已存措施的预警级别“%(level)s”无效", level=t[0]))  # fmt: skip
                found.append(dp.Problem("stored_measure_invalid", text, level))
        found += self._facts(i, units)
        found += self._classification(i)
        unknown = False
        for j in measures:
            if not mt["valid"][j]:
                continue
            t = mt["distinct"][mt["ids"][j]]
            sig = mt["signatures"][mt["ids"][j]]
            level = level_of(t[0])
            assert level is not None and sig.measure is not None
            if mt["unit"][j] == -2:
                unknown = True
                text = _("%(level)s的“%(measure)s”指向不存在的工序“%(unit)s”",
                         level=level.label, measure=sig.measure.describe(), unit=t[1])  # fmt: skip
                found.append(dp.Problem("unknown_unit", text, level, t[1]))
            if not mt["suitable"][j]:
                kind = sig.measure.kind
                choices = _("、").join(v.label for v in Verification if v in SUITABLE_VERIFICATION[kind])
                text = _("%(level)s的“%(measure)s”无法用%(verification)s核查，应为%(choices)s之一",
                         level=level.label, measure=sig.measure.describe(),
                         verification=sig.measure.verification.label, choices=choices)  # fmt: skip
                found.append(dp.Problem("verification_unsuitable", text, level, t[1]))
        if unknown:
            return found
        found += self._escalation(i, units, names)
        found += [
            dp.Problem("below_rule", below_rule(q, LEVELS[j], cut), LEVELS[j], rule=q.rule.ref)
            for q, j, cut in self.failed[i]
        ]
        return found

    def _facts(self, i: int, units: np.ndarray) -> list[dp.Problem]:
        found: list[dp.Problem] = []
        p = self.p

        def negative(text: str, unit_id: str | None = None) -> None:
            found.append(dp.Problem("negative_value", text, unit_id=unit_id))

        for j, pol in enumerate(POLLUTANTS):
            if self.emissions[i, j] < 0:
                negative(_("%(pollutant)s排放量不能为负数（%(value)s）", pollutant=pol.label,
                           value=f"{self.emissions[i, j]:g}"))  # fmt: skip
        for j, pol in enumerate(POLLUTANTS):
            if self.trucks[i, j] < 0:
                negative(_("%(pollutant)s重型货车排放量不能为负数（%(value)s）", pollutant=pol.label,
                           value=f"{self.trucks[i, j]:g}"))  # fmt: skip
        for s, stage in enumerate(STAGES):
            for j, pol in enumerate(POLLUTANTS):
                if self.machines[i, s, j] < 0:
                    negative(_("%(stage)s非道路移动机械%(pollutant)s排放量不能为负数", stage=stage.label,
                               pollutant=pol.label))  # fmt: skip
        counts = [int(v) for k, v in p.machinery[i].items() if str(k) in STAGE_ORDER]
        if int(p.truck_visits[i]) < 0 or any(v < 0 for v in counts):
            negative(_("车辆进出次数和机械数量不能为负数"))
        if not 1 <= int(self.days[i]) <= 366:
            text = _("年生产天数应在1–366之间，实际为%(days)s", days=int(self.days[i]))
            found.append(dp.Problem("operating_days", text))
        seen: set[Any] = set()
        for u in units:
            code, name = p.units[u][0], p.units[u][1]
            if code in seen:
                found.append(dp.Problem("duplicate_unit", _("工序编号“%(code)s”重复", code=code), unit_id=code))
            seen.add(code)
            for j, pol in enumerate(POLLUTANTS):
                share = self.shares[u, j]
                if not 0 <= share <= 1:
                    text = _("工序“%(unit)s”的%(pollutant)s占比%(share)s应在0–1之间",
                             unit=name, pollutant=pol.label, share=f"{share:g}")  # fmt: skip
                    found.append(dp.Problem("share_range", text, unit_id=code))
            for j, label in enumerate(_BASE_LABELS):
                if self.capacities[u, j] < 0:
                    text = _("工序“%(unit)s”的%(what)s不能为负数", unit=name, what=label)
                    found.append(dp.Problem("base_value", text, unit_id=code))
        for j, pol in enumerate(POLLUTANTS):
            if self.allocated[i, j] > 1 + 1e-6:
                text = _("各工序%(pollutant)s占比合计%(total)s，超过1（100%%）", pollutant=pol.label,
                         total=f"{self.allocated[i, j]:.4g}")  # fmt: skip
                found.append(dp.Problem("shares_exceed", text))
        return found

    def _classification(self, i: int) -> list[dp.Problem]:
        p = self.p
        category = Category(str(p.category[i]))
        grade = Grade(str(p.grade[i])) if p.grade[i] else None
        found: list[dp.Problem] = []
        if category is Category.key and grade is None:
            found.append(dp.Problem("key_without_grade", _("重点企业必须有绩效分级（A级、B级、C级、D级或绩效引领性）")))
        if category is not Category.key and grade is not None:
            text = _("只有重点企业评定绩效分级，%(category)s不应标注“%(grade)s”", category=category.label,
                     grade=grade.label)  # fmt: skip
            found.append(dp.Problem("grade_not_key", text))
        if category is Category.micro:
            reasons = [why for flag, why in (
                (p.uses_coal[i], _("燃煤")), (p.uses_oil[i], _("燃油")), (p.toxic[i], _("排放有毒有害大气污染物")),
            ) if flag]  # fmt: skip
            total = float(self.emissions[i].sum())
            if total >= dp.MICRO_LIMIT_T - EPS:
                reasons.append(_("二氧化硫、氮氧化物、颗粒物、挥发性有机物合计%(kg)s千克/年，不低于100千克",
                                 kg=f"{total * 1000:g}"))  # fmt: skip
            if reasons:
                text = _("不符合小微涉气企业条件（非燃煤、非燃油、无有毒有害物质、四项污染物合计年排放100千克以下）："
                         "%(reasons)s", reasons=_("；").join(reasons))  # fmt: skip
                found.append(dp.Problem("not_micro", text))
        return found

    def _escalation(self, i: int, units: np.ndarray, names: Mapping[str, str]) -> list[dp.Problem]:
        found: list[dp.Problem] = []
        by_code = sorted(units.tolist(), key=lambda u: str(self.p.units[u][0]))
        for k, (lo_i, hi_i) in enumerate(((0, 1), (1, 2))):
            lo, hi = LEVELS[lo_i], LEVELS[hi_i]
            both = {"high": hi.label, "low": lo.label}

            def weaker(what: str, unit_id: str | None = None, hi: Any = hi) -> None:
                found.append(dp.Problem("escalation_weaker", escalation_sentence(what), hi, unit_id))

            if self.w_whole[i, k]:
                weaker(_("%(high)s的全厂停限产比例（%(a)s）低于%(low)s（%(b)s）", **both,
                         a=percent(self.whole[i, hi_i]), b=percent(self.whole[i, lo_i])))  # fmt: skip
            for u in by_code:
                if self.w_unit[u, k]:
                    code = self.p.units[u][0]
                    weaker(_("%(high)s%(where)s的停限产比例（%(a)s）低于%(low)s（%(b)s）", **both,
                             where=where(code, names), a=percent(self.cut_of[u, hi_i]),
                             b=percent(self.cut_of[u, lo_i])), code)  # fmt: skip
            for lost, kind in ((self.w_truck, MeasureKind.truck_ban),
                               (self.w_staggered, MeasureKind.staggered_transport)):  # fmt: skip
                if lost[i, k]:
                    weaker(_("%(high)s未采取%(low)s已有的“%(measure)s”", **both, measure=kind.label))
            if self.w_offroad[i, k]:
                weaker(_("%(high)s停用非道路移动机械的范围（%(a)s）小于%(low)s（%(b)s）", **both,
                         a=stage_text(self.offroad[i, hi_i]), b=stage_text(self.offroad[i, lo_i])))  # fmt: skip
            outdoor_missing: list[str | None] = [None] if self.w_outdoor_whole[i, k] else []
            outdoor_missing += [self.p.units[u][0] for u in by_code if self.w_outdoor_unit[u, k]]
            for code in outdoor_missing:
                weaker(_("%(high)s未采取%(low)s在%(where)s已有的“%(measure)s”", **both, where=where(code, names),
                         measure=MeasureKind.outdoor_work_ban.label), code)  # fmt: skip
            for j, pol in enumerate(POLLUTANTS):
                if self.w_reduction[i, k, j]:
                    high, low = self.reductions[i, hi_i, j], self.reductions[i, lo_i, j]
                    weaker(_("%(high)s的%(pollutant)s预计减排量（%(a)s吨/日）低于%(low)s（%(b)s吨/日）", **both,
                             pollutant=pol.label, a=f"{high:.4f}", b=f"{low:.4f}"))  # fmt: skip
        return found


def rows_by(owner: np.ndarray, n: int) -> list[np.ndarray]:
    """The row numbers of each owner, in row order."""
    order = np.argsort(owner, kind="stable")
    return np.split(order, np.cumsum(np.bincount(owner, minlength=n))[:-1]) if n else []


def level_of(value: Any) -> Any:
    index = LEVEL_INDEX.get(str(value))
    return None if index is None else LEVELS[index]


def where(unit_id: str | None, names: Mapping[str, str]) -> str:
    return _("全厂") if unit_id is None else _("工序“%(unit)s”", unit=names.get(unit_id, unit_id))


def stage_text(order: int) -> str:
    if order == NO_STAGE:
        return _("未停用")
    stage = next(s for s in MachineryStage if s.order == order)
    return _("%(stage)s及以下", stage=stage.label)


def joined(messages: Sequence[str]) -> str:
    """Several refusals in one message, the escalation rule stated once at the end."""
    stop, sep = _("。"), _("；")
    rule = escalation_sentence("").removesuffix(stop)  # "，高一级预警的减排措施不得弱于低一级（…）"
    unique = [m.removesuffix(stop) for m in dict.fromkeys(messages)]
    escalation = [m.removesuffix(rule) for m in unique if m.endswith(rule)]
    others = [m for m in unique if not m.endswith(rule)]
    parts = others + ([sep.join(escalation) + rule] if escalation else [])
    return sep.join(parts) + stop
