"""The reduction list's closed vocabularies (GLOSSARY.md), each value with its Chinese label.

LABELS holds the official Chinese terms of the plans: the workbook template and its parser use them as they
are. `.label` is the term in the reader's language, looked up when it is read (the catalog has each term,
marked below with `N_` for extraction).
"""

from __future__ import annotations

from enum import StrEnum

from flask_babel import gettext

from app.core.i18n import N_


class Labelled(StrEnum):
    @property
    def label(self) -> str:
        return gettext(LABELS[self])


class ResponseLevel(Labelled):
    III = "III"
    II = "II"
    I = "I"  # noqa: E741 - the plans' own name for the highest response level


class AlertLevel(Labelled):
    yellow = "yellow"
    orange = "orange"
    red = "red"

    @property
    def order(self) -> int:
        """1 for yellow … 3 for red: a higher level must never be weaker than a lower one."""
        return _ALERT_ORDER[self]

    @property
    def response_level(self) -> ResponseLevel:
        return _RESPONSE[self]

    @classmethod
    def ascending(cls) -> tuple[AlertLevel, ...]:
        return LEVELS

    @classmethod
    def of_response(cls, response: ResponseLevel) -> AlertLevel:
        return next(level for level, r in _RESPONSE.items() if r is response)


class Category(Labelled):
    key = "key"
    guarantee = "guarantee"
    micro = "micro"
    other = "other"


class Grade(Labelled):
    """Performance grade (绩效分级) of a key enterprise under the ministry's technical guide."""

    leading = "leading"
    A = "A"
    B = "B"
    C = "C"
    D = "D"

    @property
    def voluntary(self) -> bool:
        """A-grade and leading enterprises choose their own measures (the guide's 自主减排)."""
        return self in (Grade.A, Grade.leading)


class Pollutant(Labelled):
    so2 = "so2"
    nox = "nox"
    pm = "pm"
    vocs = "vocs"


class MeasureKind(Labelled):
    stop = "stop"
    limit = "limit"
    output_cap = "output_cap"
    staggered_transport = "staggered_transport"
    truck_ban = "truck_ban"
    offroad_ban = "offroad_ban"
    outdoor_work_ban = "outdoor_work_ban"

    @property
    def stationary(self) -> bool:
        """Measures that cut production (so the units' emissions), not transport or machinery."""
        return self in STATIONARY

    @property
    def takes_percent(self) -> bool:
        return self in (MeasureKind.limit, MeasureKind.output_cap)


class OutputBasis(Labelled):
    """How a guarantee enterprise's cap is set (seed 002 §4.3.1.1 (3))."""

    output_by_demand = "output_by_demand"
    output_by_heat = "output_by_heat"


class Verification(Labelled):
    """How a measure is checked: every measure must be operable, monitorable and verifiable."""

    power_meter = "power_meter"
    online_monitoring = "online_monitoring"
    dcs = "dcs"
    video = "video"
    gate_records = "gate_records"


class MachineryStage(Labelled):
    """Emission stage of non-road mobile machinery; bans name the highest stage they cover (国Ⅱ及以下 …)."""

    pre_china_1 = "pre_china_1"
    china_1 = "china_1"
    china_2 = "china_2"
    china_3 = "china_3"
    china_4 = "china_4"
    electric = "electric"

    @property
    def order(self) -> int:
        return _STAGE_ORDER[self]


# Plain tuples and sets: hot loops iterate these rather than the enum classes (much slower).
LEVELS = (AlertLevel.yellow, AlertLevel.orange, AlertLevel.red)
POLLUTANTS = tuple(Pollutant)
STATIONARY = frozenset({MeasureKind.stop, MeasureKind.limit, MeasureKind.output_cap})
_ALERT_ORDER = {AlertLevel.yellow: 1, AlertLevel.orange: 2, AlertLevel.red: 3}
_RESPONSE = {
    AlertLevel.yellow: ResponseLevel.III,
    AlertLevel.orange: ResponseLevel.II,
    AlertLevel.red: ResponseLevel.I,
}
# electric machinery has no exhaust: no ban reaches it
_STAGE_ORDER = {
    MachineryStage.pre_china_1: 0, MachineryStage.china_1: 1, MachineryStage.china_2: 2,
    MachineryStage.china_3: 3, MachineryStage.china_4: 4, MachineryStage.electric: 99,
}  # fmt: skip

# Which evidence can prove which measure: a truck ban shows at the gate, not on a power meter.
_PRODUCTION = frozenset({Verification.power_meter, Verification.online_monitoring, Verification.dcs})
SUITABLE_VERIFICATION: dict[MeasureKind, frozenset[Verification]] = {
    MeasureKind.stop: _PRODUCTION | {Verification.video},
    MeasureKind.limit: _PRODUCTION,
    MeasureKind.output_cap: _PRODUCTION,
    MeasureKind.staggered_transport: frozenset({Verification.gate_records, Verification.video}),
    MeasureKind.truck_ban: frozenset({Verification.gate_records, Verification.video}),
    MeasureKind.offroad_ban: frozenset({Verification.video, Verification.gate_records}),
    MeasureKind.outdoor_work_ban: frozenset({Verification.video}),
}  # fmt: skip

LABELS: dict[Labelled, str] = {
    ResponseLevel.III: N_("Ⅲ级应急响应"),
    ResponseLevel.II: N_("Ⅱ级应急响应"),
    ResponseLevel.I: N_("Ⅰ级应急响应"),
    AlertLevel.yellow: N_("黄色预警"),
    AlertLevel.orange: N_("橙色预警"),
    AlertLevel.red: N_("红色预警"),
    Category.key: N_("重点企业"),
    Category.guarantee: N_("保障类企业"),
    Category.micro: N_("小微涉气企业"),
    Category.other: N_("其他企业"),
    Grade.leading: N_("绩效引领性"),
    Grade.A: N_("A级"),
    Grade.B: N_("B级"),
    Grade.C: N_("C级"),
    Grade.D: N_("D级"),
    Pollutant.so2: N_("二氧化硫"),
    Pollutant.nox: N_("氮氧化物"),
    Pollutant.pm: N_("颗粒物"),
    Pollutant.vocs: N_("挥发性有机物"),
    MeasureKind.stop: N_("停产"),
    MeasureKind.limit: N_("限产"),
    MeasureKind.output_cap: N_("以量定产/以热定产"),
    MeasureKind.staggered_transport: N_("错峰运输"),
    MeasureKind.truck_ban: N_("停用国Ⅳ及以下重型货车"),
    MeasureKind.offroad_ban: N_("停用非道路移动机械"),
    MeasureKind.outdoor_work_ban: N_("停止露天作业"),
    OutputBasis.output_by_demand: N_("以量定产"),
    OutputBasis.output_by_heat: N_("以热定产"),
    Verification.power_meter: N_("用电监控"),
    Verification.online_monitoring: N_("在线监测（CEMS）"),
    Verification.dcs: N_("DCS"),
    Verification.video: N_("视频监控"),
    Verification.gate_records: N_("门禁记录"),
    MachineryStage.pre_china_1: N_("国Ⅰ以前"),
    MachineryStage.china_1: N_("国Ⅰ"),
    MachineryStage.china_2: N_("国Ⅱ"),
    MachineryStage.china_3: N_("国Ⅲ"),
    MachineryStage.china_4: N_("国Ⅳ"),
    MachineryStage.electric: N_("新能源（电动）"),
}
