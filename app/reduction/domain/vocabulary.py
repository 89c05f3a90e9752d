"""The reduction list's closed vocabularies (GLOSSARY.md), each value with its Chinese label.

Labels are plain data (LABELS), not gettext: they are the official terms of the plans and are shown as
they are; the UI adds the English term from its own catalogue.
"""

from __future__ import annotations

from enum import StrEnum


class Labelled(StrEnum):
    @property
    def label(self) -> str:
        return LABELS[self]


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
    ResponseLevel.III: "Ⅲ级应急响应",
    ResponseLevel.II: "Ⅱ级应急响应",
    ResponseLevel.I: "Ⅰ级应急响应",
    AlertLevel.yellow: "黄色预警",
    AlertLevel.orange: "橙色预警",
    AlertLevel.red: "红色预警",
    Category.key: "重点企业",
    Category.guarantee: "保障类企业",
    Category.micro: "小微涉气企业",
    Category.other: "其他企业",
    Grade.leading: "绩效引领性",
    Grade.A: "A级",
    Grade.B: "B级",
    Grade.C: "C级",
    Grade.D: "D级",
    Pollutant.so2: "二氧化硫",
    Pollutant.nox: "氮氧化物",
    Pollutant.pm: "颗粒物",
    Pollutant.vocs: "挥发性有机物",
    MeasureKind.stop: "停产",
    MeasureKind.limit: "限产",
    MeasureKind.output_cap: "以量定产/以热定产",
    MeasureKind.staggered_transport: "错峰运输",
    MeasureKind.truck_ban: "停用国Ⅳ及以下重型货车",
    MeasureKind.offroad_ban: "停用非道路移动机械",
    MeasureKind.outdoor_work_ban: "停止露天作业",
    OutputBasis.output_by_demand: "以量定产",
    OutputBasis.output_by_heat: "以热定产",
    Verification.power_meter: "用电监控",
    Verification.online_monitoring: "在线监测（CEMS）",
    Verification.dcs: "DCS",
    Verification.video: "视频监控",
    Verification.gate_records: "门禁记录",
    MachineryStage.pre_china_1: "国Ⅰ以前",
    MachineryStage.china_1: "国Ⅰ",
    MachineryStage.china_2: "国Ⅱ",
    MachineryStage.china_3: "国Ⅲ",
    MachineryStage.china_4: "国Ⅳ",
    MachineryStage.electric: "新能源（电动）",
}
