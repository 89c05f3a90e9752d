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

import numpy as np
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
STAGE_PG = text("CREATE TEMP TABLE power_stage AS SELECT registry_meter_id, to_timestamp(epoch_us / 1e6) AS at, "
                "date_trunc('hour', to_timestamp(epoch_us / 1e6)) AS hour, "
                "(to_timestamp(epoch_us / 1e6) AT TIME ZONE 'Asia/Shanghai')::date AS day, kwh, "
                "NULL::double precision AS old FROM power_stage_raw")  # fmt: skip
LOCK_METERS = text("SELECT pg_advisory_xact_lock(:k, (m % 2147483647)::int) "
                   "FROM (SELECT DISTINCT registry_meter_id AS m FROM power_stage ORDER BY 1) AS meters")  # fmt: skip
OLD_VALUES = text("UPDATE power_stage SET old = r.kwh FROM power_reading AS r "
                  "WHERE r.registry_meter_id = power_stage.registry_meter_id AND r.at = power_stage.at")  # fmt: skip
# Under the meters' locks no other batch writes these meters' rows, so new rows are plain inserts and corrected
# ones plain updates (an ON CONFLICT upsert costs twice a COPY); on SQLite one writer runs at a time anyway.
INSERT_NEW = text("INSERT INTO power_reading (registry_meter_id, at, kwh, source, received_at) "
                  "SELECT registry_meter_id, at, kwh, :source, :now FROM power_stage WHERE old IS NULL")  # fmt: skip
UPDATE_CORRECTED = text("UPDATE power_reading SET kwh = s.kwh, source = :source, received_at = :now "
                        "FROM power_stage AS s WHERE s.old IS NOT NULL "
                        "AND power_reading.registry_meter_id = s.registry_meter_id "
                        "AND power_reading.at = s.at")  # fmt: skip


def _figures(table: str, key: str) -> list[text]:
    """The hourly or daily figures moved by the difference each staged row makes (fixed table and key names)."""
    match = f"t.registry_meter_id = d.registry_meter_id AND t.{key} = d.{key}"
    return [
        text(f"CREATE TEMP TABLE power_delta AS SELECT registry_meter_id, {key}, "  # noqa: S608
             f"sum(kwh - coalesce(old, 0)) AS kwh, sum(CASE WHEN old IS NULL THEN 1 ELSE 0 END) AS readings "
             f"FROM power_stage GROUP BY registry_meter_id, {key}"),
        text(f"UPDATE {table} AS t SET kwh = t.kwh + d.kwh, readings = t.readings + d.readings "  # noqa: S608
             f"FROM power_delta AS d WHERE {match}"),
        text(f"INSERT INTO {table} (registry_meter_id, {key}, kwh, readings) "  # noqa: S608
             f"SELECT registry_meter_id, {key}, kwh, readings FROM power_delta AS d "
             f"WHERE NOT EXISTS (SELECT 1 FROM {table} AS t WHERE {match})"),
        text("DROP TABLE power_delta"),
    ]  # fmt: skip


FIGURES = _figures("power_hourly", "hour") + _figures("power_daily", "day")


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
        # A lock on the table itself (not an advisory lock): taking it also reads the catalog anew, so a partition
        # another transaction made while this one waited is seen. The mode conflicts with itself, not with writes.
        conn.execute(text("LOCK TABLE power_reading IN SHARE UPDATE EXCLUSIVE MODE"))
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
    conn.execute(text("DROP TABLE IF EXISTS power_stage"))
    if pg:
        _copy(conn, frame["meter_id"].to_numpy(), utc.as_unit("us").asi8, frame["kwh"].to_numpy())
        conn.execute(STAGE_PG)
        conn.execute(text("DROP TABLE power_stage_raw"))
        conn.execute(LOCK_METERS, {"k": LOCK_SPACE})
        months = pd.period_range(local.min(), local.max(), freq="M").to_timestamp()
        ensure_partitions(conn, list(months))
    else:
        conn.execute(text("CREATE TEMP TABLE power_stage (registry_meter_id INTEGER, at DATETIME, hour DATETIME, "
                          "day DATE, kwh FLOAT, old FLOAT)"))  # fmt: skip
        fmt = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's SQLite DateTime storage, naive UTC
        rows = {"m": frame["meter_id"].tolist(), "at": utc.tz_localize(None).strftime(fmt).tolist(),
                "hour": utc.floor("h").tz_localize(None).strftime(fmt).tolist(),
                "day": local.strftime("%Y-%m-%d").tolist(), "kwh": frame["kwh"].tolist()}  # fmt: skip
        conn.execute(text("INSERT INTO power_stage VALUES (:m, :at, :hour, :day, :kwh, NULL)"),
                     [dict(zip(rows, values, strict=True)) for values in zip(*rows.values(), strict=True)])  # fmt: skip
    conn.execute(OLD_VALUES)
    unchanged = conn.execute(text("DELETE FROM power_stage WHERE old = kwh")).rowcount
    total, corrected = conn.execute(text("SELECT count(*), count(old) FROM power_stage")).one()
    now = utcnow()
    stamp = now if pg else now.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    conn.execute(INSERT_NEW, {"source": source, "now": stamp})
    if corrected:
        conn.execute(UPDATE_CORRECTED, {"source": source, "now": stamp})
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


def _copy(conn: Connection, meters: np.ndarray, epoch_us: np.ndarray, kwh: np.ndarray) -> None:
    """COPY (meter, microseconds since the epoch, kWh) through psycopg on the session's own connection and
    transaction: numbers only, so the text is cheap to make; PostgreSQL turns them into times."""
    conn.execute(text("CREATE TEMP TABLE power_stage_raw (registry_meter_id bigint, epoch_us bigint, "
                      "kwh double precision)"))  # fmt: skip
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy("COPY power_stage_raw FROM STDIN (FORMAT csv)") as copy:
        step = 1_000_000
        for start in range(0, len(meters), step):
            buffer = io.StringIO()
            part = slice(start, start + step)
            pd.DataFrame({"m": meters[part], "t": epoch_us[part], "k": kwh[part]}).to_csv(
                buffer, header=False, index=False, float_format="%.17g"
            )
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
