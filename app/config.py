"""Configuration from environment variables, with safe production defaults."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from app.core.localtime import LOCAL_TZ_NAME

ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    pass


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load_config(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the Flask config. `LIANFANG_ENV` is production unless set to development or testing."""
    env = os.environ.get("LIANFANG_ENV", "production").strip().lower()
    if env not in {"production", "development", "testing"}:
        raise ConfigError(f"LIANFANG_ENV must be production, development or testing, not {env!r}")
    relaxed = env != "production"
    instance = Path(os.environ.get("LIANFANG_INSTANCE", ROOT / "instance"))
    cfg: dict[str, Any] = {
        "LIANFANG_ENV": env,
        "DEBUG": False,
        "TESTING": env == "testing",
        "SECRET_KEY": os.environ.get("SECRET_KEY", ""),
        "AUDIT_KEY": os.environ.get("AUDIT_KEY", ""),
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{instance / 'lianfang.db'}"),
        "INSTANCE_DIR": str(instance),
        "UPLOAD_DIR": os.environ.get("UPLOAD_DIR", str(instance / "uploads")),
        # The audit head, signed, after each commit that wrote audit entries (app/audit/anchor.py). Off in the
        # test suite (its transactions are rolled back: their anchors would be ahead of the database).
        "AUDIT_ANCHOR_FILE": os.environ.get(
            "AUDIT_ANCHOR_FILE", "" if env == "testing" else str(instance / "audit-anchor.log")
        ),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "20 per minute"),
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_CONTENT_LENGTH", 64 * 1024 * 1024)),
        "MAX_FORM_MEMORY_SIZE": 1024 * 1024,
        "SESSION_COOKIE_NAME": "lianfang_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool(os.environ.get("SESSION_COOKIE_SECURE"), not relaxed),
        "PREFERRED_URL_SCHEME": "http" if relaxed else "https",
        "SESSION_IDLE_TIMEOUT": timedelta(minutes=int(os.environ.get("SESSION_IDLE_MINUTES", 30))),
        "SESSION_ABSOLUTE_TIMEOUT": timedelta(hours=int(os.environ.get("SESSION_ABSOLUTE_HOURS", 12))),
        "LOCKOUT_THRESHOLD": 5,
        "LOCKOUT_DURATION": timedelta(minutes=30),
        "WTF_CSRF_CHECK_DEFAULT": False,  # checked in one before_request hook, bearer-token API excepted
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the server-side session
        "BABEL_DEFAULT_LOCALE": "zh",
        "BABEL_DEFAULT_TIMEZONE": LOCAL_TZ_NAME,
        "LANGUAGES": ["zh", "en"],
        # Excel import: the commit takes the records the preview validated (a signed snapshot tied to the file,
        # user, year, jurisdiction and rule library) instead of reading the file again
        "IMPORT_REUSE_VALIDATION": _bool(os.environ.get("IMPORT_REUSE_VALIDATION"), True),
        # Background jobs (app/jobs): the queue, and from what size an import or an export runs as a job
        "JOBS_URL": os.environ.get("JOBS_URL", ""),
        "JOBS_IMPORT_MIN_BYTES": int(os.environ.get("JOBS_IMPORT_MIN_BYTES", 2 * 1024 * 1024)),
        "JOBS_EXPORT_MIN_ENTERPRISES": int(os.environ.get("JOBS_EXPORT_MIN_ENTERPRISES", 2000)),
        "RESPONSE_JOB_MIN_ENTERPRISES": int(os.environ.get("RESPONSE_JOB_MIN_ENTERPRISES", 5000)),
        "DEMO_ENABLED": _bool(os.environ.get("LIANFANG_DEMO"), False) and relaxed,
        "HSTS": not relaxed,
    }
    if overrides:
        cfg.update(overrides)
    if not cfg["SECRET_KEY"] or len(cfg["SECRET_KEY"]) < 32:
        raise ConfigError("SECRET_KEY must be set to a random string of at least 32 characters")
    if not cfg["AUDIT_KEY"]:
        cfg["AUDIT_KEY"] = cfg["SECRET_KEY"]
    check_rate_limit_store(cfg)
    return cfg


def worker_count() -> int:
    """How many processes serve the app: WEB_CONCURRENCY (gunicorn's own variable; gunicorn.conf.py sets it
    to the workers gunicorn was started with)."""
    try:
        return int(os.environ.get("WEB_CONCURRENCY", "1") or 1)
    except ValueError:
        return 1


def check_rate_limit_store(cfg: dict[str, Any], workers: int | None = None) -> None:
    """A per-process limiter store counts each worker's logins apart (n workers let n times the limit through):
    production with more than one worker needs a shared store (Redis)."""
    workers = worker_count() if workers is None else workers
    store = str(cfg.get("RATELIMIT_STORAGE_URI") or "memory://")
    if cfg["LIANFANG_ENV"] == "production" and workers > 1 and store.startswith("memory://"):
        raise ConfigError(
            f"RATELIMIT_STORAGE_URI is {store!r} with {workers} workers: each worker would keep its own login "
            "counter; set RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/0 (a store all workers share)"
        )
