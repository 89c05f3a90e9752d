"""Deterministic demo bureaus and accounts for development; `flask demo load` refuses in production."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.services import record
from app.auth import services as auth
from app.auth.models import Bureau, BureauKind, BureauScopeRoot, User
from app.auth.roles import Role
from app.core.errors import ServiceError
from app.places.models import Jurisdiction

DEMO_PASSWORD = "Lianfang#2026"

# name, kind, home jurisdiction code, extra scope roots
BUREAUS = [
    ("联防平台运维中心", BureauKind.operations, "510000", ["510000", "500000", "650000", "210000"]),
    ("四川省生态环境厅", BureauKind.department, "510000", []),
    ("重庆市生态环境局", BureauKind.department, "500000", []),
    ("川渝大气污染联防联控工作小组办公室", BureauKind.working_group, "510000", ["510000", "500000"]),
    ("西南区域空气质量预测预报中心", BureauKind.forecast_center, "510000", ["510000", "500000"]),
    ("成都市生态环境局", BureauKind.bureau, "510100", []),
    ("内江市生态环境局", BureauKind.bureau, "511000", []),
    ("自贡市生态环境局", BureauKind.bureau, "510300", []),
    ("内江市生态环境局市中区分局", BureauKind.branch, "511002", []),
    ("重庆市荣昌区生态环境局", BureauKind.branch, "500153", []),
    ("重庆市永川区生态环境局", BureauKind.branch, "500118", []),
    ("喀什地区生态环境局", BureauKind.bureau, "653100", []),
    ("喀什地区重污染天气应急指挥部", BureauKind.command_center, "653100", []),
    ("朝阳市生态环境局", BureauKind.bureau, "211300", []),
]

# username, display name, bureau, roles
USERS = [
    ("admin", "系统管理员", "联防平台运维中心", {Role.system_admin}),
    ("auditor", "审计管理员", "联防平台运维中心", {Role.audit_admin}),
    ("sc_staff", "四川厅值班员", "四川省生态环境厅", {Role.province_staff, Role.reviewer}),
    ("cq_staff", "重庆局值班员", "重庆市生态环境局", {Role.province_staff, Role.reviewer}),
    ("leader", "工作小组组长", "川渝大气污染联防联控工作小组办公室", {Role.group_leader}),
    ("forecaster", "预报员", "西南区域空气质量预测预报中心", {Role.forecast_center}),
    ("cd_staff", "成都市局业务员", "成都市生态环境局", {Role.city_staff}),
    ("nj_staff", "内江市局业务员", "内江市生态环境局", {Role.city_staff, Role.approver}),
    ("zg_staff", "自贡市局业务员", "自贡市生态环境局", {Role.city_staff}),
    ("njsz_staff", "市中区分局业务员", "内江市生态环境局市中区分局", {Role.district_staff}),
    ("rc_staff", "荣昌区局业务员", "重庆市荣昌区生态环境局", {Role.district_staff}),
    ("rc_inspector", "荣昌区执法员", "重庆市荣昌区生态环境局", {Role.inspector}),
    ("yc_staff", "永川区局业务员", "重庆市永川区生态环境局", {Role.district_staff}),
    ("ks_staff", "喀什地区局业务员", "喀什地区生态环境局", {Role.city_staff}),
    ("ks_commander", "喀什应急指挥长", "喀什地区重污染天气应急指挥部", {Role.commander, Role.office_director}),
    ("cy_staff", "朝阳市局业务员", "朝阳市生态环境局", {Role.city_staff}),
]


def ensure_bureaus(session: Session) -> dict[str, Bureau]:
    codes = {j.code: j for j in session.scalars(select(Jurisdiction))}
    if not codes:
        raise ServiceError("load the inventories first: flask inventories load")
    result = {}
    for name, kind, home, roots in BUREAUS:
        bureau = session.scalars(select(Bureau).where(Bureau.name == name)).first()
        if bureau is None:
            bureau = Bureau(name=name, kind=kind, jurisdiction_id=codes[home].id)
            session.add(bureau)
            session.flush()
            for code in roots:
                session.add(BureauScopeRoot(bureau_id=bureau.id, jurisdiction_id=codes[code].id))
            record(session, "bureau.create", obj=bureau, after={"name": name, "jurisdiction": home, "roots": roots})
        result[name] = bureau
    session.flush()
    return result


def load(session: Session) -> list[str]:
    bureaus = ensure_bureaus(session)
    lines = [f"demo logins (password for all: {DEMO_PASSWORD}):"]
    for username, display, bureau, roles in USERS:
        exists = session.scalars(select(User).where(User.username == username)).first()
        if exists is None:
            auth.create_user(
                session, username=username, display_name=display, bureau=bureaus[bureau],
                password=DEMO_PASSWORD, roles=set(roles), via_cli=True,
            )  # fmt: skip
        lines.append(f"  {username:<14} {bureau} · {', '.join(sorted(r.value for r in roles))}")
    from app.reduction.demo import load as load_reduction

    lines += load_reduction(session)
    lines += demo_cases(session, bureaus)
    return lines


def demo_cases(session: Session, bureaus: dict[str, Bureau]) -> list[str]:
    """A few cases so that inboxes are not empty: 荣昌 found problems in 内江 and transferred one."""
    from app.cases.models import Case

    if session.scalars(select(Case).limit(1)).first() is not None:
        return []
    from app.auth.services import scope_for
    from app.core.scoping import get_scope, set_scope

    inspector = session.scalars(select(User).where(User.username == "rc_inspector")).one()
    # As in a request: the inspector's scope decides what the services share (a case logged outside 荣昌 stays
    # readable by 荣昌 through its "discovered_by" share). Without it the demo wrote cases 荣昌 could not see.
    before = get_scope(session)
    set_scope(session, scope_for(session, inspector))
    try:
        return _demo_cases(session, bureaus, inspector)
    finally:
        if before is None:
            session.info.pop("scope", None)
        else:
            set_scope(session, before)


def _demo_cases(session: Session, bureaus: dict[str, Bureau], inspector: User) -> list[str]:
    from datetime import timedelta

    from app.cases.services.records import create_case, create_transfer
    from app.db import utcnow

    when = (utcnow() - timedelta(hours=3)).isoformat()
    first = create_case(session, inspector, {
        "source_type": "industrial", "topic": "未落实应急减排措施", "source_name": "隆昌市某陶瓷有限公司",
        "source_address": "隆昌市古湖街道", "place": "511083", "inspected_at": when,
        "problem": "橙色预警期间辊道窑未按一厂一策限产，用电监控显示负荷与预警前持平。",
    })  # fmt: skip
    create_case(session, inspector, {
        "source_type": "dust", "topic": "物料堆场未覆盖", "source_name": "隆昌市某砂石场", "place": "511083",
        "problem": "砂石堆场未苫盖，装卸未喷淋。", "inspected_at": when,
    })  # fmt: skip
    create_case(session, inspector, {
        "source_type": "mobile", "topic": "柴油货车冒黑烟", "source_name": "荣昌区某物流园", "place": "500153",
        "problem": "园区内两辆国Ⅲ柴油货车作业。", "inspected_at": when,
    })  # fmt: skip
    create_transfer(session, inspector, [first.id], bureaus["内江市生态环境局"].id)
    return ["demo cases: 3 logged by rc_inspector, one transferred to 内江市生态环境局 (nj_staff signs for it)"]
