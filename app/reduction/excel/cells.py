"""Cell values coerced to what the records hold: numbers in their range, shares, bounded texts, yes/no, dates,
choices by label or value, a machinery stage's emissions; each refusal a `Bad` naming why (in Chinese)."""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import gettext as _

from app.reduction.domain.vocabulary import LABELS, POLLUTANTS
from app.reduction.excel import template as t


class Bad(ValueError):
    """A cell's value is wrong; the message says why (in Chinese)."""


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


def float_range(column: t.Column) -> tuple[float, float]:
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
