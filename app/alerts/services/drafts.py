"""What a proposal says before it exists (seed 000 四(三)): the draft made by hand or from an evaluation's
proposal, and the parsing of its level and start time (a refusal names the field)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask_babel import gettext as _

from app.alerts.vocabulary import ProposalKind
from app.core.errors import ServiceError
from app.core.localtime import LOCAL_TZ
from app.reduction.domain.vocabulary import AlertLevel


@dataclass
class Draft:
    """What a proposal says (seed 000 四(三)): level, units, start, degree of pollution, weather, reason."""

    kind: ProposalKind
    level: AlertLevel | None
    units: list[str]
    starts_at: datetime
    pollution: str = ""
    weather: str = ""
    reason: str = ""
    unit_levels: dict[str, str] | None = None
    propose_by: datetime | None = None
    evaluation: dict[str, Any] | None = None
    on_schedule: bool = False


def parse_level(value: Any, field: str = "level") -> AlertLevel:
    try:
        return AlertLevel(str(value))
    except ValueError:
        raise ServiceError(_("预警级别应为黄色、橙色或红色，而不是“%(v)s”。", v=value), field=field) from None


def parse_when(value: Any, field: str = "starts_at") -> datetime:
    if isinstance(value, datetime):
        t = value
    else:
        try:
            t = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise ServiceError(_("启动时间“%(v)s”无法识别，应为 YYYY-MM-DDTHH:MM。", v=value), field=field) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=LOCAL_TZ)
    return t.astimezone(UTC)


def draft_from_evaluation(result: Mapping[str, Any], index: int, *, pollution: str = "", weather: str = "") -> Draft:
    """A draft from the evaluation's proposal number `index` (app/alerts/domain/evaluate.py), with each unit's own
    higher level at the start kept."""
    found = list(result.get("proposals") or [])
    if not 0 <= index < len(found):
        raise ServiceError(_("评估结果中没有第 %(n)s 条建议。", n=index + 1), field="proposal")
    p = found[index]
    if p["kind"] == "lift_pending":
        raise ServiceError(_("预报尚未覆盖足够的改善时长，暂不能建议解除：%(r)s", r=p["reason"]), field="proposal")
    kind = ProposalKind(p["kind"])
    level = parse_level(p["level"]) if p.get("level") else None
    start = parse_when(p["start"])
    unit_levels: dict[str, str] = {}
    if level is not None:
        for unit in result.get("units", []):
            if unit["unit"] not in p["units"]:
                continue
            for stretch in unit["levels"]:
                if parse_when(stretch["start"]) <= start < parse_when(stretch["end"]):
                    own = AlertLevel(stretch["level"])
                    if own.order > level.order:
                        unit_levels[unit["unit"]] = own.value
    return Draft(
        kind=kind, level=level, units=list(p["units"]), starts_at=start, pollution=pollution, weather=weather,
        reason=p["reason"], unit_levels=unit_levels,
        propose_by=parse_when(p["propose_by"]) if p.get("propose_by") else None,
        evaluation={"plan": result.get("plan"), "proposal": p}, on_schedule=kind is ProposalKind.lift,
    )  # fmt: skip
