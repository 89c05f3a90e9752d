"""The power check's closed vocabularies (GLOSSARY.md: 耗电量核算 `power_check`), each with its Chinese label, and
the reason of each flag in words with its numbers (worded in the reader's language where it is shown)."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext

from app.core.i18n import N_

FLAG_LABELS: dict[str, str] = {
    "production_not_reduced": N_("生产用电未按要求下降"),
    "controls_off": N_("治污设施未正常运行"),
    "meter_silent": N_("电表无数据"),
    "data_incomplete": N_("电表数据不完整"),
    "night_pattern": N_("夜间用电异常"),
    "no_baseline": N_("缺少基准用电数据"),
}
STATUS_LABELS: dict[str, str] = {
    "raised": N_("待核实"),
    "explained": N_("已报备说明"),
    "dismissed": N_("已排除"),
    "confirmed": N_("已确认"),
}
REPORT_LABELS: dict[str, str] = {
    "stoppage": N_("计划停产"),
    "maintenance": N_("检修"),
    "retrofit": N_("改造"),
    "power_cut": N_("停电"),
}
METER_LABELS: dict[str, str] = {
    "production": N_("生产设施电表"),
    "control": N_("治污设施电表"),
    "total": N_("总电表"),
}

REASONS: dict[str, str] = {
    "production_not_reduced": N_(
        "预警期间%(hours)s小时生产用电%(kwh)s千瓦时，为基准%(baseline_kwh)s千瓦时的%(percent_of_baseline)s%%，"
        "超过应急措施允许的%(allowed_percent)s%%（%(ceiling_kwh)s千瓦时）"
    ),
    "controls_off": N_(
        "生产运行时治污设施用电明显偏低%(hours_off)s小时（%(control_kwh_off)s千瓦时，基准%(control_baseline_kwh_off)s"
        "千瓦时）；全天生产用电为基准的%(production_percent)s%%，治污用电为基准的%(control_percent)s%%"
    ),
    "meter_silent": N_("应有%(expected_hours)s小时数据，未收到任何数据"),
    "data_incomplete": N_("应有%(expected_hours)s小时数据，仅收到%(hours_received)s小时"),
    "night_pattern": N_(
        "夜间平均每小时用电%(night_mean_kwh)s千瓦时，为白天%(day_mean_kwh)s千瓦时的%(ratio)s倍"
        "（阈值%(threshold)s倍，预警前%(baseline_ratio)s倍）"
    ),
    "no_baseline": N_("预警前正常生产日仅%(normal_days)s天，少于所需的%(needed_days)s天，无法核算基准"),
}


def flag_label(kind: str) -> str:
    return gettext(FLAG_LABELS[kind]) if kind in FLAG_LABELS else kind


def status_label(status: str) -> str:
    return gettext(STATUS_LABELS[status]) if status in STATUS_LABELS else status


def _number(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "—"
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:g}"
    return str(value)


def reason(kind: str, evidence: dict[str, Any]) -> str:
    """The flag's label and its reason with the numbers: 「生产用电未按要求下降：预警期间24小时……」."""
    return reasons([kind], [evidence])[0]


def reasons(kinds: list[str], evidences: list[dict[str, Any]]) -> list[str]:
    """`reason` of many flags: each kind's template is looked up once (tens of thousands of flags in a province)."""
    templates = {k: (flag_label(k), gettext(REASONS[k]) if k in REASONS else "") for k in set(kinds)}
    out = []
    for kind, evidence in zip(kinds, evidences, strict=True):
        label, template = templates[kind]
        out.append(f"{label}：{template % {k: _number(v) for k, v in evidence.items()}}" if template else label)
    return out
