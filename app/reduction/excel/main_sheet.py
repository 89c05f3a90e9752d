"""The main sheet: an enterprise's first row and its continuation rows, its process units and their measures
per level, read into records with every problem on its row and column; the checks across an enterprise's rows
(shares, the rule engine: judging.py) once it is read."""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import Any

from flask_babel import gettext as _

from app.reduction.domain import uscc as uscc_mod
from app.reduction.domain.vocabulary import LABELS, LEVELS, POLLUTANTS
from app.reduction.excel import judging
from app.reduction.excel import template as t
from app.reduction.excel.cells import Bad, cell_text, converter, float_range, text
from app.reduction.excel.measures import NO_MEASURE, check_measure, shape_getter
from app.reduction.excel.reader import Issue, Sheet, main_key
from app.reduction.excel.records import DEFAULTS, ENT_FIELDS, UNIT_FIELDS, Bundle, Industries, Places

_MACHINERY_KEYS = [(f"machinery:{s.value}", s.value) for s in t.MACHINERY_STAGES]
_TRUCK_KEYS = [(f"truck:{p.value}", p.value) for p in POLLUTANTS]


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
        self.ent_conv = [(c.key, converter(c), *float_range(c)) for c, _i in self.ent_cols]  # get_ent's order
        self.unit_cols = [(c, idx[main_key(c)]) for c in t.UNIT_COLUMNS[1:] if main_key(c) in idx]
        self.unit_conv = [(UNIT_FIELDS.index(c.key), c.key, converter(c), *float_range(c)) for c, _i in self.unit_cols]
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
            self.levels.append((level.value, cols, cols["note"], shape_getter(cols)))
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
        values = dict(DEFAULTS)
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
            if cells == NO_MEASURE and note == "":
                continue
            raw = (cells, whole)
            cached = cache.get(raw)
            if cached is None:
                cached = cache[raw] = check_measure(*cells, whole)
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
        """The one rule engine on every enterprise read (judging.judge): what the editor refuses refuses the
        enterprise, a classification flag is a warning."""
        judging.judge(self.bundles, self.also_judged, self.unit_rows, self.by_uscc, self.issue)


def _header_of(key: str) -> str | None:
    for c in t.MAIN_COLUMNS:
        if main_key(c) == key:
            return c.header
    return None


def _uscc_key(raw: Any) -> str:
    return uscc_mod.normalise(cell_text(raw))
