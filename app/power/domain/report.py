"""The flags of a check as a JSON document (`flask power check EPISODE` prints it; the schema is
docs/power-flags.schema.json, described in docs/power.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from app.power.domain.check import Result
from app.power.domain.thresholds import Thresholds
from app.power.vocabulary import flag_label, status_label

SCHEMA_VERSION = 1


def document(result: Result, episode: str, thresholds: Thresholds, as_of: datetime | None = None) -> dict[str, Any]:
    flags = [
        {
            "enterprise_id": int(row.enterprise_id),
            "meter_id": None if pd.isna(row.meter_id) else int(row.meter_id),
            "day": row.day.isoformat(),
            "kind": row.kind,
            "label": flag_label(row.kind),
            "status": row.status,
            "status_label": status_label(row.status),
            "report_id": None if pd.isna(row.report_id) else int(row.report_id),
            "reason": row.reason,
            "evidence": {k: (None if pd.isna(v) else float(v)) for k, v in row.evidence.items()},
        }
        for row in result.flags.itertuples(index=False)
    ]
    counts: dict[str, int] = {}
    for f in flags:
        if f["status"] == "raised":
            counts[f["kind"]] = counts.get(f["kind"], 0) + 1
    return {
        "schema": SCHEMA_VERSION,
        "episode": episode,
        "as_of": as_of.isoformat(timespec="minutes") if as_of else None,
        "thresholds": thresholds.to_dict(),
        "enterprises": int(result.days["enterprise_id"].nunique()) if len(result.days) else 0,
        "raised": counts,
        "flags": flags,
    }
