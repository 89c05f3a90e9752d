"""Forecasts and observations stored (one issue per distinct content, every issue kept) and evaluated under a
plan. Services flush; the request or the CLI commits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.alerts.domain import evaluate as domain
from app.alerts.domain.readings import Readings, ReadingsError
from app.alerts.models import ForecastIssue, ForecastValue, ReadingKind
from app.audit.services import record
from app.core.errors import NotFound
from app.core.localtime import LOCAL_TZ
from app.places.models import Jurisdiction
from app.plans import services as plans


def member_codes(session: Session, plan_code: str | None = None) -> set[str]:
    """Division codes that may appear in a forecast: the members of one plan, or of every plan."""
    chosen = [plans.by_code(session, plan_code)] if plan_code else list(plans.member_plans(session).values())
    if plan_code and chosen[0] is None:
        raise NotFound(f"没有代码为 {plan_code} 的预案")
    codes: set[str] = set()
    if plan_code:
        for zone in chosen[0].zones:  # type: ignore[union-attr]
            codes |= {m.jurisdiction.code for m in zone.members}
        return codes
    return set(plans.member_plans(session))


def store(session: Session, readings: Readings, kind: ReadingKind, source_name: str, user: Any = None) -> tuple[
    ForecastIssue, bool]:  # fmt: skip
    """The issue holding these values: the existing one when the same content came before (False), else a new
    one with all its values (True)."""
    found = session.scalars(
        select(ForecastIssue).where(ForecastIssue.kind == kind, ForecastIssue.digest == readings.digest)
    ).first()
    if found is not None:
        return found, False
    frame = readings.frame
    ids = dict(session.execute(select(Jurisdiction.code, Jurisdiction.id).where(
        Jurisdiction.code.in_(sorted(set(frame["unit"]))))).all())  # fmt: skip
    missing = sorted(set(frame["unit"]) - set(ids))
    if missing:
        raise ReadingsError([f"{source_name}：未知的行政区划代码 {', '.join(missing[:10])}"])
    starts = [_utc(t) for t in pd.to_datetime(frame["start"])]
    issue = ForecastIssue(
        kind=kind, digest=readings.digest, resolution=readings.resolution, source_name=source_name[:255],
        row_count=len(frame), first_start=min(starts), last_start=max(starts),
        uploaded_by_id=getattr(user, "id", None),
    )  # fmt: skip
    session.add(issue)
    session.flush()

    def num(v: float) -> int | None:
        return None if np.isnan(v) else int(v)

    rows = [
        {"issue_id": issue.id, "jurisdiction_id": ids[u], "starts_at": s, "hours": int(h), "aqi": num(a),
         "aqi_min": num(lo), "aqi_max": num(hi), "pm25": None if np.isnan(p) else float(p), "aqi_pm25": num(ap),
         "aqi_table": tb, "primary_pollutant": pp, "dust": bool(d)}
        for u, s, h, a, lo, hi, p, ap, tb, pp, d in zip(
            frame["unit"], starts, frame["hours"], frame["aqi"], frame["aqi_min"], frame["aqi_max"], frame["pm25"],
            frame["aqi_pm25"], frame["aqi_table"], frame["primary_pollutant"], frame["dust"], strict=True)
    ]  # fmt: skip
    session.execute(insert(ForecastValue), rows)
    record(session, f"{kind.value}.import", obj=issue, user=user,
           after={"rows": len(rows), "digest": readings.digest, "source": source_name[:255]})  # fmt: skip
    session.flush()
    return issue, True


def latest_forecast(session: Session) -> ForecastIssue | None:
    """The forecast centre's newest forecast issue (observations aside)."""
    return session.scalars(
        select(ForecastIssue).where(ForecastIssue.kind == ReadingKind.forecast).order_by(ForecastIssue.id.desc())
        .limit(1)
    ).first()  # fmt: skip


def frame_of(session: Session, issue: ForecastIssue) -> pd.DataFrame:
    """An issue's values as the evaluation reads them (local times): replaying a past evaluation."""
    rows = session.execute(
        select(Jurisdiction.code, ForecastValue.starts_at, ForecastValue.hours, ForecastValue.aqi,
               ForecastValue.aqi_min, ForecastValue.aqi_max, ForecastValue.pm25, ForecastValue.aqi_pm25,
               ForecastValue.primary_pollutant, ForecastValue.dust)
        .join(Jurisdiction, Jurisdiction.id == ForecastValue.jurisdiction_id)
        .where(ForecastValue.issue_id == issue.id).order_by(ForecastValue.id)
    ).all()  # fmt: skip
    frame = pd.DataFrame(rows, columns=["unit", "start", "hours", "aqi", "aqi_min", "aqi_max", "pm25", "aqi_pm25",
                                        "primary_pollutant", "dust"])  # fmt: skip
    frame["start"] = [t.astimezone(LOCAL_TZ).replace(tzinfo=None) for t in frame["start"]]
    for c in ("aqi", "aqi_min", "aqi_max", "pm25", "aqi_pm25"):
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype(float)
    return frame


def evaluate(session: Session, plan_code: str, frame: pd.DataFrame, floors: list[domain.Floor] | None = None) -> dict[
    str, Any]:  # fmt: skip
    """The plan's evaluation of a forecast (app/alerts/domain/evaluate.py; JSON schema in docs/alerts.md)."""
    plan = plans.by_code(session, plan_code)
    if plan is None:
        raise NotFound(f"没有代码为 {plan_code} 的预案")
    rules = plans.rules_of(plan).alert
    if rules is None:
        raise NotFound(f"预案 {plan.name} 没有预警规则")
    geo = plans.geography(session, plan)
    geography = domain.Geography(geo.zones, geo.edges, geo.names, geo.zone_names)
    return domain.evaluate(frame, rules, geography, plan=plan.code, floors=floors or ())


def _utc(t: pd.Timestamp) -> datetime:
    return t.to_pydatetime().replace(tzinfo=LOCAL_TZ).astimezone(UTC)
