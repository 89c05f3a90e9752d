"""The request lifecycle: who is asking, what they may reach, one commit per request, safe headers."""

from __future__ import annotations

import logging

from flask import Flask, current_app, g, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from app.audit.models import Outcome
from app.audit.services import record
from app.auth import services as auth
from app.core.access import access_of
from app.core.errors import ServiceError
from app.core.inputs import CONTROL_CHARACTERS, TooDeep, request_texts
from app.core.scoping import Scope, ScopeViolation, set_scope
from app.extensions import csrf, db

log = logging.getLogger(__name__)

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def is_api() -> bool:
    return request.path.startswith("/api/")


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


def identify() -> None:
    """Set g.user (or None) and the session's scope from a bearer token or the session cookie."""
    g.user, g.api_token, g.commit_anyway = None, None, False
    s = db.session()
    set_scope(s, Scope.nothing())
    raw = _bearer() if is_api() else None
    if raw is not None:
        user, token = auth.user_for_token(s, raw)
        if user is None:
            return
        g.user, g.api_token = user, token
    elif "sid" in session:
        cfg = current_app.config
        user, row = auth.resume_session(
            s, session["sid"], idle=cfg["SESSION_IDLE_TIMEOUT"], absolute=cfg["SESSION_ABSOLUTE_TIMEOUT"]
        )
        if user is None:
            session.pop("sid", None)
            g.session_ended = row.end_reason if row is not None else None
            return
        g.user, g.session_row = user, row
    if g.user is not None:
        set_scope(s, auth.scope_for(s, g.user))


def guard() -> object | None:
    """Deny by default: a view without an access declaration is unreachable."""
    if request.endpoint is None:
        return None  # 404/405 follow
    if request.endpoint == "static":
        return None
    access = access_of(current_app.view_functions.get(request.endpoint))
    if access is not None and access[0] != "public" and g.user is None and is_api():
        # An API call without valid credentials is unauthorized (401) whatever it is, before its CSRF check.
        return json_error(401, "unauthorized", _("请先登录或提供有效的访问令牌。"))
    if request.method not in SAFE_METHODS and g.api_token is None:
        csrf.protect()
    if access is None:
        log.error("view %s declares no access rule", request.endpoint)
        return deny()
    kind, permission = access
    if kind == "public":
        return None
    if g.user is None:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?") if request.method == "GET" else None))
    if permission is not None and not g.user.can(permission):
        return deny()
    if g.api_token is not None:
        record(db.session(), "api.request", detail={"method": request.method, "path": request.path})
    return None


def deny(message: str | None = None) -> object:
    """A refused request: nothing it did is kept, but the refusal itself is audited."""
    s = db.session()
    s.rollback()
    record(
        s, "access.denied", outcome=Outcome.denied,
        detail={"method": request.method, "path": request.path, "endpoint": request.endpoint},
    )  # fmt: skip
    g.commit_anyway = True
    message = message or _("您没有权限访问该页面或执行该操作。")
    if is_api():
        return json_error(403, "forbidden", message)
    return render_template("errors/error.html", code=403, title=_("无权访问"), message=message), 403


def json_error(status: int, code: str, message: str, **extra: object) -> object:
    response = jsonify({"error": {"status": status, "code": code, "message": message, **extra}})
    response.status_code = status
    return response


def finish(response):  # type: ignore[no-untyped-def]
    """Commit once for a request that succeeded (or whose refusal must be kept); roll back otherwise."""
    s = db.session()
    try:
        if response.status_code < 400 or g.get("commit_anyway"):
            s.commit()
        else:
            s.rollback()
    except SQLAlchemyError:
        s.rollback()
        log.exception("commit failed")
        return current_app.make_response(error_response(500))
    return response


def security_headers(response):  # type: ignore[no-untyped-def]
    h = response.headers
    h.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'",
    )
    h["X-Content-Type-Options"] = "nosniff"
    h["X-Frame-Options"] = "DENY"
    h["Referrer-Policy"] = "same-origin"
    h["Permissions-Policy"] = "camera=(self), geolocation=(self), microphone=()"
    h["Cross-Origin-Opener-Policy"] = "same-origin"
    if current_app.config.get("HSTS"):
        h["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if g.get("user") is not None and request.endpoint != "static":
        h["Cache-Control"] = "no-store"
    return response


ERROR_TITLES = {
    400: "请求有误",
    401: "请先登录",
    403: "无权访问",
    404: "页面不存在",
    405: "不支持该请求方法",
    409: "操作冲突",
    413: "提交内容过大",
    429: "请求过于频繁",
    500: "服务器内部错误",
}

# Machine-readable `code` of a JSON error, one per status (clients branch on it; the message is for people).
ERROR_CODES = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    429: "too_many_requests",
    500: "internal_error",
}

ERROR_MESSAGES = {
    409: "操作冲突，请刷新后重试。",
    400: "提交的内容无法处理，请返回检查后重试。",
    404: "您访问的页面不存在，或您无权查看。",
    405: "该地址不接受这种请求。",
    413: "上传或提交的内容超过了大小限制。",
    429: "操作过于频繁，请稍后再试。",
    500: "系统出现问题，已记录。请稍后重试或联系管理员。",
}


def error_response(status: int, message: str | None = None) -> object:
    title = _(ERROR_TITLES.get(status, "出错了"))
    message = message or _(ERROR_MESSAGES.get(status, ERROR_MESSAGES[400]))
    if is_api():
        return json_error(status, ERROR_CODES.get(status, "error"), message)
    return render_template("errors/error.html", code=status, title=title, message=message), status


def refuse_control_characters() -> object | None:
    """before_request: a text with a control character is refused whole (400) before it reaches a view or the
    database, naming the field; PostgreSQL cannot store NUL, and the others have no business in our data."""
    try:
        for field, text in request_texts():
            if CONTROL_CHARACTERS.search(text):
                shown = CONTROL_CHARACTERS.sub("", field)[:40] or "?"
                return error_response(
                    400,
                    _("“%(field)s”中含有不可见的控制字符（如 NUL），已拒绝。请删除后重新提交。", field=shown),
                )
    except TooDeep:
        return error_response(400, _("提交的 JSON 嵌套层数过多，已拒绝。"))
    return None


def register(app: Flask) -> None:
    app.before_request(identify)
    app.before_request(refuse_control_characters)  # before any view or CSRF check
    app.before_request(guard)
    app.after_request(security_headers)
    app.after_request(finish)

    @app.errorhandler(CSRFError)
    def _csrf(e: CSRFError):  # type: ignore[no-untyped-def]
        db.session.rollback()
        return error_response(400, _("表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试。"))

    @app.errorhandler(ServiceError)
    def _service(e: ServiceError):  # type: ignore[no-untyped-def]
        db.session.rollback()
        if e.status == 403:
            return deny(e.message)
        if is_api():
            extra = {"field": e.field} if e.field else {}
            return json_error(e.status, ERROR_CODES.get(e.status, "error"), e.message, **extra)
        return error_response(e.status, e.message)

    @app.errorhandler(StaleDataError)
    def _stale(e: StaleDataError):  # type: ignore[no-untyped-def]
        db.session.rollback()
        return error_response(409, _("该记录已被他人修改，请刷新后重试。"))

    @app.errorhandler(ScopeViolation)
    def _scope(e: ScopeViolation):  # type: ignore[no-untyped-def]
        return deny()

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException):  # type: ignore[no-untyped-def]
        db.session.rollback()
        if e.code == 403:
            return deny()
        response = current_app.make_response(error_response(e.code or 500))
        if isinstance(e, MethodNotAllowed) and e.valid_methods:
            response.headers["Allow"] = ", ".join(sorted(e.valid_methods))
        return response

    @app.errorhandler(Exception)
    def _crash(e: Exception):  # type: ignore[no-untyped-def]
        log.exception("unhandled error")
        db.session.rollback()
        return error_response(500)
