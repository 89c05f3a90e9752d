"""Lianfang (联防): the application factory."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, has_request_context, session
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import ROOT, load_config
from app.core.inputs import register_converters


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, static_folder=str(ROOT / "static"), static_url_path="/static")
    configure(app, overrides)
    register_extensions(app)
    register_request_cycle(app)
    register_blueprints(app)
    register_job_kinds()
    register_commands(app)
    return app


def configure(app: Flask, overrides: dict[str, Any] | None) -> None:
    app.config.update(load_config(overrides))
    register_converters(app)  # <id:...>, <bigid:...>: app/core/inputs.py
    proxies = int(app.config.get("PROXY_COUNT", 0) or 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]


def register_extensions(app: Flask) -> None:
    from app import models  # noqa: F401  every model registered before the first query
    from app.extensions import babel, csrf, db, limiter

    db.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    app.config.setdefault("RATELIMIT_ENABLED", True)
    limiter.init_app(app)


def _select_locale() -> str:
    if not has_request_context():
        return "zh"  # CLI output and background work: the default language
    user = g.get("user")
    if user is not None:
        return user.locale
    lang = session.get("lang")
    return lang if lang in ("zh", "en") else "zh"


def register_request_cycle(app: Flask) -> None:
    from app.core import web
    from app.core.templating import register as register_templating

    web.register(app)
    register_templating(app)


def register_blueprints(app: Flask) -> None:
    from app.alerts.views import bp as alerts_bp
    from app.api import bp as api_bp
    from app.audit.views import bp as audit_bp
    from app.auth.views import admin_bp
    from app.auth.views import bp as auth_bp
    from app.cases.views import bp as cases_bp
    from app.core.views import bp as core_bp
    from app.crosscheck.views import bp as crosscheck_bp
    from app.experts.views import bp as experts_bp
    from app.jobs.views import bp as jobs_bp
    from app.notifications.views import bp as notifications_bp
    from app.places.views import bp as places_bp
    from app.power.views import bp as power_bp
    from app.reduction.views import bp as reduction_bp
    from app.registry.views import bp as registry_bp
    from app.response.views import bp as response_bp

    blueprints = (core_bp, auth_bp, admin_bp, audit_bp, places_bp, reduction_bp, registry_bp, cases_bp, alerts_bp,
                  response_bp, crosscheck_bp, experts_bp, notifications_bp, jobs_bp, power_bp)  # fmt: skip
    for bp in (*blueprints, api_bp):
        app.register_blueprint(bp)


def register_job_kinds() -> None:
    from app.jobs import tasks  # noqa: F401  each kind registers itself with the jobs service


def register_commands(app: Flask) -> None:
    from app.cli import register

    register(app)


__all__ = ["create_app"]
