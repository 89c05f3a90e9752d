"""The response's closed vocabularies (GLOSSARY.md: 驻场督导 / 执法巡查, 每日报送), each with its Chinese label."""

from __future__ import annotations

import enum

from flask_babel import gettext

from app.core.i18n import N_


class _Labelled(enum.StrEnum):
    @property
    def label(self) -> str:
        return gettext(LABELS[self])


class TaskState(_Labelled):
    open = "open"  # measures still to check
    done = "done"  # every required measure checked
    closed = "closed"  # the area's response lifted


class Supervision(_Labelled):
    onsite_supervision = "onsite_supervision"
    patrol = "patrol"


class CheckStatus(_Labelled):
    pending = "pending"
    carried_out = "carried_out"
    not_carried_out = "not_carried_out"


class ReportKind(_Labelled):
    daily = "daily"
    summary = "summary"


LABELS: dict[enum.Enum, str] = {
    TaskState.open: N_("待核查"),
    TaskState.done: N_("已核查"),
    TaskState.closed: N_("已解除"),
    Supervision.onsite_supervision: N_("驻场督导"),
    Supervision.patrol: N_("执法巡查"),
    CheckStatus.pending: N_("未核查"),
    CheckStatus.carried_out: N_("已落实"),
    CheckStatus.not_carried_out: N_("未落实"),
    ReportKind.daily: N_("每日报送"),
    ReportKind.summary: N_("过程总结"),
}

# The fields a plan's daily report and summary may ask for (plans' `reporting.*_fields`, checked on load),
# with their labels: seed 000 四(六)2, seed 004 五(三)1, seed 002 §5.1.
REPORT_FIELDS: dict[str, str] = {
    "leaders_activities": N_("当日政府领导动向"),
    "bureau_work": N_("生态环境部门和相关部门工作及成效"),
    "next_plans": N_("后续工作计划"),
    "issue_list_rectification": N_("会商报告问题清单核查整改情况"),
    "on_site_supervision": N_("工业源驻场督导情况"),
    "patrols": N_("现场巡查情况"),
    "online_supervision": N_("线上监管情况"),
    "area_source_control": N_("面源污染管控情况"),
    "previous_day_response": N_("前1日应急响应情况"),
    "alert": N_("重污染天气预警发布情况"),
    "duration": N_("预警持续时间"),
    "departments_response": N_("各部门响应情况"),
    "enterprises_implementation": N_("企业措施落实情况"),
    "work_summary": N_("污染过程应对工作总结"),
}


def field_label(key: str) -> str:
    return gettext(REPORT_FIELDS[key]) if key in REPORT_FIELDS else key
