"""From a confirmed flag to a case (issue 14 point 4): an official confirms a flag; it opens one case (origin
`power_check`) through the cases service, placed where the enterprise is, with the numbers in its description and
the load-curve chart attached as a PNG, and hands it to the responsible bureau — the nearest bureau of the
enterprise's place (`records.bureaus_for`): the official's own bureau accepts it (受理), another one gets it by a
transfer form (移交) — so it waits in that bureau's inbox. At most one case per enterprise, flag kind and episode:
another confirmed flag of the same kind joins the case already opened."""

from __future__ import annotations

import io
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from app.audit.services import record
from app.cases.services.records import add_evidence, bureaus_for, create_case, create_transfer
from app.cases.services.workflow import Action, transition
from app.cases.vocabulary import EvidenceKind, Origin, SourceType
from app.core.errors import ServiceError
from app.core.scoping import unscoped
from app.db import utcnow
from app.places.models import Jurisdiction
from app.power import chart, curves
from app.power.models import FlagState, PowerFlag
from app.power.vocabulary import flag_label


def chart_labels() -> dict[str, str]:
    return {"production": _("生产用电"), "control": _("治污用电"), "production_baseline": _("生产用电基准"),
            "control_baseline": _("治污用电基准"), "ceiling": _("应急限值"), "alert": _("预警时段"),
            "empty": _("暂无用电数据")}  # fmt: skip


def confirm(session: Session, flag: PowerFlag, user: Any) -> Any:
    """Confirm the flag and open (or join) its case; the case."""
    from app.cases.models import Case

    if flag.state is FlagState.dismissed:
        raise ServiceError(_("已排除的问题不能确认。"))
    flag.state, flag.decided_by_id, flag.decided_at = FlagState.confirmed, user.id, utcnow()
    if flag.case_id is None:
        sibling = session.scalar(select(PowerFlag.case_id).where(
            PowerFlag.episode_id == flag.episode_id, PowerFlag.registry_enterprise_id == flag.registry_enterprise_id,
            PowerFlag.kind == flag.kind, PowerFlag.case_id.is_not(None)))  # fmt: skip
        flag.case_id = sibling or _open(session, flag, user).id
    session.flush()
    record(session, "power.flag_confirmed", obj=flag, user=user, detail={"kind": flag.kind, "case_id": flag.case_id})
    return session.get(Case, flag.case_id)


def _open(session: Session, flag: PowerFlag, user: Any) -> Any:
    ent = flag.enterprise
    with unscoped(session):
        place = session.get(Jurisdiction, ent.jurisdiction_id)
    numbers = "；".join(f"{k}={v}" for k, v in flag.evidence.items())
    problem = _("%(day)s %(reason)s（用电核查数据：%(numbers)s）", day=flag.day.isoformat(), reason=flag.reason,
                numbers=numbers)  # fmt: skip
    case = create_case(session, user, {
        "origin": Origin.power_check.value, "source_type": SourceType.industrial.value,
        "topic": flag_label(flag.kind), "source_name": ent.name, "enterprise_uscc": ent.uscc,
        "problem": problem, "place": place.code,
    })  # fmt: skip
    c = curves.of(session, flag.episode_id, flag.registry_enterprise_id)
    image = chart.png(c, f"{ent.name} {flag_label(flag.kind)}", chart_labels())
    upload = FileStorage(stream=io.BytesIO(image), filename=f"用电负荷曲线_{ent.uscc}.png", content_type="image/png")
    add_evidence(session, case, user, [upload], EvidenceKind.discovery)
    _hand_over(session, case, user)
    return case


def _hand_over(session: Session, case: Any, user: Any) -> None:
    """To the responsible bureau's inbox: accepted by the official's own bureau when it is the nearest one of the
    enterprise's place, else transferred to that bureau (no bureau there: the case stays with the discoverer)."""
    nearest = next(iter(bureaus_for(session, case)), None)
    if nearest is None:
        return
    if nearest.id == user.bureau_id:
        transition(session, case, Action.accept, user)
    else:
        create_transfer(session, user, [case.id], nearest.id)
