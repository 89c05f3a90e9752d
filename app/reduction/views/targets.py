"""Routes: the targets page (per jurisdiction or zone, level and variant, with a chart) and the total
emissions entered per jurisdiction and year."""

from __future__ import annotations

from datetime import date, datetime

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.auth.roles import Permission
from app.core.access import require
from app.core.errors import Forbidden, ServiceError
from app.core.localtime import LOCAL_TZ
from app.extensions import db
from app.places.models import Jurisdiction
from app.reduction import forms
from app.reduction.domain.vocabulary import LEVELS, AlertLevel, Pollutant
from app.reduction.services import targets as target_service
from app.reduction.views.blueprint import bp

CLOSING_SHOWN = 30


def this_year() -> int:
    return datetime.now(LOCAL_TZ).year


def today() -> date:
    return datetime.now(LOCAL_TZ).date()


@bp.get("/targets")
@require(Permission.view_lists)
def targets():  # type: ignore[no-untyped-def]
    s = db.session()
    choices = target_service.choices(s)
    home = s.get(Jurisdiction, g.user.jurisdiction_id)
    default = f"j:{home.code}" if home is not None else (choices[0].value if choices else "")
    args = request.args
    picked = args.get("jurisdiction") or default
    combine, ozone = args.get("combine") == "1", args.get("ozone") == "1"
    # The lists in force unless the reader asks for a year's versions (a year without a basis: a link or a
    # bookmark of the year's targets).
    asked = args.get("basis") or ("working" if args.get("year") else "in_force")
    basis = "working" if asked == "working" else "in_force"
    error, result, label, status = None, None, "", 200
    year = target_service.latest_year_with_totals(s) or this_year()
    level, on = AlertLevel.yellow, today()
    try:
        if args.get("year"):
            year = forms.year(args.get("year"))
        if args.get("on"):
            on = forms.day(args.get("on"), _("生效日期"), "on")
        level = forms.level(args.get("level") or "yellow")
        label, places = target_service.resolve(s, picked)
        result = target_service.compute(
            s, year if basis == "working" else None, places, level, combine_so2_nox=combine, ozone=ozone,
            on=on if basis == "in_force" else None,
        )  # fmt: skip
        year = result.year
    except ServiceError as e:
        error = e
        status = 200 if e.field in ("totals", "lists") else 400  # data to enter or publish, not a bad request
    bars, height, top = target_service.chart(result.result) if result else ([], 0, 0.0)
    closing = []
    if result is not None and len(result.result.closing):
        closing = result.result.closing.groupby("group").head(CLOSING_SHOWN).to_dict("records")
    return (
        render_template(
            "reduction/targets.html",
            choices=choices,
            picked=picked,
            label=label,
            year=year,
            level=level,
            levels=LEVELS,
            combine=combine,
            ozone=ozone,
            basis=basis,
            on=on,
            result=result,
            error=error,
            bars=bars,
            chart_height=height,
            chart_top=top,
            closing=closing,
            closing_shown=CLOSING_SHOWN,
            group_labels={g.key: g.label for g in result.result.groups} if result else {},
        ),
        status,
    )


def render_totals(
    year: int, *, form: dict[str, str] | None = None, error: ServiceError | None = None, status: int = 200
):  # type: ignore[no-untyped-def]
    s = db.session()
    return (
        render_template(
            "reduction/totals.html",
            year=year,
            rows=target_service.totals_table(s, year),
            places=target_service.writable_jurisdictions(s),
            form=form or {},
            error=error,
            may_edit=g.user.can(Permission.edit_lists),
            pollutants=list(Pollutant),
            labels=target_service.FIELD_LABELS,
        ),
        status,
    )


@bp.get("/totals")
@require(Permission.view_lists)
def totals():  # type: ignore[no-untyped-def]
    raw = request.args.get("year", "")
    try:
        year = forms.year(raw) if raw else this_year()
    except ServiceError as e:
        return render_totals(this_year(), error=e, status=400)
    return render_totals(year)


@bp.post("/totals")
@require(Permission.edit_lists)
def save_totals():  # type: ignore[no-untyped-def]
    s = db.session()
    form = request.form
    try:
        year = forms.year(form.get("year"))
        place = target_service.jurisdiction_by_code(s, form.get("jurisdiction", ""))
        values = {
            p.value: forms.number(form.get(p.value), _(target_service.FIELD_LABELS[p.value]), p.value)
            for p in Pollutant
        }
        source = forms.text(form.get("source"), _("数据来源"), "source", 300)
        target_service.set_total(s, place, year, values, source, g.user)  # type: ignore[arg-type]
    except Forbidden:
        raise
    except ServiceError as e:
        s.rollback()
        shown = (
            int(form["year"])
            if str(form.get("year", "")).isascii()
            and str(form.get("year", "")).isdigit()
            and 2000 <= int(form["year"]) <= 2100
            else this_year()
        )
        return render_totals(shown, form=form.to_dict(), error=e, status=e.status)
    flash(_("已保存 %(name)s %(year)d 年的全社会总排放量。", name=place.name, year=year))
    return redirect(url_for("reduction.totals", year=year))
