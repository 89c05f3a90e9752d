"""Case fixtures: the bureaus of the 荣昌 → 内江 scenario and a tiny real PNG."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Any

import pytest

from app.auth.models import BureauKind
from app.auth.roles import Role


def png_bytes(width: int = 4, height: int = 4) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\x80\x20\x20" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


@dataclass
class World:
    rongchang: Any
    neijiang: Any
    sichuan: Any
    chongqing: Any
    zigong: Any
    yongchuan: Any
    inspector: Any
    rc_staff: Any
    nj_staff: Any
    sc_staff: Any
    cq_staff: Any
    zg_staff: Any
    yc_staff: Any


@pytest.fixture
def world(make_bureau, make_user) -> World:  # type: ignore[no-untyped-def]
    rc = make_bureau("500153", name="重庆市荣昌区生态环境局", kind=BureauKind.branch)
    nj = make_bureau("511000", name="内江市生态环境局")
    sc = make_bureau("510000", name="四川省生态环境厅", kind=BureauKind.department)
    cq = make_bureau("500000", name="重庆市生态环境局", kind=BureauKind.department)
    zg = make_bureau("510300", name="自贡市生态环境局")
    yc = make_bureau("500118", name="重庆市永川区生态环境局", kind=BureauKind.branch)
    return World(
        rc, nj, sc, cq, zg, yc,
        inspector=make_user("rc_insp", bureau=rc, roles=(Role.inspector,), display_name="荣昌执法员"),
        rc_staff=make_user("rc_st", bureau=rc, roles=(Role.district_staff,)),
        nj_staff=make_user("nj_st", bureau=nj, roles=(Role.city_staff,), display_name="内江业务员"),
        sc_staff=make_user("sc_st", bureau=sc, roles=(Role.province_staff,)),
        cq_staff=make_user("cq_st", bureau=cq, roles=(Role.province_staff,)),
        zg_staff=make_user("zg_st", bureau=zg, roles=(Role.city_staff,)),
        yc_staff=make_user("yc_st", bureau=yc, roles=(Role.district_staff,)),
    )  # fmt: skip
