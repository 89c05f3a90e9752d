"""One measure's cells of a level block (kind, percent, verification, machinery stage) checked as the editor
checks a measure; the shape a main-sheet row's level columns are read in."""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import Any

from flask_babel import gettext as _

from app.reduction.domain import policy as dp
from app.reduction.domain.vocabulary import MachineryStage, MeasureKind, Verification
from app.reduction.excel import template as t
from app.reduction.excel.cells import Bad, cell_text, choice, number

NO_MEASURE = ("", "", "", "")


def shape_getter(cols: dict[str, int | None]) -> Callable[[list[Any]], tuple[Any, ...]]:
    """The (kind, percent, verification, max_stage) cells of a level block, "" for a missing column."""
    keys = ("kind", "percent", "verification", "max_stage")
    indexes = [cols[k] for k in keys]
    if all(i is not None for i in indexes):
        return itemgetter(*indexes)  # type: ignore[arg-type]
    return lambda row: tuple(row[i] if i is not None else "" for i in indexes)


_KIND = choice("measure")
_VERIFICATION = choice("verification")
_STAGE = choice("stage")
_PERCENT = number(0, 100)


def check_measure(
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
