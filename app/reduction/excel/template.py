"""The Excel template of a reduction list: the one specification that the reader, the importer, the exporter,
the downloadable template and docs/excel-template.md all follow.

Main sheet `应急减排清单`: two header rows (row 1 the merged group headers 企业基本信息 |
生产线/工序 | 黄色预警 | 橙色预警 | 红色预警, row 2 the column names), then one row per (enterprise,
process unit). Optional sheets `治污设施` and `电表` have one header row. Headers and values are Chinese
labels; enum values (`key`, `stop` …) are accepted as well. Columns are found by their headers (within
their group for the level blocks), so their order may change.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from app.reduction.domain.vocabulary import (
    LABELS,
    LEVELS,
    POLLUTANTS,
    AlertLevel,
    Category,
    Grade,
    Labelled,
    MachineryStage,
    MeasureKind,
    OutputBasis,
    Verification,
)
from app.reduction.models import MeterKind

MAIN_SHEET = "应急减排清单"
FACILITY_SHEET = "治污设施"
METER_SHEET = "电表"
HELP_SHEET = "填写说明"
HEADER_ROWS = 2  # on the main sheet; data starts on Excel row 3
WHOLE_PLANT = "全厂"  # the unit code of whole-plant measures

G_ENTERPRISE = "企业基本信息"
G_UNIT = "生产线/工序"
LEVEL_GROUPS = {level: LABELS[level] for level in LEVELS}  # 黄色预警 …
GROUPS = (G_ENTERPRISE, G_UNIT, *LEVEL_GROUPS.values())

YES, NO = "是", "否"
METER_LABELS = {MeterKind.production: "生产用电", MeterKind.control: "治污用电", MeterKind.total: "总用电"}
MACHINERY_STAGES = tuple(MachineryStage)
POLLUTANT_SHORT = {"so2": "SO2", "nox": "NOx", "pm": "PM", "vocs": "VOCs"}


@dataclass(frozen=True)
class Column:
    key: str  # field name (enterprise / unit / measure field, or "machinery:<stage>", "truck:<pollutant>")
    header: str  # row-2 header as written in the template
    group: str
    kind: str  # text, uscc, county, industry, number, integer, share, bool, date, enum, emissions
    required: bool = False
    width: int = 12
    maxlen: int = 0  # text columns
    low: float | None = None
    high: float | None = None
    choices: str = ""  # name of the vocabulary (CHOICES) for enum columns
    help: str = ""


def _num(key: str, header: str, group: str, help: str = "", **kw: object) -> Column:
    return Column(key, header, group, "number", low=0, help=help or "不小于0的数字", **kw)  # type: ignore[arg-type]


ENTERPRISE_COLUMNS: tuple[Column, ...] = (
    Column(
        "uscc",
        "统一社会信用代码",
        G_ENTERPRISE,
        "uscc",
        True,
        22,
        help="18位，按GB 32100-2015校验；同一企业只在首行填写，续行留空（或纵向合并）",
    ),
    Column("name", "企业名称", G_ENTERPRISE, "text", True, 28, maxlen=200),
    Column("address", "详细地址", G_ENTERPRISE, "text", False, 30, maxlen=300),
    Column(
        "county",
        "所在区县",
        G_ENTERPRISE,
        "county",
        False,
        12,
        help="区县名称或行政区划代码，须在本清单辖区内；区县局的清单可留空（即本区县）",
    ),
    Column(
        "longitude",
        "经度",
        G_ENTERPRISE,
        "number",
        low=-180,
        high=180,
        help="十进制度，与纬度同时填写或同时留空",
    ),
    Column("latitude", "纬度", G_ENTERPRISE, "number", low=-90, high=90, help="十进制度"),
    Column(
        "industry_code",
        "国民经济行业代码",
        G_ENTERPRISE,
        "text",
        False,
        12,
        maxlen=8,
        help="GB/T 4754 代码，如3011",
    ),
    Column(
        "industry",
        "行业类别",
        G_ENTERPRISE,
        "industry",
        False,
        14,
        help="规则库行业名称或代码（如“水泥熟料”）；留空时按国民经济行业代码确定，都没有则为“其他”",
    ),
    Column("category", "企业类别", G_ENTERPRISE, "enum", True, 12, choices="category"),
    Column("grade", "绩效分级", G_ENTERPRISE, "enum", False, 10, choices="grade", help="重点企业必填"),
    Column("graded_on", "分级日期", G_ENTERPRISE, "date", False, 12, help="日期，如2024-05-01"),
    Column(
        "output_basis",
        "定产依据",
        G_ENTERPRISE,
        "enum",
        False,
        10,
        choices="basis",
        help="保障类企业：以量定产或以热定产",
    ),
    *(_num(p.value, f"{LABELS[p]}（吨/年）", G_ENTERPRISE, width=12) for p in POLLUTANTS),
    Column("uses_coal", "燃煤", G_ENTERPRISE, "bool", width=6),
    Column("uses_oil", "燃油", G_ENTERPRISE, "bool", width=6),
    Column("toxic", "排放有毒有害大气污染物", G_ENTERPRISE, "bool", width=8),
    Column("ultra_low", "超低排放", G_ENTERPRISE, "bool", width=8),
    Column(
        "operating_days",
        "年生产天数",
        G_ENTERPRISE,
        "integer",
        low=1,
        high=366,
        width=8,
        help="1–366，留空为365",
    ),
    Column(
        "truck_visits_per_day",
        "日均重型货车进出（辆次）",
        G_ENTERPRISE,
        "integer",
        low=0,
        width=10,
        help="不小于0的整数",
    ),
    *(
        Column(
            f"machinery:{s.value}",
            f"非道路移动机械{LABELS[s]}（台）",
            G_ENTERPRISE,
            "integer",
            low=0,
            width=9,
            help="该排放阶段的台数",
        )
        for s in MACHINERY_STAGES
    ),
    *(
        _num(
            f"truck:{p.value}",
            f"国Ⅳ及以下重型货车{LABELS[p]}（吨/年）",
            G_ENTERPRISE,
            width=12,
            help="服务本企业的国Ⅳ及以下重型货车排放量",
        )
        for p in POLLUTANTS
    ),
    Column(
        "machinery_emissions",
        "非道路移动机械排放（吨/年）",
        G_ENTERPRISE,
        "emissions",
        False,
        24,
        help="按排放阶段填写，如“国Ⅲ:氮氧化物=1.2,颗粒物=0.1；国Ⅱ:氮氧化物=0.5”",
    ),
    Column("contact_name", "联系人", G_ENTERPRISE, "text", False, 10, maxlen=64),
    Column("contact_phone", "联系电话", G_ENTERPRISE, "text", False, 14, maxlen=32, help="完整号码，不得含“*”"),
    Column("notes", "备注", G_ENTERPRISE, "text", False, 20, maxlen=1000),
)

UNIT_COLUMNS: tuple[Column, ...] = (
    Column(
        "code",
        "工序编码",
        G_UNIT,
        "text",
        False,
        10,
        maxlen=32,
        help="企业内唯一；“全厂”表示全厂措施；同一工序再写一行（工序其他列留空）可在各级别增加措施",
    ),
    Column("name", "工序名称", G_UNIT, "text", False, 16, maxlen=200, help="填写工序编码（全厂除外）时必填"),
    *(
        Column(
            f"share_{p.value}",
            f"{LABELS[p]}占比",
            G_UNIT,
            "share",
            width=8,
            help="该工序占企业该污染物排放的比例，0–1（或百分数如30%）；同一企业各工序合计不超过1",
        )
        for p in POLLUTANTS
    ),
    _num("eia_capacity", "环评批复产能", G_UNIT, width=10),
    _num("permit_capacity", "排污许可产能", G_UNIT, width=10),
    _num("last_year_output", "上年实际产量", G_UNIT, width=10),
    Column("capacity_unit", "产能单位", G_UNIT, "text", False, 8, maxlen=16, help="如“万吨/年”"),
    Column("outdoor", "露天作业", G_UNIT, "bool", width=6),
    Column("under_rectification", "整改中", G_UNIT, "bool", width=6, help="整改中的产能不计入错峰生产基数"),
)


def _level_block(level: AlertLevel) -> tuple[Column, ...]:
    g = LEVEL_GROUPS[level]
    return (
        Column(
            "kind",
            "措施",
            g,
            "enum",
            False,
            14,
            choices="measure",
            help="减排措施；“以量定产”“以热定产”即以量定产/以热定产并写明依据",
        ),
        Column(
            "percent",
            "比例（%）",
            g,
            "number",
            False,
            8,
            low=0,
            high=100,
            help="限产填减产比例，以量定产/以热定产填最大允许负荷，其他措施留空",
        ),
        Column("verification", "核查方式", g, "enum", False, 12, choices="verification", help="填写措施时必填"),
        Column(
            "max_stage",
            "非道路机械排放阶段",
            g,
            "enum",
            False,
            10,
            choices="stage",
            help="停用非道路移动机械时必填：停用到该阶段及以下",
        ),
        Column("note", "措施说明", g, "text", False, 16, maxlen=300),
    )


LEVEL_COLUMNS: dict[AlertLevel, tuple[Column, ...]] = {level: _level_block(level) for level in LEVELS}
MAIN_COLUMNS: tuple[Column, ...] = (
    *ENTERPRISE_COLUMNS,
    *UNIT_COLUMNS,
    *(c for level in LEVELS for c in LEVEL_COLUMNS[level]),
)

FACILITY_COLUMNS: tuple[Column, ...] = (
    Column("uscc", "统一社会信用代码", FACILITY_SHEET, "uscc", True, 22, help="须是主表中的企业"),
    Column("code", "设施编码", FACILITY_SHEET, "text", True, 10, maxlen=32, help="企业内唯一"),
    Column("name", "设施名称", FACILITY_SHEET, "text", True, 20, maxlen=200),
    Column("kind", "设施类型", FACILITY_SHEET, "text", False, 12, maxlen=64, help="脱硫、脱硝、除尘、VOCs治理等"),
    Column("pollutants", "治理污染物", FACILITY_SHEET, "text", False, 14, maxlen=64),
    Column("unit", "所属工序编码", FACILITY_SHEET, "text", False, 10, maxlen=32, help="须是该企业在主表中的工序"),
)
METER_COLUMNS: tuple[Column, ...] = (
    Column("uscc", "统一社会信用代码", METER_SHEET, "uscc", True, 22, help="须是主表中的企业"),
    Column("number", "电表编号", METER_SHEET, "text", True, 16, maxlen=64, help="企业内唯一"),
    Column(
        "kind",
        "电表类型",
        METER_SHEET,
        "enum",
        True,
        10,
        choices="meter",
        help="生产用电须填工序编码；治污用电须填治污设施编码；总用电两者都不填",
    ),
    Column("unit", "工序编码", METER_SHEET, "text", False, 10, maxlen=32),
    Column("facility", "治污设施编码", METER_SHEET, "text", False, 12, maxlen=32),
)


# --- how far a file may reach (checked before anything is read in full: safety.py) ---------------------
# calamine holds a sheet as the rectangle from A1 to its farthest cell, so the limits bound that rectangle.
MAX_ENTERPRISES = 100_000  # the largest list the system is built for (a province; bench/inventory.py)
ROWS_PER_ENTERPRISE = 5  # on average, on one sheet: process units, continuation rows, facilities or meters
MAX_ROWS = HEADER_ROWS + ROWS_PER_ENTERPRISE * MAX_ENTERPRISES  # 500,002 rows on one sheet
MAX_COLUMNS = 2 * len(MAIN_COLUMNS)  # 126 (A–DV): the widest sheet, and as many columns again for notes
# the rectangle of one sheet: MAX_ENTERPRISES at 3 rows each across every column of the main sheet (18.9 million,
# bench/inventory.py's file exactly), rounded up to the next million
MAX_SHEET_CELLS = -(-(HEADER_ROWS + 3 * MAX_ENTERPRISES) * len(MAIN_COLUMNS) // 1_000_000) * 1_000_000
# all sheets together: the main sheet's limit, facilities and meters of the same size, and the help sheet
MAX_BOOK_CELLS = MAX_SHEET_CELLS + (1 + 3 * MAX_ENTERPRISES) * (len(FACILITY_COLUMNS) + len(METER_COLUMNS)) + 10_000
MAX_SHEETS = 32  # the template has four
MAX_SHARED_STRINGS = MAX_BOOK_CELLS  # at most one distinct text per cell


# --- vocabularies: label or value (and a few spellings people use) → value -------------------------


def norm(text: str) -> str:
    """How headers and choice cells are compared: NFKC (full-width → half-width, Ⅲ → III), no spaces,
    lower case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def _choices(members: Iterable[Labelled], extra: dict[str, str] | None = None) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in members:
        out[norm(m.value)] = m.value
        out[norm(LABELS[m])] = m.value
    for alias, value in (extra or {}).items():
        out[norm(alias)] = value
    return out


CHOICES: dict[str, dict[str, str]] = {
    "category": _choices(Category, {"重点": "key", "保障类": "guarantee", "小微": "micro", "其他": "other"}),
    "grade": _choices(Grade, {"引领性": "leading", "绩效引领": "leading"}),
    "basis": _choices(OutputBasis),
    # output_cap's label is 以量定产/以热定产; 以量定产 or 以热定产 alone also names the basis
    # (MEASURE_BASIS)
    "measure": _choices(
        MeasureKind,
        {
            "以量定产": "output_cap",
            "以热定产": "output_cap",
            "停用重型货车": "truck_ban",
            "停用国四及以下重型货车": "truck_ban",
            "停用非道路机械": "offroad_ban",
            "停止室外作业": "outdoor_work_ban",
        },
    ),
    "verification": _choices(
        Verification,
        {
            "在线监测": "online_monitoring",
            "cems": "online_monitoring",
            "视频": "video",
            "门禁": "gate_records",
            "门禁系统": "gate_records",
            "用电量监控": "power_meter",
            "分表计电": "power_meter",
        },
    ),
    "stage": _choices(
        MachineryStage,
        {
            "国1以前": "pre_china_1",
            "国1": "china_1",
            "国2": "china_2",
            "国3": "china_3",
            "国4": "china_4",
            "国一": "china_1",
            "国二": "china_2",
            "国三": "china_3",
            "国四": "china_4",
            "电动": "electric",
        },
    ),
    "meter": {
        **{norm(k.value): k.value for k in MeterKind},
        **{norm(v): k.value for k, v in METER_LABELS.items()},
        "生产": "production",
        "治污": "control",
        "总表": "total",
    },
    "pollutant": {
        **{norm(p.value): p.value for p in POLLUTANTS},
        **{norm(LABELS[p]): p.value for p in POLLUTANTS},
        **{norm(s): p for p, s in POLLUTANT_SHORT.items()},
        "so₂": "so2",
    },
}
MEASURE_BASIS = {norm("以量定产"): "output_by_demand", norm("以热定产"): "output_by_heat"}
YES_WORDS = frozenset(norm(w) for w in ("是", "有", "Y", "YES", "TRUE", "1", "√", "✓"))
NO_WORDS = frozenset(norm(w) for w in ("否", "无", "N", "NO", "FALSE", "0", "×", "✗"))

# What the exporter writes for each value (the Chinese label).
LABEL_OF: dict[str, dict[str, str]] = {
    "category": {m.value: LABELS[m] for m in Category},
    "grade": {m.value: LABELS[m] for m in Grade},
    "basis": {m.value: LABELS[m] for m in OutputBasis},
    "measure": {m.value: LABELS[m] for m in MeasureKind},
    "verification": {m.value: LABELS[m] for m in Verification},
    "stage": {m.value: LABELS[m] for m in MachineryStage},
    "meter": {k.value: v for k, v in METER_LABELS.items()},
    "pollutant": {p.value: LABELS[p] for p in POLLUTANTS},
}


def choice_labels(name: str) -> list[str]:
    """The labels shown to people for a vocabulary (messages, drop-downs, docs)."""
    return list(LABEL_OF[name].values())


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters
