"""Reading a workbook that passed the safety checks: python-calamine for both .xlsx and .xls, headers found
by name (and group), every header problem reported with its place.

`read()` opens only a `safety.Checked` file: given a path it runs `safety.checked()` first, given a `Checked`
whose file changed since, again. So every read of an upload (preview, commit, any later one) is bounded the
same way as the upload was: nothing reaches calamine before its sheets' extent has been checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import python_calamine as pc
from flask_babel import gettext as _

from app.reduction.excel import safety
from app.reduction.excel import template as t
from app.reduction.excel.safety import ExcelRefused


@dataclass(frozen=True)
class Issue:
    """One problem of a file: where Excel shows it, and what is wrong (in Chinese)."""

    sheet: str
    row: int | None  # the row number Excel shows
    column: str | None  # the column letter
    header: str | None
    message: str
    error: bool = True  # False: a warning, which does not block the import
    name: str = ""  # the enterprise the row belongs to, as the file names it

    def as_tuple(self) -> tuple[Any, ...]:
        return (self.sheet, self.row, self.column, self.header, self.message, self.error, self.name)

    @property
    def where(self) -> str:
        parts = [self.sheet]
        if self.row:
            parts.append(f"第{self.row}行")
        if self.column:
            parts.append(f"{self.column}列" + (f"（{self.header}）" if self.header else ""))
        return " ".join(parts)


@dataclass
class Sheet:
    name: str  # as in the file
    rows: list[list[Any]]  # data rows only
    first_row: int  # the Excel row number of rows[0]
    index: dict[str, int] = field(default_factory=dict)  # column key → position
    headers: dict[str, str] = field(default_factory=dict)  # column key → header as written in the file

    def letter(self, key: str) -> str | None:
        return t.column_letter(self.index[key]) if key in self.index else None


@dataclass
class Workbook:
    main: Sheet | None
    facilities: Sheet | None
    meters: Sheet | None
    issues: list[Issue]


def main_key(column: t.Column) -> str:
    """Keys of the main sheet's columns: e.uscc, u.code, yellow.kind …"""
    if column.group == t.G_ENTERPRISE:
        return f"e.{column.key}"
    if column.group == t.G_UNIT:
        return f"u.{column.key}"
    level = next(lv for lv, g in t.LEVEL_GROUPS.items() if g == column.group)
    return f"{level.value}.{column.key}"


_FLAT = {t.norm(c.header): c for c in (*t.ENTERPRISE_COLUMNS, *t.UNIT_COLUMNS)}
_BY_LEVEL = {t.norm(g): {t.norm(c.header): c for c in t.LEVEL_COLUMNS[lv]} for lv, g in t.LEVEL_GROUPS.items()}
_GROUP_NAMES = {t.norm(g) for g in t.GROUPS}


def read(source: Path | safety.Checked, limits: safety.Limits | None = None) -> Workbook:
    """Check (unless `source` is a file checked as it is now), open with calamine (either format) and map
    every sheet's headers; ExcelRefused if refused or unreadable."""
    if isinstance(source, safety.Checked) and source.current:
        checked = source
    else:
        path = source.path if isinstance(source, safety.Checked) else Path(source)
        checked = safety.checked(path, path.name, limits)
    try:
        book = pc.CalamineWorkbook.from_path(str(checked.path))
        names = list(book.sheet_names)
        by_name = {t.norm(n): n for n in names}
        issues: list[Issue] = []
        main_name = by_name.get(t.norm(t.MAIN_SHEET))
        main = None
        if main_name is None:
            issues.append(
                Issue(
                    t.MAIN_SHEET,
                    None,
                    None,
                    None,
                    _(
                        "找不到工作表“%(sheet)s”（文件中的工作表：%(names)s）。请使用下载的模板。",
                        sheet=t.MAIN_SHEET,
                        names="、".join(names) or "无",
                    ),
                )
            )
        else:
            main = _main_sheet(main_name, _rows(book, main_name), issues)
        facilities = meters = None
        if (name := by_name.get(t.norm(t.FACILITY_SHEET))) is not None:
            facilities = _flat_sheet(name, _rows(book, name), t.FACILITY_COLUMNS, issues)
        if (name := by_name.get(t.norm(t.METER_SHEET))) is not None:
            meters = _flat_sheet(name, _rows(book, name), t.METER_COLUMNS, issues)
        book.close()
    except ExcelRefused:
        raise
    except (pc.CalamineError, pc.PasswordError):
        raise ExcelRefused(_("文件受密码保护或已损坏，无法读取。")) from None
    except Exception:  # calamine raises plain errors on malformed parts
        raise ExcelRefused(_("文件已损坏或不是有效的 Excel 工作簿，无法读取。")) from None
    return Workbook(main, facilities, meters, issues)


def _rows(book: Any, name: str) -> list[list[Any]]:
    return book.get_sheet_by_name(name).to_python(skip_empty_area=False)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _main_sheet(name: str, rows: list[list[Any]], issues: list[Issue]) -> Sheet:
    sheet = Sheet(name, rows[t.HEADER_ROWS :], t.HEADER_ROWS + 1)
    groups_row = rows[0] if rows else []
    names_row = rows[1] if len(rows) > 1 else []
    if not any(t.norm(_text(v)) in _GROUP_NAMES for v in groups_row):
        issues.append(
            Issue(
                name,
                1,
                None,
                None,
                _(
                    "第1行应为分组表头（%(groups)s），第2行为列名；请使用下载的模板。",
                    groups="、".join(t.GROUPS),
                ),
            )
        )
        return sheet
    group = ""
    for i, raw in enumerate(names_row):
        g = t.norm(_text(groups_row[i])) if i < len(groups_row) else ""
        if g:
            group = g
        header = _text(raw).strip()
        if not header:
            continue
        key_norm = t.norm(header)
        column = _BY_LEVEL[group].get(key_norm) if group in _BY_LEVEL else _FLAT.get(key_norm)
        letter = t.column_letter(i)
        if column is None:
            issues.append(Issue(name, 2, letter, header, _("无法识别的列，已忽略。"), error=False))
            continue
        key = main_key(column)
        if key in sheet.index:
            issues.append(Issue(name, 2, letter, header, _("该列与 %(other)s 列重复。", other=sheet.letter(key))))
            continue
        sheet.index[key], sheet.headers[key] = i, header
    for column in t.MAIN_COLUMNS:
        key = main_key(column)
        if column.required and key not in sheet.index:
            where = column.group if column.group in t.LEVEL_GROUPS.values() else ""
            issues.append(
                Issue(
                    name,
                    2,
                    None,
                    column.header,
                    _(
                        "缺少必填列“%(header)s”%(where)s。",
                        header=column.header,
                        where=f"（{where}）" if where else "",
                    ),
                )
            )
    if "u.code" not in sheet.index and any(k.startswith(("u.", "yellow.", "orange.", "red.")) for k in sheet.index):
        issues.append(Issue(name, 2, None, "工序编码", _("有工序或措施列时必须有“工序编码”列。")))
    return sheet


def _flat_sheet(name: str, rows: list[list[Any]], columns: tuple[t.Column, ...], issues: list[Issue]) -> Sheet:
    sheet = Sheet(name, rows[1:], 2)
    by_header = {t.norm(c.header): c for c in columns}
    for i, raw in enumerate(rows[0] if rows else []):
        header = _text(raw).strip()
        if not header:
            continue
        column = by_header.get(t.norm(header))
        if column is None:
            issues.append(Issue(name, 1, t.column_letter(i), header, _("无法识别的列，已忽略。"), error=False))
            continue
        if column.key in sheet.index:
            issues.append(Issue(name, 1, t.column_letter(i), header, _("该列重复。")))
            continue
        sheet.index[column.key], sheet.headers[column.key] = i, header
    has_data = any(any(v != "" for v in row) for row in sheet.rows)
    for column in columns:
        if column.required and column.key not in sheet.index and has_data:
            issues.append(Issue(name, 1, None, column.header, _("缺少必填列“%(header)s”。", header=column.header)))
    return sheet
