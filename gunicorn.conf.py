"""gunicorn settings read from the working directory (`gunicorn wsgi:app`): only the start-up check of the
login counter's store. The workers come from `-w` or WEB_CONCURRENCY as usual."""

import os


def on_starting(server):  # type: ignore[no-untyped-def]
    """Refuse to start production with several workers and a per-process rate-limit store, and tell the app
    how many workers serve it (app/config.py check_rate_limit_store runs again in each worker)."""
    os.environ["WEB_CONCURRENCY"] = str(server.cfg.workers)
    from app.config import ConfigError, check_rate_limit_store

    env = os.environ.get("LIANFANG_ENV", "production").strip().lower()
    cfg = {"LIANFANG_ENV": env, "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://")}
    try:
        check_rate_limit_store(cfg, server.cfg.workers)
    except ConfigError as e:
        raise SystemExit(f"lianfang: {e}") from e
