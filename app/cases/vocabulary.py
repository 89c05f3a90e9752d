"""The closed vocabularies of cases (DOMAIN.md §7, GLOSSARY.md), with their Chinese labels."""

from __future__ import annotations

import enum


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
        "未落实应急减排措施",
        "治污设施未正常运行",
        "超标排放",
        "未按要求错峰生产",
        "在线监测数据异常",
    ),
    SourceType.dust: ("施工工地扬尘管控不到位", "道路扬尘", "物料堆场未覆盖", "渣土车未密闭运输"),
    SourceType.mobile: ("违反限行管控", "门禁系统未运行或数据缺失", "柴油货车冒黑烟", "非道路移动机械违规使用"),
    SourceType.area: ("汽修喷涂无治理设施", "加油站油气回收异常", "餐饮油烟直排", "秸秆露天焚烧", "烟花爆竹燃放"),
}

# Labels by enum and value: the enums share values ("handling" is a state and a kind of evidence), so a dict keyed
# by the members themselves (equal strings) would keep only the last label of each value.
_LABELLED: tuple[tuple[enum.StrEnum, str], ...] = (
    (SourceType.industrial, "工业源"),
    (SourceType.dust, "扬尘源"),
    (SourceType.mobile, "移动源"),
    (SourceType.area, "面源"),
    (Origin.field_inspection, "现场检查"),
    (Origin.power_check, "用电核查"),
    (Origin.online_monitoring, "在线监测"),
    (Origin.inspection_referral, "督察交办"),
    (Origin.assistance_visit, "监督帮扶"),
    (Origin.media, "媒体曝光"),
    (Origin.complaint, "信访投诉"),
    (CaseState.discovered, "已发现"),
    (CaseState.transferred, "已移交"),
    (CaseState.returned, "已退回"),
    (CaseState.received, "已签收"),
    (CaseState.handling, "处置中"),
    (CaseState.rectifying, "整改中"),
    (CaseState.verified, "已核查"),
    (CaseState.closed, "已销号"),
    (Escalation.warning, "警示"),
    (Escalation.exposure, "曝光"),
    (Escalation.supervised, "督办"),
    (Escalation.summons, "约谈"),
    (EvidenceKind.discovery, "发现佐证"),
    (EvidenceKind.handling, "处置材料"),
    (EvidenceKind.rectification, "整改材料"),
    (EvidenceKind.verification, "核查佐证"),
    (EvidenceKind.transfer_scan, "移交单签章扫描件"),
)
LABELS: dict[tuple[type, str], str] = {(type(member), member.value): text for member, text in _LABELLED}


def label(value: enum.StrEnum | None) -> str:
    return "" if value is None else LABELS.get((type(value), value.value), str(value))
