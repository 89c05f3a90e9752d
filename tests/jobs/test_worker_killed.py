"""A worker killed in the middle of a job's commit (kill -9, a consumer in a process of its own): the list is
unchanged; the retried job commits its work once, even when its message comes twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.auth.models import Bureau, BureauKind, User, UserRole
from app.auth.roles import Role
from app.jobs.models import Job, JobState
from app.places.models import Jurisdiction
from app.reduction.excel import exporter, lookups, safety
from app.reduction.excel import uploads as excel_uploads
from app.reduction.models import Enterprise
from app.reduction.services import imports as import_service
from tests.conftest import ROOT, private_sessions
from tests.reduction.test_excel_import import enterprise

AUDIT_KEY = "worker-test-audit-key-" + "k" * 20


def _wait(predicate: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _consumer(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, "-m", "tests.jobs._consumer", *args], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip


@pytest.mark.no_transaction
def test_a_worker_killed_mid_commit_leaves_the_list_unchanged_and_the_retry_commits_once(  # type: ignore[no-untyped-def]
    app, tmp_path: Path
) -> None:
    uploads = tmp_path / "uploads"
    with private_sessions("killed", tmp_path, AUDIT_KEY) as new:
        with new() as s:
            j = s.scalars(select(Jurisdiction).where(Jurisdiction.code == "500153")).one()
            bureau = Bureau(name="荣昌区生态环境局（任务测试）", kind=BureauKind.branch, jurisdiction_id=j.id)
            s.add(bureau)
            s.flush()
            user = User(username="killed_dist", display_name="区局", bureau_id=bureau.id, jurisdiction_id=j.id,
                        password_hash="x", role_rows=[UserRole(role=Role.district_staff)])  # fmt: skip
            s.add(user)
            s.commit()
            url = s.get_bind().url.render_as_string(hide_password=False)
            labels = exporter.county_labels(s, j)

        def workbook(name: str, n: int) -> excel_uploads.Upload:
            path = tmp_path / name
            with app.app_context():
                exporter.write(path, [enterprise(i, j.id) for i in range(n)], county_label=labels,
                               industry_label=lookups.industry_labels())  # fmt: skip
            with path.open("rb") as f:
                return excel_uploads.store(f, name, uploads, user.id, 2026, safety.Limits())

        config = {**app.config, "UPLOAD_DIR": str(uploads)}
        with new() as s, app.test_request_context():  # the list as it stands: two enterprises
            first = workbook("first.xlsx", 2)
            import_service.commit(s, s.get(User, user.id), first, config)
            s.commit()

        def state() -> tuple[int, int, JobState | None, int]:
            with new() as s:
                enterprises = s.scalar(select(func.count()).select_from(Enterprise))
                imports = s.scalar(
                    select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "reduction_list.import")
                )
                job = s.get(Job, job_id)
                return enterprises, imports, job.state if job else None, job.attempts if job else 0

        upload = workbook("second.xlsx", 5)
        with new() as s:  # the job as the commit page asks for it (not queued here: the consumer queues it)
            job = Job(kind="reduction.import_commit", params={"token": upload.token}, requested_by_id=user.id,
                      bureau_id=bureau.id, jurisdiction_id=j.id)  # fmt: skip
            s.add(job)
            s.commit()
            job_id = job.id
        env = {
            **os.environ, "DATABASE_URL": url, "UPLOAD_DIR": str(uploads), "AUDIT_KEY": AUDIT_KEY,
            "JOBS_URL": f"sqlite:///{tmp_path / 'jobs.db'}", "SECRET_KEY": app.config["SECRET_KEY"],
            "LIANFANG_ENV": "testing",
        }  # fmt: skip
        marker, log = tmp_path / "flushed", tmp_path / "consumer.log"
        worker = _consumer([str(job_id), "stop-before-commit", str(marker)], env, log)
        try:
            _wait(marker.exists, 120, "the worker to flush the import")
        finally:
            os.kill(worker.pid, signal.SIGKILL)  # in the middle of the commit: written, not committed
            worker.wait(30)
        enterprises, imports, job_state, attempts = state()
        assert (enterprises, imports) == (2, 1), log.read_text()  # the list as it was
        assert job_state is JobState.running and attempts == 1
        assert upload.path.exists(), "the upload stays until the import is committed"

        retry = _consumer([str(job_id), "retry"], env, log)
        try:
            _wait(lambda: state()[2] is JobState.done, 120, "the retried job")
            from huey import SqliteHuey

            queue = SqliteHuey("lianfang", filename=str(tmp_path / "jobs.db"))
            _wait(lambda: queue.pending_count() == 0, 60, "the duplicate message to be consumed")
            time.sleep(1)  # the duplicate, taken from the queue, has run to its end
        finally:
            retry.send_signal(signal.SIGINT)
            try:
                retry.wait(30)
            except subprocess.TimeoutExpired:
                retry.kill()
                retry.wait(10)
        enterprises, imports, job_state, attempts = state()
        assert (enterprises, imports, job_state) == (5, 2, JobState.done), log.read_text()
        assert attempts == 2  # the duplicate message found the job done and did nothing
        with new() as s:
            done = s.scalars(select(AuditEntry).where(AuditEntry.action == "job.done")).all()
            assert len(done) == 1 and done[0].username == "killed_dist" and done[0].detail["attempt"] == 2
        assert not upload.path.exists()


@pytest.mark.no_transaction
def test_a_read_only_jobs_reads_do_not_hold_the_write_lock(app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """On SQLite every transaction takes the write lock at BEGIN, except one asking for a deferred begin (a
    read-only job's, app/jobs/services.py): meanwhile the web writes (a session touch, a cancel) go through."""
    from sqlalchemy import text

    with private_sessions("deferred", tmp_path, AUDIT_KEY) as new:
        reader, writer = new(), new()
        try:
            reader.connection(execution_options={"sqlite_begin": "deferred"})
            assert reader.scalar(select(func.count()).select_from(Jurisdiction)) > 0  # the read is under way
            if writer.get_bind().dialect.name == "sqlite":
                writer.execute(text("PRAGMA busy_timeout=2000"))
            writer.add(Bureau(name="读取期间新建的单位", kind=BureauKind.branch,
                              jurisdiction_id=reader.scalars(select(Jurisdiction.id)).first()))  # fmt: skip
            writer.commit()  # would wait for the reader (and fail after 2 s) if the reader held the lock
        finally:
            reader.close()
            writer.close()
