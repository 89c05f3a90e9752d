"""Jobs: asking for one, running it once, its progress, cancelling it.

`submit` adds the job row in the caller's transaction and queues the job only after that transaction
commits (a worker never looks for a row that is not there yet). `execute` is what a worker runs: it claims
the job (state `running`, one more attempt) in a short transaction of its own, then does the work in one
session with the requesting user's scope and commits it together with the job's `done`, after locking the
job row and finding it still running in the same attempt. Errors leave nothing written and a Chinese message
on the job.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from flask import current_app, g, has_app_context, has_request_context, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from huey import crontab
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.audit.models import Outcome
from app.audit.services import PENDING as AUDIT_PENDING
from app.audit.services import record
from app.auth.models import User
from app.core.errors import NotFound, ServiceError
from app.core.memo import version_statement
from app.core.scoping import Scope, set_scope
from app.db import utcnow
from app.extensions import db
from app.jobs import runner
from app.jobs.models import FINISHED, Job, JobState

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=2)  # no heartbeat for this long: the worker died
KEEP_RESULTS = timedelta(days=7)  # result files (exports, PDFs) are removed after this
PENDING = "lianfang.jobs_to_enqueue"


class Cancelled(Exception):
    """Raised inside a job's work when the user has asked to cancel it."""


@dataclass
class Done:
    """What a job's work hands back: a summary for the page, and optionally a file to download."""

    summary: dict[str, Any] = field(default_factory=dict)
    file: Path | None = None
    name: str | None = None
    after_commit: Callable[[], None] | None = None  # clean-up once the work is committed (an upload)


@dataclass
class Context:
    """What a job's work gets: the session (requester's scope), the requester, the parameters, progress."""

    session: Session
    job_id: int
    kind: str
    params: dict[str, Any]
    user: User | None
    config: Any
    done: int = 0
    total: int = 0
    _written: float = 0.0

    def progress(self, done: int, total: int | None = None) -> None:
        """Rows done of total; written for the progress page at most every half second. Also the point
        where a cancel request takes effect."""
        self.done = done
        if total is not None:
            self.total = total
        now = time.monotonic()
        if now - self._written >= runner.PROGRESS_EVERY or done >= self.total:
            self._written = now
            runner.put_progress(self.job_id, self.done, self.total)
            self.check_cancel()

    def check_cancel(self) -> None:
        if runner.cancel_requested(self.job_id):
            raise Cancelled

    def result_path(self, suffix: str) -> Path:
        d = Path(self.config["UPLOAD_DIR"]) / "jobs"
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        return d / f"{self.job_id}-{secrets.token_urlsafe(12)}{suffix}"


Handler = Callable[[Context], Done]
HANDLERS: dict[str, Handler] = {}
LABELS: dict[str, str] = {}


READ_ONLY: set[str] = set()


def handler(kind: str, label: str, *, read_only: bool = False) -> Callable[[Handler], Handler]:
    """Register a kind of job. `read_only`: its work only reads (an export, a preview, PDFs) and records
    audit entries; it reads in a transaction of its own that takes no write lock on SQLite, and its audit
    entries are committed with the job's end."""

    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        LABELS[kind] = label
        if read_only:
            READ_ONLY.add(kind)
        return fn

    return register


def _handlers() -> dict[str, Handler]:
    """The kinds registered so far: app/jobs/tasks.py registers them when the app is made (app/__init__.py)."""

    return HANDLERS


# --- asking for a job ------------------------------------------------------------------------------------


def submit(session: Session, user: User | None, kind: str, params: dict[str, Any] | None = None, *,
           total: int = 0) -> Job:  # fmt: skip
    """A job for `user` (None: a system job with the operator's scope), queued when `session` commits."""
    if kind not in _handlers():
        raise ValueError(f"unknown job kind {kind!r}")
    job = Job(
        kind=kind, params=params or {}, progress_total=total,
        requested_by_id=getattr(user, "id", None), bureau_id=getattr(user, "bureau_id", None),
        jurisdiction_id=getattr(user, "jurisdiction_id", None),
        request_ip=request.remote_addr if has_request_context() else None,
    )  # fmt: skip
    session.add(job)
    session.flush()
    record(session, "job.submit", obj=job, detail={"kind": kind, "params": job.params}, user=user)
    session.info.setdefault(PENDING, []).append(job.id)
    return job


_deferred = threading.local()


@event.listens_for(Session, "after_commit")
def _enqueue_committed(session: Session) -> None:
    ids = session.info.pop(PENDING, [])
    if runner.huey.immediate:
        # Immediate mode (the tests) runs a job in this process: not inside the caller's commit, but when
        # its request ends (run_deferred at teardown) or right after submit_system's commit.
        _deferred.__dict__.setdefault("ids", []).extend(ids)
        return
    for job_id in ids:
        try:
            enqueue(job_id)
        except Exception:
            # the row stays queued; requeue_stale picks it up once the queue is back
            log.exception("job %s could not be queued", job_id)


def run_deferred(_exc: BaseException | None = None) -> None:
    """Immediate mode: run the jobs committed in this thread since the last call."""
    ids = _deferred.__dict__.pop("ids", [])
    for job_id in ids:
        enqueue(job_id)


@event.listens_for(Session, "after_rollback")
def _drop_uncommitted(session: Session) -> None:
    if not session.in_transaction():
        session.info.pop(PENDING, None)


def submit_system(kind: str, params: dict[str, Any] | None = None) -> int:
    s = _new_session()
    try:
        job = submit(s, None, kind, params)
        s.commit()
        return job.id
    finally:
        s.close()
        run_deferred()


def get_for(session: Session, user: User, job_id: int) -> Job:
    """The job if the user's bureau asked for it; NotFound otherwise (another bureau's job is not there)."""
    job = session.get(Job, job_id) if 0 < job_id < 2**63 else None
    if job is None or job.bureau_id is None or job.bureau_id != user.bureau_id:
        raise NotFound(_("任务不存在，或您无权查看。"))
    return job


def recent_for(session: Session, user: User, limit: int = 20) -> list[Job]:
    stmt = select(Job).where(Job.bureau_id == user.bureau_id).order_by(Job.created_at.desc(), Job.id.desc())
    return list(session.scalars(stmt.limit(limit)))


def cancel(session: Session, user: User, job: Job) -> None:
    """A queued job is cancelled at once; a running one at its next progress step (its work is rolled back)."""
    if job.finished:
        raise ServiceError(_("任务已结束，无法取消。"))
    job.cancel_requested = True
    if job.state is JobState.queued:  # a worker claiming it now waits for this row and then finds it cancelled
        job.state, job.finished_at = JobState.cancelled, utcnow()
    else:
        runner.request_cancel(job.id)  # the running work sees it at its next progress step
    session.flush()
    record(session, "job.cancel", obj=job, detail={"kind": job.kind}, user=user)


def status(job: Job) -> dict[str, Any]:
    """What the progress page polls: rows done of total, seconds left, the state, the result or the error."""
    done, total = job.progress_done, job.progress_total
    live = runner.get_progress(job.id) if job.state is JobState.running else None
    if live is not None:
        done, total = live[0], live[1]
    left = None
    if job.state is JobState.running and job.started_at is not None and total and 0 < done < total:
        elapsed = (utcnow() - job.started_at).total_seconds()
        left = round(elapsed / done * (total - done))
    return {
        "id": job.id,
        "kind": job.kind,
        "label": str(LABELS.get(job.kind, job.kind)),
        "state": job.state.value,
        "state_label": str(STATE_LABELS[job.state]),
        "done": done,
        "total": total,
        "percent": 100 if job.state is JobState.done else (round(100 * done / total) if total else 0),
        "seconds_left": left,
        "cancel_requested": job.cancel_requested,
        "error": job.error,
        "result": job.result or {},
        "has_file": job.result_file is not None,
        "finished": job.finished,
    }


def links(job: Job) -> list[dict[str, str]]:
    """Where the user goes from a finished job (besides its download)."""
    r = job.result or {}
    if job.state is not JobState.done:
        return []
    if job.kind == "reduction.import_preview":
        return [{"label": _("查看导入预览"), "url": url_for("reduction.import_preview", token=r["token"])}]
    if job.kind == "reduction.import_commit":
        return [{"label": _("返回导入页面"), "url": url_for("reduction.import_page", year=r.get("year"))}]
    if job.kind == "response.apply":
        return [{"label": _("查看应急响应任务"), "url": url_for("response.tasks")}]
    if job.kind == "cases.transfer_batch":
        return [
            {"label": _("移交单 %(n)s（%(c)d 条线索）", n=t["number"], c=t["cases"]),
             "url": url_for("cases.transfer", transfer_id=t["id"])}
            for t in r.get("transfers", [])
        ]  # fmt: skip
    return []


def status_json(job: Job) -> dict[str, Any]:
    out = status(job)
    out["links"] = links(job)
    out["download_url"] = url_for("jobs.download", job_id=job.id) if out["has_file"] else None
    out["page_url"] = url_for("jobs.detail", job_id=job.id)
    return out


STATE_LABELS = {
    JobState.queued: _l("排队中"),
    JobState.running: _l("进行中"),
    JobState.done: _l("已完成"),
    JobState.failed: _l("失败"),
    JobState.cancelled: _l("已取消"),
}


def result_path(job: Job) -> Path | None:
    if job.state is not JobState.done or not job.result_file:
        return None
    path = Path(current_app.config["UPLOAD_DIR"]) / "jobs" / Path(job.result_file).name
    return path if path.exists() else None


# --- running a job ---------------------------------------------------------------------------------------


def _new_session() -> Session:
    s = db.new_session()
    set_scope(s, Scope.everything())
    s.info["audit_key"] = current_app.config["AUDIT_KEY"]
    return s


def _claim(job_id: int) -> tuple[Job, int] | None:
    s = _new_session()
    try:
        job = s.get(Job, job_id, with_for_update=True)
        if job is None or job.state in FINISHED:
            runner.forget(job_id)
            return None  # done once already (or cancelled): a retry does nothing
        beat = runner.last_beat(job_id)
        if job.state is JobState.running and beat is not None and time.time() - beat < STALE_AFTER.total_seconds():
            return None  # a live worker is on it
        if job.cancel_requested or runner.cancel_requested(job_id):
            job.state, job.finished_at, job.cancel_requested = JobState.cancelled, utcnow(), True
            s.commit()
            runner.forget(job_id)
            return None
        job.state = JobState.running
        job.started_at = job.started_at or utcnow()
        job.attempts += 1
        s.commit()
        s.expunge(job)
        return job, job.attempts
    finally:
        s.close()


def _finish_elsewhere(job_id: int, attempt: int, state: JobState, error: str | None, user: Any) -> None:
    """Mark a job failed or cancelled in a transaction of its own (its work was rolled back)."""
    s = _new_session()
    try:
        job = s.get(Job, job_id, with_for_update=True)
        if job is None or job.state is not JobState.running or job.attempts != attempt:
            return
        job.state, job.finished_at, job.error = state, utcnow(), error
        record(
            s, f"job.{state.value}", obj=job, outcome=Outcome.failure, user=user,
            detail={"kind": job.kind, "error": error, "ip": job.request_ip},
        )  # fmt: skip
        s.commit()
    finally:
        s.close()
        runner.forget(job_id)


def execute(job_id: int) -> None:
    """Run one job to its end (in an application context). Safe to call again for the same job."""
    claimed = _claim(job_id)
    if claimed is None:
        return
    job, attempt = claimed
    fn = _handlers().get(job.kind)
    s = db.new_session()
    s.info["audit_key"] = current_app.config["AUDIT_KEY"]
    user = None
    actor = None  # the requester as the audit entries name them, kept past a rollback of the work
    caller = (g.get("user"), g.get("api_token"))  # immediate mode runs inside the caller's context
    read_only = job.kind in READ_ONLY
    if read_only:
        s.connection(execution_options={"sqlite_begin": "deferred"})
    try:
        with force_locale("zh"), runner.Heartbeat(job_id):
            if job.requested_by_id is not None:
                set_scope(s, Scope.everything())
                user = s.get(User, job.requested_by_id)
                if user is None or not user.active:
                    raise ServiceError(_("提交任务的账号已停用，任务未执行。"))
                from app.auth.services import scope_for

                set_scope(s, scope_for(s, user))
                actor = SimpleNamespace(id=user.id, username=user.username, bureau_id=user.bureau_id)
            else:
                set_scope(s, Scope.everything())
            g.user, g.api_token = user, None  # the work's own audit entries name the requester
            # As the request cycle does with the reader: the inventory version read once, in the job's session.
            g.inventory_version = s.scalar(select(version_statement()))
            if fn is None:
                raise ServiceError(_("未知的任务类型。"))
            ctx = Context(s, job_id, job.kind, dict(job.params), user, current_app.config,
                          total=job.progress_total)  # fmt: skip
            out = fn(ctx)
            ctx.check_cancel()
            work = s
            if read_only:  # the reads end here; the audit entries they recorded go with the job's end
                entries = s.info.pop(AUDIT_PENDING, [])
                s.rollback()
                s = _new_session()
                s.info[AUDIT_PENDING] = entries
                work.close()
            row = s.get(Job, job_id, with_for_update=True, populate_existing=True)
            if row is None or row.state is not JobState.running or row.attempts != attempt:
                s.rollback()  # another attempt finished it, or it was cancelled: nothing of ours is kept
                return
            if row.cancel_requested:  # asked while the work ran (the row, locked now, says so for certain)
                raise Cancelled
            row.state, row.finished_at = JobState.done, utcnow()
            row.progress_total = max(ctx.total, ctx.done)
            row.progress_done = row.progress_total
            row.result = out.summary
            row.result_file = out.file.name if out.file else None
            row.result_name = out.name
            record(
                s, "job.done", obj=row, user=actor,
                detail={"kind": row.kind, "attempt": attempt, "ip": row.request_ip, **out.summary},
            )  # fmt: skip
            if runner.BEFORE_COMMIT is not None:
                runner.BEFORE_COMMIT(job_id)
            s.commit()
            runner.forget(job_id)
            if out.after_commit is not None:
                try:
                    out.after_commit()
                except Exception:
                    log.warning("job %s: clean-up after commit failed", job_id, exc_info=True)
    except Cancelled:
        s.rollback()
        _finish_elsewhere(job_id, attempt, JobState.cancelled, None, actor)
    except ServiceError as e:
        s.rollback()
        _finish_elsewhere(job_id, attempt, JobState.failed, e.message, actor)
    except Exception:
        s.rollback()
        log.exception("job %s (%s) failed", job_id, job.kind)
        with force_locale("zh"):
            message = _(
                "任务执行出错，未做任何修改。请稍后重试；若仍失败，请联系系统管理员（任务编号 %(id)d）。", id=job_id
            )
        _finish_elsewhere(job_id, attempt, JobState.failed, message, actor)
    finally:
        s.close()
        g.user, g.api_token = caller


def requeue_stale(now: float | None = None) -> list[int]:
    """Queue again every running job without a heartbeat for STALE_AFTER (its worker died before it
    committed), and every queued job older than that (its message was lost)."""
    now = now or time.time()
    s = _new_session()
    try:
        live = [JobState.queued, JobState.running]
        again = []
        for job_id, state, created in s.execute(select(Job.id, Job.state, Job.created_at).where(Job.state.in_(live))):
            beat = runner.last_beat(job_id)
            age = now - (beat if beat is not None else created.timestamp())
            if age > STALE_AFTER.total_seconds():
                again.append((job_id, state))
        for job_id, state in again:
            if state is JobState.running:
                runner.forget(job_id)  # its worker is gone: the next claim must not wait for it
            else:
                runner.beat(job_id)  # a queued job waits its turn: asked again in STALE_AFTER, not every minute
            enqueue(job_id)
        return [job_id for job_id, _state in again]
    finally:
        s.close()


def clean_results(now: float | None = None) -> int:
    """Remove result files older than KEEP_RESULTS (the job's page then says the file is gone)."""
    d = Path(current_app.config["UPLOAD_DIR"]) / "jobs"
    if not d.is_dir():
        return 0
    limit = (now or time.time()) - KEEP_RESULTS.total_seconds()
    removed = 0
    for p in d.iterdir():
        try:
            if p.is_file() and p.stat().st_mtime < limit:
                p.unlink()
                removed += 1
        except OSError:
            pass
    return removed


# --- the worker's tasks (Huey) ----------------------------------------------------------------------------


def enqueue(job_id: int) -> None:
    """Put the job on the queue (in immediate mode: run it now)."""
    run_job(job_id)


@runner.huey.task(name="lianfang.run_job")
def run_job(job_id: int) -> None:
    if has_app_context():  # immediate mode: the caller's context (a new one would end the caller's session)
        execute(job_id)
        return
    with runner.flask_app().app_context():
        execute(job_id)


@runner.huey.periodic_task(crontab(minute="0"), name="lianfang.escalate")
def escalate_hourly() -> None:
    """Step every overdue case up one level, as a job of its own (audited, progress on record)."""
    with runner.flask_app().app_context():
        submit_system("cases.escalate")


@runner.huey.periodic_task(crontab(minute="*"), name="lianfang.requeue_stale")
def requeue_stale_every_minute() -> None:
    """Queue again a job whose worker died (no heartbeat for a while): it was not committed, so it runs anew."""
    with runner.flask_app().app_context():
        requeue_stale()


@runner.huey.periodic_task(crontab(minute="30", hour="3"), name="lianfang.clean_results")
def clean_results_nightly() -> None:
    """Remove the job result files older than a week, every night."""
    with runner.flask_app().app_context():
        clean_results()
