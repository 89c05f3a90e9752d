"""A job consumer in a process of its own, for tests/jobs/test_worker_killed.py.

`python -m tests.jobs._consumer JOB_ID stop-before-commit MARKER`: queues the job, runs a consumer, and stops the
work between its flush and its commit (writes MARKER, then sleeps until killed).
`python -m tests.jobs._consumer JOB_ID retry`: queues the jobs whose worker died, and the job once more (a
duplicate message), then consumes until stopped.
The database, uploads and queue come from DATABASE_URL, UPLOAD_DIR and JOBS_URL.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def main() -> None:
    job_id, mode = int(sys.argv[1]), sys.argv[2]
    from app import create_app
    from app.jobs import runner, services

    if mode == "stop-before-commit":
        marker = Path(sys.argv[3])

        def stop(_job_id: int) -> None:
            marker.write_text("flushed", encoding="utf-8")
            time.sleep(3600)

        runner.BEFORE_COMMIT = stop
    app = create_app()
    runner.set_app(app)
    with app.app_context():
        if mode == "retry":
            services.requeue_stale(now=time.time() + 3600)  # as the periodic task finds it, later
        services.run_job(job_id)
    runner.consumer(workers=1, max_delay=0.1).run()


if __name__ == "__main__":
    main()
