"""Storing a batch of readings, one path for the upload, the API and HJ 212 devices (docs/power.md "Storage").

The batch goes into a temporary staging table (`COPY` on PostgreSQL, one executemany on SQLite), then set-based
statements: each staged row learns the value already stored for its meter and time, unchanged rows are
dropped, the rest are upserted into `power_reading`, and the hourly and daily figures move by the difference
each row makes (new − old), so a batch sent again changes nothing and a corrected or late reading is counted
once. On PostgreSQL the batch first takes a transaction lock per meter (in meter order, so two batches never
deadlock), which makes two copies of one batch sent at once store it once. The service flushes, never commits.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.audit.services import record
from app.db import utcnow
from app.power.domain.grid import LOCAL_TZ
from app.power.domain.rows import Batch
from app.power.models import SOURCES

LOCK_SPACE = 1402  # pg_advisory_xact_lock(LOCK_SPACE, meter): readings of one meter
PARTITION_LOCK = 1403
LOCK_METERS = text("SELECT pg_advisory_xact_lock(:k, (m % 2147483647)::int) "
                   "FROM (SELECT DISTINCT registry_meter_id AS m FROM power_stage ORDER BY 1) AS meters")  # fmt: skip
OLD_VALUES = text("UPDATE power_stage SET old = r.kwh FROM power_reading AS r "
                  "WHERE r.registry_meter_id = power_stage.registry_meter_id AND r.at = power_stage.at")  # fmt: skip
UPSERT = text("INSERT INTO power_reading (registry_meter_id, at, kwh, source, received_at) "
              "SELECT registry_meter_id, at, kwh, :source, :now FROM power_stage WHERE true "
              "ON CONFLICT (registry_meter_id, at) DO UPDATE SET kwh = excluded.kwh, source = excluded.source, "
              "received_at = excluded.received_at")  # fmt: skip
# the hourly and daily figures move by the difference each staged row makes (table and key are fixed names)
FIGURES = [text(f"INSERT INTO {table} (registry_meter_id, {key}, kwh, readings) "  # noqa: S608
                f"SELECT registry_meter_id, {key}, sum(kwh - coalesce(old, 0)), "
                f"sum(CASE WHEN old IS NULL THEN 1 ELSE 0 END) FROM power_stage WHERE true "
                f"GROUP BY registry_meter_id, {key} "
                f"ON CONFLICT (registry_meter_id, {key}) DO UPDATE SET kwh = {table}.kwh + excluded.kwh, "
                f"readings = {table}.readings + excluded.readings")
           for table, key in (("power_hourly", "hour"), ("power_daily", "day"))]  # fmt: skip


@dataclass(frozen=True)
class Stored:
    rows: int  # in the batch
    new: int  # readings not stored before
    corrected: int  # readings stored before with another value
    unchanged: int  # readings already stored with this value


def partition_name(month: pd.Timestamp) -> str:
    return f"power_reading_y{month.year}m{month.month:02d}"


def ensure_partitions(conn: Connection, months: list[pd.Timestamp]) -> list[str]:
    """PostgreSQL: the monthly partitions (local months) the batch needs, made when missing; their names."""
    made = []
    missing = [m for m in months if conn.scalar(text("SELECT to_regclass(:n)"), {"n": partition_name(m)}) is None]
    if missing:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PARTITION_LOCK})
    for month in missing:
        name = partition_name(month)
        if conn.scalar(text("SELECT to_regclass(:n)"), {"n": name}) is not None:
            continue
        start = month.tz_localize(LOCAL_TZ).isoformat()
        end = (month + pd.offsets.MonthBegin(1)).tz_localize(LOCAL_TZ).isoformat()
        conn.execute(text(f"CREATE TABLE {name} PARTITION OF power_reading FOR VALUES FROM ('{start}') TO ('{end}')"))
        made.append(name)
    return made


def store(session: Session, batch: Batch, source: str) -> Stored:
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}")
    frame = batch.frame
    if frame.empty:
        return Stored(0, 0, 0, 0)
    session.flush()
    conn = session.connection()
    pg = conn.dialect.name == "postgresql"
    local = pd.DatetimeIndex(frame["at"])
    utc = local.tz_localize(LOCAL_TZ).tz_convert(UTC)
    stage = pd.DataFrame({"registry_meter_id": frame["meter_id"].to_numpy(), "at": utc, "hour": utc.floor("h"),
                          "day": local.normalize().date, "kwh": frame["kwh"].to_numpy()})  # fmt: skip
    conn.execute(text("DROP TABLE IF EXISTS power_stage"))
    if pg:
        conn.execute(text("CREATE TEMP TABLE power_stage (registry_meter_id bigint, at timestamptz, hour timestamptz, "
                          "day date, kwh double precision, old double precision)"))  # fmt: skip
        _copy(conn, stage)
        conn.execute(LOCK_METERS, {"k": LOCK_SPACE})
        ensure_partitions(conn, sorted(set(local.to_period("M").to_timestamp())))
    else:
        conn.execute(text("CREATE TEMP TABLE power_stage (registry_meter_id INTEGER, at DATETIME, hour DATETIME, "
                          "day DATE, kwh FLOAT, old FLOAT)"))  # fmt: skip
        fmt = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's SQLite DateTime storage, naive UTC
        rows = {"m": stage["registry_meter_id"].tolist(), "at": utc.tz_localize(None).strftime(fmt).tolist(),
                "hour": stage["hour"].dt.tz_localize(None).dt.strftime(fmt).tolist(),
                "day": [d.isoformat() for d in stage["day"]], "kwh": stage["kwh"].tolist()}  # fmt: skip
        conn.execute(text("INSERT INTO power_stage VALUES (:m, :at, :hour, :day, :kwh, NULL)"),
                     [dict(zip(rows, values, strict=True)) for values in zip(*rows.values(), strict=True)])  # fmt: skip
    conn.execute(OLD_VALUES)
    unchanged = conn.execute(text("DELETE FROM power_stage WHERE old = kwh")).rowcount
    total, corrected = conn.execute(text("SELECT count(*), count(old) FROM power_stage")).one()
    now = utcnow()
    stamp = now if pg else now.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    conn.execute(UPSERT, {"source": source, "now": stamp})
    for statement in FIGURES:
        conn.execute(statement)
    conn.execute(text("DROP TABLE power_stage"))
    result = Stored(len(frame), int(total) - int(corrected), int(corrected), int(unchanged))
    if result.new or result.corrected:
        record(session, "power.readings_stored", object_type="power_reading",
               detail={"source": source, "rows": result.rows, "new": result.new, "corrected": result.corrected,
                       "unchanged": result.unchanged, "digest": batch.digest,
                       "meters": int(frame["meter_id"].nunique())})  # fmt: skip
    return result


def _copy(conn: Connection, stage: pd.DataFrame) -> None:
    """COPY the staged rows through psycopg on the session's own connection (and transaction)."""
    raw = conn.connection.driver_connection
    out = stage.assign(at=stage["at"].map(datetime.isoformat), hour=stage["hour"].map(datetime.isoformat))
    with (
        raw.cursor() as cur,
        cur.copy("COPY power_stage (registry_meter_id, at, hour, day, kwh) FROM STDIN (FORMAT csv)") as copy,
    ):
        buffer = io.StringIO()
        out.to_csv(buffer, header=False, index=False)
        copy.write(buffer.getvalue())


def hourly(session: Session, meter_ids: list[int], start: datetime, end: datetime) -> pd.DataFrame:
    """The check's readings: hourly energy (meter_id, at local, kwh) of the meters from `start` to `end` (aware)."""
    if not meter_ids:
        return pd.DataFrame({"meter_id": [], "at": pd.to_datetime([]), "kwh": []})
    from sqlalchemy import select

    from app.power.models import PowerHourly

    rows = session.execute(
        select(PowerHourly.registry_meter_id, PowerHourly.hour, PowerHourly.kwh).where(
            PowerHourly.registry_meter_id.in_(meter_ids), PowerHourly.hour >= start, PowerHourly.hour < end
        )
    ).all()
    frame = pd.DataFrame(rows, columns=["meter_id", "at", "kwh"])
    frame["at"] = pd.to_datetime(frame["at"], utc=True).dt.tz_convert(LOCAL_TZ).dt.tz_localize(None)
    return frame
