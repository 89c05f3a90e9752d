"""The closed vocabularies of alert episodes and proposals (GLOSSARY.md `alert_proposal`), with Chinese labels."""

from __future__ import annotations

import enum

from flask_babel import gettext

from app.core.i18n import N_


class EpisodeState(enum.StrEnum):
    """An episode (重污染天气过程): proposed until its first proposal is issued, then issued until lifted."""

    proposed = "proposed"
    issued = "issued"
    lifted = "lifted"
    cancelled = "cancelled"  # its issue proposal was refused or withdrawn: nothing was ever in force


class ProposalKind(enum.StrEnum):
    issue = "issue"
    upgrade = "upgrade"
    downgrade = "downgrade"
    lift = "lift"


class ProposalState(enum.StrEnum):
    drafted = "drafted"
    under_approval = "under_approval"
    approved = "approved"
    issued = "issued"
    refused = "refused"
    withdrawn = "withdrawn"


class Decision(enum.StrEnum):
    agree = "agree"
    refuse = "refuse"


class EventKind(enum.StrEnum):
    """The episode's timeline (append-only, `episode_event`)."""

    drafted = "drafted"
    submitted = "submitted"
    decided = "decided"
    approved = "approved"
    refused = "refused"
    withdrawn = "withdrawn"
    issued = "issued"
    confirmed = "confirmed"
    letter_printed = "letter_printed"


LABELS = {
    EpisodeState.proposed: N_("建议中"),
    EpisodeState.issued: N_("预警中"),
    EpisodeState.lifted: N_("已解除"),
    EpisodeState.cancelled: N_("未发布"),
    ProposalKind.issue: N_("发布预警"),
    ProposalKind.upgrade: N_("预警升级"),
    ProposalKind.downgrade: N_("预警降级"),
    ProposalKind.lift: N_("解除预警"),
    ProposalState.drafted: N_("草稿"),
    ProposalState.under_approval: N_("审批中"),
    ProposalState.approved: N_("已批准，待发布"),
    ProposalState.issued: N_("已发布"),
    ProposalState.refused: N_("未批准"),
    ProposalState.withdrawn: N_("已撤回"),
    Decision.agree: N_("同意"),
    Decision.refuse: N_("不同意"),
    EventKind.drafted: N_("拟定预警建议"),
    EventKind.submitted: N_("提交审批"),
    EventKind.decided: N_("审批意见"),
    EventKind.approved: N_("审批通过"),
    EventKind.refused: N_("审批未通过"),
    EventKind.withdrawn: N_("撤回建议"),
    EventKind.issued: N_("发布"),
    EventKind.confirmed: N_("成员单位确认启动"),
    EventKind.letter_printed: N_("打印预警建议函"),
}

LEVEL_LABELS = {"yellow": N_("黄色预警"), "orange": N_("橙色预警"), "red": N_("红色预警")}
ACTION_LABELS = {"review": N_("审核"), "agree": N_("同意"), "approve": N_("审批")}


def label(value: enum.Enum | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, enum.Enum):
        return gettext(LABELS[value])  # type: ignore[index]
    return gettext(LEVEL_LABELS.get(value) or ACTION_LABELS.get(value) or value)
