"""Readings in as rows: CSV, Excel and JSON checked line by line, unknown meters named, duplicates found; HJ 212
packets to the same rows."""

from __future__ import annotations

import io
import json
from datetime import datetime

import pandas as pd
import pytest

from app.power.domain import hj212
from app.power.domain.factors import load_factors
from app.power.domain.rows import RowsError, json_table, parse, parse_table, rows_of_packets
from tests.power.test_hj212 import MN, hour_packet

METERS = {"DB-001": 11, "DB-002": 12, "DB-003": 13}


def problems(name: str, content: bytes) -> list[str]:
    with pytest.raises(RowsError) as e:
        parse(name, content, METERS)
    return e.value.problems


def test_a_csv_with_chinese_headers_gives_the_rows() -> None:
    csv = "电表编号,时间,用电量\nDB-001,2026-12-01 08:00,812.5\nDB-002,2026/12/01 08:00,96.25\n"
    batch = parse("耗电量.csv", csv.encode("utf-8-sig"), METERS)
    assert batch.frame.to_dict("records") == [
        {"meter_id": 11, "at": pd.Timestamp("2026-12-01 08:00"), "kwh": 812.5},
        {"meter_id": 12, "at": pd.Timestamp("2026-12-01 08:00"), "kwh": 96.25},
    ]


def test_bad_rows_are_named_by_line_and_column_and_the_batch_is_refused() -> None:
    csv = ("meter,at,kwh\nDB-001,2026-12-01 08:00,1\nDB-404,2026-12-01 08:00,1\nDB-001,2026-13-01 08:00,1\n"
           "DB-002,2026-12-01 09:00,abc\nDB-003,2026-12-01 09:00,-5\n,2026-12-01 09:00,1\n")  # fmt: skip
    assert problems("a.csv", csv.encode()) == [
        "a.csv 第3行「电表编号」列：未登记的电表「DB-404」",
        "a.csv 第4行「时间」列：无法识别的时间「2026-13-01 08:00」（应为 2026-12-01 08:00）",
        "a.csv 第5行「用电量」列：应为数字，不是「abc」",
        "a.csv 第6行「用电量」列：应在 0 到 1 亿之间，不是「-5」",
        "a.csv 第7行「电表编号」列：不能为空",
        "a.csv：未登记的电表 1 块：DB-404",
    ]


def test_two_rows_of_one_meter_and_hour_in_a_batch_are_a_problem() -> None:
    csv = "meter,at,kwh\nDB-001,2026-12-01 08:00,1\nDB-002,2026-12-01 08:00,1\nDB-001,20261201080000,2\n"
    assert problems("b.csv", csv.encode()) == ["b.csv 第4行：与第2行重复（电表「DB-001」，2026-12-01 08:00）"]


def test_missing_columns_are_named() -> None:
    assert problems("c.csv", b"meter,kwh\nDB-001,1\n") == ["c.csv：缺少「时间」列"]
    assert problems("d.csv", b"meter,at\nDB-001,2026-12-01 08:00\n") == ["d.csv：须有「用电量」或「功率」列"]


def test_power_over_an_interval_becomes_energy_and_aware_times_local_time() -> None:
    csv = "电表编号,时间,功率,间隔分钟\nDB-001,2026-12-01T00:00:00Z,400,15\nDB-002,2026-12-01 08:00,50,\n"
    batch = parse("e.csv", csv.encode(), METERS)
    assert batch.frame.to_dict("records") == [
        {"meter_id": 11, "at": pd.Timestamp("2026-12-01 08:00"), "kwh": 100.0},
        {"meter_id": 12, "at": pd.Timestamp("2026-12-01 08:00"), "kwh": 50.0},
    ]
    assert problems("f.csv", b"meter,at,kw,interval_minutes\nDB-001,2026-12-01 08:00,1,0\n") == [
        "f.csv 第2行「间隔分钟」列：应为 1–1440 分钟，不是「0」"
    ]


def test_excel_and_json_give_the_same_batch_as_csv() -> None:
    rows = [
        {"meter": "DB-001", "at": "2026-12-01 08:00", "kwh": 1.5},
        {"meter": "DB-003", "at": "2026-12-01 09:00", "kwh": 2},
    ]
    csv = parse("g.csv", pd.DataFrame(rows).to_csv(index=False).encode(), METERS)
    xlsx = io.BytesIO()
    pd.DataFrame(rows).to_excel(xlsx, index=False)
    excel = parse("g.xlsx", xlsx.getvalue(), METERS)
    body = parse("g.json", json.dumps({"readings": rows}).encode(), METERS)
    assert csv.digest == excel.digest == body.digest
    assert csv.frame.equals(excel.frame) and len(csv) == 2


def test_the_api_body_is_checked_item_by_item() -> None:
    items = [{"meter": "DB-001", "at": "2026-12-01 08:00", "kwh": 1}, {"meter": "X", "at": "nope", "kwh": 1}]
    with pytest.raises(RowsError) as e:
        parse_table("请求", json_table("请求", items), 1, METERS)
    assert e.value.problems[:2] == [
        "请求 第2行「电表编号」列：未登记的电表「X」",
        "请求 第2行「时间」列：无法识别的时间「nope」（应为 2026-12-01 08:00）",
    ]
    with pytest.raises(RowsError, match="应为对象数组"):
        json_table("请求", {"meter": 1})


def test_the_same_rows_in_another_order_have_the_same_digest_and_other_values_another() -> None:
    a = parse("h.csv", b"meter,at,kwh\nDB-001,2026-12-01 08:00,1\nDB-002,2026-12-01 08:00,2\n", METERS)
    b = parse("h.csv", b"meter,at,kwh\nDB-002,2026-12-01 08:00,2\nDB-001,2026-12-01 08:00,1\n", METERS)
    c = parse("h.csv", b"meter,at,kwh\nDB-002,2026-12-01 08:00,3\nDB-001,2026-12-01 08:00,1\n", METERS)
    assert a.digest == b.digest != c.digest


def test_hj212_packets_give_the_same_rows() -> None:
    factors = load_factors()
    devices = {MN: {"e30101": 11, "e30202": 12}}
    wire = hj212.build(hour_packet({"e30101": 812.5, "e30202": 0.25}, at="20261201080000"))
    packet = hj212.parse_frame(wire)
    batch = rows_of_packets([packet, packet], devices, factors)  # a resent packet is one row per meter
    csv = parse("i.csv", b"meter,at,kwh\nDB-001,2026-12-01 08:00,812.5\nDB-002,2026-12-01 08:00,250\n", METERS)
    assert batch.frame.equals(csv.frame) and batch.digest == csv.digest


def test_hj212_unknown_devices_factors_and_conflicting_resends_refuse_the_batch() -> None:
    factors = load_factors()
    devices = {MN: {"e30101": 11}}
    stranger = hj212.Packet(**{**vars(hour_packet({"e30101": 1})), "mn": "LF9"})
    with pytest.raises(RowsError) as e:
        rows_of_packets([hour_packet({"e30101": 1}), stranger, hour_packet({"e30102": 2}),
                         hour_packet({"e30101": 2})], devices, factors)  # fmt: skip
    assert e.value.problems == [
        "第2个数据包：未登记的设备 LF9",
        f"第3个数据包：设备 {MN} 的因子 e30102 未对应任何电表",
        f"电表 11 在 {datetime(2026, 12, 7, 8):%Y-%m-%d %H:%M} 有两个不同的值",
    ]
