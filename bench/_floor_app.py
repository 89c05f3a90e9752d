"""The machine's floor for a database page: Flask with nothing of the app's, one primary-key SELECT through a
SQLAlchemy Core pool made as the app makes its own (app.db.make_engine), served by the same gunicorn and
driven by the same wrk clients as the app's pages.

No session, scope, audit, CSRF, limiter, template or commit: what no page of the app can undercut. The web
benchmarks measure it in the same run as the pages they judge (bench/load.py `floor_server`)."""

from __future__ import annotations

import os

from flask import Flask
from sqlalchemy import text

from app.db import make_engine

app = Flask(__name__)
_engine = make_engine(os.environ["DATABASE_URL"], pool_size=2)  # the app's driver settings and pings
_ONE = text("SELECT id, code, name FROM jurisdiction WHERE id = :id")


@app.get("/healthz")
def one_row():  # type: ignore[no-untyped-def]
    with _engine.connect() as conn:
        row = conn.execute(_ONE, {"id": 1}).first()
    return {"id": row.id if row else None, "name": row.name if row else None}
