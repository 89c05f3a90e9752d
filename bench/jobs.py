"""Jobs: a 20,000-row import through the job path (preview and commit as jobs, run by a real consumer in a
process of its own, as `make run` starts it) against the same import called directly, in the same run."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench.harness import ROOT, Context, Result, stopwatch
from bench.inventory import UNITS, YEAR, _counts, _setup, _truncate, bundles

NAME = "jobs"

ROWS = int(os.environ.get("BENCH_JOBS_ROWS", 20_000))  # rows of the main sheet: UNITS rows an enterprise
ENTERPRISES = ROWS // UNITS
ROUNDS = 2  # each side this many times, alternating; the best of each is compared
MAX_RATIO = 1.1


def run(ctx: Context) -> list[Result]:
    with ctx.app.app_context():
        from app.reduction.excel import exporter, lookups

        user_id, jid = _setup(ctx)
        path = ctx.tmp / "import.xlsx"
        warm = ctx.tmp / "warm.xlsx"
        labels, industries = {jid: "荣昌区"}, lookups.industry_labels()
        exporter.write(path, bundles(ENTERPRISES, jid), county_label=labels, industry_label=industries,
                       rows_hint=ENTERPRISES * UNITS)  # fmt: skip
        exporter.write(warm, bundles(20, jid, seed=7), county_label=labels, industry_label=industries)
        ctx.log(f"wrote {path.stat().st_size / 1e6:.1f} MB, {ENTERPRISES * UNITS:,} rows")
        worker = _start_worker(ctx)
        try:
            _through_jobs(ctx, warm, user_id)  # the worker's first job imports the app's modules: not timed
            _truncate(ctx)
            direct, jobs = [], []
            for _ in range(ROUNDS):
                direct.append(_direct(ctx, path, user_id))
                _truncate(ctx)
                jobs.append(_through_jobs(ctx, path, user_id))
                _truncate(ctx)
        finally:
            worker.send_signal(signal.SIGINT)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(10)
        ctx.log(f"direct {', '.join(f'{d:.2f}' for d in direct)} s; jobs {', '.join(f'{j:.2f}' for j in jobs)} s")
        return [
            Result.at_most(
                f"import {ROWS // 1000}k rows through jobs (preview + commit) vs called directly",
                min(jobs), min(direct), "s", MAX_RATIO,
            )
        ]  # fmt: skip


def _start_worker(ctx: Context) -> subprocess.Popen[bytes]:
    from app.jobs import runner

    queue = ctx.tmp / "jobs.db"
    env = {
        **os.environ, "DATABASE_URL": ctx.url, "UPLOAD_DIR": ctx.app.config["UPLOAD_DIR"],
        "JOBS_URL": f"sqlite:///{queue}", "SECRET_KEY": ctx.app.config["SECRET_KEY"],
        "AUDIT_KEY": ctx.app.config["AUDIT_KEY"], "FLASK_APP": "wsgi.py",
    }  # fmt: skip
    # this process queues onto the worker's storage instead of running jobs at once
    fresh = runner.make_huey(f"sqlite:///{queue}")
    runner.huey._immediate = False
    runner.huey.storage = fresh.storage
    with (ctx.tmp / "worker.log").open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "flask", "jobs", "worker", "--workers", "1"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip


def _store(ctx: Context, path: Path, user_id: int) -> Any:
    from app.reduction.excel import safety, uploads

    with path.open("rb") as f:
        return uploads.store(f, path.name, ctx.app.config["UPLOAD_DIR"], user_id, YEAR,
                              safety.Limits(max_bytes=200 * safety.MB))  # fmt: skip


def _direct(ctx: Context, path: Path, user_id: int) -> float:
    """Store, preview and commit in one session, as the import page does for a small workbook."""
    from app.auth.models import User
    from app.auth.services import scope_for
    from app.reduction.excel import uploads
    from app.reduction.services import imports

    with ctx.session() as s:
        scope = scope_for(s, s.get(User, user_id))
    gc.collect()
    with ctx.app.test_request_context(), ctx.session(scope) as s:
        user = s.get(User, user_id)
        with stopwatch() as total:
            upload = _store(ctx, path, user_id)
            p = imports.preview(s, user, upload, ctx.app.config)
            assert not p.errors, p.issues[:5]
            imports.commit(s, user, upload, ctx.app.config)
            s.commit()
        figure = total()
    uploads.discard(upload)
    _check(ctx, path)
    return figure


def _through_jobs(ctx: Context, path: Path, user_id: int) -> float:
    """Store (the upload request), then a preview job and a commit job, each waited for until done, as the
    progress page waits for it."""
    from app.auth.models import User
    from app.jobs import services
    from app.jobs.models import Job, JobState

    def wait(job_id: int) -> Job:
        # a read that takes no write lock on SQLite (as a read-only job's), so it never queues behind the job
        while True:
            with ctx.db.engine.connect().execution_options(sqlite_begin="deferred") as c:
                state = c.scalar(select(Job.state).where(Job.id == job_id))
            if state in (JobState.done, JobState.failed, JobState.cancelled):
                with ctx.session() as s:
                    job = s.get(Job, job_id)
                    assert job.state is JobState.done, (job.error, (ctx.tmp / "worker.log").read_text())
                    return job
            time.sleep(0.01)

    gc.collect()
    with ctx.app.test_request_context(), stopwatch() as total:
        upload = _store(ctx, path, user_id)
        for kind in ("reduction.import_preview", "reduction.import_commit"):
            with ctx.session() as s:
                job = services.submit(s, s.get(User, user_id), kind, {"token": upload.token})
                s.commit()
            done = wait(job.id)
            ctx.log(f"{kind}: queued {(done.started_at - done.created_at).total_seconds():.3f} s, "
                    f"ran {(done.finished_at - done.started_at).total_seconds():.3f} s")  # fmt: skip
        figure = total()
    if path.name != "warm.xlsx":
        _check(ctx, path)
    return figure


def _check(ctx: Context, path: Path) -> None:
    from app.reduction.models import Enterprise

    counts = _counts(ctx)
    assert counts["enterprise"] == ENTERPRISES and counts["process_unit"] == ENTERPRISES * UNITS, counts
    with ctx.session() as s:
        assert s.scalar(select(Enterprise.id).limit(1)) is not None
