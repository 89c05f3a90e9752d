"""HJ 212 over a real socket (issue 14 point 1): a test client speaking the protocol sends a device's frames to the
receiver on localhost; data packets are stored through the same path as the API and answered with 9014 and the
packet's QN; a frame with a wrong CRC, or a packet of an unknown device, is not answered and keeps nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from app.power.domain import hj212
from app.power.domain.hj212 import Packet
from app.power.models import PowerDevice, PowerHourly, PowerReading
from app.power.receiver import send, start
from tests.power.helpers import enterprise

MN = "LF0000000000000000000001"
USCC = "91510100MA6CPW0003"


def packet(at: str, values: dict[str, float], *, mn: str = MN, qn: str = "20261207080001123") -> bytes:
    groups = [{"DataTime": at}] + [{f"{c}-Cou": f"{v:.2f}", f"{c}-Flag": "N"} for c, v in values.items()]
    return hj212.build(Packet(qn=qn, st="31", cn="2061", pw="123456", mn=mn, flag=5, cp=groups))


@pytest.fixture
def receiver(app):  # type: ignore[no-untyped-def]
    server, thread = start(app, idle_seconds=5.0)
    yield server.server_address
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_a_device_over_tcp_is_stored_answered_and_last_heard_from(  # type: ignore[no-untyped-def]
    app, session, runner, receiver, make_user, login_as
) -> None:
    enterprise(session, USCC, "510100")
    session.commit()
    result = runner.invoke(args=["power", "device", MN, USCC, "e30101=M1", "e30102=M2"])
    assert result.exit_code == 0, result.output
    host, port = receiver
    frames = [
        packet("20261207080000", {"e30101": 120.5, "e30102": 30}, qn="20261207090000001"),
        packet("20261207090000", {"e30101": 118, "e30102": 29}, qn="20261207100000002"),
        packet("20261207080000", {"e30101": 120.5, "e30102": 30}, qn="20261207090000003"),  # resent: stored once
    ]
    answers = send(host, port, frames)
    replies = [hj212.parse_frame(a) for a in answers]
    assert [(r.cn, r.qn, r.mn, r.wants_answer) for r in replies] == [
        ("9014", "20261207090000001", MN, False), ("9014", "20261207100000002", MN, False),
        ("9014", "20261207090000003", MN, False),
    ]  # fmt: skip
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(PowerReading)) == 4
    assert {r.source for r in session.scalars(select(PowerReading))} == {"hj212"}
    hour = datetime(2026, 12, 7, 0, tzinfo=UTC)  # 08:00 Beijing
    assert sorted(session.scalars(select(PowerHourly.kwh).where(PowerHourly.hour == hour))) == [30.0, 120.5]
    device = session.scalar(select(PowerDevice).where(PowerDevice.mn == MN))
    assert device.frames == 3 and device.last_heard_at is not None
    assert device.last_data_at == datetime(2026, 12, 7, 1, tzinfo=UTC)
    page = login_as(make_user("power_devices", code="510100")).get("/power/devices").get_data(as_text=True)
    row = page.split(MN)[1].split("</tr>")[0]
    assert "2026-12-07 09:00" in row and "<td>3</td>" in row  # last data 09:00 local, 3 frames
    far = app.test_client()
    assert MN not in login_as(make_user("power_devices_far", code="511400"), far).get("/power/devices").get_data(
        as_text=True
    )  # another area's device is not listed


def test_broken_frames_and_unknown_devices_get_no_answer_and_keep_nothing(app, session, runner, receiver) -> None:  # type: ignore[no-untyped-def]
    enterprise(session, USCC, "510100")
    session.commit()
    assert runner.invoke(args=["power", "device", MN, USCC, "e30101=M1"]).exit_code == 0
    host, port = receiver
    good = packet("20261207080000", {"e30101": 10})
    broken = good[:-6] + b"0000\r\n"  # wrong CRC
    stranger = packet("20261207080000", {"e30101": 10}, mn="LF9999")
    unmapped = packet("20261207080000", {"e30102": 10})  # a factor with no meter on this device
    assert send(host, port, [broken, stranger, unmapped], timeout=1.0) == [None, None, None]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(PowerReading)) == 0
    assert session.scalar(select(PowerDevice.refused).where(PowerDevice.mn == MN)) == 1


def test_a_device_registration_names_a_wrong_factor_or_meter(app, session, runner) -> None:  # type: ignore[no-untyped-def]
    enterprise(session, USCC, "510100")
    session.commit()
    assert "未配置的因子编码：x99" in runner.invoke(args=["power", "device", MN, USCC, "x99=M1"]).output
    assert "没有电表「M7」" in runner.invoke(args=["power", "device", MN, USCC, "e30101=M7"]).output
    assert "不是" in runner.invoke(args=["power", "device", MN, USCC, "e30101=M2"]).output


def test_a_stoppage_reported_in_advance_is_recorded_and_a_bad_one_named(app, session, runner) -> None:  # type: ignore[no-untyped-def]
    from app.power.models import PowerReport

    enterprise(session, USCC, "510100")
    session.commit()
    ok = runner.invoke(args=["power", "report", USCC, "stoppage", "2026-12-06 00:00", "2026-12-12 00:00"])
    assert ok.exit_code == 0 and "report" in ok.output
    backwards = runner.invoke(args=["power", "report", USCC, "maintenance", "2026-12-06", "2026-12-05"])
    assert "报备的结束时间应晚于开始时间。" in backwards.output
    session.expire_all()
    (r,) = session.scalars(select(PowerReport)).all()
    assert (r.kind, r.starts_at) == ("stoppage", datetime(2026, 12, 5, 16, tzinfo=UTC))
