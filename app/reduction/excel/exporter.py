"""Writing the template and a list in the import layout with xlsxwriter (constant_memory: rows go to
disk as they are written).

No exported cell can become a formula: every text goes through write_string (a string cell, never parsed),
and text that a spreadsheet would take for a formula (= + - @ …) gets a quote-prefix format as well, so it
stays text when someone edits the cell. Enterprise columns are written on an enterprise's first row only
(continuation rows leave them empty, as the importer expects).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import IO, Any

import xlsxwriter
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.services import record
from app.core import masking
from app.core.exports import FORMULA_TRIGGERS
from app.places.models import Jurisdiction
from app.reduction.domain.vocabulary import LEVELS, POLLUTANTS
from app.reduction.excel import template as t
from app.reduction.excel.cells import format_machinery_emissions
from app.reduction.excel.reader import main_key
from app.reduction.excel.records import ENT_FIELDS, UNIT_FIELDS, Bundle
from app.reduction.models import ControlFacility, Enterprise, Measure, Meter, ProcessUnit, ReductionList

_E = {name: i for i, name in enumerate(ENT_FIELDS)}
_COL = {main_key(c): i for i, c in enumerate(t.MAIN_COLUMNS)}
_LEVEL_COL = {lv.value: {c.key: _COL[f"{lv.value}.{c.key}"] for c in t.LEVEL_COLUMNS[lv]} for lv in LEVELS}
_UNIT_COL = [_COL[f"u.{f}"] for f in UNIT_FIELDS]
_UNIT_KIND = [next(c.kind for c in t.UNIT_COLUMNS if c.key == f) for f in UNIT_FIELDS]
_DATA_VALIDATION_ROWS = 5000


class _Sheets:
    """The workbook's formats and the cell writers that keep text text."""

    def __init__(self, out: str | IO[bytes]) -> None:
        self.book = xlsxwriter.Workbook(
            out,
            {
                "constant_memory": True,
                "strings_to_numbers": False,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "in_memory": False,
            },
        )
        b = self.book
        self.group = b.add_format(
            {"bold": True, "align": "center", "valign": "vcenter", "border": 1, "bg_color": "#D9E1F2"}
        )
        self.level_fmt = {
            "yellow": b.add_format({"bold": True, "align": "center", "border": 1, "bg_color": "#FFF2CC"}),
            "orange": b.add_format({"bold": True, "align": "center", "border": 1, "bg_color": "#FCE4D6"}),
            "red": b.add_format({"bold": True, "align": "center", "border": 1, "bg_color": "#F8CBAD"}),
        }
        self.header = b.add_format(
            {
                "bold": True,
                "text_wrap": True,
                "valign": "vcenter",
                "align": "center",
                "border": 1,
                "bg_color": "#F2F2F2",
            }
        )
        self.quoted = b.add_format({"quote_prefix": True})
        self.wrap = b.add_format({"text_wrap": True, "valign": "top"})

    def text(self, ws: Any, r: int, c: int, s: str) -> None:
        if s.startswith(FORMULA_TRIGGERS):
            ws.write_string(r, c, s, self.quoted)
        else:
            ws.write_string(r, c, s)


def _headers(sheets: _Sheets, data_rows: int) -> Any:
    ws = sheets.book.add_worksheet(t.MAIN_SHEET)
    spans: list[tuple[str, int, int]] = []
    for i, c in enumerate(t.MAIN_COLUMNS):
        if spans and spans[-1][0] == c.group:
            spans[-1] = (c.group, spans[-1][1], i)
        else:
            spans.append((c.group, i, i))
    levels = {g: lv.value for lv, g in t.LEVEL_GROUPS.items()}
    for group, first, last in spans:
        fmt = sheets.level_fmt[levels[group]] if group in levels else sheets.group
        ws.merge_range(0, first, 0, last, group, fmt)
    for i, c in enumerate(t.MAIN_COLUMNS):
        ws.set_column(i, i, c.width)
        ws.write_string(1, i, c.header, sheets.header)
    ws.set_row(1, 36)
    ws.freeze_panes(t.HEADER_ROWS, 2)
    last_row = t.HEADER_ROWS + max(data_rows, _DATA_VALIDATION_ROWS)
    for i, c in enumerate(t.MAIN_COLUMNS):
        source = _drop_down(c)
        if source:
            ws.data_validation(
                t.HEADER_ROWS,
                i,
                last_row,
                i,
                {
                    "validate": "list",
                    "source": source,
                    "error_type": "information",
                    "ignore_blank": True,
                },
            )
    return ws


def _drop_down(c: t.Column) -> list[str] | None:
    if c.kind == "bool":
        return [t.YES, t.NO]
    if c.kind == "enum":
        labels = t.choice_labels(c.choices)
        if c.choices == "measure":
            labels = [*labels, "以量定产", "以热定产"]
        return labels if len(",".join(labels)) < 250 else None
    return None


def _flat_sheet(sheets: _Sheets, name: str, columns: tuple[t.Column, ...]) -> Any:
    ws = sheets.book.add_worksheet(name)
    for i, c in enumerate(columns):
        ws.set_column(i, i, c.width)
        ws.write_string(0, i, c.header, sheets.header)
    ws.freeze_panes(1, 0)
    return ws


def _help_sheet(sheets: _Sheets, industries: Mapping[str, str]) -> None:
    ws = sheets.book.add_worksheet(t.HELP_SHEET)
    ws.set_column(0, 0, 14)
    ws.set_column(1, 1, 26)
    ws.set_column(2, 2, 8)
    ws.set_column(3, 3, 80)
    lines = [
        "本模板用于导入、导出应急减排清单。主表“应急减排清单”第1行为分组表头，第2行为列名，数据从第3行开始。",
        "每个（企业、工序）一行；同一企业的后续行（续行）企业信息列留空或纵向合并；工序编码填“全厂”表示全厂措施。",
        "同一工序在某一预警级别有多条措施时，在下一行重复该工序编码（工序其他列留空），并在该行填写另一条措施。",
        "导入将以文件内容替换清单内容：文件中没有的企业将从清单中删除（预览中列出）。企业按统一社会信用代码匹配。",
        "可选工作表“治污设施”“电表”：每行一个设施或电表，第1行为列名。选项列填写中文名称（也接受英文代码）。",
    ]
    for r, line in enumerate(lines):
        ws.write_string(r, 0, line)
    r = len(lines) + 1
    for i, head in enumerate(("分组", "列名", "必填", "说明与可选值")):
        ws.write_string(r, i, head, sheets.header)
    for c in (*t.MAIN_COLUMNS, *t.FACILITY_COLUMNS, *t.METER_COLUMNS):
        r += 1
        ws.write_string(r, 0, c.group)
        ws.write_string(r, 1, c.header)
        ws.write_string(r, 2, "是" if c.required else "")
        sheets.text(ws, r, 3, describe(c, industries))


def describe(c: t.Column, industries: Mapping[str, str] | None = None) -> str:
    """What a column takes, in words (the help sheet and docs/excel-template.md)."""
    parts = [c.help] if c.help else []
    if c.kind == "enum":
        labels = t.choice_labels(c.choices)
        if c.choices == "measure":
            labels = [*labels, "以量定产", "以热定产"]
        parts.append("可选：" + "、".join(labels))
    elif c.kind == "bool":
        parts.append("填“是”或“否”，留空为否")
    elif c.kind == "industry" and industries:
        parts.append("可选：" + "、".join(industries.values()))
    elif c.kind == "text" and c.maxlen and not c.help:
        parts.append(f"文字，不超过{c.maxlen}字")
    elif c.kind in ("number", "integer") and not c.help:
        parts.append("数字")
    return "；".join(parts)


def _bool(v: Any) -> str:
    return t.YES if v else t.NO


def write(
    out: str | IO[bytes],
    bundles: Iterable[Bundle],
    *,
    county_label: Mapping[int, str],
    industry_label: Mapping[str, str],
    rows_hint: int = 0,
    mask_phone: bool = False,
) -> dict[str, int]:
    """Write bundles (the importer's records) in the template layout; returns counts."""
    sheets = _Sheets(out)
    ws = _headers(sheets, rows_hint)
    fac_ws = _flat_sheet(sheets, t.FACILITY_SHEET, t.FACILITY_COLUMNS)
    meter_ws = _flat_sheet(sheets, t.METER_SHEET, t.METER_COLUMNS)
    _help_sheet(sheets, industry_label)
    text, number = sheets.text, ws.write_number
    label = t.LABEL_OF
    ent_plan = _ent_plan(county_label, industry_label, mask_phone)
    r = t.HEADER_ROWS
    fr = mr = 1
    counts = {"enterprises": 0, "units": 0, "measures": 0, "facilities": 0, "meters": 0, "rows": 0}
    facilities: list[tuple[str, tuple[Any, ...]]] = []
    meters: list[tuple[str, tuple[Any, ...]]] = []
    for b in bundles:
        counts["enterprises"] += 1
        ent = b.ent
        by_unit: dict[str | None, dict[str, list[tuple[Any, ...]]]] = defaultdict(lambda: defaultdict(list))
        for m in b.measures:
            by_unit[m[1]][m[0]].append(m)
        blocks: list[tuple[tuple[Any, ...] | None, dict[str, list[tuple[Any, ...]]]]] = [
            (u, by_unit.get(u[0], {})) for u in b.units
        ]
        if None in by_unit:
            blocks.append((None, by_unit[None]))
        if not blocks:
            blocks.append((None, {}))  # an enterprise without units or measures: its row alone
        first = True
        for unit, levels in blocks:
            height = max([1, *(len(ms) for ms in levels.values())])
            for k in range(height):
                if first:
                    for c, kind, i, conv in ent_plan:
                        v = ent[i]
                        if v is None or v == "":
                            continue
                        if kind == "number":
                            number(r, c, v)
                        elif kind == "pick":
                            if (x := v.get(conv)) is not None:
                                number(r, c, x)
                        elif v != {}:
                            text(ws, r, c, conv(v))
                    first = False
                if unit is not None:
                    text(ws, r, _UNIT_COL[0], unit[0])
                    if k == 0:
                        counts["units"] += 1
                        for c, kind, v in zip(_UNIT_COL[1:], _UNIT_KIND[1:], unit[1:], strict=True):
                            if v is None or v == "":
                                continue
                            if kind == "bool":
                                ws.write_string(r, c, _bool(v))
                            elif kind == "text":
                                text(ws, r, c, v)
                            else:
                                number(r, c, v)
                elif levels:
                    ws.write_string(r, _UNIT_COL[0], t.WHOLE_PLANT)
                for level, ms in levels.items():
                    if k >= len(ms):
                        continue
                    m = ms[k]
                    counts["measures"] += 1
                    cols = _LEVEL_COL[level]
                    kind_label = LABELS_BASIS.get(m[6]) if m[2] == "output_cap" and m[6] else label["measure"][m[2]]
                    ws.write_string(r, cols["kind"], kind_label)
                    if m[3] is not None:
                        number(r, cols["percent"], m[3])
                    ws.write_string(r, cols["verification"], label["verification"][m[4]])
                    if m[5]:
                        ws.write_string(r, cols["max_stage"], label["stage"][m[5]])
                    if m[7]:
                        text(ws, r, cols["note"], m[7])
                r += 1
        facilities.extend((ent[0], f) for f in b.facilities)
        meters.extend((ent[0], m) for m in b.meters)
    counts["rows"] = r - t.HEADER_ROWS
    for uscc, f in facilities:
        text(fac_ws, fr, 0, uscc)
        for c, v in enumerate((f[0], f[1], f[2], f[3], f[4] or ""), start=1):
            if v:
                text(fac_ws, fr, c, v)
        fr += 1
    for uscc, m in meters:
        text(meter_ws, mr, 0, uscc)
        text(meter_ws, mr, 1, m[0])
        meter_ws.write_string(mr, 2, label["meter"][m[1]])
        for c, v in ((3, m[2]), (4, m[3])):
            if v:
                text(meter_ws, mr, c, v)
        mr += 1
    counts["facilities"], counts["meters"] = len(facilities), len(meters)
    sheets.book.close()
    return counts


LABELS_BASIS = {k: v for k, v in t.LABEL_OF["basis"].items()}


def _ent_plan(
    county_label: Mapping[int, str], industry_label: Mapping[str, str], mask_phone: bool
) -> list[tuple[int, str, int, Any]]:
    """(column, kind, record index, to-text) for every enterprise column."""
    label = t.LABEL_OF
    plan: list[tuple[int, str, int, Any]] = []
    for c in t.ENTERPRISE_COLUMNS:
        col = _COL[main_key(c)]
        key = c.key
        if key.startswith("machinery:"):
            stage = key.split(":", 1)[1]
            plan.append((col, "pick", _E["machinery"], stage))
            continue
        if key.startswith("truck:"):
            p = key.split(":", 1)[1]
            plan.append((col, "pick", _E["truck_emissions"], p))
            continue
        if key == "county":
            plan.append((col, "text", _E["jurisdiction_id"], lambda v: county_label.get(v, str(v))))
        elif key == "industry":
            plan.append((col, "text", _E["industry"], lambda v: industry_label.get(v, v)))
        elif key == "machinery_emissions":
            plan.append((col, "text", _E[key], format_machinery_emissions))
        elif key == "contact_phone" and mask_phone:
            plan.append((col, "text", _E[key], masking.mask_phone))
        elif c.kind in ("number", "integer"):
            plan.append((col, "number", _E[key], None))
        elif c.kind == "bool":
            plan.append((col, "text", _E[key], _bool))
        elif c.kind == "enum":
            plan.append((col, "text", _E[key], label[c.choices].__getitem__))
        else:
            plan.append((col, "text", _E[key], str))
    return plan


# --- from the database ----------------------------------------------------------------------------------


def county_labels(session: Session, root: Jurisdiction) -> dict[int, str]:
    """Jurisdiction id → its name, or its code where the name is not unique within the list's subtree."""
    rows = session.execute(
        select(Jurisdiction.id, Jurisdiction.code, Jurisdiction.name).where(Jurisdiction.path.startswith(root.path))
    ).all()
    seen: dict[str, int] = defaultdict(int)
    for r in rows:
        seen[r.name] += 1
    return {r.id: (r.name if seen[r.name] == 1 else r.code) for r in rows}


def bundles_of(session: Session, list_id: int) -> tuple[list[Bundle], int]:
    """The list's enterprises as importer records (ordered by id), and the number of sheet rows they need."""
    cols = [getattr(Enterprise, f) for f in ENT_FIELDS]
    on_list = Enterprise.list_id == list_id
    bundles: dict[int, Bundle] = {}
    for row in session.execute(select(Enterprise.id, *cols).where(on_list).order_by(Enterprise.id)):
        ent = list(row[1:])
        ent[_E["graded_on"]] = ent[_E["graded_on"]].isoformat() if ent[_E["graded_on"]] else None
        for f in ("category", "grade", "output_basis"):
            ent[_E[f]] = None if ent[_E[f]] is None else str(ent[_E[f]])
        bundles[row[0]] = Bundle(0, tuple(ent))
    codes: dict[int, str] = {}
    ucols = [getattr(ProcessUnit, f) for f in UNIT_FIELDS]
    for row in session.execute(
        select(ProcessUnit.enterprise_id, ProcessUnit.id, *ucols)
        .join(Enterprise, Enterprise.id == ProcessUnit.enterprise_id)
        .where(on_list)
        .order_by(ProcessUnit.enterprise_id, ProcessUnit.code)
    ):
        codes[row[1]] = row[2]
        bundles[row[0]].units.append(tuple(row[2:]))
    for row in session.execute(
        select(
            Measure.enterprise_id,
            Measure.level,
            Measure.process_unit_id,
            Measure.kind,
            Measure.percent,
            Measure.verification,
            Measure.max_stage,
            Measure.basis,
            Measure.note,
        )
        .join(Enterprise, Enterprise.id == Measure.enterprise_id)
        .where(on_list)
        .order_by(Measure.enterprise_id, Measure.id)
    ):
        bundles[row[0]].measures.append(
            (
                str(row[1]),
                codes.get(row[2]) if row[2] else None,
                str(row[3]),
                row[4],
                str(row[5]),
                None if row[6] is None else str(row[6]),
                None if row[7] is None else str(row[7]),
                row[8],
            )
        )
    fcodes: dict[int, str] = {}
    for row in session.execute(
        select(
            ControlFacility.enterprise_id,
            ControlFacility.id,
            ControlFacility.code,
            ControlFacility.name,
            ControlFacility.kind,
            ControlFacility.pollutants,
            ControlFacility.process_unit_id,
        )
        .join(Enterprise, Enterprise.id == ControlFacility.enterprise_id)
        .where(on_list)
        .order_by(ControlFacility.enterprise_id, ControlFacility.code)
    ):
        fcodes[row[1]] = row[2]
        bundles[row[0]].facilities.append((row[2], row[3], row[4], row[5], codes.get(row[6]) if row[6] else None))
    for row in session.execute(
        select(Meter.enterprise_id, Meter.number, Meter.kind, Meter.process_unit_id, Meter.control_facility_id)
        .join(Enterprise, Enterprise.id == Meter.enterprise_id)
        .where(on_list)
        .order_by(Meter.enterprise_id, Meter.number)
    ):
        bundles[row[0]].meters.append(
            (
                row[1],
                str(row[2]),
                codes.get(row[3]) if row[3] else None,
                fcodes.get(row[4]) if row[4] else None,
            )
        )
    rows = sum(max(1, len(b.units) + (1 if any(m[1] is None for m in b.measures) else 0)) for b in bundles.values())
    return list(bundles.values()), rows


def export_list(
    session: Session, lst: ReductionList, user: Any, out: str | IO[bytes],
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:  # fmt: skip
    """Write the list (as the user may see it) and audit the export; `progress(enterprises done, total)`
    is called as rows are written (a background export's progress bar)."""
    from app.reduction.excel.lookups import industry_labels

    bundles, rows = bundles_of(session, lst.id)
    owner = user is not None and user.bureau_id == lst.bureau_id
    counts = write(
        out,
        bundles if progress is None else _counting(bundles, progress),
        county_label=county_labels(session, lst.jurisdiction),
        industry_label=industry_labels(),
        rows_hint=rows,
        mask_phone=not owner,
    )
    record(
        session,
        "reduction_list.export",
        obj=lst,
        detail={"year": lst.year, "version": lst.version, **counts, "phones_masked": not owner},
    )
    return counts


def export_region(
    session: Session, root: Jurisdiction, year: int, user: Any, out: str | IO[bytes],
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:  # fmt: skip
    """Every list of `year` the user may see (the newest version of each jurisdiction's), in one workbook
    in the import layout: a province's lists for its bureau. Phones are masked except on the user's own list."""
    from app.reduction.excel.lookups import industry_labels

    newest: dict[int, ReductionList] = {}
    for lst in session.scalars(select(ReductionList).where(ReductionList.year == year).order_by(ReductionList.version)):
        newest[lst.jurisdiction_id] = lst  # scoped: only the lists within the user's reach
    lists = sorted(newest.values(), key=lambda x: x.jurisdiction.code)
    bundles: list[Bundle] = []
    rows = 0
    for lst in lists:
        b, r = bundles_of(session, lst.id)
        bundles.extend(b)
        rows += r
    owner = user is not None and all(lst.bureau_id == user.bureau_id for lst in lists)
    counts = write(
        out,
        bundles if progress is None else _counting(bundles, progress),
        county_label=county_labels(session, root),
        industry_label=industry_labels(),
        rows_hint=rows,
        mask_phone=not owner,
    )
    record(
        session, "reduction_list.export_region", object_type="jurisdiction", object_id=root.id,
        detail={"year": year, "lists": [lst.id for lst in lists], **counts, "phones_masked": not owner},
    )  # fmt: skip
    return {**counts, "lists": len(lists)}


def _counting(bundles: list[Bundle], progress: Callable[[int, int], None], every: int = 200) -> Iterator[Bundle]:
    total = len(bundles)
    progress(0, total)
    for i, b in enumerate(bundles, start=1):
        yield b
        if i % every == 0 or i == total:
            progress(i, total)


def write_template(out: str | IO[bytes]) -> None:
    from app.reduction.excel.lookups import industry_labels

    write(out, [], county_label={}, industry_label=industry_labels())


__all__ = ["POLLUTANTS", "export_list", "export_region", "write", "write_template"]
