"""From the cells of a read workbook to validated, normalised records, every problem with its place.

The concerns, one module each: cells.py (a cell's value coerced, or why not), records.py (the records' field
orders, the parsed file, the list's places and industries), main_sheet.py (the enterprises, their units and
measures), measures.py (one measure's cells), judging.py (the rule engine across an enterprise's rows),
optional_sheets.py (facilities and meters). This module runs them over a workbook in order.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import replace

from flask_babel import gettext as _

from app.reduction.domain import uscc as uscc_mod
from app.reduction.excel import template as t
from app.reduction.excel.cells import cell_text
from app.reduction.excel.main_sheet import MainParser
from app.reduction.excel.optional_sheets import parse_facilities, parse_meters
from app.reduction.excel.reader import Issue, Workbook
from app.reduction.excel.records import Industries, Parsed, Places


def parse(workbook: Workbook, places: Places, industries: Industries) -> Parsed:
    issues = list(workbook.issues)
    if workbook.main is None or any(i.error for i in issues):
        return Parsed([], issues)
    parser = MainParser(workbook.main, places, industries, issues)
    parser.run()
    if workbook.facilities is not None:
        parse_facilities(workbook.facilities, parser.by_uscc, issues)
    if workbook.meters is not None:
        parse_meters(workbook.meters, parser.by_uscc, issues)
    parser.judge()  # after the facilities and meters: a refused enterprise's rows are not reported again
    # in the order of the workbook: sheet by sheet, row by row (the rule engine's problems come last otherwise)
    rank = {name: i for i, name in enumerate((t.MAIN_SHEET, t.FACILITY_SHEET, t.METER_SHEET))}
    issues.sort(key=lambda i: (rank.get(i.sheet, -1), i.row or 0))
    if not parser.bundles and not any(i.error for i in issues):
        issues.append(Issue(workbook.main.name, t.HEADER_ROWS + 1, None, None, _("文件中没有企业数据。")))
    return Parsed(parser.bundles, _named(issues, workbook, parser.starts), len(parser.starts))


def _named(issues: list[Issue], workbook: Workbook, starts: list[tuple[int, str, str]]) -> list[Issue]:
    """Each problem with the name of the enterprise its row belongs to: on the main sheet the enterprise whose
    rows it is among, on the facility and meter sheets the one its credit code names."""
    if not issues or not starts:
        return issues
    first_rows = [r for r, _u, _n in starts]
    name_of = {u: n for _r, u, n in starts if u}
    usccs: dict[str, dict[int, str]] = {}
    for sheet in (workbook.facilities, workbook.meters):
        i = sheet.index.get("uscc") if sheet is not None else None
        if sheet is not None and i is not None:
            usccs[sheet.name] = {
                r: uscc_mod.normalise(cell_text(row[i]))
                for r, row in enumerate(sheet.rows, start=sheet.first_row)
                if row[i] != ""
            }
    main = workbook.main.name if workbook.main is not None else None
    out = []
    for issue in issues:
        name = ""
        if issue.row and issue.sheet == main:
            k = bisect_right(first_rows, issue.row) - 1
            name = starts[k][2] if k >= 0 else ""
        elif issue.row and issue.sheet in usccs:
            name = name_of.get(usccs[issue.sheet].get(issue.row, ""), "")
        out.append(replace(issue, name=name) if name else issue)
    return out


__all__ = ["parse"]
