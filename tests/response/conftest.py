"""A zone with published lists: 成都 (city list with enterprises in its districts), 德阳 (a county list too),
眉山 and 雅安, and a 绵阳 list outside the activation; built with the reduction demo's builders."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from app.auth.models import Bureau, BureauKind
from app.auth.roles import Role
from app.places.models import Jurisdiction
from app.plans.models import Plan
from app.reduction import demo
from app.reduction.models import ListState, ReductionList

PUBLISHED = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)
ISSUED = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)  # 08:00 local
ON = date(2026, 12, 7)


def uscc(n: int) -> str:
    from app.reduction.domain import uscc as rules

    return rules.generate(7000 + n, region="510100")


def jpeg(name: str = "photo.jpg") -> tuple[io.BytesIO, str]:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (120, 80, 40)).save(buf, "JPEG")
    buf.seek(0)
    return buf, name


@dataclass
class Zone:
    plan_id: int
    ids: dict[str, int]  # code → jurisdiction id
    listed: dict[str, list[str]] = field(default_factory=dict)  # unit code → usccs listed under it
    key_uscc: str = ""
    stagger_uscc: str = ""
    lists: dict[str, int] = field(default_factory=dict)
    episode: int = 0  # a 川渝 episode
    episode_chaoyang: int = 0


def make_episode(session: Any, plan_code: str, bureau_id: int) -> int:
    from app.alerts.models import Episode

    bureau = session.get(Bureau, bureau_id)
    e = Episode(plan_code=plan_code, bureau_id=bureau.id, jurisdiction_id=bureau.jurisdiction_id)
    session.add(e)
    session.flush()
    return e.id


def _place(session: Any, code: str) -> Jurisdiction:
    return session.scalars(select(Jurisdiction).where(Jurisdiction.code == code)).one()


def _list(session: Any, bureau: Bureau, decider_id: int) -> ReductionList:
    lst = ReductionList(jurisdiction_id=bureau.jurisdiction_id, bureau_id=bureau.id, year=2026, version=1,
                        state=ListState.published, submitted_at=PUBLISHED, decided_at=PUBLISHED,
                        decided_by_id=decider_id, published_at=PUBLISHED)  # fmt: skip
    session.add(lst)
    session.flush()
    return lst


def _measures(stop_percent: float = 30) -> dict[str, list[demo.MeasureSpec]]:
    return {
        "yellow": [demo.MeasureSpec("limit", "power_meter", "L1", percent=stop_percent)],
        "orange": [demo.MeasureSpec("limit", "power_meter", "L1", percent=stop_percent + 20),
                   demo.MeasureSpec("truck_ban", "gate_records")],
        "red": [demo.MeasureSpec("stop", "power_meter", "L1"), demo.MeasureSpec("truck_ban", "gate_records")],
    }  # fmt: skip


UNITS = [demo.UnitSpec("L1", "1#生产线", {"so2": 1.0, "nox": 1.0, "pm": 1.0, "vocs": 1.0}, eia=100.0)]


@pytest.fixture
def zone(session: Any, make_bureau: Any, make_user: Any) -> Zone:
    decider = make_user("resp_decider", code="510000", roles=(Role.province_staff,))
    plan = session.scalars(select(Plan).where(Plan.code == "chuanyu")).one()
    codes = ["510100", "510104", "510105", "510600", "510603", "511400", "511800", "510700"]
    z = Zone(plan.id, {c: _place(session, c).id for c in codes})
    n = 0

    def add(lst: ReductionList, unit: str, where: str, category: str = "other", grade: str | None = None,
            periods: tuple = ()) -> str:  # fmt: skip
        nonlocal n
        n += 1
        code = uscc(n)
        demo.add_enterprise(session, lst, assess=False, uscc=code, name=f"测试企业{n:03d}", category=category,
                            grade=grade, jurisdiction_id=z.ids[where], units=UNITS, measures=_measures(),
                            periods=periods, address=f"测试路{n}号")  # fmt: skip
        z.listed.setdefault(unit, []).append(code)
        return code

    for code, kind in (
        ("510100", BureauKind.bureau),
        ("510600", BureauKind.bureau),
        ("510603", BureauKind.branch),
        ("511400", BureauKind.bureau),
        ("511800", BureauKind.bureau),
        ("510700", BureauKind.bureau),
    ):
        b = make_bureau(code, name=f"{code}测试局", kind=kind)
        lst = _list(session, session.get(Bureau, b.id), decider.id)
        z.lists[code] = lst.id
        if code == "510100":
            z.key_uscc = add(lst, "510100", "510104", "key", "B")
            add(lst, "510100", "510105")
            z.stagger_uscc = add(lst, "510100", "510105", "other", None, ((date(2026, 11, 15), date(2027, 3, 15)),))
        elif code == "510600":
            add(lst, "510600", "510600", "key", "C")
        elif code == "510603":
            add(lst, "510600", "510603", "micro")
            add(lst, "510600", "510603", "guarantee")
        elif code == "510700":
            add(lst, "510700", "510700")
        else:
            add(lst, code, code)
    province = make_bureau("510000", name="四川省测试厅", kind=BureauKind.department)
    z.episode = make_episode(session, "chuanyu", province.id)
    z.episode_chaoyang = make_episode(session, "chaoyang", province.id)
    session.commit()
    return z
