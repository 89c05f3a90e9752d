"""Template globals: navigation, labels and local-time formatting."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask, g, has_request_context
from flask_babel import get_locale, get_translations
from jinja2 import pass_context
from markupsafe import Markup

from app.auth.labels import LEVEL_LABELS, ROLE_LABELS
from app.auth.roles import Permission
from app.core.i18n import N_
from app.core.localtime import LOCAL_TZ
from app.extensions import db
from app.notifications.services import unread_count

# (endpoint, label, permission needed to see the entry): only modules that exist. The labels are translated
# with the request's catalog when the layout asks (a lazy string looks the catalog up again for each entry).
NAVIGATION = [
    ("core.index", N_("工作台"), None),
    ("reduction.index", N_("减排清单"), Permission.view_lists),
    ("cases.index", N_("问题线索"), Permission.view_cases),
    ("alerts.index", N_("预警"), Permission.view_alerts),
    ("response.tasks", N_("应急响应"), Permission.view_response),
    ("power.index", N_("用电监测"), Permission.view_response),
    ("crosscheck.index", N_("交叉抽核"), Permission.view_cross_checks),
    ("places.index", N_("行政区与联动区域"), Permission.view_places),
    ("admin.users", N_("用户管理"), Permission.manage_users),
    ("audit.search", N_("审计日志"), Permission.view_audit),
]


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(LOCAL_TZ).strftime(fmt)


def _translations() -> Any:
    # Flask-Babel looks the catalog up again for every string; a page has dozens, so keep it for the request.
    if not has_request_context():
        return get_translations()
    found = g.get("_translations")
    if found is None:
        found = g._translations = get_translations()
    return found


@pass_context
def _gettext(context: Any, string: str, /, **variables: Any) -> str:
    rv = _translations().ugettext(string)
    if context.eval_ctx.autoescape:
        rv = Markup(rv)  # noqa: S704 - a translation is the developers' text, as in Jinja's own gettext
    return rv % variables  # type: ignore[no-any-return]


def _unread(user: Any) -> int:
    # The count came with the reader (auth.services._reader_statement); a reader identified otherwise (a
    # bearer token) asks, in one indexed statement.
    if user is None:
        return 0
    found = g.get("unread_notifications")
    return found if found is not None else unread_count(db.session(), user)


def register(app: Flask) -> None:
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
    )
    # `_()` itself: Jinja's alias calls its newstyle wrapper, which calls the function above, each through
    # the context; a page calls it 50 to 100 times. Same result (escaped, then formatted), one call.
    app.jinja_env.globals["_"] = app.jinja_env.globals["gettext"] = _gettext
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.globals["get_locale"] = get_locale

    @app.context_processor
    def _globals() -> dict[str, object]:
        user = g.get("user")
        if user is None:
            nav = []
        else:
            translate = _translations().ugettext
            nav = [
                (endpoint, translate(label))
                for endpoint, label, permission in NAVIGATION
                if permission is None or user.can(permission)
            ]
        return {
            "current_user": user,
            "unread_notifications": lambda: _unread(user),
            "navigation": nav,
            "role_labels": ROLE_LABELS,
            "level_labels": LEVEL_LABELS,
            "Permission": Permission,
        }
