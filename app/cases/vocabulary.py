"""The closed vocabularies of cases (DOMAIN.md §7, GLOSSARY.md), with their Chinese labels."""

from __future__ import annotations

import enum

from flask_babel import gettext

from app.core.i18n import N_


class SourceType(enum.StrEnum):
    industrial = "industrial"
    dust = "dust"
    mobile = "mobile"
    area = "area"


class Origin(enum.StrEnum):
    field_inspection = "field_inspection"
    power_check = "power_check"
    online_monitoring = "online_monitoring"
    inspection_referral = "inspection_referral"
    assistance_visit = "assistance_visit"
    media = "media"
    complaint = "complaint"
    cross_check = "cross_check"  # a finding of a cross-check campaign (seed 001 五)


class CaseState(enum.StrEnum):
    discovered = "discovered"
    transferred = "transferred"
    returned = "returned"
    received = "received"
    handling = "handling"
    rectifying = "rectifying"
    verified = "verified"
    closed = "closed"


# The closed loop's main path (GLOSSARY.md); `returned` sits beside it (the receiver sends a case back).
MAIN_PATH: tuple[CaseState, ...] = (
    CaseState.discovered,
    CaseState.transferred,
    CaseState.received,
    CaseState.handling,
    CaseState.rectifying,
    CaseState.verified,
    CaseState.closed,
)


def from_on(state: CaseState) -> tuple[CaseState, ...]:
    """The states of the main path from `state` on: a case in any of them has passed through `state`."""
    return MAIN_PATH[MAIN_PATH.index(state) :]


class Escalation(enum.StrEnum):
    """Steps against a bureau that lags (seed 000 (六)4), in order."""

    warning = "warning"
    exposure = "exposure"
    supervised = "supervised"
    summons = "summons"

    @property
    def next(self) -> Escalation | None:
        order = list(Escalation)
        i = order.index(self)
        return order[i + 1] if i + 1 < len(order) else None


class EvidenceKind(enum.StrEnum):
    discovery = "discovery"
    handling = "handling"
    rectification = "rectification"
    verification = "verification"
    transfer_scan = "transfer_scan"  # the signed and sealed paper transfer form


# Topics per source type (seed 000 (六)3): the phone form offers these, free text is allowed too.
TOPICS: dict[SourceType, tuple[str, ...]] = {
    SourceType.industrial: (
        N_("未落实应急减排措施"),
        N_("治污设施未正常运行"),
        N_("超标排放"),
        N_("未按要求错峰生产"),
        N_("在线监测数据异常"),
    ),
    SourceType.dust: (N_("施工工地扬尘管控不到位"), N_("道路扬尘"), N_("物料堆场未覆盖"), N_("渣土车未密闭运输")),
    SourceType.mobile: (
        N_("违反限行管控"),
        N_("门禁系统未运行或数据缺失"),
        N_("柴油货车冒黑烟"),
        N_("非道路移动机械违规使用"),
    ),
    SourceType.area: (
        N_("汽修喷涂无治理设施"),
        N_("加油站油气回收异常"),
        N_("餐饮油烟直排"),
        N_("秸秆露天焚烧"),
        N_("烟花爆竹燃放"),
    ),
}

# Labels by enum and value: the enums share values ("handling" is a state and a kind of evidence), so a dict keyed
# by the members themselves (equal strings) would keep only the last label of each value.
_LABELLED: tuple[tuple[enum.StrEnum, str], ...] = (
    (SourceType.industrial, N_("工业源")),
    (SourceType.dust, N_("扬尘源")),
    (SourceType.mobile, N_("移动源")),
    (SourceType.area, N_("面源")),
    (Origin.field_inspection, N_("现场检查")),
    (Origin.power_check, N_("用电核查")),
    (Origin.online_monitoring, N_("在线监测")),
    (Origin.inspection_referral, N_("督察交办")),
    (Origin.assistance_visit, N_("监督帮扶")),
    (Origin.media, N_("媒体曝光")),
    (Origin.complaint, N_("信访投诉")),
    (Origin.cross_check, N_("交叉抽核")),
    (CaseState.discovered, N_("已发现")),
    (CaseState.transferred, N_("已移交")),
    (CaseState.returned, N_("已退回")),
    (CaseState.received, N_("已签收")),
    (CaseState.handling, N_("处置中")),
    (CaseState.rectifying, N_("整改中")),
    (CaseState.verified, N_("已核查")),
    (CaseState.closed, N_("已销号")),
    (Escalation.warning, N_("警示")),
    (Escalation.exposure, N_("曝光")),
    (Escalation.supervised, N_("督办")),
    (Escalation.summons, N_("约谈")),
    (EvidenceKind.discovery, N_("发现佐证")),
    (EvidenceKind.handling, N_("处置材料")),
    (EvidenceKind.rectification, N_("整改材料")),
    (EvidenceKind.verification, N_("核查佐证")),
    (EvidenceKind.transfer_scan, N_("移交单签章扫描件")),
)
LABELS: dict[tuple[type, str], str] = {(type(member), member.value): text for member, text in _LABELLED}


def label(value: enum.StrEnum | None) -> str:
    """The value's term in the reader's language (looked up now, not when the module was loaded)."""
    return "" if value is None else gettext(LABELS.get((type(value), value.value), str(value)))
