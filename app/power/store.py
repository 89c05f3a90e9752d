"""Storing a batch of readings, one path for the upload, the API and HJ 212 devices (docs/power.md "Storage").

The batch goes into a temporary staging table (`COPY` on PostgreSQL, one executemany on SQLite), then set-based
statements: each staged row learns the value already stored for its meter and time, unchanged rows are
dropped, the rest are upserted into `power_reading`, and the hourly and daily figures move by the difference
each row makes (new − old), so a batch sent again changes nothing and a corrected or late reading is counted
once. On PostgreSQL the batch first takes a transaction lock per meter (in meter order, so two batches never
deadlock), which makes two copies of one batch sent at once store it once. The service flushes, never commits.
"""

from __future__ import annotations

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
STAGE_PG = text("CREATE TEMP TABLE power_stage (registry_meter_id bigint, at timestamptz, hour timestamptz, day date, "
                "kwh double precision, old double precision)")  # fmt: skip
# One staged row in COPY's binary format: the number of fields, then each field's length in bytes and its value,
# big-endian (times in microseconds and dates in days since 2000-01-01); `old` goes as NULL (length -1).
STAGE_ROW = np.dtype([("fields", ">i2"), ("meter_len", ">i4"), ("meter", ">i8"), ("at_len", ">i4"), ("at", ">i8"),
                      ("hour_len", ">i4"), ("hour", ">i8"), ("day_len", ">i4"), ("day", ">i4"), ("kwh_len", ">i4"),
                      ("kwh", ">f8"), ("old_len", ">i4")])  # fmt: skip
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # the signature, no flags, no header extension
COPY_TRAILER = b"\xff\xff"
PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 UTC in microseconds since 1970
HOUR_US = 3_600_000_000
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
        conn.execute(STAGE_PG)
        days = (local.to_numpy().astype("datetime64[D]") - np.datetime64("2000-01-01", "D")).astype(np.int64)
        _copy(conn, frame["meter_id"].to_numpy(), utc.as_unit("us").asi8 - PG_EPOCH_US, days, frame["kwh"].to_numpy())
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


def _copy(conn: Connection, meters: np.ndarray, at_us: np.ndarray, days: np.ndarray, kwh: np.ndarray) -> None:
    """COPY the stage's rows (meter, time and its UTC hour in microseconds and local day in days since 2000-01-01,
    kWh) in binary through psycopg, on the session's own connection and transaction: the rows are made by
    numpy, with no text to format or parse."""
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy("COPY power_stage FROM STDIN (FORMAT binary)") as copy:
        copy.write(COPY_HEADER)
        step = 1_000_000
        for start in range(0, len(meters), step):
            part = slice(start, start + step)
            rows = np.empty(len(meters[part]), STAGE_ROW)
            rows["fields"] = 6  # meter, at, hour, day, kwh, old
            rows["meter_len"] = rows["at_len"] = rows["hour_len"] = rows["kwh_len"] = 8
            rows["day_len"], rows["old_len"] = 4, -1
            rows["meter"], rows["at"], rows["day"], rows["kwh"] = meters[part], at_us[part], days[part], kwh[part]
            rows["hour"] = at_us[part] - at_us[part] % HOUR_US
            copy.write(rows.tobytes())
        copy.write(COPY_TRAILER)


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
