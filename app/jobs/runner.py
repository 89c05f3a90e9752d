"""The job runner: Huey (https://huey.readthedocs.io) with SQLite storage in the instance folder by default
(no extra service: `make run` starts its consumer), Redis in production (`JOBS_URL=redis://…`, any number of
consumers on any number of machines), and immediate mode in the tests.

A job's work runs in one database session with the requesting user's scope and is committed once, together
with the job row's move to `done`, after the row was locked and found still running in the same attempt: a
killed worker leaves nothing written, and a retried job (the idempotency key is the job id) finds the job
done and does nothing. Progress, the heartbeat and a cancel request live in Huey's key-value storage, not in
the database: on SQLite the work's transaction holds the write lock until it commits.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0
PROGRESS_EVERY = 0.5  # seconds between progress writes
# A test sets this to stop a worker between the work's flush and its commit (tests/jobs/_consumer.py).
BEFORE_COMMIT: Callable[[int], None] | None = None


def jobs_url() -> str:
    """`JOBS_URL`: `sqlite:///path` (default: instance/jobs.db), `redis://host:port/db`, or `immediate`
    (tasks run at once in the caller's process; the tests' default)."""
    url = os.environ.get("JOBS_URL", "").strip()
    if url:
        return url
    if os.environ.get("LIANFANG_ENV", "production").strip().lower() == "testing":
        return "immediate"
    from app.config import ROOT

    instance = Path(os.environ.get("LIANFANG_INSTANCE", ROOT / "instance"))
    return f"sqlite:///{instance / 'jobs.db'}"


def make_huey(url: str) -> Huey:
    if url == "immediate":
        return MemoryHuey("lianfang", immediate=True, results=False)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey("lianfang", url=url, results=False)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey("lianfang", filename=str(path), results=False)
    raise RuntimeError(f"JOBS_URL must be sqlite:///…, redis://… or immediate, not {url!r}")


huey = make_huey(jobs_url())

_app_lock = threading.Lock()
_app: Any = None


def flask_app() -> Any:
    """The Flask app of this process: the current one (immediate mode, a request), else the one the worker was
    started with (`flask jobs worker`, or app/jobs/worker.py for `huey_consumer app.jobs.worker.huey`)."""
    from flask import current_app, has_app_context

    if has_app_context():
        return current_app._get_current_object()  # type: ignore[attr-defined]
    with _app_lock:
        if _app is None:
            raise RuntimeError("no Flask app for the jobs: start the consumer with `flask jobs worker`")
        return _app


def set_app(app: Any) -> None:
    global _app
    _app = app


# --- key-value state shared by the web and the workers ---------------------------------------------------


def _key(job_id: int, what: str) -> str:
    return f"job:{job_id}:{what}"


def put_progress(job_id: int, done: int, total: int) -> None:
    huey.put(_key(job_id, "progress"), (done, total, time.time()))


def get_progress(job_id: int) -> tuple[int, int, float] | None:
    return huey.get(_key(job_id, "progress"), peek=True)


def beat(job_id: int) -> None:
    huey.put(_key(job_id, "beat"), time.time())


def last_beat(job_id: int) -> float | None:
    return huey.get(_key(job_id, "beat"), peek=True)


def request_cancel(job_id: int) -> None:
    huey.put(_key(job_id, "cancel"), True)


def cancel_requested(job_id: int) -> bool:
    return bool(huey.get(_key(job_id, "cancel"), peek=True))


def forget(job_id: int) -> None:
    for what in ("progress", "beat", "cancel"):
        huey.get(_key(job_id, what))  # get without peek removes the key


class Heartbeat:
    """Refreshes the job's heartbeat while its work runs (a step may run for minutes without progress)."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"job-{job_id}-heartbeat")

    def _run(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                beat(self.job_id)
            except Exception:  # the storage being away for a moment must not end the job
                log.warning("job %s: heartbeat not written", self.job_id, exc_info=True)

    def __enter__(self) -> Heartbeat:
        beat(self.job_id)
        if not huey.immediate:
            self._thread.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self._stop.set()


def consumer(workers: int = 2, **options: Any) -> Any:
    """A consumer as `flask jobs worker` runs it: threads, periodic tasks, short polling of SQLite."""
    # An idle consumer of the SQLite queue polls it (a read of a small table) every 50 ms at most, so a job
    # starts within that; Redis blocks on the queue instead (huey's blocking dequeue), so it never polls.
    options.setdefault("initial_delay", 0.01)
    options.setdefault("backoff", 1.15)
    options.setdefault("max_delay", 0.05)
    return huey.create_consumer(workers=workers, periodic=True, **options)
