"""The campaign report as Excel (formula-safe cells) and PDF (forms/crosscheck_report via app.printing)."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import Bureau
from app.core.exports import safe_cell
from app.core.localtime import LOCAL_TZ
from app.core.scoping import unscoped
from app.crosscheck.models import Campaign, ChecklistItem, FindingResult
from app.crosscheck.services import report
from app.crosscheck.vocabulary import FINDING_STATE_LABELS, ITEM_LABELS, RESULT_LABELS, STATE_LABELS
from app.places.models import Jurisdiction
from app.printing import render_pdf

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _names(session: Session, campaign: Campaign) -> tuple[dict[int, str], dict[int, str]]:
    with unscoped(session):
        bureaus = dict(session.execute(select(Bureau.id, Bureau.name).where(
            Bureau.id.in_({p.reviewer_bureau_id for p in campaign.pairs} | {campaign.bureau_id}))).all())  # fmt: skip
        places = dict(session.execute(select(Jurisdiction.id, Jurisdiction.name).where(
            Jurisdiction.id.in_({p.jurisdiction_id for p in campaign.pairs}))).all())  # fmt: skip
    return bureaus, places


def context(session: Session, campaign: Campaign) -> dict[str, Any]:
    """The report as plain data (the PDF form's context; see forms/README.md)."""
    data = report(session, campaign)
    bureaus, places = _names(session, campaign)
    pairs = []
    for p in data["pairs"]:
        pair = p["pair"]
        findings = []
        for row in p["samples"]:
            s = row["sample"]
            for item in ChecklistItem:
                f = row["findings"].get(item)
                if f is None or f.result is FindingResult.conforms:
                    continue
                findings.append({
                    "enterprise": s.name, "uscc": s.uscc, "item": _(ITEM_LABELS[item]), "note": f.note,
                    "answer": f.answer or "", "state": _(FINDING_STATE_LABELS[f.state]),
                })  # fmt: skip
        pairs.append({
            "reviewer": bureaus.get(pair.reviewer_bureau_id, ""), "reviewed": places.get(pair.jurisdiction_id, ""),
            "list": f"{pair.list_year} v{pair.list_version}", "share": f"{pair.share * 100:g}%", "seed": pair.seed,
            "population": pair.population, "sampled": len(p["samples"]), "findings": p["findings"],
            "problems": p["problems"], "answered": p["answered"], "cases": p["cases"], "rows": findings,
        })  # fmt: skip
    return {
        "title": _("应急减排清单交叉抽核报告"), "campaign": campaign.name,
        "organiser": bureaus.get(campaign.bureau_id, ""),
        "period": f"{campaign.opens_on.isoformat()} — {campaign.closes_on.isoformat()}",
        "state": _(STATE_LABELS[campaign.state]), "made_at": datetime.now(LOCAL_TZ).strftime("%Y-%m-%d %H:%M"),
        "pairs": pairs,
    }  # fmt: skip


def xlsx(session: Session, campaign: Campaign) -> bytes:
    ctx = context(session, campaign)
    wb = Workbook()
    ws = wb.active
    ws.title = _("抽核安排")
    ws.append([safe_cell(h) for h in (_("抽核单位"), _("被抽核行政区"), _("清单版本"), _("抽核比例"), _("随机种子"),
                                       _("清单企业数"), _("抽核企业数"), _("意见数"), _("问题数"), _("已答复"),
                                       _("转问题线索"))])  # fmt: skip
    for p in ctx["pairs"]:
        ws.append([safe_cell(v) for v in (p["reviewer"], p["reviewed"], p["list"], p["share"], p["seed"],
                                          p["population"], p["sampled"], p["findings"], p["problems"], p["answered"],
                                          p["cases"])])  # fmt: skip
    ws2 = wb.create_sheet(_("问题清单"))
    ws2.append([safe_cell(h) for h in (_("被抽核行政区"), _("企业"), _("统一社会信用代码"), _("抽核事项"), _("问题"),
                                        _("答复"), _("状态"))])  # fmt: skip
    for p in ctx["pairs"]:
        for f in p["rows"]:
            ws2.append([safe_cell(v) for v in (p["reviewed"], f["enterprise"], f["uscc"], f["item"], f["note"],
                                               f["answer"], f["state"])])  # fmt: skip
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def pdf(session: Session, campaign: Campaign) -> bytes:
    return render_pdf("crosscheck_report", context(session, campaign))


__all__ = ["RESULT_LABELS", "XLSX_MIME", "context", "pdf", "xlsx"]
