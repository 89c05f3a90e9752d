"""What the power screens show: read-only queries through the session's scope."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.power.models import PowerDevice, PowerFlag


def index(session: Session) -> dict[str, Any]:
    flags = session.execute(
        select(PowerFlag.episode_id, PowerFlag.state, func.count()).group_by(PowerFlag.episode_id, PowerFlag.state)
    ).all()
    episodes: dict[int, dict[str, int]] = {}
    for episode_id, state, n in flags:
        episodes.setdefault(episode_id, {})[state.value] = n
    devices = session.scalar(select(func.count()).select_from(PowerDevice)) or 0
    return {"episodes": sorted(episodes.items(), reverse=True), "devices": devices}


SORTS = {"day": ("day", "enterprise"), "enterprise": ("enterprise", "day"), "kind": ("kind", "day"),
         "state": ("state", "day")}  # fmt: skip
SERIOUS = ("production_not_reduced", "controls_off", "night_pattern")


def episode(session: Session, episode_id: int, sort: str = "day", descending: bool = False) -> dict[str, Any]:
    """Per jurisdiction (the reader's scope): the compliance rate by day and the stored flags, sorted.

    Read from what is stored, never by running the check again (that is `flask power check` or the screen's
    button): the enterprise-days checked come from the response tasks' alert periods
    (`check.checked_days`, equal to the check's own), the failing ones from the stored flags."""
    from app.power import flags as power_flags
    from app.power.domain.check import checked_days
    from app.power.vocabulary import flag_label, status_label
    from app.registry.models import RegisteredEnterprise

    i = power_flags.inputs(session, episode_id)
    enterprise_days = checked_days(i.periods, i.meters, i.thresholds, power_flags._local(i.as_of))
    stored = list(session.scalars(select(PowerFlag).where(PowerFlag.episode_id == episode_id)))
    flagged = {f.registry_enterprise_id for f in stored}
    names = dict(session.execute(
        select(RegisteredEnterprise.id, RegisteredEnterprise.name).where(RegisteredEnterprise.id.in_(flagged))
    ).all()) if flagged else {}  # fmt: skip
    bad = {(f.registry_enterprise_id, f.day) for f in stored
           if f.kind in SERIOUS and f.state.value in ("raised", "confirmed")}  # fmt: skip
    days = []
    if len(enterprise_days):
        for day, group in enterprise_days.groupby("day"):
            checked = int(group["enterprise_id"].nunique())
            failing = sum(1 for e in group["enterprise_id"].unique() if (int(e), day) in bad)
            days.append({"day": day, "checked": checked, "compliant": checked - failing,
                         "rate": round(100 * (checked - failing) / checked, 1) if checked else None})  # fmt: skip
    rows = [{"id": f.id, "day": f.day, "enterprise": names.get(f.registry_enterprise_id, ""),
             "enterprise_id": f.registry_enterprise_id, "kind": f.kind, "label": flag_label(f.kind),
             "state": f.state.value, "state_label": status_label(f.state.value), "reason": f.reason,
             "note": f.note, "case_id": f.case_id} for f in stored]  # fmt: skip
    keys = SORTS.get(sort, SORTS["day"])
    rows.sort(key=lambda r: tuple(str(r[k]) for k in keys), reverse=descending)
    return {"episode_id": episode_id, "days": days, "flags": rows, "sort": sort if sort in SORTS else "day",
            "descending": descending}  # fmt: skip


def export_xlsx(data: dict[str, Any]) -> bytes:
    """The flags as a workbook: text never read as a formula (app/core/exports.safe_cell, written as strings)."""
    import io

    import xlsxwriter
    from flask_babel import gettext as _

    from app.core.exports import safe_cell

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    sheet = book.add_worksheet(_("用电核查问题"))
    header = [_("日期"), _("企业"), _("问题"), _("状态"), _("依据"), _("排除理由"), _("线索编号")]
    for c, h in enumerate(header):
        sheet.write_string(0, c, h)
    for r, f in enumerate(data["flags"], start=1):
        values = [f["day"].isoformat(), f["enterprise"], f["label"], f["state_label"], f["reason"], f["note"],
                  f["case_id"] or ""]  # fmt: skip
        for c, v in enumerate(values):
            v = safe_cell(v)
            if isinstance(v, int | float):
                sheet.write_number(r, c, v)
            else:
                sheet.write_string(r, c, v)
    days = book.add_worksheet(_("每日达标率"))
    for c, h in enumerate([_("日期"), _("核查企业"), _("达标企业"), _("达标率（%）")]):
        days.write_string(0, c, h)
    for r, d in enumerate(data["days"], start=1):
        days.write_string(r, 0, d["day"].isoformat())
        for c, k in enumerate(("checked", "compliant", "rate"), start=1):
            if d[k] is not None:
                days.write_number(r, c, d[k])
    book.close()
    return out.getvalue()
