"""The optional sheets: control facilities and meters, each row tied to an enterprise of the main sheet by its
credit code and checked against that enterprise's units (and, for a meter, its facilities)."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from app.reduction.domain import uscc as uscc_mod
from app.reduction.excel import template as t
from app.reduction.excel.cells import Bad, converter
from app.reduction.excel.reader import Issue, Sheet
from app.reduction.excel.records import Bundle


def _flat(sheet: Sheet, columns: tuple[t.Column, ...], issues: list[Issue]) -> list[tuple[int, dict[str, Any]]]:
    convs = [(c.key, sheet.index[c.key], converter(c), c) for c in columns if c.key in sheet.index]
    out = []
    for r, row in enumerate(sheet.rows, start=sheet.first_row):
        if row.count("") == len(row):
            continue
        values: dict[str, Any] = {}
        ok = True
        for key, i, conv, column in convs:
            v = row[i]
            if v == "":
                if column.required:
                    issues.append(Issue(sheet.name, r, sheet.letter(key), sheet.headers[key], _("此列必填。")))
                    ok = False
                continue
            try:
                values[key] = conv(v)
            except Bad as e:
                issues.append(Issue(sheet.name, r, sheet.letter(key), sheet.headers[key], str(e)))
                ok = False
        if ok:
            out.append((r, values))
    return out


def _owner(
    sheet: Sheet,
    r: int,
    values: dict[str, Any],
    by_uscc: dict[str, Bundle],
    issues: list[Issue],
) -> Bundle | None:
    code = uscc_mod.normalise(values.get("uscc", ""))
    bundle = by_uscc.get(code)
    if bundle is None:
        issues.append(
            Issue(
                sheet.name,
                r,
                sheet.letter("uscc"),
                sheet.headers.get("uscc"),
                _("主表“%(sheet)s”中没有这家企业（或该企业有错误）。", sheet=t.MAIN_SHEET),
            )
        )
    return bundle


def parse_facilities(sheet: Sheet, by_uscc: dict[str, Bundle], issues: list[Issue]) -> None:
    seen: dict[tuple[str, str], int] = {}
    for r, v in _flat(sheet, t.FACILITY_COLUMNS, issues):
        bundle = _owner(sheet, r, v, by_uscc, issues)
        if bundle is None:
            continue
        code, unit = v["code"], v.get("unit") or None
        if (bundle.ent[0], code) in seen:
            issues.append(
                Issue(
                    sheet.name,
                    r,
                    sheet.letter("code"),
                    sheet.headers["code"],
                    _("设施编码在本企业中重复（第 %(row)d 行）。", row=seen[(bundle.ent[0], code)]),
                )
            )
            continue
        if unit is not None and unit not in {u[0] for u in bundle.units}:
            issues.append(
                Issue(
                    sheet.name,
                    r,
                    sheet.letter("unit"),
                    sheet.headers["unit"],
                    _("主表中该企业没有工序“%(code)s”。", code=unit),
                )
            )
            continue
        seen[(bundle.ent[0], code)] = r
        bundle.facilities.append((code, v["name"], v.get("kind", ""), v.get("pollutants", ""), unit))


def parse_meters(sheet: Sheet, by_uscc: dict[str, Bundle], issues: list[Issue]) -> None:
    seen: dict[tuple[str, str], int] = {}
    for r, v in _flat(sheet, t.METER_COLUMNS, issues):
        bundle = _owner(sheet, r, v, by_uscc, issues)
        if bundle is None:
            continue
        number_, kind = v["number"], v["kind"]
        unit, facility = v.get("unit") or None, v.get("facility") or None

        def bad(key: str, message: str, r: int = r) -> None:
            issues.append(Issue(sheet.name, r, sheet.letter(key) or None, sheet.headers.get(key), message))

        if (bundle.ent[0], number_) in seen:
            bad("number", _("电表编号在本企业中重复（第 %(row)d 行）。", row=seen[(bundle.ent[0], number_)]))
            continue
        if unit is not None and unit not in {u[0] for u in bundle.units}:
            bad("unit", _("主表中该企业没有工序“%(code)s”。", code=unit))
            continue
        if facility is not None and facility not in {f[0] for f in bundle.facilities}:
            bad(
                "facility",
                _("“%(sheet)s”表中该企业没有设施“%(code)s”。", sheet=t.FACILITY_SHEET, code=facility),
            )
            continue
        if kind == "production" and (unit is None or facility is not None):
            bad("unit", _("生产用电电表须填写工序编码，不填治污设施编码。"))
            continue
        if kind == "control" and facility is None:
            bad("facility", _("治污用电电表须填写治污设施编码。"))
            continue
        if kind == "total" and (unit is not None or facility is not None):
            bad("kind", _("总用电电表不填写工序编码和治污设施编码。"))
            continue
        seen[(bundle.ent[0], number_)] = r
        bundle.meters.append((number_, kind, unit, facility))
