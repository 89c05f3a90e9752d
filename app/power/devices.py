"""HJ 212 devices: a device's MN and, for each factor code it sends, the registered meter of its enterprise."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.services import record
from app.core.errors import ServiceError
from app.power.domain.factors import load_factors
from app.power.models import PowerDevice
from app.power.vocabulary import METER_LABELS
from app.registry.models import RegisteredEnterprise, RegisteredMeter


def register_device(session: Session, mn: str, uscc: str, factors: Mapping[str, str], user: Any = None) -> PowerDevice:
    """Register (or re-map) a device: `factors` maps each factor code to a meter number of the enterprise; a
    code not in inventories/power/factors.toml, or a meter of another kind than the code's, is refused."""
    known = load_factors()
    mn = mn.strip()
    if not 1 <= len(mn) <= 24:
        raise ServiceError(_("设备编号（MN）应为 1–24 个字符。"))
    ent = session.scalar(select(RegisteredEnterprise).where(RegisteredEnterprise.uscc == uscc.strip().upper()))
    if ent is None:
        raise ServiceError(_("未登记的企业：%(uscc)s", uscc=uscc))
    meters = {m.number: m for m in session.scalars(select(RegisteredMeter).where(
        RegisteredMeter.registry_enterprise_id == ent.id))}  # fmt: skip
    mapping: dict[str, int] = {}
    for code, number in factors.items():
        if code not in known:
            raise ServiceError(_("未配置的因子编码：%(code)s", code=code))
        meter = meters.get(number)
        if meter is None:
            raise ServiceError(_("企业 %(uscc)s 没有电表「%(number)s」", uscc=ent.uscc, number=number))
        if meter.kind != known[code].kind:
            raise ServiceError(_("因子 %(code)s 用于%(kind)s，电表「%(number)s」不是%(kind)s", code=code,
                                 kind=_(METER_LABELS[known[code].kind]), number=number))  # fmt: skip
        mapping[code] = meter.id
    device = session.scalar(select(PowerDevice).where(PowerDevice.mn == mn))
    if device is None:
        device = PowerDevice(mn=mn, registry_enterprise_id=ent.id, jurisdiction_id=ent.jurisdiction_id)
        session.add(device)
    device.registry_enterprise_id, device.jurisdiction_id, device.factors = ent.id, ent.jurisdiction_id, mapping
    session.flush()
    record(session, "power.device_registered", obj=device, detail={"mn": mn, "uscc": ent.uscc, "factors": mapping},
           user=user)  # fmt: skip
    return device


def report_in_advance(session: Session, uscc: str, kind: str, starts_at: Any, ends_at: Any, note: str = "",
                      user: Any = None) -> Any:  # fmt: skip
    """A stoppage, maintenance, retrofit or power cut reported in advance (`flask power report`): the service of
    the screen and the API (app/power/reports.py)."""
    from app.power import reports

    values = reports.read({"uscc": uscc, "kind": kind, "starts_at": starts_at, "ends_at": ends_at, "note": note})
    return reports.add(session, values, user)
