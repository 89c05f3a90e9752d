"""Readings stored by registered meter: once per meter and time, hourly and daily figures kept as they arrive,
monthly partitions on PostgreSQL, and the check run on what was stored."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pandas as pd
import pytest
from sqlalchemy import delete, select, text

from app.power.domain.check import check
from app.power.domain.rows import parse
from app.power.domain.synthetic import generate
from app.power.models import PowerDaily, PowerHourly, PowerReading
from app.power.store import hourly, store
from app.registry.models import RegisteredEnterprise, RegisteredMeter
from tests.conftest import audit_actions, is_postgres, place, plain_session


def register(session, n_enterprises: int = 1, kinds=("production", "control", "total")) -> list[RegisteredMeter]:
    meters = []
    for n in range(n_enterprises):
        ent = RegisteredEnterprise(
            uscc=f"91510100TEST{n:05d}X", name=f"测试企业{n}", jurisdiction_id=place("510100").id
        )
        session.add(ent)
        session.flush()
        for k, kind in enumerate(kinds):
            meters.append(RegisteredMeter(registry_enterprise_id=ent.id, number=f"DB-{n}-{k}", kind=kind))
    session.add_all(meters)
    session.flush()
    return meters


def csv(*rows: str) -> bytes:
    return ("电表编号,时间,用电量\n" + "\n".join(rows) + "\n").encode()


def figures(session, model, key):  # type: ignore[no-untyped-def]
    return {
        (r.registry_meter_id, getattr(r, key)): (round(r.kwh, 3), r.readings) for r in session.scalars(select(model))
    }


def test_quarter_hours_add_up_to_hours_and_local_days(session) -> None:
    (m,) = register(session, kinds=("production",))
    numbers = {m.number: m.id}
    times = ("2026-12-01 07:45", "2026-12-01 08:00", "2026-12-01 08:15", "2026-12-02 00:00")
    batch = parse("a.csv", csv(*(f"{m.number},{t},{n}" for n, t in enumerate(times, start=1))), numbers)
    assert store(session, batch, "upload").new == 4
    hour = datetime(2026, 12, 1, 0, tzinfo=UTC)  # 08:00 in Beijing
    assert figures(session, PowerHourly, "hour") == {
        (m.id, datetime(2026, 11, 30, 23, tzinfo=UTC)): (1.0, 1),
        (m.id, hour): (5.0, 2),
        (m.id, datetime(2026, 12, 1, 16, tzinfo=UTC)): (4.0, 1),
    }
    assert figures(session, PowerDaily, "day") == {
        (m.id, date(2026, 12, 1)): (6.0, 3),
        (m.id, date(2026, 12, 2)): (4.0, 1),
    }
    stored = session.scalars(select(PowerReading).order_by(PowerReading.at)).all()
    assert [r.at for r in stored][1] == hour and {r.source for r in stored} == {"upload"}


def test_a_batch_sent_again_changes_nothing_and_a_correction_moves_the_figures_by_its_difference(session) -> None:
    (m,) = register(session, kinds=("control",))
    numbers = {m.number: m.id}
    first = parse("a.csv", csv(f"{m.number},2026-12-01 08:00,10", f"{m.number},2026-12-01 08:15,20"), numbers)
    assert store(session, first, "api").new == 2
    again = store(session, first, "api")
    assert (again.new, again.corrected, again.unchanged) == (0, 0, 2)
    corrected = parse("b.csv", csv(f"{m.number},2026-12-01 08:15,25", f"{m.number},2026-12-01 08:30,5"), numbers)
    result = store(session, corrected, "api")
    assert (result.new, result.corrected, result.unchanged) == (1, 1, 0)
    assert figures(session, PowerHourly, "hour") == {(m.id, datetime(2026, 12, 1, 0, tzinfo=UTC)): (40.0, 3)}
    assert figures(session, PowerDaily, "day") == {(m.id, date(2026, 12, 1)): (40.0, 3)}
    assert (
        session.scalar(select(PowerReading.kwh).where(PowerReading.at == datetime(2026, 12, 1, 0, 15, tzinfo=UTC)))
        == 25
    )


def test_every_change_is_audited_and_a_repeat_is_not(session) -> None:
    (m,) = register(session, kinds=("production",))
    batch = parse("a.csv", csv(f"{m.number},2026-12-01 08:00,10"), {m.number: m.id})
    store(session, batch, "upload")
    store(session, batch, "upload")
    session.commit()
    entries = [e for e in audit_actions("power.") if e.detail.get("digest") == batch.digest]
    assert [(e.action, e.detail["new"], e.detail["rows"]) for e in entries] == [("power.readings_stored", 1, 1)]


def test_postgresql_puts_readings_in_monthly_partitions(session) -> None:
    if not is_postgres():
        pytest.skip("partitions are PostgreSQL's")
    (m,) = register(session, kinds=("production",))
    batch = parse("a.csv", csv(f"{m.number},2026-11-30 23:00,1", f"{m.number},2026-12-01 00:00,2"), {m.number: m.id})
    store(session, batch, "hj212")
    where = session.execute(text("SELECT tableoid::regclass::text, kwh FROM power_reading ORDER BY at")).all()
    assert [tuple(r) for r in where] == [("power_reading_y2026m11", 1.0), ("power_reading_y2026m12", 2.0)]
    kind = session.scalar(text("SELECT relkind FROM pg_class WHERE relname = 'power_reading'"))
    assert kind == "p"


def test_the_check_on_stored_readings_flags_as_on_the_generated_ones(session) -> None:
    behaviours = ["stops", "pretends", "silent"]
    ep = generate(behaviours, hours=24 * 12, alert_hours=48)
    registered = register(session, len(behaviours))
    ids = dict(zip(ep.meters["meter_id"], (r.id for r in registered), strict=True))
    enterprise = dict(zip(ep.meters["meter_id"], (r.registry_enterprise_id for r in registered), strict=True))
    number = {r.id: r.number for r in registered}
    rows = ep.readings.assign(meter=ep.readings["meter_id"].map(ids).map(number), at=ep.readings["at"].dt.strftime(
        "%Y-%m-%d %H:%M"))[["meter", "at", "kwh"]]  # fmt: skip
    batch = parse("all.csv", rows.to_csv(index=False).encode(), {v: k for k, v in number.items()})
    assert store(session, batch, "upload").new == len(ep.readings)
    meters = pd.DataFrame([{"meter_id": r.id, "enterprise_id": r.registry_enterprise_id, "kind": r.kind}
                           for r in registered])  # fmt: skip
    to_reg = {e: enterprise[m] for m, e in zip(ep.meters["meter_id"], ep.meters["enterprise_id"], strict=True)}
    periods = ep.periods.assign(enterprise_id=ep.periods["enterprise_id"].map(to_reg))
    measures = ep.measures.assign(enterprise_id=ep.measures["enterprise_id"].map(to_reg))
    start = datetime(2026, 10, 1, tzinfo=UTC)
    readings = hourly(session, list(meters["meter_id"]), start, datetime(2027, 1, 1, tzinfo=UTC))
    assert len(readings) == len(ep.readings)
    flags = check(readings, meters, periods, measures).flags
    by_behaviour = {behaviours[sorted(to_reg.values()).index(e)] for e in flags["enterprise_id"]}
    assert by_behaviour == {"pretends", "silent"}
    assert set(flags["kind"]) == {"production_not_reduced", "meter_silent"}


@pytest.mark.no_transaction
def test_one_batch_sent_twice_at_once_is_stored_once(app) -> None:
    """Two requests with the same batch at the same moment (PostgreSQL; SQLite runs one writer at a time)."""
    if not is_postgres():
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE)")
    s = plain_session(app)
    (m,) = register(s, kinds=("production",))
    meter_id, enterprise_id = m.id, m.registry_enterprise_id
    store(s, parse("b.csv", csv(f"{m.number},2026-12-02 00:00,1"), {m.number: m.id}), "api")  # the month's partition
    s.commit()
    batch = parse("a.csv", csv(*(f"{m.number},2026-12-01 {h:02d}:00,{h + 1}" for h in range(24))), {m.number: m.id})
    first = plain_session(app)
    results, errors = [], []

    def second() -> None:
        session = plain_session(app)
        try:
            results.append(store(session, batch, "api"))
            session.commit()
        except Exception as e:  # pragma: no cover - shown by the assertion below
            errors.append(e)
        finally:
            session.close()

    thread = threading.Thread(target=second)
    try:
        assert store(first, batch, "api").new == 24  # the first request has stored it, not yet committed …
        thread.start()
        for _ in range(600):  # … when the second one waits for it (a lock not granted), then the first commits
            if s.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted")):
                break
            s.rollback()
            thread.join(timeout=0.05)
        first.commit()
        thread.join(timeout=60)
        assert errors == []
        assert [(r.new, r.corrected, r.unchanged) for r in results] == [(0, 0, 24)]
        s.rollback()
        day = s.get(PowerDaily, (meter_id, date(2026, 12, 1)))
        assert (day.kwh, day.readings) == (300.0, 24)
    finally:
        first.close()
        for model in (PowerReading, PowerHourly, PowerDaily):
            s.execute(delete(model).where(model.registry_meter_id == meter_id))
        s.execute(delete(RegisteredMeter).where(RegisteredMeter.id == meter_id))
        s.execute(delete(RegisteredEnterprise).where(RegisteredEnterprise.id == enterprise_id))
        s.commit()
        s.close()
