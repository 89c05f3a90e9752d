"""Each province's letter to its member cities (区域预警建议函, seed 000 四(五)1), printed from forms/alert_letter.

One letter per province among the proposal's units (the first code of a unit's path: 510000 四川, 500000 重庆),
sent by that province's bureau (its `department` bureau) to the bureaus of its own units only, copied to the
ministry. Printable once the proposal is approved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.alerts.models import Proposal
from app.alerts.vocabulary import LEVEL_LABELS, ProposalKind, ProposalState, term
from app.auth.models import Bureau, BureauKind
from app.core.errors import Conflict, NotFound
from app.core.scoping import unscoped
from app.places.models import Jurisdiction, path_codes
from app.plans import services as plans

OPENINGS = {
    ProposalKind.issue: (
        "经会商研判，{zones}将出现一次重污染天气过程，已达到区域{level}启动条件。"
        "经{approver}审批同意，现将区域预警建议函送你们，请按本级人民政府规定的程序发布预警信息，"
        "启动相应级别的应急响应，落实各项应急减排措施。"
    ),
    ProposalKind.upgrade: (
        "经会商研判，{zones}污染程度加重，已达到区域{level}条件。"
        "经{approver}审批同意，请按程序将预警级别调整为{level}，落实相应级别的应急减排措施。"
    ),
    ProposalKind.downgrade: (
        "经会商研判，{zones}空气质量明显改善，经{approver}审批同意，请按程序将预警级别调整为{level}。"
    ),
    ProposalKind.lift: (
        "经会商研判，{zones}空气质量明显改善并将持续，已达到解除条件。{approver}，请按程序解除预警，终止应急响应。"
    ),
}
CLOSING = "启动预警的城市请及时将启动预警情况通报工作小组办公室，并每日报送重污染天气应对情况。"
CLOSING_LIFT = "请于解除后按预案要求报送本次过程应对工作总结。"


@dataclass(frozen=True)
class Letter:
    province: str  # its code
    province_name: str
    from_bureau: str
    units: list[str]  # codes of its units in the proposal


def _province_of(path: str) -> str:
    return next(iter(path_codes(path)), "")


def letters(session: Session, proposal: Proposal) -> list[Letter]:
    """The letters of a proposal, one per province, in code order."""
    with unscoped(session):
        rows = session.execute(
            select(Jurisdiction.code, Jurisdiction.path).where(Jurisdiction.code.in_(proposal.units))
        ).all()
        by_province: dict[str, list[str]] = {}
        for code, path in rows:
            by_province.setdefault(_province_of(path), []).append(code)
        provinces = dict(session.execute(
            select(Jurisdiction.code, Jurisdiction.name).where(Jurisdiction.code.in_(list(by_province)))
        ).all())  # fmt: skip
        departments: dict[str, str] = {}
        for code, name in session.execute(
            select(Jurisdiction.code, Bureau.name).join(Bureau, Bureau.jurisdiction_id == Jurisdiction.id)
            .where(Jurisdiction.code.in_(list(by_province)), Bureau.kind == BureauKind.department, Bureau.active)
            .order_by(Bureau.id)
        ):  # fmt: skip
            # the province's first department bureau (its ecology-environment department); one added later
            # at the same level (a government office for its approvers) does not sign the letter
            departments.setdefault(code, name)
    order = {c: i for i, c in enumerate(proposal.units)}
    return [
        Letter(p, provinces.get(p, p), departments.get(p) or f"{provinces.get(p, p)}生态环境部门",
               sorted(codes, key=lambda c: order[c]))
        for p, codes in sorted(by_province.items())
    ]  # fmt: skip


def letter_of(session: Session, proposal: Proposal, province: str) -> Letter:
    found = next((x for x in letters(session, proposal) if x.province == province), None)
    if found is None:
        raise NotFound(_("这份建议没有发往该省（市）的预警建议函。"))
    return found


def context(session: Session, proposal: Proposal, letter: Letter) -> dict[str, Any]:
    """The form's context (keys: forms/README.md, alert_letter)."""
    if proposal.state not in (ProposalState.approved, ProposalState.issued):
        raise Conflict(_("预警建议批准后才能打印预警建议函。"))
    episode = proposal.episode
    plan = plans.by_code(session, episode.plan_code)
    with unscoped(session):
        places = dict(session.execute(
            select(Jurisdiction.code, Jurisdiction.name).where(Jurisdiction.code.in_(letter.units))
        ).all())  # fmt: skip
        unit_bureaus = dict(session.execute(
            select(Jurisdiction.code, Bureau.name).join(Bureau, Bureau.jurisdiction_id == Jurisdiction.id)
            .where(Jurisdiction.code.in_(letter.units), Bureau.active, Bureau.kind.in_([BureauKind.bureau,
                                                                                         BureauKind.branch]))
            .order_by(Bureau.id.desc())
        ).all())  # fmt: skip
    zones = []
    if plan is not None:
        for zone in plan.zones:
            if any(m.jurisdiction.code in proposal.units for m in zone.members):
                zones.append(zone.name)
    level = LEVEL_LABELS[proposal.level.value] if proposal.level is not None else ""
    approver = "、".join(dict.fromkeys(d.user_name for d in proposal.decisions)) or "工作小组"
    if proposal.without_approval:
        approver = "预警按期解除，不再另行报批"
    opening = OPENINGS[proposal.kind].format(zones="、".join(zones) or "相关地区", level=level or "", approver=approver)
    from app.alerts.services.proposals import step_words

    return {
        "letter_no": f"{episode.plan_code.upper()}-{episode.id:04d}-{proposal.id:04d}-{letter.province}",
        "title": "重污染天气区域预警建议函",
        "plan_name": plan.name if plan is not None else episode.plan_code,
        "from_bureau": letter.from_bureau,
        "to_units": [unit_bureaus.get(c) or f"{places.get(c, c)}生态环境局" for c in letter.units],
        "opening": opening,
        "closing": CLOSING_LIFT if proposal.kind is ProposalKind.lift else CLOSING,
        "kind": term(proposal.kind),
        "level": level,
        "start_label": "解除时间" if proposal.kind is ProposalKind.lift else "启动时间",
        "starts_at": proposal.starts_at,
        "pollution": proposal.pollution,
        "weather": proposal.weather,
        "reason": proposal.reason,
        "units": [
            {"name": places.get(c, c), "level": LEVEL_LABELS[lv.value] if (lv := proposal.level_of(c)) else "解除"}
            for c in letter.units
        ],
        "approvals": [
            {
                "step": step_words(proposal.chain[d.step]),
                "name": d.user_name,
                "opinion": d.opinion or "同意",
                "at": d.at,
            }
            for d in proposal.decisions
        ],
        "issued_at": proposal.issued_at or proposal.approved_at,
        "copies_to": ["生态环境部"],
    }


def pdf(session: Session, proposal: Proposal, province: str) -> tuple[str, bytes]:
    """(file name, PDF bytes) of the province's letter."""
    from app.printing import PrintError, render_pdf

    letter = letter_of(session, proposal, province)
    ctx = context(session, proposal, letter)
    try:
        data = render_pdf("alert_letter", ctx)
    except PrintError as e:
        from app.core.errors import ServiceError

        raise ServiceError(_("预警建议函生成失败：%(e)s", e=str(e))) from e
    return f"{ctx['letter_no']}.pdf", data
