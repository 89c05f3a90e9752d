"""Reading the reduction screens' forms and the API's JSON bodies: clean values, or a ServiceError whose
Chinese message and `field` name what is wrong. CSRF is checked for every form by the request cycle."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from app.core.errors import ServiceError
from app.reduction.domain.vocabulary import AlertLevel
from app.reduction.services.policies import MeasureInput

MAX_ROWS = 60  # measures of one level: a plant with many lines, each with several measures
ROW_FIELDS = ("kind", "unit", "percent", "verification", "max_stage", "basis", "note")


def level(value: Any) -> AlertLevel:
    try:
        return AlertLevel(str(value or ""))
    except ValueError:
        raise ServiceError(_("预警级别应为黄色、橙色或红色。"), field="level") from None


def year(value: Any, field: str = "year") -> int:
    raw = str(value or "").strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) != 4 or not 2000 <= int(raw) <= 2100:
        raise ServiceError(_("“年份”应为 2000 到 2100 之间的四位数字。"), field=field)
    return int(raw)


def number(
    value: Any, label: str, field: str, *, low: float = 0.0, high: float = 1e9, required: bool = True
) -> float | None:
    raw = ("" if value is None else str(value)).strip().replace("，", "").replace(",", "")
    if not raw:
        if required:
            raise ServiceError(_("请填写“%(what)s”。", what=label), field=field)
        return None
    try:
        v = float(raw)
    except ValueError:
        raise ServiceError(_("“%(what)s”应为数字，不是“%(raw)s”。", what=label, raw=raw[:20]), field=field) from None
    if not math.isfinite(v) or not low <= v <= high:
        raise ServiceError(_("“%(what)s”应在 %(low)g 到 %(high)g 之间。", what=label, low=low, high=high), field=field)
    return v


def day(value: Any, label: str, field: str) -> date:
    raw = str(value or "").strip()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ServiceError(_("“%(what)s”应为日期（如 2026-12-15）。", what=label), field=field) from None


def text(value: Any, label: str, field: str, max_len: int, *, required: bool = False) -> str:
    raw = str(value or "").strip()
    if required and not raw:
        raise ServiceError(_("请填写“%(what)s”。", what=label), field=field)
    if len(raw) > max_len:
        raise ServiceError(_("“%(what)s”不能超过 %(n)d 个字符。", what=label, n=max_len), field=field)
    return raw


# --- the policy editor -----------------------------------------------------------------------------------


_ROW_KEY = re.compile(r"rows-([0-9]{1,6})-")


def policy_rows(form: MultiDict[str, str]) -> tuple[list[MeasureInput], list[dict[str, str]]]:
    """The editor's rows: `rows-<n>-<field>`; a row without a kind (a blank row) or ticked `remove` is left
    out. Returns the measures and the raw rows (to show the form again after a refusal)."""
    indexes = sorted({int(m[1]) for k in form if (m := _ROW_KEY.match(k))})
    raw: list[dict[str, str]] = []
    for i in indexes:
        row = {name: str(form.get(f"rows-{i}-{name}", "")).strip() for name in ROW_FIELDS}
        row["remove"] = "1" if form.get(f"rows-{i}-remove") else ""
        raw.append(row)
    kept = [r for r in raw if r["kind"] and not r["remove"]]
    if len(kept) > MAX_ROWS:
        raise ServiceError(_("一个预警级别最多 %(n)d 条措施。", n=MAX_ROWS), field="measures")
    rows = []
    for n, r in enumerate(kept, start=1):
        percent = number(
            r["percent"],
            _("第 %(n)d 条措施的百分比", n=n),
            f"measures[{n}].percent",
            low=0,
            high=100,
            required=False,
        )
        rows.append(
            MeasureInput(
                kind=r["kind"],
                verification=r["verification"],
                unit_code=r["unit"] or None,
                percent=percent,
                max_stage=r["max_stage"] or None,
                basis=r["basis"] or None,
                note=r["note"],
            )
        )
    return rows, raw


def json_rows(payload: Any) -> list[MeasureInput]:
    """The API's `measures`: a list of objects with kind, verification and optionally unit, percent,
    max_stage, basis, note."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("measures"), list):
        raise ServiceError(_("请求体应为 JSON 对象，且含有 measures 数组。"), field="measures")
    items = payload["measures"]
    if len(items) > MAX_ROWS:
        raise ServiceError(_("一个预警级别最多 %(n)d 条措施。", n=MAX_ROWS), field="measures")
    rows = []
    for n, item in enumerate(items, start=1):
        if not isinstance(item, Mapping):
            raise ServiceError(_("第 %(n)d 条措施应为对象。", n=n), field=f"measures[{n}]")
        for key in ("kind", "verification", "unit", "max_stage", "basis", "note"):
            if item.get(key) is not None and not isinstance(item[key], str):
                raise ServiceError(
                    _("第 %(n)d 条措施的 %(key)s 应为字符串。", n=n, key=key), field=f"measures[{n}].{key}"
                )
        percent = item.get("percent")
        if percent is not None and (isinstance(percent, bool) or not isinstance(percent, int | float)):
            raise ServiceError(_("第 %(n)d 条措施的 percent 应为数字。", n=n), field=f"measures[{n}].percent")
        rows.append(
            MeasureInput(
                kind=item.get("kind") or "",
                verification=item.get("verification") or "",
                unit_code=item.get("unit") or None,
                percent=None if percent is None else float(percent),
                max_stage=item.get("max_stage") or None,
                basis=item.get("basis") or None,
                note=item.get("note") or "",
            )
        )
    return rows


def editor_raw(rows: list[MeasureInput]) -> list[dict[str, str]]:
    """Stored measures as the editor's raw rows."""
    return [
        {
            "kind": r.kind,
            "unit": r.unit_code or "",
            "percent": "" if r.percent is None else f"{r.percent:g}",
            "verification": r.verification,
            "max_stage": r.max_stage or "",
            "basis": r.basis or "",
            "note": r.note,
            "remove": "",
        }
        for r in rows
    ]
