"""From an HJ 212 data packet to readings of registered meters: the device (MN) and factor code name a meter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.power.domain.factors import Factor
from app.power.domain.hj212 import FrameError, Packet, factor_values

# A data packet's interval in hours by command: real-time values are not interval energies and are not stored.
INTERVAL_HOURS = {"2051": None, "2061": 1.0, "2031": 24.0}


@dataclass(frozen=True)
class PacketReading:
    meter_id: int
    at: datetime
    kwh: float
    flag: str  # the device's data flag (N normal, F stopped, M maintenance, D fault …)


def readings_of(packet: Packet, meters: dict[str, int], factors: dict[str, Factor]) -> list[PacketReading]:
    """The readings a data packet carries. ``meters`` maps a factor code of this device (MN) to a meter id.

    Raises FrameError naming an unknown factor code or a missing DataTime, so the packet is refused whole."""
    if not packet.is_data:
        return []
    at = packet.data_time
    if at is None:
        raise FrameError("数据包缺少 DataTime")
    by_code: dict[str, tuple[float, str]] = {}
    for value in factor_values(packet):
        if value.code not in factors:
            continue  # not a power factor (the device may send others): ignored
        if value.field == "Cou" or (value.field == "Rtd" and value.code not in by_code):
            by_code[value.code] = (value.value, value.flag)
    unknown = sorted(code for code in by_code if code not in meters)
    if unknown:
        raise FrameError(f"设备 {packet.mn} 的因子 {'、'.join(unknown)} 未对应任何电表")
    return [PacketReading(meter_id=meters[code], at=at, kwh=value * factors[code].factor, flag=flag)
            for code, (value, flag) in sorted(by_code.items())]  # fmt: skip
