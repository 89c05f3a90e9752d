"""Screens of jobs: the progress page (polled by static/js/job-progress.js), its JSON, the download, cancel."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, send_file, url_for
from flask_babel import gettext as _

from app.core.access import login_required
from app.extensions import db
from app.jobs import services
from app.jobs.models import Job

bp = Blueprint("jobs", __name__, url_prefix="/jobs")
# Immediate mode (the tests): the jobs a request committed run when it ends, after its own commit.
bp.teardown_app_request(services.run_deferred)


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    jobs = services.recent_for(db.session(), g.user)
    return render_template("jobs/index.html", jobs=[(j, services.status(j)) for j in jobs])


@bp.get("/<bigid:job_id>")
@login_required
def detail(job_id: int):  # type: ignore[no-untyped-def]
    job = services.get_for(db.session(), g.user, job_id)
    return render_template("jobs/detail.html", job=job, st=services.status_json(job))


@bp.get("/<bigid:job_id>/status.json")
@login_required
def status(job_id: int):  # type: ignore[no-untyped-def]
    job = services.get_for(db.session(), g.user, job_id)
    return services.status_json(job), 200, {"Cache-Control": "no-store"}


@bp.get("/<bigid:job_id>/download")
@login_required
def download(job_id: int):  # type: ignore[no-untyped-def]
    job = services.get_for(db.session(), g.user, job_id)
    path = services.result_path(job)
    if path is None:  # not finished yet, nothing to download, or the file was cleaned away: the job's page says
        if job.result_file:
            flash(_("结果文件已不存在，请重新提交该任务。"))
        return redirect(url_for("jobs.detail", job_id=job.id))
    from app.audit.services import record

    record(db.session(), "job.download", obj=job, detail={"kind": job.kind, "file": job.result_name})
    return send_file(path, as_attachment=True, download_name=job.result_name or path.name, max_age=0)


@bp.post("/<bigid:job_id>/cancel")
@login_required
def cancel(job_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    job = services.get_for(s, g.user, job_id)
    services.cancel(s, g.user, job)
    return redirect(url_for("jobs.detail", job_id=job.id))


def started(job: Job) -> Any:
    """What a view answers once it has asked for a job: the job's progress page."""
    return redirect(url_for("jobs.detail", job_id=job.id))
