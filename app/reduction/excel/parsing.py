"""From the cells of a read workbook to validated, normalised records, every problem with its place.

Records are plain tuples (they are compared with the stored list, written with COPY and kept in the preview
snapshot), in the field orders below. Dates are ISO strings, enums their values, JSON fields dicts.
"""

from __future__ import annotations

import math
import re
import sys
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from itertools import chain
from operator import attrgetter, itemgetter
from typing import Any

import numpy as np
from flask_babel import gettext as _

from app.reduction.domain import bulk
from app.reduction.domain import policy as dp
from app.reduction.domain import uscc as uscc_mod
from app.reduction.domain.vocabulary import (
    LABELS,
    LEVELS,
    POLLUTANTS,
    MachineryStage,
    MeasureKind,
    Pollutant,
    Verification,
)
from app.reduction.excel import template as t
from app.reduction.excel.reader import Issue, Sheet, Workbook, main_key

ENT_FIELDS = (
    "uscc",
    "name",
    "address",
    "latitude",
    "longitude",
    "industry_code",
    "industry",
    "category",
    "grade",
    "graded_on",
    "so2",
    "nox",
    "pm",
    "vocs",
    "uses_coal",
    "uses_oil",
    "toxic",
    "ultra_low",
    "output_basis",
    "truck_visits_per_day",
    "machinery",
    "truck_emissions",
    "machinery_emissions",
    "operating_days",
    "contact_name",
    "contact_phone",
    "notes",
    "jurisdiction_id",
)
UNIT_FIELDS = (
    "code",
    "name",
    "share_so2",
    "share_nox",
    "share_pm",
    "share_vocs",
    "eia_capacity",
    "permit_capacity",
    "last_year_output",
    "capacity_unit",
    "outdoor",
    "under_rectification",
)
MEASURE_FIELDS = ("level", "unit", "kind", "percent", "verification", "max_stage", "basis", "note")
FACILITY_FIELDS = ("code", "name", "kind", "pollutants", "unit")
METER_FIELDS = ("number", "kind", "unit", "facility")
E = {name: i for i, name in enumerate(ENT_FIELDS)}
_DEFAULTS: dict[str, Any] = {
    "address": "",
    "latitude": None,
    "longitude": None,
    "industry_code": "",
    "industry": "",
    "grade": None,
    "graded_on": None,
    "so2": 0.0,
    "nox": 0.0,
    "pm": 0.0,
    "vocs": 0.0,
    "uses_coal": False,
    "uses_oil": False,
    "toxic": False,
    "ultra_low": False,
    "output_basis": None,
    "truck_visits_per_day": 0,
    "operating_days": 365,
    "contact_name": "",
    "contact_phone": "",
    "notes": "",
}


_MACHINERY_KEYS = [(f"machinery:{s.value}", s.value) for s in t.MACHINERY_STAGES]
_TRUCK_KEYS = [(f"truck:{p.value}", p.value) for p in POLLUTANTS]


class Bad(ValueError):
    """A cell's value is wrong; the message says why (in Chinese)."""


# --- cell converters ------------------------------------------------------------------------------------


def cell_text(v: Any) -> str:
    tp = type(v)
    if tp is str:
        return v.strip()
    if tp is float:
        return str(int(v)) if v.is_integer() else repr(v)
    if tp is bool:
        return t.YES if v else t.NO
    if tp is int:
        return str(v)
    if isinstance(v, date | datetime):
        return v.isoformat()
    return str(v).strip()


def _number(v: Any) -> float:
    tp = type(v)
    if tp is float or tp is int:
        x = float(v)
    elif tp is str:
        s = v.strip().replace(",", "").replace("，", "")
        try:
            x = float(s[:-1]) if s.endswith(("%", "％")) else float(s)
        except ValueError:
            raise Bad(_("“%(value)s”不是数字。", value=v)) from None
    else:
        raise Bad(_("“%(value)s”不是数字。", value=cell_text(v)))
    if not math.isfinite(x):
        raise Bad(_("“%(value)s”不是数字。", value=cell_text(v)))
    return x


def _ranged(x: float, low: float | None, high: float | None) -> float:
    if low is not None and high is not None and not low <= x <= high:
        raise Bad(
            _(
                "应在 %(low)s 到 %(high)s 之间，实际为 %(value)s。",
                low=f"{low:g}",
                high=f"{high:g}",
                value=f"{x:g}",
            )
        )
    if low is not None and x < low:
        raise Bad(_("不能小于 %(low)s，实际为 %(value)s。", low=f"{low:g}", value=f"{x:g}"))
    return x


_FINITE = sys.float_info.max


def number(low: float | None = None, high: float | None = None) -> Callable[[Any], float]:
    lo, hi = -_FINITE if low is None else low, _FINITE if high is None else high

    def conv(v: Any) -> float:
        if type(v) is float and lo <= v <= hi:  # the usual cell, without three calls (NaN and ±inf fail here)
            return v
        return _ranged(_number(v), low, high)

    return conv


def integer(low: float | None = None, high: float | None = None) -> Callable[[Any], int]:
    lo, hi = -_FINITE if low is None else low, _FINITE if high is None else high

    def conv(v: Any) -> int:
        if type(v) is float and lo <= v <= hi and v.is_integer():
            return int(v)
        x = _number(v)
        if not x.is_integer():
            raise Bad(_("应为整数，实际为 %(value)s。", value=f"{x:g}"))
        return int(_ranged(x, low, high))

    return conv


def share(v: Any) -> float:
    tp = type(v)
    if tp is float or tp is int:
        x = float(v)
    else:
        text = cell_text(v)
        x = _number(text)
        if text.endswith(("%", "％")):
            x /= 100
    if not 0 <= x <= 1:
        raise Bad(_("占比应在 0 到 1 之间（如 0.3 或 30%%），实际为 %(value)s。", value=cell_text(v)))
    return x


def text(maxlen: int) -> Callable[[Any], str]:
    def conv(v: Any) -> str:
        s = v.strip() if type(v) is str else cell_text(v)
        if len(s) > maxlen:
            raise Bad(_("长度为 %(n)d 个字符，超过上限 %(max)d。", n=len(s), max=maxlen))
        return s

    return conv


def boolean(v: Any) -> bool:
    if v is True or v is False:
        return v
    if v == t.YES:
        return True
    if v == t.NO:
        return False
    key = t.norm(cell_text(v))
    if key in t.YES_WORDS:
        return True
    if key in t.NO_WORDS:
        return False
    raise Bad(_("应填写“是”或“否”，实际为“%(value)s”。", value=cell_text(v)))


_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_EXCEL_EPOCH = date(1899, 12, 30)


def a_date(v: Any) -> str:
    if type(v) is str and len(v) == 10 and v[4] == "-" and v[7] == "-":  # ISO text, as exported
        try:
            return date.fromisoformat(v).isoformat()
        except ValueError:
            pass  # the general rules below name the problem
    if isinstance(v, datetime):
        return v.date().isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if type(v) in (float, int) and 1 <= v < 2958466:  # an Excel serial number without a date format
        return (_EXCEL_EPOCH + timedelta(days=int(v))).isoformat()
    s = cell_text(v)
    m = _DATE.match(s) or (re.match(r"^(\d{4})(\d{2})(\d{2})$", s))
    if m:
        try:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
        except ValueError:
            pass
    raise Bad(_("“%(value)s”不是有效日期（如 2024-05-01）。", value=s))


def choice(name: str) -> Callable[[Any], str]:
    table = t.CHOICES[name]
    fast = {**{label: value for value, label in t.LABEL_OF[name].items()}, **{v: v for v in t.LABEL_OF[name]}}
    labels = "、".join(t.choice_labels(name))

    def conv(v: Any) -> str:
        found = fast.get(v) if type(v) is str else None
        if found is None:
            found = table.get(t.norm(cell_text(v)))
            if found is None:
                raise Bad(_("“%(value)s”不是可选值，应为：%(choices)s。", value=cell_text(v), choices=labels))
        return found

    return conv


_STAGE_SPLIT = re.compile(r"[;；\n]+")
_PAIR_SPLIT = re.compile(r"[,，、]+")


def machinery_emissions(v: Any) -> dict[str, dict[str, float]]:
    """ "国Ⅲ:氮氧化物=1.2,颗粒物=0.1；国Ⅱ:氮氧化物=0.5" → {"china_3": {"nox": 1.2, "pm": 0.1}, …}."""
    stages, pollutants = t.CHOICES["stage"], t.CHOICES["pollutant"]
    out: dict[str, dict[str, float]] = {}
    for part in _STAGE_SPLIT.split(cell_text(v)):
        part = part.strip()
        if not part:
            continue
        head, sep, rest = part.replace("：", ":").partition(":")
        stage = stages.get(t.norm(head))
        if not sep or stage is None:
            raise Bad(_("“%(part)s”应写成“排放阶段:污染物=吨数”，如“国Ⅲ:氮氧化物=1.2,颗粒物=0.1”。", part=part))
        amounts = out.setdefault(stage, {})
        for pair in _PAIR_SPLIT.split(rest):
            if not pair.strip():
                continue
            name, eq, amount = pair.replace("＝", "=").partition("=")
            pollutant = pollutants.get(t.norm(name))
            if not eq or pollutant is None:
                raise Bad(
                    _(
                        "“%(pair)s”应写成“污染物=吨数”，污染物为二氧化硫、氮氧化物、颗粒物或挥发性有机物。",
                        pair=pair,
                    )
                )
            amounts[pollutant] = _ranged(_number(amount), 0, None)
    return out


def format_machinery_emissions(value: dict[str, dict[str, float]] | None) -> str:
    parts = []
    for stage in t.MACHINERY_STAGES:
        amounts = (value or {}).get(stage.value)
        if amounts:
            pairs = ",".join(f"{LABELS[p]}={amounts[p.value]!r}" for p in POLLUTANTS if p.value in amounts)
            parts.append(f"{LABELS[stage]}:{pairs}")
    return "；".join(parts)


def _float_range(column: t.Column) -> tuple[float, float]:
    """The range in which a float cell is taken as it is (number and share columns); an empty range for the
    others, whose converters always run (an integer column returns an int)."""
    if column.kind == "number":
        return (-_FINITE if column.low is None else column.low, _FINITE if column.high is None else column.high)
    if column.kind == "share":
        return (0.0, 1.0)
    return (1.0, 0.0)


def converter(column: t.Column) -> Callable[[Any], Any]:
    kind = column.kind
    if kind == "text":
        return text(column.maxlen)
    if kind == "number":
        return number(column.low, column.high)
    if kind == "integer":
        return integer(column.low, column.high)
    if kind == "share":
        return share
    if kind == "bool":
        return boolean
    if kind == "date":
        return a_date
    if kind == "enum":
        return choice(column.choices)
    if kind == "emissions":
        return machinery_emissions
    return text(64)  # uscc, county, industry: resolved afterwards


# --- the context of a list ------------------------------------------------------------------------------


@dataclass
class Places:
    """The list's jurisdiction subtree: where its enterprises may be."""

    root_id: int
    root_is_county: bool
    by_key: dict[str, int]  # code, name and short name (normalised) → id; ambiguous names → -1

    def resolve(self, v: Any) -> int:
        key = cell_text(v)
        found = self.by_key.get(key)
        if found is None:
            found = self.by_key.get(t.norm(key))
        if found is None:
            raise Bad(_("“%(value)s”不在本清单的辖区内（请填写辖区内区县的名称或行政区划代码）。", value=key))
        if found == -1:
            raise Bad(_("辖区内有多个名为“%(value)s”的行政区，请填写行政区划代码。", value=key))
        return found


@dataclass
class Industries:
    by_key: dict[str, str]  # library code or name (normalised) → library code
    of_code: Callable[[str], str]  # GB/T 4754 code → library code
    labels: str


# --- the parsed file ------------------------------------------------------------------------------------


@dataclass
class Bundle:
    """One enterprise of the file with everything below it."""

    row: int
    ent: tuple[Any, ...]
    units: list[tuple[Any, ...]] = field(default_factory=list)
    measures: list[tuple[Any, ...]] = field(default_factory=list)
    facilities: list[tuple[Any, ...]] = field(default_factory=list)
    meters: list[tuple[Any, ...]] = field(default_factory=list)

    def dump(self) -> tuple[Any, ...]:
        return (self.row, self.ent, self.units, self.measures, self.facilities, self.meters)

    @classmethod
    def load(cls, data: tuple[Any, ...]) -> Bundle:
        """From `dump()` as marshal gives it back (tuples stay tuples, lists lists)."""
        return cls(*data)


@dataclass
class Parsed:
    bundles: list[Bundle]
    issues: list[Issue]
    in_file: int = 0  # the enterprises of the file (their first rows), those refused included

    @property
    def errors(self) -> int:
        return sum(1 for i in self.issues if i.error)


class _Ent:
    """Working state of one enterprise while its rows are read."""

    __slots__ = ("bad", "bundle", "cells", "measures_bad", "unit_raw", "unit_rows", "uscc")

    def __init__(self, uscc: str, bundle: Bundle | None, cells: tuple[Any, ...], bad: bool = False) -> None:
        # bundle None: rows that belong to no enterprise (still checked); bad: checked, never imported
        self.uscc, self.bundle, self.cells = uscc, bundle, cells
        self.unit_raw: dict[str, tuple[Any, ...]] = {}
        self.unit_rows: dict[str | None, int] = {}
        self.bad = bad or bundle is None
        self.measures_bad = False


def _getter(indexes: list[int]) -> Callable[[list[Any]], tuple[Any, ...]]:
    if not indexes:
        return lambda row: ()
    if len(indexes) == 1:
        i = indexes[0]
        return lambda row: (row[i],)
    return itemgetter(*indexes)  # type: ignore[return-value]


class MainParser:
    def __init__(self, sheet: Sheet, places: Places, industries: Industries, issues: list[Issue]) -> None:
        self.sheet, self.places, self.industries, self.issues = sheet, places, industries, issues
        idx = sheet.index
        self.ent_cols = [(c, idx[main_key(c)]) for c in t.ENTERPRISE_COLUMNS if main_key(c) in idx]
        self.ent_conv = [(c.key, converter(c), *_float_range(c)) for c, _i in self.ent_cols]  # get_ent's order
        self.unit_cols = [(c, idx[main_key(c)]) for c in t.UNIT_COLUMNS[1:] if main_key(c) in idx]
        self.unit_conv = [(UNIT_FIELDS.index(c.key), c.key, converter(c), *_float_range(c)) for c, _i in self.unit_cols]
        self.i_uscc = idx.get("e.uscc")
        self.i_code = idx.get("u.code")
        self.code_conv = text(32)
        self.get_ent = _getter([i for _c, i in self.ent_cols])
        self.get_unit = _getter([i for _c, i in self.unit_cols])
        self.levels = []
        every_level: list[int] = []
        for level in LEVELS:
            cols = {c.key: idx.get(f"{level.value}.{c.key}") for c in t.LEVEL_COLUMNS[level]}
            every_level += [i for i in cols.values() if i is not None]
            self.levels.append((level.value, cols, cols["note"], _shape_getter(cols)))
        self.get_levels = _getter(every_level)
        self.note_conv = text(300)
        self.measure_cache: dict[tuple[Any, ...], tuple[tuple[Any, ...] | None, list[tuple[str, str]]]] = {}
        self.unit_rows: dict[int, dict[str | None, int]] = {}  # id(bundle) → the row of each unit code
        self.also_judged: list[Bundle] = []  # refused for other reasons, judged for the preview's sake
        self.bundles: list[Bundle] = []
        self.by_uscc: dict[str, Bundle] = {}
        self.first_rows: dict[str, int] = {}
        self.starts: list[tuple[int, str, str]] = []  # each enterprise's first row, credit code and name
        self.i_name = idx.get("e.name")

    # -- reporting --
    def issue(self, row: int | None, key: str | None, message: str, error: bool = True) -> None:
        sheet = self.sheet
        letter = sheet.letter(key) if key else None
        header = sheet.headers.get(key) if key else None
        if key and header is None:
            header = _header_of(key)
        self.issues.append(Issue(sheet.name, row, letter, header, message, error))

    # -- the rows --
    def run(self) -> None:
        cur: _Ent | None = None
        n_ent, n_unit = len(self.ent_cols), len(self.unit_cols)
        i_uscc, i_code = self.i_uscc, self.i_code
        get_levels = self.get_levels
        for r, row in enumerate(self.sheet.rows, start=self.sheet.first_row):
            ecells = self.get_ent(row)
            e_filled = n_ent - ecells.count("")
            code_raw = row[i_code] if i_code is not None else ""
            ucells = self.get_unit(row)
            u_filled = n_unit - ucells.count("")
            lcells = get_levels(row)
            l_filled = len(lcells) != lcells.count("")
            if not e_filled and not u_filled and code_raw == "" and not l_filled:
                continue  # a blank row
            raw_uscc = row[i_uscc] if i_uscc is not None else ""
            if raw_uscc != "" and (
                cur is None or (raw_uscc != cur.cells[0] and (code := _uscc_key(raw_uscc)) != cur.uscc)
            ):
                if cur is not None:
                    self.finish(cur)
                cur = self.start(r, code if cur is not None else _uscc_key(raw_uscc), ecells)
                name = row[self.i_name] if self.i_name is not None else ""
                self.starts.append((r, cur.uscc, cell_text(name).strip() if name != "" else ""))
            elif cur is None:
                if e_filled:
                    self.issue(r, "e.uscc", _("请填写统一社会信用代码。"))
                else:
                    self.issue(r, "e.uscc", _("该行之前没有企业：请在企业的首行填写企业信息。"))
                cur = _Ent("", None, ecells)
                continue
            elif e_filled and cur.bundle is not None and cur.bundle.ent:
                self.check_continuation(r, ecells, cur)
            self.unit_row(r, row, cur, code_raw, ucells, u_filled, l_filled)
        if cur is not None:
            self.finish(cur)

    def start(self, r: int, code: str, ecells: tuple[Any, ...]) -> _Ent:
        """The first row of an enterprise; `code` is its normalised credit code."""
        if code in self.first_rows:
            self.issue(
                r,
                "e.uscc",
                _(
                    "统一社会信用代码与第 %(row)d 行的企业重复；同一企业的各行应上下相邻。",
                    row=self.first_rows[code],
                ),
            )
            return _Ent(code, Bundle(r, ()), ecells, bad=True)
        self.first_rows[code] = r
        values = dict(_DEFAULTS)
        ok = True
        failed = set()
        for (key, conv, lo, hi), v in zip(self.ent_conv, ecells, strict=True):
            if type(v) is float and lo <= v <= hi:  # a number in range: what the converter would return
                values[key] = v
                continue
            if v == "":
                continue
            try:
                values[key] = conv(v)
            except Bad as e:
                ok = False
                failed.add(key)
                self.issue(r, f"e.{key}", str(e))
        problems = uscc_mod.problems(code) if code else [_("统一社会信用代码不能为空")]
        if problems:
            ok = False
            self.issue(r, "e.uscc", "；".join(problems))
        values["uscc"] = code
        ok &= self.enterprise_fields(r, values, failed)
        return _Ent(code, Bundle(r, tuple(map(values.get, ENT_FIELDS))), ecells, bad=not ok)

    def enterprise_fields(self, r: int, values: dict[str, Any], failed: set[str]) -> bool:
        ok = True
        if not values.get("name") and "name" not in failed:
            self.issue(r, "e.name", _("请填写企业名称。"))
            ok = False
        if values.get("category") is None and "category" not in failed:
            self.issue(
                r,
                "e.category",
                _("请填写企业类别（%(choices)s）。", choices="、".join(t.choice_labels("category"))),
            )
            ok = False
        county = values.pop("county", None)
        if "county" in failed:
            pass
        elif county is None or county == "":
            if self.places.root_is_county:
                values["jurisdiction_id"] = self.places.root_id
            else:
                self.issue(r, "e.county", _("请填写所在区县（名称或行政区划代码）。"))
                ok = False
        else:
            try:
                values["jurisdiction_id"] = self.places.resolve(county)
            except Bad as e:
                self.issue(r, "e.county", str(e))
                ok = False
        industry = values.get("industry") or ""
        if "industry" in failed:
            pass
        elif industry:
            found = self.industries.by_key.get(industry) or self.industries.by_key.get(t.norm(industry))
            if found is None:
                self.issue(
                    r,
                    "e.industry",
                    _(
                        "“%(value)s”不是规则库中的行业，应为：%(choices)s。",
                        value=industry,
                        choices=self.industries.labels,
                    ),
                )
                ok = False
            values["industry"] = found
        else:
            values["industry"] = self.industries.of_code(values.get("industry_code") or "")
        if (values.get("latitude") is None) != (values.get("longitude") is None):
            self.issue(
                r,
                "e.latitude" if values.get("latitude") is None else "e.longitude",
                _("经度和纬度应同时填写或同时留空。"),
            )
            ok = False
        if "*" in (values.get("contact_phone") or ""):
            self.issue(r, "e.contact_phone", _("联系电话含有遮盖字符“*”，请填写完整号码。"))
            ok = False
        machinery: dict[str, int] = {}
        trucks: dict[str, float] = {}
        for key, stage in _MACHINERY_KEYS:
            n = values.pop(key, None)
            if n is not None:
                machinery[stage] = n
        for key, p in _TRUCK_KEYS:
            amount = values.pop(key, None)
            if amount is not None:
                trucks[p] = amount
        values["machinery"], values["truck_emissions"] = machinery, trucks
        values.setdefault("machinery_emissions", {})
        return ok

    def check_continuation(self, r: int, ecells: tuple[Any, ...], cur: _Ent) -> None:
        first = cur.cells
        for k, v in enumerate(ecells):
            if k and v != "" and v != first[k]:  # k = 0: the credit code, matched already
                column = self.ent_cols[k][0]
                self.issue(
                    r,
                    main_key(column),
                    _(
                        "与本企业首行（第 %(row)d 行）不一致；同一企业的续行请将企业信息列留空。",
                        row=cur.bundle.row,
                    ),
                )  # type: ignore[union-attr]

    def unit_row(
        self,
        r: int,
        row: list[Any],
        cur: _Ent,
        code_raw: Any,
        ucells: tuple[Any, ...],
        u_filled: int,
        l_filled: bool,
    ) -> None:
        if code_raw == "":
            if u_filled:
                self.issue(r, "u.code", _("请填写工序编码。"))
            elif l_filled:
                self.issue(r, "u.code", _("请填写措施所针对的工序编码（全厂措施填“全厂”）。"))
            return
        try:
            code = self.code_conv(code_raw)
        except Bad as e:
            self.issue(r, "u.code", str(e))
            return
        bundle = cur.bundle
        if code == t.WHOLE_PLANT:
            unit: str | None = None
            if u_filled:
                self.issue(r, "u.name", _("“全厂”行只填写措施，不填写工序信息。"))
            cur.unit_rows.setdefault(None, r)
        elif code in cur.unit_raw:
            unit = code
            if u_filled and ucells != cur.unit_raw[code]:
                self.issue(
                    r,
                    "u.code",
                    _(
                        "工序编码“%(code)s”在本企业中重复（第 %(row)d 行）；"
                        "为同一工序增加措施时，该行工序其他列请留空。",
                        code=code,
                        row=cur.unit_rows[code],
                    ),
                )
                return
        else:
            unit = code
            cur.unit_raw[code] = ucells
            cur.unit_rows[code] = r
            values = [code, "", 0.0, 0.0, 0.0, 0.0, None, None, None, "", False, False]
            ok = True
            for (pos, key, conv, lo, hi), v in zip(self.unit_conv, ucells, strict=True):
                if type(v) is float and lo <= v <= hi:  # a number in range: what the converter would return
                    values[pos] = v
                    continue
                if v == "":
                    continue
                try:
                    values[pos] = conv(v)
                except Bad as e:
                    ok = False
                    self.issue(r, f"u.{key}", str(e))
            if not values[1]:
                self.issue(r, "u.name", _("请填写工序名称。"))
                ok = False
            if ok and bundle is not None:
                bundle.units.append(tuple(values))
            else:
                cur.bad = True
        if not l_filled:
            return
        whole = unit is None
        cache = self.measure_cache
        for prefix, cols, i_note, shape_of in self.levels:
            cells = shape_of(row)
            note = row[i_note] if i_note is not None else ""
            if cells == _NO_MEASURE and note == "":
                continue
            raw = (cells, whole)
            cached = cache.get(raw)
            if cached is None:
                cached = cache[raw] = _check_measure(*cells, whole)
            shape, problems = cached
            if problems or note != "":
                self.measure(r, row, cur, prefix, cols, unit, shape, problems)
            elif shape is None:
                cur.bad = cur.measures_bad = True
            elif cur.bundle is not None:
                cur.bundle.measures.append((prefix, unit, *shape, ""))

    def measure(
        self,
        r: int,
        row: list[Any],
        cur: _Ent,
        prefix: str,
        cols: dict[str, int | None],
        unit: str | None,
        shape: tuple[Any, ...] | None,
        problems: list[tuple[str, str]],
    ) -> None:
        """A measure with a note or with problems (the common case is handled inline in unit_row)."""
        for key, message in problems:
            self.issue(r, f"{prefix}.{key}", message)
        note = ""
        i = cols["note"]
        if i is not None and (v := row[i]) != "":
            try:
                note = self.note_conv(v)
            except Bad as e:
                self.issue(r, f"{prefix}.note", str(e))
                shape = None
        if shape is None:
            cur.bad = cur.measures_bad = True
            return
        if cur.bundle is not None:
            kind, percent, verification, stage, basis = shape
            cur.bundle.measures.append((prefix, unit, kind, percent, verification, stage, basis, note))

    def finish(self, cur: _Ent) -> None:
        bundle = cur.bundle
        if bundle is None or not bundle.ent:
            return
        self.enterprise_checks(cur, bundle)
        if not cur.bad:
            self.bundles.append(bundle)
            self.by_uscc[cur.uscc] = bundle

    def enterprise_checks(self, cur: _Ent, bundle: Bundle) -> None:
        r = bundle.row
        units = bundle.units
        totals = [sum(c) for c in zip(*[u[2:6] for u in units], strict=True)] if len(units) > 1 else ()
        for p, total in zip(POLLUTANTS, totals, strict=False):  # a single unit's shares are checked already
            if total > 1 + 1e-6:
                self.issue(
                    r,
                    f"u.share_{p.value}",
                    _(
                        "本企业各工序%(pollutant)s占比合计 %(total)s，超过 1（100%%）。",
                        pollutant=LABELS[p],
                        total=f"{total:.4g}",
                    ),
                )
                cur.bad = True
        if not cur.measures_bad:  # a refused enterprise is judged too: every problem of a row is named at once
            self.unit_rows[id(bundle)] = dict(cur.unit_rows)
            if cur.bad:
                self.also_judged.append(bundle)

    def judge(self) -> None:
        """The one rule engine (domain/bulk.py) on every enterprise read, as the editor and the list page judge
        them: what the editor refuses (bulk.REFUSED) refuses the enterprise, a classification flag is a
        warning; the rule library's minimums are flags of the list page, not of the file."""
        if not self.bundles and not self.also_judged:
            return
        # A refused enterprise is judged on what could be read: a missing category counts as "other", measures
        # on a unit that could not be read are left out (their errors are reported already), and only the
        # escalation and the verifications are reported (the rest the rows' own checks name).
        others = []
        for b in self.also_judged:
            codes = {u[0] for u in b.units}
            measures = [m for m in b.measures if m[1] is None or m[1] in codes]
            others.append(Bundle(b.row, _with_category(b.ent), b.units, measures))
        assessed = bulk.assess(plants_of([*self.bundles, *others]), bulk.NO_RULES, explain=True)
        good = len(self.bundles)
        for i, bundle in enumerate(self.also_judged, start=good):
            rows = self.unit_rows.get(id(bundle), {})
            for problem in assessed.worded(i) if assessed.codes[i] else ():
                if problem.code in _OF_MEASURES:
                    row = rows.get(problem.unit_id, bundle.row) if problem.unit_id else rows.get(None, bundle.row)
                    self.issue(row, _column_of(problem), problem.message)
        kept: list[Bundle] = []
        for i, bundle in enumerate(self.bundles):
            refused = False
            if assessed.codes[i]:
                rows = self.unit_rows.get(id(bundle), {})
                for problem in assessed.worded(i):
                    row = rows.get(problem.unit_id, bundle.row) if problem.unit_id else rows.get(None, bundle.row)
                    if problem.code in bulk.REFUSED:
                        self.issue(row, _column_of(problem), problem.message)
                        refused = True
                    elif problem.code in _CLASSIFICATION:
                        key = "e.grade" if problem.code in ("key_without_grade", "grade_not_key") else "e.category"
                        self.issue(bundle.row, key, problem.message, error=False)
            if refused:
                self.by_uscc.pop(bundle.ent[E["uscc"]], None)
            else:
                kept.append(bundle)
        self.bundles[:] = kept


_CLASSIFICATION = frozenset({"key_without_grade", "grade_not_key", "not_micro"})
# the engine's refusals a refused enterprise is still judged for: its measures' (the rows' own checks name the rest)
_OF_MEASURES = frozenset({"escalation_weaker", "verification_unsuitable"})


def _column_of(problem: dp.Problem) -> str | None:
    """The column a refusal of the engine points at: the level's verification or measure."""
    if problem.level is None:
        return None
    return f"{problem.level.value}.{'verification' if problem.code == 'verification_unsuitable' else 'kind'}"


def _with_category(ent: tuple[Any, ...]) -> tuple[Any, ...]:
    if ent[E["category"]] is not None:
        return ent
    fixed = list(ent)
    fixed[E["category"]], fixed[E["grade"]] = "other", None
    return tuple(fixed)


def plants_of(bundles: Sequence[Bundle]) -> bulk.Plants:
    """The records as the checks read them (their units and measures start as bulk.UNIT_LAYOUT and
    MEASURE_LAYOUT say); columns taken with map and itemgetter (no Python step per enterprise, unit or
    measure)."""
    n = len(bundles)
    ents = list(map(attrgetter("ent"), bundles))

    def column(name: str) -> list[Any]:
        return list(map(itemgetter(E[name]), ents))

    def array(name: str, dtype: type) -> np.ndarray:
        return np.fromiter(map(itemgetter(E[name]), ents), dtype, n)

    units = list(map(attrgetter("units"), bundles))
    measures = list(map(attrgetter("measures"), bundles))
    emissions = chain.from_iterable(map(itemgetter(*(E[p.value] for p in POLLUTANTS)), ents))
    days = array("operating_days", np.int64)
    return bulk.Plants(
        category=column("category"),
        grade=column("grade"),
        industry=[x or "other" for x in column("industry")],
        emissions=np.fromiter(emissions, float, 4 * n).reshape(n, 4),
        uses_coal=array("uses_coal", bool),
        uses_oil=array("uses_oil", bool),
        toxic=array("toxic", bool),
        truck_visits=array("truck_visits_per_day", np.int64),
        operating_days=np.where(days == 0, 365, days),
        machinery=column("machinery"),
        truck_emissions=column("truck_emissions"),
        machinery_emissions=column("machinery_emissions"),
        units=list(chain.from_iterable(units)),
        unit_owner=np.repeat(np.arange(n), np.fromiter(map(len, units), np.int64, n)),
        measures=chain.from_iterable(measures),
        measure_owner=np.repeat(np.arange(n), np.fromiter(map(len, measures), np.int64, n)),
    )


_NO_MEASURE = ("", "", "", "")


def _shape_getter(cols: dict[str, int | None]) -> Callable[[list[Any]], tuple[Any, ...]]:
    """The (kind, percent, verification, max_stage) cells of a level block, "" for a missing column."""
    keys = ("kind", "percent", "verification", "max_stage")
    indexes = [cols[k] for k in keys]
    if all(i is not None for i in indexes):
        return itemgetter(*indexes)  # type: ignore[arg-type]
    return lambda row: tuple(row[i] if i is not None else "" for i in indexes)


def _header_of(key: str) -> str | None:
    for c in t.MAIN_COLUMNS:
        if main_key(c) == key:
            return c.header
    return None


def _uscc_key(raw: Any) -> str:
    return uscc_mod.normalise(cell_text(raw))


_KIND = choice("measure")
_VERIFICATION = choice("verification")
_STAGE = choice("stage")
_PERCENT = number(0, 100)


def _check_measure(
    kind_raw: Any,
    pct_raw: Any,
    ver_raw: Any,
    stage_raw: Any,
    whole: bool,
) -> tuple[tuple[Any, ...] | None, list[tuple[str, str]]]:
    """One measure's cells → (kind, percent, verification, max_stage, basis) or the problems, per column."""
    problems: list[tuple[str, str]] = []
    if kind_raw == "":
        return None, [("kind", _("该级别填写了比例、核查方式或说明，但没有填写措施。"))]
    kind = percent = verification = stage = basis = None
    try:
        kind = _KIND(kind_raw)
        basis = t.MEASURE_BASIS.get(t.norm(cell_text(kind_raw)))
    except Bad as e:
        problems.append(("kind", str(e)))
    if pct_raw != "":
        try:
            percent = _PERCENT(pct_raw)
        except Bad as e:
            problems.append(("percent", str(e)))
    if ver_raw == "":
        problems.append(
            (
                "verification",
                _("请填写核查方式（%(choices)s）。", choices="、".join(t.choice_labels("verification"))),
            )
        )
    else:
        try:
            verification = _VERIFICATION(ver_raw)
        except Bad as e:
            problems.append(("verification", str(e)))
    if stage_raw != "":
        try:
            stage = _STAGE(stage_raw)
        except Bad as e:
            problems.append(("max_stage", str(e)))
    if problems or kind is None or verification is None:
        return None, problems
    try:
        dp.Measure(
            kind=MeasureKind(kind),
            verification=Verification(verification),
            unit_id=None if whole else "_",
            percent=percent,
            max_stage=MachineryStage(stage) if stage else None,
            basis=basis,
        )  # type: ignore[arg-type]
    except dp.MeasureError as e:
        message = str(e)
        where = "percent" if "百分比" in message else "max_stage" if "阶段" in message else "kind"
        return None, [(where, message)]
    if kind == "output_cap" and percent is not None and percent <= 0:
        return None, [("percent", _("以量定产/以热定产的最大允许负荷应大于 0。"))]
    # whether the verification can prove the measure is the rule engine's to say (judge), as in the editor
    return (kind, percent, verification, stage, basis), []


# --- the optional sheets --------------------------------------------------------------------------------


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


__all__ = ["ENT_FIELDS", "Bundle", "Industries", "Parsed", "Places", "Pollutant", "parse"]
